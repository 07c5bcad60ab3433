//! The order worker's `main` refuses to start unless the county file chose a
//! payment provider, and says which variable and which setting.

#[test]
fn refuses_to_start_without_a_payment_provider() {
    order_aws::testing::assert_refuses_without_payment_provider(env!("CARGO_BIN_EXE_order-worker"));
}

#[test]
fn refuses_to_start_on_the_card_api_without_its_settings_or_over_plain_http() {
    use order_domain::schema::env;
    let path = env!("CARGO_BIN_EXE_order-worker");
    let mut vars = order_aws::testing::function_env();
    vars.push((env::PAYMENT_PROVIDER, "card_api".to_owned()));
    let (ok, out) = order_aws::testing::run_binary(path, &vars);
    assert!(!ok, "started without the card API's URL:\n{out}");
    assert!(out.contains("ACME_PAYMENT_API_URL is not set"), "{out}");

    // No environment variable reaches the tests' plain-HTTP allowance.
    vars.push((env::PAYMENT_API_URL, "http://127.0.0.1:9".to_owned()));
    vars.push((
        env::PAYMENT_API_KEY_SECRET_ARN,
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbC123".to_owned(),
    ));
    let (ok, out) = order_aws::testing::run_binary(path, &vars);
    assert!(!ok, "started over plain HTTP:\n{out}");
    assert!(out.contains("not an https:// URL"), "{out}");
}

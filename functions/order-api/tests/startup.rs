//! The order API's `main` refuses to start unless the county file chose a
//! payment provider and the stack gave it the Customers table, and says which
//! variable and which setting.

#[test]
fn refuses_to_start_without_a_payment_provider() {
    order_aws::testing::assert_refuses_without_payment_provider(env!("CARGO_BIN_EXE_order-api"));
}

#[test]
fn refuses_to_start_without_the_customers_table() {
    let path = env!("CARGO_BIN_EXE_order-api");
    let mut env = order_aws::testing::function_env();
    env.push((
        order_domain::schema::env::PAYMENT_PROVIDER,
        "simulator".to_owned(),
    ));
    let (ok, out) = order_aws::testing::run_binary(path, &env);
    assert!(!ok, "started without the Customers table:\n{out}");
    assert!(out.contains("ACME_CUSTOMERS_TABLE is not set"), "{out}");
}

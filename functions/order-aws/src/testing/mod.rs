//! Fixtures for tests of the functions' configuration and start-up (feature
//! `test-support`), and the fake card provider [`FakeCardApi`].

mod fake_card_api;

pub use fake_card_api::{FakeCardApi, FakePayment, Fault, Route, Seen};
use order_domain::schema::env;

const RULES: &str = r#"{"county_id":"travis-tx","sales_enabled":true,"timezone":"America/Chicago","max_units_per_order":24,"max_line_items":5,"gsi_write_shards":4,"reservation_ttl_seconds":900,"idempotency_ttl_hours":24}"#;

/// A complete, valid environment as the county stack sets it on a function,
/// without `ACME_PAYMENT_PROVIDER` (a county that chose no provider).
pub fn function_env() -> Vec<(&'static str, String)> {
    vec![
        (env::COUNTY_ID, "travis-tx".to_owned()),
        (env::ORDERS_TABLE, "orders".to_owned()),
        (env::ORDER_BY_ID_TABLE, "order-by-id".to_owned()),
        (env::INVENTORY_TABLE, "inventory".to_owned()),
        (env::IDEMPOTENCY_TABLE, "idempotency".to_owned()),
        (
            env::ORDER_QUEUE_URL,
            "https://sqs.us-east-1.amazonaws.com/123456789012/orders".to_owned(),
        ),
        (env::EVENT_BUS_NAME, "acme-travis-tx".to_owned()),
        (
            env::NOTIFICATIONS_TOPIC_ARN,
            "arn:aws:sns:us-east-1:123456789012:notify".to_owned(),
        ),
        (env::COUNTY_RULES, RULES.to_owned()),
        (env::GSI_WRITE_SHARDS, "4".to_owned()),
    ]
}

/// Runs a function's binary with `env` only (nothing inherited) and returns
/// whether it succeeded and what it printed (stdout, then stderr). For
/// start-up checks that fail before the Lambda runtime is contacted.
pub fn run_binary(path: &str, env: &[(&str, String)]) -> (bool, String) {
    let out = std::process::Command::new(path)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Checks that the function binary at `path` refuses to start, naming the
/// variable and the county file setting, when the county chose no payment
/// provider or one that does not exist.
pub fn assert_refuses_without_payment_provider(path: &str) {
    let (ok, out) = run_binary(path, &function_env());
    assert!(!ok, "started without a payment provider:\n{out}");
    assert!(out.contains("ACME_PAYMENT_PROVIDER is not set"), "{out}");
    assert!(out.contains("payment: { provider: simulator }"), "{out}");

    let mut env = function_env();
    env.push((env::PAYMENT_PROVIDER, "stripe".to_owned()));
    let (ok, out) = run_binary(path, &env);
    assert!(!ok, "started with an unknown provider:\n{out}");
    assert!(out.contains("known: simulator"), "{out}");
}

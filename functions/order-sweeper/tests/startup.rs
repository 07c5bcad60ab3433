//! The order sweeper's `main` refuses to start unless the county file chose
//! a payment provider (it refunds before releasing) and the stack gave it
//! its threshold, naming the variable each time.

use order_aws::testing::{function_env, run_binary};
use order_domain::schema::env;

const BIN: &str = env!("CARGO_BIN_EXE_order-sweeper");

#[test]
fn refuses_to_start_without_a_payment_provider() {
    order_aws::testing::assert_refuses_without_payment_provider(BIN);
}

#[test]
fn refuses_to_start_without_its_threshold() {
    let mut vars = function_env();
    vars.push((env::PAYMENT_PROVIDER, "simulator".to_owned()));
    let (ok, out) = run_binary(BIN, &vars);
    assert!(!ok, "started without a threshold:\n{out}");
    assert!(out.contains("ACME_STUCK_AFTER_SECONDS is not set"), "{out}");
    assert!(out.contains("sweeper.stuck_after_minutes"), "{out}");
}

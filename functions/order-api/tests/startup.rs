//! The order API's `main` refuses to start unless the county file chose a
//! payment provider, and says which variable and which setting.

#[test]
fn refuses_to_start_without_a_payment_provider() {
    order_aws::testing::assert_refuses_without_payment_provider(env!("CARGO_BIN_EXE_order-api"));
}

//! The card API adapter against a fake provider the test starts on loopback
//! (`order_aws::testing::FakeCardApi`, plain HTTP under the test-only
//! allowance `ProviderUrl::plain_http_loopback`). Each test asserts what the
//! provider saw: how many requests, with which idempotency key, and how many
//! times money moved.

// Test helpers may unwrap too: a panic there is a failed assertion (as clippy.toml
// allows inside #[test] functions).
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use order_aws::CardApiGateway;
use order_aws::card_api::{ApiKey, Limits, ProviderUrl};
use order_aws::testing::{FakeCardApi, Fault, Route};
use order_domain::ids::OrderId;
use order_domain::money::Money;
use order_domain::payment::{PaymentError, PaymentGateway};

const KEY: &str = "sk_test_4eC39HqLyjWDarjtT1zdp7dc";

/// Short enough that a stalled answer times out quickly.
fn limits() -> Limits {
    Limits {
        connect_timeout: Duration::from_millis(200),
        request_timeout: Duration::from_millis(400),
        max_attempts: 4,
        call_budget: Duration::from_secs(4),
    }
}

fn gateway(url: ProviderUrl, limits: Limits) -> CardApiGateway {
    CardApiGateway::new(url, ApiKey::new(KEY).unwrap(), limits).unwrap()
}

fn order() -> OrderId {
    OrderId::from_ulid(ulid::Ulid::generate())
}

fn cents(c: u64) -> Money {
    Money::from_cents(c).unwrap()
}

/// The idempotency keys of the requests on `route`.
fn keys(fake: &FakeCardApi, route: Route) -> Vec<String> {
    fake.seen_on(route)
        .into_iter()
        .map(|s| s.idempotency_key.unwrap_or_default())
        .collect()
}

/// A stall long past any request timeout here.
const STALL: Duration = Duration::from_secs(5);

#[tokio::test]
async fn an_approved_charge_is_one_request_keyed_by_the_order_id() {
    let fake = FakeCardApi::start(KEY).await;
    let g = gateway(fake.url(), limits());
    let o = order();
    let id = g.charge(&o, cents(4_298)).await.unwrap();
    let payment = fake.payment(&o.to_string()).unwrap();
    assert_eq!(id.0, payment.id);
    assert_eq!(payment.amount, 4_298);
    assert_eq!(fake.captures(&o.to_string()), 1);
    assert_eq!(keys(&fake, Route::Create), [o.to_string()]);
    assert!(fake.seen().iter().all(|s| s.authorized));
}

#[tokio::test]
async fn declines_are_final_and_carry_the_reason() {
    for code in ["card_declined", "insufficient_funds"] {
        let fake = FakeCardApi::start(KEY).await;
        let g = gateway(fake.url(), limits());
        let o = order();
        fake.decline(&o.to_string(), code);
        let Err(PaymentError::Declined(reason)) = g.charge(&o, cents(1_000)).await else {
            panic!("{code}: not declined");
        };
        assert!(reason.starts_with(&format!("{code}: ")), "{reason}");
        assert_eq!(fake.captures(&o.to_string()), 0);
        // Asking again replays the decline; nothing is retried inside a call.
        assert!(matches!(
            g.charge(&o, cents(1_000)).await,
            Err(PaymentError::Declined(_))
        ));
        assert_eq!(keys(&fake, Route::Create), [o.to_string(), o.to_string()]);
        // Nothing to refund for a declined payment.
        assert_eq!(g.refund(&o).await, Ok(None));
        assert!(fake.seen_on(Route::Refund).is_empty());
    }
}

#[tokio::test]
async fn server_errors_and_throttling_are_retried_with_the_same_key_and_charge_once() {
    let fake = FakeCardApi::start(KEY).await;
    let g = gateway(fake.url(), limits());
    let o = order();
    fake.fault(Route::Create, Fault::Status(500));
    fake.fault(Route::Create, Fault::Status(429));
    fake.fault(Route::Create, Fault::Status(503));
    g.charge(&o, cents(2_500)).await.unwrap();
    assert_eq!(keys(&fake, Route::Create), vec![o.to_string(); 4]);
    assert_eq!(fake.captures(&o.to_string()), 1);
    // An error with no chance of a charge needs no look-up.
    assert!(fake.seen_on(Route::LookUp).is_empty());
}

#[tokio::test]
async fn an_outage_longer_than_the_attempts_is_unavailable_not_a_decline() {
    let fake = FakeCardApi::start(KEY).await;
    let g = gateway(fake.url(), limits());
    let o = order();
    for _ in 0..4 {
        fake.fault(Route::Create, Fault::Status(502));
    }
    let err = g.charge(&o, cents(2_500)).await.unwrap_err();
    assert!(
        matches!(err, PaymentError::Unavailable(ref m) if m.contains("502")),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(fake.seen_on(Route::Create).len(), 4);
    assert_eq!(fake.captures(&o.to_string()), 0);
}

#[tokio::test]
async fn a_slow_answer_is_looked_up_then_charged_once() {
    let fake = FakeCardApi::start(KEY).await;
    let g = gateway(fake.url(), limits());
    let o = order();
    // The provider never got to the request: the look-up finds nothing, so
    // the adapter charges again under the same key.
    fake.fault(Route::Create, Fault::StallBefore(STALL));
    let started = Instant::now();
    g.charge(&o, cents(999)).await.unwrap();
    assert!(started.elapsed() < STALL, "waited for the stalled answer");
    let routes: Vec<Route> = fake.seen().iter().map(|s| s.route).collect();
    assert_eq!(routes, [Route::Create, Route::LookUp, Route::Create]);
    assert_eq!(keys(&fake, Route::Create), [o.to_string(), o.to_string()]);
    assert_eq!(fake.captures(&o.to_string()), 1);
}

#[tokio::test]
async fn a_timeout_after_the_charge_is_settled_by_the_look_up_without_charging_again() {
    let fake = FakeCardApi::start(KEY).await;
    let g = gateway(fake.url(), limits());
    let o = order();
    // The provider charged, then its answer stalled past the timeout.
    fake.fault(Route::Create, Fault::StallAfter(STALL));
    let id = g.charge(&o, cents(5_000)).await.unwrap();
    assert_eq!(id.0, fake.payment(&o.to_string()).unwrap().id);
    let routes: Vec<Route> = fake.seen().iter().map(|s| s.route).collect();
    assert_eq!(
        routes,
        [Route::Create, Route::LookUp],
        "no second charge request"
    );
    assert_eq!(fake.captures(&o.to_string()), 1);
}

#[tokio::test]
async fn a_provider_that_never_answers_in_time_is_a_timeout_within_the_budget() {
    let fake = FakeCardApi::start(KEY).await;
    let budget = Duration::from_millis(1_500);
    let g = gateway(
        fake.url(),
        Limits {
            call_budget: budget,
            max_attempts: 6,
            ..limits()
        },
    );
    let o = order();
    fake.fault(Route::Create, Fault::StallAfter(STALL));
    for _ in 0..6 {
        fake.fault(Route::LookUp, Fault::StallBefore(STALL));
    }
    let started = Instant::now();
    // The charge went through but nothing could confirm it: the outcome is
    // unknown, which the worker retries (never fails the order on).
    assert_eq!(g.charge(&o, cents(5_000)).await, Err(PaymentError::Timeout));
    let took = started.elapsed();
    assert!(took <= budget + Duration::from_millis(500), "took {took:?}");
    assert_eq!(fake.seen_on(Route::Create).len(), 1);
    assert!(!fake.seen_on(Route::LookUp).is_empty());
    // The next delivery settles it with the same key, without a new charge.
    let g = gateway(fake.url(), limits());
    let id = g.charge(&o, cents(5_000)).await.unwrap();
    assert_eq!(id.0, fake.payment(&o.to_string()).unwrap().id);
    assert_eq!(fake.captures(&o.to_string()), 1);
}

#[tokio::test]
async fn a_replayed_idempotency_key_charges_once() {
    let fake = FakeCardApi::start(KEY).await;
    let o = order();
    // Two workers (a duplicate SQS delivery), each its own client, at once
    // and then again.
    let (a, b) = (gateway(fake.url(), limits()), gateway(fake.url(), limits()));
    let (x, y) = tokio::join!(a.charge(&o, cents(1_250)), b.charge(&o, cents(1_250)));
    let z = a.charge(&o, cents(1_250)).await;
    assert_eq!(x.clone().unwrap(), y.unwrap());
    assert_eq!(x.unwrap(), z.unwrap());
    assert_eq!(keys(&fake, Route::Create), vec![o.to_string(); 3]);
    assert_eq!(fake.captures(&o.to_string()), 1);
    // The same key with another amount is refused, never charged.
    let err = a.charge(&o, cents(1)).await.unwrap_err();
    assert!(
        matches!(err, PaymentError::Declined(ref m) if m.contains("idempotency")),
        "{err:?}"
    );
    assert_eq!(fake.captures(&o.to_string()), 1);
}

#[tokio::test]
async fn a_refund_finds_the_payment_by_its_key_and_refunds_once() {
    let fake = FakeCardApi::start(KEY).await;
    let g = gateway(fake.url(), limits());
    let o = order();
    g.charge(&o, cents(3_000)).await.unwrap();
    fake.fault(Route::Refund, Fault::StallAfter(STALL));
    fake.fault(Route::Refund, Fault::Status(503));
    let first = g.refund(&o).await.unwrap().unwrap();
    let again = g.refund(&o).await.unwrap().unwrap();
    assert_eq!(first, again);
    let payment = fake.payment(&o.to_string()).unwrap();
    assert_eq!(payment.refund.as_deref(), Some(first.0.as_str()));
    assert_eq!(payment.refunds, 1);
    let refund_key = format!("refund-{o}");
    assert!(keys(&fake, Route::Refund).iter().all(|k| *k == refund_key));
    assert_eq!(fake.seen_on(Route::Refund).len(), 4);
    // An order never charged: nothing to refund, no refund request.
    let never = order();
    assert_eq!(g.refund(&never).await, Ok(None));
    assert_eq!(fake.seen_on(Route::Refund).len(), 4);
}

#[tokio::test]
async fn a_wrong_api_key_is_refused_at_once_and_never_retried() {
    let fake = FakeCardApi::start("sk_test_other").await;
    let g = gateway(fake.url(), limits());
    let err = g.charge(&order(), cents(100)).await.unwrap_err();
    assert!(
        matches!(err, PaymentError::Unavailable(ref m) if m.contains("API key")),
        "{err:?}"
    );
    assert!(!format!("{err:?}").contains(KEY));
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn an_unreachable_provider_is_unavailable_after_the_attempts() {
    // A port that was free a moment ago: connections are refused, so nothing
    // was sent and each retry is safe.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let g = gateway(ProviderUrl::plain_http_loopback(addr), limits());
    let err = g.charge(&order(), cents(100)).await.unwrap_err();
    assert!(
        matches!(err, PaymentError::Unavailable(ref m) if m.contains("connecting")),
        "{err:?}"
    );
}

#[tokio::test]
async fn https_only_outside_the_loopback_allowance() {
    // A URL from `https()` is spoken to over TLS only: against the plain
    // HTTP fake the handshake fails and no request reaches it. The
    // test-only allowance is the one way to plain HTTP.
    let fake = FakeCardApi::start(KEY).await;
    let plain = fake.url().as_str().replace("http://", "https://");
    let g = gateway(ProviderUrl::https(&plain).unwrap(), limits());
    assert!(g.charge(&order(), cents(100)).await.is_err());
    assert_eq!(fake.captures(""), 0);
    assert!(fake.seen().is_empty(), "plain HTTP reached the fake");
}

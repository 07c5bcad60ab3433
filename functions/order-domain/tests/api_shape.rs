//! Compile-time guarantees handlers rely on: every service future is `Send`
//! (Lambda runtimes are multi-threaded tokio), and every error classifies.

mod common;

use common::Fixture;
use jiff::SignedDuration;
use order_domain::events::{OutboxDecision, WorkMessage};
use order_domain::service::{AcceptError, CancelError, ProcessError, QueryError};
use order_domain::{CustomerId, DomainError, OrderId, OrderStatus, StoreId};

fn assert_send<T: Send>(_: &T) {}

#[test]
fn service_futures_are_send() {
    let f = Fixture::new();
    let id = OrderId::parse("01HZY3M4T7X8Q9R0S1T2V3W4X5").unwrap();
    let c = CustomerId::parse("c").unwrap();
    let s = StoreId::parse("s").unwrap();
    let t = common::t0();
    assert_send(&f.accept.accept(b"{}"));
    assert_send(&f.worker.process(&id));
    assert_send(&f.cancel.cancel(&id, Some(&c)));
    assert_send(&f.queries.get_order(&id));
    assert_send(&f.queries.customer_orders(&c, 10, None));
    assert_send(&f.queries.store_orders_since(&s, t, None, 10, None));
    assert_send(
        &f.queries
            .status_orders_since(OrderStatus::Pending, t, 10, None),
    );
    assert_send(&f.queries.county_orders_since(t, 10, None));
    assert_send(
        &f.sweeper
            .stale_pending(SignedDuration::from_mins(5), 10, None),
    );
}

#[test]
fn errors_are_dyn_domain_errors() {
    fn classify(e: &dyn DomainError) -> (u16, bool, &'static str) {
        (e.http_status(), e.is_retryable(), e.code())
    }
    let id = OrderId::parse("01HZY3M4T7X8Q9R0S1T2V3W4X5").unwrap();
    assert_eq!(
        classify(&AcceptError::Conflict),
        (409, false, "idempotency_conflict")
    );
    assert_eq!(
        classify(&AcceptError::Contention),
        (503, true, "contention")
    );
    assert_eq!(
        classify(&ProcessError::NotFound(id)),
        (404, false, "not_found")
    );
    assert_eq!(
        classify(&ProcessError::Contention(id)),
        (503, true, "contention")
    );
    assert_eq!(
        classify(&CancelError::NotFound(id)),
        (404, false, "not_found")
    );
    assert_eq!(
        classify(&QueryError::NotFound(id)),
        (404, false, "not_found")
    );
    let body = serde_json::to_value(ProcessError::NotFound(id).body()).unwrap();
    assert_eq!(body["code"], "not_found");
    assert_eq!(body["retryable"], false);
    assert!(body.get("errors").is_none());
}

#[test]
fn work_message_and_outbox_types_are_plain_values() {
    let id = OrderId::parse("01HZY3M4T7X8Q9R0S1T2V3W4X5").unwrap();
    let d = OutboxDecision::Enqueue(WorkMessage { order_id: id });
    assert_eq!(d, OutboxDecision::Enqueue(WorkMessage { order_id: id }));
}

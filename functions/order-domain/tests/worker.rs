//! The order worker: reservation, payment, confirmation, and their failure
//! and concurrency cases.

mod common;

use std::sync::Arc;

use common::Fixture;
use jiff::SignedDuration;
use order_domain::codec::RESERVATION_CONFIRMED;
use order_domain::payment::{Behavior, PaymentError};
use order_domain::schema::inventory as inv;
use order_domain::service::{ProcessError, ProcessOutcome};
use order_domain::store::{AttrValue, Fault, FaultOp, StoreError, Table};
use order_domain::{DomainError, FailureReason, OrderId, OrderStatus};

async fn placed(f: &Fixture, customer: &str, items: &[(&str, i64)]) -> OrderId {
    f.place(customer, &format!("req-{customer}"), items)
        .await
        .accepted
        .order_id
}

#[tokio::test]
async fn happy_path_reserves_charges_and_confirms() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    f.stock("BEER", 5, 299).await;
    let id = placed(&f, "c1", &[("WINE", 2), ("BEER", 5)]).await;
    let out = f.worker.process(&id).await.unwrap();
    let ProcessOutcome::Confirmed(order) = out else {
        panic!("{out:?}")
    };
    assert_eq!(order.status, OrderStatus::Confirmed);
    assert_eq!(order.version, 3, "PENDING(1) → RESERVED(2) → CONFIRMED(3)");
    assert_eq!(
        order.history.iter().map(|h| h.status).collect::<Vec<_>>(),
        [
            OrderStatus::Pending,
            OrderStatus::Reserved,
            OrderStatus::Confirmed
        ]
    );
    assert!(order.payment_id.is_some());
    assert_eq!(f.order(&id), order);
    assert_eq!(f.available("WINE"), 8);
    assert_eq!(f.available("BEER"), 0);
    let ledger = f.ledger();
    assert_eq!(ledger.len(), 2);
    for entry in &ledger {
        assert_eq!(entry[inv::STATE], AttrValue::s(RESERVATION_CONFIRMED));
        assert!(
            !entry.contains_key("expires_at"),
            "no ledger entry carries a TTL: DynamoDB never deletes units"
        );
    }
    assert_eq!(f.gateway.captures(&id), 1);
    // Summary follows: CONFIRMED stays in the status index.
    let summary = &f.store.items(Table::Orders)[0];
    assert_eq!(summary["status"], AttrValue::s("CONFIRMED"));
    assert!(
        summary["status_shard"]
            .as_s()
            .unwrap()
            .starts_with("CONFIRMED#")
    );
}

#[tokio::test]
async fn out_of_stock_fails_naming_the_sku_and_changes_no_stock() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    f.stock("BEER", 1, 299).await;
    let id = placed(&f, "c1", &[("WINE", 2), ("BEER", 3)]).await;
    let out = f.worker.process(&id).await.unwrap();
    let ProcessOutcome::Failed(order) = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        order.failure_reason,
        Some(FailureReason::OutOfStock {
            skus: vec![order_domain::Sku::parse("BEER").unwrap()]
        })
    );
    assert_eq!((f.available("WINE"), f.available("BEER")), (10, 1));
    assert!(f.ledger().is_empty());
    assert_eq!(f.gateway.attempts(&id), 0, "never charged");
    // FAILED leaves the sparse status index.
    assert!(!f.store.items(Table::Orders)[0].contains_key("status_shard"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_oversell_under_concurrency() {
    let f = Arc::new(Fixture::new());
    f.stock("WINE", 10, 1999).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(placed(&f, &format!("c{i}"), &[("WINE", 1)]).await);
    }
    let start = Arc::new(tokio::sync::Barrier::new(ids.len()));
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let f = f.clone();
            let id = *id;
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                f.worker.process(&id).await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let orders = f.all_orders();
    let count = |s| orders.iter().filter(|o| o.status == s).count();
    assert_eq!(count(OrderStatus::Confirmed), 10);
    assert_eq!(count(OrderStatus::Failed), 30);
    assert_eq!(f.available("WINE"), 0);
    assert_eq!(f.ledger().len(), 10);
    assert_eq!(f.gateway.total_captures(), 10);
    for o in orders.iter().filter(|o| o.status == OrderStatus::Failed) {
        assert!(
            matches!(&o.failure_reason, Some(FailureReason::OutOfStock { skus }) if skus[0].as_str() == "WINE")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_message_three_times_concurrently_reserves_and_charges_once() {
    let f = Arc::new(Fixture::new());
    f.stock("WINE", 100, 1999).await;
    f.stock("BEER", 100, 299).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(placed(&f, &format!("c{i}"), &[("WINE", 2), ("BEER", 1)]).await);
    }
    let start = Arc::new(tokio::sync::Barrier::new(ids.len() * 3));
    let tasks: Vec<_> = ids
        .iter()
        .flat_map(|id| std::iter::repeat_n(*id, 3))
        .map(|id| {
            let f = f.clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                f.worker.process(&id).await
            })
        })
        .collect();
    let mut confirmed_by_call = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            ProcessOutcome::Confirmed(_) => confirmed_by_call += 1,
            ProcessOutcome::AlreadyFinal(o) => assert_eq!(o.status, OrderStatus::Confirmed),
            ProcessOutcome::Failed(o) => panic!("failed: {o:?}"),
            ProcessOutcome::Held(o) => panic!("held: {o:?}"),
        }
    }
    assert_eq!(
        confirmed_by_call, 20,
        "exactly one delivery confirms each order"
    );
    assert_eq!(f.available("WINE"), 100 - 40);
    assert_eq!(f.available("BEER"), 100 - 20);
    assert_eq!(f.ledger().len(), 40);
    for id in &ids {
        assert_eq!(f.gateway.captures(id), 1);
        assert_eq!(f.order(id).version, 3);
    }
    // And a late fourth delivery is a no-op.
    let writes = f.store.stats().items_written;
    let out = f.worker.process(&ids[0]).await.unwrap();
    assert!(matches!(out, ProcessOutcome::AlreadyFinal(_)));
    assert_eq!(f.store.stats().items_written, writes);
}

#[tokio::test]
async fn decline_fails_the_order_and_releases_stock() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    let id = placed(&f, "c1", &[("WINE", 4)]).await;
    f.gateway.set_behavior(id, Behavior::Decline);
    let out = f.worker.process(&id).await.unwrap();
    let ProcessOutcome::Failed(order) = out else {
        panic!("{out:?}")
    };
    assert!(matches!(
        order.failure_reason,
        Some(FailureReason::PaymentDeclined { .. })
    ));
    assert_eq!(order.history.len(), 3, "PENDING, RESERVED, FAILED");
    assert_eq!(f.available("WINE"), 10);
    assert!(f.ledger().is_empty());
    assert_eq!(f.gateway.captures(&id), 0);
}

#[tokio::test]
async fn timeout_is_retryable_and_the_retry_does_not_charge_twice() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    let id = placed(&f, "c1", &[("WINE", 1)]).await;
    // The charge goes through but the answer is lost.
    f.gateway
        .set_behavior(id, Behavior::TimeoutAfterCapture { times: 1 });
    let err = f.worker.process(&id).await.unwrap_err();
    assert!(matches!(
        err,
        ProcessError::PaymentRetry {
            error: PaymentError::Timeout,
            ..
        }
    ));
    assert!(err.is_retryable(), "report as batch item failure");
    assert_eq!(
        f.order(&id).status,
        OrderStatus::Reserved,
        "stock stays held"
    );
    assert_eq!(f.available("WINE"), 9);
    // SQS redelivers: RESERVED goes straight to payment.
    let out = f.worker.process(&id).await.unwrap();
    assert!(matches!(out, ProcessOutcome::Confirmed(_)));
    assert_eq!(f.gateway.captures(&id), 1);
    assert_eq!(f.gateway.attempts(&id), 2);
    assert_eq!(f.available("WINE"), 9);
}

#[tokio::test]
async fn gateway_outage_is_retryable_then_succeeds() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    let id = placed(&f, "c1", &[("WINE", 1)]).await;
    f.gateway
        .set_behavior(id, Behavior::Unavailable { times: 2 });
    for _ in 0..2 {
        let err = f.worker.process(&id).await.unwrap_err();
        assert_eq!((err.is_retryable(), err.http_status()), (true, 503));
    }
    assert!(matches!(
        f.worker.process(&id).await.unwrap(),
        ProcessOutcome::Confirmed(_)
    ));
    assert_eq!(f.gateway.captures(&id), 1);
    assert_eq!(f.ledger().len(), 1);
}

#[tokio::test]
async fn crash_after_charge_before_confirm_is_resumed_without_a_second_charge() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    let id = placed(&f, "c1", &[("WINE", 1)]).await;
    // Transaction 1 (reserve) commits; transaction 2 (confirm) fails as if
    // the process died after charging.
    f.store.inject(Fault {
        op: FaultOp::Transact,
        skip: 1,
        error: StoreError::Unavailable("connection reset".into()),
    });
    let err = f.worker.process(&id).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(f.order(&id).status, OrderStatus::Reserved);
    assert_eq!(f.gateway.captures(&id), 1);
    let out = f.worker.process(&id).await.unwrap();
    assert!(matches!(out, ProcessOutcome::Confirmed(_)));
    assert_eq!(f.gateway.captures(&id), 1);
    assert_eq!(f.available("WINE"), 9);
    assert_eq!(f.ledger().len(), 1);
}

#[tokio::test]
async fn a_reservation_past_its_ttl_is_released_and_refunded() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    let id = placed(&f, "c1", &[("WINE", 3)]).await;
    // Captured, answer lost, and the gateway then stays down.
    f.gateway
        .set_behavior(id, Behavior::TimeoutAfterCapture { times: 100 });
    assert!(f.worker.process(&id).await.is_err());
    assert_eq!(f.available("WINE"), 7);
    // 15 minutes later (reservation_ttl_seconds = 900) the sweeper re-sends it.
    f.clock.advance(SignedDuration::from_secs(901));
    let out = f.worker.process(&id).await.unwrap();
    let ProcessOutcome::Failed(order) = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        order.failure_reason,
        Some(FailureReason::ReservationExpired)
    );
    assert_eq!(f.available("WINE"), 10);
    assert!(f.ledger().is_empty());
    assert!(f.gateway.refunded(&id));
}

#[tokio::test]
async fn unknown_order_is_not_retryable() {
    let f = Fixture::new();
    let id = OrderId::parse("01HZY3M4T7X8Q9R0S1T2V3W4X5").unwrap();
    let err = f.worker.process(&id).await.unwrap_err();
    assert!(matches!(err, ProcessError::NotFound(_)));
    assert!(!err.is_retryable(), "acknowledge: it will never exist");
}

#[tokio::test]
async fn a_cancelled_order_is_left_alone() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    let id = placed(&f, "c1", &[("WINE", 1)]).await;
    f.cancel.cancel(&id, None).await.unwrap();
    let out = f.worker.process(&id).await.unwrap();
    assert!(matches!(out, ProcessOutcome::AlreadyFinal(o) if o.status == OrderStatus::Cancelled));
    assert_eq!(f.available("WINE"), 10);
    assert_eq!(f.gateway.attempts(&id), 0);
}

#[tokio::test]
async fn an_order_the_legacy_system_owns_is_left_to_it_by_worker_and_cancel() {
    use order_domain::codec::order_to_item;
    use order_domain::order::{LegacyOwner, LegacyRecord};
    use order_domain::service::CancelError;
    use order_domain::store::{Put, Store};

    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    let id = placed(&f, "c1", &[("WINE", 2)]).await;
    // As the backfill writes an order still in flight in the legacy system.
    let mut migrated = f.order(&id);
    migrated.legacy = Some(LegacyRecord {
        number: 1007,
        status: "NEW".into(),
        owner: LegacyOwner::Legacy,
        placed_at_local: "2024-06-16T09:00:00.000000".into(),
        updated_at: migrated.updated_at,
        payment_ref: None,
    });
    f.store
        .put(Put {
            table: Table::OrderById,
            item: order_to_item(&migrated),
            condition: None,
        })
        .await
        .unwrap();

    let out = f.worker.process(&id).await.unwrap();
    assert!(
        matches!(out, ProcessOutcome::AlreadyFinal(ref o) if *o == migrated),
        "{out:?}"
    );
    assert_eq!(f.order(&id), migrated, "nothing written");
    assert_eq!(f.available("WINE"), 10, "no stock reserved");
    assert_eq!(f.gateway.captures(&id), 0, "nothing charged");

    let err = f.cancel.cancel(&id, None).await.unwrap_err();
    assert!(matches!(err, CancelError::Migrated(_)), "{err}");
    assert_eq!(err.http_status(), 409);
    assert_eq!(f.order(&id), migrated);
}

//! The worker handler on a real SQS event fixture, over the in-memory store.

// Test helpers may unwrap too: a panic there is a failed assertion (as clippy.toml
// allows inside #[test] functions).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use jiff::Timestamp;
use order_domain::clock::{ManualClock, SequentialIds};
use order_domain::codec::{self, StockRecord};
use order_domain::ids::{OrderId, Sku, StoreId};
use order_domain::money::Money;
use order_domain::order::{FailureReason, OrderStatus};
use order_domain::payment::{Behavior, SimulatedGateway};
use order_domain::rules::CountyRules;
use order_domain::service::{AcceptService, OrderQueries, ProcessOutcome};
use order_domain::store::{
    CancelReason, Fault, FaultOp, MemoryStore, StoreError, Table, TxCanceled,
};
use order_domain::testing::seed_adult;
use order_worker::{ConflictRetry, MessageOutcome, Worker};

fn rules() -> CountyRules {
    let day = r#"{"open_minute": 0, "close_minute": 1440}"#;
    CountyRules::from_json(&format!(
        r#"{{"county_id": "travis-tx", "sales_enabled": true, "timezone": "America/Chicago",
            "sale_hours": {{"monday": {day}, "tuesday": {day}, "wednesday": {day},
                "thursday": {day}, "friday": {day}, "saturday": {day}, "sunday": {day}}},
            "max_units_per_order": 24, "max_line_items": 5, "gsi_write_shards": 4,
            "reservation_ttl_seconds": 900, "idempotency_ttl_hours": 24}}"#
    ))
    .unwrap()
}

fn fixture_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sqs-order-batch.json");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Setup {
    store: Arc<MemoryStore>,
    gateway: Arc<SimulatedGateway>,
    clock: Arc<ManualClock>,
    a: OrderId,
    b: OrderId,
}

async fn setup() -> Setup {
    let store = Arc::new(MemoryStore::new());
    let stock = StockRecord {
        store_id: StoreId::parse("store-9").unwrap(),
        sku: Sku::parse("WINE-1").unwrap(),
        available: 10,
        price_cents: Money::from_cents(1999).unwrap(),
    };
    order_domain::testing::seed_stock(&store, &stock)
        .await
        .unwrap();
    seed_adult(&store, "cust-1").await.unwrap();
    let now: Timestamp = "2026-03-09T15:04:05.678Z".parse().unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let accept = AcceptService::new(
        Arc::clone(&store),
        rules(),
        Arc::clone(&clock),
        SequentialIds::new(),
    );
    let mut ids = Vec::new();
    for req in ["r1", "r2"] {
        let body = format!(
            r#"{{"client_request_id":"{req}","customer_id":"cust-1","store_id":"store-9",
                 "items":[{{"sku":"WINE-1","quantity":2}}]}}"#
        );
        ids.push(
            accept
                .accept(body.as_bytes())
                .await
                .unwrap()
                .accepted
                .order_id,
        );
    }
    Setup {
        store,
        gateway: Arc::new(SimulatedGateway::new()),
        clock,
        a: ids[0],
        b: ids[1],
    }
}

fn event(s: &Setup) -> SqsEvent {
    let text = fixture_text()
        .replace("ORDER_A", &s.a.to_string())
        .replace("ORDER_B", &s.b.to_string());
    serde_json::from_str(&text).unwrap()
}

#[test]
fn fixture_round_trips_through_the_event_type() {
    let e: SqsEvent = serde_json::from_str(&fixture_text()).unwrap();
    let back: SqsEvent = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
    assert_eq!(back, e);
    assert_eq!(e.records.len(), 4);
}

#[tokio::test]
async fn batch_reports_only_retryable_and_malformed_messages() {
    let s = setup().await;
    // Order B's payment gateway is down: retryable.
    s.gateway
        .set_behavior(s.b, Behavior::Unavailable { times: 100 });
    let worker = Worker::new(
        Arc::clone(&s.store),
        Arc::clone(&s.gateway),
        rules(),
        Arc::clone(&s.clock),
    );
    let response: SqsBatchResponse = worker.handle(event(&s)).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "5b7d1c2e-0a4f-4e8e-9d6b-1f2a3b4c5d6e",
            "8c9e0f1a-2b3c-4d5e-8f70-8192a3b4c5d6"
        ]
    );
    // The response is what Lambda expects on the wire.
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(
        wire["batchItemFailures"][0]["itemIdentifier"],
        "5b7d1c2e-0a4f-4e8e-9d6b-1f2a3b4c5d6e"
    );

    let queries = OrderQueries::new(Arc::clone(&s.store), rules());
    assert_eq!(
        queries.get_order(&s.a).await.unwrap().status,
        OrderStatus::Confirmed
    );
    // B holds its stock while payment is retried.
    assert_eq!(
        queries.get_order(&s.b).await.unwrap().status,
        OrderStatus::Reserved
    );

    // Redelivery after the gateway recovers: B confirms, A is a no-op.
    s.gateway.set_behavior(s.b, Behavior::Approve);
    let again = worker.handle(event(&s)).await;
    let failed: Vec<&str> = again
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["8c9e0f1a-2b3c-4d5e-8f70-8192a3b4c5d6"]);
    assert_eq!(
        queries.get_order(&s.b).await.unwrap().status,
        OrderStatus::Confirmed
    );
    assert_eq!(s.gateway.captures(&s.a), 1, "A was charged once");
}

#[tokio::test]
async fn message_outcomes() {
    let s = setup().await;
    let worker = Worker::new(
        Arc::clone(&s.store),
        Arc::clone(&s.gateway),
        rules(),
        Arc::clone(&s.clock),
    );
    let e = event(&s);
    assert!(matches!(
        worker.process_message(&e.records[0]).await,
        MessageOutcome::Processed(_)
    ));
    assert!(matches!(
        worker.process_message(&e.records[2]).await,
        MessageOutcome::Malformed(_)
    ));
    // Unknown order: acknowledged, redelivery cannot help.
    let unknown = worker.process_message(&e.records[3]).await;
    assert!(matches!(unknown, MessageOutcome::Dropped(_)), "{unknown:?}");
    assert!(!unknown.is_failure());
}

/// A conflict as DynamoDB reports it when another transaction touches the
/// same item: the whole transaction is cancelled, nothing written.
fn conflict() -> StoreError {
    StoreError::TransactionCanceled(TxCanceled {
        reasons: vec![Some(CancelReason::TransactionConflict)],
    })
}

#[tokio::test]
async fn a_conflicting_transaction_is_retried_by_the_worker_not_by_sqs() {
    let s = setup().await;
    let worker = Worker::new(
        Arc::clone(&s.store),
        Arc::clone(&s.gateway),
        rules(),
        Arc::clone(&s.clock),
    );
    // The reservation loses to another transaction, then the confirmation.
    for skip in [0, 0] {
        s.store.inject(Fault {
            op: FaultOp::Transact,
            skip,
            error: conflict(),
        });
    }
    let message = &event(&s).records[0];
    let outcome = worker.process_message(message).await;
    assert!(
        matches!(&outcome, MessageOutcome::Processed(o) if matches!(**o, ProcessOutcome::Confirmed(_))),
        "{outcome:?}"
    );
    assert_eq!(s.store.faults_left(), 0, "both conflicts were met");
    assert_eq!(s.gateway.captures(&s.a), 1);
}

#[tokio::test]
async fn a_conflict_that_outlasts_the_retries_goes_back_to_sqs() {
    let s = setup().await;
    let retry = ConflictRetry {
        budget: Duration::from_millis(100),
        base: Duration::from_millis(2),
        cap: Duration::from_millis(10),
    };
    let worker = Worker::new(
        Arc::clone(&s.store),
        Arc::clone(&s.gateway),
        rules(),
        Arc::clone(&s.clock),
    )
    .with_conflict_retry(retry);
    // Every transaction conflicts, for longer than the budget.
    const FAULTS: usize = 10_000;
    for _ in 0..FAULTS {
        s.store.inject(Fault {
            op: FaultOp::Transact,
            skip: 0,
            error: conflict(),
        });
    }
    let started = std::time::Instant::now();
    let outcome = worker.process_message(&event(&s).records[0]).await;
    let spent = started.elapsed();
    assert!(
        matches!(&outcome, MessageOutcome::Retry(e) if e.is_conflict()),
        "{outcome:?}"
    );
    let tries = FAULTS - s.store.faults_left();
    assert!(tries >= 5, "retried {tries} times");
    assert!(
        spent < Duration::from_secs(1),
        "retried for {spent:?}, the budget is 100 ms"
    );
}

/// A flash sale: 50 orders for one unit each of a SKU with 30 in stock,
/// processed at once while every third transaction is cancelled by a
/// conflict. Each order must end CONFIRMED or FAILED (out of stock) within
/// its delivery: none goes back to SQS (and from there to the DLQ, PENDING).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flash_sale_with_conflicting_commits_sells_exactly_the_stock() {
    const ORDERS: usize = 50;
    const STOCK: i64 = 30;
    let store = Arc::new(MemoryStore::new());
    let store_id = StoreId::parse("store-9").unwrap();
    let sku = Sku::parse("HOT-1").unwrap();
    let stock = StockRecord {
        store_id: store_id.clone(),
        sku: sku.clone(),
        available: STOCK,
        price_cents: Money::from_cents(4999).unwrap(),
    };
    order_domain::testing::seed_stock(&store, &stock)
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new("2026-11-27T23:00:00Z".parse().unwrap()));
    let accept = AcceptService::new(
        Arc::clone(&store),
        rules(),
        Arc::clone(&clock),
        SequentialIds::new(),
    );
    let mut ids = Vec::new();
    for n in 0..ORDERS {
        seed_adult(&store, &format!("cust-{n}")).await.unwrap();
        let body = format!(
            r#"{{"client_request_id":"r{n}","customer_id":"cust-{n}","store_id":"store-9",
                 "items":[{{"sku":"HOT-1","quantity":1}}]}}"#
        );
        ids.push(
            accept
                .accept(body.as_bytes())
                .await
                .unwrap()
                .accepted
                .order_id,
        );
    }
    // From here on, every third transaction conflicts.
    const FAULTS: usize = 200;
    for _ in 0..FAULTS {
        store.inject(Fault {
            op: FaultOp::Transact,
            skip: 2,
            error: conflict(),
        });
    }
    let before = store.stats();
    // Pauses short enough that a test on two busy cores never runs out of
    // budget; the default policy is the same loop with longer pauses.
    let retry = ConflictRetry {
        budget: Duration::from_secs(20),
        base: Duration::from_millis(1),
        cap: Duration::from_millis(5),
    };
    let worker = Arc::new(
        Worker::new(
            Arc::clone(&store),
            Arc::new(SimulatedGateway::new()),
            rules(),
            Arc::clone(&clock),
        )
        .with_conflict_retry(retry),
    );
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let worker = Arc::clone(&worker);
            let message: SqsMessage = serde_json::from_value(serde_json::json!({
                "messageId": format!("m-{id}"),
                "body": format!(r#"{{"order_id":"{id}"}}"#),
            }))
            .unwrap();
            tokio::spawn(async move { worker.process_message(&message).await })
        })
        .collect();
    for task in tasks {
        let outcome = task.await.unwrap();
        assert!(!outcome.is_failure(), "sent back to SQS: {outcome:?}");
        assert!(
            matches!(outcome, MessageOutcome::Processed(_)),
            "{outcome:?}"
        );
    }

    let after = store.stats();
    let committed = after.transactions_committed - before.transactions_committed;
    let canceled = after.transactions_canceled - before.transactions_canceled;
    let conflicts = (FAULTS - store.faults_left()) as u64;
    assert!(
        conflicts * 3 + 2 >= committed + canceled && conflicts >= 30,
        "a third of {} commits should have conflicted, {conflicts} did",
        committed + canceled
    );

    let queries = OrderQueries::new(Arc::clone(&store), rules());
    let mut sold = 0;
    for id in &ids {
        let order = queries.get_order(id).await.unwrap();
        match order.status {
            OrderStatus::Confirmed => sold += i64::from(order.items[0].quantity),
            OrderStatus::Failed => assert!(
                matches!(order.failure_reason, Some(FailureReason::OutOfStock { .. })),
                "{id}: {:?}",
                order.failure_reason
            ),
            other => panic!("{id} ended {other}"),
        }
    }
    let left = StockRecord::from_item(
        &store
            .peek(Table::Inventory, &codec::stock_key(&store_id, &sku))
            .unwrap(),
    )
    .unwrap()
    .available;
    assert!(left >= 0, "stock went negative: {left}");
    assert_eq!(sold, STOCK, "every unit sold, none twice");
    assert_eq!(sold + left, STOCK);
}

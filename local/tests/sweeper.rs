//! The order sweeper and `orders redrive` / `orders stuck` on the moto
//! server, through the handlers the Lambdas run (`order_sweeper::SweeperFn`
//! over the runner's `DynamoStore`, `SqsEnqueuer` and gateway): a message
//! that dies after reserving gets its stock back, two sweeps racing release
//! it once, and a redriven message completes its order.
//!
//! The sweeper is given a clock past the reservation's deadline (plus the
//! settle time) instead of waiting 30 minutes; everything else is real:
//! moto's SQS moves the failing message to the DLQ after `maxReceiveCount`.
//!
//! Run with `scripts/with-moto.sh cargo test -p acme-local --test sweeper`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use acme_local::orders::{self, QueuePair};
use acme_local::stack::logical;
use common::*;
use jiff::{SignedDuration, Timestamp};
use order_domain::clock::ManualClock;
use order_domain::ids::OrderId;
use order_domain::order::{FailureReason, OrderStatus};
use order_domain::payment::{Behavior, SimulatedGateway};
use order_domain::rules::CountyRules;
use order_domain::schema::inventory as inv;
use order_domain::service::EXPIRY_SETTLE_SECONDS;
use order_domain::store::{
    Delete, Item, Page, Put, Query, Store, StoreError, Table, Transaction, Update,
};
use order_sweeper::SweeperFn;
use tokio::sync::Barrier;

const T: Duration = Duration::from_secs(120);
const STORE: &str = "s-sweep";
const SKU: &str = "SKU-S";

/// A county whose gateway captures every charge but never answers (the
/// worker sees a timeout each time), with a 1 s visibility timeout so the
/// message reaches the DLQ after `maxReceiveCount` (5) receives in seconds.
async fn dying_county() -> (Harness, Arc<SimulatedGateway>) {
    let gateway = Arc::new(SimulatedGateway::with_default(
        Behavior::TimeoutAfterCapture { times: u32::MAX },
    ));
    let h = start_with(Setup {
        gateway: Some(gateway.clone()),
        visibility_timeout: 1,
        ..Setup::default()
    })
    .await;
    h.stock(STORE, SKU, 10, 500).await;
    (h, gateway)
}

fn queues(h: &Harness) -> QueuePair {
    let q = h
        .county
        .resources
        .queue(logical::ORDER_QUEUE)
        .expect("queue");
    let d = h.county.resources.queue(logical::ORDER_DLQ).expect("dlq");
    QueuePair {
        queue_url: q.url.clone(),
        queue_arn: q.arn.clone(),
        dlq_url: d.url.clone(),
        dlq_arn: d.arn.clone(),
    }
}

fn sqs(h: &Harness) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&h.county.sdk)
}

/// Places an order and waits until its message is in the DLQ, the order
/// RESERVED (its units taken).
async fn dead_after_reserving(h: &Harness, request: &str, qty: u32) -> OrderId {
    let a = h
        .post_order(&order_body(request, "cust-s", STORE, SKU, qty))
        .await;
    assert_eq!(a.status, 202, "{a:?}");
    let id = order_id(&a);
    let q = queues(h);
    let sqs = sqs(h);
    let want = id.to_string();
    wait_for("the order's message in the DLQ", T, || {
        let (sqs, q, want) = (&sqs, &q, &want);
        async move {
            let seen = orders::redrive(sqs, q, true).await.expect("peek");
            seen.order_ids.contains(want).then_some(())
        }
    })
    .await;
    let order = h.order(&id).await.expect("order");
    assert_eq!(order.status, OrderStatus::Reserved);
    id
}

async fn available(h: &Harness) -> i64 {
    let items = h.inventory_items(STORE).await;
    let stock = items
        .iter()
        .find(|i| i[inv::SK].as_s().is_some_and(|k| k.starts_with("STOCK")))
        .expect("stock record");
    stock[inv::AVAILABLE]
        .as_n()
        .and_then(|n| n.parse().ok())
        .expect("available")
}

async fn ledger_entries(h: &Harness) -> usize {
    h.inventory_items(STORE)
        .await
        .iter()
        .filter(|i| i[inv::SK].as_s().is_some_and(|k| k.starts_with("RES")))
        .count()
}

/// A clock past the order's reservation deadline and the settle time.
fn after_expiry(h: &Harness) -> Arc<ManualClock> {
    let rules = rules(h);
    let later = Timestamp::now()
        + SignedDuration::from_secs(
            i64::from(rules.reservation_ttl_seconds) + EXPIRY_SETTLE_SECONDS + 60,
        );
    Arc::new(ManualClock::new(later))
}

fn rules(h: &Harness) -> CountyRules {
    CountyRules::from_json(&h.county.stack.rules_json).expect("rules")
}

/// The sweeper as its Lambda builds it, over `store`.
fn sweeper<S: Store + Clone>(
    h: &Harness,
    store: S,
    gateway: &Arc<SimulatedGateway>,
    clock: Arc<ManualClock>,
) -> SweeperFn<S, order_aws::SqsEnqueuer, Arc<SimulatedGateway>, Arc<ManualClock>> {
    SweeperFn::new(
        store,
        h.county.handlers.adapters.enqueuer.clone(),
        gateway.clone(),
        rules(h),
        clock,
        h.county.stack.sweeper.settings,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_that_dies_after_reserving_gets_its_stock_back_once_the_sweeper_runs() {
    let (h, gateway) = dying_county().await;
    let id = dead_after_reserving(&h, "dies-1", 3).await;
    assert_eq!(available(&h).await, 7);
    assert_eq!(ledger_entries(&h).await, 1);
    assert_eq!(gateway.captures(&id), 1, "charged, answer lost");

    // Before the deadline the sweeper leaves the reservation alone.
    let now = Arc::new(ManualClock::new(Timestamp::now()));
    let early = sweeper(&h, h.store(), &gateway, now).run().await;
    assert!(early.released.is_empty(), "{early:?}");
    assert_eq!(available(&h).await, 7);

    let s = sweeper(&h, h.store(), &gateway, after_expiry(&h));
    let report = s.run().await;
    assert_eq!(report.released, [id], "{report:?}");
    assert!(report.unsettled.is_empty(), "{report:?}");
    let order = h.order(&id).await.expect("order");
    assert_eq!(order.status, OrderStatus::Failed);
    assert_eq!(
        order.failure_reason,
        Some(FailureReason::ReservationExpired)
    );
    assert_eq!(available(&h).await, 10);
    assert_eq!(ledger_entries(&h).await, 0);
    assert!(gateway.refunded(&id), "the lost charge is refunded");

    // A second run finds nothing to release: the units came back once.
    let again = s.run().await;
    assert!(again.released.is_empty(), "{again:?}");
    assert_eq!(available(&h).await, 10);
    h.stop().await;
}

/// A store whose first transaction waits until the other sweep's first
/// transaction is ready too: both sweeps have loaded the RESERVED order
/// before either writes, so the conditional writes alone decide.
#[derive(Clone)]
struct Rendezvous<S> {
    inner: S,
    barrier: Arc<Barrier>,
    waited: Arc<AtomicBool>,
}

impl<S: Store> Store for Rendezvous<S> {
    async fn transact(&self, tx: Transaction) -> Result<(), StoreError> {
        if !self.waited.swap(true, Ordering::SeqCst) {
            self.barrier.wait().await;
        }
        self.inner.transact(tx).await
    }
    async fn get(
        &self,
        table: Table,
        key: Item,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        self.inner.get(table, key, consistent).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn put(&self, put: Put) -> Result<(), StoreError> {
        self.inner.put(put).await
    }
    async fn update(&self, update: Update) -> Result<Item, StoreError> {
        self.inner.update(update).await
    }
    async fn delete(&self, delete: Delete) -> Result<Option<Item>, StoreError> {
        self.inner.delete(delete).await
    }
    async fn batch_put(&self, table: Table, items: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        self.inner.batch_put(table, items).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sweeps_racing_over_one_expired_reservation_return_its_units_once() {
    let (h, gateway) = dying_county().await;
    let id = dead_after_reserving(&h, "race-1", 4).await;
    assert_eq!(available(&h).await, 6);

    let barrier = Arc::new(Barrier::new(2));
    let racer = || Rendezvous {
        inner: h.store(),
        barrier: barrier.clone(),
        waited: Arc::new(AtomicBool::new(false)),
    };
    let clock = after_expiry(&h);
    let a = sweeper(&h, racer(), &gateway, clock.clone());
    let b = sweeper(&h, racer(), &gateway, clock);
    // Both reach their release transaction (the barrier lets neither write
    // before the other is ready), or the test times out here.
    let (ra, rb) = tokio::time::timeout(T, async { tokio::join!(a.run(), b.run()) })
        .await
        .expect("both sweeps reached their transaction");
    let released: Vec<OrderId> = ra.released.iter().chain(&rb.released).copied().collect();
    assert_eq!(
        released,
        [id],
        "exactly one sweep released it: {ra:?} {rb:?}"
    );
    let skipped: Vec<OrderId> = ra.skipped.iter().chain(&rb.skipped).copied().collect();
    assert_eq!(skipped, [id], "the other found it FAILED: {ra:?} {rb:?}");
    assert!(ra.unsettled.is_empty() && rb.unsettled.is_empty());
    assert_eq!(available(&h).await, 10, "4 units back, not 8");
    assert_eq!(ledger_entries(&h).await, 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redrive_moves_dead_letters_back_and_the_orders_then_complete() {
    let (h, gateway) = dying_county().await;
    let a = dead_after_reserving(&h, "redrive-1", 1).await;
    let b = dead_after_reserving(&h, "redrive-2", 2).await;
    let q = queues(&h);
    let sqs = sqs(&h);

    // An order may have two messages (the API's enqueue and the outbox's):
    // each is a message of its own, listed and moved.
    let distinct = |ids: &[String]| {
        ids.iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
    };
    let dry = orders::redrive(&sqs, &q, true).await.expect("dry run");
    assert!(dry.dry_run);
    let want = distinct(&[a.to_string(), b.to_string()]);
    assert_eq!(distinct(&dry.order_ids), want, "{dry:?}");
    assert!(dry.moved >= 2, "{dry:?}");
    // A dry run takes nothing away: a second one lists at least as many
    // (an order's second message may still be on its way to the DLQ).
    let again = orders::redrive(&sqs, &q, true).await.expect("dry run");
    assert!(
        again.moved >= dry.moved,
        "a dry run moves nothing: {again:?}"
    );

    // The provider answers again: the redriven messages now go through.
    for id in [a, b] {
        gateway.set_behavior(id, Behavior::Approve);
    }
    let moved = orders::redrive(&sqs, &q, false).await.expect("redrive");
    assert!(!moved.dry_run);
    assert_eq!(moved.method, "receive-send-delete", "moto has no move task");
    assert!(moved.moved >= again.moved, "{moved:?}");
    assert_eq!(distinct(&moved.order_ids), want);
    let done = h.wait_final(&[a, b], T).await;
    assert!(
        done.iter().all(|o| o.status == OrderStatus::Confirmed),
        "{done:?}"
    );
    assert_eq!(gateway.captures(&a), 1, "the first charge, not a second");
    assert_eq!(available(&h).await, 7);
    let empty = orders::redrive(&sqs, &q, true).await.expect("dry run");
    assert_eq!(empty.moved, 0, "{empty:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stuck_lists_reserved_orders_past_the_threshold_and_not_final_ones() {
    let (h, gateway) = dying_county().await;
    let stuck_id = dead_after_reserving(&h, "stuck-1", 1).await;
    let ok = h
        .post_order(&order_body("fine-1", "cust-f", STORE, SKU, 1))
        .await;
    let ok_id = order_id(&ok);
    gateway.set_behavior(ok_id, Behavior::Approve);
    assert_eq!(
        h.wait_final(&[ok_id], T).await[0].status,
        OrderStatus::Confirmed
    );
    let threshold = SignedDuration::from_mins(10);

    // Now: both orders are younger than the threshold.
    let none = orders::stuck(h.store(), rules(&h), threshold, Timestamp::now())
        .await
        .expect("stuck");
    assert!(none.is_empty(), "{none:?}");
    // Eleven minutes on: the RESERVED one is stuck, the CONFIRMED one is not.
    let later = Timestamp::now() + SignedDuration::from_mins(11);
    let listed = orders::stuck(h.store(), rules(&h), threshold, later)
        .await
        .expect("stuck");
    let ids: Vec<&str> = listed.iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(ids, [stuck_id.to_string()]);
    assert_eq!(listed[0].status, OrderStatus::Reserved);
    assert!(listed[0].age_minutes >= 11, "{listed:?}");
    h.stop().await;
}

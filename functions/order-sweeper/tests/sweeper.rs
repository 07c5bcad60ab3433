//! The sweeper handler over the in-memory store and queue: what it
//! re-enqueues, releases and leaves alone, and that a run which could not
//! settle an order fails (so its alarm sees it) after doing the rest.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use order_aws::MemoryQueue;
use order_domain::clock::{ManualClock, SequentialIds};
use order_domain::codec::StockRecord;
use order_domain::ids::{OrderId, Sku, StoreId};
use order_domain::money::Money;
use order_domain::order::{FailureReason, OrderStatus};
use order_domain::payment::{Behavior, SimulatedGateway};
use order_domain::rules::CountyRules;
use order_domain::service::{AcceptService, OrderQueries, OrderWorker};
use order_domain::store::MemoryStore;
use order_sweeper::{Settings, SweeperFn};

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

struct Fixture {
    store: Arc<MemoryStore>,
    queue: Arc<MemoryQueue>,
    gateway: Arc<SimulatedGateway>,
    clock: Arc<ManualClock>,
    accept: AcceptService<Arc<MemoryStore>, Arc<ManualClock>, SequentialIds>,
}

impl Fixture {
    async fn new() -> Self {
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
        let clock = Arc::new(ManualClock::new(
            "2026-03-09T15:04:05Z".parse::<Timestamp>().unwrap(),
        ));
        order_domain::testing::seed_adult(&store, "cust-1")
            .await
            .unwrap();
        let accept = AcceptService::new(
            Arc::clone(&store),
            rules(),
            Arc::clone(&clock),
            SequentialIds::new(),
        );
        Self {
            store,
            queue: Arc::new(MemoryQueue::new()),
            gateway: Arc::new(SimulatedGateway::with_default(Behavior::Unavailable {
                times: u32::MAX,
            })),
            clock,
            accept,
        }
    }

    async fn place(&self, req: &str, qty: u32) -> OrderId {
        let body = format!(
            r#"{{"client_request_id":"{req}","customer_id":"cust-1","store_id":"store-9",
                 "items":[{{"sku":"WINE-1","quantity":{qty}}}]}}"#
        );
        self.accept
            .accept(body.as_bytes())
            .await
            .unwrap()
            .accepted
            .order_id
    }

    fn worker(&self) -> OrderWorker<Arc<MemoryStore>, Arc<SimulatedGateway>, Arc<ManualClock>> {
        OrderWorker::new(
            Arc::clone(&self.store),
            Arc::clone(&self.gateway),
            rules(),
            Arc::clone(&self.clock),
        )
    }

    fn sweeper(
        &self,
    ) -> SweeperFn<Arc<MemoryStore>, Arc<MemoryQueue>, Arc<SimulatedGateway>, Arc<ManualClock>>
    {
        SweeperFn::new(
            Arc::clone(&self.store),
            Arc::clone(&self.queue),
            Arc::clone(&self.gateway),
            rules(),
            Arc::clone(&self.clock),
            Settings {
                stuck_after: SignedDuration::from_mins(10),
            },
        )
    }

    async fn status(&self, id: &OrderId) -> OrderStatus {
        OrderQueries::new(Arc::clone(&self.store), rules())
            .get_order(id)
            .await
            .unwrap()
            .status
    }
}

#[tokio::test]
async fn a_stuck_pending_order_is_sent_to_the_worker_again_and_a_young_one_is_not() {
    let f = Fixture::new().await;
    let old = f.place("r1", 1).await;
    f.clock.advance(SignedDuration::from_mins(11));
    let young = f.place("r2", 1).await;
    let report = f.sweeper().run().await;
    assert_eq!(report.requeued, [old], "{report:?}");
    let sent: Vec<OrderId> = f.queue.drain().iter().map(|m| m.order_id).collect();
    assert_eq!(sent, [old]);
    assert_ne!(old, young);
    assert_eq!(f.status(&old).await, OrderStatus::Pending, "only re-sent");
}

#[tokio::test]
async fn an_expired_reservation_is_released_and_a_live_one_is_kept() {
    let f = Fixture::new().await;
    let id = f.place("r1", 3).await;
    // Reserved; the gateway is down, so it stays RESERVED.
    assert!(f.worker().process(&id).await.is_err());
    assert_eq!(f.status(&id).await, OrderStatus::Reserved);

    // Past the 900 s deadline, but not the settle time: kept.
    f.clock.advance(SignedDuration::from_secs(901));
    let early = f.sweeper().run().await;
    assert!(early.released.is_empty(), "{early:?}");
    // Past both: released, with the reason.
    f.clock.advance(SignedDuration::from_secs(900));
    let report = f.sweeper().run().await;
    assert_eq!(report.released, [id], "{report:?}");
    let order = OrderQueries::new(Arc::clone(&f.store), rules())
        .get_order(&id)
        .await
        .unwrap();
    assert_eq!(order.status, OrderStatus::Failed);
    assert_eq!(
        order.failure_reason,
        Some(FailureReason::ReservationExpired)
    );
}

#[tokio::test]
async fn a_confirmed_order_keeps_its_units() {
    let f = Fixture::new().await;
    let id = f.place("r1", 2).await;
    f.gateway.set_behavior(id, Behavior::Approve);
    f.worker().process(&id).await.unwrap();
    assert_eq!(f.status(&id).await, OrderStatus::Confirmed);
    f.clock.advance(SignedDuration::from_hours(3));
    let report = f.sweeper().run().await;
    assert!(
        report.released.is_empty() && report.requeued.is_empty() && report.skipped.is_empty(),
        "{report:?}"
    );
    assert_eq!(f.status(&id).await, OrderStatus::Confirmed);
}

#[tokio::test]
async fn a_failed_enqueue_fails_the_run_after_the_rest_is_done() {
    let f = Fixture::new().await;
    let a = f.place("r1", 1).await;
    let b = f.place("r2", 1).await;
    f.clock.advance(SignedDuration::from_mins(11));
    f.queue.fail_next(1);
    let err = f.sweeper().handle().await.unwrap_err();
    let report = &err.0;
    assert_eq!(report.unsettled.len(), 1, "{report:?}");
    assert_eq!(report.unsettled[0].code, "enqueue_failed");
    assert_eq!(report.requeued.len(), 1, "the other was still sent");
    let mut all = vec![report.unsettled[0].order_id.unwrap(), report.requeued[0]];
    all.sort();
    let mut want = vec![a, b];
    want.sort();
    assert_eq!(all, want);
    assert!(err.to_string().contains("enqueue_failed"), "{err}");
}

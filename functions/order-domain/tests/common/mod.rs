//! Shared fixture for the service tests: every service over one in-memory
//! store, a simulated gateway, a manual clock and sequential ids.
#![allow(dead_code)]

use std::sync::Arc;

use jiff::Timestamp;
use order_domain::codec::{self, StockRecord};
use order_domain::payment::SimulatedGateway;
use order_domain::schema::inventory as inv;
use order_domain::service::{
    AcceptOutcome, AcceptService, CancelService, OrderQueries, OrderWorker, Sweeper,
};
use order_domain::store::{AttrValue, Item, MemoryStore, Store, Table};
pub use order_domain::testing::adult;
use order_domain::{CountyRules, ManualClock, Money, Order, OrderId, SequentialIds, Sku, StoreId};

pub type S = Arc<MemoryStore>;
pub type C = Arc<ManualClock>;
pub type G = Arc<SimulatedGateway>;

/// Open every day, all day (sale-hour rules have their own tests).
pub const RULES: &str = r#"{
  "county_id": "travis-tx", "sales_enabled": true, "timezone": "America/Chicago",
  "sale_hours": {
    "monday": {"open_minute": 0, "close_minute": 1440},
    "tuesday": {"open_minute": 0, "close_minute": 1440},
    "wednesday": {"open_minute": 0, "close_minute": 1440},
    "thursday": {"open_minute": 0, "close_minute": 1440},
    "friday": {"open_minute": 0, "close_minute": 1440},
    "saturday": {"open_minute": 0, "close_minute": 1440},
    "sunday": {"open_minute": 0, "close_minute": 1440}
  },
  "max_units_per_order": 50, "max_line_items": 20, "gsi_write_shards": 4,
  "reservation_ttl_seconds": 900, "idempotency_ttl_hours": 24
}"#;

pub const STORE: &str = "store-1";

pub fn rules() -> CountyRules {
    CountyRules::from_json(RULES).expect("test rules")
}

pub fn t0() -> Timestamp {
    // A Monday afternoon in Austin.
    "2026-03-09T20:00:00Z".parse().expect("timestamp")
}

pub struct Fixture {
    pub store: S,
    pub gateway: G,
    pub clock: C,
    pub accept: AcceptService<S, C, Arc<SequentialIds>>,
    pub worker: OrderWorker<S, G, C>,
    pub cancel: CancelService<S, G, C>,
    pub queries: OrderQueries<S>,
    pub sweeper: Sweeper<S, C>,
}

impl Fixture {
    pub fn new() -> Self {
        Self::with_rules(rules())
    }

    pub fn with_rules(rules: CountyRules) -> Self {
        let store = Arc::new(MemoryStore::new());
        // The customers these tests order for, all of age (the age check
        // has tests of its own).
        let ids = ["c", "cust-1", "cust-2", "cust_0001234567"].map(String::from);
        for id in ids.into_iter().chain((0..64).map(|n| format!("c{n}"))) {
            store.seed(Table::Customers, adult(&id).to_item());
        }
        let gateway = Arc::new(SimulatedGateway::new());
        let clock = Arc::new(ManualClock::new(t0()));
        let ids = Arc::new(SequentialIds::new());
        Self {
            accept: AcceptService::new(store.clone(), rules.clone(), clock.clone(), ids),
            worker: OrderWorker::new(store.clone(), gateway.clone(), rules.clone(), clock.clone()),
            cancel: CancelService::new(
                store.clone(),
                gateway.clone(),
                rules.clone(),
                clock.clone(),
            ),
            queries: OrderQueries::new(store.clone(), rules.clone()),
            sweeper: Sweeper::new(store.clone(), rules, clock.clone()),
            store,
            gateway,
            clock,
        }
    }

    pub async fn stock(&self, sku: &str, available: i64, price_cents: u64) {
        let rec = StockRecord {
            store_id: StoreId::parse(STORE).expect("store"),
            sku: Sku::parse(sku).expect("sku"),
            available,
            price_cents: Money::from_cents(price_cents).expect("price"),
        };
        let unprocessed = self
            .store
            .batch_put(Table::Inventory, vec![rec.to_item()])
            .await
            .expect("seed stock");
        assert!(unprocessed.is_empty());
    }

    pub fn available(&self, sku: &str) -> i64 {
        let key = codec::stock_key(
            &StoreId::parse(STORE).expect("store"),
            &Sku::parse(sku).expect("sku"),
        );
        let item = self
            .store
            .peek(Table::Inventory, &key)
            .expect("stock record");
        StockRecord::from_item(&item).expect("stock").available
    }

    /// Reservation ledger entries.
    pub fn ledger(&self) -> Vec<Item> {
        self.store
            .items(Table::Inventory)
            .into_iter()
            .filter(|i| {
                i.get(inv::SK)
                    .and_then(AttrValue::as_s)
                    .is_some_and(|k| k.starts_with("RES#"))
            })
            .collect()
    }

    pub fn order(&self, id: &OrderId) -> Order {
        let item = self
            .store
            .peek(Table::OrderById, &codec::order_key(id))
            .expect("order record");
        codec::order_from_item(&item).expect("order")
    }

    pub fn all_orders(&self) -> Vec<Order> {
        self.store
            .items(Table::OrderById)
            .iter()
            .map(|i| codec::order_from_item(i).expect("order"))
            .collect()
    }

    pub async fn place(
        &self,
        customer: &str,
        request: &str,
        items: &[(&str, i64)],
    ) -> AcceptOutcome {
        self.accept
            .accept(body(customer, request, items).as_bytes())
            .await
            .expect("accept")
    }
}

pub fn body(customer: &str, request: &str, items: &[(&str, i64)]) -> String {
    let lines: Vec<String> = items
        .iter()
        .map(|(sku, q)| format!(r#"{{"sku":"{sku}","quantity":{q}}}"#))
        .collect();
    format!(
        r#"{{"client_request_id":"{request}","customer_id":"{customer}","store_id":"{STORE}","items":[{}]}}"#,
        lines.join(",")
    )
}

//! The order flows, run for measuring: the real accept flow (`POST /orders`)
//! and the real worker flow (reserve, charge, confirm) over the in-memory
//! store, through a [`MeteredStore`]. The write-unit report and the capacity
//! planner both measure here, so an order costs the same in both.
//!
//! [`measure`] runs one order; [`simulate`] runs a sample of orders spread
//! over customers and stores the way a county's `load:` says, so the charges
//! carry the partition keys real traffic would write (customer ids, order
//! ids, store ids, and the county and status shards from the domain's own
//! `shard_of`).

use std::sync::Arc;

use jiff::Timestamp;
use order_domain::codec::StockRecord;
use order_domain::payment::SimulatedGateway;
use order_domain::service::{AcceptService, OrderWorker, ProcessOutcome};
use order_domain::store::{MemoryStore, Store, Table};
use order_domain::testing::seed_adult;
use order_domain::{CountyRules, ManualClock, Money, SequentialIds, Sku, StoreId};

use crate::meter::{Layout, MeteredStore, Usage};

/// Why a measurement could not run: the flows refused the sample order, which
/// means the sample (not the county) is wrong.
#[derive(Debug, thiserror::Error)]
#[error("measuring the order flows: {0}")]
pub struct FlowError(String);

fn fail(e: impl std::fmt::Display) -> FlowError {
    FlowError(e.to_string())
}

/// SKUs, quantities and prices of a typical basket, cycled for longer orders.
const BASKET: [(&str, u32, u64); 5] = [
    ("WINE-CAB-750", 2, 1899),
    ("BEER-IPA-6PK", 1, 1149),
    ("GIN-LONDON-1L", 1, 2999),
    ("TONIC-4PK", 3, 599),
    ("LIME-BAG", 1, 349),
];

/// The storefront's store id in a one-order measurement.
const STORE: &str = "store-austin-042";
/// A storefront's ids: a UUID request token, a customer number.
const CLIENT_REQUEST_ID: &str = "3f1c9a7e-5b2d-4e8f-9a10-2c3d4e5f6a7b";
const CUSTOMER: &str = "cust_0001234567";
/// Monday 14:00 in Austin: inside the all-day sale hours of [`rules`].
const NOW: &str = "2026-03-09T20:00:00Z";

/// A county open all day, so a measurement never depends on the hour, with
/// the widest order limits the domain allows.
fn rules(county: &str, gsi_write_shards: u32) -> Result<CountyRules, FlowError> {
    let day = r#"{"open_minute": 0, "close_minute": 1440}"#;
    let json = format!(
        r#"{{"county_id": "{county}", "sales_enabled": true, "timezone": "America/Chicago",
  "sale_hours": {{"monday": {day}, "tuesday": {day}, "wednesday": {day}, "thursday": {day},
    "friday": {day}, "saturday": {day}, "sunday": {day}}},
  "max_units_per_order": 10000, "max_line_items": 49, "gsi_write_shards": {gsi_write_shards},
  "reservation_ttl_seconds": 900, "idempotency_ttl_hours": 24}}"#
    );
    CountyRules::from_json(&json).map_err(fail)
}

fn sku(i: usize) -> String {
    let (name, _, _) = BASKET[i % BASKET.len()];
    if i < BASKET.len() {
        name.to_owned()
    } else {
        format!("{name}-{i}")
    }
}

/// What a run of orders cost, each flow metered on its own.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// Orders accepted and confirmed.
    pub orders: usize,
    /// `POST /orders`: the accept transactions.
    pub accept: Usage,
    /// The worker taking each order from PENDING to CONFIRMED: the
    /// reservation and the confirmation transactions.
    pub worker: Usage,
}

impl Measured {
    /// Accept and worker together.
    pub fn lifecycle(&self) -> Usage {
        self.accept.clone().merged(self.worker.clone())
    }
}

/// A sample of orders shaped like a county's traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The county id the orders are placed in (the county index's key).
    pub county: String,
    /// Orders to run; each by a customer of its own.
    pub orders: usize,
    /// Lines per order, 1..=49.
    pub lines: usize,
    /// Stores the orders are spread over.
    pub stores: u32,
    /// Share of the orders the busiest store takes, 0..=1; the rest go round
    /// the other stores in turn.
    pub busiest_store_share: f64,
    /// The county's `gsi_write_shards`.
    pub gsi_write_shards: u32,
}

impl Sample {
    /// The store of order `i`: the first `busiest` orders go to store 0.
    fn store_of(&self, i: usize) -> usize {
        let busiest = self.busiest_orders();
        let others = self.stores.saturating_sub(1) as usize;
        if i < busiest || others == 0 {
            0
        } else {
            1 + (i - busiest) % others
        }
    }

    fn busiest_orders(&self) -> usize {
        let share = self.busiest_store_share.clamp(0.0, 1.0);
        // A sample has at most a few thousand orders: exact in f64.
        ((self.orders as f64) * share).round().max(1.0) as usize
    }
}

fn store_id(n: usize) -> String {
    format!("store-{n:05}")
}

/// Accepts and confirms one order of `lines` lines, metering each flow (the
/// write-unit report's order).
pub async fn measure(lines: usize, layout: Layout) -> Result<Measured, FlowError> {
    let memory = Arc::new(MemoryStore::new());
    seed(&memory, STORE, lines).await?;
    seed_profiles(&memory, [CUSTOMER.to_owned()]).await?;
    let store = Arc::new(MeteredStore::with_layout(memory, layout));
    let run = Runner::new(store, "travis-tx", 8)?;
    run.order(CUSTOMER, CLIENT_REQUEST_ID, STORE, lines).await?;
    Ok(run.finish(1))
}

/// Accepts and confirms `sample.orders` orders, each by its own customer,
/// spread over the stores as the sample says.
pub async fn simulate(sample: &Sample, layout: Layout) -> Result<Measured, FlowError> {
    if !(1..=49).contains(&sample.lines) || sample.orders == 0 || sample.stores == 0 {
        return Err(FlowError(format!(
            "a sample this shape cannot run: {sample:?}"
        )));
    }
    let memory = Arc::new(MemoryStore::new());
    let used_stores = (0..sample.orders)
        .map(|i| sample.store_of(i))
        .max()
        .unwrap_or(0);
    for s in 0..=used_stores {
        seed(&memory, &store_id(s), sample.lines).await?;
    }
    seed_profiles(&memory, (0..sample.orders).map(customer_id)).await?;
    let store = Arc::new(MeteredStore::with_layout(memory, layout));
    let run = Runner::new(store, &sample.county, sample.gsi_write_shards)?;
    for i in 0..sample.orders {
        let customer = customer_id(i);
        let request = format!("3f1c9a7e-5b2d-4e8f-9a10-{i:012x}");
        let at = store_id(sample.store_of(i));
        run.order(&customer, &request, &at, sample.lines).await?;
    }
    Ok(run.finish(sample.orders))
}

fn customer_id(i: usize) -> String {
    format!("cust_{i:010}")
}

/// The customers' profiles (adults with a birth date): the API takes orders
/// only from such a customer. Written before metering starts, as they exist
/// before the order; the accept flow's read of the profile is metered.
async fn seed_profiles(
    memory: &MemoryStore,
    customers: impl IntoIterator<Item = String>,
) -> Result<(), FlowError> {
    for id in customers {
        seed_adult(memory, &id).await.map_err(fail)?;
    }
    Ok(())
}

/// Stock for every SKU an order of `lines` lines asks for, deep enough for
/// any sample.
async fn seed(memory: &MemoryStore, store: &str, lines: usize) -> Result<(), FlowError> {
    let mut items = Vec::with_capacity(lines);
    for i in 0..lines {
        let (_, _, price) = BASKET[i % BASKET.len()];
        let stock = StockRecord {
            store_id: StoreId::parse(store).map_err(fail)?,
            sku: Sku::parse(&sku(i)).map_err(fail)?,
            available: 1_000_000,
            price_cents: Money::from_cents(price).ok_or_else(|| fail("price out of range"))?,
        };
        items.push(stock.to_item());
    }
    // BatchWriteItem takes 25 items at a time.
    for chunk in items.chunks(25) {
        let unprocessed = memory
            .batch_put(Table::Inventory, chunk.to_vec())
            .await
            .map_err(fail)?;
        if !unprocessed.is_empty() {
            return Err(fail("stock not seeded"));
        }
    }
    Ok(())
}

type Metered = Arc<MeteredStore<Arc<MemoryStore>>>;

/// The two services over one metered store, with the usage of each flow
/// kept apart.
struct Runner {
    store: Metered,
    accept: AcceptService<Metered, Arc<ManualClock>, SequentialIds>,
    worker: OrderWorker<Metered, SimulatedGateway, Arc<ManualClock>>,
    accept_usage: std::cell::RefCell<Usage>,
    worker_usage: std::cell::RefCell<Usage>,
}

impl Runner {
    fn new(store: Metered, county: &str, gsi_write_shards: u32) -> Result<Self, FlowError> {
        let rules = rules(county, gsi_write_shards)?;
        let now: Timestamp = NOW.parse().map_err(fail)?;
        let clock = Arc::new(ManualClock::new(now));
        Ok(Self {
            accept: AcceptService::new(
                store.clone(),
                rules.clone(),
                clock.clone(),
                SequentialIds::new(),
            ),
            worker: OrderWorker::new(store.clone(), SimulatedGateway::new(), rules, clock),
            store,
            accept_usage: Default::default(),
            worker_usage: Default::default(),
        })
    }

    async fn order(
        &self,
        customer: &str,
        request: &str,
        store: &str,
        lines: usize,
    ) -> Result<(), FlowError> {
        let items: Vec<String> = (0..lines)
            .map(|i| {
                let (_, quantity, _) = BASKET[i % BASKET.len()];
                format!(r#"{{"sku":"{}","quantity":{quantity}}}"#, sku(i))
            })
            .collect();
        let body = format!(
            r#"{{"client_request_id":"{request}","customer_id":"{customer}","store_id":"{store}","items":[{}]}}"#,
            items.join(",")
        );
        let accepted = self.accept.accept(body.as_bytes()).await.map_err(fail)?;
        self.accept_usage
            .replace_with(|u| std::mem::take(u).merged(self.store.take()));
        match self
            .worker
            .process(&accepted.accepted.order_id)
            .await
            .map_err(fail)?
        {
            ProcessOutcome::Confirmed(_) => {}
            other => return Err(fail(format!("the order was not confirmed: {other:?}"))),
        }
        self.worker_usage
            .replace_with(|u| std::mem::take(u).merged(self.store.take()));
        Ok(())
    }

    fn finish(self, orders: usize) -> Measured {
        Measured {
            orders,
            accept: self.accept_usage.into_inner(),
            worker: self.worker_usage.into_inner(),
        }
    }
}

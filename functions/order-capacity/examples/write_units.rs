//! The DynamoDB write units of a typical order, measured: the real accept
//! flow (`POST /orders`) and the real worker flow (reserve, charge, confirm)
//! run over the in-memory store through a [`MeteredStore`], which prices
//! every write with DynamoDB's documented rules and the county stack's index
//! layout (see `order_capacity::meter`).
//!
//! ```text
//! cargo run -p order-capacity --example write-units                        # the report
//! cargo run -p order-capacity --example write-units -- --details            # every charge
//! cargo run -p order-capacity --example write-units -- --lines 12 --details # a bigger order
//! ```
//!
//! `cargo test -p order-capacity` runs this file's tests, which pin the totals:
//! a change that costs more write units fails them.

use std::error::Error;
use std::sync::Arc;

use jiff::Timestamp;
use order_capacity::meter::{Layout, MeteredStore, Usage};
use order_domain::codec::StockRecord;
use order_domain::payment::SimulatedGateway;
use order_domain::service::{AcceptService, OrderWorker, ProcessOutcome};
use order_domain::store::{Index, MemoryStore, Store, Table};
use order_domain::{CountyRules, ManualClock, Money, SequentialIds, Sku, StoreId};

/// A county open all day, with the sample counties' limits.
const RULES: &str = r#"{
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
  "max_units_per_order": 48, "max_line_items": 20, "gsi_write_shards": 8,
  "reservation_ttl_seconds": 900, "idempotency_ttl_hours": 24
}"#;

const STORE: &str = "store-austin-042";
/// A storefront's ids: a UUID request token, a customer number.
const CLIENT_REQUEST_ID: &str = "3f1c9a7e-5b2d-4e8f-9a10-2c3d4e5f6a7b";
const CUSTOMER: &str = "cust_0001234567";
/// SKUs, quantities and prices of a typical basket, cycled for longer orders.
const BASKET: [(&str, u32, u64); 5] = [
    ("WINE-CAB-750", 2, 1899),
    ("BEER-IPA-6PK", 1, 1149),
    ("GIN-LONDON-1L", 1, 2999),
    ("TONIC-4PK", 3, 599),
    ("LIME-BAG", 1, 349),
];

/// The line count of a typical order.
const TYPICAL_LINES: usize = 3;

/// What one order cost.
struct Measured {
    /// `POST /orders`: the accept transaction.
    accept: Usage,
    /// The worker taking the order from PENDING to CONFIRMED: the
    /// reservation and the confirmation transactions.
    worker: Usage,
}

impl Measured {
    fn lifecycle(&self) -> Usage {
        self.accept.clone().merged(self.worker.clone())
    }
}

fn sku(i: usize) -> String {
    let (name, _, _) = BASKET[i % BASKET.len()];
    if i < BASKET.len() {
        name.to_owned()
    } else {
        format!("{name}-{i}")
    }
}

/// Accepts and confirms one order of `lines` lines, metering each flow.
async fn measure(lines: usize, layout: Layout) -> Result<Measured, Box<dyn Error>> {
    let rules = CountyRules::from_json(RULES)?;
    let memory = Arc::new(MemoryStore::new());
    for i in 0..lines {
        let (_, _, price) = BASKET[i % BASKET.len()];
        let stock = StockRecord {
            store_id: StoreId::parse(STORE)?,
            sku: Sku::parse(&sku(i))?,
            available: 100,
            price_cents: Money::from_cents(price).ok_or("price out of range")?,
        };
        let unprocessed = memory
            .batch_put(Table::Inventory, vec![stock.to_item()])
            .await?;
        if !unprocessed.is_empty() {
            return Err("stock not seeded".into());
        }
    }
    // The customer's profile: the API takes orders only from an adult with
    // one. Written before metering starts, as it exists before the order.
    let profile = order_domain::customer::Customer {
        customer_id: order_domain::ids::CustomerId::parse(CUSTOMER)?,
        email: None,
        full_name: None,
        phone: None,
        birth_date: Some(jiff::civil::Date::constant(1990, 2, 28)),
        created_at: "2026-01-01T00:00:00Z".parse()?,
        updated_at: "2026-01-01T00:00:00Z".parse()?,
        legacy: None,
    };
    if !memory
        .batch_put(Table::Customers, vec![profile.to_item()])
        .await?
        .is_empty()
    {
        return Err("profile not seeded".into());
    }
    let store = Arc::new(MeteredStore::with_layout(memory, layout));
    // Monday 14:00 in Austin.
    let now: Timestamp = "2026-03-09T20:00:00Z".parse()?;
    let clock = Arc::new(ManualClock::new(now));
    let accept = AcceptService::new(
        store.clone(),
        rules.clone(),
        clock.clone(),
        SequentialIds::new(),
    );
    let items: Vec<String> = (0..lines)
        .map(|i| {
            let (_, quantity, _) = BASKET[i % BASKET.len()];
            format!(r#"{{"sku":"{}","quantity":{quantity}}}"#, sku(i))
        })
        .collect();
    let body = format!(
        r#"{{"client_request_id":"{CLIENT_REQUEST_ID}","customer_id":"{CUSTOMER}","store_id":"{STORE}","items":[{}]}}"#,
        items.join(",")
    );
    let accepted = accept.accept(body.as_bytes()).await?;
    let accept_usage = store.take();

    let worker = OrderWorker::new(store.clone(), SimulatedGateway::new(), rules, clock);
    match worker.process(&accepted.accepted.order_id).await? {
        ProcessOutcome::Confirmed(_) => {}
        other => return Err(format!("the order was not confirmed: {other:?}").into()),
    }
    Ok(Measured {
        accept: accept_usage,
        worker: store.take(),
    })
}

/// Index writes a layout change would save on a typical order's life.
struct WhatIf {
    name: &'static str,
    layout: Layout,
}

fn what_ifs() -> Vec<WhatIf> {
    let summary_without_status: &[&str] = &["order_id", "total_cents", "created_at"];
    vec![
        WhatIf {
            name: "county and store GSIs project INCLUDE(order_id,total_cents,created_at): no status",
            layout: Layout::deployed()
                .with_projection(Index::CountyTime, summary_without_status)
                .with_projection(Index::StoreTime, summary_without_status),
        },
        WhatIf {
            name: "all three GSIs KEYS_ONLY",
            layout: Layout::deployed()
                .with_projection(Index::CountyTime, &[])
                .with_projection(Index::StoreTime, &[])
                .with_projection(Index::StatusTime, &[]),
        },
    ]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let details = args.iter().any(|a| a == "--details");
    let lines = match args.iter().position(|a| a == "--lines") {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .filter(|n| (1..=20).contains(n))
            .ok_or("--lines takes a line count, 1 to 20")?,
        None => TYPICAL_LINES,
    };
    let m = measure(lines, Layout::deployed()).await?;

    println!("DynamoDB write units of a {lines}-line order");
    println!("measured over the in-memory store with the county stack's GSI layout\n");
    println!(
        "Accepted order: POST /orders, one TransactWriteItems ({} WCU)",
        m.accept.write_units()
    );
    println!("{}", m.accept);
    if details {
        print!("{}", m.accept.details());
    }
    println!(
        "\nConfirmed order: the worker's reserve and confirm transactions ({} WCU)",
        m.worker.write_units()
    );
    println!("{}", m.worker);
    if details {
        print!("{}", m.worker.details());
    }
    let life = m.lifecycle();
    println!(
        "\nAccepted and confirmed, per order ({} WCU, {} of them GSI writes)",
        life.write_units(),
        life.index_write_units()
    );
    println!("{life}");

    println!("\nBy line count (WCU): lines, accept, worker, total");
    for lines in [1, 2, 3, 4, 5, 8, 12, 16, 20] {
        let m = measure(lines, Layout::deployed()).await?;
        println!(
            "  {lines:>5} {:>7} {:>7} {:>6}",
            m.accept.write_units(),
            m.worker.write_units(),
            m.accept.write_units() + m.worker.write_units()
        );
    }

    println!("\nGSI layouts that would cost less (a stack change; this order's total WCU):");
    println!(
        "  {:>4}  deployed: INCLUDE(order_id,status,total_cents,created_at) on all three",
        life.write_units()
    );
    for w in what_ifs() {
        let alt = measure(lines, w.layout).await?.lifecycle();
        println!(
            "  {:>4}  {} (saves {})",
            alt.write_units(),
            w.name,
            life.write_units().saturating_sub(alt.write_units())
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use order_capacity::meter::Target;

    use super::*;

    fn units(u: &Usage, target: Target) -> u64 {
        u.write_units_of(target)
    }

    const ORDERS: Target = Target::Table(Table::Orders);
    const ORDER_BY_ID: Target = Target::Table(Table::OrderById);
    const INVENTORY: Target = Target::Table(Table::Inventory);
    const IDEMPOTENCY: Target = Target::Table(Table::Idempotency);
    const BY_COUNTY: Target = Target::Index(Index::CountyTime);
    const BY_STORE: Target = Target::Index(Index::StoreTime);
    const BY_STATUS: Target = Target::Index(Index::StatusTime);

    /// The pinned cost of a typical order. A change that raises any of these
    /// numbers fails here: update them only with a reason in the change (and
    /// in docs/write-units.md).
    #[tokio::test]
    async fn a_typical_order_costs_what_it_did() {
        let m = measure(TYPICAL_LINES, Layout::deployed()).await.unwrap();
        let a = &m.accept;
        assert_eq!(a.canceled_transactions + a.failed_writes, 0);
        assert_eq!(
            [
                units(a, IDEMPOTENCY),
                units(a, ORDERS),
                units(a, ORDER_BY_ID),
                units(a, INVENTORY),
                units(a, BY_COUNTY),
                units(a, BY_STORE),
                units(a, BY_STATUS),
            ],
            [2, 2, 2, 0, 1, 1, 1],
            "accept:\n{a}"
        );
        assert_eq!(a.write_units(), 9);

        let w = &m.worker;
        assert_eq!(w.canceled_transactions + w.failed_writes, 0);
        assert_eq!(w.requests.len(), 2, "reserve and confirm:\n{}", w.details());
        assert_eq!(
            [
                units(w, IDEMPOTENCY),
                units(w, ORDERS),
                units(w, ORDER_BY_ID),
                units(w, INVENTORY),
                units(w, BY_COUNTY),
                units(w, BY_STORE),
                units(w, BY_STATUS),
            ],
            [0, 4, 4, 18, 2, 2, 4],
            "worker:\n{w}"
        );
        assert_eq!(w.write_units(), 34);
        assert_eq!(m.lifecycle().write_units(), 43);
    }

    /// Every item of a typical order stays under 1 KB, so each write is the
    /// minimum: sizes are what would push a typical order into more units.
    #[tokio::test]
    async fn every_typical_item_is_under_one_kilobyte() {
        let m = measure(TYPICAL_LINES, Layout::deployed()).await.unwrap();
        for c in m.lifecycle().charges() {
            assert!(
                c.bytes <= 1024,
                "{} {} is {} bytes",
                c.target,
                c.action,
                c.bytes
            );
        }
    }

    #[tokio::test]
    async fn dropping_status_from_the_county_and_store_indexes_saves_their_transition_writes() {
        let deployed = measure(TYPICAL_LINES, Layout::deployed()).await.unwrap();
        let [no_status, keys_only] = what_ifs()
            .try_into()
            .unwrap_or_else(|_| panic!("two what-ifs"));
        let alt = measure(TYPICAL_LINES, no_status.layout).await.unwrap();
        // Two transitions (RESERVED, CONFIRMED) x two indexes.
        assert_eq!(
            deployed.lifecycle().write_units() - alt.lifecycle().write_units(),
            4
        );
        assert_eq!(
            units(&alt.worker, BY_COUNTY) + units(&alt.worker, BY_STORE),
            0
        );
        // KEYS_ONLY saves no more: the other projected attributes never
        // change, and the status index's key changes anyway.
        let keys = measure(TYPICAL_LINES, keys_only.layout).await.unwrap();
        assert_eq!(
            keys.lifecycle().write_units(),
            alt.lifecycle().write_units()
        );
    }
}

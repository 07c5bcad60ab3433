//! The API's CPU path, without I/O:
//! (a) parse and validate a 5-line body and build the accept transaction
//!     from stock records already fetched (target < 20 µs);
//! (b) serialize an order response to JSON (target < 5 µs).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use order_domain::clock::{IdGenerator, SequentialIds};
use order_domain::codec::StockRecord;
use order_domain::service::{parse_request, plan_accept};
use order_domain::{CountyRules, Money, OrderStatus, Sku, StoreId};

const RULES: &str = r#"{"county_id": "travis-tx", "sales_enabled": true, "timezone": "America/Chicago",
  "max_units_per_order": 48, "max_line_items": 20, "gsi_write_shards": 8,
  "reservation_ttl_seconds": 900, "idempotency_ttl_hours": 24}"#;

const BODY: &str = r#"{"client_request_id":"3f1c9a7e-5b2d-4e8f-9a10-2c3d4e5f6a7b",
  "customer_id":"cust_0001234567","store_id":"store-austin-042",
  "items":[{"sku":"WINE-CAB-750","quantity":2},{"sku":"BEER-IPA-6PK","quantity":1},
           {"sku":"GIN-LONDON-1L","quantity":1},{"sku":"TONIC-4PK","quantity":3},
           {"sku":"LIME-BAG","quantity":1}]}"#;

fn bench(c: &mut Criterion) {
    let rules = CountyRules::from_json(RULES).expect("rules");
    let now: Timestamp = "2026-03-09T20:00:00Z".parse().expect("time");
    let ids = SequentialIds::new();
    let req = parse_request(BODY.as_bytes(), &rules).expect("valid body");
    let stock: Vec<Option<StockRecord>> = req
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Some(StockRecord {
                store_id: StoreId::parse("store-austin-042").expect("store"),
                sku: Sku::parse(l.sku.as_str()).expect("sku"),
                available: 100,
                price_cents: Money::from_cents(499 + 100 * i as u64).expect("price"),
            })
        })
        .collect();

    c.bench_function("accept/validate+plan 5 lines", |b| {
        b.iter(|| {
            let req = parse_request(black_box(BODY.as_bytes()), &rules).expect("valid");
            let plan =
                plan_accept(&req, black_box(&stock), &rules, now, ids.order_id(now)).expect("plan");
            black_box(plan)
        })
    });

    // The two halves, to see where the time goes.
    c.bench_function("accept/validate 5 lines", |b| {
        b.iter(|| black_box(parse_request(black_box(BODY.as_bytes()), &rules).expect("valid")))
    });
    c.bench_function("accept/plan 5 lines", |b| {
        b.iter(|| {
            black_box(
                plan_accept(black_box(&req), &stock, &rules, now, ids.order_id(now)).expect("plan"),
            )
        })
    });

    let order = {
        let plan = plan_accept(&req, &stock, &rules, now, ids.order_id(now)).expect("plan");
        let mut o = plan.order;
        o = o
            .transitioned(OrderStatus::Reserved, now)
            .expect("reserve")
            .transitioned(OrderStatus::Confirmed, now)
            .expect("confirm");
        o
    };
    c.bench_function("order/serialize json", |b| {
        b.iter(|| black_box(serde_json::to_vec(black_box(&order)).expect("json")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

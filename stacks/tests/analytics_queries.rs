//! Every saved Athena query of the county stack, run over order events the
//! stream publisher's own code derives and serializes, through the Glue
//! table's own columns and SerDe mapping, with DuckDB standing in for Athena
//! (`tests/analytics/athena_standin.py` says where DuckDB is not Trino and
//! what the stand-in does about it).

// Test helpers may unwrap too: a panic there is a failed assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use acme_stacks::county::analytics::{QUERIES, TABLE_NAME, database_name};
use acme_stacks::synth::{Format, synthesize};
use jiff::Timestamp;
use order_domain::codec::order_to_item;
use order_domain::events::{EVENT_SOURCE, OrderEvent, derive};
use order_domain::order::StatusChange;
use order_domain::{
    CountyId, CustomerId, FailureReason, LineItem, Money, Order, OrderId, OrderStatus, Sku, StoreId,
};
use serde_json::{Value, json};

/// One order's life: (status, seconds after the base instant) per write.
struct Life {
    id: &'static str,
    store: &'static str,
    cents: u64,
    writes: &'static [(OrderStatus, i64)],
    failure: Option<FailureReason>,
}

fn order(l: &Life, county: &str, upto: usize, base: i64) -> Order {
    let at = |i: usize| Timestamp::from_second(base + l.writes[i].1).unwrap();
    let status = l.writes[upto].0;
    Order {
        order_id: OrderId::parse(l.id).unwrap(),
        customer_id: CustomerId::parse("cust-1").unwrap(),
        store_id: StoreId::parse(l.store).unwrap(),
        county_id: CountyId::parse(county).unwrap(),
        client_request_id: None,
        items: vec![LineItem {
            sku: Sku::parse("WINE-1").unwrap(),
            quantity: 1,
            unit_price_cents: Money::from_cents(l.cents).unwrap(),
        }],
        total_cents: Money::from_cents(l.cents).unwrap(),
        status,
        created_at: at(0),
        updated_at: at(upto),
        version: upto as u64 + 1,
        failure_reason: (status == OrderStatus::Failed)
            .then(|| l.failure.clone())
            .flatten(),
        payment_id: None,
        hold_reason: None,
        history: (0..=upto)
            .map(|i| StatusChange {
                status: l.writes[i].0,
                at: at(i),
            })
            .collect(),
        legacy: None,
    }
}

/// The events the publisher derives from this order's stream records.
fn events_of(l: &Life, county: &str, base: i64) -> Vec<OrderEvent> {
    (0..l.writes.len())
        .filter_map(|i| {
            let new = order_to_item(&order(l, county, i, base));
            let old = (i > 0).then(|| order_to_item(&order(l, county, i - 1, base)));
            derive(old.as_ref(), Some(&new)).unwrap().event
        })
        .collect()
}

/// The envelope EventBridge hands Firehose for an entry the publisher's
/// `AwsEventSink` puts (source, detail-type, resources and the event
/// serialized with serde_json as `Detail`); `n` tells deliveries apart.
fn envelope(e: &OrderEvent, n: u32, delivered: Timestamp) -> Value {
    let detail: Value = serde_json::from_str(&serde_json::to_string(e).unwrap()).unwrap();
    json!({
        "version": "0",
        "id": format!("{}-{n}", e.event_id),
        "detail-type": e.detail_type(),
        "source": EVENT_SOURCE,
        "account": "123456789012",
        "time": delivered.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": "us-east-1",
        "resources": [format!("order:{}", e.order_id)],
        "detail": detail,
    })
}

fn glue_table(template: &Value) -> (Vec<(String, String)>, BTreeMap<String, String>) {
    let t = &template["Resources"]["OrderEventsTable"]["Properties"]["TableInput"];
    let sd = &t["StorageDescriptor"];
    let columns = sd["Columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap().to_owned();
            (s("Name"), s("Type"))
        })
        .collect();
    let mapping = sd["SerdeInfo"]["Parameters"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.strip_prefix("mapping.")?.to_owned(),
                v.as_str()?.to_owned(),
            ))
        })
        .collect();
    (columns, mapping)
}

const ON_TIME: &[(OrderStatus, i64)] = &[
    (OrderStatus::Pending, 5 * 60),
    (OrderStatus::Reserved, 6 * 60),
    (OrderStatus::Confirmed, 7 * 60),
];
const SLOW: &[(OrderStatus, i64)] = &[
    (OrderStatus::Pending, 10 * 60),
    (OrderStatus::Reserved, 11 * 60),
    (OrderStatus::Confirmed, 15 * 60),
];
const LATER_HOUR: &[(OrderStatus, i64)] = &[
    (OrderStatus::Pending, 65 * 60),
    (OrderStatus::Confirmed, 66 * 60),
];
const NO_STOCK: &[(OrderStatus, i64)] = &[
    (OrderStatus::Pending, 20 * 60),
    (OrderStatus::Failed, 21 * 60),
];
const PENDING: &[(OrderStatus, i64)] = &[(OrderStatus::Pending, 30 * 60)];

fn lives() -> Vec<Life> {
    let life = |id, store, cents, writes| Life {
        id,
        store,
        cents,
        writes,
        failure: None,
    };
    vec![
        life("01HZY3M4T7X8Q9R0S1T2V3W4A1", "store-1", 1999, ON_TIME),
        life("01HZY3M4T7X8Q9R0S1T2V3W4A2", "store-1", 1799, SLOW),
        life("01HZY3M4T7X8Q9R0S1T2V3W4A3", "store-2", 500, LATER_HOUR),
        life("01HZY3M4T7X8Q9R0S1T2V3W4A4", "store-1", 999, PENDING),
        Life {
            failure: Some(FailureReason::OutOfStock {
                skus: vec![Sku::parse("WINE-1").unwrap()],
            }),
            ..life("01HZY3M4T7X8Q9R0S1T2V3W4A5", "store-2", 1250, NO_STOCK)
        },
        Life {
            failure: Some(FailureReason::PaymentDeclined {
                message: "card expired".into(),
            }),
            ..life("01HZY3M4T7X8Q9R0S1T2V3W4A6", "store-2", 700, NO_STOCK)
        },
    ]
}

/// Writes the deliveries as Firehose lays them out; the first order's
/// confirmation is delivered twice (a publisher retry), a minute apart.
fn write_deliveries(dir: &Path, county: &str, base: i64) -> usize {
    let mut lines: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut n = 0;
    for (i, l) in lives().iter().enumerate() {
        for e in events_of(l, county, base) {
            let copies = if i == 0 && e.status == OrderStatus::Confirmed {
                2
            } else {
                1
            };
            for copy in 0..copies {
                let delivered = e.occurred_at + jiff::SignedDuration::from_secs(30 + 60 * copy);
                let dt = delivered.strftime("%Y-%m-%d").to_string();
                let line = envelope(&e, copy as u32, delivered).to_string();
                lines.entry(dt).or_default().push(line);
                n += 1;
            }
        }
    }
    for (dt, ls) in lines {
        let d = dir.join(format!("county={county}/dt={dt}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("events.json"), ls.join("\n") + "\n").unwrap();
    }
    n
}

type Results = BTreeMap<String, Value>;

fn run_queries() -> Results {
    let cfg = common::sample_counties().remove(0);
    let s = synthesize(&cfg, Format::Json).expect("synthesizes");
    let template: Value = serde_json::from_str(&s.body).unwrap();
    // Every saved query of the template is one of QUERIES, in the same text.
    let saved: Vec<(String, String)> = template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Athena::NamedQuery")
        .map(|r| {
            let p = &r["Properties"];
            let s = |k: &str| p[k].as_str().unwrap().to_owned();
            (s("Name"), s("QueryString"))
        })
        .collect();
    assert_eq!(saved.len(), QUERIES.len());
    for q in QUERIES {
        assert!(
            saved.contains(&(q.name.to_owned(), q.sql(&cfg.id))),
            "{}",
            q.name
        );
    }

    let dir = tempfile::tempdir().unwrap();
    // Six orders: 11 events, one delivered twice.
    // Three hours back, on the hour: every write is inside the last 24 hours
    // and the hour buckets are known.
    let base = (Timestamp::now().as_second() / 3600 - 3) * 3600;
    let data = dir.path().join("orders");
    assert_eq!(write_deliveries(&data, &cfg.id, base), 12);
    let (columns, mapping) = glue_table(&template);
    let spec = json!({
        "data": data,
        "database": database_name(&cfg.id),
        "table": TABLE_NAME,
        "columns": columns,
        "mapping": mapping,
        "queries": saved,
    });
    let spec_path = dir.path().join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let root = common::root();
    let python = common::tool("ACME_PYTHON", &[root.join(".venv/bin/python")], "python3");
    let out = Command::new(python)
        .arg(root.join("stacks/tests/analytics/athena_standin.py"))
        .arg(&spec_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stand-in failed (duckdb comes from requirements-dev.txt): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut results: Results = serde_json::from_slice(&out.stdout).unwrap();
    results.insert("base".into(), json!(base));
    results
}

fn rows<'a>(r: &'a Results, name: &str) -> &'a Vec<Value> {
    r[name]["rows"].as_array().unwrap()
}

fn column_type<'a>(r: &'a Results, name: &str, col: &str) -> &'a str {
    r[name]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c[0] == col)
        .and_then(|c| c[1].as_str())
        .unwrap_or_else(|| panic!("{name} has no column {col}: {}", r[name]))
}

#[test]
fn saved_queries_answer_right_over_the_publishers_events() {
    let r = run_queries();
    let base = r["base"].as_i64().unwrap();
    let hour = |h: i64| {
        Timestamp::from_second(base + h * 3600)
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%S+00:00")
            .to_string()
    };
    let county = common::sample_counties().remove(0).id;

    // Placed: six orders (none counted twice), 1999+1799+500+999+1250+700 cents.
    let placed = rows(&r, "orders by county last 24h");
    assert_eq!(placed, &vec![json!([county, 6, "72.47"])]);

    // Confirmed only, deduplicated: 19.99 + 17.99 = 37.98 exactly, not 38.0
    // (Trino's `/ 100.0`) nor 57.97 (the duplicate delivery counted).
    let by_hour = "confirmed orders and revenue by store and hour";
    assert_eq!(
        rows(&r, by_hour),
        &vec![
            json!(["store-1", hour(0), 2, "37.98"]),
            json!(["store-2", hour(1), 1, "5.00"]),
        ]
    );
    for (q, col) in [
        (by_hour, "revenue_dollars"),
        ("orders by county last 24h", "total_dollars"),
        ("order failures by reason last 7 days", "lost_dollars"),
    ] {
        assert_eq!(column_type(&r, q, col), "DECIMAL(18,2)", "{q}");
    }

    // The nested detail reads right: failure codes are there, not NULL.
    assert_eq!(
        rows(&r, "order failures by reason last 7 days"),
        &vec![
            json!(["OUT_OF_STOCK", 1, "12.50"]),
            json!(["PAYMENT_DECLINED", 1, "7.00"]),
        ]
    );

    // store-1: 120 s and 300 s; store-2: 60 s.
    assert_eq!(
        rows(&r, "time from placed to confirmed last 24h"),
        &vec![
            json!(["store-1", 2, 210.0, 300]),
            json!(["store-2", 1, 60.0, 60])
        ]
    );
}

/// Where DuckDB is not Trino: it returns DOUBLE for a decimal division, where
/// Trino keeps the operands' larger scale (`/ 100.0` rounds to 10 cents). The
/// stand-in cannot show that rounding, so no query may divide by a literal
/// with a decimal point.
#[test]
fn no_query_divides_by_a_decimal_literal() {
    for q in QUERIES {
        let sql = q.sql("travis-tx");
        let divides = sql.split('/').skip(1).any(|rest| {
            let t = rest.trim_start();
            let num: String = t
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            num.contains('.')
        });
        assert!(!divides, "{} divides by a decimal literal:\n{sql}", q.name);
    }
}

//! legacy-sync's throughput against the local PostgreSQL, in orders/s.
//!
//! `scripts/with-postgres.sh cargo bench -p legacy-sync --bench
//! legacy_sync_throughput --profile dev` (`ACME_BENCH_ORDERS`, default 2000).
//! Builds the stream batches Lambda would deliver (100 records each, the
//! mapping's batch size; new images as DynamoDB JSON, written by the order
//! codec) and times the handler's `apply` over them: first every order's
//! INSERT (a new legacy order, its lines, a placeholder customer), then every
//! order's next status (an update of the row), then the whole stream again
//! (replays: the version guard refuses each). One connection, one
//! transaction per record, as in the function.

use std::time::Instant;

use aws_lambda_events::dynamodb::EventRecord;
use legacy_sync::{LegacySync, SqsRejects, secret};
use order_domain::codec::order_to_item;
use order_domain::order::StatusChange;
use order_domain::{CountyId, LineItem, Money, Order, OrderStatus};
use tokio_postgres::NoTls;

const BATCH: usize = 100;

fn order(i: u64) -> Order {
    let at: jiff::Timestamp = "2026-12-06T15:00:00Z".parse().expect("ts");
    let at = at + jiff::SignedDuration::from_millis(i as i64);
    let ulid = format!("01JEX{:021}", i);
    Order {
        order_id: ulid.parse().expect("id"),
        customer_id: format!("{}", 1 + i % 50).parse().expect("customer"),
        store_id: "AUS-1".parse().expect("store"),
        county_id: CountyId::parse("travis-tx").expect("county"),
        client_request_id: Some(format!("bench-{i}").parse().expect("request")),
        items: (1..=1 + i % 5)
            .map(|l| LineItem {
                sku: format!("SKU-{}", (i + l) % 500).parse().expect("sku"),
                quantity: 1,
                unit_price_cents: Money::from_cents(1000).expect("money"),
            })
            .collect(),
        total_cents: Money::from_cents(1000 * (1 + i % 5)).expect("money"),
        status: OrderStatus::Pending,
        created_at: at,
        updated_at: at,
        version: 1,
        failure_reason: None,
        payment_id: None,
        hold_reason: None,
        history: vec![StatusChange {
            status: OrderStatus::Pending,
            at,
        }],
        legacy: None,
    }
}

fn record(o: &Order, seq: u64) -> EventRecord {
    serde_json::from_value(serde_json::json!({
        "eventID": seq.to_string(), "eventName": "MODIFY", "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-2",
        "dynamodb": {"NewImage": serde_json::to_value(order_to_item(o)).expect("json"),
                     "Keys": {"order_id": {"S": o.order_id.to_string()}},
                     "SequenceNumber": format!("{seq:021}"),
                     "ApproximateCreationDateTime": 1.7e9, "SizeBytes": 1,
                     "StreamViewType": "NEW_AND_OLD_IMAGES"}
    }))
    .expect("a stream record")
}

#[tokio::main]
async fn main() {
    let server = std::env::var("ACME_TEST_LEGACY_URL")
        .expect("ACME_TEST_LEGACY_URL: run through scripts/with-postgres.sh");
    let n: u64 = std::env::var("ACME_BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let (admin, conn) = tokio_postgres::connect(&server, NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    admin
        .simple_query("DROP DATABASE IF EXISTS bench_legacy_sync WITH (FORCE)")
        .await
        .expect("drop");
    admin
        .simple_query("CREATE DATABASE bench_legacy_sync")
        .await
        .expect("create");
    let (base, _) = server.rsplit_once('/').expect("URL");
    let url = format!("{base}/bench_legacy_sync");
    let (db, conn) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    db.batch_execute(include_str!("../../../migrate/sql/legacy-schema.sql"))
        .await
        .expect("schema");
    db.batch_execute(
        "INSERT INTO stores VALUES ('AUS-1', 'travis-tx', 'Austin', 'America/Chicago');
         INSERT INTO customers SELECT g, NULL, NULL, NULL, NULL, now() FROM generate_series(1, 50) g;",
    )
    .await
    .expect("seed");

    let sdk = aws_config_stub().await;
    let rejects = SqsRejects::new(aws_sdk_sqs::Client::new(&sdk), "http://127.0.0.1:1/none");
    let target = secret::parse(&url, None).expect("url");
    let sync = LegacySync::new("travis-tx", target, rejects);

    let mut orders: Vec<Order> = (0..n).map(order).collect();
    let mut seq = 0u64;
    let mut inserts = Vec::new();
    for o in &orders {
        seq += 1;
        inserts.push(record(o, seq));
    }
    let mut updates = Vec::new();
    for o in &mut orders {
        o.version += 1;
        o.status = OrderStatus::Confirmed;
        o.updated_at += jiff::SignedDuration::from_secs(1);
        seq += 1;
        updates.push(record(o, seq));
    }
    println!("legacy-sync throughput, {n} orders, batches of {BATCH}, one connection");
    for (what, records) in [
        ("new orders (insert)", &inserts),
        ("status changes (update)", &updates),
        ("replays (guard refuses)", &inserts),
    ] {
        let started = Instant::now();
        let mut totals = (0, 0, 0);
        for batch in records.chunks(BATCH) {
            let (failed, c) = sync.apply(batch).await;
            assert_eq!(failed, None, "a record failed");
            totals.0 += c.written;
            totals.1 += c.stale;
            totals.2 += c.rejected;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "  {what:<26} {:>6} records in {secs:>6.2} s: {:>7.0} orders/s  (written {}, stale {}, rejected {})",
            records.len(),
            records.len() as f64 / secs,
            totals.0,
            totals.1,
            totals.2
        );
    }
    let rows: i64 = db
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(rows as u64, n, "every order once");
}

/// An SDK configuration that never reaches AWS: the benchmark sends no
/// rejects (every order maps).
async fn aws_config_stub() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-2"))
        .endpoint_url("http://127.0.0.1:1")
        .load()
        .await
}

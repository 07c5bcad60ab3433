//! The backfill's throughput and memory against moto, beside moto's own
//! ceiling: `scripts/bench-migrate.sh` (`make bench-migrate`) runs it inside
//! `scripts/with-moto.sh scripts/with-postgres.sh`.
//!
//! 1. Generates `--orders N` legacy orders (1–5 lines, four stores) in the
//!    PostgreSQL from `ACME_TEST_LEGACY_URL`, with `generate_series`.
//! 2. Backfills them, rate limit off, into the county's tables the local
//!    runner provisions on moto (`AWS_ENDPOINT_URL`): orders/s and items/s.
//! 3. Writes the same items again, into fresh tables, with a bare loop of
//!    `BatchWriteItem` calls (25 items, one call in flight, as the writer):
//!    moto's ceiling, timed over the calls alone. Prints the ratio.
//! 4. Backfills a second county of about 20 s of work with `--max-wcu X`
//!    (default: a third of the rate of step 2) and prints the write units/s it
//!    held, over the whole run and after the first second.
//! 5. Prints the peak RSS (`VmHWM`) after step 2.
//!
//! Each step's tables are deleted before the next step starts: moto slows
//! as it holds more items, and every step should meet the same emulator.
//!
//! Usage: bench_backfill [--orders N] [--max-wcu X] [--page-size N]

use std::path::Path;
use std::time::{Duration, Instant};

use acme_local::provision::{Clients, new_run_id, provision};
use acme_local::stack::CountyStack;
use acme_migrate::backfill::{self, Options, Report};
use acme_migrate::limit::WcuBudget;
use acme_migrate::order::{county_stores, items, map_in_county};
use acme_migrate::read::Shard;
use acme_migrate::source::{Legacy, LegacyUrl};
use acme_migrate::write::{Pending, Retry, Writer};
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use order_aws::DynamoStore;
use order_domain::CountyId;
use order_domain::store::{AttrValue, BATCH_WRITE_MAX, Item, Table, TableNames, item_size};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const GSI_WRITE_SHARDS: u32 = 4;

struct Args {
    orders: i64,
    max_wcu: Option<u64>,
    page_size: i64,
}

fn args() -> Res<Args> {
    let mut a = Args {
        orders: 100_000,
        max_wcu: None,
        page_size: 500,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: std::num::ParseIntError| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--orders" => a.orders = value.parse().map_err(bad)?,
            "--max-wcu" => a.max_wcu = Some(value.parse().map_err(bad)?),
            "--page-size" => a.page_size = value.parse().map_err(bad)?,
            _ => {
                return Err(
                    format!("unknown flag {flag}: --orders N, --max-wcu X, --page-size N").into(),
                );
            }
        }
    }
    if a.orders < 1 || a.page_size < 1 {
        return Err("--orders and --page-size must be at least 1".into());
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> Res<()> {
    let a = args()?;
    let admin = std::env::var("ACME_TEST_LEGACY_URL")
        .map_err(|_| "ACME_TEST_LEGACY_URL is not set: run through scripts/bench-migrate.sh")?;
    let url = legacy_db(&admin).await?;
    let sdk = aws_config::load_from_env().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);

    println!("load average at the start: {}", load_average());
    let started = Instant::now();
    generate(&url, "travis-tx", "BEN", 1, a.orders).await?;
    println!(
        "generated {} orders in {:.1} s",
        a.orders,
        started.elapsed().as_secs_f64()
    );

    let tables = county_tables(&sdk).await?;
    let (run, _) = backfill(&url, &dynamo, &tables, "travis-tx", None, a.page_size).await?;
    let rss = peak_rss_kib()?;
    let items_per_s = run.items as f64 / run.seconds;
    println!(
        "backfill, no limit: {} orders, {} items, {} write units in {:.1} s: \
         {:.0} orders/s, {:.0} items/s, {:.0} WCU/s",
        run.written.orders,
        run.items,
        run.write_units,
        run.seconds,
        run.written.orders as f64 / run.seconds,
        items_per_s,
        run.write_units as f64 / run.seconds
    );
    println!(
        "peak RSS after the backfill of {} orders: {} KiB",
        a.orders, rss
    );
    // moto slows as it holds more items: each pass starts from the same
    // (empty) state, or the later pass would be measured against a fuller
    // emulator than the earlier.
    drop_tables(&dynamo, &tables).await?;

    let fresh = county_tables(&sdk).await?;
    let (written, secs, sizes) = ceiling(&url, &dynamo, &fresh, "travis-tx", a.page_size).await?;
    let raw = written as f64 / secs;
    println!(
        "moto's BatchWriteItem ceiling: {written} items in {secs:.1} s of calls: {raw:.0} items/s; \
         backfill / ceiling = {:.0}%",
        100.0 * items_per_s / raw
    );
    println!(
        "per order: {:.0} bytes in DynamoDB's size rules, {:.0} bytes as DynamoDB JSON, \
         {:.2} write units (table and index entries, by the meter)",
        sizes.item_bytes as f64 / sizes.orders as f64,
        sizes.json_bytes as f64 / sizes.orders as f64,
        sizes.write_units as f64 / sizes.orders as f64,
    );

    drop_tables(&dynamo, &fresh).await?;
    let wcu_per_order = run.write_units as f64 / run.written.orders.max(1) as f64;
    // A third of the unlimited rate: well below what moto admits, so the
    // bucket, not moto, sets the pace.
    let limit = a
        .max_wcu
        .unwrap_or_else(|| ((run.write_units as f64 / run.seconds / 3.0) as u64).max(10));
    let limited_orders = ((20.0 * limit as f64 / wcu_per_order) as i64).max(100);
    generate(&url, "king-wa", "LIM", a.orders + 1, limited_orders).await?;
    let limited = county_tables(&sdk).await?;
    let (run, marks) =
        backfill(&url, &dynamo, &limited, "king-wa", Some(limit), a.page_size).await?;
    println!(
        "backfill, --max-wcu {limit}: {} orders, {} write units in {:.1} s: {:.0} WCU/s overall \
         ({:+.1}%), {:.0} WCU/s after the first second's burst ({:+.1}%)",
        run.written.orders,
        run.write_units,
        run.seconds,
        run.write_units as f64 / run.seconds,
        deviation(run.write_units as f64 / run.seconds, limit),
        steady_rate(&marks),
        deviation(steady_rate(&marks), limit),
    );
    println!("peak RSS at the end: {} KiB", peak_rss_kib()?);
    println!("load average at the end: {}", load_average());
    Ok(())
}

fn deviation(measured: f64, limit: u64) -> f64 {
    100.0 * (measured - limit as f64) / limit as f64
}

/// Write units per second between the first progress mark after one second
/// and the last: the bucket starts with one second of budget in it.
fn steady_rate(marks: &[(Duration, u64)]) -> f64 {
    let Some(first) = marks.iter().find(|(t, _)| *t >= Duration::from_secs(1)) else {
        return f64::NAN;
    };
    let Some(last) = marks.last() else {
        return f64::NAN;
    };
    (last.1 - first.1) as f64 / (last.0 - first.0).as_secs_f64()
}

/// A fresh `bench_migrate` database with the legacy schema; its URL.
async fn legacy_db(admin: &str) -> Res<String> {
    let client = connect(admin).await?;
    client
        .simple_query("DROP DATABASE IF EXISTS bench_migrate WITH (FORCE)")
        .await?;
    client.simple_query("CREATE DATABASE bench_migrate").await?;
    let (base, _) = admin.rsplit_once('/').ok_or("the URL ends in /database")?;
    let url = format!("{base}/bench_migrate");
    connect(&url)
        .await?
        .batch_execute(include_str!("../sql/legacy-schema.sql"))
        .await?;
    Ok(url)
}

async fn connect(url: &str) -> Res<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// `count` orders from number `first`, 1–5 lines each, in four stores of
/// `county`, each total the sum of its lines; 500 SKUs in stock per store.
async fn generate(url: &str, county: &str, prefix: &str, first: i64, count: i64) -> Res<()> {
    let client = connect(url).await?;
    let last = first + count - 1;
    let sql = format!(
        "INSERT INTO stores SELECT '{prefix}-' || s, '{county}', 'Bench ' || s, 'America/Chicago' \
             FROM generate_series(1, 4) s;
         INSERT INTO customers SELECT c, 'c' || c || '@example.com', 'Customer ' || c, NULL, NULL, \
             '2020-01-01 00:00:00+00' FROM generate_series({first}, {last}, 10) c;
         INSERT INTO orders SELECT o, 'req-' || o, o - (o - {first}) % 10, \
             '{prefix}-' || (1 + o % 4), (ARRAY['CONFIRMED','SHIPPED','CANCELLED','REFUNDED'])[1 + o % 4], \
             0, 'USD', 'pay_' || o, timestamp '2025-01-06 09:00' + (o % 200000) * interval '20 seconds', \
             now() FROM generate_series({first}, {last}) o;
         INSERT INTO order_lines SELECT o, l, 'SKU-' || ((o * 7 + l) % 500), 1 + (o + l) % 3, \
             1 + ((o + l) % 5000) / 100.0 \
             FROM generate_series({first}, {last}) o, generate_series(1, 5) l WHERE l <= 1 + o % 5;
         UPDATE orders o SET total = t.s \
             FROM (SELECT order_id, sum(quantity * unit_price) s FROM order_lines \
                   WHERE order_id BETWEEN {first} AND {last} GROUP BY order_id) t \
             WHERE t.order_id = o.order_id;
         INSERT INTO inventory SELECT '{prefix}-' || s, 'SKU-' || k, 1000, k % 7, 1 + k / 100.0, now() \
             FROM generate_series(1, 4) s, generate_series(0, 499) k;
         ANALYZE;"
    );
    client.batch_execute(&sql).await?;
    Ok(())
}

/// The county's tables, provisioned on moto as the local runner does.
async fn county_tables(sdk: &aws_config::SdkConfig) -> Res<TableNames> {
    let environments = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
    let stack = CountyStack::load(&environments, "travis-tx")?;
    let resources = provision(
        &stack,
        &new_run_id(),
        Clients {
            dynamodb: &aws_sdk_dynamodb::Client::new(sdk),
            sqs: &aws_sdk_sqs::Client::new(sdk),
            eventbridge: &aws_sdk_eventbridge::Client::new(sdk),
            sns: &aws_sdk_sns::Client::new(sdk),
        },
    )
    .await?;
    Ok(resources.table_names()?)
}

async fn drop_tables(dynamo: &aws_sdk_dynamodb::Client, tables: &TableNames) -> Res<()> {
    for table in Table::ALL {
        dynamo
            .delete_table()
            .table_name(tables.name(table)?)
            .send()
            .await?;
    }
    Ok(())
}

/// The backfill as the command runs it; its report and `(elapsed, write
/// units)` at every page.
async fn backfill(
    url: &str,
    dynamo: &aws_sdk_dynamodb::Client,
    tables: &TableNames,
    county: &str,
    max_wcu: Option<u64>,
    page_size: i64,
) -> Res<(Report, Vec<(Duration, u64)>)> {
    let dir = tempfile::tempdir()?;
    let opts = Options {
        county: CountyId::parse(county)?,
        shard: Shard::WHOLE,
        page_size,
        gsi_write_shards: GSI_WRITE_SHARDS,
        checkpoint: dir.path().join("checkpoint.json"),
        resume: false,
    };
    let mut legacy = Legacy::connect(&url.parse::<LegacyUrl>()?).await?;
    let store = DynamoStore::new(dynamo.clone(), tables.clone());
    let mut writer = Writer::new(store, WcuBudget::new(max_wcu), Retry::default());
    let started = Instant::now();
    let mut marks = Vec::new();
    let report = backfill::run(&mut legacy, &mut writer, &opts, &mut |p| {
        marks.push((started.elapsed(), p.stats.write_units));
    })
    .await?;
    Ok((report, marks))
}

/// What the mapped orders weigh, for the import-from-S3 arithmetic.
#[derive(Default)]
struct Sizes {
    orders: u64,
    item_bytes: u64,
    json_bytes: u64,
    write_units: u64,
}

/// The backfill's items, read and mapped the same way (not timed), written
/// by a bare loop of `BatchWriteItem` calls; the items and the seconds
/// spent in the calls.
async fn ceiling(
    url: &str,
    dynamo: &aws_sdk_dynamodb::Client,
    tables: &TableNames,
    county: &str,
    page_size: i64,
) -> Res<(u64, f64, Sizes)> {
    let county = CountyId::parse(county)?;
    let mut legacy = Legacy::connect(&url.parse::<LegacyUrl>()?).await?;
    let snap = legacy.snapshot().await?;
    let stores = county_stores(&snap, &county).await?.ok_or("no stores")?;
    let (mut written, mut spent, mut sizes) = (0u64, Duration::ZERO, Sizes::default());
    let mut after = None;
    loop {
        let page = snap
            .orders(county.as_str(), Shard::WHOLE, after, page_size)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.order_id);
        let mut pending = Vec::with_capacity(page.len() * 2);
        for o in &page {
            if let Ok(m) = map_in_county(o, &stores, &county) {
                let order = items(&m.order, GSI_WRITE_SHARDS);
                sizes.orders += 1;
                for p in &order {
                    sizes.item_bytes += item_size(&p.item) as u64;
                    sizes.json_bytes += dynamodb_json(&p.item).len() as u64;
                    sizes.write_units += p.write_units;
                }
                pending.extend(order);
            }
        }
        for table in [Table::OrderById, Table::Orders] {
            let group: Vec<&Pending> = pending.iter().filter(|p| p.table == table).collect();
            for chunk in group.chunks(BATCH_WRITE_MAX) {
                spent += bare_batch(dynamo, tables.name(table)?, chunk).await?;
                written += chunk.len() as u64;
            }
        }
    }
    Ok((written, spent.as_secs_f64(), sizes))
}

/// An item as one line of an import-from-S3 `DYNAMODB_JSON` file.
fn dynamodb_json(item: &Item) -> String {
    fn value(v: &AttrValue) -> serde_json::Value {
        use serde_json::json;
        match v {
            AttrValue::S(s) => json!({ "S": s }),
            AttrValue::N(n) => json!({ "N": n }),
            AttrValue::Bool(b) => json!({ "BOOL": b }),
            AttrValue::Null => json!({ "NULL": true }),
            AttrValue::L(l) => json!({ "L": l.iter().map(value).collect::<Vec<_>>() }),
            AttrValue::M(m) => json!({ "M": map(m) }),
        }
    }
    fn map(m: &Item) -> serde_json::Map<String, serde_json::Value> {
        m.iter().map(|(k, v)| (k.clone(), value(v))).collect()
    }
    serde_json::json!({ "Item": map(item) }).to_string() + "\n"
}

/// One `BatchWriteItem` call (and its unprocessed items, if any); the time
/// the calls took.
async fn bare_batch(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
    chunk: &[&Pending],
) -> Res<Duration> {
    let mut requests = chunk
        .iter()
        .map(|p| {
            let put = PutRequest::builder()
                .set_item(Some(order_aws::convert::item_to_sdk(&p.item)))
                .build()?;
            Ok(WriteRequest::builder().put_request(put).build())
        })
        .collect::<Res<Vec<_>>>()?;
    let started = Instant::now();
    while !requests.is_empty() {
        let out = dynamo
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await?;
        requests = out
            .unprocessed_items()
            .and_then(|u| u.get(table))
            .cloned()
            .unwrap_or_default();
    }
    Ok(started.elapsed())
}

/// `/proc/loadavg`: on a shared machine the figures mean little without it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

/// The process's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kib() -> Res<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or("no VmHWM in /proc/self/status")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or("VmHWM without a value")?
        .parse()?)
}

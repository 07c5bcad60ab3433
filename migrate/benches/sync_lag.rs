//! CDC lag, from a legacy commit to its DynamoDB write, at a sustained 200
//! legacy changes/s, with moto's own time per conditional `PutItem` printed
//! beside it so the lag that is the sync's can be told apart. Not part of
//! `make test`:
//!
//! ```sh
//! scripts/with-moto.sh scripts/with-postgres.sh cargo bench -p acme-migrate --bench sync_lag
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use acme_local::provision::{Clients, new_run_id, provision};
use acme_local::stack::CountyStack;
use acme_migrate::guard;
use acme_migrate::sync::slot::SlotName;
use acme_migrate::sync::{self, Event, Options};
use order_aws::DynamoStore;
use order_domain::CountyId;
use order_domain::codec::StockRecord;
use order_domain::store::{Put, Store, Table};
use order_domain::{Money, Sku, StoreId};
use tokio::sync::watch;
use tokio_postgres::{Client, NoTls};

/// Legacy changes per second (`ACME_BENCH_RATE`, default 200).
fn rate() -> u64 {
    std::env::var("ACME_BENCH_RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|r| *r > 0)
        .unwrap_or(200)
}

const SECONDS: u64 = 20;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run through scripts/with-moto.sh scripts/with-postgres.sh")
    })
}

async fn connect(url: &str) -> Client {
    let (c, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    c
}

async fn legacy() -> String {
    let server = var("ACME_TEST_LEGACY_URL");
    let admin = connect(&server).await;
    for sql in [
        "DROP DATABASE IF EXISTS bench_sync WITH (FORCE)",
        "CREATE DATABASE bench_sync",
    ] {
        admin.simple_query(sql).await.expect("database");
    }
    admin
        .simple_query("SELECT pg_drop_replication_slot('acme_bench_sync') FROM pg_replication_slots WHERE slot_name = 'acme_bench_sync'")
        .await
        .expect("old slot");
    let url = format!("{}/bench_sync", server.rsplit_once('/').expect("url").0);
    let c = connect(&url).await;
    c.batch_execute(include_str!("../sql/legacy-schema.sql"))
        .await
        .expect("schema");
    c.batch_execute(
        "INSERT INTO stores VALUES ('AUS-1', 'travis-tx', 'Austin', 'America/Chicago');
         INSERT INTO customers SELECT g, NULL, NULL, NULL, NULL, now() FROM generate_series(1, 100) g;
         INSERT INTO orders SELECT g, NULL, 1 + g % 100, 'AUS-1', 'PAID', 10.00, 'USD', NULL,
             timestamp '2024-01-01 00:00' + g * interval '1 hour', now() FROM generate_series(1, 2000) g;
         INSERT INTO order_lines SELECT g, 1, 'SKU-1', 1, 10.00 FROM generate_series(1, 2000) g;
         INSERT INTO inventory SELECT 'AUS-1', 'SKU-' || g, 1000, 0, 3.50, now() FROM generate_series(1, 200) g;",
    )
    .await
    .expect("seed");
    url
}

async fn store() -> DynamoStore {
    var("AWS_ENDPOINT_URL");
    let sdk = aws_config::load_from_env().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let environments = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
    let stack = CountyStack::load(&environments, "travis-tx").expect("county");
    let resources = provision(
        &stack,
        &new_run_id(),
        Clients {
            dynamodb: &client,
            sqs: &aws_sdk_sqs::Client::new(&sdk),
            eventbridge: &aws_sdk_eventbridge::Client::new(&sdk),
            sns: &aws_sdk_sns::Client::new(&sdk),
        },
    )
    .await
    .expect("provision");
    DynamoStore::new(client, resources.table_names().expect("tables"))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// One legacy change a tick: an order's status or total, or a stock row.
async fn writer(url: String) -> u64 {
    let c = connect(&url).await;
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate()));
    let mut n = 0u64;
    while n < rate() * SECONDS {
        tick.tick().await;
        let sql = match n % 3 {
            0 => format!(
                "UPDATE orders SET total = total + 0.01, updated_at = now() WHERE order_id = {}",
                1 + n % 2000
            ),
            1 => format!(
                "UPDATE orders SET status = 'CONFIRMED', updated_at = now() WHERE order_id = {}",
                1 + n % 2000
            ),
            _ => format!(
                "UPDATE inventory SET on_hand = on_hand + 1, updated_at = now() WHERE sku = 'SKU-{}'",
                1 + n % 200
            ),
        };
        c.batch_execute(&sql).await.expect("write");
        n += 1;
    }
    n
}

fn raw_put(prefix: &str, i: usize) -> Put {
    let record = StockRecord {
        store_id: StoreId::parse("AUS-9").expect("id"),
        sku: Sku::parse(&format!("{prefix}-{i}")).expect("sku"),
        available: 1,
        price_cents: Money::from_cents(100).expect("price"),
    };
    Put {
        table: Table::Inventory,
        item: guard::stock_item(&record, 1),
        condition: Some(guard::condition(Table::Inventory, 1)),
    }
}

/// moto's time per conditional PutItem, alone, one at a time.
async fn moto_put_times(store: &DynamoStore) -> Vec<Duration> {
    let mut times = Vec::new();
    for i in 0..300 {
        let t = Instant::now();
        store.put(raw_put("RAW", i)).await.expect("put");
        times.push(t.elapsed());
    }
    times.sort();
    times
}

/// moto's ceiling: conditional puts per second, 16 in flight, as the sync writes.
async fn moto_ceiling(store: &DynamoStore) -> f64 {
    let puts: Vec<Put> = (0..600).map(|i| raw_put("CEIL", i)).collect();
    let t = Instant::now();
    let w = acme_migrate::sync::apply::write(store, puts, Vec::new(), 16)
        .await
        .expect("write");
    w.items as f64 / t.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = legacy().await;
    let store = store().await;
    let county = CountyId::parse("travis-tx").expect("county");
    let slot = SlotName::parse("acme_bench_sync").expect("slot");
    let legacy_url = url.parse().expect("url");
    sync::prepare(&legacy_url, &county, &slot)
        .await
        .expect("prepare");
    let opts = Options {
        county,
        slot,
        gsi_write_shards: 4,
        batch_changes: 500,
        poll: Duration::from_millis(50),
        concurrency: 16,
        reconnect_max: Duration::from_secs(5),
    };
    let (stop_tx, stop) = watch::channel(false);
    let sync_store = store.clone();
    let runner = tokio::spawn(async move {
        let mut lags = Vec::new();
        let mut items = 0;
        let mut on = |e: Event<'_>| {
            if let Event::Applied {
                batch,
                written_at,
                totals,
            } = e
            {
                for (_, at) in &batch.commits {
                    if let Ok(d) = Duration::try_from(written_at.duration_since(*at)) {
                        lags.push(d);
                    }
                }
                items = totals.items;
            }
        };
        let totals = sync::run(&legacy_url, sync_store, &opts, stop, &mut on)
            .await
            .expect("sync");
        (lags, totals)
    });
    let started = Instant::now();
    let written = writer(url.clone()).await;
    let elapsed = started.elapsed();
    let admin = connect(&url).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let row = admin
            .query_one("SELECT confirmed_flush_lsn >= pg_current_wal_flush_lsn() FROM pg_replication_slots WHERE slot_name = 'acme_bench_sync'", &[])
            .await
            .expect("slot");
        if row.get::<_, bool>(0) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_tx.send(true).expect("stop");
    let (mut lags, totals) = runner.await.expect("task");
    lags.sort();
    let moto = moto_put_times(&store).await;
    let ceiling = moto_ceiling(&store).await;
    println!(
        "legacy changes: {written} in {:.1} s ({:.0}/s); sync read {} changes in {} transactions, {} batches, {} items written",
        elapsed.as_secs_f64(),
        written as f64 / elapsed.as_secs_f64(),
        totals.changes,
        totals.transactions,
        totals.batches,
        totals.items
    );
    println!(
        "CDC lag, commit to DynamoDB write: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} transactions)",
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        percentile(&lags, 1.0),
        lags.len()
    );
    println!(
        "moto, one conditional PutItem alone: p50 {:.2} ms, p99 {:.2} ms (each order change is 2 puts, a stock change 1; {} in flight at once)",
        percentile(&moto, 0.5),
        percentile(&moto, 0.99),
        16
    );
    println!(
        "moto's ceiling, 16 conditional puts in flight: {ceiling:.0} puts/s; the sync wrote {:.2} items per legacy change",
        totals.items as f64 / totals.changes.max(1) as f64
    );
}

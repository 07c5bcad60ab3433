//! The change capture end to end: a writer keeps changing the legacy
//! database while the backfill and then the sync run; at the end verify is
//! clean and every change was read from the slot exactly once. And the bad
//! inputs: no slot, a slot in use, a county without stores. Needs
//! `scripts/with-moto.sh` and `scripts/with-postgres.sh` (make test runs both).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use acme_migrate::map::order_id;
use acme_migrate::source::{Legacy, LegacyUrl};
use acme_migrate::sync::slot::SlotName;
use acme_migrate::sync::{self, Event, Options, Prepared, SyncError, Totals};
use common::{backfill, caught_up, county, slot, until};
use order_aws::DynamoStore;
use order_domain::codec::{StockRecord, order_from_item};
use order_domain::store::{Item, Table, TableNames};
use order_domain::{CountyId, OrderStatus};
use tokio::sync::{mpsc, watch};
use tokio_postgres::Client;

async fn county_store() -> (aws_sdk_dynamodb::Client, TableNames, DynamoStore) {
    let (client, tables) = common::county_tables().await;
    let store = DynamoStore::new(client.clone(), tables.clone());
    (client, tables, store)
}

async fn scan(client: &aws_sdk_dynamodb::Client, tables: &TableNames, table: Table) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(tables.name(table).expect("table name"))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        items.extend(
            out.items()
                .iter()
                .map(|i| order_aws::convert::item_from_sdk(i).expect("item")),
        );
        match out.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return items,
        }
    }
}

/// Two counties' stores, 200 orders (the first 20 PAID, the rest CONFIRMED)
/// and 20 stock rows in travis-tx, a few rows in king-wa.
async fn seeded(db: &str) -> (String, Client) {
    let (url, client) = common::legacy_db(db).await;
    client
        .batch_execute(
            "INSERT INTO stores VALUES ('AUS-1', 'travis-tx', 'Austin', 'America/Chicago'),
                                      ('SEA-1', 'king-wa', 'Seattle', 'America/Los_Angeles');
             INSERT INTO customers SELECT g, NULL, NULL, NULL, NULL, now() FROM generate_series(1, 50) g;
             INSERT INTO orders SELECT g, 'req-' || g, 1 + g % 50, CASE WHEN g % 10 = 0 THEN 'SEA-1' ELSE 'AUS-1' END,
                 CASE WHEN g <= 20 THEN 'PAID' ELSE 'CONFIRMED' END, 10.00, 'USD', NULL,
                 timestamp '2024-01-01 00:00' + g * interval '1 hour', now()
               FROM generate_series(1, 200) g;
             INSERT INTO order_lines SELECT g, 1, 'SKU-' || (g % 10), 1, 10.00 FROM generate_series(1, 200) g;
             INSERT INTO inventory SELECT 'AUS-1', 'SKU-' || g, 100, g, 3.50, now() FROM generate_series(1, 20) g;",
        )
        .await
        .expect("seed");
    (url, client)
}

fn sync_options(db: &str) -> Options {
    Options {
        county: county(),
        slot: slot(db),
        gsi_write_shards: 4,
        batch_changes: 200,
        poll: Duration::from_millis(50),
        concurrency: 8,
        reconnect_max: Duration::from_secs(1),
    }
}

/// What the writer did: committed transactions that changed rows, and the rows.
#[derive(Default)]
struct Written {
    transactions: AtomicU64,
    rows: AtomicU64,
    rejects: AtomicU64,
}

/// One transaction of the writer's mix, numbered `n`: a new order with
/// lines, a PAID order confirmed, a line added, stock moved, and now and
/// then an order whose status the mapping refuses.
async fn change(client: &mut Client, n: i64, w: &Written) {
    let tx = client.transaction().await.expect("begin");
    let mut rows = 0;
    let id = 10_000 + n;
    match n % 5 {
        0 | 1 => {
            let status = if n % 25 == 0 { "ON_HOLD" } else { "NEW" };
            rows += tx
                .execute(
                    "INSERT INTO orders VALUES ($1, NULL, 1 + $1::bigint % 50, 'AUS-1', $2, 21.00, 'USD', NULL,
                        timestamp '2025-03-09 01:30' + $1 * interval '1 minute', now())",
                    &[&id, &status],
                )
                .await
                .expect("insert order");
            rows += tx
                .execute(
                    "INSERT INTO order_lines SELECT $1, g, 'SKU-' || g, 1, 10.50 FROM generate_series(1, 2) g",
                    &[&id],
                )
                .await
                .expect("insert lines");
            if status == "ON_HOLD" {
                w.rejects.fetch_add(1, Ordering::Relaxed);
            }
        }
        2 => {
            rows += tx
                .execute(
                    "UPDATE orders SET status = 'CONFIRMED', updated_at = now()
                     WHERE order_id = (SELECT min(order_id) FROM orders WHERE status IN ('PAID', 'NEW'))",
                    &[],
                )
                .await
                .expect("confirm");
        }
        3 => {
            let order = 21 + n % 150;
            rows += tx
                .execute(
                    "INSERT INTO order_lines SELECT $1, max(line_no) + 1, 'SKU-X', 2, 1.25
                     FROM order_lines WHERE order_id = $1 GROUP BY order_id",
                    &[&order],
                )
                .await
                .expect("add a line");
            rows += tx
                .execute(
                    "UPDATE orders SET total = total + 2.50, updated_at = now() WHERE order_id = $1",
                    &[&order],
                )
                .await
                .expect("bump total");
        }
        4 if n % 20 == 9 => {
            // A customer corrected: the summary is keyed by customer.
            rows += tx
                .execute(
                    "UPDATE orders SET customer_id = 1 + customer_id % 50, updated_at = now()
                     WHERE order_id = $1",
                    &[&(50 + n / 20)],
                )
                .await
                .expect("move");
        }
        4 if n % 20 == 4 => {
            // A seeded (so backfilled) order deleted with its lines; and a
            // stock row.
            let gone = 100 + n / 20;
            rows += tx
                .execute("DELETE FROM order_lines WHERE order_id = $1", &[&gone])
                .await
                .expect("delete lines");
            rows += tx
                .execute("DELETE FROM orders WHERE order_id = $1", &[&gone])
                .await
                .expect("delete order");
            let sku = format!("SKU-{}", 1 + (n / 20) % 20);
            rows += tx
                .execute(
                    "DELETE FROM inventory WHERE store_id = 'AUS-1' AND sku = $1",
                    &[&sku],
                )
                .await
                .expect("delete stock");
        }
        _ => {
            let sku = format!("SKU-{}", 1 + n % 20);
            rows += tx
                .execute(
                    "UPDATE inventory SET on_hand = on_hand + 1, updated_at = now()
                     WHERE store_id = 'AUS-1' AND sku = $1",
                    &[&sku],
                )
                .await
                .expect("stock");
        }
    }
    tx.commit().await.expect("commit");
    // One that changed nothing (a deleted row's update) is not decoded.
    if rows > 0 {
        w.transactions.fetch_add(1, Ordering::Relaxed);
    }
    w.rows.fetch_add(rows, Ordering::Relaxed);
}

/// Writes until `stop`, one transaction at a time; returns how many.
fn writer(url: String, stop: Arc<AtomicBool>, w: Arc<Written>) -> tokio::task::JoinHandle<i64> {
    tokio::spawn(async move {
        let mut client = common::connect(&url).await;
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            change(&mut client, n, &w).await;
            n += 1;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        n
    })
}

/// Starts the sync; its events come back as text lines on the channel.
fn start_sync(
    url: &str,
    db: &str,
    store: DynamoStore,
) -> (
    watch::Sender<bool>,
    mpsc::UnboundedReceiver<String>,
    tokio::task::JoinHandle<Result<Totals, SyncError>>,
) {
    let url: LegacyUrl = url.parse().expect("url");
    let opts = sync_options(db);
    let (stop_tx, stop) = watch::channel(false);
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut on = |e: Event<'_>| {
            let line = match e {
                Event::Applied { totals, .. } => format!("applied {}", totals.transactions),
                Event::Reject(n) => format!("reject {}: {}", n.legacy, n.message),
                other => format!("{other:?}"),
            };
            let _ = tx.send(line);
        };
        sync::run(&url, store, &opts, stop, &mut on).await
    });
    (stop_tx, rx, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_during_backfill_and_sync_land_once_and_verify_is_clean() {
    let db = "sync_writer";
    let (url, admin) = seeded(db).await;
    let (client, tables, store) = county_store().await;
    let legacy_url: LegacyUrl = url.parse().expect("url");
    match sync::prepare(&legacy_url, &county(), &slot(db))
        .await
        .expect("prepare")
    {
        Prepared::Created(_) => {}
        other => panic!("a new database has no slot yet: {other:?}"),
    }
    // Prepared twice: the same slot, kept.
    assert!(matches!(
        sync::prepare(&legacy_url, &county(), &slot(db)).await,
        Ok(Prepared::Existing(_))
    ));

    let stop_writer = Arc::new(AtomicBool::new(false));
    let written = Arc::new(Written::default());
    let writing = writer(url.clone(), stop_writer.clone(), written.clone());
    // The writer is under way before the backfill's snapshot and after it.
    until(
        "the writer's first changes",
        Duration::from_secs(10),
        || async { written.transactions.load(Ordering::Relaxed) >= 20 },
    )
    .await;
    let dir = tempfile::tempdir().expect("tmp");
    backfill(&url, store.clone(), dir.path()).await;
    let after_backfill = written.transactions.load(Ordering::Relaxed);

    let (stop, mut events, sync) = start_sync(&url, db, store.clone());
    let mut log = Vec::new();
    until(
        "the sync to apply while the writer writes",
        Duration::from_secs(60),
        || {
            while let Ok(line) = events.try_recv() {
                log.push(line);
            }
            let applied = log.iter().filter(|l| l.starts_with("applied")).count();
            let more = written.transactions.load(Ordering::Relaxed) > after_backfill + 100;
            async move { applied >= 3 && more }
        },
    )
    .await;
    stop_writer.store(true, Ordering::Relaxed);
    writing.await.expect("writer");
    // A sync that stopped on an error ends the wait; its error is shown below.
    until("the sync to catch up", Duration::from_secs(180), || {
        let ended = sync.is_finished();
        let admin = &admin;
        async move { ended || caught_up(admin, db).await }
    })
    .await;
    stop.send(true).expect("stop");
    let totals = sync.await.expect("task").expect("sync");
    while let Ok(line) = events.try_recv() {
        log.push(line);
    }

    // Every change read from the slot once: no gap, nothing twice.
    assert_eq!(
        (totals.transactions, totals.changes),
        (
            written.transactions.load(Ordering::Relaxed),
            written.rows.load(Ordering::Relaxed)
        ),
        "{log:#?}"
    );
    // Rejected orders are reported and the stream went on past them.
    let rejects = written.rejects.load(Ordering::Relaxed);
    assert!(rejects > 0);
    assert!(
        log.iter()
            .any(|l| l.contains("unknown legacy status `ON_HOLD`")),
        "{log:#?}"
    );

    let mut legacy = Legacy::connect(&legacy_url).await.expect("connect");
    let opts = acme_migrate::verify::Options {
        county: county(),
        gsi_write_shards: 4,
        page_size: 100,
    };
    let report = acme_migrate::verify::run(&mut legacy, &store, &opts)
        .await
        .expect("verify");
    assert!(report.is_clean(), "{:#?}", report.differences);
    assert!(report.known_rejects_total >= rejects.min(1));
    let county_orders: i64 = admin
        .query_one(
            "SELECT count(*) FROM orders o JOIN stores s USING (store_id) WHERE s.county_code = 'travis-tx'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    let by_id = scan(&client, &tables, Table::OrderById).await;
    assert_eq!(
        by_id.len() as i64 + report.known_rejects_total as i64,
        county_orders
    );
    assert_eq!(
        scan(&client, &tables, Table::Orders).await.len(),
        by_id.len()
    );

    // PAID orders confirmed in legacy follow; the rest are still in flight.
    let confirmed: Vec<i64> = admin
        .query(
            "SELECT order_id FROM orders WHERE order_id <= 20 AND status = 'CONFIRMED' AND store_id = 'AUS-1'",
            &[],
        )
        .await
        .expect("confirmed")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!confirmed.is_empty());
    for item in &by_id {
        let o = order_from_item(item).expect("decodes");
        let number = o.legacy.as_ref().expect("legacy").number;
        if confirmed.contains(&number) {
            assert_eq!(o.status, OrderStatus::Confirmed, "order {number}");
            assert_eq!(o.order_id, order_id::from_legacy(number));
        }
    }

    // Stock: on hand minus reserved, row for row.
    let stock: Vec<(String, i32)> = admin
        .query(
            "SELECT sku, on_hand - reserved FROM inventory WHERE store_id = 'AUS-1'",
            &[],
        )
        .await
        .expect("stock")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let items = scan(&client, &tables, Table::Inventory).await;
    assert_eq!(items.len(), stock.len(), "deleted stock rows are gone");
    assert!(totals.deleted > 0);
    for (sku, available) in stock {
        let record = items
            .iter()
            .map(|i| StockRecord::from_item(i).expect("decodes"))
            .find(|r| r.sku.as_str() == sku)
            .expect("stock record");
        assert_eq!(record.available, i64::from(available), "{sku}");
    }
}

#[tokio::test]
async fn a_second_sync_of_the_county_is_refused_naming_the_first() {
    let db = "sync_in_use";
    let (url, _admin) = seeded(db).await;
    let (_, _, store) = county_store().await;
    let legacy_url: LegacyUrl = url.parse().expect("url");
    let err = sync::run(
        &legacy_url,
        store.clone(),
        &sync_options(db),
        watch::channel(false).1,
        &mut |_| {},
    )
    .await
    .expect_err("no slot");
    assert!(
        err.to_string()
            .contains("`acme-infra migrate sync --county travis-tx --prepare` before the backfill"),
        "{err}"
    );
    sync::prepare(&legacy_url, &county(), &slot(db))
        .await
        .expect("prepare");
    let (stop, mut events, first) = start_sync(&url, db, store.clone());
    let mut started = false;
    until("the first sync to start", Duration::from_secs(20), || {
        while let Ok(line) = events.try_recv() {
            started |= line.starts_with("Started");
        }
        async move { started }
    })
    .await;
    let err = sync::run(
        &legacy_url,
        store,
        &sync_options(db),
        watch::channel(false).1,
        &mut |_| {},
    )
    .await
    .expect_err("in use");
    let text = err.to_string();
    assert!(matches!(err, SyncError::SlotInUse { .. }), "{text}");
    assert!(
        text.starts_with(
            "the replication slot `acme_test_sync_in_use` is in use by another process (pid "
        ),
        "{text}"
    );
    stop.send(true).expect("stop");
    first
        .await
        .expect("task")
        .expect("first sync stops cleanly");
}

#[tokio::test]
async fn a_county_without_stores_is_refused() {
    let (url, _admin) = seeded("sync_no_stores").await;
    let fulton = CountyId::parse("fulton-ga").expect("county");
    let err = sync::prepare(
        &url.parse().expect("url"),
        &fulton,
        &SlotName::for_county(&fulton),
    )
    .await
    .expect_err("no stores");
    assert_eq!(
        err.to_string(),
        "the legacy database has no stores with county_code `fulton-ga`: nothing to sync (is the county id right?)"
    );
}

/// A throwaway server of its own with `wal_level=replica` (the default the
/// test server overrides), stopped when dropped.
struct ReplicaServer {
    dir: tempfile::TempDir,
    url: String,
}

fn as_postgres(program: &str) -> std::process::Command {
    // As root, the server must run as `postgres` (see scripts/with-postgres.sh).
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        std::process::Command::new(program)
    }
}

impl ReplicaServer {
    fn start() -> Self {
        let bindir = std::env::var("ACME_TEST_PG_BINDIR")
            .expect("ACME_TEST_PG_BINDIR: run through scripts/with-postgres.sh");
        let dir = tempfile::tempdir().expect("tmp");
        let _ = std::process::Command::new("chown")
            .args(["postgres"])
            .arg(dir.path())
            .status();
        let data = dir.path().join("data");
        let ok = as_postgres(&format!("{bindir}/initdb"))
            .arg("-D")
            .arg(&data)
            .args(["--no-sync", "-A", "trust", "-U", "postgres"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("initdb");
        assert!(ok.success(), "initdb");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c wal_level=replica",
            dir.path().display()
        );
        let ok = as_postgres(&format!("{bindir}/pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.path().join("log"))
            .args(["-w", "-o", &opts, "start"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("pg_ctl");
        assert!(ok.success(), "pg_ctl start");
        ReplicaServer {
            dir,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        }
    }
}

impl Drop for ReplicaServer {
    fn drop(&mut self) {
        let bindir = std::env::var("ACME_TEST_PG_BINDIR").unwrap_or_default();
        let _ = as_postgres(&format!("{bindir}/pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .stdout(std::process::Stdio::null())
            .status();
    }
}

#[tokio::test]
async fn a_source_without_logical_wal_is_refused_naming_the_setting() {
    let server = ReplicaServer::start();
    let client = common::connect(&server.url).await;
    client
        .batch_execute(include_str!("../sql/legacy-schema.sql"))
        .await
        .expect("schema");
    client
        .batch_execute(
            "INSERT INTO stores VALUES ('AUS-1', 'travis-tx', 'Austin', 'America/Chicago')",
        )
        .await
        .expect("store");
    let err = sync::prepare(
        &server.url.parse().expect("url"),
        &county(),
        &SlotName::for_county(&county()),
    )
    .await
    .expect_err("wal_level=replica");
    let text = err.to_string();
    assert!(matches!(err, SyncError::WalLevel { .. }), "{text}");
    assert!(
        text.contains("runs with wal_level=replica; the change capture reads a logical replication slot, which needs wal_level=logical (on RDS: the parameter rds.logical_replication=1)"),
        "{text}"
    );
}

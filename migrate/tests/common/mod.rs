//! A fresh database per test in the PostgreSQL that `scripts/with-postgres.sh`
//! started, with the legacy schema loaded; the county's tables on the
//! emulator; and the steps the backfill and change-capture tests share.

#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use acme_migrate::backfill::{self, BackfillError, Options as BackfillOptions, Progress, Report};
use acme_migrate::limit::WcuBudget;
use acme_migrate::read::Shard;
use acme_migrate::source::Legacy;
use acme_migrate::sync::slot::SlotName;
use acme_migrate::write::{Retry, Writer};
use order_domain::CountyId;
use order_domain::store::{Item, Store, Table, TableNames};
use tokio_postgres::{Client, NoTls};

/// travis-tx: the county the fixtures' stores are in.
pub fn county() -> CountyId {
    CountyId::parse("travis-tx").expect("county")
}

/// The server's URL. Fails (never skips) when the test runs without one.
pub fn server_url() -> String {
    std::env::var("ACME_TEST_LEGACY_URL").unwrap_or_else(|_| {
        panic!(
            "ACME_TEST_LEGACY_URL is not set: run the tests through \
             `scripts/with-postgres.sh` (make test does)"
        )
    })
}

/// A new, empty database named after the test, with the legacy schema; its URL.
pub async fn legacy_db(name: &str) -> (String, Client) {
    let admin = connect(&server_url()).await;
    // Two round trips: a multi-statement string is one implicit
    // transaction, which DROP/CREATE DATABASE refuse.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin
            .simple_query(&sql)
            .await
            .expect("create the test database");
    }
    let server = server_url();
    let (base, _) = server.rsplit_once('/').expect("URL ends in /database");
    let url = format!("{base}/{name}");
    let client = connect(&url).await;
    client
        .batch_execute(include_str!("../../sql/legacy-schema.sql"))
        .await
        .expect("load the legacy schema");
    (url, client)
}

/// A new database `db` holding the messy county
/// (`fixtures/messy-county.sql`); its URL.
pub async fn messy_county(db: &str) -> String {
    let (url, client) = legacy_db(db).await;
    client
        .batch_execute(include_str!("../fixtures/messy-county.sql"))
        .await
        .expect("load the messy county");
    url
}

pub async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    client
}

/// travis-tx's tables, provisioned on the emulator `scripts/with-moto.sh`
/// started, as the local runner provisions them. Fails (never skips) without
/// one.
pub async fn county_tables() -> (aws_sdk_dynamodb::Client, order_domain::store::TableNames) {
    use acme_local::provision::{Clients, new_run_id, provision};
    use acme_local::stack::CountyStack;

    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        panic!("AWS_ENDPOINT_URL is not set: run through scripts/with-moto.sh (make test does)");
    }
    let sdk = aws_config::load_from_env().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let environments = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
    let stack = CountyStack::load(&environments, "travis-tx").expect("the sample county");
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
    .expect("provision the county on the emulator");
    let tables = resources.table_names().expect("tables");
    (client, tables)
}

/// The replication slot of the test database `db`: its own, so tests on one
/// server never share a slot.
pub fn slot(db: &str) -> SlotName {
    SlotName::parse(&format!("acme_test_{db}")).expect("slot")
}

/// Whether the slot of `db` has applied everything written so far.
pub async fn caught_up(admin: &Client, db: &str) -> bool {
    admin
        .query_one(
            "SELECT confirmed_flush_lsn >= pg_current_wal_flush_lsn() FROM pg_replication_slots
             WHERE slot_name::text = $1",
            &[&slot(db).as_str()],
        )
        .await
        .expect("slot")
        .get(0)
}

/// Waits for `cond` until `deadline`, checking every 20 ms.
pub async fn until<F, Fut>(what: &str, deadline: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// travis-tx's tables on the emulator, and the client that reaches them.
pub struct County {
    pub client: aws_sdk_dynamodb::Client,
    pub tables: TableNames,
}

impl County {
    pub async fn provision() -> Self {
        let (client, tables) = county_tables().await;
        County { client, tables }
    }
}

/// Every item of `table` (one page: the fixtures are small), in a stable
/// order.
pub async fn scan(c: &County, table: Table) -> Vec<Item> {
    let out = c
        .client
        .scan()
        .table_name(c.tables.name(table).expect("the table is configured"))
        .send()
        .await
        .expect("scan");
    let mut items: Vec<Item> = out
        .items()
        .iter()
        .map(|i| order_aws::convert::item_from_sdk(i).expect("item"))
        .collect();
    items.sort_by_key(|i| format!("{i:?}"));
    items
}

/// A backfill of the whole county, `page_size` orders a page, its
/// checkpoint in `dir`.
pub fn backfill_options(dir: &Path, page_size: i64) -> BackfillOptions {
    BackfillOptions {
        county: county(),
        shard: Shard::WHOLE,
        page_size,
        gsi_write_shards: 4,
        checkpoint: dir.join("checkpoint.json"),
        resume: false,
    }
}

/// The backfill `opts` describe, from `url` into `store`, retrying a refused
/// write at once (the tests' stores refuse on purpose; waiting proves nothing).
pub async fn run_backfill<S: Store>(
    url: &str,
    store: S,
    opts: &BackfillOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, BackfillError> {
    let mut legacy = Legacy::connect(&url.parse().expect("url"))
        .await
        .expect("connect");
    let retry = Retry {
        attempts: 3,
        base: Duration::from_millis(1),
        cap: Duration::from_millis(2),
    };
    let mut writer = Writer::new(store, WcuBudget::new(None), retry);
    backfill::run(&mut legacy, &mut writer, opts, progress).await
}

/// The county in the legacy database at `url` backfilled into `store`, 50
/// orders a page, its checkpoint in `dir`.
pub async fn backfill<S: Store>(url: &str, store: S, dir: &Path) {
    let mut legacy = Legacy::connect(&url.parse().expect("url"))
        .await
        .expect("connect");
    let mut writer = Writer::new(store, WcuBudget::new(None), Retry::default());
    backfill::run(
        &mut legacy,
        &mut writer,
        &backfill_options(dir, 50),
        &mut |_| {},
    )
    .await
    .expect("backfill");
}

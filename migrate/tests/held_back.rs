//! Legacy orders the change capture holds back in mode `dynamo` are kept in
//! the legacy database (`acme_sync.held_back`): they survive a restart of
//! the sync, a rollback applies each once and empties the table, and a sync
//! that dies after recording them but before its slot moved holds them again
//! on re-delivery without duplicating anything. Real PostgreSQL and moto:
//! run through `scripts/with-moto.sh scripts/with-postgres.sh`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use acme_contract::migration::{CutoverMode, held_back};
use acme_migrate::backfill::{self, Options as BackfillOptions};
use acme_migrate::limit::WcuBudget;
use acme_migrate::map::order_id;
use acme_migrate::read::Shard;
use acme_migrate::source::{Legacy, LegacyUrl};
use acme_migrate::sync::slot::SlotName;
use acme_migrate::sync::{self, Event, Options, SyncError, Totals};
use acme_migrate::write::{Retry, Writer};
use order_aws::DynamoStore;
use order_domain::codec::{order_from_item, order_key};
use order_domain::store::{
    Delete, Item, Page, Put, Query, Store, StoreError, Table, TableNames, Transaction, Update,
};
use order_domain::{CountyId, OrderStatus};
use tokio::sync::{mpsc, watch};
use tokio_postgres::Client;

const COUNTY: &str = "travis-tx";

fn county() -> CountyId {
    CountyId::parse(COUNTY).expect("county")
}

fn slot(db: &str) -> SlotName {
    SlotName::parse(&format!("acme_test_{db}")).expect("slot")
}

/// A county of 20 CONFIRMED orders (history: the new system's once the
/// county is cut over), its slot prepared, backfilled into fresh tables.
struct World {
    db: &'static str,
    url: String,
    pg: Client,
    store: DynamoStore,
    ddb: aws_sdk_dynamodb::Client,
    tables: TableNames,
    _dir: tempfile::TempDir,
}

async fn world(db: &'static str) -> World {
    let (url, pg) = common::legacy_db(db).await;
    pg.batch_execute(
        "INSERT INTO stores VALUES ('AUS-1', 'travis-tx', 'Austin', 'America/Chicago');
         INSERT INTO customers SELECT g, NULL, NULL, NULL, NULL, now() FROM generate_series(1, 5) g;
         INSERT INTO orders SELECT g, 'req-' || g, 1 + g % 5, 'AUS-1', 'CONFIRMED', 10.00, 'USD',
             NULL, timestamp '2024-01-01 00:00' + g * interval '1 hour', now()
           FROM generate_series(1, 20) g;
         INSERT INTO order_lines SELECT g, 1, 'SKU-' || (g % 5), 1, 10.00 FROM generate_series(1, 20) g;",
    )
    .await
    .expect("seed");
    let (ddb, tables) = common::county_tables().await;
    let store = DynamoStore::new(ddb.clone(), tables.clone());
    let legacy_url: LegacyUrl = url.parse().expect("url");
    sync::prepare(&legacy_url, &county(), &slot(db))
        .await
        .expect("slot");
    let dir = tempfile::tempdir().expect("dir");
    let mut legacy = Legacy::connect(&legacy_url).await.expect("connect");
    let mut writer = Writer::new(store.clone(), WcuBudget::new(None), Retry::default());
    let opts = BackfillOptions {
        county: county(),
        shard: Shard::WHOLE,
        page_size: 50,
        gsi_write_shards: 4,
        checkpoint: dir.path().join("checkpoint.json"),
        resume: false,
    };
    backfill::run(&mut legacy, &mut writer, &opts, &mut |_| {})
        .await
        .expect("backfill");
    World {
        db,
        url,
        pg,
        store,
        ddb,
        tables,
        _dir: dir,
    }
}

type SyncTask = tokio::task::JoinHandle<Result<Totals, SyncError>>;

/// The sync over `store` in the mode `mode` holds; its notes come back as lines.
fn start_sync<S: Store + Clone + 'static>(
    w: &World,
    store: S,
    mode: watch::Receiver<Option<CutoverMode>>,
    notes: mpsc::UnboundedSender<String>,
) -> (watch::Sender<bool>, SyncTask) {
    let url: LegacyUrl = w.url.parse().expect("url");
    let opts = Options {
        county: county(),
        slot: slot(w.db),
        gsi_write_shards: 4,
        batch_changes: 200,
        poll: Duration::from_millis(50),
        concurrency: 8,
        reconnect_max: Duration::from_secs(1),
    };
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut on = |e: Event<'_>| {
            if let Event::Note(n) = e {
                let _ = notes.send(n.to_owned());
            }
        };
        sync::run_in_mode(&url, store, &opts, mode, stop, &mut on).await
    });
    (stop_tx, task)
}

async fn until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn caught_up(w: &World) -> bool {
    w.pg.query_one(
        "SELECT confirmed_flush_lsn >= pg_current_wal_flush_lsn() FROM pg_replication_slots
         WHERE slot_name::text = $1",
        &[&slot(w.db).as_str()],
    )
    .await
    .expect("slot")
    .get(0)
}

/// The held rows as the table holds them: number, first and last held at (µs).
async fn held_rows(w: &World) -> Vec<(i64, i64, i64)> {
    let sql = format!(
        "SELECT {n}, (extract(epoch FROM {f}) * 1e6)::bigint, (extract(epoch FROM {l}) * 1e6)::bigint
         FROM {t} WHERE {c} = $1 ORDER BY {n}",
        n = held_back::LEGACY_NUMBER,
        f = held_back::FIRST_HELD_AT,
        l = held_back::LAST_HELD_AT,
        t = held_back::TABLE,
        c = held_back::COUNTY,
    );
    w.pg.query(&sql, &[&COUNTY])
        .await
        .expect("held rows")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// What `migrate status` shows as held back.
async fn status_count(w: &World) -> u64 {
    let legacy = Legacy::connect(&w.url.parse().expect("url"))
        .await
        .expect("connect");
    sync::held::count(&legacy, COUNTY).await.expect("count")
}

async fn status_of(w: &World, legacy_number: i64) -> OrderStatus {
    let key = order_key(&order_id::from_legacy(legacy_number));
    let item = w
        .store
        .get(Table::OrderById, key, true)
        .await
        .expect("get")
        .expect("the order is in DynamoDB");
    order_from_item(&item).expect("order").status
}

async fn verify(w: &World) -> u64 {
    let mut legacy = Legacy::connect(&w.url.parse().expect("url"))
        .await
        .expect("connect");
    let opts = acme_migrate::verify::Options {
        county: county(),
        gsi_write_shards: 4,
        page_size: 50,
    };
    let r = acme_migrate::verify::run(&mut legacy, &w.store, &opts)
        .await
        .expect("verify");
    r.differences_total + r.customer_differences_total
}

fn drain(rx: &mut mpsc::UnboundedReceiver<String>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(l) = rx.try_recv() {
        out.push(l);
    }
    out
}

async fn refund(w: &World, orders: &[i64]) {
    for n in orders {
        w.pg.execute(
            "UPDATE orders SET status = 'REFUNDED', updated_at = now() WHERE order_id = $1",
            &[n],
        )
        .await
        .expect("legacy refund");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn held_orders_survive_a_restart_and_a_rollback_applies_each_once() {
    let w = world("held_back_restart").await;
    let (mode_tx, mode) = watch::channel(Some(CutoverMode::Dynamo));
    let (notes_tx, mut notes) = mpsc::unbounded_channel();

    // In dynamo, legacy refunds of history are held back (order 6 twice).
    let (stop, task) = start_sync(&w, w.store.clone(), mode.clone(), notes_tx.clone());
    refund(&w, &[5, 6, 6]).await;
    until("caught up", || caught_up(&w)).await;
    assert_eq!(status_of(&w, 5).await, OrderStatus::Confirmed, "held");
    let rows = held_rows(&w).await;
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        [5, 6],
        "{rows:?}"
    );
    assert_eq!(status_count(&w).await, 2);
    stop.send(true).expect("stop");
    let totals = task.await.expect("join").expect("sync");
    assert_eq!(
        (totals.held_back, totals.held_applied),
        (2, 0),
        "{totals:?}"
    );

    // While it is down the legacy system refunds another; the restarted
    // sync starts from the table and holds that one too.
    refund(&w, &[7]).await;
    let (stop, task) = start_sync(&w, w.store.clone(), mode.clone(), notes_tx.clone());
    until("caught up", || caught_up(&w)).await;
    assert_eq!(
        held_rows(&w).await.iter().map(|r| r.0).collect::<Vec<_>>(),
        [5, 6, 7]
    );
    assert_eq!(status_count(&w).await, 3);
    assert!(
        drain(&mut notes)
            .iter()
            .any(|n| n
                == "2 legacy order(s) held back in dynamo, as recorded in acme_sync.held_back"),
        "the restart read the table"
    );

    // Rollback: each applied, the table emptied.
    mode_tx.send(Some(CutoverMode::Shadow)).expect("mode");
    until("the held orders applied", || async {
        status_count(&w).await == 0
    })
    .await;
    for n in [5, 6, 7] {
        assert_eq!(status_of(&w, n).await, OrderStatus::Refunded, "order {n}");
    }
    assert_eq!(status_of(&w, 8).await, OrderStatus::Confirmed, "untouched");
    until("caught up", || caught_up(&w)).await;
    stop.send(true).expect("stop");
    let totals = task.await.expect("join").expect("sync");
    assert_eq!(
        (totals.held_back, totals.held_applied),
        (0, 3),
        "{totals:?}"
    );
    let seen = drain(&mut notes);
    let applying: Vec<_> = seen
        .iter()
        .filter(|n| n.starts_with("rolled back: applying"))
        .collect();
    assert_eq!(
        applying,
        ["rolled back: applying the 3 legacy order(s) held back in dynamo"]
    );
    assert_eq!(verify(&w).await, 0, "nothing lost");

    // Applied once: a sync started again finds nothing left to apply.
    let (stop, task) = start_sync(&w, w.store.clone(), mode.clone(), notes_tx.clone());
    until("caught up", || caught_up(&w)).await;
    stop.send(true).expect("stop");
    let totals = task.await.expect("join").expect("sync");
    assert_eq!(
        (totals.held_back, totals.held_applied),
        (0, 0),
        "{totals:?}"
    );
    assert!(
        !drain(&mut notes).iter().any(|n| n.contains("held back")),
        "nothing held"
    );
    assert!(held_rows(&w).await.is_empty());
}

/// The county's store whose writes fail once `fail` is set (reads pass):
/// the sync stops between recording the orders it held back and moving its
/// slot, as a process killed at that moment would.
#[derive(Clone)]
struct FailingWrites {
    inner: DynamoStore,
    fail: Arc<AtomicBool>,
}

impl FailingWrites {
    fn check(&self) -> Result<(), StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Validation("the process died here".into()));
        }
        Ok(())
    }
}

impl Store for FailingWrites {
    async fn transact(&self, tx: Transaction) -> Result<(), StoreError> {
        self.check()?;
        self.inner.transact(tx).await
    }
    async fn get(
        &self,
        table: Table,
        key: Item,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        self.inner.get(table, key, consistent).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn put(&self, put: Put) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put(put).await
    }
    async fn update(&self, update: Update) -> Result<Item, StoreError> {
        self.check()?;
        self.inner.update(update).await
    }
    async fn delete(&self, delete: Delete) -> Result<Option<Item>, StoreError> {
        self.check()?;
        self.inner.delete(delete).await
    }
    async fn batch_put(&self, table: Table, items: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        self.check()?;
        self.inner.batch_put(table, items).await
    }
}

/// How many Orders summaries name the order.
async fn summaries(w: &World, legacy_number: i64) -> usize {
    let id = order_id::from_legacy(legacy_number).to_string();
    let out = w
        .ddb
        .scan()
        .table_name(w.tables.name(Table::Orders).expect("table"))
        .filter_expression("order_id = :id")
        .expression_attribute_values(":id", aws_sdk_dynamodb::types::AttributeValue::S(id))
        .send()
        .await
        .expect("scan");
    out.items().len()
}

/// The slot still holds the refund of `legacy_number` (it did not move).
async fn in_slot(w: &World, legacy_number: i64) -> bool {
    let pattern = format!("table public.orders: UPDATE: order_id[bigint]:{legacy_number} %");
    // The dead sync's session may hold the slot for a moment longer.
    w.pg.query_one(
        "SELECT count(*) FROM pg_logical_slot_peek_changes($1, NULL, NULL) WHERE data LIKE $2",
        &[&slot(w.db).as_str(), &pattern],
    )
    .await
    .is_ok_and(|r| r.get::<_, i64>(0) == 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sync_dead_before_its_slot_moved_holds_again_without_duplicates() {
    let w = world("held_back_redelivery").await;
    let (mode_tx, mode) = watch::channel(Some(CutoverMode::Dynamo));
    let (notes_tx, _notes) = mpsc::unbounded_channel();

    // One legacy transaction: a refund of history (held) and a new legacy
    // order (applied and flagged), whose write is where the process dies.
    let failing = FailingWrites {
        inner: w.store.clone(),
        fail: Arc::new(AtomicBool::new(true)),
    };
    let (_stop, task) = start_sync(&w, failing, mode.clone(), notes_tx.clone());
    w.pg.batch_execute(
        "UPDATE orders SET status = 'REFUNDED', updated_at = now() WHERE order_id = 9;
         INSERT INTO orders VALUES (2001, NULL, 1, 'AUS-1', 'NEW', 10.00, 'USD', NULL,
             timestamp '2025-01-01 00:00', now());
         INSERT INTO order_lines VALUES (2001, 1, 'SKU-1', 1, 10.00);",
    )
    .await
    .expect("legacy writes");
    let died = task.await.expect("join");
    assert!(matches!(died, Err(SyncError::Write(_))), "{died:?}");
    let first = held_rows(&w).await;
    assert_eq!(
        first.iter().map(|r| r.0).collect::<Vec<_>>(),
        [9],
        "recorded"
    );
    until("the change still in the slot", || in_slot(&w, 9)).await;
    assert_eq!(summaries(&w, 2001).await, 0, "nothing written");

    // Restarted: the same change again, held again in the same row.
    let (stop, task) = start_sync(&w, w.store.clone(), mode.clone(), notes_tx.clone());
    until("caught up", || caught_up(&w)).await;
    let again = held_rows(&w).await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].0, 9);
    assert_eq!(again[0].1, first[0].1, "first_held_at kept");
    assert!(
        again[0].2 > first[0].2,
        "held again on re-delivery: {again:?}"
    );
    assert_eq!(status_count(&w).await, 1);
    assert_eq!(status_of(&w, 9).await, OrderStatus::Confirmed, "held");
    assert_eq!(summaries(&w, 2001).await, 1, "the new legacy order once");

    // Rollback: applied once, the table empty, verify clean.
    mode_tx.send(Some(CutoverMode::Shadow)).expect("mode");
    until("the held order applied", || async {
        status_count(&w).await == 0
    })
    .await;
    assert_eq!(status_of(&w, 9).await, OrderStatus::Refunded);
    until("caught up", || caught_up(&w)).await;
    stop.send(true).expect("stop");
    let totals = task.await.expect("join").expect("sync");
    assert_eq!(totals.held_applied, 1, "{totals:?}");
    assert_eq!(summaries(&w, 2001).await, 1);
    assert_eq!(verify(&w).await, 0);
}

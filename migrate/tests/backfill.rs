//! The backfill end to end: the messy county from a real PostgreSQL into
//! the county's tables on the emulator (moto), through the same DynamoDB
//! adapter the functions use. Needs `scripts/with-moto.sh` and
//! `scripts/with-postgres.sh` (make test runs both).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use acme_migrate::backfill::{BackfillError, Options, Report};
use acme_migrate::map::order_id;
use acme_migrate::source::Legacy;
use common::{County, backfill_options, run_backfill, scan};
use order_aws::DynamoStore;
use order_domain::codec::order_from_item;
use order_domain::store::{
    Delete, Item, Page, Put, Query, Store, StoreError, Table, Transaction, Update,
};
use order_domain::{CountyId, OrderStatus};

/// The backfill `opts` describe, to its end or its error.
async fn backfill<S: Store>(url: &str, store: S, opts: &Options) -> Result<Report, BackfillError> {
    run_backfill(url, store, opts, &mut |_| {}).await
}

#[tokio::test]
async fn the_messy_county_lands_once_and_a_second_run_changes_nothing() {
    let url = common::messy_county("backfill_whole").await;
    let county = County::provision().await;
    let dir = tempfile::tempdir().expect("tmp");
    let store = DynamoStore::new(county.client.clone(), county.tables.clone());
    let mut opts = backfill_options(dir.path(), 4);
    let report = backfill(&url, store.clone(), &opts)
        .await
        .expect("backfill");

    assert_eq!((report.written.orders, report.written.inventory), (11, 5));
    assert_eq!(report.rejects_total, 8, "{:#?}", report.rejects);
    // Counted in the snapshot: rejects are in scope too.
    assert_eq!(
        (report.totals.orders, report.totals.inventory),
        (11 + 7, 5 + 1)
    );
    let rejected: Vec<&str> = report.rejects.iter().map(|r| r.legacy.as_str()).collect();
    assert_eq!(
        rejected,
        [
            "inventory AUS-1/GIN-1L",
            "order 1005",
            "order 1006",
            "order 1012",
            "order 1013",
            "order 1014",
            "order 1015",
            "order 1016"
        ]
    );
    assert!(report.warnings.iter().any(|w| w.legacy == "order 1002"));

    let records = scan(&county, Table::OrderById).await;
    let mut numbers: Vec<i64> = records
        .iter()
        .map(|i| {
            order_from_item(i)
                .expect("decodes")
                .legacy
                .expect("legacy")
                .number
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        [
            1001, 1002, 1003, 1004, 1007, 1008, 1009, 1010, 1011, 1017, 1018
        ]
    );
    assert_eq!(scan(&county, Table::Orders).await.len(), 11);
    let stock = scan(&county, Table::Inventory).await;
    assert_eq!(stock.len(), 5);
    let big = records
        .iter()
        .map(|i| order_from_item(i).expect("decodes"))
        .find(|o| o.order_id == order_id::from_legacy(1011))
        .expect("1011");
    assert_eq!((big.items.len(), big.status), (150, OrderStatus::Confirmed));

    // Finished: a resumed run writes nothing; a fresh one must be asked for.
    opts.resume = true;
    let again = backfill(&url, store.clone(), &opts).await.expect("resume");
    assert_eq!((again.items, again.written.orders), (0, 11));
    opts.resume = false;
    let err = backfill(&url, store, &opts)
        .await
        .expect_err("checkpoint exists");
    assert!(err.to_string().contains("pass --resume"), "{err}");
    assert_eq!(scan(&county, Table::OrderById).await, records);
}

/// A store that admits `calls` batch writes, then refuses every one.
struct Failing {
    inner: DynamoStore,
    calls: Arc<AtomicU32>,
}

impl Store for Failing {
    async fn transact(&self, tx: Transaction) -> Result<(), StoreError> {
        self.inner.transact(tx).await
    }
    async fn get(&self, t: Table, key: Item, c: bool) -> Result<Option<Item>, StoreError> {
        self.inner.get(t, key, c).await
    }
    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        self.inner.query(q).await
    }
    async fn put(&self, p: Put) -> Result<(), StoreError> {
        self.inner.put(p).await
    }
    async fn update(&self, u: Update) -> Result<Item, StoreError> {
        self.inner.update(u).await
    }
    async fn delete(&self, d: Delete) -> Result<Option<Item>, StoreError> {
        self.inner.delete(d).await
    }
    async fn batch_put(&self, table: Table, items: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let left = self.calls.fetch_sub(1, Ordering::SeqCst);
        if left == 0 || left > u32::MAX / 2 {
            self.calls.store(0, Ordering::SeqCst);
            return Err(StoreError::Throttled(
                "ProvisionedThroughputExceededException".into(),
            ));
        }
        self.inner.batch_put(table, items).await
    }
}

#[tokio::test]
async fn a_run_stopped_midway_resumes_and_every_order_lands_exactly_once() {
    let url = common::messy_county("backfill_resume").await;
    let county = County::provision().await;
    let dir = tempfile::tempdir().expect("tmp");
    let store = DynamoStore::new(county.client.clone(), county.tables.clone());
    let mut opts = backfill_options(dir.path(), 4);
    opts.page_size = 2;
    let failing = Failing {
        inner: store.clone(),
        calls: Arc::new(AtomicU32::new(6)),
    };
    let err = backfill(&url, failing, &opts).await.expect_err("stops");
    assert!(err.to_string().contains("still throttled"), "{err}");
    let partial = scan(&county, Table::OrderById).await.len();
    assert!(partial < 11, "stopped before the end ({partial} orders)");

    opts.resume = true;
    let mut seen = Vec::new();
    let report = run_backfill(&url, store, &opts, &mut |p| seen.push(p))
        .await
        .expect("resume");
    assert_eq!(report.written.orders, 11);
    // The resumed run knows what the stopped one did: its progress starts
    // part-way and ends at every row in scope.
    let (first, last) = (seen[0], seen[seen.len() - 1]);
    assert_eq!(first.total, 29, "orders, stock rows and customers in scope");
    assert!(first.before > 0 && first.done > first.before, "{first:?}");
    assert_eq!((last.done, last.percent()), (29, 100.0));
    assert!(seen.windows(2).all(|w| w[0].done <= w[1].done));
    let records = scan(&county, Table::OrderById).await;
    assert_eq!(records.len(), 11);
    assert_eq!(scan(&county, Table::Orders).await.len(), 11);
    assert_eq!(scan(&county, Table::Inventory).await.len(), 5);
}

#[tokio::test]
async fn a_county_with_no_stores_writes_nothing_and_says_so() {
    let url = common::messy_county("backfill_nostores").await;
    let county = County::provision().await;
    let dir = tempfile::tempdir().expect("tmp");
    let store = DynamoStore::new(county.client.clone(), county.tables.clone());
    let mut opts = backfill_options(dir.path(), 4);
    opts.county = CountyId::parse("fulton-ga").expect("county");
    let err = backfill(&url, store, &opts).await.expect_err("no stores");
    assert_eq!(
        err.to_string(),
        "the legacy database has no stores with county_code `fulton-ga`: nothing to copy (is the county id right?)"
    );
    assert!(scan(&county, Table::OrderById).await.is_empty());
}

async fn verify(url: &str, store: &DynamoStore) -> acme_migrate::verify::Report {
    let mut legacy = Legacy::connect(&url.parse().expect("url"))
        .await
        .expect("connect");
    let opts = acme_migrate::verify::Options {
        county: CountyId::parse("travis-tx").expect("county"),
        gsi_write_shards: 4,
        page_size: 5,
    };
    acme_migrate::verify::run(&mut legacy, store, &opts)
        .await
        .expect("verify")
}

#[tokio::test]
async fn verify_is_clean_after_a_backfill_and_catches_a_changed_a_missing_and_an_extra_item() {
    use acme_migrate::verify::Kind;
    use order_domain::codec::{order_key, order_to_item, summary_item};
    use order_domain::store::AttrValue;

    let url = common::messy_county("verify_messy").await;
    let county = County::provision().await;
    let dir = tempfile::tempdir().expect("tmp");
    let store = DynamoStore::new(county.client.clone(), county.tables.clone());
    backfill(&url, store.clone(), &backfill_options(dir.path(), 4))
        .await
        .expect("backfill");

    let clean = verify(&url, &store).await;
    assert!(clean.is_clean(), "{:#?}", clean.differences);
    assert_eq!(
        (clean.checked, clean.matched, clean.known_rejects_total),
        (11, 11, 7)
    );
    assert_eq!(clean.known_rejects[0].legacy, "order 1005");

    // One attribute of one item changed.
    let id = order_id::from_legacy(1001);
    let mut record = store
        .get(Table::OrderById, order_key(&id), true)
        .await
        .expect("get")
        .expect("1001");
    record.insert("total_cents".into(), AttrValue::n(9999u64));
    store
        .put(Put {
            table: Table::OrderById,
            item: record,
            condition: None,
        })
        .await
        .expect("alter");
    // One item gone: 1002's summary.
    let o1002 = order_from_item(
        &store
            .get(
                Table::OrderById,
                order_key(&order_id::from_legacy(1002)),
                true,
            )
            .await
            .expect("get")
            .expect("1002"),
    )
    .expect("decodes");
    let summary = summary_item(&o1002, 4);
    store
        .delete(Delete {
            table: Table::Orders,
            key: Table::Orders.key_of(&summary).expect("key"),
            condition: None,
        })
        .await
        .expect("delete");
    // One order the legacy county never had.
    let mut extra = o1002.clone();
    extra.order_id = order_id::from_legacy(777_777);
    extra.legacy.as_mut().expect("legacy").number = 777_777;
    for (table, item) in [
        (Table::OrderById, order_to_item(&extra)),
        (Table::Orders, summary_item(&extra, 4)),
    ] {
        store
            .put(Put {
                table,
                item,
                condition: None,
            })
            .await
            .expect("extra");
    }

    let dirty = verify(&url, &store).await;
    assert!(!dirty.is_clean());
    assert_eq!(dirty.differences_total, 3, "{:#?}", dirty.differences);
    let found: Vec<(i64, Kind, &str)> = dirty
        .differences
        .iter()
        .map(|d| (d.legacy_order_id, d.kind, d.table.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (1001, Kind::Different, "OrderById"),
            (1002, Kind::Missing, "Orders"),
            (777_777, Kind::Extra, "Orders")
        ]
    );
    let changed = &dirty.differences[0];
    assert_eq!(changed.order_id, id.to_string());
    assert_eq!(changed.fields.len(), 1, "{:#?}", changed.fields);
    assert_eq!(changed.fields[0].attribute, "total_cents");
    assert_eq!(changed.fields[0].legacy.as_deref(), Some(r#"{"N":"2548"}"#));
    assert_eq!(changed.fields[0].dynamo.as_deref(), Some(r#"{"N":"9999"}"#));
    assert_ne!(changed.legacy_hash, changed.dynamo_hash);
    assert_eq!(dirty.known_rejects_total, 7);
}

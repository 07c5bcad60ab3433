//! Customers' PII on the backfill: the messy county's customers from a real
//! PostgreSQL into the county's Customers table on the emulator, through the
//! profile's own item definition, on their own key; nothing of it in Orders
//! or OrderById items; resumable; and `migrate verify` comparing profiles.
//! Needs `scripts/with-moto.sh` and `scripts/with-postgres.sh`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use acme_migrate::backfill::{BackfillError, Options, Report};
use acme_migrate::source::Legacy;
use acme_migrate::verify::Kind;
use common::{County, backfill_options, run_backfill, scan};
use order_aws::DynamoStore;
use order_domain::CountyId;
use order_domain::store::{
    AttrValue, Delete, Item, Page, Put, Query, Store, StoreError, Table, Transaction, Update,
};

/// The backfill `opts` describe, to its end or its error.
async fn backfill<S: Store>(url: &str, store: S, opts: &Options) -> Result<Report, BackfillError> {
    run_backfill(url, store, opts, &mut |_| {}).await
}

fn s(v: &str) -> AttrValue {
    AttrValue::S(v.to_owned())
}

fn n(v: i64) -> AttrValue {
    AttrValue::N(v.to_string())
}

/// The Customers items the messy county's rows must become, attribute by
/// attribute: NULLs absent, every string exactly as the legacy row holds it.
fn expected_profiles() -> Vec<Item> {
    let profile = |id: i64, created: &str, pii: &[(&str, &str)]| -> Item {
        let mut item: Item = [
            ("customer_id".to_owned(), s(&id.to_string())),
            ("legacy_customer_id".to_owned(), n(id)),
            ("created_at".to_owned(), s(created)),
            ("updated_at".to_owned(), s(created)),
        ]
        .into();
        for (k, v) in pii {
            item.insert((*k).to_owned(), s(v));
        }
        item
    };
    let mut items = vec![
        profile(
            1,
            "2018-05-01T12:00:00Z",
            &[
                ("email", "ann@example.com"),
                ("full_name", "Ann Example"),
                ("phone", "+1 512 555 0100"),
                ("birth_date", "1980-02-29"),
            ],
        ),
        profile(2, "2018-05-01T12:00:00Z", &[]),
        profile(
            3,
            "2019-01-01T00:00:00Z",
            &[
                ("email", "zoe@example.com"),
                ("full_name", "Zoë Ñúñez 山田"),
                ("birth_date", "2001-12-31"),
            ],
        ),
        profile(
            4,
            "2019-01-01T00:00:00Z",
            &[
                ("email", "x@example.com"),
                ("full_name", "Robert'); DROP TABLE orders; --"),
            ],
        ),
        profile(
            5,
            "2019-01-01T00:00:00Z",
            &[
                ("email", "<script>@example.com"),
                ("full_name", "<script>alert(1)</script>"),
                ("phone", "555"),
                ("birth_date", "1990-06-15"),
            ],
        ),
    ];
    items.sort_by_key(|i| format!("{i:?}"));
    items
}

/// Every customer's e-mail and name in the fixture, the other county's too.
const PII: &[&str] = &[
    "ann@example.com",
    "Ann Example",
    "zoe@example.com",
    "Zoë Ñúñez 山田",
    "x@example.com",
    "DROP TABLE orders",
    "<script>@example.com",
    "<script>alert(1)</script>",
    "sea@example.com",
    "Only in Seattle",
];

/// A store whose Customers batch writes are throttled while `left` lasts.
struct ThrottledProfiles {
    inner: DynamoStore,
    left: Arc<AtomicU32>,
}

impl Store for ThrottledProfiles {
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
        if table == Table::Customers
            && self
                .left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(1))
                .is_ok()
        {
            return Err(StoreError::Throttled(
                "ProvisionedThroughputExceededException".into(),
            ));
        }
        self.inner.batch_put(table, items).await
    }
}

#[tokio::test]
async fn customers_land_on_their_own_key_exactly_and_never_in_order_items() {
    let url = common::messy_county("customers_whole").await;
    let county = County::provision().await;
    let dir = tempfile::tempdir().expect("tmp");
    let store = DynamoStore::new(county.client.clone(), county.tables.clone());
    let mut opts = backfill_options(dir.path(), 2);
    let report = backfill(&url, store.clone(), &opts)
        .await
        .expect("backfill");
    assert_eq!(
        (
            report.written.orders,
            report.written.customers,
            report.written.inventory
        ),
        (11, 5, 5)
    );
    let profiles = scan(&county, Table::Customers).await;
    assert_eq!(profiles, expected_profiles());

    // The orders carry the customer's id, which is the profile's key.
    let orders = scan(&county, Table::Orders).await;
    let records = scan(&county, Table::OrderById).await;
    for item in orders.iter().chain(&records) {
        let text = serde_json::to_string(item).expect("json");
        for pii in PII {
            assert!(!text.contains(pii), "{pii:?} in an order item: {text}");
        }
        let customer = item["customer_id"].as_s().expect("customer id");
        assert!(
            profiles
                .iter()
                .any(|p| p["customer_id"].as_s() == Some(customer)),
            "no profile for customer {customer}"
        );
    }
    let report_text = serde_json::to_string(&report).expect("report json");
    for pii in PII {
        assert!(!report_text.contains(pii), "{pii:?} in the report");
    }

    // Re-running a finished backfill writes nothing; a fresh run puts the
    // same items again.
    opts.resume = true;
    let again = backfill(&url, store.clone(), &opts).await.expect("resume");
    assert_eq!((again.items, again.written.customers), (0, 5));
    std::fs::remove_file(&opts.checkpoint).expect("start over");
    opts.resume = false;
    backfill(&url, store, &opts).await.expect("rerun");
    assert_eq!(scan(&county, Table::Customers).await, expected_profiles());
}

#[tokio::test]
async fn a_run_stopped_among_the_customers_resumes_and_each_lands_once() {
    let url = common::messy_county("customers_resume").await;
    let county = County::provision().await;
    let dir = tempfile::tempdir().expect("tmp");
    let store = DynamoStore::new(county.client.clone(), county.tables.clone());
    let mut opts = backfill_options(dir.path(), 2);
    // The first page of profiles is written; the second is throttled past
    // the writer's three attempts, and the run stops.
    let stopped = ThrottledProfiles {
        inner: store.clone(),
        left: Arc::new(AtomicU32::new(0)),
    };
    let first_page = Arc::clone(&stopped.left);
    let err = run_backfill(&url, stopped, &opts, &mut |p| {
        if p.phase == "customers" && p.rows > 0 {
            first_page.store(u32::MAX, Ordering::SeqCst);
        }
    })
    .await
    .expect_err("stops among the customers");
    assert!(err.to_string().contains("still throttled"), "{err}");
    assert_eq!(scan(&county, Table::Customers).await.len(), 2);

    opts.resume = true;
    let report = backfill(&url, store, &opts).await.expect("resume");
    assert_eq!((report.written.orders, report.written.customers), (11, 5));
    assert_eq!(scan(&county, Table::Customers).await, expected_profiles());
}

#[tokio::test]
async fn verify_compares_profiles_and_names_attributes_never_values() {
    use order_domain::customer::customer_key;

    let url = common::messy_county("customers_verify").await;
    let county = County::provision().await;
    let dir = tempfile::tempdir().expect("tmp");
    let store = DynamoStore::new(county.client.clone(), county.tables.clone());
    backfill(&url, store.clone(), &backfill_options(dir.path(), 2))
        .await
        .expect("backfill");
    let mut legacy = Legacy::connect(&url.parse().expect("url"))
        .await
        .expect("connect");
    let opts = acme_migrate::verify::Options {
        county: CountyId::parse("travis-tx").expect("county"),
        gsi_write_shards: 4,
        page_size: 3,
    };
    let clean = acme_migrate::verify::run(&mut legacy, &store, &opts)
        .await
        .expect("verify");
    assert!(clean.is_clean(), "{:#?}", clean.customer_differences);
    assert_eq!((clean.customers_checked, clean.customers_matched), (5, 5));

    // One profile's e-mail changed, another's gone.
    let id3 = order_domain::legacy::customer_id(3);
    let mut zoe = store
        .get(Table::Customers, customer_key(&id3), true)
        .await
        .expect("get")
        .expect("customer 3");
    zoe.insert("email".into(), s("zoe@elsewhere.example"));
    store
        .put(Put {
            table: Table::Customers,
            item: zoe,
            condition: None,
        })
        .await
        .expect("alter");
    store
        .delete(Delete {
            table: Table::Customers,
            key: customer_key(&order_domain::legacy::customer_id(5)),
            condition: None,
        })
        .await
        .expect("delete");

    let dirty = acme_migrate::verify::run(&mut legacy, &store, &opts)
        .await
        .expect("verify");
    assert!(!dirty.is_clean());
    assert_eq!(dirty.differences_total, 0);
    let found: Vec<(i64, Kind, Vec<String>)> = dirty
        .customer_differences
        .iter()
        .map(|d| (d.legacy_customer_id, d.kind, d.attributes.clone()))
        .collect();
    assert_eq!(
        found,
        [
            (3, Kind::Different, vec!["email".to_owned()]),
            (5, Kind::Missing, vec![])
        ]
    );
    let text = serde_json::to_string(&dirty).expect("json");
    assert!(!text.contains("zoe@"), "{text}");
}

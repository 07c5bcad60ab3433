//! `migrate verify`: every in-scope legacy order compared with its items in
//! the county's tables, both ways.
//!
//! The canonical form of an order is the items the backfill would write for
//! it now (the mapping is deterministic): its OrderById record and its Orders
//! summary. Each is compared with what the table holds, by a SHA-256 over
//! the item's canonical JSON and, when they differ, attribute by attribute.
//! Orders the mapping rejects are listed apart as known rejects. Migrated
//! orders in the county index whose legacy number the legacy county does not
//! have are extra.
//!
//! Customers with orders in the county are compared the same way, profile by
//! profile, with their Customers items (missing or different). Their
//! differences name the attributes only, never the values: they are PII. An
//! extra profile cannot be told from one made through the API, and finding
//! one would take a scan of the table: not checked.

use std::collections::HashSet;

use order_domain::customer::customer_key;
use order_domain::store::{Index, Item, Query, Store, StoreError, Table};
use order_domain::{CountyId, OrderId, keys};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::backfill::{LISTED_MAX, Note};
use crate::customer;
use crate::map::order_id;
use crate::order::{county_stores, items, map_in_county};
use crate::read::Shard;
use crate::source::{Legacy, SourceError};

#[derive(Debug, Clone)]
pub struct Options {
    pub county: CountyId,
    pub gsi_write_shards: u32,
    pub page_size: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// In the legacy database, not in the table.
    Missing,
    /// In the table, not in the legacy database.
    Extra,
    /// In both, with different values.
    Different,
}

/// One attribute that differs: the legacy side (as mapped) and DynamoDB's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub attribute: String,
    pub legacy: Option<String>,
    pub dynamo: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub legacy_order_id: i64,
    pub order_id: String,
    pub table: String,
    pub kind: Kind,
    /// Hashes of the canonical forms, legacy side then DynamoDB's.
    pub legacy_hash: Option<String>,
    pub dynamo_hash: Option<String>,
    pub fields: Vec<Field>,
}

/// A customer's profile that differs from the legacy row, by attribute
/// name only (the values are PII).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerDifference {
    pub legacy_customer_id: i64,
    pub customer_id: String,
    pub kind: Kind,
    pub legacy_hash: String,
    pub dynamo_hash: Option<String>,
    pub attributes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub county: String,
    pub snapshot: String,
    /// Legacy orders mapped and compared.
    pub checked: u64,
    pub matched: u64,
    pub differences: Vec<Difference>,
    pub differences_total: u64,
    /// Customers with orders in the county, mapped and compared.
    pub customers_checked: u64,
    pub customers_matched: u64,
    pub customer_differences: Vec<CustomerDifference>,
    pub customer_differences_total: u64,
    pub known_rejects: Vec<Note>,
    pub known_rejects_total: u64,
}

impl Report {
    /// No difference (known rejects do not count).
    pub fn is_clean(&self) -> bool {
        self.differences_total == 0 && self.customer_differences_total == 0
    }

    fn known_reject(&mut self, legacy: String, message: String) {
        self.known_rejects_total += 1;
        if self.known_rejects.len() < LISTED_MAX {
            self.known_rejects.push(Note { legacy, message });
        }
    }

    fn customer_differs(&mut self, d: CustomerDifference) {
        self.customer_differences_total += 1;
        if self.customer_differences.len() < LISTED_MAX {
            self.customer_differences.push(d);
        }
    }

    fn differ(&mut self, d: Difference) {
        self.differences_total += 1;
        if self.differences.len() < LISTED_MAX {
            self.differences.push(d);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("reading the county's tables failed: {0}")]
    Store(#[from] StoreError),
    #[error("the legacy database has no stores with county_code `{0}`: nothing to verify")]
    NoStores(String),
}

/// SHA-256 of an item's canonical JSON (attributes in name order).
pub fn canonical_hash(item: &Item) -> String {
    let json = serde_json::to_vec(item).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

/// Compares the county's legacy orders with its tables.
pub async fn run<S: Store>(
    legacy: &mut Legacy,
    store: &S,
    opts: &Options,
) -> Result<Report, VerifyError> {
    let snap = legacy.snapshot().await?;
    let stores = county_stores(&snap, &opts.county)
        .await?
        .ok_or_else(|| VerifyError::NoStores(opts.county.to_string()))?;
    let mut report = Report {
        county: opts.county.to_string(),
        snapshot: snap.id.clone(),
        checked: 0,
        matched: 0,
        differences: Vec::new(),
        differences_total: 0,
        customers_checked: 0,
        customers_matched: 0,
        customer_differences: Vec::new(),
        customer_differences_total: 0,
        known_rejects: Vec::new(),
        known_rejects_total: 0,
    };
    let mut in_legacy = HashSet::new();
    let mut after = None;
    loop {
        let page = snap
            .orders(opts.county.as_str(), Shard::WHOLE, after, opts.page_size)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.order_id);
        for o in &page {
            in_legacy.insert(o.order_id);
            match map_in_county(o, &stores, &opts.county) {
                Ok(m) => {
                    report.checked += 1;
                    let before = report.differences_total;
                    for p in items(&m.order, opts.gsi_write_shards) {
                        compare(
                            store,
                            o.order_id,
                            &m.order.order_id,
                            p.table,
                            &p.item,
                            &mut report,
                        )
                        .await?;
                    }
                    if report.differences_total == before {
                        report.matched += 1;
                    }
                }
                Err(reason) => report.known_reject(format!("order {}", o.order_id), reason),
            }
        }
    }
    find_extra(store, opts, &in_legacy, &mut report).await?;
    compare_customers(&snap, store, opts, &mut report).await?;
    Ok(report)
}

/// Every customer with orders in the county against its profile.
async fn compare_customers<S: Store>(
    snap: &crate::source::Snapshot<'_>,
    store: &S,
    opts: &Options,
    report: &mut Report,
) -> Result<(), VerifyError> {
    let mut after = None;
    loop {
        let page = snap
            .customers(opts.county.as_str(), Shard::WHOLE, after, opts.page_size)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.customer_id);
        for row in &page {
            match customer::map_customer(row) {
                Ok(profile) => {
                    report.customers_checked += 1;
                    let expected = profile.to_item();
                    let actual = store
                        .get(Table::Customers, customer_key(&profile.customer_id), true)
                        .await?;
                    let differ = |kind, dynamo: Option<&Item>| CustomerDifference {
                        legacy_customer_id: row.customer_id,
                        customer_id: profile.customer_id.to_string(),
                        kind,
                        legacy_hash: canonical_hash(&expected),
                        dynamo_hash: dynamo.map(canonical_hash),
                        attributes: dynamo
                            .map(|a| field_diff(&expected, a))
                            .unwrap_or_default()
                            .into_iter()
                            .map(|f| f.attribute)
                            .collect(),
                    };
                    match actual {
                        None => report.customer_differs(differ(Kind::Missing, None)),
                        Some(a) if canonical_hash(&a) != canonical_hash(&expected) => {
                            report.customer_differs(differ(Kind::Different, Some(&a)));
                        }
                        Some(_) => report.customers_matched += 1,
                    }
                }
                Err(reason) => {
                    report.known_reject(format!("customer {}", row.customer_id), reason);
                }
            }
        }
    }
    Ok(())
}

async fn compare<S: Store>(
    store: &S,
    legacy_order_id: i64,
    id: &OrderId,
    table: Table,
    expected: &Item,
    report: &mut Report,
) -> Result<(), VerifyError> {
    let key = table.key_of(expected).map_err(StoreError::from)?;
    let actual = store.get(table, key, true).await?;
    let difference = |kind, dynamo: Option<&Item>, fields| Difference {
        legacy_order_id,
        order_id: id.to_string(),
        table: table.logical().to_owned(),
        kind,
        legacy_hash: Some(canonical_hash(expected)),
        dynamo_hash: dynamo.map(canonical_hash),
        fields,
    };
    match actual {
        None => report.differ(difference(Kind::Missing, None, Vec::new())),
        Some(actual) if canonical_hash(&actual) != canonical_hash(expected) => {
            let fields = field_diff(expected, &actual);
            report.differ(difference(Kind::Different, Some(&actual), fields));
        }
        Some(_) => {}
    }
    Ok(())
}

fn field_diff(expected: &Item, actual: &Item) -> Vec<Field> {
    let names: std::collections::BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    let show = |i: &Item, n: &str| {
        i.get(n)
            .map(|v| serde_json::to_string(v).unwrap_or_default())
    };
    names
        .into_iter()
        .filter(|n| expected.get(*n) != actual.get(*n))
        .map(|n| Field {
            attribute: n.clone(),
            legacy: show(expected, n),
            dynamo: show(actual, n),
        })
        .collect()
}

/// Migrated orders in the county index that the legacy county lacks.
async fn find_extra<S: Store>(
    store: &S,
    opts: &Options,
    in_legacy: &HashSet<i64>,
    report: &mut Report,
) -> Result<(), VerifyError> {
    for shard in 0..opts.gsi_write_shards {
        let mut q = Query::table(Table::Orders, keys::county_shard_key(&opts.county, shard));
        q.index = Some(Index::CountyTime);
        loop {
            let page = store.query(q.clone()).await?;
            for item in &page.items {
                let Some(id) = item
                    .get(order_domain::schema::orders::ORDER_ID)
                    .and_then(|v| v.as_s())
                    .and_then(|s| OrderId::parse(s).ok())
                else {
                    continue;
                };
                if let Some(n) = order_id::legacy_number(&id).filter(|n| !in_legacy.contains(n)) {
                    report.differ(Difference {
                        legacy_order_id: n,
                        order_id: id.to_string(),
                        table: Table::Orders.logical().to_owned(),
                        kind: Kind::Extra,
                        legacy_hash: None,
                        dynamo_hash: Some(canonical_hash(item)),
                        fields: Vec::new(),
                    });
                }
            }
            match page.last_evaluated_key {
                Some(k) => q.start_key = Some(k),
                None => break,
            }
        }
    }
    Ok(())
}

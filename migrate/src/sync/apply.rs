//! Applying a batch: the changed orders and stock rows read again from the
//! database (as they are now, which is never older than the change), mapped
//! by the backfill's own rules, and written one conditional put per item
//! under the version [`guard`].
//!
//! Reading rows again rather than applying each row image is what lets an
//! order's lines (each its own row change) become one order, and makes a
//! replayed batch write the same items again: the ids are derived from
//! legacy keys and the state is the row's latest, so nothing is doubled.

use std::time::Duration;

use order_domain::codec::{LEGACY_UPDATED_US, order_from_item, order_key, stock_key, summary_key};
use order_domain::store::{Condition, Delete, Item, Put, Store, StoreError, Table};
use order_domain::{CountyId, Sku};
use tokio::task::JoinSet;

use crate::backfill::{Note, stock_record};
use crate::customer;
use crate::guard;
use crate::map::{key, order_id};
use crate::order::{MappedStore, items, map_in_county};
use crate::read::{LegacyCustomer, LegacyOrder, LegacyStock};
use crate::source::{Legacy, Snapshot, SourceError};

use super::decode::Batch;

/// The rows a batch names, as they are now.
pub struct Rows {
    pub orders: Vec<LegacyOrder>,
    pub stock: Vec<LegacyStock>,
    /// Profiles of the customers the batch changed, and of the customers of
    /// the orders it changed (an order may be a customer's first here).
    pub customers: Vec<LegacyCustomer>,
    /// Orders the batch names that no longer exist in any county.
    pub deleted_orders: Vec<i64>,
    /// Read again when the batch changed a store (or none were read yet).
    pub stores: Option<Vec<MappedStore>>,
}

/// Why the rows could not be read; the sync reconnects and tries again.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("transaction {0} is decoded but not yet visible to a new snapshot after {1:?}")]
    NotVisible(u32, Duration),
}

/// Reads the batch's rows in one snapshot that sees every transaction of
/// the batch. A commit is in the WAL (so decoded) a moment before new
/// snapshots see it; reading in that moment would write an older row and
/// move past its change, so the snapshot is taken again until it sees them.
pub async fn read(
    legacy: &mut Legacy,
    county: &CountyId,
    batch: &Batch,
    reload_stores: bool,
) -> Result<Rows, ReadError> {
    let started = std::time::Instant::now();
    loop {
        let snap = legacy.snapshot().await?;
        let invisible = batch
            .commits
            .iter()
            .map(|(xid, _)| *xid)
            .find(|xid| !Visibility::parse(&snap.id).is_some_and(|v| v.sees(*xid)));
        match invisible {
            None => return read_in(&snap, county, batch, reload_stores).await,
            Some(xid) if started.elapsed() > Duration::from_secs(5) => {
                return Err(ReadError::NotVisible(xid, started.elapsed()));
            }
            Some(_) => {
                drop(snap);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    }
}

async fn read_in(
    snap: &Snapshot<'_>,
    county: &CountyId,
    batch: &Batch,
    reload_stores: bool,
) -> Result<Rows, ReadError> {
    let stores = if reload_stores || batch.stores_changed {
        let s = snap.stores(county.as_str()).await?;
        Some(s.iter().map(MappedStore::new).collect())
    } else {
        None
    };
    let ids: Vec<i64> = batch.orders.iter().copied().collect();
    let orders = if ids.is_empty() {
        Vec::new()
    } else {
        snap.orders_by_id(county.as_str(), &ids).await?
    };
    let deleted_orders = deleted(snap, &ids, &orders).await?;
    let keys: Vec<(String, String)> = batch.stock.iter().cloned().collect();
    let stock = if keys.is_empty() {
        Vec::new()
    } else {
        snap.inventory_by_key(county.as_str(), &keys).await?
    };
    let mut customer_ids: Vec<i64> = batch.customers.iter().copied().collect();
    customer_ids.extend(orders.iter().map(|o| o.customer_id));
    customer_ids.sort_unstable();
    customer_ids.dedup();
    let customers = if customer_ids.is_empty() {
        Vec::new()
    } else {
        snap.customers_by_id(county.as_str(), &customer_ids).await?
    };
    Ok(Rows {
        orders,
        stock,
        customers,
        deleted_orders,
        stores,
    })
}

/// Of `ids`, those neither in `found` (the county's) nor in any other county.
async fn deleted(
    snap: &Snapshot<'_>,
    ids: &[i64],
    found: &[LegacyOrder],
) -> Result<Vec<i64>, SourceError> {
    let missing: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| !found.iter().any(|o| o.order_id == *id))
        .collect();
    if missing.is_empty() {
        return Ok(missing);
    }
    let elsewhere = snap
        .tx
        .query(
            "SELECT order_id FROM orders WHERE order_id = ANY($1)",
            &[&missing],
        )
        .await
        .map_err(SourceError::query("orders"))?;
    let elsewhere: Vec<i64> = elsewhere.iter().map(|r| r.get(0)).collect();
    Ok(missing
        .into_iter()
        .filter(|id| !elsewhere.contains(id))
        .collect())
}

/// `pg_current_snapshot()` text, `xmin:xmax:xip,...`, with 64-bit ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    xmin: u64,
    xmax: u64,
    in_progress: Vec<u64>,
}

impl Visibility {
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, ':');
        let xmin = parts.next()?.parse().ok()?;
        let xmax = parts.next()?.parse().ok()?;
        let in_progress = match parts.next() {
            Some("") | None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|x| x.parse().ok())
                .collect::<Option<_>>()?,
        };
        Some(Visibility {
            xmin,
            xmax,
            in_progress,
        })
    }

    /// Whether a committed transaction `xid` (32 bits, as decoded) is seen.
    pub fn sees(&self, xid: u32) -> bool {
        // The decoded id is the low half; its epoch is xmax's, or the one
        // before if that would put it at or past xmax.
        let mut full = (self.xmax & !0xFFFF_FFFF) | u64::from(xid);
        if full >= self.xmax {
            full = full.wrapping_sub(1 << 32);
        }
        full < self.xmin || (full < self.xmax && !self.in_progress.contains(&full))
    }
}

/// What mapping a batch's rows came to.
#[derive(Debug, Default)]
pub struct Plan {
    /// Summaries and stock records.
    pub puts: Vec<Put>,
    /// Each order's record, and where its summary is written (to find a
    /// summary that moved).
    pub records: Vec<(Put, Summary)>,
    /// Migrated orders whose legacy row was deleted: their items go too.
    pub delete_orders: Vec<i64>,
    /// Migrated stock records whose legacy row was deleted.
    pub delete_stock: Vec<Item>,
    pub orders: u64,
    pub stock: u64,
    pub customers: u64,
    pub rejects: Vec<Note>,
    /// Keys the batch named that the county does not have (another
    /// county's rows, or deleted ones): nothing to write.
    pub absent: u64,
}

/// Maps the rows as the backfill does; a row the rules refuse is a reject
/// with its reason, and the rest of the batch goes on.
pub fn plan(
    rows: &Rows,
    batch: &Batch,
    stores: &[MappedStore],
    county: &CountyId,
    gsi_write_shards: u32,
) -> Plan {
    let mut plan = Plan {
        delete_orders: rows.deleted_orders.clone(),
        ..Plan::default()
    };
    plan.absent = (batch.orders.len() - rows.orders.len() - rows.deleted_orders.len()) as u64;
    for (store_id, sku) in &batch.stock {
        if rows
            .stock
            .iter()
            .any(|r| &r.store_id == store_id && &r.sku == sku)
        {
            continue;
        }
        // The re-read joins the county's stores: a key of one of them that
        // was not read is a deleted row; any other is another county's.
        match stock_key_of(store_id, sku, stores) {
            Some(key) => plan.delete_stock.push(key),
            None => plan.absent += 1,
        }
    }
    for o in &rows.orders {
        match map_in_county(o, stores, county) {
            Ok(m) => {
                plan.orders += 1;
                let summary = Summary {
                    record: order_key(&m.order.order_id),
                    key: summary_key(&m.order.customer_id, m.order.created_at, &m.order.order_id),
                    version: o.updated_at_us,
                };
                for p in items(&m.order, gsi_write_shards) {
                    let guard = guard::condition(p.table, o.updated_at_us);
                    if p.table == Table::OrderById {
                        let condition = same_summary_key(guard, &p.item);
                        let put = Put {
                            table: p.table,
                            item: p.item,
                            condition: Some(condition),
                        };
                        plan.records.push((put, summary.clone()));
                    } else {
                        plan.puts.push(Put {
                            table: p.table,
                            item: p.item,
                            condition: Some(guard),
                        });
                    }
                }
            }
            Err(reason) => plan.rejects.push(Note {
                legacy: format!("order {}", o.order_id),
                message: reason,
            }),
        }
    }
    for row in &rows.stock {
        match stock_record(row, stores) {
            Ok((record, _)) => {
                plan.stock += 1;
                plan.puts.push(Put {
                    table: Table::Inventory,
                    item: guard::stock_item(&record, row.updated_at_us),
                    condition: Some(guard::condition(Table::Inventory, row.updated_at_us)),
                });
            }
            Err(reason) => plan.rejects.push(Note {
                legacy: format!("inventory {}/{}", row.store_id, row.sku),
                message: reason,
            }),
        }
    }
    plan_customers(&rows.customers, &mut plan);
    plan
}

/// Profiles carry no version in the legacy table: each is put as the row is
/// now, read after every change of the batch, and batches apply in commit
/// order, so a later state is never overwritten by an earlier one.
fn plan_customers(rows: &[LegacyCustomer], plan: &mut Plan) {
    for row in rows {
        match customer::map_customer(row) {
            Ok(profile) => {
                plan.customers += 1;
                plan.puts.push(Put {
                    table: Table::Customers,
                    item: customer::item(&profile).item,
                    condition: None,
                });
            }
            Err(reason) => plan.rejects.push(Note {
                legacy: format!("customer {}", row.customer_id),
                message: reason,
            }),
        }
    }
}

/// A legacy write the change capture met in mode `dynamo` (or `retired`),
/// when the new system owns the county's orders: counted, logged with the
/// order, and applied only where nothing of the new system's is overwritten.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Flagged {
    /// `order 1001 (01J…)`, `inventory AUS-1/GIN`, `deleted order 1001`.
    pub legacy: String,
    /// Whether it was written anyway (a new legacy order: nothing to
    /// overwrite, and a rollback then finds it in DynamoDB).
    pub applied: bool,
    pub reason: &'static str,
    /// The legacy number of an order held back (not applied): the sync
    /// applies it after a rollback out of `dynamo`.
    #[serde(skip)]
    pub held: Option<i64>,
}

const NEW_ORDER: &str = "the legacy system took a new order while the county is cut over";
const NEW_SYSTEM_OWNS: &str = "the new system owns this order since the cutover";
const STOCK_IS_NEW: &str = "stock is the new system's since the cutover";
const NO_DELETES: &str = "a legacy delete is not applied after the cutover";

/// Mode `dynamo`: the plan less what would overwrite the new system's.
/// An order whose record the legacy system still finishes (owner `LEGACY`:
/// in flight at the switch) is applied as before, so legacy finishes it
/// and its changes keep arriving until it is terminal. A new legacy order
/// (no record) is applied and flagged. Any other order change, every stock
/// change and every delete is flagged and not applied; a profile is put
/// only where none exists.
pub async fn hold_for_new_system<S: Store>(
    store: &S,
    plan: &mut Plan,
) -> Result<Vec<Flagged>, WriteRefused> {
    let mut flagged = Vec::new();
    let mut dropped = Vec::new();
    let mut kept = Vec::new();
    for (put, summary) in std::mem::take(&mut plan.records) {
        let (record, _) = retrying(Table::OrderById, || {
            let key = summary.record.clone();
            async move { store.get(Table::OrderById, key, true).await }
        })
        .await?;
        let label = order_label(&put.item);
        match record.flatten() {
            None => {
                flagged.push(flag(label, true, NEW_ORDER));
                kept.push((put, summary));
            }
            Some(item) if order_from_item(&item).is_ok_and(|o| o.owned_by_legacy()) => {
                kept.push((put, summary));
            }
            Some(_) => {
                let mut f = flag(label, false, NEW_SYSTEM_OWNS);
                f.held = legacy_number(&put.item);
                flagged.push(f);
                dropped.extend(put.item.get(ORDER_ID).cloned());
            }
        }
    }
    plan.records = kept;
    let customers_key = Table::Customers.partition_key();
    plan.puts.retain_mut(|p| match p.table {
        Table::Orders => p.item.get(ORDER_ID).is_none_or(|id| !dropped.contains(id)),
        Table::Inventory => {
            flagged.push(flag(
                format!("inventory {}", key_label(&p.item)),
                false,
                STOCK_IS_NEW,
            ));
            false
        }
        Table::Customers => {
            p.condition = Some(Condition::not_exists(customers_key));
            true
        }
        _ => true,
    });
    for n in std::mem::take(&mut plan.delete_orders) {
        let mut f = flag(format!("deleted order {n}"), false, NO_DELETES);
        f.held = Some(n);
        flagged.push(f);
    }
    for k in std::mem::take(&mut plan.delete_stock) {
        flagged.push(flag(
            format!("deleted inventory {}", key_label(&k)),
            false,
            NO_DELETES,
        ));
    }
    Ok(flagged)
}

const ORDER_ID: &str = "order_id";

fn flag(legacy: String, applied: bool, reason: &'static str) -> Flagged {
    Flagged {
        legacy,
        applied,
        reason,
        held: None,
    }
}

fn legacy_number(item: &Item) -> Option<i64> {
    order_from_item(item).ok()?.legacy.map(|l| l.number)
}

/// `order <legacy number> (<order id>)`, from the mapped record.
fn order_label(item: &Item) -> String {
    match order_from_item(item) {
        Ok(o) => match &o.legacy {
            Some(l) => format!("order {} ({})", l.number, o.order_id),
            None => format!("order {}", o.order_id),
        },
        Err(_) => "order (unreadable record)".to_owned(),
    }
}

fn key_label(item: &Item) -> String {
    let pk = Table::Inventory.partition_key();
    let sk = Table::Inventory.sort_key().unwrap_or(pk);
    let text = |a: &str| item.get(a).and_then(|v| v.as_s()).unwrap_or("?").to_owned();
    format!("{}/{}", text(pk), text(sk))
}

/// An order's record and the key its summary is written under.
#[derive(Debug, Clone)]
pub struct Summary {
    pub record: Item,
    pub key: Item,
    pub version: i64,
}

/// The record's attributes its summary's key is made of.
const SUMMARY_KEY_PARTS: [&str; 2] = ["customer_id", "created_at"];

/// `guard`, and over an existing record only if the summary's key stays:
/// the summary is keyed by customer and creation time, so a legacy
/// correction of either moves it, and the old one must go (see
/// [`unlink_one`]). Should the names drift, the condition fails and the
/// slower path runs: still correct.
fn same_summary_key(guard: Condition, record: &Item) -> Condition {
    let new = Condition::not_exists(Table::OrderById.partition_key());
    let same: Vec<Condition> = SUMMARY_KEY_PARTS
        .iter()
        .filter_map(|a| record.get(*a).map(|v| Condition::equals(a, v.clone())))
        .collect();
    let unmoved = if same.len() == SUMMARY_KEY_PARTS.len() {
        Condition::Or(vec![new, Condition::And(same)])
    } else {
        new
    };
    Condition::And(vec![guard, unmoved])
}

/// Removes the summary under the record's old key, if the record is not
/// newer. It runs before the record is replaced, so a sync killed in between
/// finds the old record, and with it the old key, again.
async fn unlink_one<S: Store>(store: &S, s: &Summary) -> Result<Written, WriteRefused> {
    let mut w = Written::default();
    let (record, retried) = retrying(Table::OrderById, || {
        let key = s.record.clone();
        async move { store.get(Table::OrderById, key, true).await }
    })
    .await?;
    w.retried += retried;
    let Some(old) = record.flatten() else {
        return Ok(w);
    };
    // A newer version in the table keeps its own summary.
    if guard::version_of(&old).is_none_or(|v| v > s.version) {
        return Ok(w);
    }
    let Ok(order) = order_from_item(&old) else {
        return Ok(w);
    };
    let old_key = summary_key(&order.customer_id, order.created_at, &order.order_id);
    if old_key == s.key {
        return Ok(w);
    }
    let delete = Delete {
        table: Table::Orders,
        key: old_key,
        condition: Some(Condition::exists(LEGACY_UPDATED_US)),
    };
    let (done, retried) = retrying(Table::Orders, || {
        let d = delete.clone();
        async move { store.delete(d).await.map(|_| ()) }
    })
    .await?;
    w.deleted += u64::from(done.is_some());
    w.retried += retried;
    Ok(w)
}

/// An order's record: put if its summary's key stays; otherwise the old
/// summary is removed first and the record put under the guard alone.
async fn record_one<S: Store>(store: S, put: Put, s: Summary) -> Result<Written, WriteRefused> {
    let first = put_one(&store, put.clone()).await?;
    if first.stale == 0 {
        return Ok(first);
    }
    let unlinked = unlink_one(&store, &s).await?;
    let plain = Put {
        condition: Some(guard::condition(Table::OrderById, s.version)),
        ..put
    };
    let second = put_one(&store, plain).await?;
    Ok(Written {
        deleted: unlinked.deleted,
        retried: first.retried + unlinked.retried + second.retried,
        ..second
    })
}

/// The key a legacy stock row was written under, if it is the county's and
/// the rules could hold it.
fn stock_key_of(store_id: &str, sku: &str, stores: &[MappedStore]) -> Option<Item> {
    let store = stores.iter().find(|s| s.legacy_id == store_id)?;
    let (store, _) = store.mapped.as_ref().ok()?;
    let sku = key::encode(sku, Sku::MAX_LEN).ok()?;
    let sku = Sku::parse(&sku.value).ok()?;
    Some(stock_key(store, &sku))
}

/// What the writes did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub items: u64,
    /// Items removed because their legacy row was deleted.
    pub deleted: u64,
    /// Refused by the guard: the table holds a newer version.
    pub stale: u64,
    /// Throttled or unavailable, then retried.
    pub retried: u64,
}

/// A write DynamoDB refused for a reason retrying cannot fix.
#[derive(Debug, thiserror::Error)]
#[error("{table:?}: {source}")]
pub struct WriteRefused {
    pub table: Table,
    #[source]
    pub source: StoreError,
}

/// Writes every put, `concurrency` at a time (each is its own item, so their
/// order does not matter), retrying throttling with capped backoff until it
/// passes: the stream waits, it does not skip.
pub async fn write<S: Store + Clone + 'static>(
    store: &S,
    puts: Vec<Put>,
    records: Vec<(Put, Summary)>,
    concurrency: usize,
) -> Result<Written, WriteRefused> {
    let mut total = Written::default();
    let mut pending = puts.into_iter();
    let mut records = records.into_iter();
    let mut running = JoinSet::new();
    loop {
        while running.len() < concurrency.max(1) {
            if let Some((put, summary)) = records.next() {
                running.spawn(record_one(store.clone(), put, summary));
                continue;
            }
            let Some(put) = pending.next() else { break };
            let store = store.clone();
            running.spawn(async move { put_one(&store, put).await });
        }
        let Some(done) = running.join_next().await else {
            return Ok(total);
        };
        let w = done.map_err(|e| WriteRefused {
            table: Table::OrderById,
            source: StoreError::Unavailable(format!("a write task failed: {e}")),
        })??;
        total.items += w.items;
        total.deleted += w.deleted;
        total.stale += w.stale;
        total.retried += w.retried;
    }
}

async fn put_one<S: Store>(store: &S, put: Put) -> Result<Written, WriteRefused> {
    let table = put.table;
    retrying(table, || {
        let put = put.clone();
        async move { store.put(put).await }
    })
    .await
    .map(|(done, retried)| Written {
        items: u64::from(done.is_some()),
        stale: u64::from(done.is_none()),
        retried,
        ..Written::default()
    })
}

/// Removes the items of migrated stock and orders whose legacy rows were
/// deleted. Only migrated items (they carry the legacy version) are
/// removed; the summary goes first, so a replay still finds the record.
pub async fn delete<S: Store>(
    store: &S,
    orders: &[i64],
    stock: Vec<Item>,
) -> Result<Written, WriteRefused> {
    let mut w = Written::default();
    let migrated = || Some(Condition::exists(LEGACY_UPDATED_US));
    let mut deletes = Vec::new();
    for n in orders {
        let key = order_key(&order_id::from_legacy(*n));
        let (record, retried) = retrying(Table::OrderById, || {
            let key = key.clone();
            async move { store.get(Table::OrderById, key, true).await }
        })
        .await?;
        w.retried += retried;
        let Some(order) = record.flatten().and_then(|i| order_from_item(&i).ok()) else {
            continue;
        };
        deletes.push(Delete {
            table: Table::Orders,
            key: summary_key(&order.customer_id, order.created_at, &order.order_id),
            condition: migrated(),
        });
        deletes.push(Delete {
            table: Table::OrderById,
            key,
            condition: migrated(),
        });
    }
    deletes.extend(stock.into_iter().map(|key| Delete {
        table: Table::Inventory,
        key,
        condition: migrated(),
    }));
    for d in deletes {
        let (done, retried) = retrying(d.table, || {
            let d = d.clone();
            async move { store.delete(d).await.map(|_| ()) }
        })
        .await?;
        w.deleted += u64::from(done.is_some());
        w.retried += retried;
    }
    Ok(w)
}

/// Runs `call` until it passes, retrying throttling with capped backoff:
/// `(Some(value), retries)` when it passed, `(None, retries)` when its
/// condition failed, an error when DynamoDB refused it for good.
async fn retrying<T, F, Fut>(table: Table, mut call: F) -> Result<(Option<T>, u64), WriteRefused>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut retried = 0;
    let mut wait = Duration::from_millis(50);
    loop {
        match call().await {
            Ok(v) => return Ok((Some(v), retried)),
            Err(StoreError::ConditionFailed { .. }) => return Ok((None, retried)),
            Err(e) if e.is_retryable() => {
                retried += 1;
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(source) => return Err(WriteRefused { table, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_sees_what_committed_before_it() {
        let v = Visibility::parse("100:105:101,103").expect("snapshot");
        assert!(v.sees(99));
        assert!(v.sees(100));
        assert!(v.sees(102));
        assert!(!v.sees(101), "in progress when taken");
        assert!(!v.sees(105), "not begun when taken");
        // Across the 32-bit wrap: xmax in epoch 1, the decoded id from epoch 0.
        let v = Visibility::parse("4294967290:4294967300:4294967298").expect("snapshot");
        assert!(v.sees(4_294_967_295));
        assert!(v.sees(3));
        assert!(!v.sees(2), "in progress, in the later epoch");
    }
}

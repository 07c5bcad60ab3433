//! Applying a batch: the changed orders and stock rows read again from the
//! database (as they are now, which is never older than the change), mapped
//! by the backfill's own rules, and written one conditional put per item
//! under the version [`guard`](crate::guard).
//!
//! Reading rows again rather than applying each row image is what lets an
//! order's lines (each its own row change) become one order, and makes a
//! replayed batch write the same items again: the ids are derived from
//! legacy keys and the state is the row's latest, so nothing is doubled.

use std::time::Duration;

use order_domain::CountyId;
use order_domain::store::{Put, Store, StoreError, Table};
use tokio::task::JoinSet;

use crate::backfill::{Note, stock_record};
use crate::guard;
use crate::order::{MappedStore, items, map_in_county};
use crate::read::{LegacyOrder, LegacyStock};
use crate::source::{Legacy, Snapshot, SourceError};

use super::decode::Batch;

/// The rows a batch names, as they are now.
pub struct Rows {
    pub orders: Vec<LegacyOrder>,
    pub stock: Vec<LegacyStock>,
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
    let keys: Vec<(String, String)> = batch.stock.iter().cloned().collect();
    let stock = if keys.is_empty() {
        Vec::new()
    } else {
        snap.inventory_by_key(county.as_str(), &keys).await?
    };
    Ok(Rows {
        orders,
        stock,
        stores,
    })
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
    pub puts: Vec<Put>,
    pub orders: u64,
    pub stock: u64,
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
        absent: (batch.orders.len().saturating_sub(rows.orders.len())
            + batch.stock.len().saturating_sub(rows.stock.len())) as u64,
        ..Plan::default()
    };
    for o in &rows.orders {
        match map_in_county(o, stores, county) {
            Ok(m) => {
                plan.orders += 1;
                for p in items(&m.order, gsi_write_shards) {
                    plan.puts.push(Put {
                        table: p.table,
                        item: p.item,
                        condition: Some(guard::condition(p.table, o.updated_at_us)),
                    });
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
    plan
}

/// What the writes did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub items: u64,
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
    concurrency: usize,
) -> Result<Written, WriteRefused> {
    let mut total = Written::default();
    let mut pending = puts.into_iter();
    let mut running = JoinSet::new();
    loop {
        while running.len() < concurrency.max(1) {
            let Some(put) = pending.next() else { break };
            running.spawn(put_one(store.clone(), put));
        }
        let Some(done) = running.join_next().await else {
            return Ok(total);
        };
        let w = done.map_err(|e| WriteRefused {
            table: Table::OrderById,
            source: StoreError::Unavailable(format!("a write task failed: {e}")),
        })??;
        total.items += w.items;
        total.stale += w.stale;
        total.retried += w.retried;
    }
}

async fn put_one<S: Store>(store: S, put: Put) -> Result<Written, WriteRefused> {
    let mut w = Written::default();
    let mut wait = Duration::from_millis(50);
    loop {
        match store.put(put.clone()).await {
            Ok(()) => {
                w.items = 1;
                return Ok(w);
            }
            Err(StoreError::ConditionFailed { .. }) => {
                w.stale = 1;
                return Ok(w);
            }
            Err(e) if e.is_retryable() => {
                w.retried += 1;
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(source) => {
                return Err(WriteRefused {
                    table: put.table,
                    source,
                });
            }
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

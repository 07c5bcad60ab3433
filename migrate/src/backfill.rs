//! The backfill: a county's inventory, order history and the profiles of the
//! customers with orders in it, read from one snapshot of the legacy
//! database page by page, mapped, and written with
//! `BatchWriteItem` within the write budget, the checkpoint saved after each
//! page is written.

use std::path::PathBuf;
use std::time::Instant;

use order_domain::codec::StockRecord;
use order_domain::store::{Store, Table};
use order_domain::{CountyId, Money, Sku, StoreId};
use serde::Serialize;

use crate::ahead::read_orders;
use crate::checkpoint::{Checkpoint, CheckpointError, Counts, Position};
use crate::customer;
use crate::guard;
use crate::map::{key, money};
use crate::order::{MappedStore, county_stores, priced};
use crate::progress::Totals;
use crate::read::{LegacyCustomer, LegacyStock, Shard};
use crate::source::{Legacy, SourceError};
use crate::write::{Pending, WriteError, WriteStats, Writer};

/// At most this many warnings and rejects are listed in a report; the rest
/// are counted. Mapping is deterministic, so `migrate verify` finds every
/// reject again by mapping the same rows.
pub const LISTED_MAX: usize = 1000;

/// What to copy and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub county: CountyId,
    pub shard: Shard,
    /// Rows read per page (and the most held in memory at once).
    pub page_size: i64,
    /// The county's `gsi_write_shards`, as the API writes summaries with.
    pub gsi_write_shards: u32,
    pub checkpoint: PathBuf,
    pub resume: bool,
}

/// One row the report names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// `order 1005`, `inventory AUS-1/GIN-1L`.
    pub legacy: String,
    pub message: String,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub county: String,
    pub shard: String,
    /// `pg_current_snapshot()` of the read.
    pub snapshot: String,
    /// Over every run of this checkpoint.
    pub written: Counts,
    /// This run's DynamoDB writes.
    pub items: u64,
    pub write_units: u64,
    pub calls: u64,
    pub unprocessed_retried: u64,
    pub throttled_retried: u64,
    pub seconds: f64,
    /// Rows in scope of the snapshot (this shard's share).
    pub totals: Totals,
    pub warnings: Vec<Note>,
    pub warnings_total: u64,
    pub rejects: Vec<Note>,
    pub rejects_total: u64,
}

impl Report {
    fn warn(&mut self, legacy: String, message: String) {
        self.warnings_total += 1;
        if self.warnings.len() < LISTED_MAX {
            self.warnings.push(Note { legacy, message });
        }
    }

    fn reject(&mut self, legacy: String, message: String) {
        self.rejects_total += 1;
        if self.rejects.len() < LISTED_MAX {
            self.rejects.push(Note { legacy, message });
        }
    }
}

/// Why a backfill stopped. Everything written before it stays written, and
/// `--resume` continues from the checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(
        "the legacy database has no stores with county_code `{0}`: nothing to copy (is the county id right?)"
    )]
    NoStores(String),
}

/// Where a run is, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub phase: &'static str,
    /// Rows read in this phase by this run.
    pub rows: u64,
    /// Rows read in all phases, earlier runs of the checkpoint included.
    pub done: u64,
    /// Of `done`, the rows earlier runs read.
    pub before: u64,
    /// Rows in scope of the snapshot ([`Report::totals`]).
    pub total: u64,
    pub stats: WriteStats,
}

/// Runs (or resumes) the backfill of `opts.county`.
pub async fn run<S: Store>(
    legacy: &mut Legacy,
    writer: &mut Writer<S>,
    opts: &Options,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, BackfillError> {
    let started = Instant::now();
    let mut cp = Checkpoint::open(
        &opts.checkpoint,
        opts.county.as_str(),
        opts.shard,
        opts.resume,
    )?;
    let snap = legacy.snapshot().await?;
    let stores = county_stores(&snap, &opts.county)
        .await?
        .ok_or_else(|| BackfillError::NoStores(opts.county.to_string()))?;
    let (totals, before) =
        Totals::count(&snap, opts.county.as_str(), opts.shard, &cp.position).await?;
    let mut report = Report {
        county: opts.county.to_string(),
        shard: opts.shard.to_string(),
        snapshot: snap.id.clone(),
        written: cp.written,
        items: 0,
        write_units: 0,
        calls: 0,
        unprocessed_retried: 0,
        throttled_retried: 0,
        seconds: 0.0,
        totals,
        warnings: Vec::new(),
        warnings_total: 0,
        rejects: Vec::new(),
        rejects_total: 0,
    };
    let mut rows = 0u64;
    let mut done = before;
    let mut ahead = None;
    loop {
        let next = match cp.position.clone() {
            Position::Inventory { .. } if !opts.shard.is_first() => {
                Position::Orders { after: None }
            }
            Position::Inventory { after } => {
                let after_ref = after.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
                let page = snap
                    .inventory(opts.county.as_str(), after_ref, opts.page_size)
                    .await?;
                match page.last() {
                    None => Position::Orders { after: None },
                    Some(last) => {
                        let last = (last.store_id.clone(), last.sku.clone());
                        let pending = stock_items(&page, &stores, &mut report);
                        rows += page.len() as u64;
                        let written = pending.len() as u64;
                        writer.write_all(pending).await?;
                        cp.written.inventory += written;
                        cp.written.rejects += page.len() as u64 - written;
                        Position::Inventory { after: Some(last) }
                    }
                }
            }
            Position::Orders { after } => {
                let page = match ahead.take() {
                    Some(page) => page,
                    None => read_orders(&snap, opts, &stores, after).await?,
                };
                match page.last {
                    None => Position::Customers { after: None },
                    Some(last) => {
                        let mut pending = Vec::with_capacity(page.orders.len() * 2);
                        for (legacy_id, mapped) in page.orders {
                            let name = format!("order {legacy_id}");
                            match mapped {
                                Ok((warnings, order_items)) => {
                                    for w in warnings {
                                        report.warn(name.clone(), w);
                                    }
                                    pending.extend(order_items);
                                    cp.written.orders += 1;
                                }
                                Err(reason) => {
                                    report.reject(name, reason);
                                    cp.written.rejects += 1;
                                }
                            }
                        }
                        rows += page.rows;
                        // The next page is read and mapped while this one
                        // is written (crate::ahead).
                        let (written, next) = tokio::join!(
                            writer.write_all(pending),
                            read_orders(&snap, opts, &stores, Some(last))
                        );
                        written?;
                        ahead = Some(next?);
                        Position::Orders { after: Some(last) }
                    }
                }
            }
            Position::Customers { after } => {
                let page = snap
                    .customers(opts.county.as_str(), opts.shard, after, opts.page_size)
                    .await?;
                match page.last() {
                    None => Position::Done,
                    Some(last) => {
                        let last = last.customer_id;
                        let pending = customer_items(&page, &mut cp.written, &mut report);
                        rows += page.len() as u64;
                        writer.write_all(pending).await?;
                        Position::Customers { after: Some(last) }
                    }
                }
            }
            Position::Done => break,
        };
        if std::mem::discriminant(&next) != std::mem::discriminant(&cp.position) {
            done += rows;
            rows = 0;
        }
        cp.position = next;
        // Saved only now: the page it names is written.
        cp.save(&opts.checkpoint)?;
        progress(Progress {
            phase: phase_name(&cp.position),
            rows,
            done: done + rows,
            before,
            total: totals.rows(),
            stats: writer.stats(),
        });
    }
    let stats = writer.stats();
    report.written = cp.written;
    report.items = stats.items;
    report.write_units = stats.write_units;
    report.calls = stats.calls;
    report.unprocessed_retried = stats.unprocessed;
    report.throttled_retried = stats.throttled;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn phase_name(p: &Position) -> &'static str {
    match p {
        Position::Inventory { .. } => "inventory",
        Position::Orders { .. } => "orders",
        Position::Customers { .. } => "customers",
        Position::Done => "done",
    }
}

/// Customer rows → their profiles' Customers items, counted in `written`.
fn customer_items(
    page: &[LegacyCustomer],
    written: &mut Counts,
    report: &mut Report,
) -> Vec<Pending> {
    let mut out = Vec::with_capacity(page.len());
    for row in page {
        match customer::map_customer(row) {
            Ok(profile) => {
                out.push(customer::item(&profile));
                written.customers += 1;
            }
            Err(reason) => {
                report.reject(format!("customer {}", row.customer_id), reason);
                written.rejects += 1;
            }
        }
    }
    out
}

/// Stock rows → stock records: on hand minus reserved is what can be sold.
fn stock_items(page: &[LegacyStock], stores: &[MappedStore], report: &mut Report) -> Vec<Pending> {
    let mut out = Vec::with_capacity(page.len());
    for row in page {
        let name = format!("inventory {}/{}", row.store_id, row.sku);
        match stock_record(row, stores) {
            Ok((record, escaped)) => {
                if escaped {
                    report.warn(
                        name,
                        format!("SKU `{}` stored as `{}`", row.sku, record.sku),
                    );
                }
                out.push(priced(
                    Table::Inventory,
                    guard::stock_item(&record, row.updated_at_us),
                ));
            }
            Err(reason) => report.reject(name, reason),
        }
    }
    out
}

pub(crate) fn stock_record(
    row: &LegacyStock,
    stores: &[MappedStore],
) -> Result<(StockRecord, bool), String> {
    let store = stores
        .iter()
        .find(|s| s.legacy_id == row.store_id)
        .ok_or_else(|| format!("store `{}` is not in the county", row.store_id))?;
    let (store_id, _) = store.mapped.clone()?;
    let store_id: StoreId = store_id;
    let sku = key::encode(&row.sku, Sku::MAX_LEN).map_err(|e| format!("SKU {e}"))?;
    let escaped = sku.escaped;
    let sku = Sku::parse(&sku.value).map_err(|e| format!("SKU: {e}"))?;
    if row.on_hand < 0 || row.reserved < 0 || row.reserved > row.on_hand {
        return Err(format!(
            "on hand {} and reserved {} leave no valid stock to sell",
            row.on_hand, row.reserved
        ));
    }
    let price: Money = money::parse_cents(&row.price).map_err(|e| format!("price {e}"))?;
    Ok((
        StockRecord {
            store_id,
            sku,
            available: i64::from(row.on_hand - row.reserved),
            price_cents: price,
        },
        escaped,
    ))
}

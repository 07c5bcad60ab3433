//! `migrate sync`: change data capture from the legacy database into the
//! county's tables, for as long as the county is not cut over.
//!
//! The county's logical replication slot ([`slot`]) is created before the
//! backfill takes its snapshot (`migrate sync --prepare`), so the stream
//! starts at or before the snapshot: nothing committed after the snapshot is
//! missed, and a change the snapshot already holds is written again at the
//! same version, which changes nothing. Each batch is read from the slot
//! without moving it, decoded to keys ([`decode`]), the rows read again,
//! mapped and written under the version guard ([`apply`]); only then does
//! the slot move. A sync killed at any moment replays at most the batch it
//! had in hand, and a replay writes the same items. A lost connection (the
//! database restarting under it) is retried with capped backoff, from the
//! slot's position.

pub mod apply;
pub mod decode;
pub mod held;
pub mod slot;

use std::time::Duration;

use acme_contract::migration::CutoverMode;
use jiff::Timestamp;
use order_domain::CountyId;
use order_domain::store::Store;
use serde::Serialize;
use tokio::sync::watch;

use crate::backfill::{LISTED_MAX, Note};
use crate::order::MappedStore;
use crate::source::{Legacy, LegacyUrl, SourceError};

use decode::{Batch, DecodeError, Lsn};
use slot::{SlotError, SlotInfo, SlotName};

/// How the sync runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub county: CountyId,
    /// The county's slot, [`SlotName::for_county`] unless the DBA named it.
    pub slot: SlotName,
    /// The county's `gsi_write_shards`, as the API writes summaries with.
    pub gsi_write_shards: u32,
    /// Row changes read from the slot at a time (whole transactions, so a
    /// batch may hold more).
    pub batch_changes: i32,
    /// How long to wait when the slot holds nothing new.
    pub poll: Duration,
    /// Item writes in flight at once.
    pub concurrency: usize,
    /// The longest wait between two attempts to reconnect.
    pub reconnect_max: Duration,
}

/// What a sync has done since it started.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub county: String,
    pub slot: String,
    /// The slot's position: everything before it is applied.
    pub position: String,
    /// Row changes read from the slot (any table).
    pub changes: u64,
    pub transactions: u64,
    pub batches: u64,
    /// Orders and stock records written (a row read again per batch).
    pub orders: u64,
    pub stock: u64,
    /// Customer profiles written.
    pub customers: u64,
    /// Item writes that succeeded.
    pub items: u64,
    /// Writes the guard refused: the table already held a newer version.
    pub stale: u64,
    /// Items removed because their legacy row was deleted.
    pub deleted: u64,
    /// Writes throttled, then retried.
    pub retried: u64,
    /// Changed keys the county does not have (another county's, or deleted).
    pub absent: u64,
    pub reconnects: u64,
    pub rejects: Vec<Note>,
    pub rejects_total: u64,
    pub notes: Vec<String>,
    /// Legacy writes met once the new system owns the county's orders.
    pub flagged: Vec<apply::Flagged>,
    pub flagged_total: u64,
    /// Legacy orders held back now (kept in `acme_sync.held_back`).
    pub held_back: u64,
    /// Held-back orders applied after a rollback out of `dynamo`.
    pub held_applied: u64,
}

/// What the caller hears while the sync runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// Connected, the lock taken, streaming from `info.confirmed`.
    Started {
        slot: &'a SlotName,
        info: &'a SlotInfo,
    },
    /// A batch is written and the slot moved past it.
    Applied {
        batch: &'a Batch,
        written_at: Timestamp,
        totals: &'a Totals,
    },
    /// The slot holds nothing new; `behind` bytes of WAL are not yet decoded.
    Idle { totals: &'a Totals, behind: i64 },
    /// A row the mapping rules refuse: reported, and the stream goes on.
    Reject(&'a Note),
    /// A legacy write met in mode `dynamo` or `retired`.
    Flagged(&'a apply::Flagged),
    /// Something seen but not applied.
    Note(&'a str),
    /// The connection is lost; the next attempt is after `wait`.
    Reconnecting { cause: &'a str, wait: Duration },
}

/// Why the sync stopped, or would not start.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(
        "the legacy database at {target} runs with wal_level={level}; the change capture reads a \
         logical replication slot, which needs wal_level=logical (on RDS: the parameter \
         rds.logical_replication=1), set by the DBA and followed by a restart"
    )]
    WalLevel { target: String, level: String },
    #[error(
        "the legacy database has no replication slot `{slot}` for {county}: run `acme-infra \
         migrate sync --county {county} --prepare` before the backfill (a slot created after \
         the backfill's snapshot would miss the changes in between)"
    )]
    NoSlot { slot: SlotName, county: String },
    #[error(
        "the replication slot `{slot}` uses the plugin `{plugin}`, not test_decoding: it is not this tool's"
    )]
    WrongPlugin { slot: SlotName, plugin: String },
    #[error(
        "the replication slot `{slot}` belongs to the database `{database}`, not the one the URL names: pass --slot NAME to use another"
    )]
    OtherDatabase { slot: SlotName, database: String },
    #[error(
        "the replication slot `{slot}` is in use by another process ({}): one sync per county; stop the other first",
        if holders.is_empty() { "it has just ended, or its session is invisible to this user".to_owned() } else { holders.join(", ") }
    )]
    SlotInUse {
        slot: SlotName,
        holders: Vec<String>,
    },
    #[error("{error}{}", hint(error))]
    Slot { error: SlotError },
    #[error(
        "the legacy database has no stores with county_code `{0}`: nothing to sync (is the county id right?)"
    )]
    NoStores(String),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("DynamoDB refused a write: {0}")]
    Write(#[from] apply::WriteRefused),
    #[error(
        "{0} (the sync keeps the legacy orders it holds back in mode dynamo there: its user needs \
         CREATE on the database, or the DBA creates the schema acme_sync and grants it CREATE and \
         USAGE on it)"
    )]
    Held(held::HeldError),
}

fn slot_error(error: SlotError) -> SyncError {
    SyncError::Slot { error }
}

fn hint(e: &SlotError) -> &'static str {
    match e.code.as_deref() {
        Some("42501") => {
            " (the user needs the REPLICATION attribute, on RDS the rds_replication role)"
        }
        Some("53400") => {
            " (max_replication_slots is reached: the DBA raises it, or drops an unused slot)"
        }
        _ => "",
    }
}

/// `--prepare`: what was found or made.
#[derive(Debug, Clone)]
pub enum Prepared {
    Created(Lsn),
    Existing(SlotInfo),
}

/// Creates the county's slot (before the backfill's snapshot); a slot that
/// exists already is kept, with its position.
pub async fn prepare(
    url: &LegacyUrl,
    county: &CountyId,
    slot: &SlotName,
) -> Result<Prepared, SyncError> {
    let mut legacy = Legacy::connect(url).await?;
    check_wal_level(&legacy, url).await?;
    county_stores(&mut legacy, county).await?;
    if let Some(info) = slot::info(legacy.client(), slot)
        .await
        .map_err(slot_error)?
    {
        check_slot(slot, &info)?;
        return Ok(Prepared::Existing(info));
    }
    let at = slot::create(legacy.client(), slot)
        .await
        .map_err(slot_error)?;
    Ok(Prepared::Created(at))
}

/// Drops the county's slot (the county is retired, or its sync starts over
/// with a new backfill); `false` if there was none.
pub async fn drop_slot(url: &LegacyUrl, slot: &SlotName) -> Result<bool, SyncError> {
    let legacy = Legacy::connect(url).await?;
    let Some(info) = slot::info(legacy.client(), slot)
        .await
        .map_err(slot_error)?
    else {
        return Ok(false);
    };
    check_slot(slot, &info)?;
    match slot::drop(legacy.client(), slot).await {
        Ok(()) => Ok(true),
        Err(e) if e.in_use() => Err(in_use(&legacy, slot.clone()).await),
        Err(e) => Err(slot_error(e)),
    }
}

async fn check_wal_level(legacy: &Legacy, url: &LegacyUrl) -> Result<(), SyncError> {
    let level = slot::wal_level(legacy.client()).await.map_err(slot_error)?;
    if level == "logical" {
        Ok(())
    } else {
        Err(SyncError::WalLevel {
            target: url.to_string(),
            level,
        })
    }
}

async fn county_stores(
    legacy: &mut Legacy,
    county: &CountyId,
) -> Result<Vec<MappedStore>, SyncError> {
    let snap = legacy.snapshot().await?;
    crate::order::county_stores(&snap, county)
        .await?
        .ok_or_else(|| SyncError::NoStores(county.to_string()))
}

async fn in_use(legacy: &Legacy, slot: SlotName) -> SyncError {
    let holders = slot::holders(legacy.client(), &slot)
        .await
        .unwrap_or_default();
    SyncError::SlotInUse { slot, holders }
}

/// An open, locked connection to the slot.
struct Conn {
    legacy: Legacy,
    stores: Vec<MappedStore>,
    info: SlotInfo,
}

async fn open(url: &LegacyUrl, slot: &SlotName, county: &CountyId) -> Result<Conn, SyncError> {
    let mut legacy = Legacy::connect(url).await?;
    check_wal_level(&legacy, url).await?;
    slot::session(legacy.client()).await.map_err(slot_error)?;
    let info = slot::info(legacy.client(), slot)
        .await
        .map_err(slot_error)?
        .ok_or_else(|| SyncError::NoSlot {
            slot: slot.clone(),
            county: county.to_string(),
        })?;
    check_slot(slot, &info)?;
    if !slot::lock(legacy.client(), slot)
        .await
        .map_err(slot_error)?
    {
        return Err(in_use(&legacy, slot.clone()).await);
    }
    held::create(legacy.client())
        .await
        .map_err(SyncError::Held)?;
    let stores = county_stores(&mut legacy, county).await?;
    Ok(Conn {
        legacy,
        stores,
        info,
    })
}

/// The slot is this tool's, in this database.
fn check_slot(slot: &SlotName, info: &SlotInfo) -> Result<(), SyncError> {
    if !info.here {
        return Err(SyncError::OtherDatabase {
            slot: slot.clone(),
            database: info.database.clone(),
        });
    }
    if info.plugin != slot::PLUGIN {
        return Err(SyncError::WrongPlugin {
            slot: slot.clone(),
            plugin: info.plugin.clone(),
        });
    }
    Ok(())
}

/// Whether a failure to (re)open is worth another attempt: the database
/// coming back, or the previous session's lock not yet released.
fn retryable(e: &SyncError) -> bool {
    matches!(
        e,
        SyncError::Source(SourceError::Connect { .. } | SourceError::Query { .. })
            | SyncError::Slot { .. }
            | SyncError::SlotInUse { .. }
    ) || matches!(e, SyncError::Held(h) if h.code.is_none())
}

/// How a session ended.
enum End {
    Stopped,
    Lost(String),
    Fatal(SyncError),
}

/// Runs until `stop` turns true (then finishes the batch in hand, moves the
/// slot, and returns) or a failure retrying cannot fix. The county is taken
/// to be the legacy system's (no cutover mode): every change is applied.
pub async fn run<S: Store + Clone + 'static>(
    url: &LegacyUrl,
    store: S,
    opts: &Options,
    stop: watch::Receiver<bool>,
    on: &mut (dyn FnMut(Event<'_>) + Send),
) -> Result<Totals, SyncError> {
    let (_mode_tx, mode) = watch::channel(None);
    run_in_mode(url, store, opts, mode, stop, on).await
}

/// [`run`], each batch applied by the county's cutover mode as `mode`
/// holds it when the batch is read: in `dynamo` and `retired` legacy
/// writes are held back from what the new system owns
/// ([`apply::hold_for_new_system`]).
pub async fn run_in_mode<S: Store + Clone + 'static>(
    url: &LegacyUrl,
    store: S,
    opts: &Options,
    mode: watch::Receiver<Option<CutoverMode>>,
    mut stop: watch::Receiver<bool>,
    on: &mut (dyn FnMut(Event<'_>) + Send),
) -> Result<Totals, SyncError> {
    let slot = opts.slot.clone();
    let mut totals = Totals {
        county: opts.county.to_string(),
        slot: slot.to_string(),
        ..Totals::default()
    };
    let mut conn = open(url, &slot, &opts.county).await?;
    loop {
        totals.position = conn.info.confirmed.to_string();
        on(Event::Started {
            slot: &slot,
            info: &conn.info,
        });
        let mut cause = match stream(
            &mut conn,
            &store,
            &slot,
            opts,
            &mode,
            &mut stop,
            &mut totals,
            on,
        )
        .await
        {
            End::Stopped => return Ok(totals),
            End::Fatal(e) => return Err(e),
            End::Lost(cause) => cause,
        };
        let mut wait = Duration::from_millis(250);
        conn = loop {
            on(Event::Reconnecting {
                cause: &cause,
                wait,
            });
            if stopped_during(wait, &mut stop).await {
                return Ok(totals);
            }
            wait = (wait * 2).min(opts.reconnect_max);
            match open(url, &slot, &opts.county).await {
                Ok(c) => break c,
                Err(e) if retryable(&e) => cause = e.to_string(),
                Err(e) => return Err(e),
            }
        };
        totals.reconnects += 1;
    }
}

/// Batches until stopped or the connection fails.
#[allow(clippy::too_many_arguments)]
async fn stream<S: Store + Clone + 'static>(
    conn: &mut Conn,
    store: &S,
    slot: &SlotName,
    opts: &Options,
    mode: &watch::Receiver<Option<CutoverMode>>,
    stop: &mut watch::Receiver<bool>,
    totals: &mut Totals,
    on: &mut (dyn FnMut(Event<'_>) + Send),
) -> End {
    let lost = |e: &dyn std::fmt::Display| End::Lost(e.to_string());
    let county = opts.county.to_string();
    // Orders held back in `dynamo`, as recorded in the legacy database
    // (this session's copy): applied once the county is rolled back, so
    // the rollback loses no legacy change, even across a restart.
    let mut held = match held::list(conn.legacy.client(), &county).await {
        Ok(h) => h,
        Err(e) => return lost(&e),
    };
    totals.held_back = held.len() as u64;
    if !held.is_empty() {
        on(Event::Note(&format!(
            "{} legacy order(s) held back in dynamo, as recorded in {}",
            held.len(),
            acme_contract::migration::held_back::TABLE
        )));
    }
    loop {
        if *stop.borrow() {
            return End::Stopped;
        }
        let owned = mode
            .borrow()
            .is_some_and(CutoverMode::new_system_owns_orders);
        if !owned && !held.is_empty() {
            if let Err(end) = apply_held(conn, store, slot, opts, &held, totals, on).await {
                return end;
            }
            held.clear();
        }
        // Read before the peek, which decodes at least this far: an empty
        // peek means nothing of this database committed before it, so the
        // slot may move there (WAL of other databases and the server's own
        // records would otherwise hold it back, and its lag never reach 0).
        let horizon = match slot::flushed(conn.legacy.client()).await {
            Ok(lsn) => lsn,
            Err(e) => return lost(&e),
        };
        let rows = match slot::peek(conn.legacy.client(), slot, opts.batch_changes).await {
            Ok(rows) => rows,
            Err(e) if e.in_use() => {
                return End::Fatal(in_use(&conn.legacy, slot.clone()).await);
            }
            Err(e) => return lost(&e),
        };
        if rows.is_empty() {
            if horizon > conn.info.confirmed {
                if let Err(e) = slot::advance(conn.legacy.client(), slot, horizon).await {
                    return lost(&e);
                }
                conn.info.confirmed = horizon;
                totals.position = horizon.to_string();
            }
            match slot::behind(conn.legacy.client(), slot).await {
                Ok(behind) => on(Event::Idle { totals, behind }),
                Err(e) => return lost(&e),
            }
            if stopped_during(opts.poll, stop).await {
                return End::Stopped;
            }
            continue;
        }
        let mut batch = Batch::default();
        for r in &rows {
            if let Err(e) = batch.add(r) {
                return End::Fatal(e.into());
            }
        }
        let owned = mode
            .borrow()
            .is_some_and(CutoverMode::new_system_owns_orders);
        match apply_batch(conn, store, slot, opts, owned, &batch, totals, on).await {
            Ok(orders) => {
                held.extend(orders);
                totals.held_back = held.len() as u64;
            }
            Err(end) => return end,
        }
    }
}

/// After a rollback: the held orders read again and applied (the guard
/// refuses what DynamoDB already holds), then their rows deleted. A sync
/// stopped in between applies them again at its next start, harmlessly.
async fn apply_held<S: Store + Clone + 'static>(
    conn: &mut Conn,
    store: &S,
    slot: &SlotName,
    opts: &Options,
    orders: &std::collections::BTreeSet<i64>,
    totals: &mut Totals,
    on: &mut (dyn FnMut(Event<'_>) + Send),
) -> Result<(), End> {
    let n = orders.len();
    on(Event::Note(&format!(
        "rolled back: applying the {n} legacy order(s) held back in dynamo"
    )));
    let before = (totals.items, totals.stale);
    let again = Batch::of_orders(orders.clone());
    apply_batch(conn, store, slot, opts, false, &again, totals, on).await?;
    let numbers: Vec<i64> = orders.iter().copied().collect();
    held::release(conn.legacy.client(), &opts.county.to_string(), &numbers)
        .await
        .map_err(|e| End::Lost(e.to_string()))?;
    totals.held_applied += n as u64;
    totals.held_back = 0;
    on(Event::Note(&format!(
        "rolled back: applied the {n} held order(s) ({} items written, {} already current)",
        totals.items - before.0,
        totals.stale - before.1
    )));
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn apply_batch<S: Store + Clone + 'static>(
    conn: &mut Conn,
    store: &S,
    slot: &SlotName,
    opts: &Options,
    new_system_owns: bool,
    batch: &Batch,
    totals: &mut Totals,
    on: &mut (dyn FnMut(Event<'_>) + Send),
) -> Result<Vec<i64>, End> {
    let rows = apply::read(&mut conn.legacy, &opts.county, batch, false)
        .await
        .map_err(|e| End::Lost(e.to_string()))?;
    if let Some(stores) = rows.stores.clone().filter(|s| !s.is_empty()) {
        conn.stores = stores;
    }
    let mut plan = apply::plan(
        &rows,
        batch,
        &conn.stores,
        &opts.county,
        opts.gsi_write_shards,
    );
    let mut holding = Vec::new();
    if new_system_owns {
        let flagged = apply::hold_for_new_system(store, &mut plan)
            .await
            .map_err(|e| End::Fatal(e.into()))?;
        holding.extend(flagged.iter().filter_map(|f| f.held));
        // Durable before the slot can move past the change that held them.
        held::record(conn.legacy.client(), &opts.county.to_string(), &holding)
            .await
            .map_err(|e| End::Lost(e.to_string()))?;
        for f in flagged {
            on(Event::Flagged(&f));
            totals.flagged_total += 1;
            if totals.flagged.len() < LISTED_MAX {
                totals.flagged.push(f);
            }
        }
    }
    for note in &batch.notes {
        on(Event::Note(note));
        if totals.notes.len() < LISTED_MAX {
            totals.notes.push(note.clone());
        }
    }
    for r in &plan.rejects {
        on(Event::Reject(r));
        totals.rejects_total += 1;
        if totals.rejects.len() < LISTED_MAX {
            totals.rejects.push(r.clone());
        }
    }
    let mut written = apply::write(store, plan.puts, plan.records, opts.concurrency)
        .await
        .map_err(|e| End::Fatal(e.into()))?;
    let removed = apply::delete(store, &plan.delete_orders, plan.delete_stock)
        .await
        .map_err(|e| End::Fatal(e.into()))?;
    written.deleted += removed.deleted;
    written.retried += removed.retried;
    let written_at = Timestamp::now();
    if let Some(end) = batch.end {
        slot::advance(conn.legacy.client(), slot, end)
            .await
            .map_err(|e| End::Lost(e.to_string()))?;
        conn.info.confirmed = conn.info.confirmed.max(end);
        totals.position = end.to_string();
    }
    totals.batches += 1;
    totals.changes += batch.changes;
    totals.transactions += batch.transactions();
    totals.orders += plan.orders;
    totals.stock += plan.stock;
    totals.customers += plan.customers;
    totals.absent += plan.absent;
    totals.items += written.items;
    totals.deleted += written.deleted;
    totals.stale += written.stale;
    totals.retried += written.retried;
    on(Event::Applied {
        batch,
        written_at,
        totals,
    });
    Ok(holding)
}

/// Sleeps `wait`; `true` if `stop` turned true meanwhile.
async fn stopped_during(wait: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    let signalled = tokio::select! {
        () = tokio::time::sleep(wait) => None,
        r = stop.wait_for(|s| *s) => Some(r.is_ok()),
    };
    match signalled {
        None => *stop.borrow(),
        Some(true) => true,
        // Nobody can stop it any more: sleep the whole wait.
        Some(false) => {
            tokio::time::sleep(wait).await;
            false
        }
    }
}

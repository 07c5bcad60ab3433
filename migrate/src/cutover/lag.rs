//! The two lags `migrate status` shows, read from the legacy database.
//!
//! CDC: the county's replication slot *is* the sync's durable position — it
//! moves only after a batch is written to DynamoDB — so the first
//! transaction still in it is the oldest change DynamoDB lacks, and its
//! commit time says how far behind the sync is. Nothing is written for
//! this: no status table in the legacy database whose own changes the slot
//! would then carry. The slot is free between two of the sync's SQL calls;
//! a peek that meets it busy tries again.
//!
//! legacy-sync: the row it keeps per county in
//! [`legacy_sync_progress::TABLE`](acme_contract::migration::legacy_sync_progress::TABLE).

use std::time::Duration;

use acme_contract::migration::legacy_sync_progress as progress;
use jiff::Timestamp;

use super::{CdcLag, LegacySyncLag};
use crate::source::{Legacy, SourceError};
use crate::sync::decode::Batch;
use crate::sync::slot::{self, SlotError, SlotName};

/// How many times a peek that finds the slot busy is tried again, 20 ms
/// apart (a sync's peek takes milliseconds).
const BUSY_TRIES: u32 = 100;

/// How far the change capture is behind, at `now`.
pub async fn cdc(legacy: &Legacy, slot: &SlotName, now: Timestamp) -> Result<CdcLag, SlotError> {
    let client = legacy.client();
    slot::session(client).await?;
    if slot::info(client, slot).await?.is_none() {
        return Ok(CdcLag::NoSlot);
    }
    let mut tries = 0;
    let rows = loop {
        match slot::peek(client, slot, 1).await {
            Ok(rows) => break rows,
            Err(e) if e.in_use() && tries < BUSY_TRIES => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e),
        }
    };
    let mut batch = Batch::default();
    for r in &rows {
        // A change this tool cannot read stops the sync too; here it only
        // means the lag is that transaction's.
        let _ = batch.add(r);
    }
    Ok(match batch.commits.first() {
        None => CdcLag::CaughtUp,
        Some((_, at)) => CdcLag::Behind {
            seconds: now.duration_since(*at).as_secs_f64().max(0.0),
        },
    })
}

/// legacy-sync's lag for `county`: the delay of the last stream record it
/// applied. No table or no row: it has not run.
pub async fn legacy_sync(legacy: &Legacy, county: &str) -> Result<LegacySyncLag, SourceError> {
    let client = legacy.client();
    let exists: Option<String> = client
        .query_one("SELECT to_regclass($1)::text", &[&progress::TABLE])
        .await
        .map_err(SourceError::query(progress::TABLE))?
        .get(0);
    if exists.is_none() {
        return Ok(LegacySyncLag::NotRun);
    }
    let sql = format!(
        "SELECT (extract(epoch FROM {a}) * 1000000)::bigint, \
                (extract(epoch FROM {a} - {r}))::float8 \
         FROM {t} WHERE {c} = $1",
        a = progress::APPLIED_AT,
        r = progress::LAST_RECORD_AT,
        t = progress::TABLE,
        c = progress::COUNTY,
    );
    let row = client
        .query_opt(&sql, &[&county])
        .await
        .map_err(SourceError::query(progress::TABLE))?;
    let Some(row) = row else {
        return Ok(LegacySyncLag::NotRun);
    };
    let applied_us: i64 = row.get(0);
    let seconds: f64 = row.get(1);
    Ok(LegacySyncLag::Lag {
        seconds: seconds.max(0.0),
        applied_at: Timestamp::from_microsecond(applied_us).unwrap_or(Timestamp::UNIX_EPOCH),
    })
}

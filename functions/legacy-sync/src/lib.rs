//! The legacy-sync Lambda: orders the new system took or changed, from the
//! OrderById stream into the legacy PostgreSQL tables (`orders`,
//! `order_lines`, a placeholder `customers` row when the legacy database
//! has none), so legacy reports and downstream systems keep working while a
//! county moves (issue "Migration II", point 2; `docs/migration.md`).
//!
//! # Entry point
//!
//! ```text
//! legacy_sync::LegacySync::new(county, target, rejects)
//!     .handle(event: aws_lambda_events::dynamodb::Event).await
//!     -> aws_lambda_events::streams::DynamoDbEventResponse
//! ```
//!
//! # Per record ([`decide`](mod@decide))
//!
//! - its new image carries `origin = legacy` (the migration wrote it from
//!   the legacy database): skipped, so nothing loops;
//! - a REMOVE: skipped (the new system never deletes an order);
//! - an order: mapped by `legacy_schema::outbound` and written in one
//!   transaction, guarded by the order's version (`acme_sync.orders`): a
//!   replay or a record arriving after a later one writes nothing;
//! - a record that cannot be mapped, or rows the database refuses (a
//!   constraint, a store it does not have): sent to the failure queue with
//!   the reason, and the shard goes on.
//!
//! # Failures
//!
//! Records of a shard are applied in order. At the first record that could
//! not be written for a passing reason (the database unreachable, the
//! failure queue unreachable) the handler stops and reports that record as
//! the batch item failure: Lambda retries from there (bisecting, up to the
//! mapping's retry limit, then the on-failure destination: the same queue).
//! Records before it are done.

pub mod db;
pub mod decide;
pub mod rejects;
pub mod secret;

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use tokio::sync::Mutex;

pub use db::{Applied, DbError, LegacyDb, Target};
pub use decide::{Decision, decide};
pub use rejects::{Rejected, Rejects, SqsRejects};

/// What a batch did, for the log line and the tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub written: u64,
    pub stale: u64,
    pub skipped: u64,
    pub rejected: u64,
}

/// The handler: one county's legacy database and failure queue.
pub struct LegacySync<R> {
    county: String,
    target: Target,
    rejects: R,
    /// Opened on first use and again after it broke; one batch at a time
    /// (Lambda runs one invocation per instance).
    db: Mutex<Option<LegacyDb>>,
    /// The county's cutover mode (SSM, cached); `None`: write in every mode.
    cutover: Option<order_aws::CutoverFlag>,
}

impl<R: Rejects> LegacySync<R> {
    pub fn new(county: impl Into<String>, target: Target, rejects: R) -> Self {
        Self {
            county: county.into(),
            target,
            rejects,
            db: Mutex::new(None),
            cutover: None,
        }
    }

    /// Writes only while the county's cutover mode is not `retired`.
    pub fn with_cutover(mut self, flag: order_aws::CutoverFlag) -> Self {
        self.cutover = Some(flag);
        self
    }

    /// Applies a batch; reports the first record that did not go through.
    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let (failed, counts) = self.apply(&event.records).await;
        tracing::info!(
            records = event.records.len(),
            written = counts.written,
            stale = counts.stale,
            skipped = counts.skipped,
            rejected = counts.rejected,
            "batch applied"
        );
        let mut response = DynamoDbEventResponse::default();
        if let Some(i) = failed {
            let mut f = DynamoDbBatchItemFailure::default();
            // Lambda resumes the shard here; an empty identifier (never,
            // from a real stream) retries the whole batch.
            f.item_identifier = Some(
                event.records[i]
                    .change
                    .sequence_number
                    .clone()
                    .unwrap_or_default(),
            );
            response.batch_item_failures.push(f);
        }
        response
    }

    /// The index of the first record not done, and what was done.
    pub async fn apply(&self, records: &[EventRecord]) -> (Option<usize>, Counts) {
        let mut counts = Counts::default();
        match self.writes_allowed().await {
            Ok(true) => {}
            Ok(false) => {
                counts.skipped = records.len() as u64;
                return (None, counts);
            }
            // Unknown mode: write nothing yet; Lambda retries the batch.
            Err(e) => {
                tracing::warn!(error = %e, "cutover mode unreadable; batch retried");
                return (Some(0).filter(|_| !records.is_empty()), counts);
            }
        }
        let mut guard = self.db.lock().await;
        let mut last_done: Option<&EventRecord> = None;
        let mut failed = None;
        for (i, record) in records.iter().enumerate() {
            match self.one(&mut guard, record, &mut counts).await {
                Ok(()) => last_done = Some(record),
                Err(e) => {
                    tracing::warn!(
                        event_id = %record.event_id, error = %e,
                        "record not applied; the batch resumes from it"
                    );
                    failed = Some(i);
                    break;
                }
            }
        }
        if let (Some(r), Some(db)) = (last_done, guard.as_ref()) {
            let at = r.change.approximate_creation_date_time.timestamp_micros();
            let seq = r.change.sequence_number.as_deref().unwrap_or_default();
            if let Err(e) = db.record_position(&self.county, at, seq).await {
                // The lag figure only; the rows are written.
                tracing::warn!(error = %e, "recording the sync position");
            }
        }
        (failed, counts)
    }

    /// The cutover mode's check, the one place it goes: in mode `retired`
    /// In mode `retired` legacy-sync writes nothing (the records are
    /// acknowledged): the legacy database is out of order taking. A county
    /// without a flag writes in every mode.
    async fn writes_allowed(&self) -> Result<bool, String> {
        match &self.cutover {
            None => Ok(true),
            Some(flag) => flag
                .mode()
                .await
                .map(|m| m != acme_contract::migration::CutoverMode::Retired)
                .map_err(|e| e.to_string()),
        }
    }

    async fn one(
        &self,
        db: &mut Option<LegacyDb>,
        record: &EventRecord,
        counts: &mut Counts,
    ) -> Result<(), String> {
        let rows = match decide(record) {
            Decision::Skip(why) => {
                tracing::debug!(event_id = %record.event_id, why, "skipped");
                counts.skipped += 1;
                return Ok(());
            }
            Decision::Reject(reason) => return self.reject(record, None, reason, counts).await,
            Decision::Apply(rows) => rows,
        };
        if db.as_ref().is_none_or(LegacyDb::is_closed) {
            *db = None;
            *db = Some(
                LegacyDb::connect(&self.target)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        let Some(conn) = db.as_mut() else {
            return Err("no connection".into());
        };
        match conn.apply(&self.county, &rows).await {
            Ok(Applied::Written(number)) => {
                tracing::info!(order_id = %rows.order_id, legacy_order_id = number, version = rows.version, status = rows.status, "written");
                counts.written += 1;
                Ok(())
            }
            Ok(Applied::Stale) => {
                counts.stale += 1;
                Ok(())
            }
            Err(DbError::Refused(reason)) => {
                let id = rows.order_id.to_string();
                self.reject(record, Some(id), reason, counts).await
            }
            Err(e @ DbError::Unavailable(_)) => {
                // The next record reconnects if the connection broke.
                Err(e.to_string())
            }
        }
    }

    async fn reject(
        &self,
        record: &EventRecord,
        order_id: Option<String>,
        reason: String,
        counts: &mut Counts,
    ) -> Result<(), String> {
        let order_id = order_id.or_else(|| key_of(record));
        tracing::error!(event_id = %record.event_id, order_id = order_id.as_deref().unwrap_or_default(), reason, "record cannot be written to the legacy tables; sent to the failure queue");
        let r = Rejected {
            county_id: self.county.clone(),
            event_id: record.event_id.clone(),
            sequence_number: record.change.sequence_number.clone(),
            order_id,
            reason,
        };
        self.rejects.send(&r).await?;
        counts.rejected += 1;
        Ok(())
    }
}

/// The order id in the record's keys, if readable.
fn key_of(record: &EventRecord) -> Option<String> {
    let keys = serde_json::to_value(&record.change.keys).ok()?;
    keys.get(order_domain::schema::order_by_id::PK)?
        .get("S")?
        .as_str()
        .map(str::to_owned)
}

//! `migrate shadow`: the comparer of shadow reads. In mode `shadow` the
//! order API sends a sample of its answers ([`ShadowRead`]) to the county's
//! ShadowReads queue; this long-polls it, reads each order's legacy row,
//! maps it by the backfill's rules and compares it, field by field, with
//! what the API answered, then publishes the counts
//! (`acme_contract::migration::shadow_metrics`) the cutover gate reads.
//!
//! A legacy row updated after the item the API read (its `updated_at` newer
//! than the message's legacy version marker) is lag the change capture has
//! not yet applied: counted as stale, not as a mismatch. A message is
//! deleted only after its comparison is published, so a crash or a refused
//! publish loses nothing (SQS delivers it again); one that cannot be parsed
//! is reported and deleted at once, so it never holds the queue.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use acme_contract::migration::shadow_metrics;
use order_domain::CountyId;
use order_domain::shadow::ShadowRead;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use crate::order::{MappedStore, map_in_county};
use crate::read::LegacyOrder;
use crate::source::{Legacy, LegacyUrl, SourceError};

/// One message as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub receipt: String,
    pub body: String,
}

/// The ShadowReads queue, as the comparer uses it.
pub trait Inbox: Send + Sync {
    /// Up to `max` messages, waiting at most `wait` for the first.
    fn receive(
        &self,
        max: i32,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Message>, ShadowError>> + Send;
    fn delete(&self, messages: &[Message]) -> impl Future<Output = Result<(), ShadowError>> + Send;
}

/// Where the counts go (CloudWatch `PutMetricData`).
pub trait MetricSink: Send + Sync {
    fn publish(
        &self,
        county: &CountyId,
        counts: &Counts,
    ) -> impl Future<Output = Result<(), ShadowError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum ShadowError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("the ShadowReads queue: {0}")]
    Queue(String),
    #[error("publishing the shadow metrics: {0}")]
    Metrics(String),
    #[error("the legacy database has no stores with county_code `{0}`: nothing to compare")]
    NoStores(String),
}

/// What one comparison found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Match,
    /// The legacy row changed after the item the API read: lag, not error.
    Stale,
    /// The answer differs; the names of the differing fields.
    Mismatch(Vec<String>),
}

/// Counts of one batch, or of a whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Reads compared (matches, stale and mismatches):
    /// [`shadow_metrics::READS`].
    pub reads: u64,
    /// [`shadow_metrics::MISMATCHES`].
    pub mismatches: u64,
    /// [`shadow_metrics::STALE`].
    pub stale: u64,
    /// Messages that were not a shadow read of this county (deleted).
    pub malformed: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.reads += o.reads;
        self.mismatches += o.mismatches;
        self.stale += o.stale;
        self.malformed += o.malformed;
    }
}

/// Compares a sampled answer with its legacy row (`None`: the county's
/// legacy database has no such order). Every field of the message is
/// compared, the legacy version marker included, so a legacy row older than
/// the item (the item holds a change the legacy side never made) is a
/// mismatch naming `legacy_updated_us`.
pub fn compare(
    read: &ShadowRead,
    legacy: Option<&LegacyOrder>,
    stores: &[MappedStore],
    county: &CountyId,
) -> Verdict {
    let Some(row) = legacy else {
        return Verdict::Mismatch(vec!["order (not in the legacy database)".into()]);
    };
    if row.updated_at_us > read.legacy_updated_us {
        return Verdict::Stale;
    }
    let mapped = match map_in_county(row, stores, county) {
        Ok(m) => m,
        Err(_) => return Verdict::Mismatch(vec!["order (the legacy row no longer maps)".into()]),
    };
    let Some(expected) = ShadowRead::of(&mapped.order, read.answered_at) else {
        return Verdict::Mismatch(vec!["legacy".into()]);
    };
    let fields = differing_fields(&expected, read);
    if fields.is_empty() {
        Verdict::Match
    } else {
        Verdict::Mismatch(fields)
    }
}

/// Names of the top-level fields whose values differ.
fn differing_fields(expected: &ShadowRead, got: &ShadowRead) -> Vec<String> {
    let as_map = |r: &ShadowRead| match serde_json::to_value(r) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let (a, b) = (as_map(expected), as_map(got));
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    names
        .into_iter()
        .filter(|n| a.get(*n) != b.get(*n))
        .map(|n| n.to_string())
        .collect()
}

#[derive(Debug, Clone)]
pub struct Options {
    pub county: CountyId,
    /// Messages per receive (SQS allows at most 10).
    pub batch: i32,
    /// Long-poll wait (SQS allows at most 20 s).
    pub wait: Duration,
    /// Stop once a receive comes back empty (a drain, for tests and CI).
    pub until_empty: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub county: String,
    pub batches: u64,
    #[serde(flatten)]
    pub counts: Counts,
    /// The first mismatches: order ids and field names (never values).
    pub mismatches: Vec<Mismatch>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub order_id: String,
    pub legacy_order_id: i64,
    pub fields: Vec<String>,
}

const LISTED_MAX: usize = 100;

/// Compares until `stop` turns true (or, with `until_empty`, the queue is
/// empty).
/// `on_batch` sees each batch once it is published and deleted.
pub async fn run<I: Inbox, M: MetricSink>(
    url: &LegacyUrl,
    inbox: &I,
    metrics: &M,
    opts: &Options,
    mut stop: watch::Receiver<bool>,
    on_batch: &mut (dyn FnMut(&Batch) + Send),
) -> Result<Totals, ShadowError> {
    let mut legacy = Legacy::connect(url).await?;
    let mut totals = Totals {
        county: opts.county.to_string(),
        ..Totals::default()
    };
    while !*stop.borrow() {
        let messages = tokio::select! {
            m = inbox.receive(opts.batch, opts.wait) => m?,
            _ = stop.changed() => break,
        };
        if messages.is_empty() {
            if opts.until_empty {
                break;
            }
            continue;
        }
        let batch = compare_batch(&mut legacy, inbox, metrics, &opts.county, messages).await?;
        on_batch(&batch);
        totals.batches += 1;
        totals.counts.add(&batch.counts);
        let room = LISTED_MAX.saturating_sub(totals.mismatches.len());
        totals
            .mismatches
            .extend(batch.mismatches.into_iter().take(room));
    }
    Ok(totals)
}

/// One received batch: malformed messages reported and deleted, the rest
/// compared against one legacy snapshot, the counts published, and only
/// then those messages deleted.
pub async fn compare_batch<I: Inbox, M: MetricSink>(
    legacy: &mut Legacy,
    inbox: &I,
    metrics: &M,
    county: &CountyId,
    messages: Vec<Message>,
) -> Result<Batch, ShadowError> {
    let mut batch = Batch::default();
    let (reads, bad) = parse_all(county, messages);
    batch.counts.malformed = bad.len() as u64;
    if !bad.is_empty() {
        let messages: Vec<Message> = bad.iter().map(|(m, _)| m.clone()).collect();
        inbox.delete(&messages).await?;
        batch.malformed = bad.into_iter().map(|(m, why)| (m.id, why)).collect();
    }
    if reads.is_empty() {
        return Ok(batch);
    }
    let verdicts = judge(legacy, county, &reads).await?;
    for ((m, read), verdict) in reads.iter().zip(verdicts) {
        batch.counts.reads += 1;
        match verdict {
            Verdict::Match => {}
            Verdict::Stale => batch.counts.stale += 1,
            Verdict::Mismatch(fields) => {
                batch.counts.mismatches += 1;
                tracing::warn!(
                    county = %county, order_id = %read.order_id,
                    legacy_order_id = read.legacy_order_id, message_id = m.id,
                    fields = fields.join(", "), "shadow read differs from the legacy database"
                );
                batch.mismatches.push(Mismatch {
                    order_id: read.order_id.to_string(),
                    legacy_order_id: read.legacy_order_id,
                    fields,
                });
            }
        }
    }
    metrics.publish(county, &batch.counts).await?;
    let compared: Vec<Message> = reads.into_iter().map(|(m, _)| m).collect();
    inbox.delete(&compared).await?;
    Ok(batch)
}

/// What [`compare_batch`] found.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub counts: Counts,
    pub mismatches: Vec<Mismatch>,
    /// Messages that were not shadow reads of the county: id and reason.
    pub malformed: Vec<(String, String)>,
}

/// Splits messages into this county's shadow reads and the rest (each of
/// which is logged with its reason).
type Parsed = (Vec<(Message, ShadowRead)>, Vec<(Message, String)>);

fn parse_all(county: &CountyId, messages: Vec<Message>) -> Parsed {
    let mut reads = Vec::new();
    let mut bad = Vec::new();
    for m in messages {
        let parsed = ShadowRead::parse(&m.body).and_then(|r| {
            if &r.county_id == county {
                Ok(r)
            } else {
                Err(format!(
                    "a read of county `{}`, not `{county}`",
                    r.county_id
                ))
            }
        });
        match parsed {
            Ok(r) => reads.push((m, r)),
            Err(reason) => {
                tracing::warn!(
                    county = %county, message_id = m.id, reason,
                    "not a shadow read: reported and deleted"
                );
                bad.push((m, reason));
            }
        }
    }
    (reads, bad)
}

/// The verdict on each read, against one snapshot of the legacy database.
async fn judge(
    legacy: &mut Legacy,
    county: &CountyId,
    reads: &[(Message, ShadowRead)],
) -> Result<Vec<Verdict>, ShadowError> {
    let snap = legacy.snapshot().await?;
    let stores = crate::order::county_stores(&snap, county)
        .await?
        .ok_or_else(|| ShadowError::NoStores(county.to_string()))?;
    let ids: Vec<i64> = reads.iter().map(|(_, r)| r.legacy_order_id).collect();
    let rows: BTreeMap<i64, LegacyOrder> = snap
        .orders_by_id(county.as_str(), &ids)
        .await?
        .into_iter()
        .map(|o| (o.order_id, o))
        .collect();
    Ok(reads
        .iter()
        .map(|(_, r)| compare(r, rows.get(&r.legacy_order_id), &stores, county))
        .collect())
}

/// The names [`MetricSink`] publishes under, with their values.
pub fn metric_values(counts: &Counts) -> [(&'static str, u64); 3] {
    [
        (shadow_metrics::READS, counts.reads),
        (shadow_metrics::MISMATCHES, counts.mismatches),
        (shadow_metrics::STALE, counts.stale),
    ]
}

pub mod aws;

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::read::{LegacyLine, LegacyStore};

    fn county() -> CountyId {
        CountyId::parse("travis-tx").expect("county")
    }

    fn stores() -> Vec<MappedStore> {
        vec![MappedStore::new(&LegacyStore {
            store_id: "AUS-1".into(),
            name: "Austin".into(),
            timezone: "America/Chicago".into(),
        })]
    }

    fn row() -> LegacyOrder {
        LegacyOrder {
            order_id: 1010,
            client_request_id: None,
            customer_id: 77,
            store_id: "AUS-1".into(),
            status: "CONFIRMED".into(),
            total: "25.00".into(),
            currency: "USD".into(),
            payment_ref: Some("pay-1".into()),
            placed_at: "2025-03-01T11:00:00".into(),
            updated_at_us: 1_740_848_700_000_000,
            lines: vec![LegacyLine {
                line_no: 1,
                sku: "WINE-1".into(),
                quantity: 2,
                unit_price: "12.50".into(),
            }],
        }
    }

    /// What the API would have answered for `row` as mapped.
    fn answered(row: &LegacyOrder) -> ShadowRead {
        let m = map_in_county(row, &stores(), &county()).expect("maps");
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
        ShadowRead::of(&m.order, at).expect("migrated")
    }

    #[test]
    fn the_same_order_matches() {
        let r = row();
        assert_eq!(
            compare(&answered(&r), Some(&r), &stores(), &county()),
            Verdict::Match
        );
    }

    #[test]
    fn a_field_changed_behind_dynamodbs_back_is_named() {
        let r = row();
        let read = answered(&r);
        let mut changed = r.clone();
        changed.status = "CANCELLED".into();
        changed.lines[0].quantity = 3;
        changed.total = "37.50".into();
        assert_eq!(
            compare(&read, Some(&changed), &stores(), &county()),
            Verdict::Mismatch(vec![
                "items".into(),
                "legacy_status".into(),
                "status".into(),
                "total_cents".into()
            ])
        );
    }

    #[test]
    fn a_legacy_row_newer_than_the_item_is_stale_not_a_mismatch() {
        let r = row();
        let read = answered(&r);
        let mut later = r.clone();
        later.status = "REFUNDED".into();
        later.updated_at_us += 1;
        assert_eq!(
            compare(&read, Some(&later), &stores(), &county()),
            Verdict::Stale
        );
    }

    #[test]
    fn an_item_newer_than_its_legacy_row_is_a_mismatch() {
        let r = row();
        let mut read = answered(&r);
        read.legacy_updated_us += 1;
        assert_eq!(
            compare(&read, Some(&r), &stores(), &county()),
            Verdict::Mismatch(vec!["legacy_updated_us".into()])
        );
    }

    #[test]
    fn an_order_the_legacy_side_lacks_or_cannot_map_is_a_mismatch() {
        let r = row();
        let read = answered(&r);
        assert!(matches!(
            compare(&read, None, &stores(), &county()),
            Verdict::Mismatch(f) if f == ["order (not in the legacy database)"]
        ));
        let mut broken = r.clone();
        broken.status = "paid ".into();
        assert!(matches!(
            compare(&read, Some(&broken), &stores(), &county()),
            Verdict::Mismatch(f) if f == ["order (the legacy row no longer maps)"]
        ));
    }

    #[test]
    fn messages_of_another_county_or_shape_are_set_apart() {
        let read = answered(&row());
        let msg = |id: &str, body: String| Message {
            id: id.into(),
            receipt: format!("r-{id}"),
            body,
        };
        let mut other = serde_json::to_value(&read).expect("json");
        other["county_id"] = "hays-tx".into();
        let (reads, bad) = parse_all(
            &county(),
            vec![
                msg("1", read.to_json()),
                msg("2", "not json".into()),
                msg("3", other.to_string()),
            ],
        );
        assert_eq!(reads.len(), 1);
        assert_eq!(
            bad.iter().map(|(m, _)| m.id.as_str()).collect::<Vec<_>>(),
            ["2", "3"]
        );
    }
}

//! The publisher's event source, with Lambda's DynamoDB stream semantics:
//!
//! - read each shard in order (a child shard only after its parent is
//!   finished), in batches of up to the mapping's `BatchSize`, starting at
//!   `TRIM_HORIZON`;
//! - checkpoint, per shard, the sequence number of the last record the
//!   function processed;
//! - with `ReportBatchItemFailures`, a failure entry moves the checkpoint to
//!   just before the first failed record and the next batch starts there; a
//!   function error retries the whole batch. Never skip ahead: a record that
//!   keeps failing holds its shard back (with backoff) until it succeeds;
//!   other shards go on meanwhile.
//!
//! A restarted runner resumes the stream where the last one left it, as an
//! event source mapping keeps its position across function updates: the
//! per-shard checkpoints are saved (when `checkpoints` names a file) after
//! every batch the function finished, and read back at start for the same
//! stream ARN. A shard without a checkpoint starts at `TRIM_HORIZON`, so
//! records written while no runner ran are published, not skipped; a batch
//! in flight when the runner was killed is delivered again (at least once,
//! as Lambda does).
//!
//! Stream reads wait for DynamoDB writes in flight ([`EmulatorLock`]): moto
//! shows a transaction's stream records before it decides, and a cancelled
//! one takes them back and hands their sequence numbers out again, which
//! would publish events of changes that never happened and move the
//! checkpoint past records still to come.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use order_aws::emulator::EmulatorLock;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::error::LocalError;
use crate::functions::StreamFunction;
use crate::stack::StreamMapping;

/// Lambda polls a stream shard about four times a second.
const IDLE_POLL: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, Default, Serialize, Deserialize)]
struct ShardState {
    parent: Option<String>,
    /// Sequence number of the last record processed.
    checkpoint: Option<String>,
    finished: bool,
    #[serde(skip)]
    failures: u32,
    /// While its first unprocessed record keeps failing: not polled before.
    #[serde(skip)]
    retry_at: Option<Instant>,
}

/// Polls one table stream for one function.
pub struct StreamPoller<F> {
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub stream_arn: String,
    pub region: String,
    pub mapping: StreamMapping,
    pub function: Arc<F>,
    /// Where the checkpoints are kept across runs (none: start afresh).
    pub checkpoints: Option<PathBuf>,
}

/// The checkpoints file: the stream they belong to, and its shards.
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    stream_arn: String,
    shards: BTreeMap<String, ShardState>,
}

impl<F: StreamFunction> StreamPoller<F> {
    /// The shards as the last run left them, if it read this stream.
    fn load(&self) -> BTreeMap<String, ShardState> {
        let Some(path) = &self.checkpoints else {
            return BTreeMap::new();
        };
        let saved = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str::<Saved>(&t).ok());
        match saved {
            Some(s) if s.stream_arn == self.stream_arn => {
                tracing::info!(path = %path.display(), shards = s.shards.len(), "stream resumes from its checkpoints");
                s.shards
            }
            _ => BTreeMap::new(),
        }
    }

    /// Writes the checkpoints atomically (temp file, then rename).
    fn save(&self, shards: &BTreeMap<String, ShardState>) -> Result<(), LocalError> {
        let Some(path) = &self.checkpoints else {
            return Ok(());
        };
        let saved = serde_json::json!({"stream_arn": self.stream_arn, "shards": shards});
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, saved.to_string())?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// Runs until `shutdown` turns true; a batch in flight finishes first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut shards = self.load();
        while !*shutdown.borrow() {
            let polled = self.poll_once(&mut shards).await;
            if let Ok(true) = polled
                && let Err(e) = self.save(&shards)
            {
                tracing::warn!(error = %e, "saving the stream checkpoints");
            }
            let worked = match polled {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(error = %e, "stream poll failed; retrying");
                    false
                }
            };
            if !worked {
                // Until the next poll, or sooner a shard's retry.
                let now = Instant::now();
                let wait = shards
                    .values()
                    .filter_map(|s| s.retry_at)
                    .map(|at| at.saturating_duration_since(now))
                    .fold(IDLE_POLL, Duration::min);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        tracing::info!(stream = %self.stream_arn, "stream poller stopped");
    }

    async fn discover(&self, shards: &mut BTreeMap<String, ShardState>) -> Result<(), LocalError> {
        let mut start: Option<String> = None;
        loop {
            let out = self
                .streams
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(start.clone())
                .send()
                .await
                .map_err(|e| LocalError::aws("dynamodbstreams", "DescribeStream", e))?;
            let Some(desc) = out.stream_description else {
                return Ok(());
            };
            for s in desc.shards.unwrap_or_default() {
                if let Some(id) = s.shard_id {
                    shards.entry(id).or_insert_with(|| ShardState {
                        parent: s.parent_shard_id,
                        ..ShardState::default()
                    });
                }
            }
            match desc.last_evaluated_shard_id {
                Some(last) => start = Some(last),
                None => return Ok(()),
            }
        }
    }

    /// One pass over the shards; true if any records were processed.
    async fn poll_once(
        &self,
        shards: &mut BTreeMap<String, ShardState>,
    ) -> Result<bool, LocalError> {
        self.discover(shards).await?;
        let finished: HashSet<String> = shards
            .iter()
            .filter(|(_, s)| s.finished)
            .map(|(id, _)| id.clone())
            .collect();
        let known: HashSet<String> = shards.keys().cloned().collect();
        let mut worked = false;
        let now = Instant::now();
        for (id, st) in shards.iter_mut() {
            if st.finished || st.retry_at.is_some_and(|at| at > now) {
                continue;
            }
            // Per-key order across a split: the parent's records come first.
            if let Some(p) = &st.parent
                && known.contains(p)
                && !finished.contains(p)
            {
                continue;
            }
            worked |= self.poll_shard(id, st).await?;
        }
        Ok(worked)
    }

    async fn poll_shard(&self, shard_id: &str, st: &mut ShardState) -> Result<bool, LocalError> {
        // A fresh iterator from the checkpoint on every poll rather than the
        // previous response's `NextShardIterator`: moto's iterators point at a
        // shard object that a cancelled transaction's rollback replaces, after
        // which they never see new records. Same position, either way.
        let read = EmulatorLock::shared().await;
        let req = self
            .streams
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard_id);
        let req = match &st.checkpoint {
            Some(seq) => req
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(seq),
            None => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let Some(iterator) = req
            .send()
            .await
            .map_err(|e| LocalError::aws("dynamodbstreams", "GetShardIterator", e))?
            .shard_iterator
        else {
            st.finished = true;
            return Ok(false);
        };
        let out = self
            .streams
            .get_records()
            .shard_iterator(&iterator)
            .limit(
                i32::try_from(self.mapping.batch_size)
                    .unwrap_or(100)
                    .clamp(1, 1000),
            )
            .send()
            .await
            .map_err(|e| LocalError::aws("dynamodbstreams", "GetRecords", e))?;
        drop(read);
        let records = out.records.unwrap_or_default();
        if records.is_empty() {
            // No next iterator: the shard is closed and fully read.
            st.finished = out.next_shard_iterator.is_none();
            return Ok(false);
        }
        let event = match dynamodb_event(&records, &self.stream_arn, &self.region) {
            Ok(e) => e,
            Err(e) => {
                return Err(LocalError::Invalid(format!(
                    "building the DynamoDB stream event: {e}"
                )));
            }
        };
        let seqs: Vec<String> = records
            .iter()
            .map(|r| {
                r.dynamodb
                    .as_ref()
                    .and_then(|d| d.sequence_number.clone())
                    .unwrap_or_default()
            })
            .collect();
        // Index of the first record to retry, if any.
        let retry_from: Option<usize> = match self.function.call(event).await {
            Ok(resp) => {
                let v = serde_json::to_value(&resp).unwrap_or(Value::Null);
                let failed: Vec<Option<usize>> = v["batchItemFailures"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| {
                        f["itemIdentifier"]
                            .as_str()
                            .and_then(|id| seqs.iter().position(|s| s == id))
                    })
                    .collect();
                if failed.iter().any(Option::is_none) {
                    // An identifier that is no record of the batch: Lambda
                    // retries the whole batch.
                    Some(0)
                } else {
                    failed.into_iter().flatten().min()
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, shard = shard_id, "publisher function error: batch will be retried");
                Some(0)
            }
        };
        match retry_from {
            None => {
                st.checkpoint = seqs.last().cloned();
                st.failures = 0;
                st.retry_at = None;
            }
            Some(i) => {
                if i > 0 {
                    st.checkpoint = Some(seqs[i - 1].clone());
                }
                st.failures += 1;
                // The next poll's iterator starts after the checkpoint: at
                // the failed record.
                let backoff = (Duration::from_millis(100)
                    * 2u32.saturating_pow(st.failures.min(6)))
                .min(MAX_BACKOFF);
                tracing::warn!(shard = shard_id, record = %seqs[i], attempt = st.failures, ?backoff, "stream record failed; retrying from it");
                st.retry_at = Some(Instant::now() + backoff);
            }
        }
        Ok(true)
    }
}

/// A stream attribute value in DynamoDB JSON (`{"S": "x"}`), the form Lambda
/// delivers images in.
pub fn attr_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::Ss(s) => json!({"SS": s}),
        AttributeValue::Ns(s) => json!({"NS": s}),
        AttributeValue::B(b) => json!({"B": crate::api::base64(b.as_ref())}),
        AttributeValue::Bs(bs) => {
            json!({"BS": bs.iter().map(|b| crate::api::base64(b.as_ref())).collect::<Vec<_>>()})
        }
        AttributeValue::L(l) => json!({"L": l.iter().map(attr_json).collect::<Vec<_>>()}),
        AttributeValue::M(m) => json!({"M": image_json(Some(m))}),
        _ => json!({"NULL": true}),
    }
}

fn image_json(m: Option<&std::collections::HashMap<String, AttributeValue>>) -> Value {
    match m {
        None => Value::Null,
        Some(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), attr_json(v))).collect()),
    }
}

/// The DynamoDB stream event Lambda would deliver for `records`.
pub fn dynamodb_event(
    records: &[Record],
    stream_arn: &str,
    region: &str,
) -> Result<DynamoDbEvent, serde_json::Error> {
    let recs: Vec<Value> = records
        .iter()
        .map(|r| {
            let d = r.dynamodb.as_ref();
            json!({
                "eventID": r.event_id,
                "eventName": r.event_name.as_ref().map(|n| n.as_str().to_owned()),
                "eventVersion": r.event_version.clone().unwrap_or_else(|| "1.1".into()),
                "eventSource": "aws:dynamodb",
                "awsRegion": region,
                "eventSourceARN": stream_arn,
                "dynamodb": {
                    "ApproximateCreationDateTime": d.and_then(|d| d.approximate_creation_date_time).map(|t| t.as_secs_f64()),
                    "Keys": image_json(d.and_then(|d| d.keys.as_ref())),
                    "NewImage": image_json(d.and_then(|d| d.new_image.as_ref())),
                    "OldImage": image_json(d.and_then(|d| d.old_image.as_ref())),
                    "SequenceNumber": d.and_then(|d| d.sequence_number.clone()),
                    "SizeBytes": d.and_then(|d| d.size_bytes).unwrap_or(0),
                    "StreamViewType": d.and_then(|d| d.stream_view_type.as_ref()).map(|v| v.as_str().to_owned()),
                },
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": recs }))
}

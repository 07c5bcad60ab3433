//! The worker's event source, with Lambda's SQS semantics:
//!
//! - long-poll the queue and collect a batch of up to `BatchSize` messages
//!   within `MaximumBatchingWindowInSeconds` (both from the county's event
//!   source mapping), with up to `MaximumConcurrency` pollers at once;
//! - build the `SqsEvent` from the received messages with their real
//!   attributes (`ApproximateReceiveCount`, `SentTimestamp`, ...);
//! - with `ReportBatchItemFailures`, delete only the messages not listed in
//!   the response's `batchItemFailures`; a function error, or a failure entry
//!   that names no message of the batch, fails the whole batch;
//! - leave failed messages alone: SQS makes them visible again after the
//!   visibility timeout, and its redrive policy moves a message to the
//!   dead-letter queue after `maxReceiveCount` receives.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::functions::QueueFunction;
use crate::provision::QueueInfo;
use crate::stack::QueueMapping;

/// SQS's most messages per `ReceiveMessage` and per `DeleteMessageBatch`.
const SQS_BATCH_MAX: usize = 10;
/// SQS's longest long poll.
const MAX_WAIT_SECONDS: i32 = 20;

/// Polls one queue for one function.
pub struct QueuePoller<F> {
    pub sqs: aws_sdk_sqs::Client,
    pub queue: QueueInfo,
    pub region: String,
    pub mapping: QueueMapping,
    pub function: Arc<F>,
    /// Concurrent pollers; Lambda scales up to the mapping's maximum
    /// concurrency, which on a laptop would only queue up on the emulator.
    pub pollers: usize,
}

impl<F: QueueFunction> QueuePoller<F> {
    /// Runs until `shutdown` turns true; a batch in flight finishes first.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let me = Arc::new(self);
        let n = me
            .pollers
            .clamp(1, me.mapping.max_concurrency.max(1) as usize);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..n {
            let me = me.clone();
            let shutdown = shutdown.clone();
            tasks.spawn(async move { me.poll_loop(i, shutdown).await });
        }
        while tasks.join_next().await.is_some() {}
        tracing::info!(queue = %me.queue.url, "queue pollers stopped");
    }

    async fn poll_loop(&self, poller: usize, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(100);
        while !*shutdown.borrow() {
            let batch = tokio::select! {
                b = self.collect_batch() => b,
                _ = shutdown.changed() => break,
            };
            match batch {
                Ok(b) if b.is_empty() => {}
                Ok(b) => {
                    backoff = Duration::from_millis(100);
                    self.invoke(poller, b).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "ReceiveMessage failed; backing off");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// One batch: up to `batch_size` messages, closed early when the
    /// batching window ends (or at once after the first receive if it is 0).
    async fn collect_batch(&self) -> Result<Vec<Message>, String> {
        let want = self.mapping.batch_size.max(1) as usize;
        let window = Duration::from_secs(u64::from(self.mapping.batching_window_seconds));
        let mut batch: Vec<Message> = Vec::new();
        let mut started: Option<Instant> = None;
        loop {
            let wait = match started {
                None => MAX_WAIT_SECONDS,
                Some(s) => {
                    let left = window.saturating_sub(s.elapsed());
                    if left.is_zero() {
                        break;
                    }
                    i32::try_from(left.as_secs())
                        .unwrap_or(MAX_WAIT_SECONDS)
                        .min(MAX_WAIT_SECONDS)
                }
            };
            let max = (want - batch.len()).min(SQS_BATCH_MAX);
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue.url)
                .max_number_of_messages(i32::try_from(max).unwrap_or(10))
                .wait_time_seconds(wait)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .map_err(|e| {
                    crate::error::LocalError::aws("sqs", "ReceiveMessage", e).to_string()
                })?;
            let got = out.messages.unwrap_or_default();
            if !got.is_empty() && started.is_none() {
                started = Some(Instant::now());
            }
            batch.extend(got);
            if batch.len() >= want || (window.is_zero() && !batch.is_empty()) {
                break;
            }
            if batch.is_empty() {
                // Nothing yet: return so the caller can check for shutdown.
                break;
            }
        }
        Ok(batch)
    }

    async fn invoke(&self, poller: usize, batch: Vec<Message>) {
        let event = match sqs_event(&batch, &self.queue.arn, &self.region) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "building the SQS event; batch left for redelivery");
                return;
            }
        };
        let ids: Vec<&str> = batch
            .iter()
            .filter_map(|m| m.message_id.as_deref())
            .collect();
        let failed: HashSet<String> = match self.function.call(event).await {
            Ok(resp) => {
                let v = serde_json::to_value(&resp).unwrap_or(Value::Null);
                let listed: Vec<String> = v["batchItemFailures"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| f["itemIdentifier"].as_str().unwrap_or("").to_owned())
                    .collect();
                if listed.iter().any(|id| !ids.contains(&id.as_str())) {
                    // Lambda treats an unknown or empty identifier as a
                    // failure of the whole batch.
                    tracing::warn!(
                        ?listed,
                        "batchItemFailures names no message of the batch: whole batch fails"
                    );
                    ids.iter().map(|s| (*s).to_owned()).collect()
                } else {
                    listed.into_iter().collect()
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, messages = ids.len(), "worker function error: whole batch left for redelivery");
                ids.iter().map(|s| (*s).to_owned()).collect()
            }
        };
        let done: Vec<&Message> = batch
            .iter()
            .filter(|m| !m.message_id.as_ref().is_some_and(|id| failed.contains(id)))
            .collect();
        tracing::debug!(
            poller,
            messages = batch.len(),
            failed = failed.len(),
            "worker batch"
        );
        for chunk in done.chunks(SQS_BATCH_MAX) {
            let entries: Vec<DeleteMessageBatchRequestEntry> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .set_receipt_handle(m.receipt_handle.clone())
                        .build()
                        .ok()
                })
                .collect();
            match self
                .sqs
                .delete_message_batch()
                .queue_url(&self.queue.url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) if !out.failed.is_empty() => {
                    tracing::warn!(
                        failed = out.failed.len(),
                        "some deletes failed; those messages will be redelivered"
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %crate::error::LocalError::aws("sqs", "DeleteMessageBatch", e), "messages will be redelivered")
                }
            }
        }
    }
}

/// The `SqsEvent` Lambda would deliver for `batch`, in its wire format.
pub fn sqs_event(
    batch: &[Message],
    queue_arn: &str,
    region: &str,
) -> Result<SqsEvent, serde_json::Error> {
    let records: Vec<Value> = batch
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, Value> = m
                .attributes
                .iter()
                .flatten()
                .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
                .collect();
            let message_attributes: serde_json::Map<String, Value> = m
                .message_attributes
                .iter()
                .flatten()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        json!({
                            "stringValue": v.string_value,
                            "stringListValues": v.string_list_values.clone().unwrap_or_default(),
                            "binaryListValues": [],
                            "dataType": v.data_type,
                        }),
                    )
                })
                .collect();
            json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": m.md5_of_body,
                "md5OfMessageAttributes": m.md5_of_message_attributes,
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records }))
}

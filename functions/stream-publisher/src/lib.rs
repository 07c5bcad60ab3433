//! The stream publisher Lambda: OrderById stream records (new and old
//! images) to order events on EventBridge, customer notifications on SNS,
//! and the outbox: an INSERT of a PENDING order re-enqueues its id, so an
//! order accepted but never enqueued (the API crashed, or SQS failed) is
//! still processed.
//!
//! # Entry point
//!
//! ```text
//! stream_publisher::Publisher::new(sink, enqueuer)
//!     .handle(event: aws_lambda_events::dynamodb::Event).await
//!     -> aws_lambda_events::streams::DynamoDbEventResponse
//! ```
//!
//! generic over `E: order_aws::EventSink`, `Q: order_aws::Enqueuer`.
//! [`record_images`] turns one stream record into the domain's [`Item`]s.
//!
//! # Ordering and failures
//!
//! Records of a shard arrive in order. The handler works through them in
//! windows of up to 10 events (one `PutEvents`): first the outbox enqueues,
//! then the events, then the notifications. At the first record whose side
//! effect failed it stops and reports that record's sequence number as the
//! batch item failure: Lambda retries from there, so nothing after it is
//! published ahead of it. Side effects that already happened for records
//! from that point on are repeated by the retry; consumers dedupe on the
//! event id (`<order_id>:<version>`), the worker is idempotent. Records
//! before it are done and are not sent again.
//!
//! Within a window the sink publishes an event only if every earlier event
//! of its order went out (the [`EventSink`] contract), so the first
//! publication of an order's events follows the order of the stream.
//!
//! A record whose image is not an order (it never will be) is logged at
//! error and skipped: blocking the shard on it would hold back every later
//! order of that shard for the retry period.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use order_aws::{CustomerNotification, Enqueuer, EventSink, PUT_EVENTS_MAX};
use order_domain::events::{OrderEvent, OutboxDecision, StreamOutput, derive};
use order_domain::store::Item;
use thiserror::Error;

/// A record's image could not be read as DynamoDB JSON.
#[derive(Debug, Error)]
#[error("record {event_id}: {image} image: {reason}")]
pub struct ImageError {
    pub event_id: String,
    pub image: &'static str,
    pub reason: String,
}

fn convert(
    record: &EventRecord,
    image: &'static str,
    item: &impl serde::Serialize,
) -> Result<Option<Item>, ImageError> {
    let err = |reason: String| ImageError {
        event_id: record.event_id.clone(),
        image,
        reason,
    };
    // serde_dynamo's item serializes as DynamoDB JSON (`{"S": "x"}`), the
    // form the domain's Item deserializes from.
    let json = serde_json::to_value(item).map_err(|e| err(e.to_string()))?;
    // An absent image deserializes as an empty item.
    if json.as_object().is_some_and(serde_json::Map::is_empty) || json.is_null() {
        return Ok(None);
    }
    serde_json::from_value(json)
        .map(Some)
        .map_err(|e| err(e.to_string()))
}

/// The record's old and new images (`None` when absent: an INSERT has no
/// old image, a REMOVE no new one).
pub fn record_images(record: &EventRecord) -> Result<(Option<Item>, Option<Item>), ImageError> {
    Ok((
        convert(record, "old", &record.change.old_image)?,
        convert(record, "new", &record.change.new_image)?,
    ))
}

/// The publisher over an event sink and the order queue.
pub struct Publisher<E, Q> {
    sink: E,
    enqueuer: Q,
}

/// One record's work.
struct Work<'a> {
    index: usize,
    record: &'a EventRecord,
    output: StreamOutput,
}

impl<E: EventSink, Q: Enqueuer> Publisher<E, Q> {
    pub fn new(sink: E, enqueuer: Q) -> Self {
        Self { sink, enqueuer }
    }

    /// Publishes a batch; reports the first record that did not go through.
    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        if let Some(failed) = self.publish(&event.records).await {
            let record = &event.records[failed];
            // Lambda resumes the shard from this sequence number. Without
            // one (never, from a real stream) an empty identifier makes it
            // retry the whole batch.
            let mut f = DynamoDbBatchItemFailure::default();
            f.item_identifier = Some(record.change.sequence_number.clone().unwrap_or_default());
            response.batch_item_failures.push(f);
        }
        response
    }

    /// Index of the first record that failed, if any.
    async fn publish(&self, records: &[EventRecord]) -> Option<usize> {
        let mut window: Vec<Work<'_>> = Vec::new();
        let mut events_in_window = 0;
        for (index, record) in records.iter().enumerate() {
            let output = match record_images(record).map_err(|e| e.to_string()).and_then(
                |(old, new)| derive(old.as_ref(), new.as_ref()).map_err(|e| e.to_string()),
            ) {
                Ok(o) => o,
                Err(reason) => {
                    tracing::error!(
                        event_id = %record.event_id,
                        sequence_number = record.change.sequence_number.as_deref().unwrap_or_default(),
                        reason, "stream record is not an order; skipped"
                    );
                    continue;
                }
            };
            if output.event.is_none() && output.outbox == OutboxDecision::Nothing {
                continue;
            }
            events_in_window += usize::from(output.event.is_some());
            window.push(Work {
                index,
                record,
                output,
            });
            if events_in_window == PUT_EVENTS_MAX {
                if let Some(failed) = self.flush(&window).await {
                    return Some(failed);
                }
                window.clear();
                events_in_window = 0;
            }
        }
        self.flush(&window).await
    }

    /// Outbox, events, notifications for one window; the record index of the
    /// first failure.
    async fn flush(&self, window: &[Work<'_>]) -> Option<usize> {
        // How many leading records of the window are fully done.
        let mut ok_upto = window.len();

        for (pos, w) in window.iter().enumerate() {
            if let OutboxDecision::Enqueue(msg) = w.output.outbox
                && let Err(e) = self.enqueuer.enqueue(msg).await
            {
                tracing::warn!(
                    order_id = %msg.order_id, event_id = %w.record.event_id, error = %e,
                    "outbox enqueue failed; the batch resumes from this record"
                );
                ok_upto = pos;
                break;
            }
        }

        let (positions, events): (Vec<usize>, Vec<OrderEvent>) = window[..ok_upto]
            .iter()
            .enumerate()
            .filter_map(|(pos, w)| w.output.event.clone().map(|e| (pos, e)))
            .unzip();
        if !events.is_empty()
            && let Err(e) = self.sink.put_events(&events).await
        {
            let first = e.first_failed();
            let pos = positions.get(first).copied().unwrap_or(0);
            tracing::warn!(
                event_id = events.get(first).map(|ev| ev.event_id.as_str()).unwrap_or_default(),
                error = %e, "PutEvents failed; the batch resumes from this record"
            );
            ok_upto = ok_upto.min(pos);
        }

        for (pos, w) in window[..ok_upto].iter().enumerate() {
            let Some(event) = &w.output.event else {
                continue;
            };
            let notification = CustomerNotification::for_event(event);
            if let Err(e) = self.sink.notify(&notification).await {
                tracing::warn!(
                    event_id = %event.event_id, error = %e,
                    "customer notification failed; the batch resumes from this record"
                );
                ok_upto = pos;
                break;
            }
        }

        for w in &window[..ok_upto] {
            if let Some(e) = &w.output.event {
                tracing::info!(
                    event_id = %e.event_id, detail_type = e.detail_type(),
                    order_id = %e.order_id, "published"
                );
            }
        }
        window.get(ok_upto).map(|w| w.index)
    }
}

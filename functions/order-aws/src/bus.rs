//! [`AwsEventSink`]: order events to EventBridge (`PutEvents`, source
//! `acme.orders`, detail-type from the event) and customer notifications to
//! SNS (`Publish` with message attributes).

use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sns::types::MessageAttributeValue;
use order_domain::events::{EVENT_SOURCE, OrderEvent};

use crate::ports::{CustomerNotification, EventSink, PublishError, SendError};
use crate::sqs::send_error;

/// `PutEvents` takes at most 10 entries per call.
pub const PUT_EVENTS_MAX: usize = 10;
/// Attempts per entry: the first send plus retries of the entries EventBridge
/// reported failed (`FailedEntryCount` > 0 is a 200 response, which the SDK's
/// own retries never see).
const PUT_EVENTS_ATTEMPTS: usize = 4;
/// First backoff between those retries; doubles each time.
const RETRY_BASE: Duration = Duration::from_millis(50);

/// The county's bus and notifications topic.
#[derive(Debug, Clone)]
pub struct AwsEventSink {
    events: aws_sdk_eventbridge::Client,
    sns: aws_sdk_sns::Client,
    bus_name: String,
    topic_arn: String,
}

impl AwsEventSink {
    pub fn new(
        events: aws_sdk_eventbridge::Client,
        sns: aws_sdk_sns::Client,
        bus_name: impl Into<String>,
        topic_arn: impl Into<String>,
    ) -> Self {
        Self {
            events,
            sns,
            bus_name: bus_name.into(),
            topic_arn: topic_arn.into(),
        }
    }

    fn entry(&self, e: &OrderEvent) -> Result<PutEventsRequestEntry, String> {
        let detail =
            serde_json::to_string(e).map_err(|err| format!("event {}: {err}", e.event_id))?;
        Ok(PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(EVENT_SOURCE)
            .detail_type(e.detail_type())
            .detail(detail)
            .resources(format!("order:{}", e.order_id))
            .build())
    }

    /// Sends one chunk (≤ 10), retrying only the failed entries. Returns the
    /// chunk indexes that never went through.
    async fn put_chunk(&self, chunk: &[OrderEvent]) -> (Vec<usize>, String) {
        let mut pending: Vec<usize> = (0..chunk.len()).collect();
        let mut last_error = String::new();
        let mut delay = RETRY_BASE;
        for attempt in 0..PUT_EVENTS_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            let mut entries = Vec::with_capacity(pending.len());
            let mut sendable = Vec::with_capacity(pending.len());
            for &i in &pending {
                match self.entry(&chunk[i]) {
                    Ok(entry) => {
                        entries.push(entry);
                        sendable.push(i);
                    }
                    // An event that does not serialize never will: report it.
                    Err(e) => last_error = e,
                }
            }
            let unsendable: Vec<usize> = pending
                .iter()
                .copied()
                .filter(|i| !sendable.contains(i))
                .collect();
            if sendable.is_empty() {
                return (unsendable, last_error);
            }
            match self
                .events
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) if out.failed_entry_count() == 0 => return (unsendable, last_error),
                Ok(out) => {
                    // Result entries line up with request entries; a failed
                    // one has an error code instead of an event id.
                    let mut still = unsendable;
                    for (pos, result) in out.entries().iter().enumerate() {
                        if result.error_code().is_some() || result.event_id().is_none() {
                            if let Some(&i) = sendable.get(pos) {
                                still.push(i);
                            }
                            last_error = format!(
                                "PutEvents entry failed: {} {}",
                                result.error_code().unwrap_or("?"),
                                result.error_message().unwrap_or_default()
                            );
                        }
                    }
                    // Fewer results than entries would be a service bug; treat
                    // the missing ones as failed.
                    still.extend(sendable.iter().skip(out.entries().len()).copied());
                    still.sort_unstable();
                    pending = still;
                }
                Err(e) => {
                    let err = send_error("PutEvents", &e);
                    last_error = err.message;
                    if !err.retryable {
                        pending = sendable.into_iter().chain(unsendable).collect();
                        pending.sort_unstable();
                        return (pending, last_error);
                    }
                    pending = sendable.into_iter().chain(unsendable).collect();
                    pending.sort_unstable();
                }
            }
            if pending.is_empty() {
                return (pending, last_error);
            }
        }
        (pending, last_error)
    }
}

impl EventSink for AwsEventSink {
    async fn put_events(&self, events: &[OrderEvent]) -> Result<(), PublishError> {
        let mut failed = Vec::new();
        let mut message = String::new();
        for (n, chunk) in events.chunks(PUT_EVENTS_MAX).enumerate() {
            let (chunk_failed, err) = self.put_chunk(chunk).await;
            if !chunk_failed.is_empty() {
                failed.extend(chunk_failed.into_iter().map(|i| n * PUT_EVENTS_MAX + i));
                message = err;
                // Later chunks would only publish events after a failed one,
                // which the caller retries from anyway.
                break;
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(PublishError { failed, message })
        }
    }

    async fn notify(&self, n: &CustomerNotification) -> Result<(), SendError> {
        let mut req = self
            .sns
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&n.subject)
            .message(&n.message);
        for (name, value) in n.attributes() {
            let attr = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| SendError::permanent(format!("attribute {name}: {e}")))?;
            req = req.message_attributes(name, attr);
        }
        req.send()
            .await
            .map(|_| ())
            .map_err(|e| send_error("Publish", &e))
    }
}

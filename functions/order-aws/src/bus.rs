//! [`AwsEventSink`]: order events to EventBridge (`PutEvents`, source
//! `acme.orders`, detail-type from the event) and customer notifications to
//! SNS (`Publish` with message attributes).
//!
//! EventBridge accepts or fails each entry of a `PutEvents` call on its own
//! (`FailedEntryCount`), so two events of one order in one call could see the
//! later one published and the earlier one failed: published ahead of it. A
//! call therefore never carries two events of one order ([`requests`]), and
//! after a call with an entry that keeps failing no later call is made: each
//! order's events go out in the order given.

use std::collections::HashSet;
use std::ops::Range;
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
        entry(&self.bus_name, e)
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
        for range in requests(events) {
            let start = range.start;
            let end = range.end;
            let (chunk_failed, message) = self.put_chunk(&events[range]).await;
            if !chunk_failed.is_empty() {
                // Later calls would publish events after a failed one (the
                // caller retries from the first failure anyway): they count
                // as not published.
                let failed = chunk_failed
                    .into_iter()
                    .map(|i| start + i)
                    .chain(end..events.len())
                    .collect();
                return Err(PublishError { failed, message });
            }
        }
        Ok(())
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

/// One event as a `PutEvents` entry. `Resources` stays empty: EventBridge
/// documents it as the ARNs of the AWS resources an event concerns, and an
/// order is not an AWS resource (its id travels in `detail.order_id`, where
/// rules and the analytics table read it). A non-ARN value there is accepted
/// today only because the field is not validated; if it ever is, every entry
/// would fail and the publisher would stall each shard.
fn entry(bus_name: &str, e: &OrderEvent) -> Result<PutEventsRequestEntry, String> {
    let detail = serde_json::to_string(e).map_err(|err| format!("event {}: {err}", e.event_id))?;
    Ok(PutEventsRequestEntry::builder()
        .event_bus_name(bus_name)
        .source(EVENT_SOURCE)
        .detail_type(e.detail_type())
        .detail(detail)
        .build())
}

/// The `PutEvents` calls for `events`, as consecutive ranges: at most
/// [`PUT_EVENTS_MAX`] entries each, and a new call wherever an order already
/// has an event in the current one.
fn requests(events: &[OrderEvent]) -> Vec<Range<usize>> {
    let mut calls = Vec::new();
    let mut start = 0;
    let mut orders = HashSet::new();
    for (i, e) in events.iter().enumerate() {
        if i - start == PUT_EVENTS_MAX || !orders.insert(e.order_id) {
            calls.push(start..i);
            start = i;
            orders.clear();
            orders.insert(e.order_id);
        }
    }
    if start < events.len() {
        calls.push(start..events.len());
    }
    calls
}

#[cfg(test)]
mod tests {
    use order_domain::events::OrderEventKind;
    use order_domain::ids::OrderId;

    use super::*;

    fn event(order: u128, version: u64) -> OrderEvent {
        let id = OrderId::from_ulid(ulid::Ulid::from_parts(1_773_068_645_678, order));
        serde_json::from_value(serde_json::json!({
            "detail_type": OrderEventKind::OrderPlaced,
            "event_id": format!("{id}:{version}"),
            "order_id": id,
            "county_id": "travis-tx",
            "customer_id": "cust-1",
            "store_id": "store-9",
            "status": "PENDING",
            "occurred_at": "2026-03-09T15:04:05.678Z",
            "version": version,
            "total_cents": 3998,
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// `(start, end)` of each call for events of these `(order, version)`s.
    fn calls(orders: &[(u128, u64)]) -> Vec<(usize, usize)> {
        let events: Vec<OrderEvent> = orders.iter().map(|&(o, v)| event(o, v)).collect();
        requests(&events).iter().map(|r| (r.start, r.end)).collect()
    }

    #[test]
    fn a_call_carries_at_most_one_event_per_order() {
        assert_eq!(calls(&[]), []);
        assert_eq!(calls(&[(1, 1), (2, 1), (3, 1)]), [(0, 3)]);
        // Order 1's second event starts a new call, which then takes the rest.
        assert_eq!(
            calls(&[(1, 1), (2, 1), (1, 3), (3, 1), (2, 3), (1, 4)]),
            [(0, 2), (2, 5), (5, 6)]
        );
        assert_eq!(calls(&[(1, 1), (1, 3), (1, 4)]), [(0, 1), (1, 2), (2, 3)]);
    }

    #[test]
    fn entries_name_no_resource_that_is_not_an_arn() {
        let e = event(1, 1);
        let entry = entry("acme-orders-travis-tx", &e).unwrap_or_else(|e| panic!("{e}"));
        // `Resources` is for ARNs only; an order is not an AWS resource.
        assert!(
            entry.resources().iter().all(|r| r.starts_with("arn:")),
            "{:?}",
            entry.resources()
        );
        assert!(entry.resources().is_empty());
        assert_eq!(entry.source(), Some(EVENT_SOURCE));
        assert_eq!(entry.event_bus_name(), Some("acme-orders-travis-tx"));
        let detail: serde_json::Value =
            serde_json::from_str(entry.detail().unwrap_or_default()).unwrap_or_default();
        assert_eq!(detail["order_id"], e.order_id.to_string());
    }

    #[test]
    fn a_call_carries_at_most_ten_events() {
        let orders: Vec<(u128, u64)> = (0..23).map(|n| (n, 1)).collect();
        assert_eq!(calls(&orders), [(0, 10), (10, 20), (20, 23)]);
    }
}

//! Shared set-up for the publisher's tests: the stream event fixture, the
//! publisher over the in-memory sink and queue, and Lambda's retry of a
//! batch from its reported failure.

// Test helpers may unwrap too: a panic there is a failed assertion (as clippy.toml
// allows inside #[test] functions).
#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::DynamoDbEventResponse;
use order_aws::{MemoryQueue, MemorySink};
use order_domain::ids::OrderId;
use stream_publisher::Publisher;

/// The fixture's orders: A (records 1-3: placed, reserved, confirmed) and B
/// (record 5: placed); record 4 is not an order.
pub const A: &str = "01HZY3M4T7X8Q9R0S1T2V3W4X5";
pub const B: &str = "01HZY3M4T7X8Q9R0S1T2V3W4X6";

pub fn order(id: &str) -> OrderId {
    OrderId::parse(id).unwrap()
}

/// `tests/fixtures/dynamodb-order-stream.json`: five records of one shard.
pub fn event() -> Event {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dynamodb-order-stream.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The fixture's sequence number of record `n` (1-based).
pub fn seq(n: u64) -> String {
    format!("4000000000000{n:011}")
}

/// The sequence numbers a response reports as batch item failures.
pub fn failures(r: &DynamoDbEventResponse) -> Vec<String> {
    r.batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap_or_default())
        .collect()
}

pub struct Harness {
    pub publisher: Publisher<Arc<MemorySink>, Arc<MemoryQueue>>,
    pub sink: Arc<MemorySink>,
    pub queue: Arc<MemoryQueue>,
}

pub fn harness() -> Harness {
    let sink = Arc::new(MemorySink::new());
    let queue = Arc::new(MemoryQueue::new());
    Harness {
        publisher: Publisher::new(Arc::clone(&sink), Arc::clone(&queue)),
        sink,
        queue,
    }
}

impl Harness {
    /// `(order, version)` of every event published so far, in order.
    pub fn published(&self) -> Vec<(String, u64)> {
        self.sink
            .events()
            .iter()
            .map(|e| (e.order_id.to_string(), e.version))
            .collect()
    }

    /// The event id of every notification sent so far, in order.
    pub fn notified(&self) -> Vec<String> {
        self.sink
            .notifications()
            .iter()
            .map(|n| n.event_id.clone())
            .collect()
    }

    /// The order of every work message enqueued so far, in order.
    pub fn enqueued(&self) -> Vec<String> {
        self.queue
            .messages()
            .iter()
            .map(|m| m.order_id.to_string())
            .collect()
    }

    /// Delivers `event` the way Lambda does with `ReportBatchItemFailures`:
    /// after a failure the next batch starts at the reported record, until a
    /// batch goes through. Returns the first record of every batch delivered
    /// (at most `max_batches`, or the test fails).
    pub async fn deliver(&self, event: Event, max_batches: usize) -> Vec<String> {
        let mut batch = event;
        let mut starts = Vec::new();
        loop {
            assert!(
                starts.len() < max_batches,
                "still failing after {max_batches} batches (from {starts:?})"
            );
            starts.push(
                batch.records[0]
                    .change
                    .sequence_number
                    .clone()
                    .unwrap_or_default(),
            );
            let r = self.publisher.handle(batch.clone()).await;
            let Some(failed) = failures(&r).into_iter().next() else {
                return starts;
            };
            let at = batch
                .records
                .iter()
                .position(|rec| rec.change.sequence_number.as_deref() == Some(failed.as_str()))
                .unwrap_or_else(|| panic!("failure {failed} names no record of the batch"));
            batch.records.drain(..at);
        }
    }
}

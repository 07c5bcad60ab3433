//! The stream publisher on a real DynamoDB stream event fixture, over the
//! in-memory event sink and queue.

// Test helpers may unwrap too: a panic there is a failed assertion (as clippy.toml
// allows inside #[test] functions).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::DynamoDbEventResponse;
use order_aws::{MemoryQueue, MemorySink};
use order_domain::events::OrderEventKind;
use order_domain::ids::OrderId;
use stream_publisher::{Publisher, record_images};

const A: &str = "01HZY3M4T7X8Q9R0S1T2V3W4X5";
const B: &str = "01HZY3M4T7X8Q9R0S1T2V3W4X6";

fn event() -> Event {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dynamodb-order-stream.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn seq(n: u64) -> String {
    format!("4000000000000{n:011}")
}

fn failures(r: &DynamoDbEventResponse) -> Vec<String> {
    r.batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap_or_default())
        .collect()
}

struct Harness {
    publisher: Publisher<Arc<MemorySink>, Arc<MemoryQueue>>,
    sink: Arc<MemorySink>,
    queue: Arc<MemoryQueue>,
}

fn harness() -> Harness {
    let sink = Arc::new(MemorySink::new());
    let queue = Arc::new(MemoryQueue::new());
    Harness {
        publisher: Publisher::new(Arc::clone(&sink), Arc::clone(&queue)),
        sink,
        queue,
    }
}

#[test]
fn fixture_round_trips_and_images_convert() {
    let e = event();
    let back: Event = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
    assert_eq!(back, e);
    let (old, new) = record_images(&e.records[0]).unwrap();
    assert!(old.is_none(), "an INSERT has no old image");
    let new = new.unwrap();
    assert_eq!(new["status"].as_s(), Some("PENDING"));
    assert_eq!(new["version"].as_i128(), Some(1));
    let (old, new) = record_images(&e.records[2]).unwrap();
    assert_eq!(old.unwrap()["status"].as_s(), Some("RESERVED"));
    assert_eq!(new.unwrap()["status"].as_s(), Some("CONFIRMED"));
}

#[tokio::test]
async fn publishes_events_notifications_and_the_outbox() {
    let h = harness();
    let r = h.publisher.handle(event()).await;
    assert!(failures(&r).is_empty(), "{r:?}");

    let events = h.sink.events();
    let kinds: Vec<(String, OrderEventKind)> = events
        .iter()
        .map(|e| (e.order_id.to_string(), e.detail_type))
        .collect();
    assert_eq!(
        kinds,
        [
            (A.to_owned(), OrderEventKind::OrderPlaced),
            (A.to_owned(), OrderEventKind::OrderConfirmed),
            (B.to_owned(), OrderEventKind::OrderPlaced),
        ]
    );
    assert_eq!(events[1].event_id, format!("{A}:3"));

    let notes = h.sink.notifications();
    assert_eq!(notes.len(), 3);
    assert_eq!(notes[1].kind, OrderEventKind::OrderConfirmed);
    let attrs = notes[1].attributes();
    assert!(attrs.contains(&("customer_id", "cust-1".to_owned())));
    assert!(attrs.contains(&("event_type", "OrderConfirmed".to_owned())));

    // Outbox: both INSERTs of PENDING orders, nothing for the MODIFYs.
    let sent: Vec<String> = h
        .queue
        .messages()
        .iter()
        .map(|m| m.order_id.to_string())
        .collect();
    assert_eq!(sent, [A, B]);
}

#[tokio::test]
async fn a_failed_event_stops_the_batch_at_its_record() {
    let h = harness();
    h.sink.fail_events_of(OrderId::parse(B).unwrap(), 1);
    let r = h.publisher.handle(event()).await;
    // Record 5 (B's INSERT) failed: Lambda resumes the shard there.
    assert_eq!(failures(&r), [seq(5)]);
    assert_eq!(h.sink.events().len(), 2, "A's events went out");
    assert_eq!(h.sink.notifications().len(), 2, "B was not notified");

    // The retry starts at record 5 and succeeds.
    let mut retry = event();
    retry.records.drain(..4);
    let r = h.publisher.handle(retry).await;
    assert!(failures(&r).is_empty());
    assert_eq!(h.sink.events().len(), 3);
    assert_eq!(h.sink.notifications().len(), 3);
}

#[tokio::test]
async fn a_failed_enqueue_or_notification_stops_the_batch() {
    let h = harness();
    h.queue.fail_next(1);
    let r = h.publisher.handle(event()).await;
    assert_eq!(failures(&r), [seq(1)], "A's outbox enqueue failed first");
    assert!(
        h.sink.events().is_empty(),
        "nothing published ahead of record 1"
    );

    let h = harness();
    h.sink.fail_notifications_of(OrderId::parse(A).unwrap());
    let r = h.publisher.handle(event()).await;
    assert_eq!(failures(&r), [seq(1)]);
    // The wire shape Lambda reads.
    let wire = serde_json::to_value(&r).unwrap();
    assert_eq!(wire["batchItemFailures"][0]["itemIdentifier"], seq(1));
}

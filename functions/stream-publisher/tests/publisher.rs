//! The stream publisher on a real DynamoDB stream event fixture, over the
//! in-memory event sink and queue.

// Test helpers may unwrap too: a panic there is a failed assertion (as clippy.toml
// allows inside #[test] functions).
#![allow(clippy::unwrap_used)]

mod common;

use aws_lambda_events::dynamodb::Event;
use common::{A, B, event, failures, harness, order, seq};
use order_domain::events::OrderEventKind;
use stream_publisher::record_images;

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
    assert_eq!(h.enqueued(), [A, B]);
}

#[tokio::test]
async fn a_failed_event_stops_the_batch_at_its_record() {
    let h = harness();
    h.sink.fail_events_of(order(B), 1);
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
    h.sink.fail_notifications_of(order(A));
    let r = h.publisher.handle(event()).await;
    assert_eq!(failures(&r), [seq(1)]);
    // The wire shape Lambda reads.
    let wire = serde_json::to_value(&r).unwrap();
    assert_eq!(wire["batchItemFailures"][0]["itemIdentifier"], seq(1));
}

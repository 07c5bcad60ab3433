//! The publisher's retries as Lambda drives them: a batch item failure makes
//! the next batch start at the failed record. Events are published at least
//! once, never ahead of an earlier event of the same order, and the records
//! before the failed one are not published again.

// Test helpers may unwrap too: a panic there is a failed assertion (as clippy.toml
// allows inside #[test] functions).
#![allow(clippy::unwrap_used)]

mod common;

use common::{A, B, event, harness, order, seq};

#[tokio::test]
async fn records_before_the_failed_one_are_not_published_again() {
    let h = harness();
    // B's event (record 5) fails in three calls, then goes through.
    h.sink.fail_events_of(order(B), 3);
    let starts = h.deliver(event(), 10).await;
    // Every retry starts at B's record: the checkpoint stays after A's.
    assert_eq!(starts, [seq(1), seq(5), seq(5), seq(5)]);
    // A's two events went out once, in the first batch; B's once, at last.
    assert_eq!(
        h.published(),
        [(A.to_owned(), 1), (A.to_owned(), 3), (B.to_owned(), 1)]
    );
    assert_eq!(
        h.notified(),
        [format!("{A}:1"), format!("{A}:3"), format!("{B}:1")]
    );
    // The outbox enqueue of B's INSERT is a side effect of every attempt at
    // record 5 (the worker is idempotent); A's happened once.
    assert_eq!(h.enqueued(), [A, B, B, B, B]);
}

#[tokio::test]
async fn a_failed_event_holds_back_the_later_events_of_its_order() {
    let h = harness();
    // A's placed event (record 1) fails in the first call. A's confirmed
    // event (record 3) is in the same PutEvents window: it must not go out
    // ahead of it. B's event, also in the window, is published.
    h.sink.fail_events_of(order(A), 1);
    let first = h.publisher.handle(event()).await;
    assert_eq!(common::failures(&first), [seq(1)]);
    assert_eq!(h.published(), [(B.to_owned(), 1)]);
    assert!(
        h.sink.notifications().is_empty(),
        "no notification for a record at or after the failed one"
    );

    // Lambda redelivers from record 1: everything from there is published,
    // B's event again (the same event id: consumers dedupe on it).
    let starts = h.deliver(event(), 1).await;
    assert_eq!(starts, [seq(1)]);
    assert_eq!(
        h.published(),
        [
            (B.to_owned(), 1),
            (A.to_owned(), 1),
            (A.to_owned(), 3),
            (B.to_owned(), 1)
        ]
    );
    // Per order, the first publication of each event follows its version.
    let mut firsts: Vec<(String, u64)> = Vec::new();
    for e in h.published() {
        if !firsts.contains(&e) {
            firsts.push(e);
        }
    }
    for o in [A, B] {
        let versions: Vec<u64> = firsts.iter().filter(|e| e.0 == o).map(|e| e.1).collect();
        assert!(versions.is_sorted(), "{o}: {versions:?}");
    }
    // Notifications follow only published events, once each.
    assert_eq!(
        h.notified(),
        [format!("{A}:1"), format!("{A}:3"), format!("{B}:1")]
    );
}

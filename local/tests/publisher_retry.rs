//! The stream publisher's failure and retry path, over the local runner's
//! stream poller (per-shard order, checkpoints, retry from the failed record)
//! against moto's DynamoDB stream, EventBridge, SNS and SQS.
//!
//! Every batch the poller delivers is logged (`common::publisher::Logged`),
//! so the tests see where each batch starts, which is where the checkpoint
//! stood; taps on the county bus (a FIFO queue: publication order) and on
//! the notifications topic see what went out.
//!
//! Run with `scripts/with-moto.sh cargo test -p acme-local`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use common::publisher::{BatchLog, EventTap, FailCustomer, Logged, NotificationTap, Outcome, Seen};
use common::*;
use order_domain::ids::OrderId;
use order_domain::order::OrderStatus;

const T: Duration = Duration::from_secs(120);

/// Places an order and waits for the worker to settle it at `status`.
async fn settled(
    h: &Harness,
    request: &str,
    customer: &str,
    qty: u32,
    status: OrderStatus,
) -> OrderId {
    let a = h
        .post_order(&order_body(request, customer, "s-events", "SKU-A", qty))
        .await;
    assert_eq!(a.status, 202, "{a:?}");
    let id = order_id(&a);
    assert_eq!(h.wait_final(&[id], T).await[0].status, status);
    id
}

/// The published events of `order`, in publication order.
fn of(seen: &[Seen], order: &OrderId) -> Vec<(u64, String)> {
    let id = order.to_string();
    seen.iter()
        .filter(|s| s.order_id == id)
        .map(|s| (s.version, s.kind.clone()))
        .collect()
}

fn kinds(events: &[(u64, String)]) -> Vec<&str> {
    events.iter().map(|(_, k)| k.as_str()).collect()
}

/// Whether every publication of an order's event follows a publication of
/// each of the order's events with a lower version.
fn never_ahead(events: &[(u64, String)]) -> bool {
    let versions: BTreeSet<u64> = events.iter().map(|e| e.0).collect();
    let mut out = BTreeSet::new();
    events.iter().all(|(v, _)| {
        let ok = versions.range(..v).all(|u| out.contains(u));
        out.insert(*v);
        ok
    })
}

fn event_ids(seen: &[Seen]) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for s in seen {
        *ids.entry(format!("{}:{}", s.order_id, s.version))
            .or_default() += 1;
    }
    ids
}

/// EventBridge unavailable for the county bus, for real: the bus is deleted,
/// so `PutEvents` fails with `ResourceNotFoundException` through the SDK,
/// the publisher reports the record as a batch item failure, and the poller
/// retries from it until the bus is back. Meanwhile orders keep changing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_wait_out_an_event_bus_outage_and_go_out_once_in_order() {
    let log = Arc::new(BatchLog::default());
    let h = start_with_publisher(Setup::default(), {
        let log = Arc::clone(&log);
        move |adapters| Logged {
            inner: acme_local::handlers::publisher(adapters),
            log,
        }
    })
    .await;
    let events = EventTap::attach(&h).await;
    let notes = NotificationTap::attach(&h).await;
    h.stock("s-events", "SKU-A", 2, 500).await;

    // Before the outage: A is placed and confirmed, and its events are out.
    let a = settled(&h, "outage-a", "cust-a", 1, OrderStatus::Confirmed).await;
    wait_for("A's confirmation to be published", T, || async {
        log.completed(&a, "CONFIRMED").then_some(())
    })
    .await;
    let seen = events.take().await;
    assert_eq!(kinds(&of(&seen, &a)), ["OrderPlaced", "OrderConfirmed"]);
    assert_eq!(notes.take().await.len(), 2);

    let eb = aws_sdk_eventbridge::Client::new(&h.county.sdk);
    eb.delete_event_bus()
        .name(events.bus())
        .send()
        .await
        .expect("DeleteEventBus");
    let outage = log.batches().len();

    // During the outage: B is placed, confirmed and cancelled; C is placed
    // and fails (three units wanted, one left).
    let b = settled(&h, "outage-b", "cust-b", 1, OrderStatus::Confirmed).await;
    let cancel = h
        .send(reqwest::Method::POST, &format!("/orders/{b}/cancel"), None)
        .await;
    assert_eq!(cancel.status, 200, "{cancel:?}");
    let c = settled(&h, "outage-c", "cust-c", 3, OrderStatus::Failed).await;
    let c_id = c.to_string();
    log.wait(
        "three failed batches holding all of B's and C's changes",
        T,
        |batches| {
            batches[outage..]
                .iter()
                .filter(|b| {
                    matches!(b.outcome, Outcome::FailedAt(_))
                        && b.records
                            .iter()
                            .any(|r| r.order_id == c_id && r.status == "FAILED")
                })
                .count()
                >= 3
        },
    )
    .await;
    // Recovery. A bus comes back without rules, so batches are refused
    // (function errors: the whole batch is retried) until the tap's rule is
    // back too: nothing can be published while nobody listens.
    log.pause().await;
    let paused = log.batches().len();
    let b_placed = log.record(&b, 1).expect("B's INSERT was delivered");
    for batch in &log.batches()[outage..paused] {
        // The checkpoint stays just before B's INSERT, the first record with
        // an event: every batch starts there and fails there. Nothing of A
        // is delivered again, nothing after B's INSERT is skipped.
        assert_eq!(batch.first(), b_placed.seq, "{batch:?}");
        assert_eq!(batch.outcome, Outcome::FailedAt(b_placed.seq), "{batch:?}");
    }
    assert_eq!(
        events.take().await,
        [],
        "nothing published during the outage"
    );
    assert!(notes.take().await.is_empty(), "no notification either");

    eb.create_event_bus()
        .name(events.bus())
        .send()
        .await
        .expect("CreateEventBus");
    events.add_rule().await;
    log.resume().await;
    wait_for("B's and C's last changes to be published", T, || async {
        (log.completed(&b, "CANCELLED") && log.completed(&c, "FAILED")).then_some(())
    })
    .await;

    let batches = log.batches();
    let done = paused
        + batches[paused..]
            .iter()
            .position(|b| b.outcome == Outcome::Done)
            .expect("a batch went through after the recovery");
    for batch in &batches[paused..done] {
        // Refused while paused: a function error does not move the
        // checkpoint either.
        assert_eq!(batch.first(), b_placed.seq, "{batch:?}");
        assert_eq!(batch.outcome, Outcome::FunctionError, "{batch:?}");
    }
    // The first batch after the recovery starts at B's INSERT too.
    assert_eq!(batches[done].first(), b_placed.seq);

    // Once each, in order per order, and nothing else (A's are not repeated).
    let seen = events.take().await;
    let of_b = of(&seen, &b);
    let of_c = of(&seen, &c);
    assert_eq!(
        kinds(&of_b),
        ["OrderPlaced", "OrderConfirmed", "OrderCancelled"],
        "{seen:?}"
    );
    assert_eq!(kinds(&of_c), ["OrderPlaced", "OrderFailed"], "{seen:?}");
    for per_order in [&of_b, &of_c] {
        assert!(
            per_order.windows(2).all(|w| w[0].0 < w[1].0),
            "versions rise: {seen:?}"
        );
        assert!(never_ahead(per_order), "{seen:?}");
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    // One notification per published event.
    assert_eq!(notes.take().await, event_ids(&seen));
    h.stop().await;
}

/// EventBridge failing the entries of one customer's events (injected above
/// the real sink, as `FailedEntryCount` reports them) in two calls, while
/// the events of other orders in the same calls go out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_event_is_retried_from_its_record_and_earlier_records_are_not_redelivered() {
    const FAILING_CALLS: usize = 2;
    let log = Arc::new(BatchLog::default());
    let h = start_with_publisher(Setup::default(), {
        let log = Arc::clone(&log);
        move |adapters| Logged {
            inner: stream_publisher::Publisher::new(
                FailCustomer::new(adapters.sink.clone(), "cust-x", FAILING_CALLS),
                adapters.enqueuer.clone(),
            ),
            log,
        }
    })
    .await;
    let events = EventTap::attach(&h).await;
    let notes = NotificationTap::attach(&h).await;
    h.stock("s-events", "SKU-A", 10, 500).await;

    // Refuse batches until P, X and Q are confirmed, one after the other, so
    // one batch holds all their changes: P's before X's before Q's.
    log.pause().await;
    let p = settled(&h, "partial-p", "cust-p", 1, OrderStatus::Confirmed).await;
    let x = settled(&h, "partial-x", "cust-x", 1, OrderStatus::Confirmed).await;
    let q = settled(&h, "partial-q", "cust-q", 1, OrderStatus::Confirmed).await;
    log.resume().await;
    wait_for("Q's confirmation to be published", T, || async {
        log.completed(&q, "CONFIRMED").then_some(())
    })
    .await;

    let batches = log.batches();
    // The publisher itself never errs: the function errors are the refusals.
    let refused = batches
        .iter()
        .take_while(|b| b.outcome == Outcome::FunctionError)
        .count();
    assert!(refused > 0, "no batch came while the orders were placed");
    let done = refused
        + batches[refused..]
            .iter()
            .position(|b| b.outcome == Outcome::Done)
            .expect("a batch went through");
    let p_placed = log.record(&p, 1).expect("P's INSERT");
    let x_placed = log.record(&x, 1).expect("X's INSERT");
    // Refused batches (function errors) do not move the checkpoint.
    for batch in &batches[..refused] {
        assert_eq!(batch.first(), p_placed.seq, "{batch:?}");
        assert_eq!(batch.outcome, Outcome::FunctionError, "{batch:?}");
    }
    // Then: the whole backlog fails at X's INSERT; the checkpoint moves to
    // the record before it, and each retry starts exactly there until X's
    // events go through.
    let after: Vec<(u128, Outcome)> = batches[refused..=done]
        .iter()
        .map(|b| (b.first(), b.outcome))
        .collect();
    let mut want = vec![(p_placed.seq, Outcome::FailedAt(x_placed.seq))];
    want.extend([(x_placed.seq, Outcome::FailedAt(x_placed.seq)); FAILING_CALLS - 1]);
    want.push((x_placed.seq, Outcome::Done));
    assert_eq!(after, want);
    assert_eq!(
        batches[refused].records.len(),
        9,
        "P's, X's and Q's three changes each"
    );

    let seen = events.take().await;
    // P's records came before the failed one: published once, not again.
    assert_eq!(kinds(&of(&seen, &p)), ["OrderPlaced", "OrderConfirmed"]);
    // X's events: none in the calls that failed them (each of those
    // published Q's two), then once each, in order.
    assert_eq!(kinds(&of(&seen, &x)), ["OrderPlaced", "OrderConfirmed"]);
    let x_id = x.to_string();
    let q_id = q.to_string();
    let x_first = seen
        .iter()
        .position(|s| s.order_id == x_id)
        .expect("X's events");
    let q_before = seen[..x_first]
        .iter()
        .filter(|s| s.order_id == q_id)
        .count();
    assert_eq!(q_before, 2 * FAILING_CALLS, "{seen:?}");
    // Q's records come after the failed one. Its events went out in every
    // call that failed X's, and are published again by each retry from X's
    // record: the design's at-least-once, with the same event ids for
    // consumers to dedupe on.
    let of_q = of(&seen, &q);
    assert_eq!(of_q.len(), 2 * (FAILING_CALLS + 1), "{seen:?}");
    for (version, n) in [(1, FAILING_CALLS + 1), (3, FAILING_CALLS + 1)] {
        assert_eq!(
            of_q.iter().filter(|e| e.0 == version).count(),
            n,
            "{seen:?}"
        );
    }
    // Never an event of an order ahead of an earlier one of the same order.
    for order in [&p, &x, &q] {
        assert!(never_ahead(&of(&seen, order)), "{order}: {seen:?}");
    }
    // Notifications only follow records done in order: once each.
    let mut once = event_ids(&seen);
    once.values_mut().for_each(|n| *n = 1);
    assert_eq!(notes.take().await, once);
    h.stop().await;
}

//! The legal-age check at accept, the worker's fraud screening (HELD), staff
//! release and reject of held orders, and fulfilment.

mod common;

use common::{Fixture, adult, body, rules};
use jiff::SignedDuration;
use order_domain::codec::{self, RESERVATION_HELD, RESERVATION_RESERVED};
use order_domain::events::{OrderEventKind, derive_event};
use order_domain::order::HoldReason;
use order_domain::rules::FraudRules;
use order_domain::schema::{inventory as inv, orders};
use order_domain::service::{ProcessOutcome, ReviewService};
use order_domain::store::{AttrValue, Table};
use order_domain::{CountyRules, DomainError, OrderId, OrderStatus};

type Review = ReviewService<common::S, common::C>;

fn fraud_rules(per_hour: u32, per_day: u32, total_over: u64) -> CountyRules {
    let mut r = rules();
    r.fraud = Some(FraudRules {
        orders_per_customer_per_hour: per_hour,
        units_per_customer_per_day: per_day,
        order_total_over_cents: total_over,
    });
    r
}

fn review(f: &Fixture, rules: CountyRules) -> Review {
    ReviewService::new(f.store.clone(), rules, f.clock.clone())
}

async fn placed(f: &Fixture, customer: &str, req: &str, items: &[(&str, i64)]) -> OrderId {
    f.place(customer, req, items).await.accepted.order_id
}

#[tokio::test]
async fn no_profile_is_refused_with_nothing_written_and_the_retry_after_a_profile_is_taken() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    let order = body("newcomer", "req-1", &[("WINE", 1)]);
    let before = f.store.stats().items_written;
    let e = f.accept.accept(order.as_bytes()).await.unwrap_err();
    assert_eq!(
        (e.http_status(), e.code()),
        (422, "customer_profile_required")
    );
    assert_eq!(f.store.stats().items_written, before, "nothing written");
    assert!(f.store.items(Table::Idempotency).is_empty());
    assert!(f.store.items(Table::Orders).is_empty());
    // Under age: refused the same way, by its own code.
    let mut minor = adult("newcomer");
    minor.birth_date = Some(jiff::civil::Date::constant(2010, 1, 1));
    f.store.seed(Table::Customers, minor.to_item());
    let e = f.accept.accept(order.as_bytes()).await.unwrap_err();
    assert_eq!(e.code(), "under_legal_age");
    assert!(f.store.items(Table::Idempotency).is_empty());
    // The same request (same client_request_id) once the profile says 21+
    // is a new order, not a replay of the refusal.
    f.store.seed(Table::Customers, adult("newcomer").to_item());
    let out = f.accept.accept(order.as_bytes()).await.unwrap();
    assert!(!out.replayed);
    assert_eq!(f.store.items(Table::Orders).len(), 1);
}

#[tokio::test]
async fn an_order_over_the_total_is_held_with_stock_kept_and_no_charge() {
    let rules = fraud_rules(5, 96, 5_000);
    let f = Fixture::with_rules(rules.clone());
    f.stock("WINE", 10, 1999).await;
    let id = placed(&f, "c1", "r1", &[("WINE", 3)]).await;
    let out = f.worker.process(&id).await.unwrap();
    let ProcessOutcome::Held(order) = out else {
        panic!("{out:?}")
    };
    assert_eq!(order.status, OrderStatus::Held);
    assert_eq!(
        order.hold_reason,
        Some(HoldReason::OrderTotal {
            limit_cents: 5_000,
            total_cents: 5_997
        })
    );
    assert_eq!(f.gateway.attempts(&id), 0, "never charged");
    assert_eq!(f.available("WINE"), 7, "stock stays reserved");
    for entry in f.ledger() {
        assert_eq!(entry[inv::STATE], AttrValue::s(RESERVATION_HELD));
        assert!(
            !entry.contains_key("expires_at"),
            "ledger entries never expire"
        );
    }
    // A redelivery leaves it alone, even long after its reservation TTL.
    f.clock.advance(SignedDuration::from_hours(48));
    assert!(matches!(
        f.worker.process(&id).await.unwrap(),
        ProcessOutcome::Held(_)
    ));
    assert_eq!(f.available("WINE"), 7);
    // Staff listing: HELD is in the status index.
    let page = f
        .queries
        .status_orders_since(OrderStatus::Held, common::t0(), 10, None)
        .await
        .unwrap();
    assert_eq!(page.orders.len(), 1);
}

#[tokio::test]
async fn release_sends_a_held_order_to_payment_once_and_is_idempotent() {
    let rules = fraud_rules(5, 96, 5_000);
    let f = Fixture::with_rules(rules.clone());
    let staff = review(&f, rules);
    f.stock("WINE", 10, 1999).await;
    let id = placed(&f, "c1", "r1", &[("WINE", 3)]).await;
    f.worker.process(&id).await.unwrap();
    f.clock.advance(SignedDuration::from_hours(30));
    let held = f.order(&id);
    let released = staff.release(&id).await.unwrap();
    assert_eq!(released.status, OrderStatus::Reserved);
    let event = derive_event(
        Some(&codec::order_to_item(&held)),
        Some(&codec::order_to_item(&released)),
    )
    .unwrap()
    .unwrap();
    assert_eq!(event.detail_type, OrderEventKind::OrderReleased);
    // The reservation deadline starts over from the release.
    assert_eq!(
        released.entered(OrderStatus::Reserved),
        Some(order_domain::Clock::now(&*f.clock))
    );
    for entry in f.ledger() {
        assert_eq!(entry[inv::STATE], AttrValue::s(RESERVATION_RESERVED));
        assert!(
            !entry.contains_key("expires_at"),
            "ledger entries never expire"
        );
    }
    // Again: the same answer, nothing written.
    let writes = f.store.stats().transactions_committed;
    assert_eq!(staff.release(&id).await.unwrap(), released);
    assert_eq!(f.store.stats().transactions_committed, writes);
    // The worker charges it now (the 30 hours held do not count against
    // its reservation, and it is not screened again).
    let out = f.worker.process(&id).await.unwrap();
    assert!(matches!(out, ProcessOutcome::Confirmed(_)), "{out:?}");
    assert_eq!(f.gateway.captures(&id), 1);
    // Released still answers after confirmation; reject does not.
    assert_eq!(
        staff.release(&id).await.unwrap().status,
        OrderStatus::Confirmed
    );
    let e = staff.reject(&id).await.unwrap_err();
    assert_eq!((e.http_status(), e.code()), (409, "not_held"));
}

#[tokio::test]
async fn reject_cancels_a_held_order_and_gives_the_stock_back_once() {
    let rules = fraud_rules(5, 96, 5_000);
    let f = Fixture::with_rules(rules.clone());
    let staff = review(&f, rules);
    f.stock("WINE", 10, 1999).await;
    let id = placed(&f, "c1", "r1", &[("WINE", 3)]).await;
    f.worker.process(&id).await.unwrap();
    let rejected = staff.reject(&id).await.unwrap();
    assert_eq!(rejected.status, OrderStatus::Cancelled);
    assert_eq!(f.available("WINE"), 10);
    assert!(f.ledger().is_empty());
    assert_eq!(staff.reject(&id).await.unwrap(), rejected, "idempotent");
    assert_eq!(f.available("WINE"), 10, "released once");
    let e = staff.release(&id).await.unwrap_err();
    assert_eq!(e.code(), "not_held");
    // Never-held orders are not releasable either.
    let other = placed(&f, "c2", "r2", &[("WINE", 1)]).await;
    let e = staff.release(&other).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("order {other} is PENDING: only a HELD order can be released")
    );
}

#[tokio::test]
async fn orders_per_hour_and_units_per_day_count_the_customers_own_orders() {
    let rules = fraud_rules(2, 10, 1_000_000);
    let f = Fixture::with_rules(rules);
    f.stock("WINE", 100, 100).await;
    let a = placed(&f, "c1", "r1", &[("WINE", 4)]).await;
    let b = placed(&f, "c1", "r2", &[("WINE", 4)]).await;
    // Another customer's orders never count.
    for n in 0..3 {
        placed(&f, "c2", &format!("o{n}"), &[("WINE", 1)]).await;
    }
    for id in [a, b] {
        assert!(matches!(
            f.worker.process(&id).await.unwrap(),
            ProcessOutcome::Confirmed(_)
        ));
    }
    let c = placed(&f, "c1", "r3", &[("WINE", 1)]).await;
    let ProcessOutcome::Held(held) = f.worker.process(&c).await.unwrap() else {
        panic!("third order in an hour")
    };
    assert_eq!(
        held.hold_reason,
        Some(HoldReason::OrdersPerHour {
            limit: 2,
            counted: 3
        })
    );
    // Two hours later the hour is clear, but the day holds 4 + 4 + 1 + 3 units.
    f.clock.advance(SignedDuration::from_hours(2));
    let d = placed(&f, "c1", "r4", &[("WINE", 3)]).await;
    let ProcessOutcome::Held(held) = f.worker.process(&d).await.unwrap() else {
        panic!("over the day's units")
    };
    assert_eq!(
        held.hold_reason,
        Some(HoldReason::UnitsPerDay {
            limit: 10,
            counted: 12
        })
    );
    // A day later everything before has left the window.
    f.clock.advance(SignedDuration::from_hours(24));
    let e = placed(&f, "c1", "r5", &[("WINE", 3)]).await;
    assert!(matches!(
        f.worker.process(&e).await.unwrap(),
        ProcessOutcome::Confirmed(_)
    ));
}

#[tokio::test]
async fn fulfil_moves_confirmed_out_of_the_pick_list_and_is_idempotent() {
    let f = Fixture::new();
    let staff = review(&f, rules());
    f.stock("WINE", 10, 1999).await;
    let id = placed(&f, "c1", "r1", &[("WINE", 1)]).await;
    let e = staff.fulfill(&id).await.unwrap_err();
    assert_eq!((e.http_status(), e.code()), (409, "not_confirmed"));
    f.worker.process(&id).await.unwrap();
    assert_eq!(pick_list(&f).await, 1);
    let confirmed = f.order(&id);
    let done = staff.fulfill(&id).await.unwrap();
    assert_eq!(done.status, OrderStatus::Fulfilled);
    let event = derive_event(
        Some(&codec::order_to_item(&confirmed)),
        Some(&codec::order_to_item(&done)),
    )
    .unwrap()
    .unwrap();
    assert_eq!(event.detail_type, OrderEventKind::OrderFulfilled);
    assert_eq!(staff.fulfill(&id).await.unwrap(), done);
    assert_eq!(pick_list(&f).await, 0);
    let summary = &f.store.items(Table::Orders)[0];
    assert!(!summary.contains_key(orders::STATUS_SHARD_PK));
    let indexed = f
        .queries
        .status_orders_since(OrderStatus::Confirmed, common::t0(), 10, None)
        .await
        .unwrap();
    assert!(indexed.orders.is_empty());
}

/// The store's pick list: its CONFIRMED orders.
async fn pick_list(f: &Fixture) -> usize {
    let store = order_domain::StoreId::parse(common::STORE).expect("store id");
    f.queries
        .store_orders_since(&store, common::t0(), Some(OrderStatus::Confirmed), 10, None)
        .await
        .expect("pick list")
        .orders
        .len()
}

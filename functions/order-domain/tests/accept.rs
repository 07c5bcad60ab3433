//! `POST /orders`: validation, idempotency, sale hours and the race between
//! identical requests.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use common::{Fixture, STORE, body, rules, t0};
use jiff::SignedDuration;
use order_domain::clock::Clock;
use order_domain::service::{AcceptError, AcceptService};
use order_domain::store::{
    Delete, Fault, FaultOp, Item, MemoryStore, Page, Put, Query, Store, StoreError, Table,
    Transaction, Update,
};
use order_domain::{DomainError, ManualClock, OrderStatus, SequentialIds};

#[tokio::test]
async fn accept_writes_pending_order_summary_and_idempotency_record() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    f.stock("BEER", 10, 299).await;
    let out = f
        .place("cust-1", "req-1", &[("WINE", 2), ("BEER", 3)])
        .await;
    assert!(!out.replayed);
    let a = &out.accepted;
    assert_eq!(a.status, OrderStatus::Pending);
    assert_eq!(a.total_cents.cents(), 2 * 1999 + 3 * 299);
    assert_eq!(a.created_at, t0());

    let order = f.order(&a.order_id);
    assert_eq!(order.version, 1);
    assert_eq!(
        order.items[0].unit_price_cents.cents(),
        1999,
        "price from stock record"
    );
    assert_eq!(f.store.items(Table::Orders).len(), 1);
    assert_eq!(f.store.items(Table::Idempotency).len(), 1);
    // Fast accept: no stock is touched.
    assert_eq!(f.available("WINE"), 10);
    let summary = &f.store.items(Table::Orders)[0];
    assert!(
        summary.contains_key("status_shard"),
        "PENDING is in the status index"
    );
}

#[tokio::test]
async fn same_request_again_replays_the_first_answer_and_writes_nothing() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    let first = f.place("cust-1", "req-1", &[("WINE", 2)]).await;
    let writes = f.store.stats().items_written;
    // Later, after a price change, with the lines' JSON laid out differently.
    f.stock("WINE", 10, 2500).await;
    let writes_after_seed = f.store.stats().items_written;
    assert_eq!(writes_after_seed, writes + 1);
    f.clock.advance(SignedDuration::from_mins(5));
    let again = f
        .accept
        .accept(
            br#"{ "items": [ {"quantity": 2, "sku": "WINE"} ], "store_id": "store-1",
                  "customer_id": "cust-1", "client_request_id": "req-1" }"#,
        )
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.accepted, first.accepted, "the stored first answer");
    assert_eq!(
        f.store.stats().items_written,
        writes_after_seed,
        "nothing written"
    );
    assert_eq!(f.all_orders().len(), 1);
}

#[tokio::test]
async fn same_key_different_body_is_a_conflict() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    f.place("cust-1", "req-1", &[("WINE", 2)]).await;
    let err = f
        .accept
        .accept(body("cust-1", "req-1", &[("WINE", 3)]).as_bytes())
        .await
        .unwrap_err();
    assert!(matches!(err, AcceptError::Conflict));
    assert_eq!(err.http_status(), 409);
    assert!(!err.is_retryable());
    // The key is per customer: another customer may use the same token.
    let other = f.place("cust-2", "req-1", &[("WINE", 3)]).await;
    assert!(!other.replayed);
    assert_eq!(f.all_orders().len(), 2);
}

#[tokio::test]
async fn an_expired_idempotency_record_no_longer_replays() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    let first = f.place("cust-1", "req-1", &[("WINE", 2)]).await;
    // TTL is 24 h; DynamoDB deletes lazily, so the record is still there.
    f.clock.advance(SignedDuration::from_hours(25));
    let second = f.place("cust-1", "req-1", &[("WINE", 2)]).await;
    assert!(!second.replayed);
    assert_ne!(second.accepted.order_id, first.accepted.order_id);
}

#[tokio::test]
async fn validation_errors_are_400_with_every_field() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    let err = f
        .accept
        .accept(br#"{"client_request_id":"r 1","customer_id":"c","store_id":"store-1","items":[{"sku":"WINE","quantity":0},{"sku":"NOPE","quantity":1,"gift":true}]}"#)
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), 400);
    let body = serde_json::to_value(err.body()).unwrap();
    assert_eq!(body["code"], "validation_failed");
    let mut fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        ["client_request_id", "items[0].quantity", "items[1].gift"]
    );
    assert!(f.store.items(Table::OrderById).is_empty());
}

#[tokio::test]
async fn unknown_sku_at_the_store_is_a_validation_error() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    let err = f
        .accept
        .accept(body("c", "r", &[("WINE", 1), ("GIN", 1)]).as_bytes())
        .await
        .unwrap_err();
    let AcceptError::Validation(v) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(v.0.len(), 1);
    assert_eq!(v.0[0].field, "items[1].sku");
    assert!(v.0[0].reason.contains(STORE));
    // Nothing was written, not even the idempotency record: a corrected
    // retry with the same token goes through.
    assert!(f.store.items(Table::Idempotency).is_empty());
}

#[tokio::test]
async fn closed_county_and_hours_are_422_but_replays_still_answer() {
    let mut closed = rules();
    closed.sale_hours.monday = Some(order_domain::rules::SaleWindow {
        open_minute: 9 * 60,
        close_minute: 17 * 60,
    });
    let f = Fixture::with_rules(closed.clone());
    f.stock("WINE", 10, 1999).await;
    // t0 is 15:00 CDT Monday: open.
    let first = f.place("c", "r", &[("WINE", 1)]).await;
    // 17:00 CDT: closed for new orders...
    f.clock.advance(SignedDuration::from_hours(2));
    let err = f
        .accept
        .accept(body("c", "r2", &[("WINE", 1)]).as_bytes())
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), 422);
    assert_eq!(err.code(), "outside_sale_hours");
    assert!(err.to_string().contains("Monday 17:00 CDT"), "{err}");
    // ...but a retry of the accepted request still gets its answer.
    let again = f.place("c", "r", &[("WINE", 1)]).await;
    assert_eq!(again.accepted.order_id, first.accepted.order_id);

    let mut disabled = closed;
    disabled.sales_enabled = false;
    let f = Fixture::with_rules(disabled);
    f.stock("WINE", 10, 1999).await;
    let err = f
        .accept
        .accept(body("c", "r", &[("WINE", 1)]).as_bytes())
        .await
        .unwrap_err();
    assert_eq!((err.http_status(), err.code()), (422, "sales_disabled"));
}

/// Rules open 09:00-17:00 on Mondays only (t0 is Monday 15:00 CDT).
fn office_hours() -> order_domain::CountyRules {
    let mut r = rules();
    let hours = order_domain::rules::SaleWindow {
        open_minute: 9 * 60,
        close_minute: 17 * 60,
    };
    r.sale_hours = order_domain::rules::SaleHours {
        monday: Some(hours),
        ..Default::default()
    };
    r
}

/// An accept service over `f`'s store whose wall clock is `f.clock` and
/// whose sale clock is pinned at `sale_time`.
fn with_pinned_sale_clock(
    f: &Fixture,
    rules: order_domain::CountyRules,
    sale_time: &str,
) -> AcceptService<Arc<MemoryStore>, Arc<ManualClock>, Arc<SequentialIds>> {
    AcceptService::new(
        f.store.clone(),
        rules,
        f.clock.clone(),
        Arc::new(SequentialIds::new()),
    )
    .with_sale_clock(ManualClock::new(sale_time.parse().expect("sale time")))
}

#[tokio::test]
async fn a_pinned_sale_clock_opens_the_shop_but_orders_keep_wall_clock_times() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    // Wall clock: Tuesday 2026-03-10 03:00 CDT, closed under office hours.
    let wall: jiff::Timestamp = "2026-03-10T08:00:00Z".parse().unwrap();
    f.clock.set(wall);
    let plain = AcceptService::new(
        f.store.clone(),
        office_hours(),
        f.clock.clone(),
        Arc::new(SequentialIds::new()),
    );
    let refused = plain
        .accept(body("c", "r0", &[("WINE", 1)]).as_bytes())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "outside_sale_hours");

    // The same moment with the sale clock pinned to Monday 10:00 CDT: open.
    let svc = with_pinned_sale_clock(&f, office_hours(), "2026-03-09T15:00:00Z");
    let out = svc
        .accept(body("c", "r1", &[("WINE", 1)]).as_bytes())
        .await
        .unwrap();
    let a = &out.accepted;
    assert_eq!(a.created_at, wall, "created_at follows the wall clock");
    assert_eq!(
        a.order_id.timestamp_ms(),
        wall.as_millisecond() as u64,
        "the order id's time follows the wall clock"
    );
    let order = f.order(&a.order_id);
    assert_eq!((order.created_at, order.updated_at), (wall, wall));
    assert_eq!(order.history[0].at, wall);
    // The idempotency record's TTL counts from the wall clock too.
    let record = &f.store.items(Table::Idempotency)[0];
    let ttl = record["expires_at"].as_i128().unwrap();
    assert_eq!(ttl, i128::from(wall.as_second() + 24 * 3600));
}

#[tokio::test]
async fn a_pinned_sale_clock_closes_the_shop_and_the_refusal_quotes_it() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    // Wall clock t0 is Monday 15:00 CDT: open under office hours...
    let open = AcceptService::new(
        f.store.clone(),
        office_hours(),
        f.clock.clone(),
        Arc::new(SequentialIds::new()),
    );
    assert!(
        open.accept(body("c", "r0", &[("WINE", 1)]).as_bytes())
            .await
            .is_ok()
    );
    // ...but pinned to Sunday 2026-03-08 12:00 CDT (closed all day) it is
    // refused, and the message gives the sale clock's local time.
    let svc = with_pinned_sale_clock(&f, office_hours(), "2026-03-08T17:00:00Z");
    let err = svc
        .accept(body("c", "r1", &[("WINE", 1)]).as_bytes())
        .await
        .unwrap_err();
    assert_eq!((err.http_status(), err.code()), (422, "outside_sale_hours"));
    assert_eq!(
        err.to_string(),
        "outside sale hours in travis-tx: it is Sunday 12:00 CDT; no sales today"
    );
    assert_eq!(f.all_orders().len(), 1, "only the first order was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_identical_requests_make_one_order() {
    let f = Arc::new(Fixture::new());
    f.stock("WINE", 10, 1999).await;
    let b = body("cust-1", "req-1", &[("WINE", 2)]);
    // Release all 50 at once so they really overlap.
    let start = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let f = f.clone();
            let b = b.clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                f.accept.accept(b.as_bytes()).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap().unwrap());
    }
    let id = outcomes[0].accepted.order_id;
    assert!(outcomes.iter().all(|o| o.accepted.order_id == id));
    assert_eq!(outcomes.iter().filter(|o| !o.replayed).count(), 1);
    assert_eq!(f.store.items(Table::OrderById).len(), 1);
    assert_eq!(f.store.items(Table::Orders).len(), 1);
    assert_eq!(f.store.items(Table::Idempotency).len(), 1);
    assert_eq!(f.store.stats().transactions_committed, 1);
}

/// A store whose idempotency reads miss, as if every request read before any
/// wrote: forces the transaction-race path deterministically.
struct MissIdempotencyReads {
    inner: Arc<MemoryStore>,
    hidden: AtomicU32,
}

impl Store for MissIdempotencyReads {
    async fn transact(&self, tx: Transaction) -> Result<(), StoreError> {
        self.inner.transact(tx).await
    }
    async fn get(
        &self,
        table: Table,
        key: Item,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        if table == Table::Idempotency && self.hidden.load(Ordering::SeqCst) > 0 {
            self.hidden.fetch_sub(1, Ordering::SeqCst);
            return Ok(None);
        }
        self.inner.get(table, key, consistent).await
    }
    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        self.inner.query(q).await
    }
    async fn put(&self, p: Put) -> Result<(), StoreError> {
        self.inner.put(p).await
    }
    async fn update(&self, u: Update) -> Result<Item, StoreError> {
        self.inner.update(u).await
    }
    async fn delete(&self, d: Delete) -> Result<Option<Item>, StoreError> {
        self.inner.delete(d).await
    }
    async fn batch_put(&self, t: Table, items: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        self.inner.batch_put(t, items).await
    }
}

#[tokio::test]
async fn losing_the_race_answers_with_the_winners_response() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    let store = Arc::new(MissIdempotencyReads {
        inner: f.store.clone(),
        hidden: AtomicU32::new(2),
    });
    let svc = AcceptService::new(
        store.clone(),
        rules(),
        Arc::new(ManualClock::new(t0())),
        Arc::new(SequentialIds::new()),
    );
    let b = body("cust-1", "req-1", &[("WINE", 2)]);
    let winner = svc.accept(b.as_bytes()).await.unwrap();
    // The second request misses the record on read, then its transaction's
    // idempotency condition fails: it answers with the winner's response.
    let loser = svc.accept(b.as_bytes()).await.unwrap();
    assert!(!winner.replayed);
    assert!(loser.replayed);
    assert_eq!(loser.accepted, winner.accepted);
    assert_eq!(f.store.stats().transactions_canceled, 1);
    assert_eq!(f.all_orders().len(), 1);

    // Same race with a different body: a conflict, not a second order.
    store.hidden.store(1, Ordering::SeqCst);
    let err = svc
        .accept(body("cust-1", "req-1", &[("WINE", 3)]).as_bytes())
        .await
        .unwrap_err();
    assert!(matches!(err, AcceptError::Conflict));
    assert_eq!(f.all_orders().len(), 1);
}

#[tokio::test]
async fn store_failures_are_retryable_with_the_right_status() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    f.store.inject(Fault {
        op: FaultOp::Transact,
        skip: 0,
        error: StoreError::Throttled("ProvisionedThroughputExceeded".into()),
    });
    let err = f
        .accept
        .accept(body("c", "r", &[("WINE", 1)]).as_bytes())
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), 429);
    assert!(err.is_retryable());
    f.store.inject(Fault {
        op: FaultOp::Get,
        skip: 0,
        error: StoreError::Unavailable("timeout".into()),
    });
    let err = f
        .accept
        .accept(body("c", "r", &[("WINE", 1)]).as_bytes())
        .await
        .unwrap_err();
    assert_eq!((err.http_status(), err.is_retryable()), (503, true));
    // The retry succeeds.
    assert!(
        f.accept
            .accept(body("c", "r", &[("WINE", 1)]).as_bytes())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn accept_transaction_renders_for_dynamodb() {
    // What the DynamoDB adapter will send, op by op.
    use order_domain::service::{parse_request, plan_accept};
    let f = Fixture::new();
    let r = rules();
    let req = parse_request(body("c", "r", &[("WINE", 1)]).as_bytes(), &r).unwrap();
    let stock = order_domain::codec::StockRecord {
        store_id: order_domain::StoreId::parse(STORE).unwrap(),
        sku: order_domain::Sku::parse("WINE").unwrap(),
        available: 1,
        price_cents: order_domain::Money::from_cents(100).unwrap(),
    };
    let now = f.clock.now();
    let id = order_domain::clock::IdGenerator::order_id(&SequentialIds::new(), now);
    let plan = plan_accept(&req, &[Some(stock)], &r, now, id).unwrap();
    let rendered: Vec<_> = plan
        .transaction
        .ops()
        .iter()
        .map(|op| op.render())
        .collect();
    assert_eq!(rendered[0].table, Table::Idempotency);
    assert_eq!(
        rendered[0].condition_expression.as_deref(),
        Some("(attribute_not_exists(#n0)) OR (#n1 < :v0)")
    );
    assert_eq!(
        rendered[0].expression_attribute_names["#n0"],
        "idempotency_key"
    );
    assert_eq!(
        rendered[1].condition_expression.as_deref(),
        Some("attribute_not_exists(#n0)")
    );
    assert_eq!(rendered[2].table, Table::OrderById);
}

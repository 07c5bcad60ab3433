//! The API handler on real API Gateway (REST proxy) event fixtures, over the
//! in-memory store and queue.

// Test helpers may unwrap too: a panic there is a failed assertion (as clippy.toml
// allows inside #[test] functions).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use jiff::Timestamp;
use order_api::Api;
use order_aws::MemoryQueue;
use order_domain::clock::{ManualClock, SequentialIds};
use order_domain::codec::StockRecord;
use order_domain::customer::Customer;
use order_domain::ids::{CustomerId, Sku, StoreId};
use order_domain::money::Money;
use order_domain::payment::SimulatedGateway;
use order_domain::rules::CountyRules;
use order_domain::store::{MemoryStore, Table};
use serde_json::Value;

type TestApi =
    Api<Arc<MemoryStore>, Arc<MemoryQueue>, SimulatedGateway, Arc<ManualClock>, SequentialIds>;

struct Harness {
    api: TestApi,
    queue: Arc<MemoryQueue>,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
}

const FIXTURES: &[&str] = &[
    "post-order.json",
    "post-order-customer-auth.json",
    "get-order.json",
    "cancel-order.json",
    "list-customer-orders.json",
    "list-county-orders.json",
    "list-status-orders.json",
    "list-store-orders.json",
];

fn fixture_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A fixture as the event type, with `ORDER_ID` replaced.
fn fixture(name: &str, order_id: &str) -> ApiGatewayProxyRequest {
    serde_json::from_str(&fixture_text(name).replace("ORDER_ID", order_id)).unwrap()
}

fn rules() -> CountyRules {
    let day = r#"{"open_minute": 420, "close_minute": 1440}"#;
    CountyRules::from_json(&format!(
        r#"{{"county_id": "travis-tx", "sales_enabled": true, "timezone": "America/Chicago",
            "sale_hours": {{"monday": {day}, "tuesday": {day}, "wednesday": {day},
                "thursday": {day}, "friday": {day}, "saturday": {day}, "sunday": {day}}},
            "max_units_per_order": 24, "max_line_items": 5, "gsi_write_shards": 4,
            "reservation_ttl_seconds": 900, "idempotency_ttl_hours": 24}}"#
    ))
    .unwrap()
}

async fn harness() -> Harness {
    // Monday 10:04 in Austin: inside sale hours.
    harness_at("2026-03-09T15:04:05.678Z".parse().unwrap(), None).await
}

/// The API with its wall clock at `now` and, if given, its sale clock
/// pinned at `sale_time`.
async fn harness_at(now: Timestamp, sale_time: Option<Timestamp>) -> Harness {
    let store = Arc::new(MemoryStore::new());
    for (sku, cents) in [("WINE-1", 1999), ("BEER-6PK", 1099)] {
        let stock = StockRecord {
            store_id: StoreId::parse("store-9").unwrap(),
            sku: Sku::parse(sku).unwrap(),
            available: 10,
            price_cents: Money::from_cents(cents).unwrap(),
        };
        order_domain::testing::seed_stock(&store, &stock)
            .await
            .unwrap();
    }
    // The fixtures' customer, of age (the age check has tests of its own).
    for id in ["cust-1", "cust-2"] {
        store.seed(Table::Customers, adult(id, now).to_item());
    }
    let queue = Arc::new(MemoryQueue::new());
    let clock = Arc::new(ManualClock::new(now));
    let mut api = Api::new(
        Arc::clone(&store),
        Arc::clone(&queue),
        SimulatedGateway::new(),
        rules(),
        Arc::clone(&clock),
        SequentialIds::new(),
    );
    if let Some(at) = sale_time {
        api = api.with_sale_clock(ManualClock::new(at));
    }
    Harness {
        api,
        queue,
        store,
        clock,
    }
}

fn adult(id: &str, now: Timestamp) -> Customer {
    Customer {
        customer_id: CustomerId::parse(id).unwrap(),
        email: None,
        full_name: None,
        phone: None,
        birth_date: Some(jiff::civil::Date::constant(1990, 2, 28)),
        created_at: now,
        updated_at: now,
        legacy: None,
    }
}

fn body(r: &ApiGatewayProxyResponse) -> Value {
    match &r.body {
        Some(Body::Text(s)) => serde_json::from_str(s).unwrap(),
        other => panic!("expected a text body, got {other:?}"),
    }
}

fn header<'r>(r: &'r ApiGatewayProxyResponse, name: &str) -> Option<&'r str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

async fn place(h: &Harness) -> String {
    let r = h.api.handle(fixture("post-order.json", "")).await;
    assert_eq!(r.status_code, 202, "{:?}", r.body);
    body(&r)["order_id"].as_str().unwrap().to_owned()
}

#[test]
fn fixtures_round_trip_through_the_event_type() {
    for name in FIXTURES {
        let req: ApiGatewayProxyRequest = serde_json::from_str(&fixture_text(name)).unwrap();
        let json = serde_json::to_string(&req).unwrap();
        let back: ApiGatewayProxyRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, req, "{name}");
        assert_eq!(req.request_context.stage.as_deref(), Some("live"), "{name}");
    }
}

#[tokio::test]
async fn post_order_accepts_enqueues_and_replays() {
    let h = harness().await;
    let r = h.api.handle(fixture("post-order.json", "")).await;
    assert_eq!(r.status_code, 202);
    let b = body(&r);
    let id = b["order_id"].as_str().unwrap();
    assert_eq!(b["status"], "PENDING");
    assert_eq!(b["total_cents"], 2 * 1999 + 1099);
    assert_eq!(
        header(&r, "location"),
        Some(format!("/orders/{id}").as_str())
    );
    assert_eq!(
        header(&r, "content-type"),
        Some("application/json; charset=utf-8")
    );
    let sent = h.queue.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].order_id.to_string(), id);

    // A retry of the same request gets the first answer and no new message.
    let again = h.api.handle(fixture("post-order.json", "")).await;
    assert_eq!(again.status_code, 202);
    assert_eq!(header(&again, "idempotent-replayed"), Some("true"));
    assert_eq!(body(&again)["order_id"], id);
    assert_eq!(h.queue.messages().len(), 1);
}

#[tokio::test]
async fn the_sale_clock_decides_sale_hours_and_the_wall_clock_dates_the_order() {
    // Wall clock Tuesday 01:30 CDT: before the 07:00 opening.
    let wall: Timestamp = "2026-03-10T06:30:00Z".parse().unwrap();
    let closed = harness_at(wall, None).await;
    let r = closed.api.handle(fixture("post-order.json", "")).await;
    assert_eq!(r.status_code, 422, "{:?}", r.body);
    assert_eq!(body(&r)["error"], "outside_sale_hours");

    // Sale clock pinned to Monday 12:00 CDT: accepted, dated by the wall clock.
    let noon: Timestamp = "2026-03-09T17:00:00Z".parse().unwrap();
    let open = harness_at(wall, Some(noon)).await;
    let r = open.api.handle(fixture("post-order.json", "")).await;
    assert_eq!(r.status_code, 202, "{:?}", r.body);
    let b = body(&r);
    assert_eq!(b["created_at"], "2026-03-10T06:30:00Z");
    let id: order_domain::ids::OrderId = b["order_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(id.timestamp_ms(), wall.as_millisecond() as u64);

    // Sale clock pinned to Tuesday 06:59 CDT while the wall clock is open:
    // refused, quoting the sale clock's time.
    let early: Timestamp = "2026-03-10T11:59:00Z".parse().unwrap();
    let pinned_closed = harness_at(noon, Some(early)).await;
    let r = pinned_closed
        .api
        .handle(fixture("post-order.json", ""))
        .await;
    assert_eq!(r.status_code, 422, "{:?}", r.body);
    assert_eq!(
        body(&r)["reason"],
        "outside sale hours in travis-tx: it is Tuesday 06:59 CDT; today's hours are 07:00-24:00"
    );
    assert!(pinned_closed.queue.messages().is_empty());
}

#[tokio::test]
async fn enqueue_failure_still_answers_202() {
    let h = harness().await;
    h.queue.fail_next(1);
    let r = h.api.handle(fixture("post-order.json", "")).await;
    assert_eq!(r.status_code, 202);
    // Nothing was sent: the stream outbox and the sweeper take over.
    assert!(h.queue.messages().is_empty());
}

#[tokio::test]
async fn get_then_cancel_an_order() {
    let h = harness().await;
    let id = place(&h).await;
    let r = h.api.handle(fixture("get-order.json", &id)).await;
    assert_eq!(r.status_code, 200, "{:?}", r.body);
    let b = body(&r);
    assert_eq!(b["order_id"], id.as_str());
    assert_eq!(b["status"], "PENDING");
    assert_eq!(b["items"].as_array().unwrap().len(), 2);

    let r = h.api.handle(fixture("cancel-order.json", &id)).await;
    assert_eq!(r.status_code, 200, "{:?}", r.body);
    assert_eq!(body(&r)["status"], "CANCELLED");
    // Cancelling is idempotent.
    let r = h.api.handle(fixture("cancel-order.json", &id)).await;
    assert_eq!(r.status_code, 200);
    let r = h.api.handle(fixture("get-order.json", &id)).await;
    assert_eq!(body(&r)["status"], "CANCELLED");
}

#[tokio::test]
async fn listings_and_cursors() {
    let h = harness().await;
    let first = place(&h).await;
    let mut second_req = fixture("post-order.json", "");
    second_req.body = second_req
        .body
        .map(|b| b.replace("7d0c6d2e-req-1", "7d0c6d2e-req-2"));
    let r = h.api.handle(second_req).await;
    assert_eq!(r.status_code, 202);
    let second = body(&r)["order_id"].as_str().unwrap().to_owned();

    for name in [
        "list-county-orders.json",
        "list-status-orders.json",
        "list-store-orders.json",
    ] {
        let r = h.api.handle(fixture(name, "")).await;
        assert_eq!(r.status_code, 200, "{name}: {:?}", r.body);
        let b = body(&r);
        let got: Vec<String> = b["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["order_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, [first.clone(), second.clone()], "{name}: oldest first");
    }

    // Customer listing, newest first, one per page, following the cursor.
    let r = h.api.handle(fixture("list-customer-orders.json", "")).await;
    assert_eq!(r.status_code, 200);
    let b = body(&r);
    assert_eq!(b["orders"][0]["order_id"], second.as_str());
    let cursor = b["next_cursor"].as_str().unwrap().to_owned();
    let mut next = fixture("list-customer-orders.json", "");
    next.query_string_parameters = [
        ("limit".to_owned(), "1".to_owned()),
        ("cursor".to_owned(), cursor),
    ]
    .into_iter()
    .collect::<std::collections::HashMap<_, _>>()
    .into();
    let r = h.api.handle(next).await;
    assert_eq!(body(&r)["orders"][0]["order_id"], first.as_str());

    // A tampered cursor is a 400.
    let mut bad = fixture("list-customer-orders.json", "");
    bad.query_string_parameters = [("cursor".to_owned(), "AAAA".to_owned())]
        .into_iter()
        .collect::<std::collections::HashMap<_, _>>()
        .into();
    let r = h.api.handle(bad).await;
    assert_eq!(r.status_code, 400);
    assert_eq!(body(&r)["error"], "bad_cursor");
}

#[tokio::test]
async fn errors_are_json_with_the_domain_status() {
    let h = harness().await;

    // Validation: every problem, the first as `field`.
    let mut req = fixture("post-order.json", "");
    req.body = Some(
        r#"{"client_request_id":"r","customer_id":"c#1","store_id":"store-9","items":[]}"#.into(),
    );
    let r = h.api.handle(req).await;
    assert_eq!(r.status_code, 400);
    let b = body(&r);
    assert_eq!(b["error"], "validation_failed");
    assert!(b["field"].is_string());
    assert!(b["reason"].is_string());
    assert!(b["errors"].as_array().unwrap().len() >= 2, "{b}");
    assert_eq!(b["retryable"], false);

    // Body size limit, before parsing.
    let mut req = fixture("post-order.json", "");
    req.body = Some(format!(r#"{{"pad":"{}"}}"#, "x".repeat(20_000)));
    let r = h.api.handle(req).await;
    assert_eq!(r.status_code, 413);
    assert_eq!(body(&r)["field"], "body");

    // Unknown order: 404 (a well-formed id that does not exist).
    let r = h
        .api
        .handle(fixture("get-order.json", "01HZY3M4T7X8Q9R0S1T2V3W4X5"))
        .await;
    assert_eq!(r.status_code, 404);
    assert_eq!(body(&r)["error"], "not_found");

    // Malformed id.
    let r = h.api.handle(fixture("get-order.json", "not-an-id")).await;
    assert_eq!(r.status_code, 400);
    assert_eq!(body(&r)["field"], "order_id");

    // Unknown route, and a known route with the wrong method.
    let mut req = fixture("get-order.json", "x");
    req.path = Some("/nope".into());
    assert_eq!(h.api.handle(req).await.status_code, 404);
    let mut req = fixture("cancel-order.json", "x");
    req.http_method = aws_lambda_events::http::Method::GET;
    let r = h.api.handle(req).await;
    assert_eq!(r.status_code, 405);
    assert_eq!(header(&r, "allow"), Some("POST"));

    // Query parameters.
    let mut req = fixture("list-county-orders.json", "");
    req.query_string_parameters = std::collections::HashMap::<String, String>::new().into();
    let r = h.api.handle(req).await;
    assert_eq!(r.status_code, 400);
    assert_eq!(body(&r)["field"], "since");
    let mut req = fixture("list-status-orders.json", "");
    req.query_string_parameters = [
        ("status".to_owned(), "FAILED".to_owned()),
        ("since".to_owned(), "2026-03-09T00:00:00Z".to_owned()),
    ]
    .into_iter()
    .collect::<std::collections::HashMap<_, _>>()
    .into();
    let r = h.api.handle(req).await;
    assert_eq!(r.status_code, 400);
    assert_eq!(body(&r)["field"], "status");
}

#[tokio::test]
async fn a_body_full_of_mistakes_gets_a_short_answer() {
    let h = harness().await;
    let line = r#"{"x":1},"#;
    let n = 16_000 / line.len();
    let long_key = "k".repeat(15_000);
    for bad in [
        format!(r#"{{"items":[{}{{"x":1}}]}}"#, line.repeat(n - 1)),
        format!(r#"{{"{long_key}":1}}"#),
    ] {
        assert!(bad.len() <= 16 * 1024);
        let mut req = fixture("post-order.json", "");
        req.body = Some(bad);
        let r = h.api.handle(req).await;
        assert_eq!(r.status_code, 400);
        let text = match &r.body {
            Some(Body::Text(t)) => t.clone(),
            other => panic!("{other:?}"),
        };
        // It was 690 KB for such a body.
        assert!(text.len() < 8 * 1024, "{} bytes", text.len());
        let b = body(&r);
        assert!(
            b["errors"].as_array().unwrap().len() <= order_domain::service::MAX_LISTED_PROBLEMS + 1
        );
    }
}

#[tokio::test]
async fn post_orders_takes_json_only() {
    let h = harness().await;
    let with = |content_type: Option<&str>| {
        let mut req = fixture("post-order.json", "");
        req.headers.remove("content-type");
        req.multi_value_headers.remove("content-type");
        if let Some(ct) = content_type {
            req.headers.insert("content-type", ct.parse().unwrap());
        }
        req
    };
    for refused in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonp"),
        Some("application/json; charset=latin-1"),
    ] {
        let r = h.api.handle(with(refused)).await;
        assert_eq!(r.status_code, 415, "{refused:?}: {:?}", r.body);
        let b = body(&r);
        assert_eq!(b["error"], "unsupported_media_type", "{refused:?}");
        assert_eq!(b["field"], "content-type");
        assert!(
            b["reason"].as_str().unwrap().contains("application/json"),
            "{b}"
        );
    }
    assert!(
        h.queue.messages().is_empty(),
        "nothing refused was enqueued"
    );
    let r = h
        .api
        .handle(fixture("get-order.json", "01HZY3M4T7X8Q9R0S1T2V3W4X5"))
        .await;
    assert_eq!(r.status_code, 404, "nothing refused was written");

    for (n, accepted) in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=\"UTF-8\"",
    ]
    .into_iter()
    .enumerate()
    {
        let mut req = with(Some(accepted));
        req.body = req
            .body
            .map(|b| b.replace("7d0c6d2e-req-1", &format!("7d0c6d2e-ct-{n}")));
        let r = h.api.handle(req).await;
        assert_eq!(r.status_code, 202, "{accepted}: {:?}", r.body);
    }
}

#[tokio::test]
async fn authorized_customers_see_only_their_own_orders() {
    let h = harness().await;
    let r = h
        .api
        .handle(fixture("post-order-customer-auth.json", ""))
        .await;
    assert_eq!(r.status_code, 202, "{:?}", r.body);
    let id = body(&r)["order_id"].as_str().unwrap().to_owned();

    let auth = fixture("post-order-customer-auth.json", "")
        .request_context
        .authorizer;
    let as_customer = |mut req: ApiGatewayProxyRequest, who: &str| {
        req.request_context.authorizer = auth.clone();
        req.request_context
            .authorizer
            .fields
            .insert("customer_id".into(), Value::String(who.into()));
        req
    };
    let r = h
        .api
        .handle(as_customer(fixture("get-order.json", &id), "cust-1"))
        .await;
    assert_eq!(r.status_code, 200);
    // Another customer: the order does not exist for them.
    let r = h
        .api
        .handle(as_customer(fixture("get-order.json", &id), "cust-2"))
        .await;
    assert_eq!(r.status_code, 404);
    let r = h
        .api
        .handle(as_customer(fixture("cancel-order.json", &id), "cust-2"))
        .await;
    assert_eq!(r.status_code, 404);
    // Ordering for someone else, and staff listings, are refused.
    let r = h
        .api
        .handle(as_customer(fixture("post-order.json", ""), "cust-2"))
        .await;
    assert_eq!(r.status_code, 403);
    let r = h
        .api
        .handle(as_customer(
            fixture("list-county-orders.json", ""),
            "cust-1",
        ))
        .await;
    assert_eq!(r.status_code, 403);
}

/// `POST /orders/{id}/<action>` as the cancel fixture is, for staff.
fn staff_action(id: &str, action: &str) -> ApiGatewayProxyRequest {
    let mut req = fixture("cancel-order.json", id);
    let path = format!("/orders/{id}/{action}");
    req.path = Some(path.clone());
    req.resource = Some(format!("/orders/{{order_id}}/{action}"));
    req.request_context.path = None;
    req.request_context.resource_path = None;
    req
}

#[tokio::test]
async fn no_profile_is_a_422_and_the_retry_after_the_profile_is_accepted() {
    let h = harness().await;
    h.store.seed(
        Table::Customers,
        Customer {
            birth_date: Some(jiff::civil::Date::constant(2010, 1, 1)),
            ..adult("cust-1", "2026-01-01T00:00:00Z".parse().unwrap())
        }
        .to_item(),
    );
    let r = h.api.handle(fixture("post-order.json", "")).await;
    assert_eq!(r.status_code, 422);
    assert_eq!(body(&r)["error"], "under_legal_age");
    assert!(h.queue.messages().is_empty(), "nothing enqueued");
    h.store.seed(
        Table::Customers,
        adult("cust-1", "2026-01-01T00:00:00Z".parse().unwrap()).to_item(),
    );
    let r = h.api.handle(fixture("post-order.json", "")).await;
    assert_eq!(r.status_code, 202, "{:?}", r.body);
    assert_eq!(header(&r, "idempotent-replayed"), None);
}

#[tokio::test]
async fn staff_fulfil_confirmed_orders_and_the_pick_list_shows_what_is_left() {
    let h = harness().await;
    let id = place(&h).await;
    let worker = order_domain::service::OrderWorker::new(
        Arc::clone(&h.store),
        SimulatedGateway::new(),
        rules(),
        Arc::clone(&h.clock),
    );
    let r = h.api.handle(staff_action(&id, "fulfill")).await;
    assert_eq!(r.status_code, 409, "PENDING is not fulfillable");
    assert_eq!(body(&r)["error"], "not_confirmed");
    worker
        .process(&order_domain::OrderId::parse(&id).unwrap())
        .await
        .unwrap();
    let mut pick = fixture("list-store-orders.json", "");
    pick.query_string_parameters = [
        ("since".to_owned(), "2026-03-09T00:00:00Z".to_owned()),
        ("status".to_owned(), "CONFIRMED".to_owned()),
    ]
    .into_iter()
    .collect::<std::collections::HashMap<_, _>>()
    .into();
    let listed = |r: &ApiGatewayProxyResponse| body(r)["orders"].as_array().unwrap().len();
    assert_eq!(listed(&h.api.handle(pick.clone()).await), 1);
    for _ in 0..2 {
        let r = h.api.handle(staff_action(&id, "fulfill")).await;
        assert_eq!(r.status_code, 200, "{:?}", r.body);
        assert_eq!(body(&r)["status"], "FULFILLED");
    }
    assert_eq!(listed(&h.api.handle(pick.clone()).await), 0);
    let mut bad = pick.clone();
    bad.query_string_parameters = [
        ("since".to_owned(), "2026-03-09T00:00:00Z".to_owned()),
        ("status".to_owned(), "SHIPPED".to_owned()),
    ]
    .into_iter()
    .collect::<std::collections::HashMap<_, _>>()
    .into();
    let r = h.api.handle(bad).await;
    assert_eq!(r.status_code, 400);
    assert_eq!(body(&r)["field"], "status");
}

#[tokio::test]
async fn release_and_reject_are_staff_only_and_answer_409_unless_held() {
    let h = harness().await;
    let id = place(&h).await;
    let auth = fixture("post-order-customer-auth.json", "")
        .request_context
        .authorizer;
    for action in ["release", "reject", "fulfill"] {
        let mut req = staff_action(&id, action);
        req.request_context.authorizer = auth.clone();
        let r = h.api.handle(req).await;
        assert_eq!(r.status_code, 403, "{action}");
        let r = h.api.handle(staff_action(&id, action)).await;
        assert_eq!(r.status_code, 409, "{action}: {:?}", r.body);
    }
    let sent = h.queue.messages().len();
    let r = h.api.handle(staff_action(&id, "release")).await;
    assert_eq!(body(&r)["error"], "not_held");
    assert_eq!(
        h.queue.messages().len(),
        sent,
        "nothing enqueued for a refusal"
    );
}

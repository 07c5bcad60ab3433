//! The local runner over real HTTP against moto: provisioning from the
//! template, the bearer token, idempotency, overselling, redelivery, the
//! outbox, the dead-letter queue, bad input and events.
//!
//! Run with `scripts/with-moto.sh cargo test -p acme-local`.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use order_domain::events::WorkMessage;
use order_domain::order::OrderStatus;
use order_domain::payment::{Behavior, SimulatedGateway};
use order_domain::schema::inventory as inv;
use order_domain::store::ItemExt;
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn provisions_tables_and_queues_from_the_template() {
    let h = start().await;
    let ddb = aws_sdk_dynamodb::Client::new(&h.county.sdk);
    let orders = ddb
        .describe_table()
        .table_name(h.county.resources.table("OrdersTable").unwrap())
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let mut gsis: Vec<String> = orders
        .global_secondary_indexes()
        .iter()
        .filter_map(|g| g.index_name().map(str::to_owned))
        .collect();
    gsis.sort();
    assert_eq!(gsis, ["by-county-time", "by-status-time", "by-store-time"]);
    let by_id = ddb
        .describe_table()
        .table_name(h.county.resources.table("OrderByIdTable").unwrap())
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(
        by_id
            .stream_specification()
            .and_then(|s| s.stream_view_type())
            .map(|v| v.as_str()),
        Some("NEW_AND_OLD_IMAGES")
    );
    let sqs = aws_sdk_sqs::Client::new(&h.county.sdk);
    let q = h.county.resources.queue("OrderQueue").unwrap();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&q.url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let redrive: Value =
        serde_json::from_str(&attrs[&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy])
            .unwrap();
    assert_eq!(
        redrive["deadLetterTargetArn"],
        h.county
            .resources
            .queue("OrderDeadLetterQueue")
            .unwrap()
            .arn
    );
    assert_eq!(redrive["maxReceiveCount"], 5);
    for name in h.county.resources.tables.values() {
        assert!(
            name.starts_with("travis-tx-") && name.ends_with(&h.county.resources.run_id),
            "{name}"
        );
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_without_the_right_bearer_token_get_401() {
    let h = start().await;
    let url = h.url("/orders");
    let body = order_body("r-1", "c-1", "s-auth", "SKU-A", 1).to_string();
    let none = h.http.post(&url).body(body.clone()).send().await.unwrap();
    assert_eq!(none.status().as_u16(), 401);
    let v: Value = none.json().await.unwrap();
    assert_eq!(v["error"], "unauthorized");
    let wrong = h
        .http
        .post(&url)
        .bearer_auth("not-the-token")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let basic = h
        .http
        .get(h.url("/orders/x"))
        .header("authorization", format!("Basic {}", h.token))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status().as_u16(), 401);
    assert_eq!(h.count("IdempotencyTable").await, 0);
    // The right token gets through to the function (which rejects the
    // unknown SKU: the point is that it ran).
    let ok = h
        .post_order(&order_body("r-1", "c-1", "s-auth", "SKU-A", 1))
        .await;
    assert_ne!(ok.status, 401, "{ok:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_identical_posts_make_one_order() {
    let h = Arc::new(start().await);
    h.stock("s-idem", "SKU-A", 100, 1299).await;
    let body = order_body("req-idem-1", "cust-idem", "s-idem", "SKU-A", 2);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let h = h.clone();
        let body = body.clone();
        tasks.spawn(async move {
            // A client retries 503 (contention) as the API tells it to.
            for _ in 0..20 {
                let a = h.post_order(&body).await;
                if a.status != 503 {
                    return a;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("still 503 after 20 tries");
        });
    }
    let mut ids = HashSet::new();
    while let Some(r) = tasks.join_next().await {
        let a = r.unwrap();
        assert_eq!(a.status, 202, "{a:?}");
        ids.insert(order_id(&a));
    }
    assert_eq!(
        ids.len(),
        1,
        "every answer carries the same order id: {ids:?}"
    );
    assert_eq!(h.count("OrderByIdTable").await, 1);
    assert_eq!(h.count("OrdersTable").await, 1);
    let id = *ids.iter().next().unwrap();
    let o = h.wait_final(&[id], T).await;
    assert_eq!(o[0].status, OrderStatus::Confirmed);
    assert_eq!(
        o[0].total_cents.cents(),
        2 * 1299,
        "priced from the stock record"
    );
    assert_eq!(h.county.gateway.captures(&id), 1);
    Arc::try_unwrap(h).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_orders_for_ten_units_confirm_exactly_ten() {
    let h = Arc::new(start().await);
    h.stock("s-over", "SKU-HOT", 10, 2500).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let h = h.clone();
        tasks.spawn(async move {
            let a = h
                .post_order(&order_body(
                    &format!("over-{i}"),
                    &format!("cust-over-{i}"),
                    "s-over",
                    "SKU-HOT",
                    1,
                ))
                .await;
            assert_eq!(a.status, 202, "{a:?}");
            order_id(&a)
        });
    }
    let mut ids = Vec::new();
    while let Some(r) = tasks.join_next().await {
        ids.push(r.unwrap());
    }
    let orders = h.wait_final(&ids, T).await;
    let confirmed: Vec<_> = orders
        .iter()
        .filter(|o| o.status == OrderStatus::Confirmed)
        .collect();
    let failed = orders
        .iter()
        .filter(|o| o.status == OrderStatus::Failed)
        .count();
    assert_eq!(confirmed.len(), 10);
    assert_eq!(failed, 30);
    let items = h.inventory_items("s-over").await;
    let stock = items
        .iter()
        .find(|i| i.get_s(inv::SK).unwrap().starts_with("STOCK"))
        .unwrap();
    assert_eq!(stock.get_i64(inv::AVAILABLE).unwrap(), 0);
    // Ledger: one CONFIRMED entry per confirmed order, nothing for the failed.
    let ledger: Vec<_> = items
        .iter()
        .filter(|i| i.get_s(inv::SK).unwrap().starts_with("RES"))
        .collect();
    assert_eq!(ledger.len(), 10);
    let ledger_orders: HashSet<String> = ledger
        .iter()
        .map(|i| i.get_s(inv::ORDER_ID).unwrap().to_owned())
        .collect();
    let confirmed_ids: HashSet<String> = confirmed.iter().map(|o| o.order_id.to_string()).collect();
    assert_eq!(ledger_orders, confirmed_ids);
    assert!(
        ledger
            .iter()
            .all(|i| i.get_s(inv::STATE).unwrap() == "CONFIRMED")
    );
    assert_eq!(h.county.gateway.total_captures(), 10);
    Arc::try_unwrap(h).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_message_delivered_three_more_times_reserves_and_charges_once() {
    let h = start().await;
    h.stock("s-redeliver", "SKU-A", 50, 1000).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let a = h
            .post_order(&order_body(
                &format!("redeliver-{i}"),
                "cust-re",
                "s-redeliver",
                "SKU-A",
                2,
            ))
            .await;
        assert_eq!(a.status, 202, "{a:?}");
        ids.push(order_id(&a));
    }
    let sqs = aws_sdk_sqs::Client::new(&h.county.sdk);
    let q = h.county.resources.queue("OrderQueue").unwrap();
    for id in &ids {
        for _ in 0..3 {
            sqs.send_message()
                .queue_url(&q.url)
                .message_body(WorkMessage { order_id: *id }.to_json())
                .send()
                .await
                .unwrap();
        }
    }
    let orders = h.wait_final(&ids, T).await;
    assert!(
        orders.iter().all(|o| o.status == OrderStatus::Confirmed),
        "{orders:?}"
    );
    // Every duplicate is consumed (none lingers to be retried later).
    wait_for("the order queue to drain", T, || async {
        let a = sqs
            .get_queue_attributes()
            .queue_url(&q.url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            )
            .send()
            .await
            .ok()?
            .attributes?;
        let n: usize = a.values().filter_map(|v| v.parse::<usize>().ok()).sum();
        (n == 0).then_some(())
    })
    .await;
    let items = h.inventory_items("s-redeliver").await;
    let mut per_order: HashMap<String, usize> = HashMap::new();
    for i in items
        .iter()
        .filter(|i| i.get_s(inv::SK).unwrap().starts_with("RES"))
    {
        *per_order
            .entry(i.get_s(inv::ORDER_ID).unwrap().to_owned())
            .or_default() += 1;
    }
    for id in &ids {
        assert_eq!(
            per_order.get(&id.to_string()),
            Some(&1),
            "one reservation for {id}"
        );
        assert_eq!(h.county.gateway.captures(id), 1, "one charge for {id}");
    }
    let stock = items
        .iter()
        .find(|i| i.get_s(inv::SK).unwrap().starts_with("STOCK"))
        .unwrap();
    assert_eq!(stock.get_i64(inv::AVAILABLE).unwrap(), 50 - 5 * 2);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_written_but_never_enqueued_is_still_processed() {
    let h = start().await;
    h.stock("s-crash", "SKU-A", 5, 700).await;
    // The API's first half only: the domain writes the PENDING order, and the
    // process "crashes" before the enqueue. The stream's outbox must cover it.
    let rules = order_domain::rules::CountyRules::from_json(&h.county.stack.rules_json).unwrap();
    let svc = order_domain::service::AcceptService::new(
        h.store(),
        rules,
        order_domain::ManualClock::new(OPEN.parse().unwrap()),
        order_domain::UlidGenerator::new(),
    );
    h.adult("cust-crash").await;
    let out = svc
        .accept(
            order_body("crash-1", "cust-crash", "s-crash", "SKU-A", 1)
                .to_string()
                .as_bytes(),
        )
        .await
        .unwrap();
    let id = out.accepted.order_id;
    let o = h.wait_final(&[id], T).await;
    assert_eq!(o[0].status, OrderStatus::Confirmed);
    assert_eq!(h.county.gateway.captures(&id), 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_that_always_fails_reaches_the_dead_letter_queue() {
    // Every charge answers "unavailable": retryable, so the worker reports the
    // message as a batch item failure on every receive.
    let gateway = Arc::new(SimulatedGateway::with_default(Behavior::Unavailable {
        times: u32::MAX,
    }));
    let h = start_with(Setup {
        gateway: Some(gateway.clone()),
        visibility_timeout: 1,
        ..Setup::default()
    })
    .await;
    h.stock("s-poison", "SKU-A", 5, 700).await;
    let a = h
        .post_order(&order_body(
            "poison-1",
            "cust-poison",
            "s-poison",
            "SKU-A",
            1,
        ))
        .await;
    assert_eq!(a.status, 202, "{a:?}");
    let id = order_id(&a);
    let sqs = aws_sdk_sqs::Client::new(&h.county.sdk);
    let dlq = h
        .county
        .resources
        .queue("OrderDeadLetterQueue")
        .unwrap()
        .url
        .clone();
    // The API's enqueue and the stream's outbox send one message each; both
    // end up in the DLQ after maxReceiveCount (5) receives.
    let msg = wait_for(
        "the order's message in the dead-letter queue",
        T,
        || async {
            let out = sqs
                .receive_message()
                .queue_url(&dlq)
                .max_number_of_messages(10)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await
                .ok()?;
            out.messages.unwrap_or_default().into_iter().next()
        },
    )
    .await;
    let body = WorkMessage::from_json(msg.body().unwrap()).unwrap();
    assert_eq!(body.order_id, id);
    let receives: u32 = msg
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
        })
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(
        receives >= 5,
        "moved after maxReceiveCount receives, saw {receives}"
    );
    assert!(gateway.attempts(&id) >= 5);
    assert_eq!(gateway.captures(&id), 0);
    assert_eq!(h.order(&id).await.unwrap().status, OrderStatus::Reserved);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_a_4xx_json_error_and_writes_nothing() {
    let h = start().await;
    h.stock("s-bad", "SKU-A", 5, 700).await;
    h.adult("c").await;
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(20_000));
    let cases: Vec<(&str, reqwest::Method, &str, Option<String>, u16)> = vec![
        ("not JSON", reqwest::Method::POST, "/orders", Some("{nope".into()), 400),
        ("empty body, no Content-Type", reqwest::Method::POST, "/orders", None, 415),
        ("missing fields", reqwest::Method::POST, "/orders", Some(json!({"customer_id": "c"}).to_string()), 400),
        ("unknown field", reqwest::Method::POST, "/orders", Some(json!({"client_request_id": "r", "customer_id": "c", "store_id": "s-bad", "items": [{"sku": "SKU-A", "quantity": 1}], "price_cents": 1}).to_string()), 400),
        ("zero quantity", reqwest::Method::POST, "/orders", Some(order_body("r", "c", "s-bad", "SKU-A", 0).to_string()), 400),
        ("too many units", reqwest::Method::POST, "/orders", Some(order_body("r", "c", "s-bad", "SKU-A", 10_000).to_string()), 400),
        ("unknown sku", reqwest::Method::POST, "/orders", Some(order_body("r", "c", "s-bad", "SKU-NOPE", 1).to_string()), 400),
        ("customer without a profile", reqwest::Method::POST, "/orders", Some(order_body("r", "c-nobody", "s-bad", "SKU-A", 1).to_string()), 422),
        ("bad id characters", reqwest::Method::POST, "/orders", Some(order_body("r r", "c/1", "s-bad", "SKU-A", 1).to_string()), 400),
        ("body too large", reqwest::Method::POST, "/orders", Some(big), 413),
        ("no such route", reqwest::Method::GET, "/nowhere", None, 404),
        ("unknown order", reqwest::Method::GET, "/orders/01J00000000000000000000000", None, 404),
        ("malformed order id", reqwest::Method::GET, "/orders/not-an-id", None, 400),
    ];
    let mut wrong = Vec::new();
    for (name, method, path, body, want) in cases {
        let a = h.send(method, path, body).await;
        if a.status != want || !a.body.is_object() {
            wrong.push(format!(
                "{name}: want {want} with a JSON body, got {} {}",
                a.status, a.body
            ));
        }
    }
    // A valid order sent as text or as a form is refused all the same.
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let r = h
            .http
            .post(h.url("/orders"))
            .bearer_auth(&h.token)
            .header("content-type", content_type)
            .body(order_body("r-ct", "c", "s-bad", "SKU-A", 1).to_string())
            .send()
            .await
            .unwrap();
        if r.status().as_u16() != 415 {
            wrong.push(format!("{content_type}: want 415, got {}", r.status()));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    for t in ["OrdersTable", "OrderByIdTable", "IdempotencyTable"] {
        assert_eq!(h.count(t).await, 0, "{t} is empty");
    }
    h.stop().await;

    // Outside sale hours: 422, nothing written.
    let h = start_with(Setup {
        sale_clock: CLOSED,
        ..Setup::default()
    })
    .await;
    h.stock("s-bad", "SKU-A", 5, 700).await;
    let a = h
        .post_order(&order_body("r-closed", "c", "s-bad", "SKU-A", 1))
        .await;
    assert_eq!(a.status, 422, "{a:?}");
    assert!(a.body.is_object());
    for t in ["OrdersTable", "OrderByIdTable", "IdempotencyTable"] {
        assert_eq!(h.count(t).await, 0, "{t} is empty");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_transition_is_published_once() {
    let h = start().await;
    // Observe through moto: a rule on the county bus targeting a queue.
    let sdk = &h.county.sdk;
    let eb = aws_sdk_eventbridge::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let bus = h
        .county
        .resources
        .event_bus_name
        .clone()
        .expect("the county has an event bus");
    let tap = sqs
        .create_queue()
        .queue_name(format!("events-tap-{}", h.county.resources.run_id))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let tap_arn = sqs
        .get_queue_attributes()
        .queue_url(&tap)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    eb.put_rule()
        .name("tap")
        .event_bus_name(&bus)
        .event_pattern(json!({"source": [order_domain::events::EVENT_SOURCE]}).to_string())
        .send()
        .await
        .unwrap();
    eb.put_targets()
        .rule("tap")
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("q")
                .arn(&tap_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    h.stock("s-events", "SKU-A", 1, 500).await;
    // One unit: the first order takes it, the second fails for want of it.
    let ok = order_id(
        &h.post_order(&order_body("ev-1", "cust-ev", "s-events", "SKU-A", 1))
            .await,
    );
    assert_eq!(
        h.wait_final(&[ok], T).await[0].status,
        OrderStatus::Confirmed
    );
    let ko = order_id(
        &h.post_order(&order_body("ev-2", "cust-ev", "s-events", "SKU-A", 1))
            .await,
    );
    assert_eq!(h.wait_final(&[ko], T).await[0].status, OrderStatus::Failed);

    let want: BTreeMap<(String, String), usize> = [
        ((ok.to_string(), "OrderPlaced".to_owned()), 1),
        ((ok.to_string(), "OrderConfirmed".to_owned()), 1),
        ((ko.to_string(), "OrderPlaced".to_owned()), 1),
        ((ko.to_string(), "OrderFailed".to_owned()), 1),
    ]
    .into();
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    let read = |seen: &mut BTreeMap<(String, String), usize>,
                msgs: Vec<aws_sdk_sqs::types::Message>| {
        for m in msgs {
            let v: Value = serde_json::from_str(m.body().unwrap_or("null")).unwrap_or(Value::Null);
            let key = (
                v["detail"]["order_id"].as_str().unwrap_or("?").to_owned(),
                v["detail-type"].as_str().unwrap_or("?").to_owned(),
            );
            *seen.entry(key).or_default() += 1;
        }
    };
    let receive = || async {
        sqs.receive_message()
            .queue_url(&tap)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default()
    };
    let deadline = std::time::Instant::now() + T;
    while want.keys().any(|k| !seen.contains_key(k)) {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for events; saw {seen:?}"
        );
        read(&mut seen, receive().await);
    }
    // Then a bounded look for duplicates: the stream has been read past both
    // orders' last transitions, so any duplicate would already be on its way.
    for _ in 0..3 {
        read(&mut seen, receive().await);
    }
    assert_eq!(seen, want);
    h.stop().await;
}

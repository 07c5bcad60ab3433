//! A customer's PII stays in the Customers table. One full order flow
//! through the local runner (the handlers the Lambdas run: order API,
//! worker, stream publisher) on the moto server: profile PUT, order POST,
//! the worker confirming it, a store fulfilling it. Then every item of every
//! table but Customers, every event on the county's bus (what the analytics
//! delivery stream reads), every customer notification and every log line
//! the process wrote is searched for the customer's e-mail and name.
//!
//! A test binary of its own: it installs the global log subscriber before the
//! county starts, so every line (JSON, as the Lambdas write them; our crates
//! at TRACE, the SDK at the functions' default INFO) is captured.
//!
//! Run with `scripts/with-moto.sh cargo test -p acme-local --test pii_full_flow`.

mod common;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use common::publisher::{EventTap, NotificationTap};
use common::*;
use serde_json::{Value, json};

const EMAIL: &str = "zebulon.quux@example.org";
const FULL_NAME: &str = "Zebulon Quuxington";
/// The searched fragments: the whole e-mail and name, and their parts.
const PII: [&str; 5] = [EMAIL, "zebulon.quux", FULL_NAME, "Zebulon", "Quuxington"];

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> Captured {
    let captured = Captured::default();
    let sink = captured.clone();
    let filter = tracing_subscriber::EnvFilter::new(
        "info,order_api=trace,order_worker=trace,order_domain=trace,\
         stream_publisher=trace,order_aws=trace,acme_local=trace",
    );
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(move || sink.clone())
        .init();
    captured
}

/// Every item of the table, as DynamoDB JSON text.
async fn scan(h: &Harness, logical: &str) -> Vec<String> {
    let name = h.county.resources.table(logical).expect("table");
    let out = aws_sdk_dynamodb::Client::new(&h.county.sdk)
        .scan()
        .table_name(name)
        .send()
        .await
        .expect("Scan");
    out.items().iter().map(|item| format!("{item:?}")).collect()
}

fn assert_clean(what: &str, texts: &[String]) {
    for text in texts {
        for pii in PII {
            assert!(!text.contains(pii), "{pii:?} in {what}: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_item_event_notification_or_log_line_of_an_order_carries_the_customers_pii() {
    let logs = capture_logs();
    let h = start().await;
    let events = EventTap::attach(&h).await;
    let notes = NotificationTap::attach(&h).await;
    h.stock("s-pii", "SKU-A", 5, 1999).await;

    let profile = json!({
        "email": EMAIL, "full_name": FULL_NAME,
        "phone": "+1 512 555 0199", "birth_date": "1990-02-28",
    });
    let a = h
        .send(
            reqwest::Method::PUT,
            "/customers/cust-pii",
            Some(profile.to_string()),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    let a = h
        .send(
            reqwest::Method::POST,
            "/orders",
            Some(order_body("r-pii", "cust-pii", "s-pii", "SKU-A", 2).to_string()),
        )
        .await;
    assert_eq!(a.status, 202, "{a:?}");
    let id = order_id(&a);
    let done = h.wait_final(&[id], Duration::from_secs(60)).await;
    assert_eq!(done[0].status, order_domain::OrderStatus::Confirmed);
    let a = h
        .send(
            reqwest::Method::POST,
            &format!("/orders/{id}/fulfill"),
            None,
        )
        .await;
    assert_eq!((a.status, &a.body["status"]), (200, &json!("FULFILLED")));

    // Placed, confirmed and fulfilled reach the bus (the analytics stream's
    // source) and the notifications topic.
    let mut seen: Vec<Value> = Vec::new();
    let mut noted: Vec<Value> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < 3 || noted.len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for three events and notifications: {seen:?} {noted:?}"
        );
        seen.extend(events.take_raw().await);
        noted.extend(notes.take_raw().await);
    }
    let kinds: Vec<_> = seen
        .iter()
        .map(|v| v["detail-type"].as_str().unwrap_or("?").to_owned())
        .collect();
    assert_eq!(kinds, ["OrderPlaced", "OrderConfirmed", "OrderFulfilled"]);

    // The profile is there, so a search that finds nothing means something.
    let customers = scan(&h, "CustomersTable").await;
    assert!(customers.iter().any(|c| c.contains(EMAIL)), "{customers:?}");
    for table in [
        "OrdersTable",
        "OrderByIdTable",
        "InventoryTable",
        "IdempotencyTable",
    ] {
        let items = scan(&h, table).await;
        assert!(!items.is_empty(), "{table} holds the flow's items");
        assert_clean(table, &items);
    }
    assert_clean(
        "events",
        &seen.iter().map(Value::to_string).collect::<Vec<_>>(),
    );
    assert_clean(
        "notifications",
        &noted.iter().map(Value::to_string).collect::<Vec<_>>(),
    );
    h.stop().await;

    let text = String::from_utf8(
        logs.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone(),
    )
    .expect("UTF-8 logs");
    assert!(
        text.contains("order processed") && text.contains("cust-pii"),
        "the worker's lines were captured:\n{text}"
    );
    assert_clean("logs", &text.lines().map(str::to_owned).collect::<Vec<_>>());
}

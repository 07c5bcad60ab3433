//! The worker with the real card API adapter, over moto's DynamoDB (the
//! county stack's tables) and the key read from moto's Secrets Manager, the
//! way `main` builds it, against a fake provider the test starts on
//! loopback (plain HTTP under the test-only allowance). Run with
//! `scripts/with-moto.sh cargo test -p order-worker --test card_api`.

// Test helpers may unwrap too: a panic there is a failed assertion (as clippy.toml
// allows inside #[test] functions).
#![allow(clippy::unwrap_used)]

#[path = "../../order-aws/tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use jiff::Timestamp;
use order_aws::card_api::Limits;
use order_aws::testing::{FakeCardApi, Fault, Route};
use order_aws::{CardApiGateway, CardApiSettings, DynamoStore};
use order_domain::clock::{ManualClock, SequentialIds};
use order_domain::ids::OrderId;
use order_domain::order::{FailureReason, OrderStatus};
use order_domain::rules::CountyRules;
use order_domain::service::{AcceptService, CancelService, OrderQueries};
use order_domain::testing::seed_adult;
use order_worker::Worker;

const KEY: &str = "sk_test_moto_51Hx";

fn rules() -> CountyRules {
    let day = r#"{"open_minute": 0, "close_minute": 1440}"#;
    CountyRules::from_json(&format!(
        r#"{{"county_id": "travis-tx", "sales_enabled": true, "timezone": "America/Chicago",
            "sale_hours": {{"monday": {day}, "tuesday": {day}, "wednesday": {day},
                "thursday": {day}, "friday": {day}, "saturday": {day}, "sunday": {day}}},
            "max_units_per_order": 24, "max_line_items": 5, "gsi_write_shards": 4,
            "reservation_ttl_seconds": 900, "idempotency_ttl_hours": 24}}"#
    ))
    .unwrap()
}

struct County {
    store: DynamoStore,
    clock: Arc<ManualClock>,
    fake: FakeCardApi,
    settings: CardApiSettings,
    secrets: aws_sdk_secretsmanager::Client,
}

async fn county() -> County {
    let sdk = common::sdk().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let arn = secrets
        .create_secret()
        .name(common::unique("card-api-key"))
        .secret_string(KEY)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let fake = FakeCardApi::start(KEY).await;
    let settings = CardApiSettings {
        base_url: fake.url(),
        api_key_secret_arn: arn,
        limits: Limits {
            connect_timeout: Duration::from_millis(200),
            request_timeout: Duration::from_millis(500),
            max_attempts: 4,
            call_budget: Duration::from_secs(5),
        },
    };
    let store = common::store("card").await;
    common::stock(&store, "store-9", "WINE-1", 10).await;
    let now: Timestamp = "2026-03-09T15:04:05.678Z".parse().unwrap();
    County {
        store,
        clock: Arc::new(ManualClock::new(now)),
        fake,
        settings,
        secrets,
    }
}

impl County {
    /// A gateway as a cold start builds it: the key read from the secret.
    async fn gateway(&self) -> CardApiGateway {
        CardApiGateway::connect(&self.secrets, &self.settings)
            .await
            .unwrap()
    }

    async fn order(&self, request: &str) -> OrderId {
        seed_adult(&self.store, "cust-1").await.unwrap();
        let accept = AcceptService::new(
            self.store.clone(),
            rules(),
            Arc::clone(&self.clock),
            SequentialIds::new(),
        );
        let body = format!(
            r#"{{"client_request_id":"{request}","customer_id":"cust-1","store_id":"store-9",
                 "items":[{{"sku":"WINE-1","quantity":2}}]}}"#
        );
        accept
            .accept(body.as_bytes())
            .await
            .unwrap()
            .accepted
            .order_id
    }

    async fn worker(&self) -> Worker<DynamoStore, CardApiGateway, Arc<ManualClock>> {
        Worker::new(
            self.store.clone(),
            self.gateway().await,
            rules(),
            Arc::clone(&self.clock),
        )
    }
}

fn delivery(order: &OrderId, message_ids: &[&str]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for id in message_ids {
        let mut m = SqsMessage::default();
        m.message_id = Some((*id).to_owned());
        m.body = Some(format!(r#"{{"order_id":"{order}"}}"#));
        event.records.push(m);
    }
    event
}

#[tokio::test]
async fn a_duplicate_delivery_to_two_workers_charges_once_even_when_the_answer_is_lost() {
    let c = county().await;
    let o = c.order("dup-1").await;
    // The first charge goes through but its answer stalls past the timeout:
    // the worker that sent it must look it up rather than charge again.
    c.fake
        .fault(Route::Create, Fault::StallAfter(Duration::from_secs(5)));
    // Two Lambda instances (each its own cold start and key read), each
    // given the same message twice in its batch.
    let (a, b) = (c.worker().await, c.worker().await);
    let event = delivery(&o, &["m-1", "m-1-again"]);
    let (ra, rb) = tokio::join!(a.handle(event.clone()), b.handle(event));
    assert!(ra.batch_item_failures.is_empty(), "{ra:?}");
    assert!(rb.batch_item_failures.is_empty(), "{rb:?}");

    let order = OrderQueries::new(c.store.clone(), rules())
        .get_order(&o)
        .await
        .unwrap();
    assert_eq!(order.status, OrderStatus::Confirmed);
    let payment = c.fake.payment(&o.to_string()).unwrap();
    assert_eq!(order.payment_id.unwrap().0, payment.id);
    assert_eq!(payment.captures, 1, "charged more than once");
    // The worker whose answer was lost settled it by a look-up.
    assert!(!c.fake.seen_on(Route::LookUp).is_empty());
    assert_eq!(payment.amount, 2 * 1999);
    // Every charge request carried the order id as its idempotency key.
    let creates = c.fake.seen_on(Route::Create);
    assert!(!creates.is_empty());
    assert!(
        creates
            .iter()
            .all(|s| s.idempotency_key.as_deref() == Some(o.to_string().as_str()))
    );

    // Cancelling the paid order refunds it through the same port, once.
    let cancel = CancelService::new(
        c.store.clone(),
        c.gateway().await,
        rules(),
        Arc::clone(&c.clock),
    );
    let cancelled = cancel.cancel(&o, None).await.unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    cancel.cancel(&o, None).await.unwrap();
    assert_eq!(c.fake.refunds(&o.to_string()), 1);
}

#[tokio::test]
async fn a_declined_card_fails_the_order_with_the_reason_and_charges_nothing() {
    let c = county().await;
    let o = c.order("dec-1").await;
    c.fake.decline(&o.to_string(), "insufficient_funds");
    let worker = c.worker().await;
    let response = worker.handle(delivery(&o, &["m-2"])).await;
    assert!(response.batch_item_failures.is_empty());
    let order = OrderQueries::new(c.store.clone(), rules())
        .get_order(&o)
        .await
        .unwrap();
    assert_eq!(order.status, OrderStatus::Failed);
    let Some(FailureReason::PaymentDeclined { message }) = &order.failure_reason else {
        panic!("{:?}", order.failure_reason);
    };
    assert!(message.starts_with("insufficient_funds: "), "{message}");
    assert_eq!(c.fake.captures(&o.to_string()), 0);
}

#[tokio::test]
async fn a_provider_outage_leaves_the_order_reserved_for_redelivery() {
    let c = county().await;
    let o = c.order("out-1").await;
    for _ in 0..4 {
        c.fake.fault(Route::Create, Fault::Status(503));
    }
    let worker = c.worker().await;
    let response = worker.handle(delivery(&o, &["m-3"])).await;
    assert_eq!(response.batch_item_failures.len(), 1, "redelivered");
    let queries = OrderQueries::new(c.store.clone(), rules());
    assert_eq!(
        queries.get_order(&o).await.unwrap().status,
        OrderStatus::Reserved
    );
    // The redelivery charges with the same key, once.
    let response = worker.handle(delivery(&o, &["m-3"])).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        queries.get_order(&o).await.unwrap().status,
        OrderStatus::Confirmed
    );
    assert_eq!(c.fake.captures(&o.to_string()), 1);
}

#[tokio::test]
async fn a_missing_secret_stops_the_start_naming_it_without_a_key() {
    let c = county().await;
    let mut settings = c.settings.clone();
    settings.api_key_secret_arn = format!("{}-gone", settings.api_key_secret_arn);
    let err = CardApiGateway::connect(&c.secrets, &settings)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&settings.api_key_secret_arn), "{text}");
    assert!(text.contains("GetSecretValue"), "{text}");
    assert!(!text.contains(KEY));
}

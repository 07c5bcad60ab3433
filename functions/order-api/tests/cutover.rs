//! A migrating county's order API follows its cutover mode, read from SSM
//! (the emulator's) through the handler production runs: writes refused in
//! `legacy` and `shadow` with nothing written, taken in `dynamo`; reads in
//! every mode; an unreadable mode refuses writes. Needs the emulator:
//! `scripts/with-moto.sh cargo test -p order-api --test cutover`.

// Test helpers may unwrap too: a panic there is a failed assertion (as clippy.toml
// allows inside #[test] functions).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use acme_contract::migration::mode_parameter;
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use order_api::Api;
use order_aws::{CutoverFlag, MemoryQueue};
use order_domain::clock::{ManualClock, SequentialIds};
use order_domain::codec::StockRecord;
use order_domain::ids::{Sku, StoreId};
use order_domain::money::Money;
use order_domain::payment::SimulatedGateway;
use order_domain::rules::CountyRules;
use order_domain::store::{MemoryStore, Put, Store, Table};
use serde_json::Value;

type TestApi =
    Api<Arc<MemoryStore>, Arc<MemoryQueue>, SimulatedGateway, Arc<ManualClock>, SequentialIds>;

fn fixture(name: &str, order_id: &str) -> ApiGatewayProxyRequest {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text.replace("ORDER_ID", order_id)).unwrap()
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

async fn stocked_store() -> Arc<MemoryStore> {
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
    store
}

fn api(store: Arc<MemoryStore>, queue: Arc<MemoryQueue>, flag: CutoverFlag) -> TestApi {
    Api::new(
        store,
        queue,
        SimulatedGateway::new(),
        rules(),
        // Monday 10:04 in Austin: inside sale hours.
        Arc::new(ManualClock::new(
            "2026-03-09T15:04:05.678Z".parse().unwrap(),
        )),
        SequentialIds::new(),
    )
    .with_cutover(flag)
}

fn body(r: &ApiGatewayProxyResponse) -> Value {
    match &r.body {
        Some(Body::Text(s)) => serde_json::from_str(s).unwrap(),
        other => panic!("expected a text body, got {other:?}"),
    }
}

/// The emulator's SSM, and a parameter name of this run's own county.
async fn ssm() -> (aws_sdk_ssm::Client, String) {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| !v.is_empty()),
        "AWS_ENDPOINT_URL is not set: run with scripts/with-moto.sh"
    );
    let sdk = order_aws::load_sdk_config().await;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let county = format!("cutover-{}-{nanos}", std::process::id());
    (aws_sdk_ssm::Client::new(&sdk), mode_parameter(&county))
}

async fn set(client: &aws_sdk_ssm::Client, parameter: &str, mode: &str) {
    client
        .put_parameter()
        .name(parameter)
        .value(mode)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .unwrap();
}

fn assert_refused(r: &ApiGatewayProxyResponse, mode: &str) {
    assert_eq!(r.status_code, 409, "{:?}", r.body);
    let b = body(r);
    assert_eq!(b["error"], "county_not_cut_over");
    assert_eq!(b["mode"], mode);
    let reason = b["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("cutover mode `{mode}`")),
        "{reason}"
    );
    assert!(reason.contains("legacy system still takes"), "{reason}");
}

#[tokio::test]
async fn writes_follow_the_mode_in_ssm_and_reads_work_in_every_mode() {
    let (client, parameter) = ssm().await;
    let store = stocked_store().await;
    let queue = Arc::new(MemoryQueue::new());
    // No cache, so each request sees the mode the test just set.
    let flag = CutoverFlag::ssm_with_ttl(client.clone(), &parameter, Duration::ZERO);
    let api = api(Arc::clone(&store), Arc::clone(&queue), flag);
    let profile = {
        let mut r = fixture("get-order.json", "");
        r.http_method = "PUT".parse().unwrap();
        r.path = Some("/customers/cust-1".into());
        r.body =
            Some(r#"{"email":"a@example.com","full_name":"A B","birth_date":"1980-01-01"}"#.into());
        r
    };

    for mode in ["legacy", "shadow"] {
        set(&client, &parameter, mode).await;
        assert_refused(&api.handle(fixture("post-order.json", "")).await, mode);
        let cancel = fixture("cancel-order.json", "01JD0000000000000000000000");
        assert_refused(&api.handle(cancel).await, mode);
        assert_refused(&api.handle(profile.clone()).await, mode);
        let list = api.handle(fixture("list-county-orders.json", "")).await;
        assert_eq!(
            list.status_code, 200,
            "reads work in {mode}: {:?}",
            list.body
        );
    }
    assert!(store.items(Table::Orders).is_empty(), "nothing written");
    assert!(store.items(Table::OrderById).is_empty(), "nothing written");
    assert!(
        store.items(Table::Idempotency).is_empty(),
        "nothing written"
    );
    assert!(queue.messages().is_empty(), "nothing enqueued");

    set(&client, &parameter, "dynamo").await;
    // The customer's profile (an adult's), then the order.
    let put = api.handle(profile).await;
    assert_eq!(put.status_code, 201, "{:?}", put.body);
    let placed = api.handle(fixture("post-order.json", "")).await;
    assert_eq!(placed.status_code, 202, "{:?}", placed.body);
    let id = body(&placed)["order_id"].as_str().unwrap().to_owned();
    let get = api.handle(fixture("get-order.json", &id)).await;
    assert_eq!(get.status_code, 200, "{:?}", get.body);
    let cancel = api.handle(fixture("cancel-order.json", &id)).await;
    assert_eq!(cancel.status_code, 200, "{:?}", cancel.body);

    // A mode SSM cannot give (the parameter gone): writes refused, reads go on.
    client
        .delete_parameter()
        .name(&parameter)
        .send()
        .await
        .unwrap();
    let r = api.handle(fixture("post-order.json", "")).await;
    assert_eq!(r.status_code, 503, "{:?}", r.body);
    assert_eq!(body(&r)["error"], "cutover_mode_unavailable");
    assert_eq!(body(&r)["retryable"], true);
    assert!(r.headers.get("retry-after").is_some());
    let get = api.handle(fixture("get-order.json", &id)).await;
    assert_eq!(get.status_code, 200, "{:?}", get.body);
}

#[tokio::test]
async fn the_mode_is_cached_for_its_ttl() {
    let (client, parameter) = ssm().await;
    set(&client, &parameter, "shadow").await;
    let flag = CutoverFlag::ssm_with_ttl(client.clone(), &parameter, Duration::from_secs(3600));
    let api = api(stocked_store().await, Arc::new(MemoryQueue::new()), flag);
    assert_eq!(
        api.cutover().map(|f| f.parameter()),
        Some(parameter.as_str())
    );
    assert!(api.cutover().unwrap().is_shadow().await);
    set(&client, &parameter, "dynamo").await;
    // Within the TTL the instance still answers from the mode it read.
    assert_refused(&api.handle(fixture("post-order.json", "")).await, "shadow");
    let fresh = CutoverFlag::ssm_with_ttl(client, &parameter, Duration::ZERO);
    assert!(!fresh.is_shadow().await, "SSM itself holds dynamo now");
}

#[tokio::test]
async fn reads_are_offered_to_the_shadow_comparison_in_mode_shadow_only() {
    use order_aws::{MemoryShadowQueue, ShadowSampler};
    use order_domain::shadow::SampleRate;
    let (client, parameter) = ssm().await;
    let store = stocked_store().await;
    let order = order_domain::testing::migrated_order(4242);
    let put = Put {
        table: Table::OrderById,
        item: order_domain::codec::order_to_item(&order),
        condition: None,
    };
    store.put(put).await.unwrap();
    let flag = CutoverFlag::ssm_with_ttl(client.clone(), &parameter, Duration::ZERO);
    let sent = Arc::new(MemoryShadowQueue::new());
    let sampler = ShadowSampler::new(SampleRate::from_percent(100.0).unwrap(), sent.clone());
    let api = api(store, Arc::new(MemoryQueue::new()), flag).with_shadow(sampler);
    let id = order.order_id.to_string();
    let get = || api.handle(fixture("get-order.json", &id));
    // The send runs beside the answer: wait for it, bounded.
    let sent_after = |n: usize| {
        let sent = Arc::clone(&sent);
        async move {
            for _ in 0..200 {
                if sent.bodies().len() >= n {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            sent.bodies().len()
        }
    };

    for mode in ["legacy", "dynamo", "retired"] {
        set(&client, &parameter, mode).await;
        assert_eq!(get().await.status_code, 200, "reads work in {mode}");
    }
    set(&client, &parameter, "shadow").await;
    assert_eq!(get().await.status_code, 200);
    assert_eq!(sent_after(1).await, 1, "the shadow read is sent");
    let body: Value = serde_json::from_str(&sent.bodies()[0]).unwrap();
    assert_eq!(body["legacy_order_id"], 4242);
    // None of the reads in the other modes was sent.
    set(&client, &parameter, "dynamo").await;
    assert_eq!(get().await.status_code, 200);
    assert_eq!(sent_after(2).await, 1, "dynamo answers without sampling");
}

//! Customer profiles (`PUT`/`GET /customers/{customer_id}`) and the legacy
//! lookup (`GET /orders/legacy/{legacy_order_id}`) through the API's router,
//! on the in-memory store and on moto's DynamoDB (tables shaped by the
//! schema the stack builds them from). The moto test needs the emulator:
//! `scripts/with-moto.sh cargo test -p order-api --test customers`.

// Test helpers may unwrap too: a panic there is a failed assertion (as clippy.toml
// allows inside #[test] functions).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use order_api::Api;
use order_aws::{DynamoStore, MemoryQueue};
use order_domain::clock::{ManualClock, SequentialIds};
use order_domain::codec::order_to_item;
use order_domain::ids::{CountyId, CustomerId, Sku, StoreId};
use order_domain::money::Money;
use order_domain::order::{LegacyOwner, LegacyRecord, LineItem, Order, OrderStatus, StatusChange};
use order_domain::payment::SimulatedGateway;
use order_domain::rules::CountyRules;
use order_domain::schema::{customers, order_by_id};
use order_domain::store::{MemoryStore, Put, Store, Table, TableNames};
use serde_json::{Value, json};

fn rules() -> CountyRules {
    CountyRules::from_json(
        r#"{"county_id":"travis-tx","sales_enabled":true,"timezone":"America/Chicago","max_units_per_order":24,"max_line_items":5,"gsi_write_shards":4,"reservation_ttl_seconds":900,"idempotency_ttl_hours":24}"#,
    )
    .unwrap()
}

fn api<S: Store + Clone>(
    store: S,
) -> Api<S, Arc<MemoryQueue>, SimulatedGateway, Arc<ManualClock>, SequentialIds> {
    Api::new(
        store,
        Arc::new(MemoryQueue::new()),
        SimulatedGateway::new(),
        rules(),
        Arc::new(ManualClock::new("2026-03-09T15:04:05Z".parse().unwrap())),
        SequentialIds::new(),
    )
}

/// A real API Gateway event (the get-order fixture) for `method path`.
fn request(method: &str, path: &str, body: Option<&str>) -> ApiGatewayProxyRequest {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/get-order.json"),
    )
    .unwrap();
    let mut req: ApiGatewayProxyRequest = serde_json::from_str(&text).unwrap();
    req.http_method = method.parse().unwrap();
    req.path = Some(path.to_owned());
    req.request_context.path = Some(format!("/live{path}"));
    req.request_context.http_method = req.http_method.clone();
    req.body = body.map(str::to_owned);
    req
}

fn body(r: &ApiGatewayProxyResponse) -> Value {
    match &r.body {
        Some(Body::Text(s)) => serde_json::from_str(s).unwrap(),
        other => panic!("expected a text body, got {other:?}"),
    }
}

fn text(r: &ApiGatewayProxyResponse) -> &str {
    match &r.body {
        Some(Body::Text(s)) => s,
        _ => "",
    }
}

const PROFILE: &str = r#"{"email":"jane.doe@example.com","full_name":"Jane 'Robert'); DROP TABLE--' Doe","phone":"+1 (512) 555-0142","birth_date":"1990-02-28"}"#;

/// A migrated order, as the backfill writes it.
fn legacy_order(number: i64) -> Order {
    let t = "2024-06-18T17:00:00Z".parse().unwrap();
    Order {
        order_id: order_domain::legacy::order_id(number),
        customer_id: order_domain::legacy::customer_id(501),
        store_id: StoreId::parse("AUS-1").unwrap(),
        county_id: CountyId::parse("travis-tx").unwrap(),
        client_request_id: None,
        items: vec![LineItem {
            sku: Sku::parse("WINE-1").unwrap(),
            quantity: 2,
            unit_price_cents: Money::from_cents(1999).unwrap(),
        }],
        total_cents: Money::from_cents(3998).unwrap(),
        status: OrderStatus::Confirmed,
        created_at: t,
        updated_at: t,
        version: 1,
        failure_reason: None,
        hold_reason: None,
        payment_id: None,
        history: vec![StatusChange {
            status: OrderStatus::Confirmed,
            at: t,
        }],
        legacy: Some(LegacyRecord {
            number,
            status: "CONFIRMED".into(),
            owner: LegacyOwner::New,
            placed_at_local: "2024-06-18T12:00:00.000000".into(),
            updated_at: t,
            payment_ref: None,
        }),
    }
}

/// Every profile and legacy-lookup behaviour, on `store`.
async fn profiles_and_legacy_lookup<S: Store + Clone>(store: S) {
    let api = api(store.clone());
    let path = "/customers/cust-7";

    let r = api.handle(request("GET", path, None)).await;
    assert_eq!(r.status_code, 404, "{}", text(&r));

    let r = api.handle(request("PUT", path, Some(PROFILE))).await;
    assert_eq!(r.status_code, 201, "{}", text(&r));
    assert_eq!(
        r.headers.get("location").unwrap().to_str().unwrap(),
        "/customers/cust-7"
    );
    let shown = json!({
        "customer_id": "cust-7",
        "email": "j***@example.com",
        "full_name": "Jane 'Robert'); DROP TABLE--' Doe",
        "phone": "***0142",
        "birth_date": "1990-02-28",
        "created_at": "2026-03-09T15:04:05Z",
        "updated_at": "2026-03-09T15:04:05Z"
    });
    assert_eq!(body(&r), shown);
    // Idempotent: the same PUT again changes nothing.
    let r = api.handle(request("PUT", path, Some(PROFILE))).await;
    assert_eq!((r.status_code, body(&r)), (200, shown.clone()));
    let r = api.handle(request("GET", path, None)).await;
    assert_eq!((r.status_code, body(&r)), (200, shown));
    // Stored whole, on the customer's own key.
    let item = store
        .get(
            Table::Customers,
            order_domain::customer::customer_key(&CustomerId::parse("cust-7").unwrap()),
            true,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(item[customers::EMAIL].as_s(), Some("jane.doe@example.com"));
    assert_eq!(item[customers::PHONE].as_s(), Some("+1 (512) 555-0142"));

    // Pointed errors, every one, none quoting what was sent.
    let bad = r#"{"email":"jane.doe at example","full_name":"","phone":"555","birth_date":"1990-13-01","ssn":"1"}"#;
    let r = api.handle(request("PUT", path, Some(bad))).await;
    assert_eq!(r.status_code, 400, "{}", text(&r));
    let b = body(&r);
    let fields: Vec<&str> = b["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["body", "email", "full_name", "phone", "birth_date"]
    );
    for value in ["jane.doe at example", "1990-13-01"] {
        assert!(!text(&r).contains(value), "{value} echoed: {}", text(&r));
    }
    let r = api
        .handle(request("PUT", "/customers/bad%20id", Some(PROFILE)))
        .await;
    assert_eq!(r.status_code, 400, "{}", text(&r));
    assert_eq!(body(&r)["field"], "customer_id");
    let r = api.handle(request("DELETE", path, None)).await;
    assert_eq!(r.status_code, 405);
    assert_eq!(
        r.headers.get("allow").unwrap().to_str().unwrap(),
        "GET, PUT"
    );

    // A migrated order by its legacy number: the GET /orders/{id} body.
    let order = legacy_order(1011);
    store
        .put(Put {
            table: Table::OrderById,
            item: order_to_item(&order),
            condition: None,
        })
        .await
        .unwrap();
    let r = api
        .handle(request("GET", "/orders/legacy/1011", None))
        .await;
    assert_eq!(r.status_code, 200, "{}", text(&r));
    let by_id = api
        .handle(request("GET", &format!("/orders/{}", order.order_id), None))
        .await;
    assert_eq!(by_id.status_code, 200);
    assert_eq!(body(&r), body(&by_id));
    assert_eq!(body(&r)["legacy"]["number"], 1011);
    let r = api
        .handle(request("GET", "/orders/legacy/1012", None))
        .await;
    assert_eq!(r.status_code, 404);
    assert_eq!(
        body(&r)["reason"],
        "no migrated order has legacy number 1012"
    );
    for bad in ["abc", "+1011", "1e3", "9223372036854775808"] {
        let r = api
            .handle(request("GET", &format!("/orders/legacy/{bad}"), None))
            .await;
        assert_eq!(r.status_code, 400, "{bad}: {}", text(&r));
        assert_eq!(body(&r)["field"], "legacy_order_id", "{bad}");
    }
}

#[tokio::test]
async fn profiles_and_legacy_lookup_in_memory() {
    profiles_and_legacy_lookup(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn a_customer_the_authorizer_names_reaches_only_their_own_profile() {
    let api = api(Arc::new(MemoryStore::new()));
    let as_customer = |method: &str, path: &str, body: Option<&str>| {
        let mut req = request(method, path, body);
        req.request_context
            .authorizer
            .fields
            .insert("customer_id".into(), json!("cust-7"));
        req
    };
    let r = api
        .handle(as_customer("PUT", "/customers/cust-7", Some(PROFILE)))
        .await;
    assert_eq!(r.status_code, 201, "{}", text(&r));
    for (method, body) in [("PUT", Some(PROFILE)), ("GET", None)] {
        let r = api
            .handle(as_customer(method, "/customers/cust-8", body))
            .await;
        assert_eq!(r.status_code, 403, "{method}: {}", text(&r));
    }
    let r = api
        .handle(as_customer("GET", "/customers/cust-7", None))
        .await;
    assert_eq!(r.status_code, 200, "{}", text(&r));
}

/// A table keyed by one string attribute.
async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str, pk: &str) {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(pk)
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(pk)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateTable {name}: {e:?}"));
}

#[tokio::test]
async fn profiles_and_legacy_lookup_on_dynamodb() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| !v.is_empty()),
        "AWS_ENDPOINT_URL is not set: run with scripts/with-moto.sh"
    );
    let sdk = order_aws::load_sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let run = format!("{}-{nanos}", std::process::id());
    let name = |t: Table| format!("api-profiles-{}-{run}", t.logical().to_lowercase());
    // The two tables these routes touch; the others are never called.
    create_table(&client, &name(Table::Customers), customers::PK).await;
    create_table(&client, &name(Table::OrderById), order_by_id::PK).await;
    let tables = TableNames {
        orders: name(Table::Orders),
        order_by_id: name(Table::OrderById),
        inventory: name(Table::Inventory),
        idempotency: name(Table::Idempotency),
        customers: Some(name(Table::Customers)),
    };
    profiles_and_legacy_lookup(DynamoStore::new(client, tables)).await;
}

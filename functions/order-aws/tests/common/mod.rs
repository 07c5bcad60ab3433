//! Helpers for the adapter tests against moto (the local AWS API) over real
//! HTTP. Run them with `scripts/with-moto.sh cargo test -p order-aws`.
//!
//! Tables are created with the key schema and GSIs of the county stack
//! (read from `acme_stacks::county::build` for a sample county), under
//! unique names per test: one moto server is shared by every test.

// Test helpers may unwrap too: a panic there is a failed assertion (as clippy.toml
// allows inside #[test] functions).
#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

use std::path::Path;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use order_aws::DynamoStore;
use order_domain::codec::StockRecord;
use order_domain::ids::{Sku, StoreId};
use order_domain::money::Money;
use order_domain::store::{Store, Table, TableNames};
use serde_json::Value;

/// The SDK configuration for moto. Fails (never skips) without moto.
pub async fn sdk() -> aws_config::SdkConfig {
    if std::env::var("AWS_ENDPOINT_URL").map_or(true, |v| v.is_empty()) {
        panic!(
            "AWS_ENDPOINT_URL is not set: these tests need the local AWS emulator (moto). \
             Run them with `scripts/with-moto.sh cargo test -p order-aws`."
        );
    }
    order_aws::load_sdk_config().await
}

/// A name no other test (or run) uses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        ulid::Ulid::generate().to_string().to_lowercase()
    )
}

/// The county template the tables come from.
fn template() -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
    let envs = acme_stacks::config::Environments::open(&dir)
        .unwrap_or_else(|e| panic!("opening {}: {e:?}", dir.display()));
    let cfg = envs.load("travis-tx").expect("loading travis-tx");
    acme_stacks::county::build(&cfg)
        .expect("building the travis-tx template")
        .to_value()
}

fn s(v: &Value, what: &str) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a literal string: {v}"))
        .to_owned()
}

fn key_schema(v: &Value) -> Vec<KeySchemaElement> {
    v.as_array()
        .expect("KeySchema")
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(s(&k["AttributeName"], "AttributeName"))
                .key_type(KeyType::from(s(&k["KeyType"], "KeyType").as_str()))
                .build()
                .expect("key schema element")
        })
        .collect()
}

/// Creates the county's tables (the four order tables, then Customers) as the
/// stack defines them (on-demand billing whatever the county's capacity mode:
/// moto does not meter).
pub async fn create_tables(client: &aws_sdk_dynamodb::Client, prefix: &str) -> TableNames {
    let template = template();
    let resources = template["Resources"].as_object().expect("Resources");
    let mut names = Vec::new();
    for table in Table::ALL {
        let id = format!("{}Table", table.logical());
        let props = &resources
            .get(&id)
            .unwrap_or_else(|| panic!("the template has no {id}"))["Properties"];
        let name = unique(&format!("{prefix}-{}", table.logical().to_lowercase()));
        let mut req = client
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema(&props["KeySchema"])));
        for a in props["AttributeDefinitions"].as_array().expect("attrs") {
            req = req.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(s(&a["AttributeName"], "AttributeName"))
                    .attribute_type(ScalarAttributeType::from(
                        s(&a["AttributeType"], "AttributeType").as_str(),
                    ))
                    .build()
                    .expect("attribute definition"),
            );
        }
        for g in props["GlobalSecondaryIndexes"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let p = &g["Projection"];
            let projection = Projection::builder()
                .projection_type(ProjectionType::from(
                    s(&p["ProjectionType"], "ProjectionType").as_str(),
                ))
                .set_non_key_attributes(
                    p["NonKeyAttributes"]
                        .as_array()
                        .map(|a| a.iter().map(|v| s(v, "NonKeyAttributes")).collect()),
                )
                .build();
            req = req.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(s(&g["IndexName"], "IndexName"))
                    .set_key_schema(Some(key_schema(&g["KeySchema"])))
                    .projection(projection)
                    .build()
                    .expect("gsi"),
            );
        }
        if props.get("StreamSpecification").is_some() {
            req = req.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .expect("stream spec"),
            );
        }
        req.send().await.unwrap_or_else(|e| {
            panic!(
                "CreateTable {name}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        });
        names.push(name);
    }
    let mut names = names.into_iter();
    let mut next = || names.next().expect("one name per table");
    // Same order as Table::ALL.
    TableNames {
        orders: next(),
        order_by_id: next(),
        inventory: next(),
        idempotency: next(),
        customers: Some(next()),
    }
}

/// A store over fresh tables.
pub async fn store(prefix: &str) -> DynamoStore {
    let sdk = sdk().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let tables = create_tables(&client, prefix).await;
    DynamoStore::new(client, tables)
}

/// Writes `available` units of `sku` at `store_id`, at $19.99 each.
pub async fn stock(store: &impl Store, store_id: &str, sku: &str, available: i64) -> StockRecord {
    let stock = StockRecord {
        store_id: StoreId::parse(store_id).unwrap(),
        sku: Sku::parse(sku).unwrap(),
        available,
        price_cents: Money::from_cents(1999).unwrap(),
    };
    order_domain::testing::seed_stock(store, &stock)
        .await
        .unwrap();
    stock
}

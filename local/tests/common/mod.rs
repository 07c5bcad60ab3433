//! Shared set-up for the integration tests: a local county on the moto server
//! `scripts/with-moto.sh` starts, an HTTP client, and bounded waits.

#![allow(dead_code)]

pub mod publisher;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use acme_local::auth::BearerToken;
use acme_local::emulator::Emulator;
use acme_local::runner::{LocalCounty, RunOptions};
use order_domain::codec::StockRecord;
use order_domain::ids::{OrderId, Sku, StoreId};
use order_domain::money::Money;
use order_domain::order::{Order, OrderStatus};
use order_domain::payment::SimulatedGateway;
use order_domain::store::{Item, Query, Store, Table};
use serde_json::Value;

/// Wednesday 13:00 in Austin: inside Travis County's sale hours.
pub const OPEN: &str = "2026-05-06T18:00:00Z";
/// Sunday 03:00 in Austin: closed.
pub const CLOSED: &str = "2026-05-10T08:00:00Z";

/// The emulator endpoint. Fails (never skips) when the suite was not started
/// through `scripts/with-moto.sh`.
pub fn endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => panic!(
            "AWS_ENDPOINT_URL is not set: these tests need the moto server. \
             Run them as `scripts/with-moto.sh cargo test -p acme-local`."
        ),
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

pub struct Harness {
    pub county: LocalCounty,
    pub http: reqwest::Client,
    pub token: String,
}

pub struct Setup {
    pub county: &'static str,
    pub sale_clock: &'static str,
    pub gateway: Option<Arc<SimulatedGateway>>,
    pub visibility_timeout: u32,
    /// travis-tx is migrating: these tests take orders, so its flag (the
    /// run's own) starts in `dynamo`, as a cut-over county's.
    pub cutover_mode: Option<acme_contract::migration::CutoverMode>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            county: "travis-tx",
            sale_clock: OPEN,
            gateway: None,
            visibility_timeout: 10,
            cutover_mode: Some(acme_contract::migration::CutoverMode::Dynamo),
        }
    }
}

pub async fn start() -> Harness {
    start_with(Setup::default()).await
}

pub async fn start_with(s: Setup) -> Harness {
    start_with_publisher(s, acme_local::handlers::publisher).await
}

/// A county whose stream poller invokes the function `publisher` builds from
/// the functions' adapters.
pub async fn start_with_publisher<F, B>(s: Setup, publisher: B) -> Harness
where
    F: acme_local::functions::StreamFunction,
    B: FnOnce(&order_aws::Adapters) -> F,
{
    let url = endpoint();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
    let token = BearerToken::generate().expect("random token");
    let mut o = RunOptions::new(s.county, token.clone());
    o.environments = repo_root().join("environments");
    o.port = 0;
    o.sale_clock = Some(s.sale_clock.parse().expect("sale clock"));
    o.visibility_timeout = Some(s.visibility_timeout);
    o.state_file = None;
    o.gateway = s.gateway;
    o.cutover_mode = s.cutover_mode;
    let county = LocalCounty::start_with_publisher(o, Emulator::external(url), publisher)
        .await
        .expect("local county starts");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client");
    Harness {
        county,
        http,
        token: token.expose().to_owned(),
    }
}

/// A response: status and JSON body (`Null` if not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.county.api_url())
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<String>) -> Answer {
        let mut r = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.header("content-type", "application/json").body(b);
        }
        let resp = r.send().await.expect("request reaches the local API");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// Posts an order, after giving its customer (if the body names a
    /// usable one) an adult profile through `PUT /customers/{id}`: the API
    /// refuses orders from customers without one. The PUT is idempotent.
    pub async fn post_order(&self, body: &Value) -> Answer {
        if let Some(c) = body["customer_id"].as_str() {
            self.adult(c).await;
        }
        self.send(reqwest::Method::POST, "/orders", Some(body.to_string()))
            .await
    }

    /// Gives `customer` a profile of someone born in 1990 (no-op for ids
    /// the API would refuse: the order's own validation reports those).
    pub async fn adult(&self, customer: &str) {
        let profile = serde_json::json!({
            "email": format!("{customer}@example.com"),
            "full_name": "Test Customer",
            "birth_date": "1990-02-28",
        });
        self.send(
            reqwest::Method::PUT,
            &format!("/customers/{customer}"),
            Some(profile.to_string()),
        )
        .await;
    }

    pub fn store(&self) -> order_aws::emulator::IsolatedStore<order_aws::DynamoStore> {
        self.county.store().expect("store")
    }

    pub async fn stock(&self, store: &str, sku: &str, qty: i64, price_cents: u64) {
        let rec = StockRecord {
            store_id: StoreId::parse(store).expect("store id"),
            sku: Sku::parse(sku).expect("sku"),
            available: qty,
            price_cents: Money::from_cents(price_cents).expect("price"),
        };
        acme_local::inventory::write_stock(&self.store(), &[rec])
            .await
            .expect("stock written");
    }

    pub async fn order(&self, id: &OrderId) -> Option<Order> {
        self.store()
            .get(Table::OrderById, order_domain::codec::order_key(id), true)
            .await
            .expect("GetItem")
            .map(|i| order_domain::codec::order_from_item(&i).expect("order decodes"))
    }

    /// Every item of a store's Inventory partition.
    pub async fn inventory_items(&self, store: &str) -> Vec<Item> {
        let mut q = Query::table(Table::Inventory, store);
        q.consistent = true;
        self.store().query(q).await.expect("Query").items
    }

    /// Number of items in a table (Scan, for "nothing was written").
    pub async fn count(&self, logical: &str) -> usize {
        let name = self.county.resources.table(logical).expect("table");
        aws_sdk_dynamodb::Client::new(&self.county.sdk)
            .scan()
            .table_name(name)
            .send()
            .await
            .expect("Scan")
            .count as usize
    }

    /// Waits until every order is CONFIRMED, FAILED or CANCELLED.
    pub async fn wait_final(&self, ids: &[OrderId], timeout: Duration) -> Vec<Order> {
        wait_for(
            &format!("{} orders to reach a final status", ids.len()),
            timeout,
            || async {
                let mut out = Vec::new();
                for id in ids {
                    match self.order(id).await {
                        Some(o)
                            if matches!(
                                o.status,
                                OrderStatus::Confirmed
                                    | OrderStatus::Failed
                                    | OrderStatus::Cancelled
                            ) =>
                        {
                            out.push(o)
                        }
                        _ => return None,
                    }
                }
                Some(out)
            },
        )
        .await
    }

    pub async fn stop(self) {
        self.county.stop().await;
    }
}

/// Polls `check` until it returns `Some`, at most `timeout`; panics naming
/// what was awaited.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn order_body(request: &str, customer: &str, store: &str, sku: &str, qty: u32) -> Value {
    serde_json::json!({
        "client_request_id": request,
        "customer_id": customer,
        "store_id": store,
        "items": [{"sku": sku, "quantity": qty}],
    })
}

pub fn order_id(a: &Answer) -> OrderId {
    a.body["order_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("answer has no order_id: {a:?}"))
}

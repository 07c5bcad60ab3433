//! Profile requests log no PII, whatever the outcome: every log line the API
//! writes for them (as the Lambda's JSON logs hold it) is searched for the
//! e-mail, name, phone and birth date sent. A test binary of its own, with a
//! global subscriber: `tracing` caches which call sites are enabled
//! process-wide, so a per-thread subscriber beside other tests' threads can
//! miss lines.

// Test helpers may unwrap too: a panic there is a failed assertion (as clippy.toml
// allows inside #[test] functions).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use order_api::Api;
use order_aws::MemoryQueue;
use order_domain::clock::{ManualClock, SequentialIds};
use order_domain::payment::SimulatedGateway;
use order_domain::rules::CountyRules;
use order_domain::store::MemoryStore;

const PROFILE: &str = r#"{"email":"jane.doe@example.com","full_name":"Jane 'Robert'); DROP TABLE--' Doe","phone":"+1 (512) 555-0142","birth_date":"1990-02-28"}"#;

fn rules() -> CountyRules {
    CountyRules::from_json(
        r#"{"county_id":"travis-tx","sales_enabled":true,"timezone":"America/Chicago","max_units_per_order":24,"max_line_items":5,"gsi_write_shards":4,"reservation_ttl_seconds":900,"idempotency_ttl_hours":24}"#,
    )
    .unwrap()
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

/// Everything the API logs, as the Lambda's JSON log lines would hold it.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn profile_requests_log_no_pii_whatever_the_outcome() {
    use order_domain::store::{Fault, FaultOp, StoreError};

    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let store = Arc::new(MemoryStore::new());
    let api = Api::new(
        Arc::clone(&store),
        Arc::new(MemoryQueue::new()),
        SimulatedGateway::new(),
        rules(),
        Arc::new(ManualClock::new("2026-03-09T15:04:05Z".parse().unwrap())),
        SequentialIds::new(),
    );
    let path = "/customers/cust-7";
    let bad = r#"{"email":"jane.doe@example","full_name":"Jane 'Robert'); DROP TABLE--' Doe","phone":"+1 (512) 555-0142","birth_date":"1990-02-30"}"#;
    let mut statuses = Vec::new();
    for (method, body) in [
        ("PUT", Some(PROFILE)),
        ("GET", None),
        ("PUT", Some(bad)),
        ("PUT", Some("{\"email\": jane.doe@example.com")),
    ] {
        statuses.push(api.handle(request(method, path, body)).await.status_code);
    }
    // A store failure: the error path logs the answer it sends.
    store.inject(Fault {
        op: FaultOp::Get,
        skip: 0,
        error: StoreError::Validation("boom".into()),
    });
    statuses.push(
        api.handle(request("PUT", path, Some(PROFILE)))
            .await
            .status_code,
    );
    assert_eq!(statuses, [201, 200, 400, 400, 500]);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(logs.lines().count(), 5, "one line a request:\n{logs}");
    assert!(logs.contains("request failed"), "{logs}");
    for pii in ["jane.doe", "Jane", "Robert", "555-0142", "0142", "1990-02"] {
        assert!(!logs.contains(pii), "{pii:?} logged:\n{logs}");
    }
}

//! Set-up shared by the binary's tests against moto: the county's tables,
//! published as a running `acme-infra local` publishes them (the migration
//! tests), and credentials of a role in an account of a run's own (the
//! deploy and doctor tests).

// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use acme_local::provision::{Clients, new_run_id, provision};
use acme_local::stack::CountyStack;
use acme_local::state::{LocalState, RunnerLock, state_path};

pub fn env_var(name: &str, script: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run through {script} (make test does)"))
}

/// travis-tx's tables on moto, in a local-runner state file under
/// `state_dir`, with the runner's lock held for the test's life (without it
/// the commands refuse the tables as a stopped runner's). Returns the client
/// and the OrderById table's name.
pub async fn county_tables(state_dir: &Path) -> (aws_sdk_dynamodb::Client, String) {
    let endpoint = env_var("AWS_ENDPOINT_URL", "scripts/with-moto.sh");
    let sdk = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let stack = CountyStack::load(Path::new("environments"), "travis-tx").expect("sample county");
    let resources = provision(
        &stack,
        &new_run_id(),
        Clients {
            dynamodb: &dynamodb,
            sqs: &aws_sdk_sqs::Client::new(&sdk),
            eventbridge: &aws_sdk_eventbridge::Client::new(&sdk),
            sns: &aws_sdk_sns::Client::new(&sdk),
        },
    )
    .await
    .expect("provision");
    let table = resources.table_names().expect("tables").order_by_id;
    let state = state_path(state_dir, "travis-tx");
    LocalState {
        endpoint,
        api_url: "http://127.0.0.1:9".into(),
        pid: std::process::id(),
        resources,
    }
    .write(&state)
    .expect("state file");
    std::mem::forget(RunnerLock::acquire(&state, "travis-tx").expect("lock"));
    (dynamodb, table)
}

/// Waits for `cond` until `deadline`, checking every 20 ms.
pub async fn until<F, Fut>(what: &str, deadline: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The sample county's region, where the assumed roles' sessions are.
const REGION: &str = "us-east-2";

/// Credentials of a role in an account, as a CI pipeline would assume one.
pub struct Creds {
    pub key: String,
    pub secret: String,
    pub token: String,
}

/// Assumes the deploy role of `account` on moto.
pub async fn assume_role(account: &str) -> Creds {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .load()
        .await;
    let out = aws_sdk_sts::Client::new(&conf)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/acme-deploy"))
        .role_session_name("ci")
        .send()
        .await
        .expect("AssumeRole");
    let c = out.credentials().expect("credentials");
    Creds {
        key: c.access_key_id().to_owned(),
        secret: c.secret_access_key().to_owned(),
        token: c.session_token().to_owned(),
    }
}

/// A 12-digit account id of this run's own (tests of one binary running at
/// once pass different `salt`s), so runs never see each other's stacks on
/// a shared emulator.
pub fn fresh_account(salt: u128) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!("8{:011}", (nanos + salt) % 100_000_000_000)
}

/// One HTTP/1.1 request to a local runner's API with bearer `token`;
/// `(status, JSON body)`.
pub fn http(
    api: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let addr = api.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the API");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let body = body.map(serde_json::Value::to_string).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read the answer");
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(serde_json::Value::Null);
    (status, json)
}

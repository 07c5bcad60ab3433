//! README's new-county recipe, end to end against the local AWS emulator, as a platform
//! team's CI would run it: `county add` in a repository of county files, `pipeline init
//! --ci shell`, then the rendered `scripts/provision-county.sh deploy` for the county the
//! last commit added (validate, synth, bootstrap, deploy from the assembly, stock, smoke),
//! again with nothing changed, and the county's first confirmed order on `acme-infra local`.
//!
//! moto runs no Lambda behind API Gateway, so the script's smoke step there proves the
//! stack's outputs and the REST API, not an order through the deployed API: the confirmed
//! order comes from the local runner (the same handler code) on the same emulator.
//!
//! `scripts/with-moto.sh cargo test -p acme-infra --test pipeline_shell`

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use acme_local::state::{LocalState, state_path};
use serde_json::Value;

const COUNTY: &str = "harris-tx";
const REGION: &str = "us-east-2";
const TOKEN: &str = "pipeline-test-token";
/// Inside Harris County's sale hours (a Wednesday, 13:00 in Houston).
const OPEN: &str = "2026-05-06T18:00:00Z";
const DEADLINE: Duration = Duration::from_secs(120);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL: run under scripts/with-moto.sh (make test does)")
}

fn said(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Credentials of a role in a fresh account (runs never see each other's stacks).
struct Creds {
    account: String,
    vars: Vec<(&'static str, String)>,
}

async fn assume_role() -> Creds {
    let account = common::fresh_account(0);
    let c = common::assume_role(&account).await;
    Creds {
        account,
        vars: vec![
            ("AWS_ACCESS_KEY_ID", c.key),
            ("AWS_SECRET_ACCESS_KEY", c.secret),
            ("AWS_SESSION_TOKEN", c.token),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("AWS_ENDPOINT_URL", endpoint()),
        ],
    }
}

/// A command in the project `dir`, as the CI job runs it: the assumed role's credentials,
/// and this build's `acme-infra` first on PATH.
fn in_project(program: &str, dir: &Path, creds: &Creds) -> Command {
    let bin = Path::new(env!("CARGO_BIN_EXE_acme-infra"))
        .parent()
        .expect("bin dir")
        .to_owned();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin];
    paths.extend(std::env::split_paths(&path));
    let mut c = Command::new(program);
    c.current_dir(dir)
        .env("PATH", std::env::join_paths(paths).expect("PATH"))
        .env_remove("AWS_PROFILE")
        .env_remove("ACME_ENVIRONMENTS")
        .env_remove("ACME_INFRA")
        .env("ACME_LOCAL_STATE_DIR", dir.join(".local-state"))
        .env("ACME_LOCAL_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .envs(creds.vars.iter().map(|(k, v)| (k, v)));
    c
}

fn ok(mut c: Command) -> String {
    let o = c.output().expect("runs");
    assert!(o.status.success(), "{c:?}\n{}", said(&o));
    said(&o)
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .args(["-c", "user.name=ci", "-c", "user.email=ci@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(o.status.success(), "git {args:?}: {}", said(&o));
}

/// A valid empty zip per function (the emulator stores code, never runs it).
fn prebuilt_zips(dir: &Path) {
    let zips = dir.join("zips");
    std::fs::create_dir_all(&zips).expect("mkdir");
    for f in acme_stacks::county::functions::FUNCTION_CRATES {
        let mut bytes = b"PK\x05\x06".to_vec();
        bytes.extend_from_slice(&[0u8; 16]);
        bytes.extend_from_slice(&u16::try_from(f.len()).expect("short").to_le_bytes());
        bytes.extend_from_slice(f.as_bytes());
        std::fs::write(zips.join(format!("{f}.zip")), bytes).expect("write zip");
    }
}

/// The platform team's repository: defaults committed, then `county add` and `pipeline
/// init --ci shell` in a second commit, with the county's opening stock.
fn platform_repo(creds: &Creds) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir_all(d.join("environments")).expect("mkdir");
    std::fs::copy(
        root().join("environments/defaults.yaml"),
        d.join("environments/defaults.yaml"),
    )
    .expect("copy defaults");
    std::fs::write(
        d.join(".gitignore"),
        "cdk.out/\noutputs.json\nzips/\n.local-state/\n",
    )
    .expect("gitignore");
    git(d, &["init", "-q", "-b", "main"]);
    git(d, &["add", "-A"]);
    git(d, &["commit", "-qm", "defaults"]);
    let mut add = in_project("acme-infra", d, creds);
    add.args([
        "county",
        "add",
        COUNTY,
        "--name",
        "Harris County",
        "--state",
        "TX",
    ])
    .args(["--account", &creds.account, "--region", REGION]);
    ok(add);
    // README's recipe: choose the payment provider (the simulator: no money moves).
    let file = d.join(format!("environments/{COUNTY}.yaml"));
    let mut body = std::fs::read_to_string(&file).expect("county file");
    body.push_str("payment: { provider: simulator }\n");
    std::fs::write(&file, body).expect("county file");
    let mut init = in_project("acme-infra", d, creds);
    init.args(["pipeline", "init", "--ci", "shell"]);
    ok(init);
    std::fs::create_dir_all(d.join("stock")).expect("mkdir");
    std::fs::write(
        d.join(format!("stock/{COUNTY}.csv")),
        "store_id,sku,quantity,price_cents\nstore-001,SKU-1,10,1999\n",
    )
    .expect("stock");
    git(d, &["add", "-A"]);
    git(d, &["commit", "-qm", "harris-tx"]);
    prebuilt_zips(d);
    dir
}

fn provision(d: &Path, creds: &Creds, args: &[&str]) -> String {
    let mut c = in_project("scripts/provision-county.sh", d, creds);
    c.args(args).env("ACME_ASSETS_DIR", "zips");
    ok(c)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_county_added_and_merged_is_provisioned_by_the_shell_pipeline_and_confirms_an_order() {
    let creds = assume_role().await;
    let repo = platform_repo(&creds);
    let d = repo.path();

    let mut changed = in_project("scripts/provision-county.sh", d, &creds);
    changed.args(["changed", "HEAD~1"]);
    let out = ok(changed);
    assert!(out.contains(&format!("--- stdout\n{COUNTY}\n\n")), "{out}");

    let first = provision(d, &creds, &["deploy", "HEAD~1"]);
    for want in [
        "county file(s) in environments are valid",
        "wrote 1 stack(s) and cdk.out/manifest.json",
        "acme-bootstrap: ready: assets bucket",
        "pass  bootstrap",
        " 0 fail, ",
        &format!("acme-{COUNTY}: created"),
        "loaded 1 stock records",
        &format!("smoke: {COUNTY}: REST API"),
    ] {
        assert!(first.contains(want), "`{want}` in:\n{first}");
    }
    let outputs: Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("outputs.json")).expect("outputs.json"),
    )
    .expect("json");
    assert!(outputs[COUNTY]["OrdersTableName"].is_string(), "{outputs}");
    let mut show = in_project("acme-infra", d, &creds);
    show.args([
        "inventory",
        "show",
        "--county",
        COUNTY,
        "--store",
        "store-001",
    ])
    .args(["--target", "aws", "--json"]);
    let shown = ok(show);
    assert!(shown.contains("\"SKU-1\""), "{shown}");

    // The county again, named as README's recipe names it (a retried job): nothing to
    // deploy, the stock reloaded harmlessly.
    let again = provision(d, &creds, &["deploy", "--county", COUNTY]);
    assert!(
        again.contains("no changes") || again.contains("unchanged"),
        "{again}"
    );
    assert!(!again.contains("CREATE_IN_PROGRESS"), "{again}");
    // A commit that touches no county file deploys nothing.
    let none = provision(d, &creds, &["deploy", "HEAD"]);
    assert!(none.contains("no county changed"), "{none}");

    first_confirmed_order(d, &creds);
}

/// README's last step on the emulator: the county on `acme-infra local`, stock, one order
/// confirmed by the worker.
fn first_confirmed_order(d: &Path, creds: &Creds) {
    let log = d.join("local.log");
    let mut local = in_project("acme-infra", d, creds);
    local
        .args([
            "local",
            "--county",
            COUNTY,
            "--port",
            "0",
            "--sale-clock",
            OPEN,
        ])
        .args(["--visibility-timeout", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"));
    let mut runner = Runner(local.spawn().expect("acme-infra local starts"));
    let state = state_path(&d.join(".local-state"), COUNTY);
    let pid = runner.0.id();
    let api = wait_for("the local runner's state file", || {
        if let Ok(Some(s)) = runner.0.try_wait() {
            panic!(
                "local exited with {s}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        LocalState::read(&state)
            .ok()
            .flatten()
            .filter(|s| s.pid == pid)
            .map(|s| s.api_url)
    });
    let mut stock = in_project("acme-infra", d, creds);
    stock
        .args(["inventory", "load", "--county", COUNTY, "--target", "local"])
        .arg(format!("stock/{COUNTY}.csv"));
    ok(stock);
    // The customer's profile first: the API takes orders only from an adult with one.
    let profile = serde_json::json!({
        "email": "c1@example.com", "full_name": "C One", "birth_date": "1980-01-01",
    });
    let (status, body) = http(&api, "PUT", "/customers/cust-1", Some(&profile));
    assert_eq!(status, 201, "{body}");
    let order = serde_json::json!({
        "client_request_id": "first-order",
        "customer_id": "cust-1",
        "store_id": "store-001",
        "items": [{"sku": "SKU-1", "quantity": 1}],
    });
    let (status, body) = http(&api, "POST", "/orders", Some(&order));
    assert_eq!(status, 202, "{body}");
    let id = body["order_id"].as_str().expect("order_id").to_owned();
    wait_for("the first order to be confirmed", || {
        let (status, body) = http(&api, "GET", &format!("/orders/{id}"), None);
        (status == 200 && body["status"] == "CONFIRMED").then_some(())
    });
}

struct Runner(Child);

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One request to the local runner's API with this test's token.
fn http(api: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    common::http(api, TOKEN, method, path, body)
}

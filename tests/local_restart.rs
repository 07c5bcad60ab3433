//! `acme-infra local` stopped and started again, through the binary, on the
//! moto that `scripts/with-moto.sh` runs (an emulator that outlives the
//! runner, as a developer's would): what was accepted before a `kill -9` or
//! a SIGTERM is processed after the restart, exactly once; a start on a taken
//! port creates nothing; commands refuse a dead runner's tables.
//!
//! `scripts/with-moto.sh cargo test -p acme-infra --test local_restart`

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use acme_local::state::{LocalState, runner_alive, state_path};
use serde_json::Value;

const TOKEN: &str = "restart-test-token";
/// Inside Travis County's sale hours (a Wednesday, 13:00 in Austin).
const OPEN: &str = "2026-05-06T18:00:00Z";
const DEADLINE: Duration = Duration::from_secs(120);
const QTY: i64 = 2;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL: run under scripts/with-moto.sh (see the module doc)")
}

fn acme(state_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_acme-infra"));
    c.current_dir(root())
        .env("ACME_LOCAL_STATE_DIR", state_dir)
        .env("ACME_LOCAL_TOKEN", TOKEN)
        .env_remove("ACME_ENVIRONMENTS")
        .env_remove("RUST_LOG");
    c
}

/// Waits for `what` until the deadline, polling; panics with `what` if it
/// never holds.
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

/// A runner started by the test; its stderr goes to a file read on failure.
struct Runner {
    child: Child,
    log: PathBuf,
    api: String,
}

impl Runner {
    /// `acme-infra local --county C --port 0 ...`, once it has published its
    /// state file (the resources exist and the API listens).
    fn start(state_dir: &Path, county: &str, extra: &[&str]) -> Self {
        let log = unique(state_dir.join("runner.log"));
        let child = acme(state_dir)
            .args([
                "local",
                "--county",
                county,
                "--port",
                "0",
                "--sale-clock",
                OPEN,
            ])
            .args(["--visibility-timeout", "2"])
            .args(extra)
            .env("AWS_ENDPOINT_URL", endpoint())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("acme-infra local starts");
        let pid = child.id();
        let path = state_path(state_dir, county);
        let mut me = Self {
            child,
            log,
            api: String::new(),
        };
        me.api = wait_for("the runner's state file", || {
            if let Ok(Some(status)) = me.child.try_wait() {
                panic!("the runner exited with {status}: {}", me.stderr());
            }
            LocalState::read(&path)
                .ok()
                .flatten()
                .filter(|s| s.pid == pid)
                .map(|s| s.api_url)
        });
        me
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    fn sigterm(mut self) -> (ExitStatus, String) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(ok.success());
        let status = wait_for("the runner to exit after SIGTERM", || {
            self.child.try_wait().expect("try_wait")
        });
        (status, self.stderr())
    }
}

/// `p`, or `p` with a number, so each runner of a test keeps its log.
fn unique(p: PathBuf) -> PathBuf {
    (0..)
        .map(|i| p.with_extension(format!("{i}.log")))
        .find(|q| !q.exists())
        .expect("a free name")
}

impl Drop for Runner {
    /// A failing test leaves no runner behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Accepts `n` orders of `QTY` units of SKU-R at store `store`; their ids.
fn place(api: &str, tag: &str, store: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            // The API takes orders only from customers with a profile.
            let profile = serde_json::json!({
                "email": "restart@example.com",
                "full_name": "Restart Test",
                "birth_date": "1990-02-28",
            });
            let (status, body) = http(
                api,
                "PUT",
                &format!("/customers/cust-{tag}-{i}"),
                Some(&profile),
            );
            assert!(matches!(status, 200 | 201), "{body}");
            let order = serde_json::json!({
                "client_request_id": format!("{tag}-{i}"),
                "customer_id": format!("cust-{tag}-{i}"),
                "store_id": store,
                "items": [{"sku": "SKU-R", "quantity": QTY}],
            });
            let (status, body) = http(api, "POST", "/orders", Some(&order));
            assert_eq!(status, 202, "{body}");
            body["order_id"].as_str().expect("order_id").to_owned()
        })
        .collect()
}

/// Waits until every order in `ids` is CONFIRMED.
fn wait_confirmed(api: &str, ids: &[String]) {
    wait_for("every accepted order to be confirmed", || {
        ids.iter()
            .all(|id| {
                let (status, body) = http(api, "GET", &format!("/orders/{id}"), None);
                status == 200 && body["status"] == "CONFIRMED"
            })
            .then_some(())
    });
}

/// Runs `c` to its end, within the deadline (a runner that should have
/// refused to start would otherwise serve forever).
fn run(mut c: Command) -> Output {
    let out = tempfile::NamedTempFile::new().expect("stdout file");
    let err = tempfile::NamedTempFile::new().expect("stderr file");
    let mut child = c
        .env("AWS_ENDPOINT_URL", endpoint())
        .stdin(Stdio::null())
        .stdout(out.reopen().expect("stdout"))
        .stderr(err.reopen().expect("stderr"))
        .spawn()
        .expect("acme-infra runs");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "still running after {DEADLINE:?}: {}",
                std::fs::read_to_string(err.path()).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: std::fs::read(out.path()).expect("stdout"),
        stderr: std::fs::read(err.path()).expect("stderr"),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `inventory load` of 1000 units of SKU-R at `store`.
fn stock(state_dir: &Path, county: &str, store: &str) -> Output {
    let csv = state_dir.join(format!("stock-{store}.csv"));
    std::fs::write(
        &csv,
        format!("store_id,sku,quantity,price_cents\n{store},SKU-R,1000,450\n"),
    )
    .expect("csv");
    let mut c = acme(state_dir);
    c.args(["inventory", "load", "--county", county]).arg(&csv);
    run(c)
}

/// Units of SKU-R `(sold, reserved)` at `store`, from `inventory show`.
fn sold_reserved(state_dir: &Path, county: &str, store: &str) -> (i64, i64) {
    let mut c = acme(state_dir);
    c.args([
        "inventory",
        "show",
        "--county",
        county,
        "--store",
        store,
        "--json",
    ]);
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let line = &lines[0];
    (
        line["sold"].as_i64().expect("sold"),
        line["reserved"].as_i64().expect("reserved"),
    )
}

/// travis-tx is migrating: it takes orders once cut over (the flag is
/// created in `legacy`, as its stack creates it).
const CUT_OVER: &[&str] = &["--cutover-mode", "dynamo"];

#[test]
fn orders_accepted_before_kill_9_or_sigterm_are_processed_once_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (county, store) = ("travis-tx", "s-restart");
    let state = state_path(dir.path(), county);

    let a = Runner::start(dir.path(), county, CUT_OVER);
    let out = stock(dir.path(), county, store);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first = place(&a.api, "kill", store, 15);
    a.kill_9();

    // The dead runner's tables: nobody would process what is written there.
    assert!(!runner_alive(&state).expect("lock"));
    let refused = stock(dir.path(), county, store);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&state.display().to_string()), "{stderr}");
    assert!(stderr.contains("is not running"), "{stderr}");
    assert!(
        stderr.contains("acme-infra local --county travis-tx"),
        "{stderr}"
    );

    let b = Runner::start(dir.path(), county, CUT_OVER);
    assert!(b.stderr().contains("resuming"), "{}", b.stderr());
    wait_confirmed(&b.api, &first);
    let second = place(&b.api, "term", store, 10);
    let (status, stderr) = b.sigterm();
    assert_eq!(status.code(), Some(0), "SIGTERM stops cleanly: {stderr}");
    assert!(stderr.contains("local county stopped"), "{stderr}");
    assert!(state.is_file(), "the state file stays for the next start");

    let c = Runner::start(dir.path(), county, CUT_OVER);
    assert!(c.stderr().contains("resuming"), "{}", c.stderr());
    wait_confirmed(&c.api, &second);
    // Exactly once: each order took its units once, and nothing stays held.
    assert_eq!(
        sold_reserved(dir.path(), county, store),
        (25 * QTY, 0),
        "sold, reserved"
    );
    let (status, _) = c.sigterm();
    assert_eq!(status.code(), Some(0));

    // --fresh: new tables, so the earlier orders are not there.
    let d = Runner::start(dir.path(), county, &["--fresh", CUT_OVER[0], CUT_OVER[1]]);
    let err = d.stderr();
    assert!(
        err.contains("--fresh") && err.contains("new tables"),
        "{err}"
    );
    let (status, _) = http(&d.api, "GET", &format!("/orders/{}", first[0]), None);
    assert_eq!(status, 404);
    d.sigterm();
    // A runner with a state file keeps the county's own cutover flag; the
    // other tests of the sample county on this emulator expect none.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        aws_sdk_ssm::Client::new(&aws_config::load_from_env().await)
            .delete_parameter()
            .name(acme_contract::migration::mode_parameter(county))
            .send()
            .await
            .expect("DeleteParameter");
    });
}

fn county_tables(prefix: &str) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let sdk = aws_config::load_from_env().await;
        let client = aws_sdk_dynamodb::Client::new(&sdk);
        let mut names = Vec::new();
        let mut start = None;
        loop {
            let out = client
                .list_tables()
                .set_exclusive_start_table_name(start)
                .send()
                .await
                .expect("ListTables");
            names.extend(
                out.table_names()
                    .iter()
                    .filter(|n| n.starts_with(prefix))
                    .cloned(),
            );
            start = out.last_evaluated_table_name().map(str::to_owned);
            if start.is_none() {
                return names;
            }
        }
    })
}

#[test]
fn a_start_on_a_taken_port_says_so_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let before = county_tables("king-wa-");
    let mut c = acme(dir.path());
    c.args(["local", "--county", "king-wa", "--port", &port]);
    let out = run(c);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("port {port}")), "{stderr}");
    assert!(stderr.contains("in use"), "{stderr}");
    assert_eq!(county_tables("king-wa-"), before, "no table created");
    assert!(!state_path(dir.path(), "king-wa").exists());
}

#[test]
fn a_second_runner_for_a_running_county_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = Runner::start(dir.path(), "fulton-ga", &[]);
    let before = county_tables("fulton-ga-");
    let mut c = acme(dir.path());
    c.args(["local", "--county", "fulton-ga", "--port", "0"]);
    let out = run(c);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("already running"), "{stderr}");
    assert!(stderr.contains(&a.api), "{stderr}");
    assert_eq!(county_tables("fulton-ga-"), before);
    let (status, _) = a.sigterm();
    assert_eq!(status.code(), Some(0));
}

/// One request to the local runner's API with this test's token.
fn http(api: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    common::http(api, TOKEN, method, path, body)
}

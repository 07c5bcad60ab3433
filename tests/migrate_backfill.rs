//! `acme-infra migrate backfill` as an operator runs it: killed with
//! SIGKILL in the middle of a run, then resumed; every order lands exactly
//! once. And its bad inputs, each a one-screen error with its exit code.
//! Needs moto and PostgreSQL (`make test` starts both).

mod common;
use common::{county_tables, env_var};

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acme_local::state::STATE_DIR_ENV;
use tokio_postgres::NoTls;

const ORDERS: i64 = 600;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_acme-infra"))
}

/// A database named `db` with the legacy schema and `ORDERS` ordinary
/// orders in one travis-tx store; its URL.
async fn legacy(db: &str) -> String {
    let server = env_var("ACME_TEST_LEGACY_URL", "scripts/with-postgres.sh");
    let (base, _) = server.rsplit_once('/').expect("URL");
    let (admin, conn) = tokio_postgres::connect(&server, NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    admin
        .simple_query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await
        .expect("drop");
    admin
        .simple_query(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create");
    let url = format!("{base}/{db}");
    let (client, conn) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute(include_str!("../migrate/sql/legacy-schema.sql"))
        .await
        .expect("schema");
    client
        .batch_execute(&format!(
            "INSERT INTO stores VALUES ('AUS-1', 'travis-tx', 'Austin', 'America/Chicago');
             INSERT INTO customers SELECT g, NULL, NULL, NULL, NULL, now() FROM generate_series(1, 50) g;
             INSERT INTO orders SELECT g, 'req-' || g, 1 + g % 50, 'AUS-1', 'CONFIRMED', 10.00, 'USD', NULL,
                 timestamp '2024-01-01 00:00' + g * interval '1 hour', now()
               FROM generate_series(1, {ORDERS}) g;
             INSERT INTO order_lines SELECT g, 1, 'SKU-' || (g % 10), 1, 10.00 FROM generate_series(1, {ORDERS}) g;"
        ))
        .await
        .expect("seed");
    url
}

async fn legacy_numbers(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> Vec<i64> {
    let mut numbers = Vec::new();
    let mut start = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        for item in page.items() {
            let n = item["legacy_order_id"].as_n().expect("legacy_order_id");
            numbers.push(n.parse().expect("number"));
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    numbers.sort_unstable();
    numbers
}

fn backfill(url: &str, state_dir: &Path, checkpoints: &Path) -> Command {
    let mut cmd = bin();
    cmd.args([
        "migrate",
        "backfill",
        "--county",
        "travis-tx",
        "--target",
        "local",
    ])
    .arg("--checkpoint-dir")
    .arg(checkpoints)
    .args(["--page-size", "20"])
    .env(STATE_DIR_ENV, state_dir)
    .env("ACME_LEGACY_URL", url);
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_midway_then_resumed_every_order_lands_exactly_once() {
    let url = legacy("cli_backfill_kill").await;
    let dir = tempfile::tempdir().expect("tmp");
    let (dynamodb, table) = county_tables(dir.path()).await;
    let checkpoints = dir.path().join("checkpoints");
    let checkpoint = checkpoints.join("backfill-travis-tx-1-of-1.json");

    // Slowed by the write budget, so there is a middle to kill it in.
    let mut child = backfill(&url, dir.path(), &checkpoints)
        .args(["--max-wcu", "400"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let text = std::fs::read_to_string(&checkpoint).unwrap_or_default();
        if text.contains("\"phase\": \"orders\"")
            && text.contains("\"after\": ")
            && !text.contains("\"after\": null")
        {
            break;
        }
        assert!(
            child.try_wait().expect("wait").is_none(),
            "finished before it could be killed"
        );
        assert!(
            Instant::now() < deadline,
            "no order page was checkpointed in 120 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let partial = legacy_numbers(&dynamodb, &table).await.len();
    assert!(
        partial < ORDERS as usize,
        "killed before the end ({partial} written)"
    );

    // Without --resume, the checkpoint is not overwritten.
    let refused = backfill(&url, dir.path(), &checkpoints)
        .output()
        .expect("run");
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pass --resume"));

    let resumed = backfill(&url, dir.path(), &checkpoints)
        .arg("--resume")
        .arg("--report")
        .arg(dir.path().join("report.json"))
        .output()
        .expect("resume");
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let stdout = String::from_utf8_lossy(&resumed.stdout);
    assert!(
        stdout.contains(&format!(
            "{ORDERS} orders and 0 stock records written in all, 0 rejected"
        )),
        "{stdout}"
    );

    let numbers = legacy_numbers(&dynamodb, &table).await;
    assert_eq!(
        numbers,
        (1..=ORDERS).collect::<Vec<_>>(),
        "every order exactly once"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).expect("report"))
            .expect("json");
    assert_eq!(report["written"]["orders"], ORDERS);

    let verified = bin()
        .args([
            "migrate",
            "verify",
            "--county",
            "travis-tx",
            "--target",
            "local",
        ])
        .env(STATE_DIR_ENV, dir.path())
        .env("ACME_LEGACY_URL", &url)
        .output()
        .expect("verify");
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "{ORDERS} legacy orders checked, {ORDERS} match, 0 differences"
        )),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_are_one_screen_errors_with_their_exit_codes() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = |args: &[&str], url: Option<&str>| {
        let mut cmd = bin();
        cmd.args(["migrate", "backfill"])
            .args(args)
            .env(STATE_DIR_ENV, dir.path())
            .env_remove("ACME_LEGACY_URL");
        if let Some(u) = url {
            cmd.env("ACME_LEGACY_URL", u);
        }
        let out = cmd.output().expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // A county not in environments/: a usage error, as in every command,
    // before any connection.
    let (code, err) = run(
        &["--county", "nosuch-tx"],
        Some("postgres://x@127.0.0.1:1/db"),
    );
    assert_eq!(code, Some(2), "{err}");
    // No database given.
    let (code, err) = run(&["--county", "travis-tx"], None);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("pass --from postgres://… or set ACME_LEGACY_URL"),
        "{err}"
    );
    // A URL that is not one.
    let (code, err) = run(&["--county", "travis-tx", "--from", "mysql://x"], None);
    assert_eq!(code, Some(2), "{err}");
    // Nothing listens there; the password stays out of the message.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = free.local_addr().expect("addr").port();
    drop(free);
    let (code, err) = run(
        &[
            "--county",
            "travis-tx",
            "--from",
            &format!("postgres://acme:hunter2@127.0.0.1:{port}/orders"),
        ],
        None,
    );
    assert_eq!(code, Some(11), "{err}");
    assert!(
        err.contains(&format!(
            "cannot connect to the legacy database at postgres://acme@127.0.0.1:{port}/orders"
        )),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    // A shard that is not one.
    let (code, err) = run(
        &["--county", "travis-tx", "--shard", "5/4"],
        Some("postgres://x@127.0.0.1:1/db"),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("write K/N"), "{err}");
    assert!(err.lines().count() < 25, "one screen: {err}");
}

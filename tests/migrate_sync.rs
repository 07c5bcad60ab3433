//! `acme-infra migrate sync` as an operator runs it: prepared before the
//! backfill, killed with SIGKILL mid-stream and started again, PostgreSQL
//! restarted under it, stopped with SIGTERM; at the end verify is clean and
//! every order is in the tables once. And its refusals, with their exit
//! codes. Needs moto and PostgreSQL (`make test` starts both); one test, as
//! it restarts the server every other test would be using.

mod common;
use common::{county_tables, env_var, until};

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acme_local::state::STATE_DIR_ENV;
use tokio_postgres::{Client, NoTls};

const DB: &str = "cli_sync";
const SLOT: &str = "acme_cdc_travis_tx";

async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    client
}

/// The legacy schema with 300 orders (the first 30 PAID) and stock in one
/// travis-tx store; its URL.
async fn legacy() -> String {
    let server = env_var("ACME_TEST_LEGACY_URL", "scripts/with-postgres.sh");
    let (base, _) = server.rsplit_once('/').expect("URL");
    let admin = connect(&server).await;
    for sql in [
        format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"),
        format!("CREATE DATABASE {DB}"),
    ] {
        admin.simple_query(&sql).await.expect("database");
    }
    // A slot left by an earlier run of this test would start mid-stream.
    admin
        .simple_query(&format!(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{SLOT}'"
        ))
        .await
        .expect("old slot");
    let url = format!("{base}/{DB}");
    let client = connect(&url).await;
    client
        .batch_execute(include_str!("../migrate/sql/legacy-schema.sql"))
        .await
        .expect("schema");
    client
        .batch_execute(
            "INSERT INTO stores VALUES ('AUS-1', 'travis-tx', 'Austin', 'America/Chicago');
             INSERT INTO customers SELECT g, NULL, NULL, NULL, NULL, now() FROM generate_series(1, 50) g;
             INSERT INTO orders SELECT g, 'req-' || g, 1 + g % 50, 'AUS-1',
                 CASE WHEN g <= 30 THEN 'PAID' ELSE 'CONFIRMED' END, 10.00, 'USD', NULL,
                 timestamp '2024-01-01 00:00' + g * interval '1 hour', now()
               FROM generate_series(1, 300) g;
             INSERT INTO order_lines SELECT g, 1, 'SKU-' || (g % 10), 1, 10.00 FROM generate_series(1, 300) g;
             INSERT INTO inventory SELECT 'AUS-1', 'SKU-' || g, 100, 0, 3.50, now() FROM generate_series(1, 10) g;",
        )
        .await
        .expect("seed");
    url
}

fn migrate(cmd: &str, url: &str, state_dir: &Path, county: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_acme-infra"));
    c.args(["migrate", cmd, "--county", county, "--target", "local"])
        .env(STATE_DIR_ENV, state_dir)
        .env("ACME_LEGACY_URL", url);
    c
}

/// A running sync whose stderr is collected as it comes.
struct Sync {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Sync {
    fn start(url: &str, state_dir: &Path, report: &Path) -> Self {
        let mut child = migrate("sync", url, state_dir, "travis-tx")
            .args(["--status-every", "1", "--poll-ms", "50", "--batch", "100"])
            .arg("--report")
            .arg(report)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the sync");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().expect("lock");
                s.push_str(&line);
                s.push('\n');
            }
        });
        Sync { child, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }
}

/// The slot's position, as a number of bytes into the WAL.
async fn position(admin: &Client) -> i64 {
    admin
        .query_one(
            "SELECT pg_wal_lsn_diff(confirmed_flush_lsn, '0/0')::bigint FROM pg_replication_slots WHERE slot_name = $1",
            &[&SLOT],
        )
        .await
        .expect("slot")
        .get(0)
}

async fn caught_up(admin: &Client) -> bool {
    admin
        .query_one(
            "SELECT confirmed_flush_lsn >= pg_current_wal_flush_lsn() FROM pg_replication_slots WHERE slot_name = $1",
            &[&SLOT],
        )
        .await
        .expect("slot")
        .get(0)
}

/// Whether a session holds the county's sync lock.
async fn locked(admin: &Client) -> bool {
    admin
        .query_one(
            "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND objid = hashtext($1)::oid",
            &[&SLOT],
        )
        .await
        .expect("locks")
        .get(0)
}

/// `n` transactions of new orders, confirmations, new lines and stock moves.
async fn write(url: &str, from: i64, n: i64) {
    let client = connect(url).await;
    for i in from..from + n {
        let sql = match i % 4 {
            0 => format!(
                "BEGIN; INSERT INTO orders VALUES ({id}, NULL, 7, 'AUS-1', 'NEW', 3.00, 'USD', NULL, '2025-11-02 01:30', now());
                 INSERT INTO order_lines VALUES ({id}, 1, 'sku #{i}', 2, 1.50); COMMIT;",
                id = 100_000 + i
            ),
            1 => "UPDATE orders SET status = 'CONFIRMED', updated_at = now()
                  WHERE order_id = (SELECT min(order_id) FROM orders WHERE status IN ('NEW', 'PAID'))"
                .to_owned(),
            2 => format!(
                "BEGIN; INSERT INTO order_lines SELECT {o}, max(line_no) + 1, 'SKU-Y', 1, 0.50 FROM order_lines
                   WHERE order_id = {o};
                 UPDATE orders SET total = total + 0.50, updated_at = now() WHERE order_id = {o}; COMMIT;",
                o = 31 + i % 250
            ),
            _ => format!(
                "UPDATE inventory SET reserved = reserved + 1, updated_at = now() WHERE sku = 'SKU-{}'",
                1 + i % 10
            ),
        };
        client.batch_execute(&sql).await.expect("write");
    }
}

fn pg_ctl_restart() {
    let bindir = env_var("ACME_TEST_PG_BINDIR", "scripts/with-postgres.sh");
    let data = env_var("ACME_TEST_PG_DATA", "scripts/with-postgres.sh");
    let pg_ctl = format!("{bindir}/pg_ctl");
    let log = format!("{data}/../restart.log");
    let args = ["-D", &data, "-l", &log, "-w", "-m", "fast", "restart"];
    // As root, the server runs as `postgres` (see scripts/with-postgres.sh).
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let status = if root {
        Command::new("runuser")
            .args(["-u", "postgres", "--", &pg_ctl])
            .args(args)
            .status()
    } else {
        Command::new(&pg_ctl).args(args).status()
    };
    assert!(status.expect("pg_ctl").success(), "pg_ctl restart failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_and_restarted_under_a_database_restart_nothing_is_lost_or_doubled() {
    let url = legacy().await;
    let dir = tempfile::tempdir().expect("tmp");
    let (dynamodb, table) = county_tables(dir.path()).await;
    let admin = connect(&url).await;

    // Refusals first: no slot yet, a county with no stores.
    let out = migrate("sync", &url, dir.path(), "travis-tx")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--prepare` before the backfill"),
        "{stderr}"
    );
    let out = migrate("sync", &url, dir.path(), "fulton-ga")
        .arg("--prepare")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no stores with county_code `fulton-ga`")
    );

    let out = migrate("sync", &url, dir.path(), "travis-tx")
        .arg("--prepare")
        .output()
        .expect("prepare");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&format!("slot {SLOT} created at ")));
    write(&url, 0, 40).await;
    let out = migrate("backfill", &url, dir.path(), "travis-tx")
        .arg("--checkpoint-dir")
        .arg(dir.path().join("checkpoints"))
        .output()
        .expect("backfill");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    write(&url, 40, 200).await;

    // Killed mid-stream: the slot moved part of the way.
    let start = position(&admin).await;
    let mut first = Sync::start(&url, dir.path(), &dir.path().join("first.json"));
    until(
        "the first sync to apply a batch",
        Duration::from_secs(60),
        || async { position(&admin).await > start },
    )
    .await;
    // A second sync of the county is refused while the first runs.
    let out = migrate("sync", &url, dir.path(), "travis-tx")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(11), "{stderr}");
    assert!(
        stderr.contains("is in use by another process (pid "),
        "{stderr}"
    );
    first.child.kill().expect("SIGKILL");
    first.child.wait().expect("reaped");
    write(&url, 240, 100).await;
    until(
        "the killed sync's session to end",
        Duration::from_secs(30),
        || async { !locked(&admin).await },
    )
    .await;

    // Started again; then the database restarts under it.
    let mut second = Sync::start(&url, dir.path(), &dir.path().join("second.json"));
    until(
        "the second sync to catch up",
        Duration::from_secs(120),
        || async { caught_up(&admin).await && second.stderr().contains("streaming from slot") },
    )
    .await;
    drop(admin);
    pg_ctl_restart();
    let admin = connect(&url).await;
    write(&url, 340, 100).await;
    until(
        "the sync to reconnect and catch up",
        Duration::from_secs(120),
        || async {
            caught_up(&admin).await && second.stderr().matches("streaming from slot").count() >= 2
        },
    )
    .await;
    let stderr = second.stderr();
    assert!(stderr.contains("lost the legacy database"), "{stderr}");
    assert!(second.running(), "{stderr}");

    // SIGTERM: a clean stop, exit 0, the report written.
    let term = Command::new("kill")
        .args(["-TERM", &second.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let status = second.child.wait().expect("exit");
    assert!(status.success(), "{status:?}: {}", second.stderr());
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("second.json")).expect("report"))
            .expect("json");
    assert!(
        report["reconnects"].as_u64().expect("reconnects") >= 1,
        "{report}"
    );
    assert!(report["transactions"].as_u64().expect("transactions") > 0);

    let verify = migrate("verify", &url, dir.path(), "travis-tx")
        .output()
        .expect("verify");
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    // Every order once: as many OrderById records as legacy orders.
    let orders: i64 = admin
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .expect("count")
        .get(0);
    let mut records = 0;
    let mut start = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(&table)
            .set_exclusive_start_key(start)
            .select(aws_sdk_dynamodb::types::Select::Count)
            .send()
            .await
            .expect("scan");
        records += i64::from(page.count());
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    assert_eq!(records, orders);

    let out = migrate("sync", &url, dir.path(), "travis-tx")
        .arg("--drop-slot")
        .output()
        .expect("drop");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "slot {SLOT} dropped from postgres://postgres@{}\n",
            url.split_once('@').expect("url").1
        )
    );
}

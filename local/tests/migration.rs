//! A migrating county (travis-tx, with a `migration:` section) run locally as
//! its stack runs it: the cutover flag created in the emulator's SSM in the
//! stack's mode, the order API refusing writes until the county is cut over
//! (moved the way `acme-infra migrate cutover` moves it), the mode kept over
//! a restart, and legacy-sync writing the orders taken to the legacy tables.
//!
//! Run with `scripts/with-moto.sh scripts/with-postgres.sh cargo test -p
//! acme-local --test migration`.

mod common;

use std::path::Path;
use std::time::Duration;

use acme_contract::migration::{CutoverMode, mode_parameter};
use acme_local::auth::BearerToken;
use acme_local::emulator::Emulator;
use acme_local::migration::{FlagOrigin, LegacySyncRun};
use acme_local::runner::{LocalCounty, RunOptions};
use acme_local::state::{LocalState, state_path};
use acme_migrate::cutover::control::Control;
use common::{Harness, OPEN, endpoint, order_body, order_id, wait_for};
use order_domain::order::OrderStatus;
use tokio_postgres::{Client, NoTls};

const COUNTY: &str = "travis-tx";
const T: Duration = Duration::from_secs(90);

fn options(token: &BearerToken) -> RunOptions {
    let mut o = RunOptions::new(COUNTY, token.clone());
    o.environments = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
    o.port = 0;
    o.sale_clock = Some(OPEN.parse().expect("sale clock"));
    o.visibility_timeout = Some(5);
    o
}

async fn start(o: RunOptions, token: &BearerToken) -> Harness {
    let county = LocalCounty::start(o, Emulator::external(endpoint()))
        .await
        .expect("local county starts");
    Harness {
        county,
        http: reqwest::Client::new(),
        token: token.expose().to_owned(),
    }
}

/// A fresh legacy database with the schema and the county's store; its URL.
async fn legacy_db(name: &str) -> (String, Client) {
    let server = std::env::var("ACME_TEST_LEGACY_URL").unwrap_or_else(|_| {
        panic!("ACME_TEST_LEGACY_URL is not set: run through scripts/with-postgres.sh")
    });
    let admin = connect(&server).await;
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin.simple_query(&sql).await.expect("create the database");
    }
    let (base, _) = server.rsplit_once('/').expect("URL ends in /database");
    let url = format!("{base}/{name}");
    let client = connect(&url).await;
    client
        .batch_execute(include_str!("../../migrate/sql/legacy-schema.sql"))
        .await
        .expect("legacy schema");
    client
        .batch_execute(
            "INSERT INTO stores VALUES ('AUS-1', 'travis-tx', 'Austin', 'America/Chicago');",
        )
        .await
        .expect("seed");
    (url, client)
}

async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    client
}

/// The legacy status of the order `id`, once legacy-sync wrote it.
async fn legacy_status(db: &Client, id: &str) -> Option<String> {
    db.query_opt(
        "SELECT o.status FROM acme_sync.orders g
           JOIN orders o ON o.order_id = g.legacy_order_id WHERE g.order_id = $1",
        &[&id],
    )
    .await
    .expect("query the legacy tables")
    .map(|r| r.get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_in_legacy_accepted_after_cutover_and_written_back_by_legacy_sync() {
    let (url, db) = legacy_db("local_migration").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token = BearerToken::generate().expect("token");
    let sdk = aws_config::load_from_env().await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    // The county's own flag (a run with a state file): absent, as before a
    // first deploy.
    let _ = ssm
        .delete_parameter()
        .name(mode_parameter(COUNTY))
        .send()
        .await;

    let mut o = options(&token);
    o.state_file = Some(state_path(dir.path(), COUNTY));
    o.legacy_db = Some(url.clone());
    let h = start(o.clone(), &token).await;
    let m = h.county.migration.clone().expect("a migrating county");
    assert_eq!(m.flag.parameter, mode_parameter(COUNTY));
    assert_eq!(
        (m.flag.mode, m.flag.origin),
        (CutoverMode::Legacy, FlagOrigin::Created)
    );
    assert!(
        matches!(&m.legacy_sync, LegacySyncRun::Running(db) if db.ends_with("/local_migration")),
        "{:?}",
        m.legacy_sync
    );
    // The state file names the flag and the ShadowReads queue.
    let state = LocalState::read(&state_path(dir.path(), COUNTY))
        .expect("state file")
        .expect("written");
    assert_eq!(
        state.resources.cutover_flag.as_deref(),
        Some(mode_parameter(COUNTY).as_str())
    );
    let queue = &state.resources.queues["ShadowReadsQueue"].url;
    assert_eq!(m.shadow_queue.as_deref(), Some(queue.as_str()));
    let banner = acme_local::commands::migration_banner(COUNTY, &m);
    assert!(banner.contains(&mode_parameter(COUNTY)), "{banner}");
    assert!(banner.contains("= legacy"), "{banner}");
    assert!(banner.contains(queue.as_str()), "{banner}");

    // In `legacy` the legacy system takes the county's orders.
    h.stock("AUS-1", "CAB-750", 10, 1099).await;
    let body = order_body("mig-1", "c-mig-1", "AUS-1", "CAB-750", 2);
    let refused = h.post_order(&body).await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert_eq!(refused.body["error"], "county_not_cut_over", "{refused:?}");
    assert_eq!(h.count("OrderByIdTable").await, 0, "nothing written");

    // Cut over, one step at a time, as `migrate cutover` sets the flag
    // once its gates are met (the gates are the migration crate's tests).
    let control = Control::new(&h.county.sdk, COUNTY);
    for to in [CutoverMode::Shadow, CutoverMode::Dynamo] {
        let flag = control.flag().await.expect("the flag");
        control.set_mode(flag, to).await.expect("moved");
    }
    // The API reads the mode through its 15 s cache, as deployed.
    let accepted = wait_for(
        "the API to see mode dynamo",
        Duration::from_secs(40),
        || async {
            let a = h.post_order(&body).await;
            (a.status != 409).then_some(a)
        },
    )
    .await;
    assert_eq!(accepted.status, 202, "{accepted:?}");
    let id = order_id(&accepted);
    assert_eq!(
        h.wait_final(&[id], T).await[0].status,
        OrderStatus::Confirmed
    );

    // legacy-sync wrote it to the legacy tables, and follows its status.
    let status = wait_for("the order in the legacy tables", T, || async {
        legacy_status(&db, &id.to_string())
            .await
            .filter(|s| s == "CONFIRMED")
    })
    .await;
    assert_eq!(status, "CONFIRMED");
    let lines: i64 = db
        .query_one(
            "SELECT count(*) FROM order_lines l JOIN acme_sync.orders g
               ON l.order_id = g.legacy_order_id WHERE g.order_id = $1",
            &[&id.to_string()],
        )
        .await
        .expect("lines")
        .get(0);
    assert_eq!(lines, 1);
    h.stop().await;

    // A restart keeps the mode the county was moved to.
    let h = start(o, &token).await;
    let m = h.county.migration.clone().expect("a migrating county");
    assert_eq!(
        (m.flag.mode, m.flag.origin),
        (CutoverMode::Dynamo, FlagOrigin::Kept)
    );
    h.stop().await;
    // The emulator is shared with other tests of the sample county: a flag
    // left in `dynamo` would put their change capture in that mode.
    ssm.delete_parameter()
        .name(mode_parameter(COUNTY))
        .send()
        .await
        .expect("DeleteParameter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_database_legacy_sync_does_not_run_and_says_why() {
    let token = BearerToken::generate().expect("token");
    let mut o = options(&token);
    o.state_file = None;
    o.legacy_db = None;
    o.cutover_mode = Some(CutoverMode::Shadow);
    let h = start(o, &token).await;
    let m = h.county.migration.clone().expect("a migrating county");
    // A run without a state file has a flag of its own, as its own tables.
    assert_eq!(
        m.flag.parameter,
        format!("{}-{}", mode_parameter(COUNTY), h.county.resources.run_id)
    );
    assert_eq!(
        (m.flag.mode, m.flag.origin),
        (CutoverMode::Shadow, FlagOrigin::Set)
    );
    match &m.legacy_sync {
        LegacySyncRun::NotRunning(why) => assert!(why.contains("--legacy-db"), "{why}"),
        other => panic!("legacy-sync runs: {other:?}"),
    }
    // Shadow: writes refused as in legacy.
    let a = h
        .post_order(&order_body("mig-2", "c-mig-2", "AUS-1", "CAB-750", 1))
        .await;
    assert_eq!(a.status, 409, "{a:?}");
    h.stop().await;
}

#[tokio::test]
async fn a_county_that_is_not_migrating_has_no_cutover_mode_to_set() {
    let token = BearerToken::generate().expect("token");
    let mut o = RunOptions::new("king-wa", token);
    o.environments = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
    o.port = 0;
    o.state_file = None;
    o.cutover_mode = Some(CutoverMode::Dynamo);
    let e = LocalCounty::start(o, Emulator::external(endpoint()))
        .await
        .expect_err("refused");
    let text = e.to_string();
    assert!(
        text.contains("--cutover-mode") && text.contains("king-wa") && text.contains("migration:"),
        "{text}"
    );
}

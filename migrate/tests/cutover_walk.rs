//! The cutover walk `legacy → shadow → dynamo → retired` over a real legacy
//! database, the change capture running, the flag in SSM and the shadow
//! metrics in CloudWatch (moto): each gate refuses when its figure says so
//! (verify never run or dirty, CDC lag high, too few shadow reads, a
//! mismatch, legacy-sync not run), a rollback from `dynamo` to `shadow`
//! with orders taken on both sides loses nothing (verify clean), and orders
//! in flight at the switch are finished by the legacy system only. Needs
//! `scripts/with-moto.sh scripts/with-postgres.sh`.

mod common;

use std::time::{Duration, Instant};

use acme_contract::migration::{CutoverMode, mode_parameter, shadow_metrics};
use acme_migrate::cutover::control::Control;
use acme_migrate::cutover::{self, Check, Thresholds, VerifyRecord};
use acme_migrate::map::order_id;
use acme_migrate::source::{Legacy, LegacyUrl};
use acme_migrate::sync::{self, Event, Options, SyncError, Totals};
use common::{backfill, caught_up, county, slot, until};
use order_aws::DynamoStore;
use order_domain::OrderStatus;
use order_domain::clock::{SystemClock, UlidGenerator};
use order_domain::codec::{order_from_item, order_key};
use order_domain::rules::CountyRules;
use order_domain::service::AcceptService;
use order_domain::store::{Store, Table, TableNames};
use order_domain::testing::seed_adult;
use tokio::sync::{mpsc, watch};
use tokio_postgres::Client;

const DB: &str = "cutover_walk";
const COUNTY: &str = "travis-tx";

/// The county id this run's flag, verify record and shadow metrics are kept
/// under (SSM and CloudWatch on an emulator other tests share): its own, so
/// no other test sees them and nothing has to be deleted after. The orders
/// and the legacy database stay travis-tx's.
fn control_county() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!("walk-{}-{nanos}", std::process::id())
}

/// 40 orders at AUS-1 (1–10 PAID: in flight; the rest CONFIRMED), 10 stock rows.
async fn seeded() -> (String, Client) {
    let (url, client) = common::legacy_db(DB).await;
    client
        .batch_execute(
            "INSERT INTO stores VALUES ('AUS-1', 'travis-tx', 'Austin', 'America/Chicago');
             INSERT INTO customers SELECT g, NULL, NULL, NULL, NULL, now() FROM generate_series(1, 10) g;
             INSERT INTO orders SELECT g, 'req-' || g, 1 + g % 10, 'AUS-1',
                 CASE WHEN g <= 10 THEN 'PAID' ELSE 'CONFIRMED' END, 10.00, 'USD', NULL,
                 timestamp '2024-01-01 00:00' + g * interval '1 hour', now()
               FROM generate_series(1, 40) g;
             INSERT INTO order_lines SELECT g, 1, 'SKU-' || (g % 10), 1, 10.00 FROM generate_series(1, 40) g;
             INSERT INTO inventory SELECT 'AUS-1', 'SKU-' || g, 100, 1, 3.50, now() FROM generate_series(0, 9) g;",
        )
        .await
        .expect("seed");
    (url, client)
}

type SyncTask = tokio::task::JoinHandle<Result<Totals, SyncError>>;

/// The sync in the mode `mode` holds; its flagged writes come back as lines.
fn start_sync(
    url: &str,
    store: DynamoStore,
    mode: watch::Receiver<Option<CutoverMode>>,
    lines: mpsc::UnboundedSender<String>,
) -> (watch::Sender<bool>, SyncTask) {
    let url: LegacyUrl = url.parse().expect("url");
    let opts = Options {
        county: county(),
        slot: slot(DB),
        gsi_write_shards: 4,
        batch_changes: 200,
        poll: Duration::from_millis(50),
        concurrency: 8,
        reconnect_max: Duration::from_secs(1),
    };
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut on = |e: Event<'_>| {
            if let Event::Flagged(f) = e {
                let _ = lines.send(format!("{} {}", f.legacy, f.applied));
            }
        };
        sync::run_in_mode(&url, store, &opts, mode, stop, &mut on).await
    });
    (stop_tx, task)
}

/// One `migrate cutover` as the command runs it: the figures, the step
/// check, the gates; the flag moves only when every gate is met.
struct Walk {
    control: Control,
    legacy: Legacy,
}

impl Walk {
    /// The step's checks as `attempt` sees them, changing nothing.
    async fn checks(&self, to: CutoverMode, t: &Thresholds) -> Vec<Check> {
        let (f, _) = cutover::figures(
            &self.control,
            &self.legacy,
            &slot(DB),
            COUNTY,
            t.shadow_window_minutes,
        )
        .await
        .expect("figures");
        cutover::checks(to, &f, t)
    }

    async fn attempt(&self, to: CutoverMode, t: &Thresholds) -> Vec<Check> {
        let (f, flag) = cutover::figures(
            &self.control,
            &self.legacy,
            &slot(DB),
            COUNTY,
            t.shadow_window_minutes,
        )
        .await
        .expect("figures");
        cutover::step(COUNTY, f.mode, to).expect("one step");
        let checks = cutover::checks(to, &f, t);
        if checks.iter().all(|c| c.met) {
            self.control.set_mode(flag, to).await.expect("set the mode");
        }
        checks
    }

    async fn mode(&self) -> CutoverMode {
        self.control.flag().await.expect("flag").mode
    }
}

fn failed(checks: &[Check]) -> Vec<&'static str> {
    checks.iter().filter(|c| !c.met).map(|c| c.gate).collect()
}

async fn verify(url: &str, store: &DynamoStore, control: &Control) -> u64 {
    let mut legacy = Legacy::connect(&url.parse().expect("url"))
        .await
        .expect("connect");
    let opts = acme_migrate::verify::Options {
        county: county(),
        gsi_write_shards: 4,
        page_size: 50,
    };
    let r = acme_migrate::verify::run(&mut legacy, store, &opts)
        .await
        .expect("verify");
    let differences = r.differences_total + r.customer_differences_total;
    let record = VerifyRecord {
        finished_at: jiff::Timestamp::now(),
        clean: r.is_clean(),
        checked: r.checked,
        differences,
    };
    control.record_verify(&record).await.expect("record");
    differences
}

async fn metric(sdk: &aws_config::SdkConfig, county: &str, name: &str, value: f64, ago: Duration) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let at = std::time::SystemTime::now() - ago;
    aws_sdk_cloudwatch::Client::new(sdk)
        .put_metric_data()
        .namespace(shadow_metrics::NAMESPACE)
        .metric_data(
            MetricDatum::builder()
                .metric_name(name)
                .dimensions(
                    Dimension::builder()
                        .name(shadow_metrics::COUNTY_DIMENSION)
                        .value(county)
                        .build(),
                )
                .timestamp(at.into())
                .value(value)
                .build(),
        )
        .send()
        .await
        .expect("PutMetricData");
}

async fn status_of(store: &DynamoStore, legacy_number: i64) -> OrderStatus {
    let key = order_key(&order_id::from_legacy(legacy_number));
    let item = store
        .get(Table::OrderById, key, true)
        .await
        .expect("get")
        .expect("the order is in DynamoDB");
    order_from_item(&item).expect("order").status
}

/// The new API's accept service over the county's tables: an order the new
/// system takes.
async fn take_new_order(store: &DynamoStore, n: u32) {
    let day = r#"{"open_minute": 0, "close_minute": 1440}"#;
    let rules = CountyRules::from_json(&format!(
        r#"{{"county_id": "travis-tx", "sales_enabled": true, "timezone": "America/Chicago",
            "sale_hours": {{"monday": {day}, "tuesday": {day}, "wednesday": {day},
                "thursday": {day}, "friday": {day}, "saturday": {day}, "sunday": {day}}},
            "max_units_per_order": 24, "max_line_items": 5, "gsi_write_shards": 4,
            "reservation_ttl_seconds": 900, "idempotency_ttl_hours": 24}}"#
    ))
    .expect("rules");
    seed_adult(store, &format!("web-{n}"))
        .await
        .expect("the profile");
    let accept = AcceptService::new(store.clone(), rules, SystemClock, UlidGenerator::new());
    let body = format!(
        r#"{{"client_request_id": "new-{n}", "customer_id": "web-{n}", "store_id": "AUS-1",
            "items": [{{"sku": "SKU-1", "quantity": 1}}]}}"#
    );
    accept.accept(body.as_bytes()).await.expect("accepted");
}

async fn new_system_orders(ddb: &aws_sdk_dynamodb::Client, tables: &TableNames) -> usize {
    let out = ddb
        .scan()
        .table_name(tables.name(Table::OrderById).expect("table"))
        .send()
        .await
        .expect("scan");
    out.items()
        .iter()
        .filter(|i| !i.contains_key(order_domain::codec::LEGACY_ORDER_ID))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_walk_with_each_gate_a_rollback_and_in_flight_orders() {
    let (url, pg) = seeded().await;
    let (ddb, tables) = common::county_tables().await;
    let store = DynamoStore::new(ddb.clone(), tables.clone());
    let dir = tempfile::tempdir().expect("dir");
    let legacy_url: LegacyUrl = url.parse().expect("url");
    sync::prepare(&legacy_url, &county(), &slot(DB))
        .await
        .expect("slot");
    backfill(&url, store.clone(), dir.path()).await;

    // The flag as the stack creates it, and no verify recorded yet.
    let sdk = aws_config::load_from_env().await;
    let flags = control_county();
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name(mode_parameter(&flags))
        .value("legacy")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .expect("flag");
    let control = Control::new(&sdk, &flags);
    let walk = Walk {
        control: control.clone(),
        legacy: Legacy::connect(&legacy_url).await.expect("connect"),
    };
    let t = Thresholds {
        max_cdc_lag_seconds: 2,
        shadow_window_minutes: 60,
        min_shadow_reads: 10,
        verify_max_age_hours: 1,
    };

    let (mode_tx, mode_rx) = watch::channel(Some(CutoverMode::Legacy));
    let (lines_tx, mut lines) = mpsc::unbounded_channel();
    let (stop, task) = start_sync(&url, store.clone(), mode_rx.clone(), lines_tx.clone());
    until("caught up", Duration::from_secs(30), || caught_up(&pg, DB)).await;

    // → shadow: no verify yet.
    let c = walk.attempt(CutoverMode::Shadow, &t).await;
    assert_eq!(failed(&c), ["verify"], "{c:?}");
    assert!(c[0].figure.contains("never run"), "{c:?}");
    // A dirty verify: one record gone from DynamoDB.
    let gone = order_key(&order_id::from_legacy(15));
    ddb.delete_item()
        .table_name(tables.name(Table::OrderById).expect("table"))
        .set_key(Some(order_aws::convert::item_to_sdk(&gone)))
        .send()
        .await
        .expect("delete");
    assert_eq!(verify(&url, &store, &control).await, 1);
    let c = walk.attempt(CutoverMode::Shadow, &t).await;
    assert_eq!(failed(&c), ["verify"], "{c:?}");
    assert!(c[0].figure.starts_with("1 differences"), "{c:?}");
    // The legacy row touched again: the sync writes it back, verify is clean.
    pg.execute(
        "UPDATE orders SET updated_at = now() WHERE order_id = 15",
        &[],
    )
    .await
    .expect("touch");
    until("caught up", Duration::from_secs(30), || caught_up(&pg, DB)).await;
    assert_eq!(verify(&url, &store, &control).await, 0);

    // CDC lag high: the sync stopped while the legacy system writes.
    stop.send(true).expect("stop");
    task.await.expect("join").expect("sync");
    pg.execute(
        "UPDATE inventory SET on_hand = 90, updated_at = now() WHERE sku = 'SKU-2'",
        &[],
    )
    .await
    .expect("stock move");
    // The lag grows while nothing applies the change; once it is over the
    // threshold, the step is refused.
    let started = Instant::now();
    while walk.checks(CutoverMode::Shadow, &t).await[1].met {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the lag never grew"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let c = walk.attempt(CutoverMode::Shadow, &t).await;
    assert_eq!(failed(&c), ["CDC lag"], "{c:?}");
    assert_eq!(walk.mode().await, CutoverMode::Legacy, "refused: unchanged");
    let (stop, task) = start_sync(&url, store.clone(), mode_rx.clone(), lines_tx.clone());
    until("caught up", Duration::from_secs(30), || caught_up(&pg, DB)).await;
    let c = walk.attempt(CutoverMode::Shadow, &t).await;
    assert!(failed(&c).is_empty(), "{c:?}");
    assert_eq!(walk.mode().await, CutoverMode::Shadow);
    mode_tx.send(Some(CutoverMode::Shadow)).expect("mode");

    // → dynamo: too few shadow reads, then a mismatch in the window.
    metric(&sdk, &flags, shadow_metrics::READS, 5.0, Duration::ZERO).await;
    let c = walk.attempt(CutoverMode::Dynamo, &t).await;
    assert_eq!(failed(&c), ["shadow reads"], "{c:?}");
    metric(&sdk, &flags, shadow_metrics::READS, 10.0, Duration::ZERO).await;
    metric(
        &sdk,
        &flags,
        shadow_metrics::MISMATCHES,
        1.0,
        Duration::from_secs(1800),
    )
    .await;
    let c = walk.attempt(CutoverMode::Dynamo, &t).await;
    assert_eq!(failed(&c), ["shadow mismatches"], "{c:?}");
    assert_eq!(walk.mode().await, CutoverMode::Shadow);
    // The mismatch 30 minutes ago is outside a 20-minute window.
    let short = Thresholds {
        shadow_window_minutes: 20,
        ..t
    };
    let c = walk.attempt(CutoverMode::Dynamo, &short).await;
    assert!(failed(&c).is_empty(), "{c:?}");
    assert_eq!(walk.mode().await, CutoverMode::Dynamo);
    mode_tx.send(Some(CutoverMode::Dynamo)).expect("mode");

    // In dynamo: order 3 was PAID at the switch (legacy's to finish), and
    // the legacy system confirms it; order 25 is history the new system
    // owns now, and a legacy refund of it is held back; order 1001 is new
    // to the legacy system. Meanwhile the new system takes its own orders.
    assert_eq!(status_of(&store, 3).await, OrderStatus::Pending);
    for n in 1..=3 {
        take_new_order(&store, n).await;
    }
    pg.batch_execute(
        "UPDATE orders SET status = 'CONFIRMED', updated_at = now() WHERE order_id = 3;
         UPDATE orders SET status = 'REFUNDED', updated_at = now() WHERE order_id = 25;
         INSERT INTO orders VALUES (1001, NULL, 1, 'AUS-1', 'NEW', 10.00, 'USD', NULL,
             timestamp '2025-01-01 00:00', now());
         INSERT INTO order_lines VALUES (1001, 1, 'SKU-1', 1, 10.00);",
    )
    .await
    .expect("legacy writes");
    until("caught up", Duration::from_secs(30), || caught_up(&pg, DB)).await;
    assert_eq!(status_of(&store, 3).await, OrderStatus::Confirmed);
    assert_eq!(status_of(&store, 25).await, OrderStatus::Confirmed, "held");
    assert_eq!(status_of(&store, 1001).await, OrderStatus::Pending);
    let mut seen = Vec::new();
    while let Ok(l) = lines.try_recv() {
        seen.push(l);
    }
    assert!(
        seen.iter()
            .any(|l| l.starts_with("order 25 ") && l.ends_with("false")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.starts_with("order 1001 ") && l.ends_with("true")),
        "{seen:?}"
    );
    assert!(!seen.iter().any(|l| l.starts_with("order 3 ")), "{seen:?}");

    // Rollback to shadow, one command, no gate; the held refund arrives.
    take_new_order(&store, 4).await;
    let flag = control.flag().await.expect("flag");
    let back = cutover::rollback(COUNTY, flag.mode).expect("rollback");
    assert_eq!(back, CutoverMode::Shadow);
    control.set_mode(flag, back).await.expect("rolled back");
    mode_tx.send(Some(back)).expect("mode");
    pg.batch_execute(
        "INSERT INTO orders VALUES (1002, NULL, 2, 'AUS-1', 'NEW', 10.00, 'USD', NULL,
             timestamp '2025-01-01 01:00', now());
         INSERT INTO order_lines VALUES (1002, 1, 'SKU-2', 1, 10.00);",
    )
    .await
    .expect("legacy order");
    until("the refund applied", Duration::from_secs(30), || async {
        status_of(&store, 25).await == OrderStatus::Refunded
    })
    .await;
    until("caught up", Duration::from_secs(30), || caught_up(&pg, DB)).await;
    assert_eq!(verify(&url, &store, &control).await, 0, "nothing lost");
    assert_eq!(new_system_orders(&ddb, &tables).await, 4, "each once");
    assert_eq!(status_of(&store, 3).await, OrderStatus::Confirmed);

    // Forward again, then → retired: legacy-sync has not run, then caught up.
    let c = walk.attempt(CutoverMode::Dynamo, &short).await;
    assert!(failed(&c).is_empty(), "{c:?}");
    let c = walk.attempt(CutoverMode::Retired, &t).await;
    assert_eq!(failed(&c), ["legacy-sync lag"], "{c:?}");
    assert_eq!(c[0].figure, "legacy-sync has not run");
    let target = legacy_sync::db::Target {
        config: url.parse().expect("url"),
        root_cert: None,
    };
    let record_at_us = jiff::Timestamp::now().as_microsecond() - 500_000;
    legacy_sync::db::LegacyDb::connect(&target)
        .await
        .expect("legacy-sync connects")
        .record_position(COUNTY, record_at_us, "100")
        .await
        .expect("legacy-sync progress");
    let c = walk.attempt(CutoverMode::Retired, &t).await;
    assert!(failed(&c).is_empty(), "{c:?}");
    assert_eq!(walk.mode().await, CutoverMode::Retired);
    assert!(cutover::step(COUNTY, CutoverMode::Retired, CutoverMode::Legacy).is_err());

    stop.send(true).expect("stop");
    let totals = task.await.expect("join").expect("sync");
    assert!(totals.flagged_total >= 2, "{totals:?}");
    drop(mode_tx);
}

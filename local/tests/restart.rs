//! A local county stopped and started again with its state file, on the
//! moto `scripts/with-moto.sh` runs: the stream resumes from the stored
//! position, as an event source mapping keeps its checkpoint: what the last
//! run published is not published again, and what it had not published yet
//! (written while the publisher was held back) is, in full.
//!
//! `scripts/with-moto.sh cargo test -p acme-local --test restart`

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use acme_local::auth::BearerToken;
use acme_local::emulator::Emulator;
use acme_local::runner::{LocalCounty, RunOptions};
use acme_local::state::{checkpoints_path, state_path};
use common::publisher::{BatchLog, Logged};
use common::{Harness, OPEN, endpoint, order_body, order_id, wait_for};
use order_domain::ids::OrderId;
use order_domain::order::OrderStatus;

const T: Duration = Duration::from_secs(90);

/// Travis County with its state file in `dir`, publishing through `log`.
async fn start(dir: &Path, log: &Arc<BatchLog>) -> Harness {
    let token = BearerToken::generate().expect("random token");
    let mut o = RunOptions::new("travis-tx", token.clone());
    o.environments = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
    o.port = 0;
    o.sale_clock = Some(OPEN.parse().expect("sale clock"));
    o.visibility_timeout = Some(5);
    o.state_file = Some(state_path(dir, "travis-tx"));
    // travis-tx is migrating: it takes orders once cut over.
    o.cutover_mode = Some(acme_contract::migration::CutoverMode::Dynamo);
    let log = Arc::clone(log);
    let county = LocalCounty::start_with_publisher(o, Emulator::external(endpoint()), |a| Logged {
        inner: acme_local::handlers::publisher(a),
        log,
    })
    .await
    .expect("local county starts");
    Harness {
        county,
        http: reqwest::Client::new(),
        token: token.expose().to_owned(),
    }
}

async fn confirmed(h: &Harness, tag: &str, n: usize) -> Vec<OrderId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let body = order_body(
            &format!("{tag}-{i}"),
            &format!("c-{tag}-{i}"),
            "s-rs",
            "SKU-A",
            1,
        );
        let a = h.post_order(&body).await;
        assert_eq!(a.status, 202, "{a:?}");
        ids.push(order_id(&a));
    }
    for o in h.wait_final(&ids, T).await {
        assert_eq!(o.status, OrderStatus::Confirmed);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_stream_resumes_at_its_checkpoint_neither_repeating_nor_skipping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first_log = Arc::new(BatchLog::default());
    let h = start(dir.path(), &first_log).await;
    assert!(!h.county.resumed);
    h.stock("s-rs", "SKU-A", 100, 300).await;
    let published = confirmed(&h, "pub", 3).await;
    first_log
        .wait("the first orders' confirmations published", T, |_| {
            published
                .iter()
                .all(|id| first_log.completed(id, "CONFIRMED"))
        })
        .await;
    // Held back: these are confirmed in the table, their records unpublished.
    first_log.pause().await;
    let held = confirmed(&h, "held", 2).await;
    let run_id = h.county.resources.run_id.clone();
    h.stop().await;
    assert!(checkpoints_path(&state_path(dir.path(), "travis-tx")).is_file());

    let second_log = Arc::new(BatchLog::default());
    let h = start(dir.path(), &second_log).await;
    assert!(h.county.resumed);
    assert_eq!(h.county.resources.run_id, run_id);
    wait_for("the held-back records to be published", T, || async {
        held.iter()
            .all(|id| second_log.completed(id, "CONFIRMED"))
            .then_some(())
    })
    .await;
    let delivered: Vec<String> = second_log
        .batches()
        .iter()
        .flat_map(|b| b.records.iter().map(|r| r.order_id.clone()))
        .collect();
    for id in &published {
        assert!(
            !delivered.contains(&id.to_string()),
            "{id} was published by the first run and delivered again: {delivered:?}"
        );
    }
    for id in &held {
        // Every change of the order, from its placement on: none skipped.
        let mut versions: Vec<i64> = second_log
            .batches()
            .iter()
            .flat_map(|b| b.done().cloned().collect::<Vec<_>>())
            .filter(|r| r.order_id == id.to_string())
            .map(|r| r.version)
            .collect();
        versions.sort_unstable();
        versions.dedup();
        let last = h.order(id).await.expect("order").version;
        let all: Vec<i64> = (1..=i64::try_from(last).expect("version")).collect();
        assert_eq!(versions, all, "changes of {id} published after the restart");
    }
    h.stop().await;
    // The county's own flag (a run with a state file) is shared with the
    // other tests of the sample county on this emulator: none is left.
    aws_sdk_ssm::Client::new(&aws_config::load_from_env().await)
        .delete_parameter()
        .name(acme_contract::migration::mode_parameter("travis-tx"))
        .send()
        .await
        .expect("DeleteParameter");
}

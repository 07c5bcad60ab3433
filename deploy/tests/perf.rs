//! Perf figures against moto (printed; run with `--nocapture` to see them).
//! Asserts the properties that must hold whatever moto's speed: a no-op
//! deploy makes no upload and no change set, and concurrency changes wall
//! time, not the number of API calls. moto's latency is not ours: these
//! figures compare the deployer with itself.

mod common;

use std::time::Instant;

use acme_deploy::{DeployOptions, Format, Outcome, Output, RequireApproval};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_counties_at_concurrency_one_and_four() {
    ensure_bootstrapped().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = |tag: &str| -> Vec<acme_deploy::StackArtifact> {
        (0..10)
            .map(|i| {
                let county = unique(tag);
                with_asset(
                    artifact(&county, &function_template()),
                    write_zip(
                        dir.path(),
                        &format!("{county}.zip"),
                        format!("bundle {i} of {county}").as_bytes(),
                    ),
                )
            })
            .collect()
    };
    let mut figures = Vec::new();
    for concurrency in [1usize, 4] {
        let artifacts = fleet(&format!("p{concurrency}"));
        let d = deployer().await;
        let (out, text) = Output::capture(Format::Human);
        let opts = DeployOptions {
            concurrency,
            require_approval: RequireApproval::Never,
            ..DeployOptions::default()
        };
        let t0 = Instant::now();
        let report = d
            .deploy(artifacts.clone(), &opts, &out)
            .await
            .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text.text()));
        let create = t0.elapsed();
        assert!(
            report
                .stacks
                .iter()
                .all(|s| matches!(s.outcome, Outcome::Created { .. }))
        );
        let create_stats = d.stats();

        // The same fleet again, unchanged: hash-skip for every county.
        let d2 = deployer().await;
        let t1 = Instant::now();
        let report = d2
            .deploy(artifacts, &opts, &out)
            .await
            .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text.text()));
        let noop = t1.elapsed();
        assert!(
            report
                .stacks
                .iter()
                .all(|s| matches!(s.outcome, Outcome::Unchanged { .. }))
        );
        let noop_stats = d2.stats();
        assert_eq!((noop_stats.uploads, noop_stats.change_sets_created), (0, 0));
        figures.push((concurrency, create, create_stats, noop, noop_stats));
    }
    for (c, create, cs, noop, ns) in &figures {
        eprintln!(
            "PERF concurrency {c}: create 10 stacks {create:.2?} ({} API calls, {} uploads, {} change sets); unchanged redeploy {noop:.2?} ({} API calls, 0 uploads, 0 change sets)\n  create calls: {:?}\n  no-op calls:  {:?}",
            cs.total_calls(),
            cs.uploads,
            cs.change_sets_created,
            ns.total_calls(),
            cs.api_calls,
            ns.api_calls
        );
    }
    // Concurrency must not change how much work is done.
    assert_eq!(figures[0].2.total_calls(), figures[1].2.total_calls());
    assert_eq!(figures[0].4.total_calls(), figures[1].4.total_calls());
}

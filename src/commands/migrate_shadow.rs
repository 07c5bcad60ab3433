//! `acme-infra migrate shadow`: the comparer of the order API's sampled
//! reads, run until SIGTERM / Ctrl-C (or until the queue is empty), with a
//! line on stderr for each mismatch and each message set aside.

use std::time::Duration;

use acme_migrate::shadow::aws::{CloudWatchSink, SqsInbox};
use acme_migrate::shadow::{self, Batch, Options, Totals};
use tokio::sync::watch;

use super::CmdResult;
use super::migrate::{Job, write_report};
use crate::cli::migrate::ShadowArgs;
use crate::error::Error;
use crate::output::Console;

pub fn run(a: &ShadowArgs, c: &mut Console) -> CmdResult {
    let job = Job::open(&a.sides)?;
    if !a.queue.starts_with("https://") && !a.queue.starts_with("http://") {
        return Err(Error::Usage(format!(
            "--queue: `{}` is not a queue URL (expected https://sqs.<region>.amazonaws.com/...; \
             the stack output ShadowReadsQueueUrl)",
            a.queue
        )));
    }
    let opts = Options {
        county: job.county.clone(),
        batch: a.batch,
        wait: Duration::from_secs(a.wait),
        until_empty: a.until_empty,
    };
    let county = job.county.to_string();
    let totals = job.rt.block_on(async {
        // The deployed county's queue, or a running `acme-infra local`'s
        // (--target), as the other migrate commands find the county.
        let sdk = acme_local::commands::county_sdk(&(&a.sides.target).into()).await?;
        let inbox = SqsInbox::from_sdk(&sdk, &a.queue);
        let metrics = CloudWatchSink::from_sdk(&sdk);
        let (stop_tx, stop) = watch::channel(false);
        tokio::spawn(async move {
            super::migrate_sync::signalled().await;
            let _ = stop_tx.send(true);
        });
        eprintln!("shadow {county}: comparing reads from {}", a.queue);
        let mut on = |b: &Batch| print_batch(&county, b);
        Ok::<_, Error>(shadow::run(&job.url, &inbox, &metrics, &opts, stop, &mut on).await?)
    })?;
    write_report(&a.sides, &totals)?;
    c.print(&summary(&totals))
}

/// Names and ids only: the values of a differing field are not printed.
fn print_batch(county: &str, b: &Batch) {
    for m in &b.mismatches {
        eprintln!(
            "shadow {county}: MISMATCH order {} (legacy {}): {}",
            m.order_id,
            m.legacy_order_id,
            m.fields.join(", ")
        );
    }
    for (id, why) in &b.malformed {
        eprintln!("shadow {county}: message {id} set aside (deleted): {why}");
    }
}

fn summary(t: &Totals) -> String {
    format!(
        "shadow {}: {} reads compared in {} batches: {} mismatches, {} stale (legacy newer), \
         {} messages set aside\n",
        t.county,
        t.counts.reads,
        t.batches,
        t.counts.mismatches,
        t.counts.stale,
        t.counts.malformed
    )
}

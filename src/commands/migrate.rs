//! `acme-infra migrate backfill`: the county's tables found as inventory
//! finds them, the legacy database from `--from`, the run in `acme-migrate`.

use std::io::IsTerminal;

use acme_migrate::backfill::{self, Options, Progress, Report};
use acme_migrate::checkpoint;
use acme_migrate::limit::WcuBudget;
use acme_migrate::source::{Legacy, LegacyUrl};
use acme_migrate::write::{Retry, Writer};
use order_domain::CountyId;

use super::CmdResult;
use crate::cli::migrate::{BackfillArgs, MigrateCommand, Sides, VerifyArgs};
use crate::error::Error;
use crate::output::Console;

pub fn run(cmd: &MigrateCommand, c: &mut Console) -> CmdResult {
    match cmd {
        MigrateCommand::Backfill(a) => backfill(a, c),
        MigrateCommand::Verify(a) => verify(a, c),
        MigrateCommand::Sync(a) => super::migrate_sync::run(a, c),
        MigrateCommand::Shadow(a) => super::migrate_shadow::run(a, c),
        MigrateCommand::Status(a) => super::migrate_cutover::status(a, c),
        MigrateCommand::Cutover(a) => super::migrate_cutover::cutover(a, c),
    }
}

fn verify(a: &VerifyArgs, c: &mut Console) -> CmdResult {
    let job = Job::open(&a.sides)?;
    let opts = acme_migrate::verify::Options {
        county: job.county.clone(),
        gsi_write_shards: job.config.gsi_write_shards,
        page_size: 500,
    };
    let report = job.rt.block_on(async {
        let mut legacy = Legacy::connect(&job.url).await?;
        let store = acme_local::commands::county_store(&(&a.sides.target).into()).await?;
        Ok::<_, Error>(acme_migrate::verify::run(&mut legacy, &store, &opts).await?)
    })?;
    write_report(&a.sides, &report)?;
    c.print(&verify_summary(&report))?;
    if job.config.migration.is_some() {
        job.rt
            .block_on(record_verify(&a.sides, &job.config.id, &report));
    }
    if report.is_clean() {
        Ok(())
    } else {
        Err(Error::VerifyFailed(
            report.differences_total + report.customer_differences_total,
        ))
    }
}

/// Records the outcome where `migrate status` and the cutover gates find
/// it (SSM). A failure to record is said, not fatal: the verify itself
/// stands, and the gate then sees the previous record (or none).
async fn record_verify(sides: &Sides, county: &str, r: &acme_migrate::verify::Report) {
    let record = acme_migrate::cutover::VerifyRecord {
        finished_at: jiff::Timestamp::now(),
        clean: r.is_clean(),
        checked: r.checked,
        differences: r.differences_total + r.customer_differences_total,
    };
    let recorded = match acme_local::commands::county_sdk(&(&sides.target).into()).await {
        Ok(sdk) => acme_migrate::cutover::control::Control::new(&sdk, county)
            .record_verify(&record)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = recorded {
        eprintln!("verify {county}: the outcome was not recorded for `migrate status`: {e}");
    }
}

fn verify_summary(r: &acme_migrate::verify::Report) -> String {
    let mut out = format!(
        "verify {}: {} legacy orders checked, {} match, {} differences, {} known rejects\n",
        r.county, r.checked, r.matched, r.differences_total, r.known_rejects_total
    );
    for d in r.differences.iter().take(20) {
        out.push_str(&format!(
            "  {:?} legacy order {} ({}) in {}\n",
            d.kind, d.legacy_order_id, d.order_id, d.table
        ));
        for f in &d.fields {
            out.push_str(&format!(
                "      {}: legacy {} / dynamodb {}\n",
                f.attribute,
                f.legacy.as_deref().unwrap_or("(absent)"),
                f.dynamo.as_deref().unwrap_or("(absent)")
            ));
        }
    }
    out.push_str(&format!(
        "verify {}: {} customer profiles checked, {} match, {} differences\n",
        r.county, r.customers_checked, r.customers_matched, r.customer_differences_total
    ));
    // Attribute names only: profile values are PII.
    for d in r.customer_differences.iter().take(20) {
        out.push_str(&format!(
            "  {:?} legacy customer {} ({}) in Customers: {}\n",
            d.kind,
            d.legacy_customer_id,
            d.customer_id,
            d.attributes.join(", ")
        ));
    }
    for n in r.known_rejects.iter().take(20) {
        out.push_str(&format!("  known reject {}: {}\n", n.legacy, n.message));
    }
    out
}

fn backfill(a: &BackfillArgs, c: &mut Console) -> CmdResult {
    let job = Job::open(&a.sides)?;
    let opts = Options {
        county: job.county.clone(),
        shard: a.shard,
        page_size: a.page_size,
        gsi_write_shards: job.config.gsi_write_shards,
        checkpoint: checkpoint::path_for(&a.checkpoint_dir, &job.config.id, a.shard),
        resume: a.resume,
    };
    let report = job.rt.block_on(async {
        let mut legacy = Legacy::connect(&job.url).await?;
        let store = acme_local::commands::county_store(&(&a.sides.target).into()).await?;
        let budget = WcuBudget::shared(a.max_wcu, a.shard.count);
        let mut writer = Writer::new(store, budget, Retry::default());
        let bar = progress_bar();
        let report = backfill::run(&mut legacy, &mut writer, &opts, &mut |p| show(&bar, p)).await;
        bar.finish_and_clear();
        Ok::<_, Error>(report?)
    })?;
    write_report(&a.sides, &report)?;
    c.print(&summary(&report, &job.url))
}

/// What every migration command starts from: the county's file, the legacy
/// database's URL, a runtime.
pub(super) struct Job {
    pub(super) config: acme_stacks::config::CountyConfig,
    pub(super) county: CountyId,
    pub(super) url: LegacyUrl,
    pub(super) rt: tokio::runtime::Runtime,
}

impl Job {
    pub(super) fn open(sides: &Sides) -> Result<Self, Error> {
        let config = super::load_county(&sides.target.env, &sides.target.county)?;
        let county =
            CountyId::parse(&config.id).map_err(|e| Error::Usage(format!("--county: {e}")))?;
        let url = LegacyUrl::from_flag_or_env(sides.from.as_deref())?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        Ok(Job {
            config,
            county,
            url,
            rt,
        })
    }
}

pub(super) fn write_report<R: serde::Serialize>(sides: &Sides, report: &R) -> Result<(), Error> {
    let Some(path) = &sides.report else {
        return Ok(());
    };
    let json = serde_json::to_vec_pretty(report)?;
    std::fs::write(path, json)
        .map_err(|e| Error::Usage(format!("--report {}: {e}", path.display())))
}

fn progress_bar() -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

fn show(bar: &indicatif::ProgressBar, p: Progress) {
    let elapsed = bar.elapsed();
    let secs = elapsed.as_secs_f64().max(0.001);
    let eta = match p.eta(elapsed) {
        Some(left) => indicatif::HumanDuration(left).to_string(),
        None => "…".to_owned(),
    };
    bar.set_message(format!(
        "{}: {:.1}% of {} rows · ETA {eta} · {:.0} rows/s · {} items written · {:.0} WCU/s · {} retried",
        p.phase,
        p.percent(),
        p.total,
        p.done.saturating_sub(p.before) as f64 / secs,
        p.stats.items,
        p.stats.write_units as f64 / secs,
        p.stats.unprocessed + p.stats.throttled,
    ));
}

fn summary(r: &Report, url: &LegacyUrl) -> String {
    let mut out = format!(
        "backfill {} (shard {}) from {url}: {} orders and {} stock records written in all, \
         {} rejected, {} warnings (in scope: {} orders, {} stock rows); {} customer profiles written in all\n\
         this run: {} items, {} write units, {} calls in {:.1} s ({:.0} WCU/s); \
         retried {} unprocessed items and {} throttled calls\n",
        r.county,
        r.shard,
        r.written.orders,
        r.written.inventory,
        r.written.rejects,
        r.warnings_total,
        r.totals.orders,
        r.totals.inventory,
        r.written.customers,
        r.items,
        r.write_units,
        r.calls,
        r.seconds,
        r.write_units as f64 / r.seconds.max(0.001),
        r.unprocessed_retried,
        r.throttled_retried,
    );
    for n in r.rejects.iter().take(20) {
        out.push_str(&format!("  rejected {}: {}\n", n.legacy, n.message));
    }
    if r.rejects_total > 20 {
        out.push_str(&format!(
            "  … and {} more rejects (--report FILE lists up to {})\n",
            r.rejects_total - 20,
            backfill::LISTED_MAX
        ));
    }
    out
}

//! `acme-infra migrate status` and `migrate cutover`: a migrating county's
//! figures gathered from SSM, CloudWatch and the legacy database
//! (`acme_migrate::cutover`), shown or checked against the county file's
//! gates before the flag moves.

use acme_contract::migration::CutoverMode;
use acme_migrate::cutover::control::{Control, Flag};
use acme_migrate::cutover::{self, Check, Figures, Thresholds};
use acme_migrate::source::{Legacy, LegacyUrl};
use acme_migrate::sync::slot::SlotName;
use acme_stacks::config::{CountyConfig, Environments};
use order_domain::CountyId;

use super::CmdResult;
use crate::cli::migrate::{CountySides, CutoverArgs, StatusArgs};
use crate::error::Error;
use crate::output::Console;

/// A migrating county and what its figures are read with.
struct County {
    config: CountyConfig,
    thresholds: Thresholds,
    slot: SlotName,
    url: LegacyUrl,
    rt: tokio::runtime::Runtime,
}

impl County {
    fn open(sides: &CountySides) -> Result<Self, Error> {
        let config =
            Environments::open(&sides.target.env.environments)?.load(&sides.target.county)?;
        let Some(m) = &config.migration else {
            return Err(Error::Usage(format!(
                "--county {}: the county file has no `migration:` section, so the county has no \
                 cutover mode (it was never on the legacy system, or it is retired and the \
                 section removed)",
                config.id
            )));
        };
        let g = m.cutover;
        let thresholds = Thresholds {
            max_cdc_lag_seconds: g.max_cdc_lag_seconds,
            shadow_window_minutes: g.shadow_window_minutes,
            min_shadow_reads: g.min_shadow_reads,
            verify_max_age_hours: g.verify_max_age_hours,
        };
        let county =
            CountyId::parse(&config.id).map_err(|e| Error::Usage(format!("--county: {e}")))?;
        let slot = sides
            .slot
            .clone()
            .unwrap_or_else(|| SlotName::for_county(&county));
        let url = LegacyUrl::from_flag_or_env(sides.from.as_deref())?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        Ok(County {
            config,
            thresholds,
            slot,
            url,
            rt,
        })
    }

    /// Every figure, and the flag as read (for a later compare).
    async fn figures(&self, sides: &CountySides) -> Result<(Figures, Flag, Control), Error> {
        let sdk = acme_local::commands::county_sdk(&(&sides.target).into()).await?;
        let control = Control::new(&sdk, &self.config.id);
        let legacy = Legacy::connect(&self.url).await?;
        let (figures, flag) = cutover::figures(
            &control,
            &legacy,
            &self.slot,
            &self.config.id,
            self.thresholds.shadow_window_minutes,
        )
        .await?;
        Ok((figures, flag, control))
    }
}

pub fn status(a: &StatusArgs, c: &mut Console) -> CmdResult {
    let county = County::open(&a.sides)?;
    let (figures, _, _) = county.rt.block_on(county.figures(&a.sides))?;
    if a.json {
        return c.print(&format!("{}\n", serde_json::to_string_pretty(&figures)?));
    }
    c.print(&table(&figures, &county.thresholds))
}

pub fn cutover(a: &CutoverArgs, c: &mut Console) -> CmdResult {
    let county = County::open(&a.sides)?;
    let id = county.config.id.clone();
    // The step is checked against the flag before any figure is gathered:
    // a bad step is bad input whatever the figures say.
    let current = county.rt.block_on(async {
        let sdk = acme_local::commands::county_sdk(&(&a.sides.target).into()).await?;
        Ok::<_, Error>(Control::new(&sdk, &id).flag().await?.mode)
    })?;
    let to = target(a, &id, current)?;
    let (figures, flag, control) = county.rt.block_on(county.figures(&a.sides))?;
    let from = figures.mode;
    if from != current {
        // Moved by someone else in between: check the step again.
        target(a, &id, from)?;
    }
    let checks = if a.rollback {
        Vec::new()
    } else {
        cutover::checks(to, &figures, &county.thresholds)
    };
    c.print(&gates(&id, from, to, &checks))?;
    let failed = checks.iter().filter(|g| !g.met).count();
    if failed > 0 {
        return Err(Error::GateNotMet {
            county: id,
            from,
            to,
            failed,
        });
    }
    county.rt.block_on(control.set_mode(flag, to))?;
    c.print(&moved(&id, from, to, a.rollback))?;
    if a.rollback && !to.new_system_owns_orders() && figures.held_back > 0 {
        c.print(&format!(
            "{id}: the sync applies the {} legacy order(s) held back in {from} when it reads the \
             new mode\n",
            figures.held_back
        ))?;
    }
    Ok(())
}

/// The mode `--to` or `--rollback` asks for, from `current`.
fn target(a: &CutoverArgs, county: &str, current: CutoverMode) -> Result<CutoverMode, Error> {
    match a.to {
        _ if a.rollback => Ok(cutover::rollback(county, current)?),
        Some(to) => {
            cutover::step(county, current, to)?;
            Ok(to)
        }
        None => Err(Error::Usage("give --to MODE or --rollback".into())),
    }
}

fn gates(county: &str, from: CutoverMode, to: CutoverMode, checks: &[Check]) -> String {
    let mut out = format!("{county}: {from} → {to}\n");
    if checks.is_empty() {
        out.push_str("  rollback: no gate\n");
    }
    for g in checks {
        out.push_str(&format!(
            "  {} {:<18} {} (threshold: {})\n",
            if g.met { "ok  " } else { "FAIL" },
            g.gate,
            g.figure,
            g.threshold
        ));
    }
    out
}

fn moved(county: &str, from: CutoverMode, to: CutoverMode, rollback: bool) -> String {
    let secs = acme_contract::migration::MODE_CACHE_SECONDS;
    let what = match to {
        CutoverMode::Legacy => "the legacy system owns orders; the new API refuses writes",
        CutoverMode::Shadow => {
            "the legacy system owns orders; the new API answers reads and refuses writes"
        }
        CutoverMode::Dynamo => {
            "the new system owns orders; legacy writes reaching the change capture are flagged"
        }
        CutoverMode::Retired => "the legacy database is out of order taking",
    };
    format!(
        "{county}: {} {from} → {to}: {what}. The functions follow within {secs} s.\n",
        if rollback { "rolled back" } else { "moved" }
    )
}

fn table(f: &Figures, t: &Thresholds) -> String {
    let cdc = match f.cdc {
        cutover::CdcLag::NoSlot => "no replication slot (`migrate sync --prepare` not run)".into(),
        cutover::CdcLag::CaughtUp => "0 s (caught up)".into(),
        cutover::CdcLag::Behind { seconds } => format!("{seconds:.1} s"),
    };
    let sync = match f.legacy_sync {
        cutover::LegacySyncLag::NotRun => "legacy-sync has not run".into(),
        cutover::LegacySyncLag::Lag {
            seconds,
            applied_at,
        } => format!("{seconds:.1} s (last applied {applied_at})"),
    };
    let verify = match &f.verify {
        None => "never run".into(),
        Some(v) if v.clean => format!("clean, {} orders, at {}", v.checked, v.finished_at),
        Some(v) => format!("{} differences, at {}", v.differences, v.finished_at),
    };
    let w = &f.window;
    let rate = w
        .mismatch_rate()
        .map_or("no reads".to_owned(), |r| format!("{:.4}%", r * 100.0));
    format!(
        "county                {}\n\
         mode                  {}\n\
         CDC lag               {cdc} (gate: at most {} s)\n\
         legacy-sync lag       {sync}\n\
         last verify           {verify}\n\
         shadow reads          {} in the last {} min (gate: at least {})\n\
         shadow mismatches     {} ({rate})\n\
         legacy writes flagged {} in the last {} min\n\
         held back             {} legacy order(s), applied by the sync after a rollback\n",
        f.county,
        f.mode,
        t.max_cdc_lag_seconds,
        w.shadow_reads,
        w.minutes,
        t.min_shadow_reads,
        w.shadow_mismatches,
        w.legacy_writes_flagged,
        w.minutes,
        f.held_back,
    )
}

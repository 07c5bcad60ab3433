//! `acme-infra migrate sync`: the county's slot prepared or dropped, or the
//! change capture run until SIGTERM / Ctrl-C, with a status line every few
//! seconds on stderr.

use std::time::{Duration, Instant};

use acme_contract::migration::{CutoverMode, MODE_CACHE_SECONDS};
use acme_migrate::cutover::control::{Control, ControlError};
use acme_migrate::sync::slot::SlotName;
use acme_migrate::sync::{self, Event, Options, Prepared, Totals};
use tokio::sync::watch;

use super::CmdResult;
use super::migrate::{Job, write_report};
use crate::cli::migrate::SyncArgs;
use crate::error::Error;
use crate::output::Console;

pub fn run(a: &SyncArgs, c: &mut Console) -> CmdResult {
    let job = Job::open(&a.sides)?;
    let slot = a
        .slot
        .clone()
        .unwrap_or_else(|| SlotName::for_county(&job.county));
    if a.prepare {
        let prepared = job
            .rt
            .block_on(sync::prepare(&job.url, &job.county, &slot))?;
        return c.print(&match prepared {
            Prepared::Created(at) => format!(
                "slot {slot} created at {at} in {}: run the backfill now, then \
                 `acme-infra migrate sync --county {}`\n",
                job.url, job.county
            ),
            Prepared::Existing(info) => format!(
                "slot {slot} exists in {} at {} ({} bytes of WAL retained): kept\n",
                job.url, info.confirmed, info.retained_bytes
            ),
        });
    }
    if a.drop_slot {
        let dropped = job.rt.block_on(sync::drop_slot(&job.url, &slot))?;
        return c.print(&if dropped {
            format!("slot {slot} dropped from {}\n", job.url)
        } else {
            format!("no slot {slot} in {}: nothing to drop\n", job.url)
        });
    }
    let opts = Options {
        county: job.county.clone(),
        slot,
        gsi_write_shards: job.config.gsi_write_shards,
        batch_changes: a.batch,
        poll: Duration::from_millis(a.poll_ms),
        concurrency: usize::try_from(a.concurrency).unwrap_or(16),
        reconnect_max: Duration::from_secs(30),
    };
    let mut status = Status::new(job.county.to_string(), a.status_every);
    let migrating = job.config.migration.is_some();
    let totals = job.rt.block_on(async {
        let store = acme_local::commands::county_store(&(&a.sides.target).into()).await?;
        let (mode, control) = if migrating {
            follow_mode(&a.sides, &job.config.id).await?
        } else {
            (watch::channel(None).1, None)
        };
        status.control = control;
        let (stop_tx, stop) = watch::channel(false);
        tokio::spawn(async move {
            signalled().await;
            let _ = stop_tx.send(true);
        });
        let mut on = |e: Event<'_>| status.event(e);
        Ok::<_, Error>(sync::run_in_mode(&job.url, store, &opts, mode, stop, &mut on).await?)
    })?;
    write_report(&a.sides, &totals)?;
    c.print(&summary(&totals))
}

/// The county's cutover mode, read now and again every
/// [`MODE_CACHE_SECONDS`] (as the functions do); a failed read keeps the
/// last mode. A county whose stack has no flag yet is `legacy` in effect
/// (nothing can have cut it over): `None`, every change applied.
async fn follow_mode(
    sides: &crate::cli::migrate::Sides,
    county: &str,
) -> Result<(watch::Receiver<Option<CutoverMode>>, Option<Control>), Error> {
    let sdk = acme_local::commands::county_sdk(&(&sides.target).into()).await?;
    let control = Control::new(&sdk, county);
    let first = match control.flag().await {
        Ok(f) => Some(f.mode),
        Err(ControlError::NoFlag { .. }) => {
            eprintln!("sync {county}: no cutover flag in SSM: every change is applied");
            return Ok((watch::channel(None).1, None));
        }
        Err(e) => return Err(e.into()),
    };
    eprintln!(
        "sync {county}: cutover mode {}",
        first.map_or("-", CutoverMode::name)
    );
    let (tx, rx) = watch::channel(first);
    let poller = control.clone();
    let county = county.to_owned();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(MODE_CACHE_SECONDS)).await;
            match poller.flag().await {
                Ok(f) if tx.borrow().as_ref() != Some(&f.mode) => {
                    eprintln!("sync {county}: cutover mode is now {}", f.mode);
                    let _ = tx.send(Some(f.mode));
                }
                Ok(_) => {}
                Err(e) => eprintln!("sync {county}: {e}; keeping the last mode"),
            }
            if tx.is_closed() {
                return;
            }
        }
    });
    Ok((rx, Some(control)))
}

/// SIGTERM (ECS stopping the task) or SIGINT (Ctrl-C).
pub(super) async fn signalled() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The status lines: at start, on every reconnect and reject at once, and
/// otherwise one every `every` seconds.
struct Status {
    county: String,
    every: Duration,
    last: Instant,
    changes_at_last: u64,
    /// Commit to write, of the last batch's oldest transaction.
    lag: Duration,
    /// Where flagged legacy writes are counted (a migrating county).
    control: Option<Control>,
}

impl Status {
    fn new(county: String, every: u64) -> Self {
        Status {
            county,
            every: Duration::from_secs(every),
            last: Instant::now(),
            changes_at_last: 0,
            lag: Duration::ZERO,
            control: None,
        }
    }

    fn event(&mut self, e: Event<'_>) {
        match e {
            Event::Started { slot, info } => {
                self.last = Instant::now();
                eprintln!(
                    "sync {}: streaming from slot {slot} at {} ({} bytes of WAL retained)",
                    self.county, info.confirmed, info.retained_bytes
                );
            }
            Event::Applied {
                batch,
                written_at,
                totals,
            } => {
                self.lag = batch
                    .commits
                    .iter()
                    .filter_map(|(_, at)| written_at.duration_since(*at).try_into().ok())
                    .max()
                    .unwrap_or_default();
                self.maybe_line(totals, None);
            }
            Event::Idle { totals, behind } => {
                self.lag = Duration::ZERO;
                self.maybe_line(totals, Some(behind));
            }
            Event::Reject(n) => {
                eprintln!("sync {}: rejected {}: {}", self.county, n.legacy, n.message)
            }
            Event::Note(n) => eprintln!("sync {}: {n}", self.county),
            Event::Flagged(f) => self.flagged(f),
            Event::Reconnecting { cause, wait } => eprintln!(
                "sync {}: lost the legacy database ({cause}); reconnecting in {:.1} s",
                self.county,
                wait.as_secs_f64()
            ),
        }
    }

    /// Logged with the order, and counted in CloudWatch for `migrate status`.
    fn flagged(&self, f: &acme_migrate::sync::apply::Flagged) {
        eprintln!(
            "sync {}: flagged {} ({}): {}",
            self.county,
            f.legacy,
            if f.applied { "applied" } else { "not applied" },
            f.reason
        );
        if let Some(control) = self.control.clone() {
            let county = self.county.clone();
            tokio::spawn(async move {
                if let Err(e) = control.publish_flagged(1).await {
                    eprintln!("sync {county}: the flagged write was not counted: {e}");
                }
            });
        }
    }

    fn maybe_line(&mut self, t: &Totals, behind: Option<i64>) {
        let elapsed = self.last.elapsed();
        if elapsed < self.every {
            return;
        }
        let rate = (t.changes - self.changes_at_last) as f64 / elapsed.as_secs_f64();
        let behind = behind.map_or(String::new(), |b| {
            format!(", caught up ({b} bytes of WAL unread)")
        });
        eprintln!(
            "sync {}: {} changes ({rate:.1}/s) in {} transactions; {} items written, {} stale, \
             {} rejects; lag {:.2} s{behind}; position {}",
            self.county,
            t.changes,
            t.transactions,
            t.items,
            t.stale,
            t.rejects_total,
            self.lag.as_secs_f64(),
            t.position
        );
        self.last = Instant::now();
        self.changes_at_last = t.changes;
    }
}

fn summary(t: &Totals) -> String {
    format!(
        "sync {} stopped at {} (slot {}): {} changes in {} transactions, {} orders and {} stock \
         records written ({} items, {} stale), {} rejects, {} legacy writes flagged, {} reconnects\n{}",
        t.county,
        t.position,
        t.slot,
        t.changes,
        t.transactions,
        t.orders,
        t.stock,
        t.items,
        t.stale,
        t.rejects_total,
        t.flagged_total,
        t.reconnects,
        held(t)
    )
}

/// The orders `dynamo` holds back, when there are or were any: they wait in
/// the legacy database for a rollback, which applies them.
fn held(t: &Totals) -> String {
    if t.held_back == 0 && t.held_applied == 0 {
        return String::new();
    }
    format!(
        "  {} legacy order(s) held back in {}, applied on a rollback; {} applied after a rollback\n",
        t.held_back,
        acme_contract::migration::held_back::TABLE,
        t.held_applied
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_held_orders_only_when_there_are_any() {
        let mut t = Totals {
            county: "travis-tx".into(),
            ..Totals::default()
        };
        assert_eq!(summary(&t).lines().count(), 1, "{}", summary(&t));
        t.held_back = 3;
        t.held_applied = 2;
        let text = summary(&t);
        assert!(
            text.contains("3 legacy order(s) held back in acme_sync.held_back")
                && text.contains("2 applied after a rollback"),
            "{text}"
        );
    }
}

//! The order sweeper Lambda: invoked by a scheduled EventBridge rule (the
//! county file's `sweeper.rate_minutes`), it settles what the event-driven
//! path left in flight, through the domain's [`Sweeper`] and [`Expiry`]:
//!
//! | found | done | why |
//! |---|---|---|
//! | PENDING older than `ACME_STUCK_AFTER_SECONDS` | `{"order_id"}` sent to the order queue again | the outbox enqueue was lost; the worker is idempotent |
//! | RESERVED past its reservation deadline (+ [`EXPIRY_SETTLE_SECONDS`]) | refund, then FAILED with its units back in stock (one transaction with the ledger delete) | its message died (DLQ) or payment kept failing |
//! | any other status (CONFIRMED, a held order, ...) | nothing | only PENDING and RESERVED are swept |
//!
//! # Entry point
//!
//! ```text
//! order_sweeper::SweeperFn::new(store, enqueuer, gateway, rules, clock, settings)
//!     .handle().await -> Result<SweepReport, SweepFailed>
//! ```
//!
//! Each run reads at most [`MAX_PAGES`] pages of [`PAGE_SIZE`] orders per
//! status, oldest first, so one run is bounded; what is left waits for the
//! next run. A run in which any order could not be settled returns an error
//! after doing all the rest: Lambda counts it in `Errors`, which the
//! sweeper's alarm watches.

use jiff::SignedDuration;
use order_aws::Enqueuer;
use order_domain::clock::Clock;
use order_domain::error::DomainError;
use order_domain::events::WorkMessage;
use order_domain::ids::OrderId;
use order_domain::payment::PaymentGateway;
use order_domain::rules::CountyRules;
use order_domain::schema::env;
use order_domain::service::{Expired, Expiry, OrdersPage, QueryError, Sweeper};
use order_domain::store::Store;
use serde::Serialize;
use thiserror::Error;

pub use order_domain::service::EXPIRY_SETTLE_SECONDS;

/// Orders read per query page.
pub const PAGE_SIZE: u32 = 100;
/// Pages read per status per run: at most 2,000 orders settled per run.
pub const MAX_PAGES: u32 = 20;

/// The sweeper's own setting, read once at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `ACME_STUCK_AFTER_SECONDS`: how old a PENDING order must be to be
    /// sent to the worker again.
    pub stuck_after: SignedDuration,
}

/// `ACME_STUCK_AFTER_SECONDS` is missing or not a positive number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "environment variable {var} is {found}: expected whole seconds from 60 to 86400 (the county stack sets it from `sweeper.stuck_after_minutes`)"
)]
pub struct SettingsError {
    pub var: &'static str,
    pub found: String,
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let var = env::STUCK_AFTER_SECONDS;
        let raw = lookup(var);
        let secs = raw
            .as_deref()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|s| (60..=86_400).contains(s));
        match secs {
            Some(s) => Ok(Settings {
                stuck_after: SignedDuration::from_secs(s),
            }),
            None => Err(SettingsError {
                var,
                found: raw.map_or_else(|| "not set".to_owned(), |v| format!("{v:?}")),
            }),
        }
    }
}

/// One order the run could not settle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unsettled {
    /// Absent when a whole query failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    pub code: &'static str,
    pub message: String,
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// PENDING orders sent to the worker again.
    pub requeued: Vec<OrderId>,
    /// RESERVED orders whose expired reservation this run released.
    pub released: Vec<OrderId>,
    /// Orders found but left alone: not yet expired, or no longer RESERVED
    /// (another run, the worker or a cancel got there first).
    pub skipped: Vec<OrderId>,
    pub unsettled: Vec<Unsettled>,
}

/// A run left orders unsettled: the invocation fails so the alarm sees it.
#[derive(Debug, Error)]
#[error("{} order(s) not settled this run (first: {} {})", .0.unsettled.len(),
    .0.unsettled.first().map_or("", |u| u.code),
    .0.unsettled.first().map_or("", |u| u.message.as_str()))]
pub struct SweepFailed(pub Box<SweepReport>);

/// The sweeper function over one county's store, queue and gateway.
pub struct SweeperFn<S, Q, P, C> {
    sweeper: Sweeper<S, C>,
    expiry: Expiry<S, P, C>,
    enqueuer: Q,
    settings: Settings,
}

impl<S, Q, P, C> SweeperFn<S, Q, P, C>
where
    S: Store + Clone,
    Q: Enqueuer,
    P: PaymentGateway,
    C: Clock + Clone,
{
    pub fn new(
        store: S,
        enqueuer: Q,
        gateway: P,
        rules: CountyRules,
        clock: C,
        settings: Settings,
    ) -> Self {
        Self {
            sweeper: Sweeper::new(store.clone(), rules.clone(), clock.clone()),
            expiry: Expiry::new(store, gateway, rules, clock),
            enqueuer,
            settings,
        }
    }

    /// One scheduled invocation: sweep, log the summary, fail if anything
    /// was left unsettled.
    pub async fn handle(&self) -> Result<SweepReport, SweepFailed> {
        let report = self.run().await;
        tracing::info!(
            requeued = report.requeued.len(),
            released = report.released.len(),
            skipped = report.skipped.len(),
            unsettled = report.unsettled.len(),
            "sweep done"
        );
        if report.unsettled.is_empty() {
            Ok(report)
        } else {
            Err(SweepFailed(Box::new(report)))
        }
    }

    /// One sweep, without logging the summary: for tests and the local
    /// runner.
    pub async fn run(&self) -> SweepReport {
        let mut report = SweepReport::default();
        self.requeue_stuck(&mut report).await;
        self.release_expired(&mut report).await;
        report
    }

    async fn requeue_stuck(&self, report: &mut SweepReport) {
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .sweeper
                .stale_pending(self.settings.stuck_after, PAGE_SIZE, cursor.as_deref())
                .await;
            let Some(page) = page_or_note(page, report) else {
                return;
            };
            for o in &page.orders {
                let message = WorkMessage {
                    order_id: o.order_id,
                };
                match self.enqueuer.enqueue(message).await {
                    Ok(()) => {
                        tracing::info!(order_id = %o.order_id, "stuck PENDING order sent to the worker again");
                        report.requeued.push(o.order_id);
                    }
                    Err(e) => {
                        tracing::error!(order_id = %o.order_id, error = %e, "re-enqueue failed");
                        report.unsettled.push(Unsettled {
                            order_id: Some(o.order_id),
                            code: "enqueue_failed",
                            message: e.message,
                        });
                    }
                }
            }
            cursor = page.next_cursor;
            if cursor.is_none() {
                return;
            }
        }
    }

    async fn release_expired(&self, report: &mut SweepReport) {
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .sweeper
                .expiry_candidates(PAGE_SIZE, cursor.as_deref())
                .await;
            let Some(page) = page_or_note(page, report) else {
                return;
            };
            for o in &page.orders {
                match self.expiry.release_if_expired(&o.order_id).await {
                    Ok(Expired::Released(order)) => {
                        tracing::info!(order_id = %order.order_id, "expired reservation released");
                        report.released.push(order.order_id);
                    }
                    Ok(Expired::NotYet(_) | Expired::NotReserved(_)) => {
                        report.skipped.push(o.order_id);
                    }
                    Err(e) => {
                        tracing::error!(order_id = %o.order_id, code = e.code(), error = %e, "expired reservation not released");
                        report.unsettled.push(Unsettled {
                            order_id: Some(o.order_id),
                            code: e.code(),
                            message: e.to_string(),
                        });
                    }
                }
            }
            cursor = page.next_cursor;
            if cursor.is_none() {
                return;
            }
        }
    }
}

/// The page, or `None` after noting why the query failed.
fn page_or_note(
    page: Result<OrdersPage, QueryError>,
    report: &mut SweepReport,
) -> Option<OrdersPage> {
    match page {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::error!(code = e.code(), error = %e, "sweeper query failed");
            report.unsettled.push(Unsettled {
                order_id: None,
                code: e.code(),
                message: e.to_string(),
            });
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_is_read_and_a_bad_one_is_named() {
        let ok = Settings::from_lookup(|_| Some("600".into())).unwrap();
        assert_eq!(ok.stuck_after, SignedDuration::from_mins(10));
        let missing = Settings::from_lookup(|_| None).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("ACME_STUCK_AFTER_SECONDS is not set")
        );
        let bad = Settings::from_lookup(|_| Some("5".into())).unwrap_err();
        assert!(bad.to_string().contains("\"5\""), "{bad}");
        assert!(bad.to_string().contains("sweeper.stuck_after_minutes"));
    }
}

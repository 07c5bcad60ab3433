//! `migrate status` and `migrate cutover`: where a migrating county stands,
//! and the gates each step of `legacy → shadow → dynamo → retired` must pass.
//!
//! The figures come from three places, none of them written for this:
//! the change capture's lag from its replication slot ([`lag`]: the slot is
//! the sync's durable position; the first transaction still in it is the
//! oldest change not yet in DynamoDB), the mode and the last verify from
//! SSM ([`control`]), shadow reads and flagged legacy writes from CloudWatch.
//! Beside them, the count of legacy orders the sync holds back in `dynamo`
//! (its own record, [`crate::sync::held`]).
//! [`checks`] is the pure decision over them.

pub mod control;
pub mod lag;

use std::time::Duration;

use acme_contract::migration::CutoverMode;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The county file's `migration.cutover:` thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Thresholds {
    pub max_cdc_lag_seconds: u32,
    pub shadow_window_minutes: u32,
    pub min_shadow_reads: u32,
    pub verify_max_age_hours: u32,
}

/// How far the change capture is behind the legacy database.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CdcLag {
    /// No slot: `migrate sync --prepare` has not run (or it was dropped).
    NoSlot,
    /// Every committed change is applied.
    CaughtUp,
    /// The oldest change not yet applied committed this long ago.
    Behind { seconds: f64 },
}

/// How far legacy-sync (DynamoDB → legacy) is behind.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LegacySyncLag {
    /// No progress table or no row for the county.
    NotRun,
    /// The last applied stream record took this long to reach SQL.
    Lag { seconds: f64, applied_at: Timestamp },
}

/// The last `migrate verify` of the county, as it recorded itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyRecord {
    pub finished_at: Timestamp,
    pub clean: bool,
    pub checked: u64,
    pub differences: u64,
}

/// Sums over the shadow window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Window {
    pub minutes: u32,
    pub shadow_reads: u64,
    pub shadow_mismatches: u64,
    pub legacy_writes_flagged: u64,
}

/// Everything `migrate status` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub county: String,
    pub mode: CutoverMode,
    pub cdc: CdcLag,
    pub legacy_sync: LegacySyncLag,
    /// Legacy orders the change capture holds back (mode `dynamo`), to be
    /// applied after a rollback (`acme_sync.held_back`).
    pub held_back: u64,
    pub verify: Option<VerifyRecord>,
    pub window: Window,
    pub at: Timestamp,
}

impl Window {
    /// Mismatches per read, if there were reads.
    pub fn mismatch_rate(&self) -> Option<f64> {
        (self.shadow_reads > 0).then(|| self.shadow_mismatches as f64 / self.shadow_reads as f64)
    }
}

/// Why the figures could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum FiguresError {
    #[error(transparent)]
    Control(#[from] control::ControlError),
    #[error("reading the change capture's slot failed: {0}")]
    Slot(#[from] crate::sync::slot::SlotError),
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
}

/// Every figure of `county` at `at`: the flag as read (for the compare of
/// a later put) and the rest.
pub async fn figures(
    control: &control::Control,
    legacy: &crate::source::Legacy,
    slot: &crate::sync::slot::SlotName,
    county: &str,
    window_minutes: u32,
) -> Result<(Figures, control::Flag), FiguresError> {
    let flag = control.flag().await?;
    let at = Timestamp::now();
    let figures = Figures {
        county: county.to_owned(),
        mode: flag.mode,
        cdc: lag::cdc(legacy, slot, at).await?,
        legacy_sync: lag::legacy_sync(legacy, county).await?,
        held_back: crate::sync::held::count(legacy, county).await?,
        verify: control.verify().await?,
        window: control.window(window_minutes, at).await?,
        at,
    };
    Ok((figures, flag))
}

/// One gate of a step: its figure against its threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub gate: &'static str,
    pub figure: String,
    pub threshold: String,
    pub met: bool,
}

/// A step that is not one step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error(
        "{county} is in mode `{from}`: a cutover moves one step at a time (legacy → shadow → \
         dynamo → retired), so from `{from}` the next is {}",
        from.next().map_or("none (retired is the last)".to_owned(), |m| format!("`{m}`"))
    )]
    NotAdjacent {
        county: String,
        from: CutoverMode,
        to: CutoverMode,
    },
    #[error("{county} is already in mode `{mode}`: nothing to do")]
    Already { county: String, mode: CutoverMode },
    #[error("{county} is in mode `legacy`: there is no earlier mode to roll back to")]
    NoPrevious { county: String },
}

/// Whether `to` is the step after `from`.
pub fn step(county: &str, from: CutoverMode, to: CutoverMode) -> Result<(), StepError> {
    if from == to {
        return Err(StepError::Already {
            county: county.into(),
            mode: to,
        });
    }
    if from.next() == Some(to) {
        Ok(())
    } else {
        Err(StepError::NotAdjacent {
            county: county.into(),
            from,
            to,
        })
    }
}

/// The mode `--rollback` returns to.
pub fn rollback(county: &str, from: CutoverMode) -> Result<CutoverMode, StepError> {
    from.previous().ok_or_else(|| StepError::NoPrevious {
        county: county.into(),
    })
}

/// The gates of the step to `to`, each with its figure and threshold.
/// To `shadow`: verify clean and fresh, CDC lag under the threshold. To
/// `dynamo`: those, and no shadow mismatch over the window with enough
/// reads. To `retired`: legacy-sync caught up.
pub fn checks(to: CutoverMode, f: &Figures, t: &Thresholds) -> Vec<Check> {
    match to {
        CutoverMode::Legacy => Vec::new(),
        CutoverMode::Shadow => vec![verify_check(f, t), cdc_check(f, t)],
        CutoverMode::Dynamo => vec![
            verify_check(f, t),
            cdc_check(f, t),
            Check {
                gate: "shadow reads",
                figure: format!(
                    "{} in the last {} min",
                    f.window.shadow_reads, f.window.minutes
                ),
                threshold: format!("at least {}", t.min_shadow_reads),
                met: f.window.shadow_reads >= u64::from(t.min_shadow_reads),
            },
            Check {
                gate: "shadow mismatches",
                figure: format!(
                    "{} in the last {} min",
                    f.window.shadow_mismatches, f.window.minutes
                ),
                threshold: "0".into(),
                met: f.window.shadow_mismatches == 0,
            },
        ],
        CutoverMode::Retired => vec![legacy_sync_check(f, t)],
    }
}

fn verify_check(f: &Figures, t: &Thresholds) -> Check {
    let max_age = Duration::from_secs(u64::from(t.verify_max_age_hours) * 3600);
    let threshold = format!("clean, within {} h", t.verify_max_age_hours);
    let Some(v) = &f.verify else {
        return Check {
            gate: "verify",
            figure: "never run (run `acme-infra migrate verify`)".into(),
            threshold,
            met: false,
        };
    };
    let age = f.at.duration_since(v.finished_at);
    let age_h = age.as_secs_f64() / 3600.0;
    let fresh = age.as_secs_f64() <= max_age.as_secs_f64();
    let figure = if v.clean {
        format!("clean, {} orders, {age_h:.1} h ago", v.checked)
    } else {
        format!("{} differences, {age_h:.1} h ago", v.differences)
    };
    Check {
        gate: "verify",
        figure,
        threshold,
        met: v.clean && fresh,
    }
}

fn cdc_check(f: &Figures, t: &Thresholds) -> Check {
    let (figure, met) = match f.cdc {
        CdcLag::NoSlot => ("no replication slot (no sync)".to_owned(), false),
        CdcLag::CaughtUp => ("0 s (caught up)".to_owned(), true),
        CdcLag::Behind { seconds } => (
            format!("{seconds:.1} s"),
            seconds <= f64::from(t.max_cdc_lag_seconds),
        ),
    };
    Check {
        gate: "CDC lag",
        figure,
        threshold: format!("at most {} s", t.max_cdc_lag_seconds),
        met,
    }
}

fn legacy_sync_check(f: &Figures, t: &Thresholds) -> Check {
    let (figure, met) = match f.legacy_sync {
        LegacySyncLag::NotRun => ("legacy-sync has not run".to_owned(), false),
        LegacySyncLag::Lag { seconds, .. } => (
            format!("{seconds:.1} s"),
            seconds <= f64::from(t.max_cdc_lag_seconds),
        ),
    };
    Check {
        gate: "legacy-sync lag",
        figure,
        threshold: format!("at most {} s", t.max_cdc_lag_seconds),
        met,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures() -> Figures {
        let at: Timestamp = "2026-12-06T12:00:00Z".parse().expect("time");
        Figures {
            county: "travis-tx".into(),
            mode: CutoverMode::Shadow,
            cdc: CdcLag::CaughtUp,
            legacy_sync: LegacySyncLag::NotRun,
            held_back: 0,
            verify: Some(VerifyRecord {
                finished_at: "2026-12-06T11:00:00Z".parse().expect("time"),
                clean: true,
                checked: 10,
                differences: 0,
            }),
            window: Window {
                minutes: 60,
                shadow_reads: 500,
                shadow_mismatches: 0,
                legacy_writes_flagged: 0,
            },
            at,
        }
    }

    const T: Thresholds = Thresholds {
        max_cdc_lag_seconds: 30,
        shadow_window_minutes: 60,
        min_shadow_reads: 500,
        verify_max_age_hours: 2,
    };

    fn met(to: CutoverMode, f: &Figures) -> Vec<bool> {
        checks(to, f, &T).iter().map(|c| c.met).collect()
    }

    #[test]
    fn each_gate_refuses_on_its_own_figure() {
        let f = figures();
        assert_eq!(met(CutoverMode::Dynamo, &f), [true; 4]);
        let mut stale = f.clone();
        stale.at = "2026-12-06T13:00:01Z".parse().expect("time");
        assert_eq!(met(CutoverMode::Shadow, &stale), [false, true]);
        let mut lagging = f.clone();
        lagging.cdc = CdcLag::Behind { seconds: 30.5 };
        assert_eq!(
            met(CutoverMode::Dynamo, &lagging),
            [true, false, true, true]
        );
        let mut few = f.clone();
        few.window.shadow_reads = 499;
        assert_eq!(met(CutoverMode::Dynamo, &few), [true, true, false, true]);
        let mut one = f.clone();
        one.window.shadow_mismatches = 1;
        assert_eq!(met(CutoverMode::Dynamo, &one), [true, true, true, false]);
        assert_eq!(met(CutoverMode::Retired, &f), [false]);
    }

    #[test]
    fn steps_are_adjacent_only() {
        use CutoverMode::*;
        assert!(step("c", Legacy, Shadow).is_ok());
        let e = step("c", Legacy, Dynamo).expect_err("two steps");
        assert_eq!(
            e.to_string(),
            "c is in mode `legacy`: a cutover moves one step at a time (legacy → shadow → dynamo \
             → retired), so from `legacy` the next is `shadow`"
        );
        assert!(step("c", Dynamo, Shadow).is_err(), "back is --rollback");
        assert_eq!(rollback("c", Dynamo), Ok(Shadow));
        assert!(rollback("c", Legacy).is_err());
    }
}

//! Many county stacks at once: preflight once, `concurrency` stacks at a
//! time, one result line per county as it finishes, a summary table and the
//! outputs file at the end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::artifact::StackArtifact;
use crate::bootstrap::STACK_NAME as BOOTSTRAP_STACK;
use crate::deploy::options::DeployOptions;
use crate::deploy::report::{DeployReport, Outcome, StackReport};
use crate::deployer::{Deployer, interrupted, preflight_usage};
use crate::error::DeployError;
use crate::output::Output;
use crate::reach::{Reach, by_target, unreachable};

/// How one spawned stack deploy ended: `Err(None)` when it never started
/// because another stack failed under `--fail-fast`.
type Finished = (
    StackArtifact,
    Result<StackReport, Option<DeployError>>,
    Duration,
);

/// What every spawned stack deploy shares.
#[derive(Clone)]
struct Shared {
    permits: Arc<Semaphore>,
    stop: Arc<AtomicBool>,
    opts: DeployOptions,
    out: Output,
}

/// A group of stacks in one account and region, and how it went when the
/// account was reached: its deployer and assets bucket, or why not.
type Group = (Vec<StackArtifact>, Result<(Deployer, String), Stop>);

/// Why a group's stacks are not deployed.
enum Stop {
    /// The account cannot be reached and the run may skip it.
    Unreachable(String),
    /// Reaching it failed, or it is not bootstrapped.
    Failed(DeployError),
}

impl Deployer {
    /// Deploys many stacks, `concurrency` at a time: one result line per
    /// county as it finishes, a summary table at the end. Keeps going past a
    /// failure unless `fail_fast`. Each account is reached and its bootstrap
    /// checked once, before any of its stacks is touched.
    pub async fn deploy(
        &self,
        artifacts: Vec<StackArtifact>,
        opts: &DeployOptions,
        out: &Output,
    ) -> Result<DeployReport, DeployError> {
        preflight_usage(&artifacts)?;
        if opts.concurrency == 0 {
            return Err(DeployError::usage("--concurrency must be at least 1"));
        }
        let total = artifacts.len();
        let groups = self.reach_groups(artifacts, opts, out).await?;
        let shared = Shared {
            permits: Arc::new(Semaphore::new(opts.concurrency)),
            stop: Arc::new(AtomicBool::new(false)),
            opts: opts.clone(),
            out: out.clone(),
        };
        let mut finished = Vec::with_capacity(total);
        let mut handles = Vec::new();
        for (artifacts, reached) in groups {
            match reached {
                Ok((d, bucket)) => handles.extend(artifacts.into_iter().map(|a| {
                    tokio::spawn(d.clone().deploy_one(a, shared.clone(), bucket.clone()))
                })),
                Err(stop) => finished.extend(stopped(artifacts, &stop, out)),
            }
        }
        for h in handles {
            match h.await {
                Ok(r) => finished.push(r),
                Err(join) => std::panic::resume_unwind(join.into_panic()),
            }
        }
        let (report, failures) = tally(finished);
        if total > 1 {
            summarize(&report, &failures, out);
        }
        if let Some(path) = &opts.outputs_file {
            write_outputs(path, &report)?;
        }
        verdict(report, failures, total)
    }

    /// Reaches every account the stacks are in and checks its bootstrap.
    /// Without `skip_unreachable` the first account that fails stops the run
    /// before anything is touched, as a single county's deploy always did.
    async fn reach_groups(
        &self,
        artifacts: Vec<StackArtifact>,
        opts: &DeployOptions,
        out: &Output,
    ) -> Result<Vec<Group>, DeployError> {
        let mut groups = Vec::new();
        for (target, members) in by_target(artifacts) {
            let reached = match self.reach(&target).await {
                Ok(Reach::Reached { deployer, identity }) => {
                    match deployer
                        .bootstrap_info(&identity.account, &identity.region)
                        .await
                    {
                        Ok(boot) => {
                            if let Some(note) = &boot.note {
                                out.note(BOOTSTRAP_STACK, note);
                            }
                            Ok((deployer, boot.bucket))
                        }
                        Err(e) => Err(Stop::Failed(e)),
                    }
                }
                Ok(Reach::Unreachable { reason }) if opts.skip_unreachable => {
                    Err(Stop::Unreachable(reason))
                }
                Ok(Reach::Unreachable { reason }) => {
                    Err(Stop::Failed(unreachable(&members, reason)))
                }
                Err(e) => Err(Stop::Failed(e)),
            };
            match reached {
                Err(Stop::Failed(e)) if !opts.skip_unreachable => return Err(e),
                reached => groups.push((members, reached)),
            }
        }
        Ok(groups)
    }

    /// One stack of a fleet, once a permit is free; not started after a
    /// `--fail-fast` failure or Ctrl-C.
    async fn deploy_one(self, artifact: StackArtifact, shared: Shared, bucket: String) -> Finished {
        let _permit = shared.permits.acquire_owned().await;
        let started = Instant::now();
        if shared.stop.load(Ordering::SeqCst) {
            return (artifact, Err(None), started.elapsed());
        }
        if self.interrupt().is_raised() {
            let e = interrupted(&artifact.stack_name, "not started; nothing changed");
            return (artifact, Err(Some(e)), started.elapsed());
        }
        let result = self
            .deploy_stack(&artifact, Some(&bucket), &shared.opts, &shared.out)
            .await;
        if result.is_err() && shared.opts.fail_fast {
            shared.stop.store(true, Ordering::SeqCst);
        }
        let elapsed = started.elapsed();
        emit_result(&shared.out, &artifact, &result, elapsed);
        (artifact, result.map_err(Some), elapsed)
    }
}

/// The results of a group's stacks that were not deployed, each with its line.
fn stopped(artifacts: Vec<StackArtifact>, stop: &Stop, out: &Output) -> Vec<Finished> {
    artifacts
        .into_iter()
        .map(|a| {
            let result = match stop {
                Stop::Unreachable(reason) => Ok(StackReport {
                    stack: a.stack_name.clone(),
                    county: a.county_id.clone(),
                    outcome: Outcome::Unreachable {
                        reason: reason.clone(),
                    },
                    seconds: 0.0,
                    outputs: BTreeMap::new(),
                    outputs_note: None,
                }),
                Stop::Failed(e) => Err(e.duplicate()),
            };
            emit_result(out, &a, &result, Duration::ZERO);
            (a, result.map_err(Some), Duration::ZERO)
        })
        .collect()
}

/// The report in input order (a stack that failed or never started is
/// `Skipped` there) and the failures by stack name.
fn tally(finished: Vec<Finished>) -> (DeployReport, Vec<(String, DeployError)>) {
    let mut report = DeployReport::default();
    let mut failures = Vec::new();
    for (artifact, result, elapsed) in finished {
        match result {
            Ok(r) => report.stacks.push(r),
            Err(e) => {
                report.stacks.push(StackReport {
                    stack: artifact.stack_name.clone(),
                    county: artifact.county_id.clone(),
                    outcome: Outcome::Skipped,
                    seconds: elapsed.as_secs_f64(),
                    outputs: BTreeMap::new(),
                    outputs_note: None,
                });
                if let Some(e) = e {
                    failures.push((artifact.stack_name, e));
                }
            }
        }
    }
    (report, failures)
}

/// One stack's failure is that stack's error; several make a fleet error.
fn verdict(
    report: DeployReport,
    mut failures: Vec<(String, DeployError)>,
    total: usize,
) -> Result<DeployReport, DeployError> {
    match failures.len() {
        0 => Ok(report),
        1 if total == 1 => Err(failures.remove(0).1),
        _ => Err(DeployError::Fleet { total, failures }),
    }
}

fn summarize(report: &DeployReport, failures: &[(String, DeployError)], out: &Output) {
    let failed: Vec<Value> = failures
        .iter()
        .map(|(s, e)| json!({"stack": s, "error": e.to_string(), "exit_code": e.exit_code()}))
        .collect();
    let data = json!({"stacks": report.stacks, "failed": failed});
    out.block("summary", &summary_table(report, failures), data);
}

/// The one line per county a fleet deploy prints as each county finishes.
fn emit_result(
    out: &Output,
    artifact: &StackArtifact,
    result: &Result<StackReport, DeployError>,
    elapsed: Duration,
) {
    let name = artifact.stack_name.as_str();
    match result {
        Ok(r) => {
            if let Some(note) = &r.outputs_note {
                out.note(name, note);
            }
            let data = json!({"county": artifact.county_id, "outcome": r.outcome, "seconds": elapsed.as_secs_f64()});
            out.emit(name, "result", &result_line(&r.outcome, elapsed), data);
        }
        Err(e) => {
            let text = format!(
                "FAILED after {:.1}s\n{}",
                elapsed.as_secs_f64(),
                e.report().trim_end()
            );
            let data = json!({"county": artifact.county_id, "error": e.to_string(), "exit_code": e.exit_code(), "fix": e.fix()});
            out.emit(name, "result", &text, data);
        }
    }
}

fn result_line(outcome: &Outcome, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    match outcome {
        Outcome::Created { changes } => format!("created ({changes} resources) in {secs:.1}s"),
        Outcome::Updated { changes } => format!("updated ({changes} change(s)) in {secs:.1}s"),
        Outcome::Unchanged { reason } => format!("no changes ({reason}) in {secs:.1}s"),
        Outcome::Skipped => "skipped".to_string(),
        Outcome::Unreachable { reason } => format!("skipped: {reason}"),
    }
}

fn summary_table(report: &DeployReport, failures: &[(String, DeployError)]) -> String {
    let mut s = format!(
        "{:<10} {:<18} {:<10} {:>7} {:>8}\n",
        "COUNTY", "STACK", "RESULT", "CHANGES", "TIME"
    );
    for r in &report.stacks {
        let failed = failures.iter().any(|(n, _)| n == &r.stack);
        let (word, n) = match (&r.outcome, failed) {
            (_, true) => ("FAILED", String::from("-")),
            (Outcome::Created { changes }, _) => ("created", changes.to_string()),
            (Outcome::Updated { changes }, _) => ("updated", changes.to_string()),
            (Outcome::Unchanged { .. }, _) => ("unchanged", "0".into()),
            (Outcome::Skipped, _) => ("skipped", "-".into()),
            (Outcome::Unreachable { .. }, _) => ("unreached", "-".into()),
        };
        s.push_str(&format!(
            "{:<10} {:<18} {:<10} {:>7} {:>7.1}s\n",
            r.county, r.stack, word, n, r.seconds
        ));
    }
    let unreached = report
        .stacks
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Unreachable { .. }))
        .count();
    let ok = report.stacks.len() - failures.len() - unreached;
    s.push_str(&format!("{ok} ok, {} failed", failures.len()));
    if unreached > 0 {
        s.push_str(&format!(
            ", {unreached} not reachable from these credentials (skipped)"
        ));
    }
    s.push('\n');
    s
}

fn write_outputs(path: &std::path::Path, report: &DeployReport) -> Result<(), DeployError> {
    let mut doc = serde_json::Map::new();
    for r in report
        .stacks
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Skipped | Outcome::Unreachable { .. }))
    {
        doc.insert(
            r.county.clone(),
            serde_json::to_value(&r.outputs).unwrap_or(Value::Null),
        );
    }
    let text = serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_default();
    std::fs::write(path, text + "\n").map_err(|source| DeployError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(county: &str, outcome: Outcome) -> StackReport {
        StackReport {
            stack: format!("acme-{county}"),
            county: county.into(),
            outcome,
            seconds: 1.5,
            outputs: BTreeMap::new(),
            outputs_note: None,
        }
    }

    #[test]
    fn the_summary_counts_failures_as_failed_whatever_the_report_says() {
        let r = DeployReport {
            stacks: vec![
                report("ca", Outcome::Created { changes: 7 }),
                report("ny", Outcome::Unchanged { reason: "x".into() }),
                report("tx", Outcome::Skipped),
            ],
        };
        let failures = vec![("acme-tx".to_string(), DeployError::usage("boom"))];
        let table = summary_table(&r, &failures);
        assert!(
            table.contains("ca         acme-ca            created          7"),
            "{table}"
        );
        assert!(table.contains("unchanged        0"), "{table}");
        assert!(table.contains("FAILED           -"), "{table}");
        assert!(table.ends_with("2 ok, 1 failed\n"), "{table}");
    }

    #[test]
    fn one_stack_fails_with_its_own_error_and_several_as_a_fleet() {
        let one = || vec![("acme-ca".to_string(), DeployError::usage("boom"))];
        let e = verdict(DeployReport::default(), one(), 1).expect_err("failed");
        assert!(matches!(e, DeployError::Usage { .. }), "{e:?}");
        let e = verdict(DeployReport::default(), one(), 2).expect_err("failed");
        assert!(matches!(e, DeployError::Fleet { total: 2, .. }), "{e:?}");
        assert!(verdict(DeployReport::default(), vec![], 2).is_ok());
    }

    #[test]
    fn result_lines_say_what_happened() {
        let t = Duration::from_millis(2500);
        assert_eq!(
            result_line(&Outcome::Created { changes: 3 }, t),
            "created (3 resources) in 2.5s"
        );
        assert_eq!(
            result_line(&Outcome::Updated { changes: 1 }, t),
            "updated (1 change(s)) in 2.5s"
        );
        assert_eq!(result_line(&Outcome::Skipped, t), "skipped");
    }
}

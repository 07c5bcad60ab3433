//! `diff`, `destroy` and `status`: the read-mostly commands.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use aws_sdk_cloudformation::types::{Stack, StackStatus};

use crate::artifact::{DEPLOY_HASH_TAG, StackArtifact};
use crate::deployer::{Deployer, preflight_usage};
use crate::error::DeployError;
use crate::output::Output;
use crate::reach::{Reach, by_target, unreachable};
use crate::safety::is_stateful;
use crate::stack::{is_failed_or_rolled_back, status_of, status_text, tag};
use crate::template_diff::{TemplateDiff, diff_templates};

/// One stack's diff against what is deployed.
#[derive(Debug, Clone, Serialize)]
pub struct StackDiff {
    /// Stack name.
    pub stack: String,
    /// False when the stack does not exist yet (everything is an addition).
    pub deployed: bool,
    /// The template diff.
    pub diff: TemplateDiff,
}

/// One row of `status`.
#[derive(Debug, Clone, Serialize)]
pub struct StackStatusRow {
    /// County id.
    pub county: String,
    /// Stack name.
    pub stack: String,
    /// CloudFormation status, `NOT_DEPLOYED`, or `NOT_VISIBLE` when the
    /// stack belongs in another account or region than the credentials'.
    pub status: String,
    /// Status reason, when CloudFormation gives one.
    pub reason: Option<String>,
    /// Last update (or creation) time, RFC 3339.
    pub updated: Option<String>,
    /// Termination protection.
    pub termination_protection: bool,
    /// The deploy hash recorded on the stack (first 12 hex digits).
    pub deploy_hash: Option<String>,
}

/// `status` of a stack in another account or region than the credentials':
/// they cannot see it, so whether it exists is unknown.
pub const NOT_VISIBLE: &str = "NOT_VISIBLE";

/// A resource that outlives its stack (`DeletionPolicy: Retain`).
#[derive(Debug, Clone, Serialize)]
pub struct Retained {
    /// Logical id.
    pub logical_id: String,
    /// Type.
    pub resource_type: String,
    /// Physical id (table name, bucket name...).
    pub physical_id: String,
}

impl Deployer {
    /// Template diff of each artifact against its deployed stack, each
    /// account reached as its county file says. With `fail`, returns
    /// [`DeployError::DiffFound`] when anything differs. With
    /// `skip_unreachable` (a whole-fleet run), stacks whose account cannot be
    /// reached are listed as not compared instead of failing the run.
    pub async fn diff(
        &self,
        artifacts: &[StackArtifact],
        fail: bool,
        skip_unreachable: bool,
        out: &Output,
    ) -> Result<Vec<StackDiff>, DeployError> {
        preflight_usage(artifacts)?;
        let mut diffs = Vec::new();
        let mut unreached = Vec::new();
        for (target, members) in by_target(artifacts.to_vec()) {
            let d = match self.reach(&target).await? {
                Reach::Reached { deployer, .. } => deployer,
                Reach::Unreachable { reason } if skip_unreachable => {
                    for a in &members {
                        let text = format!("not compared: {reason}");
                        out.emit(&a.stack_name, "diff", &text, json!({"unreachable": reason}));
                        unreached.push(a.stack_name.clone());
                    }
                    continue;
                }
                Reach::Unreachable { reason } => return Err(unreachable(&members, reason)),
            };
            for a in &members {
                let diff = d.diff_one(a).await?;
                out.emit(
                    &a.stack_name,
                    "diff",
                    &diff_text(&diff),
                    json!({"deployed": diff.deployed, "diff": diff.diff}),
                );
                diffs.push(diff);
            }
        }
        diff_summary(&diffs, &unreached, out);
        let differing: Vec<String> = diffs
            .iter()
            .filter(|d| !d.deployed || !d.diff.is_empty())
            .map(|d| d.stack.clone())
            .collect();
        if fail && !differing.is_empty() {
            return Err(DeployError::DiffFound { stacks: differing });
        }
        Ok(diffs)
    }

    async fn diff_one(&self, a: &StackArtifact) -> Result<StackDiff, DeployError> {
        let new = a.template()?;
        // A stack left in REVIEW_IN_PROGRESS has no resources yet.
        let deployed = self
            .describe_stack(&a.stack_name)
            .await?
            .is_some_and(|s| status_of(&s) != StackStatus::ReviewInProgress);
        let old = if deployed {
            self.deployed_template(&a.stack_name)
                .await?
                .unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        Ok(StackDiff {
            stack: a.stack_name.clone(),
            deployed,
            diff: diff_templates(&old, &new),
        })
    }

    /// Deletes each artifact's stack after asking (unless `yes`), turning
    /// termination protection off first, and lists what survives it.
    pub async fn destroy(
        &self,
        artifacts: &[StackArtifact],
        yes: bool,
        out: &Output,
    ) -> Result<Vec<Retained>, DeployError> {
        preflight_usage(artifacts)?;
        let mut survivors = Vec::new();
        for (target, members) in by_target(artifacts.to_vec()) {
            let d = match self.reach(&target).await? {
                Reach::Reached { deployer, .. } => deployer,
                Reach::Unreachable { reason } => return Err(unreachable(&members, reason)),
            };
            survivors.extend(d.destroy_reached(&members, yes, out).await?);
        }
        Ok(survivors)
    }

    /// `destroy` of stacks in the account these clients reach.
    async fn destroy_reached(
        &self,
        artifacts: &[StackArtifact],
        yes: bool,
        out: &Output,
    ) -> Result<Vec<Retained>, DeployError> {
        let mut survivors = Vec::new();
        for a in artifacts {
            let Some(stack) = self.describe_stack(&a.stack_name).await? else {
                out.note(&a.stack_name, "does not exist; nothing to destroy");
                continue;
            };
            let id = stack.stack_id().unwrap_or(&a.stack_name).to_string();
            let template = self.deployed_template(&id).await?.unwrap_or(Value::Null);
            let physical = self.physical_ids(&id).await?;
            let retained = retained(&template, &physical);
            if !yes {
                let question = destroy_question(&a.stack_name, &stack, &physical, &retained);
                confirm_destroy(&a.stack_name, &question, out).await?;
            }
            self.delete_and_wait(&stack, physical.len() as u64, out)
                .await?;
            out.emit(
                &a.stack_name,
                "destroyed",
                &destroyed_text(&retained),
                json!({"retained": retained}),
            );
            survivors.extend(retained);
        }
        Ok(survivors)
    }

    /// Every artifact's stack status in one table, each account reached as
    /// its county file says. A stack whose account cannot be reached is
    /// `NOT_VISIBLE`, never absent; a way in that fails is shown on its
    /// rows and fails the command once the table is out.
    pub async fn status(
        &self,
        artifacts: &[StackArtifact],
        out: &Output,
    ) -> Result<Vec<StackStatusRow>, DeployError> {
        preflight_usage(artifacts)?;
        let mut rows = Vec::with_capacity(artifacts.len());
        let mut failed = None;
        for (target, members) in by_target(artifacts.to_vec()) {
            let seen = match self.reach(&target).await {
                Ok(Reach::Reached { deployer, .. }) => {
                    // One paginated DescribeStacks per account instead of
                    // one call per county: 3,000 counties are ~30 calls.
                    let by_name = deployer.list_stacks().await?;
                    members
                        .iter()
                        .map(|a| status_row(a, by_name.get(&a.stack_name)))
                        .collect()
                }
                Ok(Reach::Unreachable { reason }) => not_visible_rows(&members, &reason),
                Err(e) => {
                    let rows = not_visible_rows(&members, &e.to_string());
                    failed.get_or_insert(e);
                    rows
                }
            };
            rows.extend(seen);
        }
        rows.sort_by_key(|r| artifacts.iter().position(|a| a.stack_name == r.stack));
        out.block("status", &status_table(&rows), json!({"stacks": rows}));
        match failed {
            Some(e) => Err(e),
            None => Ok(rows),
        }
    }
}

/// The rows of stacks these credentials cannot see, with why.
fn not_visible_rows(members: &[StackArtifact], reason: &str) -> Vec<StackStatusRow> {
    members
        .iter()
        .map(|a| StackStatusRow {
            county: a.county_id.clone(),
            stack: a.stack_name.clone(),
            status: NOT_VISIBLE.into(),
            reason: Some(format!(
                "it belongs in account {} ({}); {reason}",
                a.account, a.region
            )),
            updated: None,
            termination_protection: false,
            deploy_hash: None,
        })
        .collect()
}

/// The line after a diff of several stacks, or of any not compared.
fn diff_summary(diffs: &[StackDiff], unreached: &[String], out: &Output) {
    if unreached.is_empty() && diffs.len() < 2 {
        return;
    }
    let differ = diffs
        .iter()
        .filter(|d| !d.deployed || !d.diff.is_empty())
        .count();
    let mut text = format!("{differ} differ, {} unchanged", diffs.len() - differ);
    if !unreached.is_empty() {
        text.push_str(&format!(
            ", {} not reachable from these credentials (not compared: {})",
            unreached.len(),
            unreached.join(", ")
        ));
    }
    let data =
        json!({"differ": differ, "unchanged": diffs.len() - differ, "unreachable": unreached});
    out.emit("diff", "summary", &text, data);
}

fn diff_text(d: &StackDiff) -> String {
    let headline = match (d.deployed, d.diff.is_empty()) {
        (false, _) => format!(
            "not deployed: {} resource(s) would be created",
            d.diff.resources.len()
        ),
        (true, true) => "no differences".to_string(),
        (true, false) => format!("{} resource(s) differ", d.diff.resources.len()),
    };
    let body = d.diff.render();
    if d.diff.is_empty() || body.is_empty() {
        headline
    } else {
        format!("{headline}\n{}", body.trim_end())
    }
}

/// The deployed resources a stack deletion leaves behind (`DeletionPolicy`
/// `Retain`/`RetainExceptOnCreate`).
fn retained(template: &Value, physical: &BTreeMap<String, (String, String)>) -> Vec<Retained> {
    template
        .get("Resources")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(_, r)| {
            matches!(
                r.get("DeletionPolicy").and_then(Value::as_str),
                Some("Retain" | "RetainExceptOnCreate")
            )
        })
        .filter_map(|(lid, _)| {
            let (ty, pid) = physical.get(lid)?;
            Some(Retained {
                logical_id: lid.clone(),
                resource_type: ty.clone(),
                physical_id: pid.clone(),
            })
        })
        .collect()
}

/// The question before a deletion: what data goes with it, what stays.
fn destroy_question(
    name: &str,
    stack: &Stack,
    physical: &BTreeMap<String, (String, String)>,
    retained: &[Retained],
) -> String {
    let lost: Vec<String> = physical
        .iter()
        .filter(|(lid, (ty, _))| is_stateful(ty) && !retained.iter().any(|r| &r.logical_id == *lid))
        .map(|(lid, (ty, pid))| format!("{lid} ({ty}) {pid}"))
        .collect();
    let mut question = format!(
        "Delete stack {name} ({} resources, status {})?",
        physical.len(),
        status_text(stack)
    );
    if !lost.is_empty() {
        question.push_str(&format!(
            " DATA WILL BE DELETED with it: {}.",
            lost.join(", ")
        ));
    }
    if !retained.is_empty() {
        let kept: Vec<&str> = retained.iter().map(|r| r.physical_id.as_str()).collect();
        question.push_str(&format!(
            " Kept (DeletionPolicy Retain): {}.",
            kept.join(", ")
        ));
    }
    question
}

async fn confirm_destroy(name: &str, question: &str, out: &Output) -> Result<(), DeployError> {
    if !out.interactive() {
        return Err(DeployError::NotApproved {
            stack: name.to_string(),
            reason: "destroy needs confirmation and there is no terminal to ask".into(),
            fix: "run it on a terminal, or pass --yes".into(),
        });
    }
    if !out.confirm(question).await {
        return Err(DeployError::NotApproved {
            stack: name.to_string(),
            reason: "the operator declined".into(),
            fix: "nothing was deleted".into(),
        });
    }
    Ok(())
}

fn destroyed_text(retained: &[Retained]) -> String {
    let mut msg = "deleted".to_string();
    if !retained.is_empty() {
        msg.push_str("; these resources were retained and still exist (delete them by hand if that is intended):");
        for r in retained {
            msg.push_str(&format!(
                "\n    {} {} ({})",
                r.resource_type, r.physical_id, r.logical_id
            ));
        }
    }
    msg
}

fn status_row(a: &StackArtifact, stack: Option<&Stack>) -> StackStatusRow {
    let Some(s) = stack else {
        return StackStatusRow {
            county: a.county_id.clone(),
            stack: a.stack_name.clone(),
            status: "NOT_DEPLOYED".into(),
            reason: None,
            updated: None,
            termination_protection: false,
            deploy_hash: None,
        };
    };
    StackStatusRow {
        county: a.county_id.clone(),
        stack: a.stack_name.clone(),
        status: status_text(s).to_string(),
        reason: s.stack_status_reason().map(str::to_string),
        updated: s
            .last_updated_time()
            .or(s.creation_time())
            .map(|t| t.to_string()),
        termination_protection: s.enable_termination_protection().unwrap_or(false),
        deploy_hash: tag(s, DEPLOY_HASH_TAG).map(|h| h.chars().take(12).collect()),
    }
}

/// A whole timestamp to the second, `2026-05-06T17:03:09Z`: the SDK's text
/// may carry fractions of a second, which the column has no room for, and
/// cutting it at a fixed width would cut a timestamp without them mid-way.
fn updated_column(rfc3339: &str) -> String {
    match rfc3339.split_once('.') {
        Some((whole, _)) if rfc3339.ends_with('Z') => format!("{whole}Z"),
        _ => rfc3339.to_owned(),
    }
}

fn status_table(rows: &[StackStatusRow]) -> String {
    let mut table = format!(
        "{:<10} {:<18} {:<26} {:<20} {:<4} {}\n",
        "COUNTY", "STACK", "STATUS", "UPDATED", "TP", "HASH"
    );
    for r in rows {
        let updated = r
            .updated
            .as_deref()
            .map(updated_column)
            .unwrap_or_else(|| "-".into());
        table.push_str(&format!(
            "{:<10} {:<18} {:<26} {:<20} {:<4} {}\n",
            r.county,
            r.stack,
            r.status,
            updated,
            if r.termination_protection {
                "on"
            } else {
                "off"
            },
            r.deploy_hash.as_deref().unwrap_or("-"),
        ));
        let troubled = r.status == NOT_VISIBLE
            || is_failed_or_rolled_back(&StackStatus::from(r.status.as_str()));
        if let Some(reason) = r.reason.as_deref().filter(|_| troubled) {
            table.push_str(&format!("           └ {reason}\n"));
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_updated_column_holds_whole_timestamps_and_unseen_stacks_say_why() {
        assert_eq!(
            updated_column("2026-05-06T17:03:09.52Z"),
            "2026-05-06T17:03:09Z"
        );
        assert_eq!(
            updated_column("2026-05-06T17:03:09Z"),
            "2026-05-06T17:03:09Z"
        );
        let row = StackStatusRow {
            county: "king-wa".into(),
            stack: "acme-king-wa".into(),
            status: NOT_VISIBLE.into(),
            reason: Some("it belongs in account 222222222222".into()),
            updated: Some("2026-05-06T17:03:09.123Z".into()),
            termination_protection: true,
            deploy_hash: None,
        };
        let table = status_table(&[row]);
        assert!(table.contains("2026-05-06T17:03:09Z "), "{table}");
        assert!(
            table.contains("└ it belongs in account 222222222222"),
            "{table}"
        );
    }
}

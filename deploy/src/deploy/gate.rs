//! The gate between a computed change set and its execution: safety checks
//! first, then approval. Order matters: a refused change must never reach the
//! approval prompt (a "yes" cannot override safety).

use serde_json::Value;

use crate::bootstrap::STACK_NAME as BOOTSTRAP_STACK;
use crate::changes::ResourceChange;
use crate::deploy::options::{DeployOptions, RequireApproval};
use crate::deployer::{Deployer, interrupted};
use crate::error::DeployError;
use crate::output::Output;
use crate::safety;
use crate::template_diff::TemplateDiff;

/// What the gate looks at.
pub(crate) struct Proposal<'a> {
    pub stack: &'a str,
    pub county: &'a str,
    pub rows: &'a [ResourceChange],
    pub diff: &'a TemplateDiff,
    /// The deployed template; `None` for a create or a non-JSON template.
    pub old: Option<&'a Value>,
    pub new: &'a Value,
}

impl Deployer {
    /// Safety checks, then approval; `Ok` only when the change may run.
    pub(crate) async fn gate(
        &self,
        p: &Proposal<'_>,
        opts: &DeployOptions,
        out: &Output,
    ) -> Result<(), DeployError> {
        safety_checks(p, opts)?;
        let Some(reason) = approval_reason(opts.require_approval, p.rows) else {
            return Ok(());
        };
        self.ask_approval(p.stack, &reason, out).await
    }

    async fn ask_approval(
        &self,
        name: &str,
        reason: &str,
        out: &Output,
    ) -> Result<(), DeployError> {
        if !out.interactive() {
            return Err(DeployError::NotApproved {
                stack: name.into(),
                reason: format!("{reason}; approval is required and there is no terminal to ask"),
                fix: "review the changes above, then run again on a terminal to approve, or pass --require-approval never".into(),
            });
        }
        let question = format!("{name}: {reason}. Deploy these changes?");
        let approved = tokio::select! {
            answer = out.confirm(&question) => answer,
            () = self.interrupt().raised() => {
                return Err(interrupted(name, "the change set was not approved; nothing was executed"));
            }
        };
        if approved {
            Ok(())
        } else {
            Err(DeployError::NotApproved {
                stack: name.into(),
                reason: format!("{reason}; the operator declined"),
                fix: "nothing was changed; deploy again when ready".into(),
            })
        }
    }
}

/// Stateful replacements and deletions (unless allowed), and at most one
/// GSI change per table.
fn safety_checks(p: &Proposal<'_>, opts: &DeployOptions) -> Result<(), DeployError> {
    let county = (p.stack != BOOTSTRAP_STACK).then_some(p.county);
    let allowed = opts.allowed_for(county.unwrap_or_default());
    safety::check_stateful(p.stack, county, p.rows, Some(p.diff), &allowed)?;
    if let Some(old) = p.old {
        safety::check_gsi_limit(p.stack, old, p.new)?;
    }
    Ok(())
}

/// Why a human must approve these changes; `None` when no one needs to.
fn approval_reason(require: RequireApproval, rows: &[ResourceChange]) -> Option<String> {
    match require {
        RequireApproval::Never => None,
        RequireApproval::AnyChange => Some(format!(
            "{} change(s) and --require-approval any-change",
            rows.len()
        )),
        RequireApproval::Broadening => {
            let b = safety::broadening_changes(rows);
            (!b.is_empty()).then(|| format!("access may widen: {}", b.join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::ChangeKind;

    fn row(kind: ChangeKind, id: &str, ty: &str) -> ResourceChange {
        ResourceChange {
            kind,
            logical_id: id.into(),
            resource_type: ty.into(),
            replacement: None,
            causes: vec![],
        }
    }

    #[test]
    fn approval_is_asked_as_the_operator_chose() {
        let harmless = [row(ChangeKind::Modify, "Queue", "AWS::SQS::Queue")];
        let widening = [row(ChangeKind::Add, "Role", "AWS::IAM::Role")];
        assert_eq!(approval_reason(RequireApproval::Never, &widening), None);
        assert_eq!(
            approval_reason(RequireApproval::Broadening, &harmless),
            None
        );
        let why = approval_reason(RequireApproval::Broadening, &widening).expect("asked");
        assert!(why.starts_with("access may widen: "), "{why}");
        assert!(why.contains("Role"), "{why}");
        assert_eq!(
            approval_reason(RequireApproval::AnyChange, &harmless).as_deref(),
            Some("1 change(s) and --require-approval any-change")
        );
    }
}

//! Stack events: streaming them while an operation runs, and finding the
//! first failure when it ends badly.

use std::collections::BTreeSet;

use aws_sdk_cloudformation::types::{ResourceStatus, StackEvent};
use serde::Serialize;

/// The first failing resource of a failed stack operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureDiagnosis {
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// e.g. `CREATE_FAILED`.
    pub status: String,
    /// CloudFormation's status reason, verbatim.
    pub reason: String,
    /// The most likely fix, from [`KNOWN_FAILURES`].
    pub fix: &'static str,
}

/// Known failure reasons (substring, case-insensitive) and their likely fixes.
/// First match wins, so specific entries come before general ones.
pub const KNOWN_FAILURES: &[(&str, &str)] = &[
    (
        "already exists",
        "name collision: a resource with this name exists outside this stack (an earlier stack's retained table or bucket?). Drop the explicit name, import the existing resource, or remove it",
    ),
    (
        "pending deletion",
        "the KMS key is scheduled for deletion: run `aws kms cancel-key-deletion --key-id <id>` and `aws kms enable-key --key-id <id>`, then deploy again",
    ),
    (
        "kmsinvalidstate",
        "the KMS key is disabled or pending deletion: cancel the deletion / enable the key, then deploy again",
    ),
    (
        "more than one gsi",
        "stage the index changes: one GSI creation or deletion per deploy",
    ),
    (
        "only 1 online index",
        "stage the index changes: one GSI creation or deletion per deploy",
    ),
    (
        "not authorized to perform",
        "missing permission: grant the action named in the reason to the deploy role (or the role CloudFormation assumes), then deploy again",
    ),
    (
        "accessdenied",
        "missing permission: grant the action named in the reason to the deploy role (or the role CloudFormation assumes), then deploy again",
    ),
    (
        "access denied",
        "missing permission: grant the action named in the reason to the deploy role (or the role CloudFormation assumes), then deploy again",
    ),
    (
        "limitexceeded",
        "a service quota was hit: request an increase in Service Quotas, or delete unused resources of that type",
    ),
    (
        "limit exceeded",
        "a service quota was hit: request an increase in Service Quotas, or delete unused resources of that type",
    ),
    (
        "rate exceeded",
        "throttled: deploy again with a lower --concurrency",
    ),
    (
        "throttling",
        "throttled: deploy again with a lower --concurrency",
    ),
    (
        "no export named",
        "a cross-stack import is missing: deploy the exporting stack first",
    ),
    (
        "cannot be deleted as it is in use",
        "another stack imports this output: remove the import there first",
    ),
    (
        "properties validation failed",
        "the template has an invalid property: fix the generator (the reason names the property)",
    ),
    (
        "template format error",
        "the template is malformed: this is a generator bug",
    ),
    (
        "s3 error: access denied",
        "CloudFormation cannot read the asset: check the assets bucket policy and the bootstrap version",
    ),
    (
        "nosuchkey",
        "an asset is missing from the assets bucket: deploy again (assets are uploaded before the change set)",
    ),
    (
        "internal failure",
        "a transient CloudFormation error: deploy again",
    ),
];

/// The likely fix for a failure reason, if it is a known one.
pub fn likely_fix(code: &str, reason: &str) -> Option<&'static str> {
    let hay = format!("{code} {reason}").to_ascii_lowercase();
    KNOWN_FAILURES
        .iter()
        .find(|(needle, _)| hay.contains(needle))
        .map(|(_, fix)| *fix)
}

/// Where one resource's operation stands, from an event's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Still running.
    Running,
    /// Finished (or skipped) without failing.
    Done,
    /// Failed.
    Failed,
}

/// The phase of an event's status.
pub(crate) fn phase(status: &ResourceStatus) -> Phase {
    use ResourceStatus as S;
    match status {
        S::CreateFailed
        | S::DeleteFailed
        | S::ExportFailed
        | S::ExportRollbackFailed
        | S::ImportFailed
        | S::ImportRollbackFailed
        | S::RollbackFailed
        | S::UpdateFailed
        | S::UpdateRollbackFailed => Phase::Failed,
        S::CreateComplete
        | S::DeleteComplete
        | S::DeleteSkipped
        | S::ExportComplete
        | S::ExportRollbackComplete
        | S::ImportComplete
        | S::ImportRollbackComplete
        | S::RollbackComplete
        | S::UpdateComplete
        | S::UpdateRollbackComplete => Phase::Done,
        S::CreateInProgress
        | S::DeleteInProgress
        | S::ExportInProgress
        | S::ExportRollbackInProgress
        | S::ImportInProgress
        | S::ImportRollbackInProgress
        | S::RollbackInProgress
        | S::UpdateInProgress
        | S::UpdateRollbackInProgress => Phase::Running,
        // Stack-level statuses this enum lacks (e.g. the cleanup phases) and
        // statuses newer than this SDK: the spelling is all there is.
        other => {
            let s = other.as_str();
            if s.ends_with("_FAILED") {
                Phase::Failed
            } else if s.ends_with("_COMPLETE") || s.ends_with("_SKIPPED") {
                Phase::Done
            } else {
                Phase::Running
            }
        }
    }
}

/// True for an event that reports a failure.
pub(crate) fn is_failure(e: &StackEvent) -> bool {
    e.resource_status()
        .is_some_and(|s| phase(s) == Phase::Failed)
}

fn is_cancellation(reason: &str) -> bool {
    // Siblings of the real failure are cancelled with these; never the cause.
    let r = reason.to_ascii_lowercase();
    r.contains("resource creation cancelled")
        || r.contains("resource update cancelled")
        || r.contains("resource deletion cancelled")
}

/// The earliest `*_FAILED` resource event (not the stack itself, not a
/// cancellation). `events` may be in any order.
pub fn first_failure(stack_name: &str, events: &[StackEvent]) -> Option<FailureDiagnosis> {
    let mut failed: Vec<&StackEvent> = events
        .iter()
        .filter(|e| is_failure(e))
        .filter(|e| !e.resource_status_reason().is_some_and(is_cancellation))
        .collect();
    failed.sort_by_key(|e| e.timestamp().map(|t| (t.secs(), t.subsec_nanos())));
    let is_stack = |e: &&StackEvent| {
        e.resource_type() == Some("AWS::CloudFormation::Stack")
            && e.logical_resource_id() == Some(stack_name)
    };
    // Prefer a resource; fall back to the stack's own failure event.
    let pick = failed
        .iter()
        .find(|e| !is_stack(e))
        .or_else(|| failed.first())?;
    let reason = pick
        .resource_status_reason()
        .unwrap_or("(no reason given)")
        .to_string();
    Some(FailureDiagnosis {
        logical_id: pick.logical_resource_id().unwrap_or("?").to_string(),
        resource_type: pick.resource_type().unwrap_or("?").to_string(),
        status: pick
            .resource_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        fix: likely_fix("", &reason).unwrap_or(
            "read the reason above; `acme-infra status` shows the stack's current state",
        ),
        reason,
    })
}

/// Progress bookkeeping: which resources have finished.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    done: BTreeSet<String>,
}

impl Tally {
    /// Records an event; true when it finished a resource for the first time.
    pub(crate) fn record(&mut self, stack_name: &str, e: &StackEvent) -> bool {
        let id = e.logical_resource_id().unwrap_or("");
        if id == stack_name || id.is_empty() {
            return false;
        }
        match e.resource_status().map(phase) {
            Some(Phase::Done | Phase::Failed) => self.done.insert(id.to_string()),
            Some(Phase::Running) | None => false,
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.done.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::primitives::DateTime;
    use aws_sdk_cloudformation::types::ResourceStatus;

    fn ev(secs: i64, id: &str, ty: &str, status: ResourceStatus, reason: &str) -> StackEvent {
        StackEvent::builder()
            .stack_name("acme-1")
            .event_id(format!("{id}-{secs}"))
            .logical_resource_id(id)
            .resource_type(ty)
            .resource_status(status)
            .resource_status_reason(reason)
            .timestamp(DateTime::from_secs(secs))
            .build()
    }

    #[test]
    fn earliest_real_failure_wins() {
        let events = vec![
            ev(
                5,
                "acme-1",
                "AWS::CloudFormation::Stack",
                ResourceStatus::RollbackInProgress,
                "The following resource(s) failed to create: [Table].",
            ),
            ev(
                4,
                "Queue",
                "AWS::SQS::Queue",
                ResourceStatus::CreateFailed,
                "Resource creation cancelled",
            ),
            ev(
                3,
                "Table",
                "AWS::DynamoDB::Table",
                ResourceStatus::CreateFailed,
                "Resource handler returned message: \"Table already exists: acme-1-orders\"",
            ),
        ];
        let d = first_failure("acme-1", &events).expect("diagnosis");
        assert_eq!(d.logical_id, "Table");
        assert!(d.fix.starts_with("name collision"), "{}", d.fix);
    }

    #[test]
    fn every_event_status_has_a_phase() {
        for s in ResourceStatus::values() {
            let status = ResourceStatus::from(*s);
            assert!(ResourceStatus::try_parse(s).is_ok(), "{s}");
            let want = if s.ends_with("_FAILED") {
                Phase::Failed
            } else if s.ends_with("_COMPLETE") || s.ends_with("_SKIPPED") {
                Phase::Done
            } else {
                Phase::Running
            };
            assert_eq!(phase(&status), want, "{s}");
        }
        let cleanup = ResourceStatus::from("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS");
        assert_eq!(phase(&cleanup), Phase::Running);
    }

    #[test]
    fn fixes_table() {
        assert!(likely_fix("", "User: arn:aws:sts::1:assumed-role/deploy is not authorized to perform: dynamodb:CreateTable").is_some_and(|f| f.contains("permission")));
        assert!(
            likely_fix("", "arn:aws:kms:us-east-1:1:key/abc is pending deletion.")
                .is_some_and(|f| f.contains("cancel-key-deletion"))
        );
        assert!(likely_fix("LimitExceededException", "").is_some_and(|f| f.contains("quota")));
        assert!(likely_fix("", "everything is fine").is_none());
    }
}

//! The first decision of every stack deploy, made from what CloudFormation
//! says is deployed and nothing else: skip, create, update, recreate, or
//! refuse. Pure, so every stack status is tested here.

use aws_sdk_cloudformation::types::{Stack, StackStatus};

use crate::artifact::DEPLOY_HASH_TAG;
use crate::error::{DeployError, RefusalKind};
use crate::stack::{status_of, tag};

/// What the deployed stack looks like, as far as the plan cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackState<'a> {
    /// CloudFormation's status.
    pub status: StackStatus,
    /// The `acme:deploy-hash` tag, if the stack carries one.
    pub deploy_hash: Option<&'a str>,
    /// Whether the deployed template and parameters are the wanted ones, once
    /// read (`None`: not read yet). A tag alone is not proof: an update that
    /// does not rewrite the stack's tags (the local emulator's change sets)
    /// leaves the previous deploy's hash on a stack that has changed since.
    pub deployed_matches: Option<bool>,
}

impl<'a> StackState<'a> {
    /// The state of a described stack.
    pub fn of(stack: &'a Stack) -> Self {
        Self {
            status: status_of(stack),
            deploy_hash: tag(stack, DEPLOY_HASH_TAG),
            deployed_matches: None,
        }
    }
}

/// What to do with one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The stack is settled and already carries the wanted deploy hash, and
    /// its template and parameters were found to be the wanted ones.
    Skip,
    /// The hash matches: read the deployed template and parameters, then
    /// plan again with [`StackState::deployed_matches`] set.
    Confirm,
    /// A CREATE change set: no stack, or an empty one a CREATE change set
    /// that was never executed left in `REVIEW_IN_PROGRESS`.
    Create,
    /// An UPDATE change set.
    Update,
    /// Its first create failed and CloudFormation cannot update it: delete
    /// it, then create it again.
    Recreate,
    /// Nothing can be deployed until someone acts.
    Refuse(Refusal),
}

/// Why a stack cannot be deployed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Another operation is running on it.
    Busy(StackStatus),
    /// An update's rollback failed; CloudFormation needs a continued rollback.
    UpdateRollbackFailed,
    /// A deletion failed half way.
    DeleteFailed,
}

impl Refusal {
    /// The refusal as the error the operator sees, with what to do next.
    pub fn into_error(self, stack: &str) -> DeployError {
        let (reason, fix) = match self {
            Refusal::Busy(s) => (
                format!("the stack is {}: another operation is running", s.as_str()),
                "wait for it to finish (`acme-infra status`), then deploy again".to_string(),
            ),
            Refusal::UpdateRollbackFailed => (
                "the stack is UPDATE_ROLLBACK_FAILED".to_string(),
                format!(
                    "fix the resource that failed to roll back, then `aws cloudformation continue-update-rollback --stack-name {stack}`"
                ),
            ),
            Refusal::DeleteFailed => (
                "the stack is DELETE_FAILED".to_string(),
                "finish the deletion (`acme-infra destroy`) or fix the resource that could not be deleted".to_string(),
            ),
        };
        DeployError::refused(stack, RefusalKind::StackState, reason, fix)
    }
}

/// Decides what to do with a stack given what is deployed (`None`: no
/// stack), the deploy hash of what is wanted, and `force` (create a change
/// set even when the hash matches).
pub fn plan(existing: Option<&StackState<'_>>, wanted_hash: &str, force: bool) -> Plan {
    let Some(state) = existing else {
        return Plan::Create;
    };
    let same = !force && state.deploy_hash == Some(wanted_hash);
    match &state.status {
        StackStatus::CreateComplete
        | StackStatus::UpdateComplete
        | StackStatus::UpdateRollbackComplete
        | StackStatus::ImportComplete
        | StackStatus::ImportRollbackComplete => match (same, state.deployed_matches) {
            (true, None) => Plan::Confirm,
            (true, Some(true)) => Plan::Skip,
            (true, Some(false)) | (false, _) => Plan::Update,
        },
        StackStatus::RollbackComplete | StackStatus::RollbackFailed => Plan::Recreate,
        StackStatus::ReviewInProgress => Plan::Create,
        StackStatus::UpdateRollbackFailed => Plan::Refuse(Refusal::UpdateRollbackFailed),
        StackStatus::DeleteFailed => Plan::Refuse(Refusal::DeleteFailed),
        StackStatus::CreateInProgress
        | StackStatus::DeleteInProgress
        | StackStatus::ImportInProgress
        | StackStatus::ImportRollbackInProgress
        | StackStatus::RollbackInProgress
        | StackStatus::UpdateCompleteCleanupInProgress
        | StackStatus::UpdateInProgress
        | StackStatus::UpdateRollbackCompleteCleanupInProgress
        | StackStatus::UpdateRollbackInProgress => {
            Plan::Refuse(Refusal::Busy(state.status.clone()))
        }
        // Settled, but not a state a deploy can start from cleanly: the
        // change set is CloudFormation's to accept or reject.
        StackStatus::CreateFailed
        | StackStatus::DeleteComplete
        | StackStatus::ImportRollbackFailed
        | StackStatus::UpdateFailed => Plan::Update,
        // A status newer than this SDK: its spelling is all there is to go by.
        other if other.as_str().ends_with("_IN_PROGRESS") => {
            Plan::Refuse(Refusal::Busy(other.clone()))
        }
        _ => Plan::Update,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "0123456789abcdef";

    /// The plan for every status CloudFormation documents, with a stack that
    /// carries the wanted hash (`same`) and one that does not.
    fn expected(status: &str) -> (Plan, Plan) {
        let both = |p: Plan| (p.clone(), p);
        let busy = || Plan::Refuse(Refusal::Busy(StackStatus::from(status)));
        match status {
            "CREATE_COMPLETE"
            | "UPDATE_COMPLETE"
            | "UPDATE_ROLLBACK_COMPLETE"
            | "IMPORT_COMPLETE"
            | "IMPORT_ROLLBACK_COMPLETE" => (Plan::Confirm, Plan::Update),
            "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" => both(Plan::Recreate),
            "REVIEW_IN_PROGRESS" => both(Plan::Create),
            "UPDATE_ROLLBACK_FAILED" => both(Plan::Refuse(Refusal::UpdateRollbackFailed)),
            "DELETE_FAILED" => both(Plan::Refuse(Refusal::DeleteFailed)),
            "CREATE_IN_PROGRESS"
            | "DELETE_IN_PROGRESS"
            | "IMPORT_IN_PROGRESS"
            | "IMPORT_ROLLBACK_IN_PROGRESS"
            | "ROLLBACK_IN_PROGRESS"
            | "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
            | "UPDATE_IN_PROGRESS"
            | "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
            | "UPDATE_ROLLBACK_IN_PROGRESS" => both(busy()),
            "CREATE_FAILED" | "DELETE_COMPLETE" | "IMPORT_ROLLBACK_FAILED" | "UPDATE_FAILED" => {
                both(Plan::Update)
            }
            other => panic!("no expectation for {other}: decide what a deploy does from it"),
        }
    }

    fn state(status: &str, hash: Option<&'static str>) -> StackState<'static> {
        StackState {
            status: StackStatus::from(status),
            deploy_hash: hash,
            deployed_matches: None,
        }
    }

    #[test]
    fn a_matching_hash_is_skipped_only_once_the_deployed_template_matches_too() {
        let mut s = state("UPDATE_COMPLETE", Some(HASH));
        assert_eq!(plan(Some(&s), HASH, false), Plan::Confirm);
        s.deployed_matches = Some(true);
        assert_eq!(plan(Some(&s), HASH, false), Plan::Skip);
        assert_eq!(plan(Some(&s), HASH, true), Plan::Update, "--force");
        // The tag says deployed, the template says otherwise: the template wins.
        s.deployed_matches = Some(false);
        assert_eq!(plan(Some(&s), HASH, false), Plan::Update);
        let mut other = state("UPDATE_COMPLETE", Some("other"));
        other.deployed_matches = Some(true);
        assert_eq!(plan(Some(&other), HASH, false), Plan::Update);
    }

    #[test]
    fn no_stack_is_created() {
        assert_eq!(plan(None, HASH, false), Plan::Create);
        assert_eq!(plan(None, HASH, true), Plan::Create);
    }

    #[test]
    fn every_status_has_a_plan() {
        assert_eq!(
            StackStatus::values().len(),
            23,
            "a new status: add it to `expected`"
        );
        for s in StackStatus::values() {
            assert!(StackStatus::try_parse(s).is_ok(), "{s}");
            let (same, other) = expected(s);
            assert_eq!(
                plan(Some(&state(s, Some(HASH))), HASH, false),
                same,
                "{s}, same hash"
            );
            assert_eq!(
                plan(Some(&state(s, Some("other"))), HASH, false),
                other,
                "{s}, other hash"
            );
            assert_eq!(
                plan(Some(&state(s, None)), HASH, false),
                other,
                "{s}, no hash"
            );
            assert_eq!(
                plan(Some(&state(s, Some(HASH))), HASH, true),
                other,
                "{s}, --force"
            );
        }
    }

    #[test]
    fn an_unknown_status_in_progress_is_refused_and_any_other_is_updated() {
        let busy = StackStatus::from("EXPORT_IN_PROGRESS");
        assert!(StackStatus::try_parse("EXPORT_IN_PROGRESS").is_err());
        assert_eq!(
            plan(Some(&state("EXPORT_IN_PROGRESS", Some(HASH))), HASH, false),
            Plan::Refuse(Refusal::Busy(busy))
        );
        assert_eq!(
            plan(Some(&state("EXPORT_COMPLETE", Some(HASH))), HASH, false),
            Plan::Update
        );
        // A stack described without any status: never skipped on its hash.
        assert_eq!(
            plan(Some(&state("", Some(HASH))), HASH, false),
            Plan::Update
        );
    }

    #[test]
    fn refusals_say_what_to_do() {
        let e = Refusal::UpdateRollbackFailed.into_error("acme-ca");
        assert!(e.to_string().contains("UPDATE_ROLLBACK_FAILED"), "{e}");
        assert!(
            e.fix()
                .is_some_and(|f| f.contains("continue-update-rollback --stack-name acme-ca")),
            "{e:?}"
        );
        let e = Refusal::Busy(StackStatus::UpdateInProgress).into_error("acme-ca");
        assert!(
            e.to_string()
                .contains("UPDATE_IN_PROGRESS: another operation is running"),
            "{e}"
        );
    }
}

//! A change set's life: create it, wait until CloudFormation has computed
//! it, then execute it or discard it (with the empty stack a CREATE change
//! set leaves behind).

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::time::Instant;

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, Parameter, StackStatus, Tag,
};
use serde_json::json;

use crate::artifact::{DEPLOY_HASH_TAG, StackArtifact};
use crate::aws::{Backoff, aws_error, call, paginate};
use crate::changes::ResourceChange;
use crate::deployer::{Deployer, interrupted};
use crate::error::DeployError;
use crate::events::{FailureDiagnosis, likely_fix};
use crate::output::Output;
use crate::stack::status_of;

/// CloudFormation's two spellings of "nothing to change": real CloudFormation
/// marks the change set FAILED with the first; moto (older versions) and
/// `UpdateStack` answer the second at once.
pub(crate) fn is_no_changes(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

/// What a change set is asked to do.
pub(crate) struct Request<'a> {
    pub artifact: &'a StackArtifact,
    pub params: &'a BTreeMap<String, String>,
    pub hash: &'a str,
    pub kind: ChangeSetType,
    /// Set when the template was uploaded (over the `TemplateBody` limit).
    pub template_url: Option<String>,
}

/// A change set CloudFormation accepted.
pub(crate) struct ChangeSet {
    pub name: String,
    pub id: String,
    pub stack_id: String,
    pub kind: ChangeSetType,
}

/// How a change set ended up once CloudFormation computed it.
enum Computed {
    Ready(Vec<ResourceChange>),
    NoChanges,
    Failed(String),
}

/// What one look at a change set found.
enum Look {
    Pending(String),
    Done(Computed),
}

impl Request<'_> {
    /// `acme-<hash prefix>-<millis>`: unique per attempt, traceable to the hash.
    fn change_set_name(&self) -> String {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        format!("acme-{}-{millis}", &self.hash[..12])
    }

    fn tags(&self) -> Vec<Tag> {
        let mut tags: Vec<Tag> = self
            .artifact
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        tags.push(Tag::builder().key(DEPLOY_HASH_TAG).value(self.hash).build());
        tags
    }

    fn parameters(&self) -> Vec<Parameter> {
        let param = |(k, v): (&String, &String)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        };
        self.params.iter().map(param).collect()
    }
}

impl Deployer {
    /// `CreateChangeSet`; `None` when CloudFormation answers at once that
    /// there is nothing to change.
    pub(crate) async fn create_change_set(
        &self,
        req: &Request<'_>,
    ) -> Result<Option<ChangeSet>, DeployError> {
        let name = req.change_set_name();
        let (tags, parameters) = (req.tags(), req.parameters());
        let created = call(self.pacing(), || {
            let mut r = self
                .cfn()
                .create_change_set()
                .stack_name(&req.artifact.stack_name)
                .change_set_name(&name)
                // Explicit type always: without it moto creates a second stack
                // and CloudFormation rejects UPDATE on a missing stack.
                .change_set_type(req.kind.clone())
                .set_parameters(Some(parameters.clone()))
                .set_tags(Some(tags.clone()))
                // Function stacks create roles; whether that is acceptable is
                // the approval gate's decision, not a capabilities error.
                .capabilities(Capability::CapabilityIam)
                .capabilities(Capability::CapabilityNamedIam)
                .description(format!("acme-infra deploy {}", &req.hash[..12]));
            r = match &req.template_url {
                Some(url) => r.template_url(url),
                None => r.template_body(&req.artifact.template_body),
            };
            r.send()
        })
        .await;
        let created = match created {
            Ok(c) => c,
            Err(e)
                if e.as_service_error()
                    .and_then(|s| s.message())
                    .is_some_and(is_no_changes) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(aws_error("CreateChangeSet", &e)),
        };
        self.stats_ref()
            .change_sets_created
            .fetch_add(1, Ordering::Relaxed);
        Ok(Some(ChangeSet {
            id: created.id().unwrap_or(&name).to_string(),
            stack_id: created
                .stack_id()
                .unwrap_or(&req.artifact.stack_name)
                .to_string(),
            name,
            kind: req.kind.clone(),
        }))
    }

    /// Waits until the change set is computed: its changes, or `None` when it
    /// is empty. An empty, failed or interrupted change set is discarded.
    pub(crate) async fn review_change_set(
        &self,
        stack: &str,
        cs: &ChangeSet,
        out: &Output,
    ) -> Result<Option<Vec<ResourceChange>>, DeployError> {
        match self.wait_for_change_set(stack, cs).await {
            Ok(Computed::Ready(rows)) => Ok(Some(rows)),
            Ok(Computed::NoChanges) => {
                self.discard_change_set(cs, "it is empty", out).await;
                Ok(None)
            }
            Ok(Computed::Failed(reason)) => {
                self.discard_change_set(cs, "it failed", out).await;
                Err(cs.failed(stack, reason))
            }
            Err(e) => {
                self.discard_change_set(cs, discard_reason(&e, "waiting for it failed"), out)
                    .await;
                Err(e)
            }
        }
    }

    async fn wait_for_change_set(
        &self,
        name: &str,
        cs: &ChangeSet,
    ) -> Result<Computed, DeployError> {
        let mut backoff = Backoff::new(self.pacing().poll_initial, self.pacing().poll_cap);
        let deadline = Instant::now() + self.pacing().stack_timeout;
        loop {
            let status = match self.look_at_change_set(&cs.id).await? {
                Look::Done(computed) => return Ok(computed),
                Look::Pending(status) => status,
            };
            if Instant::now() > deadline {
                return Err(DeployError::Aws {
                    operation: "DescribeChangeSet",
                    code: None,
                    message: format!(
                        "change set still {status} after {:?}",
                        self.pacing().stack_timeout
                    ),
                });
            }
            tokio::select! {
                () = backoff.sleep() => {}
                () = self.interrupt().raised() => {
                    return Err(interrupted(name, "the change set was deleted; nothing was executed"));
                }
            }
        }
    }

    /// One `DescribeChangeSet` walk: every page once it is computed, else the
    /// first page's status.
    async fn look_at_change_set(&self, cs_id: &str) -> Result<Look, DeployError> {
        let mut rows = Vec::new();
        let mut look = None;
        paginate(
            self.pacing(),
            |token| {
                let req = self.cfn().describe_change_set().change_set_name(cs_id);
                req.set_next_token(token).send()
            },
            |page| match page.status() {
                Some(ChangeSetStatus::CreateComplete) => {
                    rows.extend(page.changes().iter().filter_map(ResourceChange::from_sdk));
                    ControlFlow::Continue(())
                }
                Some(ChangeSetStatus::Failed) => {
                    let reason = page.status_reason().unwrap_or("").to_string();
                    look = Some(Look::Done(if is_no_changes(&reason) {
                        Computed::NoChanges
                    } else {
                        Computed::Failed(reason)
                    }));
                    ControlFlow::Break(())
                }
                other => {
                    let status = other.map_or("", ChangeSetStatus::as_str);
                    look = Some(Look::Pending(status.to_string()));
                    ControlFlow::Break(())
                }
            },
        )
        .await
        .map_err(|e| aws_error("DescribeChangeSet", &e))?;
        Ok(look.unwrap_or(Look::Done(Computed::Ready(rows))))
    }

    /// `ExecuteChangeSet`. When execution never starts (e.g.
    /// InvalidChangeSetStatus) the change set is deleted rather than left
    /// behind for someone to click.
    pub(crate) async fn execute_change_set(
        &self,
        cs: &ChangeSet,
        out: &Output,
    ) -> Result<(), DeployError> {
        let executed = call(self.pacing(), || {
            self.cfn()
                .execute_change_set()
                .change_set_name(&cs.id)
                .stack_name(&cs.stack_id)
                .send()
        })
        .await;
        if let Err(e) = executed {
            self.discard_change_set(cs, "executing it failed", out)
                .await;
            return Err(aws_error("ExecuteChangeSet", &e));
        }
        self.stats_ref()
            .change_sets_executed
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Deletes a change set we will not execute, and the empty
    /// `REVIEW_IN_PROGRESS` stack a CREATE change set leaves behind.
    pub(crate) async fn discard_change_set(&self, cs: &ChangeSet, why: &str, out: &Output) {
        let name = cs.stack_id.split('/').nth(1).unwrap_or(&cs.stack_id);
        match call(self.pacing(), || {
            self.cfn()
                .delete_change_set()
                .change_set_name(&cs.id)
                .stack_name(&cs.stack_id)
                .send()
        })
        .await
        {
            Ok(_) => out.emit(
                name,
                "change_set_deleted",
                &format!("deleted the change set ({why}); nothing was executed"),
                json!({"change_set": cs.id}),
            ),
            Err(e) => out.note(
                name,
                &format!(
                    "could not delete change set {}: {}; delete it by hand",
                    cs.id,
                    aws_error("DeleteChangeSet", &e)
                ),
            ),
        }
        if cs.kind == ChangeSetType::Create {
            self.delete_review_stack(&cs.stack_id, name, out).await;
        }
    }

    async fn delete_review_stack(&self, stack_id: &str, name: &str, out: &Output) {
        if let Ok(Some(s)) = self.describe_stack(stack_id).await
            && status_of(&s) == StackStatus::ReviewInProgress
            && let Err(e) = call(self.pacing(), || {
                self.cfn().delete_stack().stack_name(stack_id).send()
            })
            .await
        {
            out.note(
                name,
                &format!(
                    "could not delete the empty REVIEW_IN_PROGRESS stack: {}",
                    aws_error("DeleteStack", &e)
                ),
            );
        }
    }
}

impl ChangeSet {
    /// The error for a change set CloudFormation could not compute.
    fn failed(&self, stack: &str, reason: String) -> DeployError {
        DeployError::StackFailed {
            stack: stack.into(),
            status: "change set FAILED".into(),
            diagnosis: Some(Box::new(FailureDiagnosis {
                logical_id: self.name.clone(),
                resource_type: "AWS::CloudFormation::ChangeSet".into(),
                status: ChangeSetStatus::Failed.as_str().into(),
                fix: likely_fix("", &reason).unwrap_or(
                    "CloudFormation rejected the template or parameters: read the reason",
                ),
                reason,
            })),
        }
    }
}

/// Why a change set is being deleted: the interrupt, or `otherwise`.
pub(crate) fn discard_reason(e: &DeployError, otherwise: &'static str) -> &'static str {
    match e {
        DeployError::Interrupted { .. } => "the deploy was interrupted",
        DeployError::NotApproved { .. } => "it was not approved",
        _ => otherwise,
    }
}

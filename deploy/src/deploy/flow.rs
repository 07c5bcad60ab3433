//! One stack's deploy, top to bottom: plan → upload → change set → gate →
//! execute → watch → outputs. Any refusal deletes the change set it created
//! and executes nothing.

use std::collections::BTreeMap;
use std::time::Instant;

use aws_sdk_cloudformation::types::{ChangeSetType, Stack, StackStatus};
use serde_json::{Value, json};

use crate::artifact::{HashedAsset, StackArtifact};
use crate::bootstrap::{self, BootstrapOptions, STACK_NAME as BOOTSTRAP_STACK};
use crate::changes::{self, ResourceChange};
use crate::deploy::change_set::{ChangeSet, Request, discard_reason};
use crate::deploy::gate::Proposal;
use crate::deploy::options::{DeployOptions, RequireApproval};
use crate::deploy::plan::{Plan, StackState, plan};
use crate::deploy::report::{Outcome, Outputs, StackReport};
use crate::deployer::Deployer;
use crate::error::DeployError;
use crate::events::first_failure;
use crate::output::Output;
use crate::stack::status_of;
use crate::template_diff::{TemplateDiff, diff_templates};

/// What the artifact asks for, worked out before any API call.
struct Wanted {
    template: Value,
    assets: Vec<HashedAsset>,
    params: BTreeMap<String, String>,
    hash: String,
}

impl Wanted {
    fn of(artifact: &StackArtifact, bucket: Option<&str>) -> Result<Self, DeployError> {
        let template = artifact.template()?;
        let assets = artifact.hash_assets()?;
        let params = artifact.parameters(&template, &assets, bucket)?;
        let hash = artifact.deploy_hash(&params);
        Ok(Self {
            template,
            assets,
            params,
            hash,
        })
    }
}

/// The deployed template against the wanted one.
struct Compared {
    old: Option<Value>,
    diff: TemplateDiff,
}

/// One stack's deploy in progress: what every step after the plan needs.
struct Job<'a> {
    artifact: &'a StackArtifact,
    wanted: Wanted,
    started: Instant,
    opts: &'a DeployOptions,
    out: &'a Output,
}

impl Job<'_> {
    fn name(&self) -> &str {
        &self.artifact.stack_name
    }
}

impl Deployer {
    /// Deploys one stack. `bucket` is the assets bucket (`None` only for the
    /// bootstrap stack itself).
    pub(crate) async fn deploy_stack(
        &self,
        artifact: &StackArtifact,
        bucket: Option<&str>,
        opts: &DeployOptions,
        out: &Output,
    ) -> Result<StackReport, DeployError> {
        let started = Instant::now();
        let wanted = Wanted::of(artifact, bucket)?;
        let job = Job {
            artifact,
            wanted,
            started,
            opts,
            out,
        };
        let existing = self.describe_stack(job.name()).await?;
        let mut state = existing.as_ref().map(StackState::of);
        let mut decided = plan(state.as_ref(), &job.wanted.hash, opts.force);
        if let (Plan::Confirm, Some(stack), Some(s)) = (&decided, &existing, &mut state) {
            let matches = self.deployed_matches(stack, &job.wanted).await?;
            if !matches {
                out.note(
                    job.name(),
                    "carries this deploy's hash, but its template or parameters differ (its tags were not updated by the last change): updating it",
                );
            }
            s.deployed_matches = Some(matches);
            decided = plan(state.as_ref(), &job.wanted.hash, opts.force);
        }
        let kind = match decided {
            Plan::Skip => {
                let reason = "deploy hash, template and parameters match the deployed stack";
                return self.unchanged(&job, existing.as_ref(), reason).await;
            }
            // Only when the stack vanished between the two looks: CloudFormation decides.
            Plan::Confirm => ChangeSetType::Update,
            Plan::Refuse(refusal) => return Err(refusal.into_error(job.name())),
            Plan::Recreate => {
                self.delete_failed_create(job.name(), existing.as_ref(), out)
                    .await?;
                ChangeSetType::Create
            }
            Plan::Create => ChangeSetType::Create,
            Plan::Update => ChangeSetType::Update,
        };
        let template_url = self
            .upload_stack_assets(artifact, &job.wanted.assets, bucket)
            .await?;
        self.change_stack(&job, kind, template_url).await
    }

    /// From the change set to the settled stack.
    async fn change_stack(
        &self,
        job: &Job<'_>,
        kind: ChangeSetType,
        template_url: Option<String>,
    ) -> Result<StackReport, DeployError> {
        let (name, out) = (job.name(), job.out);
        let compared = self.compare(name, &kind, &job.wanted.template, out).await?;
        let request = Request {
            artifact: job.artifact,
            params: &job.wanted.params,
            hash: &job.wanted.hash,
            kind,
            template_url,
        };
        let created = self.create_change_set(&request).await?;
        let reviewed = match &created {
            Some(cs) => self.review_change_set(name, cs, out).await?,
            None => None,
        };
        let (Some(cs), Some(rows)) = (created, reviewed) else {
            let stack = self.describe_stack(name).await?;
            let reason = "CloudFormation found no changes";
            return self.unchanged(job, stack.as_ref(), reason).await;
        };
        show_changes(name, &cs, &rows, &compared.diff, out);
        let proposal = Proposal {
            stack: name,
            county: &job.artifact.county_id,
            rows: &rows,
            diff: &compared.diff,
            old: compared.old.as_ref(),
            new: &job.wanted.template,
        };
        let final_stack = self.run_change_set(&proposal, &cs, job.opts, out).await?;
        let outcome = match cs.kind {
            ChangeSetType::Create => Outcome::Created {
                changes: rows.len(),
            },
            _ => Outcome::Updated {
                changes: rows.len(),
            },
        };
        let outputs = self.settle(job, &final_stack).await?;
        Ok(StackReport::finished(
            job.artifact,
            outcome,
            job.started,
            outputs,
        ))
    }

    /// `ROLLBACK_COMPLETE`/`ROLLBACK_FAILED`: its first create failed and
    /// CloudFormation cannot update it, so it goes before it is created again.
    async fn delete_failed_create(
        &self,
        name: &str,
        stack: Option<&Stack>,
        out: &Output,
    ) -> Result<(), DeployError> {
        let Some(stack) = stack else { return Ok(()) };
        let status = status_of(stack);
        out.note(
            name,
            &format!(
                "is in {} (its first create failed and CloudFormation cannot update it): deleting it and creating it again",
                status.as_str()
            ),
        );
        self.delete_and_wait(stack, 0, out).await
    }

    /// Whether the deployed stack has the wanted template and parameters.
    async fn deployed_matches(&self, stack: &Stack, wanted: &Wanted) -> Result<bool, DeployError> {
        let id = stack.stack_id().or(stack.stack_name()).unwrap_or_default();
        let template = self.deployed_template(id).await?;
        let deployed: BTreeMap<&str, &str> = stack
            .parameters()
            .iter()
            .filter_map(|p| Some((p.parameter_key()?, p.parameter_value()?)))
            .collect();
        let params_match = wanted
            .params
            .iter()
            .all(|(k, v)| deployed.get(k.as_str()) == Some(&v.as_str()));
        Ok(params_match && template.as_ref() == Some(&wanted.template))
    }

    /// The deployed template (none for a create) and its diff to the wanted one.
    async fn compare(
        &self,
        name: &str,
        kind: &ChangeSetType,
        template: &Value,
        out: &Output,
    ) -> Result<Compared, DeployError> {
        let old = match kind {
            ChangeSetType::Create => None,
            _ => {
                let old = self.deployed_template(name).await?;
                if old.is_none() {
                    out.note(name, "the deployed template is not JSON: safety checks rely on CloudFormation's change set alone");
                }
                old
            }
        };
        let diff = diff_templates(old.as_ref().unwrap_or(&Value::Null), template);
        Ok(Compared { old, diff })
    }

    /// Gate, execute, watch: the stack once CloudFormation is done with it.
    /// A gate that refuses (or Ctrl-C before execution) discards the change set.
    async fn run_change_set(
        &self,
        p: &Proposal<'_>,
        cs: &ChangeSet,
        opts: &DeployOptions,
        out: &Output,
    ) -> Result<Stack, DeployError> {
        // Interrupted before or during approval: nothing runs either way.
        let verdict = self
            .gate(p, opts, out)
            .await
            .and_then(|()| self.stop_if_interrupted(p.stack));
        if let Err(e) = verdict {
            let why = discard_reason(&e, "a safety check refused it");
            self.discard_change_set(cs, why, out).await;
            return Err(e);
        }
        let marker = self.newest_event_id(&cs.stack_id).await?;
        self.execute_change_set(cs, out).await?;
        let total = p.rows.len() as u64;
        let (final_stack, events) = self
            .wait_for_stack(&cs.stack_id, p.stack, marker, total, out)
            .await?;
        let status = final_stack
            .as_ref()
            .map_or(StackStatus::DeleteComplete, status_of);
        match final_stack {
            Some(s)
                if matches!(
                    status,
                    StackStatus::CreateComplete | StackStatus::UpdateComplete
                ) =>
            {
                Ok(s)
            }
            _ => Err(DeployError::StackFailed {
                stack: p.stack.into(),
                diagnosis: first_failure(p.stack, &events).map(Box::new),
                status: status.as_str().to_string(),
            }),
        }
    }

    /// Nothing to deploy: the stack as it is (if any), with protection and
    /// outputs settled.
    async fn unchanged(
        &self,
        job: &Job<'_>,
        stack: Option<&Stack>,
        reason: &str,
    ) -> Result<StackReport, DeployError> {
        let outputs = match stack {
            Some(s) => self.settle(job, s).await?,
            None => (BTreeMap::new(), None),
        };
        let outcome = Outcome::Unchanged {
            reason: reason.into(),
        };
        Ok(StackReport::finished(
            job.artifact,
            outcome,
            job.started,
            outputs,
        ))
    }

    /// Termination protection as the artifact wants it, then the outputs.
    async fn settle(&self, job: &Job<'_>, stack: &Stack) -> Result<Outputs, DeployError> {
        let protect = job.artifact.termination_protection;
        self.ensure_termination_protection(stack, protect, job.out)
            .await?;
        let resolve = job.opts.outputs_file.is_some();
        self.outputs(stack, &job.wanted.template, resolve).await
    }

    /// Deploys (creates or upgrades) the bootstrap stack in `account`/`region`.
    pub async fn bootstrap(
        &self,
        account: &str,
        region: &str,
        opts: &BootstrapOptions,
        out: &Output,
    ) -> Result<StackReport, DeployError> {
        let artifact = bootstrap::artifact(account, region, opts)?;
        self.check_identity(std::slice::from_ref(&artifact)).await?;
        let deploy = DeployOptions {
            allow_replace: opts.allow_replace.clone(),
            // The bootstrap stack is infrastructure for deploys; a broadening
            // change there (the bucket policy) is reviewed with the code.
            require_approval: RequireApproval::Never,
            ..DeployOptions::default()
        };
        let report = self.deploy_stack(&artifact, None, &deploy, out).await?;
        let info = self.bootstrap_info(account, region).await?;
        out.emit(
            BOOTSTRAP_STACK,
            "bootstrap",
            &format!(
                "ready: assets bucket {} (bootstrap version {})",
                info.bucket, info.version
            ),
            json!({"bucket": info.bucket, "version": info.version}),
        );
        Ok(report)
    }
}

/// The change set's changes, readable, with the template diff's detail.
fn show_changes(
    name: &str,
    cs: &ChangeSet,
    rows: &[ResourceChange],
    diff: &TemplateDiff,
    out: &Output,
) {
    let rendered = changes::render(rows, Some(diff));
    let (verb, kind) = match cs.kind {
        ChangeSetType::Create => ("create:", "CREATE"),
        _ => ("update:", "UPDATE"),
    };
    let text = format!("{verb} {} change(s):\n{}", rows.len(), rendered.trim_end());
    let data = json!({"change_set": cs.id, "type": kind, "changes": rows});
    out.emit(name, "changes", &text, data);
}

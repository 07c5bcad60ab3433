//! The deploy flow for one stack and for a fleet of county stacks.
//!
//! Per stack: hash → skip if the stack already carries the same deploy hash →
//! upload missing assets → change set (CREATE/UPDATE) → readable diff →
//! safety checks → approval → execute → stream events → outputs. Any refusal
//! deletes the change set it created and executes nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{Capability, ChangeSetType, Parameter, Stack, StackEvent, Tag};
use serde::Serialize;
use serde_json::{Value, json};

use crate::artifact::{DEPLOY_HASH_TAG, StackArtifact, TEMPLATE_BODY_LIMIT};
use crate::aws::{Backoff, CallCounter, Clients, Pacing, Stats, aws_error, call, is_missing_stack};
use crate::changes::{self, ResourceChange};
use crate::error::{DeployError, RefusalKind};
use crate::events::{Tally, first_failure, likely_fix};
use crate::interrupt::Interrupt;
use crate::output::Output;
use crate::safety;
use crate::template_diff::{TemplateDiff, diff_templates};

/// When a change needs a human's "yes".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequireApproval {
    /// Never ask.
    Never,
    /// Ask when access may widen: IAM, security groups, policies, Lambda permissions.
    #[default]
    Broadening,
    /// Ask for every change.
    AnyChange,
}

/// Options for [`Deployer::deploy`].
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Stateful resources that may be replaced or deleted:
    /// `<county>/<LogicalId>` for one county's stack, a bare `<LogicalId>`
    /// for every stack of this deploy (the CLI accepts the bare form only
    /// when one county is deployed).
    pub allow_replace: Vec<String>,
    /// When to ask for approval.
    pub require_approval: RequireApproval,
    /// Stacks deployed at once.
    pub concurrency: usize,
    /// Stop starting new stacks after the first failure.
    pub fail_fast: bool,
    /// Create a change set even when the deploy hash matches.
    pub force: bool,
    /// Write every county's outputs here (JSON keyed by county id).
    pub outputs_file: Option<PathBuf>,
}

impl Default for DeployOptions {
    fn default() -> Self {
        Self {
            allow_replace: vec![],
            require_approval: RequireApproval::Broadening,
            concurrency: 1,
            fail_fast: false,
            force: false,
            outputs_file: None,
        }
    }
}

impl DeployOptions {
    /// The logical ids `--allow-replace` allows for `county`'s stack.
    pub fn allowed_for(&self, county: &str) -> Vec<String> {
        self.allow_replace
            .iter()
            .filter_map(|a| match a.split_once('/') {
                Some((c, id)) if c == county => Some(id.to_owned()),
                Some(_) => None,
                None => Some(a.clone()),
            })
            .collect()
    }
}

/// How one stack's deploy ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum Outcome {
    /// A new stack was created.
    Created {
        /// Resource changes executed.
        changes: usize,
    },
    /// An existing stack was updated.
    Updated {
        /// Resource changes executed.
        changes: usize,
    },
    /// Nothing to do.
    Unchanged {
        /// Why: deploy hash matched, or CloudFormation found no changes.
        reason: String,
    },
    /// Not attempted (`--fail-fast` after another stack failed).
    Skipped,
}

/// One stack's result.
#[derive(Debug, Clone, Serialize)]
pub struct StackReport {
    /// Stack name.
    pub stack: String,
    /// County id.
    pub county: String,
    /// What happened.
    pub outcome: Outcome,
    /// Wall time.
    pub seconds: f64,
    /// Stack outputs (possibly resolved from `ListStackResources`, see `outputs_note`).
    pub outputs: BTreeMap<String, String>,
    /// Set when outputs were not read from CloudFormation's `Outputs`.
    pub outputs_note: Option<String>,
}

/// What a fleet deploy did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeployReport {
    /// One entry per stack, in input order.
    pub stacks: Vec<StackReport>,
}

/// Snapshot of what the deployer has done (tests and perf figures).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Objects uploaded to S3.
    pub uploads: u64,
    /// Change sets created.
    pub change_sets_created: u64,
    /// Change sets executed.
    pub change_sets_executed: u64,
    /// API calls by `Service.Operation` (every HTTP attempt).
    pub api_calls: BTreeMap<String, u64>,
}

impl StatsSnapshot {
    /// All API calls.
    pub fn total_calls(&self) -> u64 {
        self.api_calls.values().sum()
    }
}

/// The caller's identity, checked against every artifact before anything runs.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Account from `sts:GetCallerIdentity`.
    pub account: String,
    /// Region the clients use.
    pub region: String,
    /// Caller ARN (shown to the operator).
    pub arn: String,
}

/// Where the assets bucket is, from the bootstrap stack.
#[derive(Debug, Clone)]
pub struct BootstrapInfo {
    /// Bucket name.
    pub bucket: String,
    /// Bootstrap version deployed.
    pub version: u32,
    /// How it was found when not from the stack's Outputs.
    pub note: Option<String>,
}

struct Inner {
    clients: Clients,
    pacing: Pacing,
    stats: Stats,
}

/// The deployer: SDK clients (built once) plus bookkeeping. Cheap to clone.
#[derive(Clone)]
pub struct Deployer {
    inner: Arc<Inner>,
    interrupt: Interrupt,
}

impl std::fmt::Debug for Deployer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployer")
            .field("region", &self.inner.clients.region)
            .finish_non_exhaustive()
    }
}

const STABLE: &[&str] = &[
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
];

pub(crate) fn status_of(s: &Stack) -> &str {
    s.stack_status().map(|s| s.as_str()).unwrap_or("")
}

fn is_terminal(status: &str) -> bool {
    !status.is_empty() && !status.ends_with("_IN_PROGRESS")
}

fn tag(s: &Stack, key: &str) -> Option<String> {
    s.tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
        .map(str::to_string)
}

/// CloudFormation's two spellings of "nothing to change": real CloudFormation
/// marks the change set FAILED with the first; moto (older versions) and
/// `UpdateStack` answer the second at once.
pub(crate) fn is_no_changes(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

impl Deployer {
    /// A deployer over the given clients.
    pub fn new(clients: Clients, pacing: Pacing) -> Self {
        Self {
            inner: Arc::new(Inner {
                clients,
                pacing,
                stats: Stats::default(),
            }),
            interrupt: Interrupt::new(),
        }
    }

    /// This deployer, stopping at the next safe point once `interrupt` is
    /// raised (Ctrl-C; see [`crate::interrupt`]).
    pub fn with_interrupt(mut self, interrupt: Interrupt) -> Self {
        self.interrupt = interrupt;
        self
    }

    /// The interrupt flag this deployer watches.
    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    /// A deployer over the default credential chain and `AWS_ENDPOINT_URL`.
    pub async fn from_env() -> Self {
        Self::new(Clients::from_env().await, Pacing::default())
    }

    /// The clients.
    pub fn clients(&self) -> &Clients {
        &self.inner.clients
    }

    pub(crate) fn pacing(&self) -> &Pacing {
        &self.inner.pacing
    }

    fn cfn(&self) -> &aws_sdk_cloudformation::Client {
        &self.inner.clients.cfn
    }

    /// The API call counter.
    pub fn counter(&self) -> &CallCounter {
        &self.inner.clients.counter
    }

    /// What this deployer has done so far.
    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.inner.stats;
        StatsSnapshot {
            uploads: s.uploads.load(Ordering::Relaxed),
            change_sets_created: s.change_sets_created.load(Ordering::Relaxed),
            change_sets_executed: s.change_sets_executed.load(Ordering::Relaxed),
            api_calls: self.counter().snapshot(),
        }
    }

    pub(crate) fn stats_ref(&self) -> &Stats {
        &self.inner.stats
    }

    /// `sts:GetCallerIdentity`, then refuses if any artifact targets another
    /// account or region: a deploy with the wrong profile must not create a
    /// county's stack in someone else's account.
    pub async fn check_identity(
        &self,
        artifacts: &[StackArtifact],
    ) -> Result<Identity, DeployError> {
        let region = self
            .inner
            .clients
            .region
            .clone()
            .ok_or_else(|| DeployError::Identity {
                message: "no AWS region is configured".into(),
                fix: "set AWS_REGION (or a profile with a region) to the artifacts' region".into(),
            })?;
        let who = call(self.pacing(), || self.inner.clients.sts.get_caller_identity().send()).await.map_err(|e| {
            let err = aws_error("GetCallerIdentity", &e);
            DeployError::Identity {
                message: format!("cannot establish who is deploying: {err}"),
                fix: "refresh your credentials (e.g. `aws sso login --profile <profile>`) or set AWS_PROFILE".into(),
            }
        })?;
        let identity = Identity {
            account: who.account().unwrap_or_default().to_string(),
            region,
            arn: who.arn().unwrap_or_default().to_string(),
        };
        let wrong: Vec<String> = artifacts
            .iter()
            .filter(|a| a.account != identity.account || a.region != identity.region)
            .map(|a| format!("{} wants {}/{}", a.stack_name, a.account, a.region))
            .collect();
        if !wrong.is_empty() {
            return Err(DeployError::Identity {
                message: format!(
                    "credentials are for account {} in {} ({}), but {}",
                    identity.account,
                    identity.region,
                    identity.arn,
                    wrong.join("; ")
                ),
                fix: "switch to the environment's profile (AWS_PROFILE) and region (AWS_REGION); nothing was deployed".into(),
            });
        }
        Ok(identity)
    }

    /// `DescribeStacks` for one stack; `None` when it does not exist.
    pub(crate) async fn describe_stack(
        &self,
        name_or_id: &str,
    ) -> Result<Option<Stack>, DeployError> {
        match call(self.pacing(), || {
            self.cfn().describe_stacks().stack_name(name_or_id).send()
        })
        .await
        {
            Ok(out) => Ok(out.stacks().first().cloned()),
            Err(e) if is_missing_stack(&e) => Ok(None),
            Err(e) => Err(aws_error("DescribeStacks", &e)),
        }
    }

    /// The deployed template (`GetTemplate`, original stage), parsed; `None`
    /// when it is not JSON (then only CloudFormation's own verdict is used).
    pub(crate) async fn deployed_template(
        &self,
        stack: &str,
    ) -> Result<Option<Value>, DeployError> {
        let out = call(self.pacing(), || {
            self.cfn().get_template().stack_name(stack).send()
        })
        .await
        .map_err(|e| aws_error("GetTemplate", &e))?;
        Ok(out
            .template_body()
            .and_then(|b| serde_json::from_str(b).ok()))
    }

    /// Deploys many stacks, `concurrency` at a time: one result line per
    /// county as it finishes, a summary table at the end. Keeps going past a
    /// failure unless `fail_fast`. Identity and bootstrap are checked once,
    /// before any stack is touched.
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
        let identity = self.check_identity(&artifacts).await?;
        let boot = self
            .bootstrap_info(&identity.account, &identity.region)
            .await?;
        if let Some(note) = &boot.note {
            out.note(crate::bootstrap::STACK_NAME, note);
        }
        let total = artifacts.len();
        let sem = Arc::new(tokio::sync::Semaphore::new(opts.concurrency));
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::with_capacity(total);
        for artifact in artifacts {
            let (this, sem, stop, opts, out, bucket) = (
                self.clone(),
                sem.clone(),
                stop.clone(),
                opts.clone(),
                out.clone(),
                boot.bucket.clone(),
            );
            handles.push(tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                let started = Instant::now();
                if stop.load(Ordering::SeqCst) {
                    return (artifact, Err(None), started.elapsed());
                }
                if this.interrupt().is_raised() {
                    let e = interrupted(&artifact.stack_name, "not started; nothing changed");
                    return (artifact, Err(Some(e)), started.elapsed());
                }
                let result = this
                    .deploy_stack(&artifact, Some(&bucket), &opts, &out)
                    .await;
                if result.is_err() && opts.fail_fast {
                    stop.store(true, Ordering::SeqCst);
                }
                let elapsed = started.elapsed();
                emit_result(&out, &artifact, &result, elapsed);
                (artifact, result.map_err(Some), elapsed)
            }));
        }
        let mut report = DeployReport::default();
        let mut failures = Vec::new();
        for h in handles {
            let (artifact, result, elapsed) = match h.await {
                Ok(r) => r,
                Err(join) => std::panic::resume_unwind(join.into_panic()),
            };
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
        if total > 1 {
            let failed: Vec<Value> = failures
                .iter()
                .map(|(s, e)| json!({"stack": s, "error": e.to_string(), "exit_code": e.exit_code()}))
                .collect();
            let data = json!({"stacks": report.stacks, "failed": failed});
            out.block("summary", &summary_table(&report, &failures), data);
        }
        if let Some(path) = &opts.outputs_file {
            write_outputs(path, &report)?;
        }
        match failures.len() {
            0 => Ok(report),
            1 if total == 1 => Err(failures.remove(0).1),
            _ => Err(DeployError::Fleet { total, failures }),
        }
    }

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
        let name = artifact.stack_name.as_str();
        let template = artifact.template()?;
        let assets = artifact.hash_assets()?;
        let params = artifact.parameters(&template, &assets, bucket)?;
        let hash = artifact.deploy_hash(&params);

        let mut existing = self.describe_stack(name).await?;
        if let Some(stack) = &existing {
            let status = status_of(stack);
            if !opts.force
                && STABLE.contains(&status)
                && tag(stack, DEPLOY_HASH_TAG).as_deref() == Some(hash.as_str())
            {
                self.ensure_termination_protection(stack, artifact.termination_protection, out)
                    .await?;
                let (outputs, outputs_note) = self
                    .outputs(stack, &template, opts.outputs_file.is_some())
                    .await?;
                return Ok(StackReport {
                    stack: name.into(),
                    county: artifact.county_id.clone(),
                    outcome: Outcome::Unchanged {
                        reason: "deploy hash matches the deployed stack".into(),
                    },
                    seconds: started.elapsed().as_secs_f64(),
                    outputs,
                    outputs_note,
                });
            }
            match status {
                "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" => {
                    out.note(name, &format!("is in {status} (its first create failed and CloudFormation cannot update it): deleting it and creating it again"));
                    self.delete_and_wait(stack, 0, out).await?;
                    existing = None;
                }
                "REVIEW_IN_PROGRESS" => {}
                s if s.ends_with("_IN_PROGRESS") => {
                    return Err(DeployError::refused(
                        name,
                        RefusalKind::StackState,
                        format!("the stack is {s}: another operation is running"),
                        "wait for it to finish (`acme-infra status`), then deploy again",
                    ));
                }
                "UPDATE_ROLLBACK_FAILED" => {
                    return Err(DeployError::refused(
                        name,
                        RefusalKind::StackState,
                        "the stack is UPDATE_ROLLBACK_FAILED",
                        format!(
                            "fix the resource that failed to roll back, then `aws cloudformation continue-update-rollback --stack-name {name}`"
                        ),
                    ));
                }
                "DELETE_FAILED" => {
                    return Err(DeployError::refused(
                        name,
                        RefusalKind::StackState,
                        "the stack is DELETE_FAILED",
                        "finish the deletion (`acme-infra destroy`) or fix the resource that could not be deleted",
                    ));
                }
                _ => {}
            }
        }
        // A stack left in REVIEW_IN_PROGRESS by a change set that was never
        // executed has no resources: it still takes a CREATE change set.
        let is_create = existing
            .as_ref()
            .is_none_or(|s| status_of(s) == "REVIEW_IN_PROGRESS");

        for a in &assets {
            let b = bucket.ok_or_else(|| {
                crate::artifact::not_bootstrapped(
                    &artifact.account,
                    &artifact.region,
                    "it has no assets bucket",
                )
            })?;
            self.upload_if_missing(
                b,
                &a.key,
                crate::assets::Body::File(&a.zip_path),
                "application/zip",
            )
            .await?;
        }
        let template_url = if artifact.template_body.len() > TEMPLATE_BODY_LIMIT {
            let b = bucket.ok_or_else(|| {
                let size = artifact.template_body.len();
                DeployError::refused(
                    name,
                    RefusalKind::Template,
                    format!(
                        "the template is {size} bytes (CloudFormation's TemplateBody limit is \
                         {TEMPLATE_BODY_LIMIT}) and there is no assets bucket to upload it to"
                    ),
                    "split the stack",
                )
            })?;
            let key = format!(
                "templates/{}.json",
                crate::artifact::sha256_hex(artifact.template_body.as_bytes())
            );
            self.upload_if_missing(
                b,
                &key,
                crate::assets::Body::Bytes(artifact.template_body.as_bytes()),
                "application/json",
            )
            .await?;
            Some(crate::assets::object_url(b, artifact.region.as_str(), &key))
        } else {
            None
        };

        let old_template = if is_create {
            None
        } else {
            self.deployed_template(name).await?
        };
        if !is_create && old_template.is_none() {
            out.note(name, "the deployed template is not JSON: safety checks rely on CloudFormation's change set alone");
        }
        let diff = diff_templates(old_template.as_ref().unwrap_or(&Value::Null), &template);

        let cs_name = format!(
            "acme-{}-{}",
            &hash[..12],
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        );
        let mut tags: Vec<Tag> = artifact
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        tags.push(Tag::builder().key(DEPLOY_HASH_TAG).value(&hash).build());
        let parameters: Vec<Parameter> = params
            .iter()
            .map(|(k, v)| {
                Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(v)
                    .build()
            })
            .collect();
        let created = call(self.pacing(), || {
            let mut req = self
                .cfn()
                .create_change_set()
                .stack_name(name)
                .change_set_name(&cs_name)
                // Explicit type always: without it moto creates a second stack
                // and CloudFormation rejects UPDATE on a missing stack.
                .change_set_type(if is_create {
                    ChangeSetType::Create
                } else {
                    ChangeSetType::Update
                })
                .set_parameters(Some(parameters.clone()))
                .set_tags(Some(tags.clone()))
                // Function stacks create roles; whether that is acceptable is
                // the approval gate's decision, not a capabilities error.
                .capabilities(Capability::CapabilityIam)
                .capabilities(Capability::CapabilityNamedIam)
                .description(format!("acme-infra deploy {}", &hash[..12]));
            req = match &template_url {
                Some(url) => req.template_url(url),
                None => req.template_body(&artifact.template_body),
            };
            req.send()
        })
        .await;
        let created = match created {
            Ok(c) => c,
            Err(e)
                if e.as_service_error()
                    .and_then(|s| aws_sdk_cloudformation::error::ProvideErrorMetadata::message(s))
                    .is_some_and(is_no_changes) =>
            {
                return self
                    .unchanged_after_change_set(
                        artifact,
                        &template,
                        started,
                        opts.outputs_file.is_some(),
                        out,
                    )
                    .await;
            }
            Err(e) => return Err(aws_error("CreateChangeSet", &e)),
        };
        self.stats_ref()
            .change_sets_created
            .fetch_add(1, Ordering::Relaxed);
        let cs_id = created.id().unwrap_or(&cs_name).to_string();
        let stack_id = created.stack_id().unwrap_or(name).to_string();

        let cleanup = |why: &'static str| {
            let (this, cs_id, stack_id, out) =
                (self.clone(), cs_id.clone(), stack_id.clone(), out.clone());
            async move {
                this.discard_change_set(&cs_id, &stack_id, is_create, why, &out)
                    .await
            }
        };

        let rows = match self.wait_for_change_set(name, &cs_id).await {
            Ok(ChangeSetResult::Ready(rows)) => rows,
            Ok(ChangeSetResult::NoChanges) => {
                cleanup("it is empty").await;
                return self
                    .unchanged_after_change_set(
                        artifact,
                        &template,
                        started,
                        opts.outputs_file.is_some(),
                        out,
                    )
                    .await;
            }
            Ok(ChangeSetResult::Failed(reason)) => {
                cleanup("it failed").await;
                return Err(DeployError::StackFailed {
                    stack: name.into(),
                    status: "change set FAILED".into(),
                    diagnosis: Some(Box::new(crate::events::FailureDiagnosis {
                        logical_id: cs_name.clone(),
                        resource_type: "AWS::CloudFormation::ChangeSet".into(),
                        status: "FAILED".into(),
                        fix: likely_fix("", &reason).unwrap_or(
                            "CloudFormation rejected the template or parameters: read the reason",
                        ),
                        reason,
                    })),
                });
            }
            Err(e) => {
                cleanup(discard_reason(&e, "waiting for it failed")).await;
                return Err(e);
            }
        };

        let rendered = changes::render(&rows, Some(&diff));
        let (verb, kind) = if is_create {
            ("create:", "CREATE")
        } else {
            ("update:", "UPDATE")
        };
        let text = format!("{verb} {} change(s):\n{}", rows.len(), rendered.trim_end());
        let data = json!({"change_set": cs_id, "type": kind, "changes": rows});
        out.emit(name, "changes", &text, data);

        // Interrupted before or during approval: nothing runs either way.
        let verdict = self
            .check(
                name,
                &artifact.county_id,
                &rows,
                &diff,
                old_template.as_ref(),
                &template,
                opts,
                out,
            )
            .await
            .and_then(|()| self.stop_if_interrupted(name));
        if let Err(e) = verdict {
            cleanup(discard_reason(&e, "a safety check refused it")).await;
            return Err(e);
        }

        let marker = self.newest_event_id(&stack_id).await?;
        let executed = call(self.pacing(), || {
            self.cfn()
                .execute_change_set()
                .change_set_name(&cs_id)
                .stack_name(&stack_id)
                .send()
        })
        .await;
        if let Err(e) = executed {
            // Execution never started (e.g. InvalidChangeSetStatus): do not
            // leave an executable change set behind for someone to click.
            cleanup("executing it failed").await;
            return Err(aws_error("ExecuteChangeSet", &e));
        }
        self.stats_ref()
            .change_sets_executed
            .fetch_add(1, Ordering::Relaxed);

        let (final_stack, events) = self
            .wait_for_stack(&stack_id, name, marker, rows.len() as u64, out)
            .await?;
        let final_stack = match final_stack {
            Some(s) if matches!(status_of(&s), "CREATE_COMPLETE" | "UPDATE_COMPLETE") => s,
            other => {
                let status = other
                    .as_ref()
                    .map(status_of)
                    .unwrap_or("DELETE_COMPLETE")
                    .to_string();
                return Err(DeployError::StackFailed {
                    stack: name.into(),
                    diagnosis: first_failure(name, &events).map(Box::new),
                    status,
                });
            }
        };
        self.ensure_termination_protection(&final_stack, artifact.termination_protection, out)
            .await?;
        let (outputs, outputs_note) = self
            .outputs(&final_stack, &template, opts.outputs_file.is_some())
            .await?;
        Ok(StackReport {
            stack: name.into(),
            county: artifact.county_id.clone(),
            outcome: if is_create {
                Outcome::Created {
                    changes: rows.len(),
                }
            } else {
                Outcome::Updated {
                    changes: rows.len(),
                }
            },
            seconds: started.elapsed().as_secs_f64(),
            outputs,
            outputs_note,
        })
    }

    /// CloudFormation found nothing to change (either spelling of it).
    async fn unchanged_after_change_set(
        &self,
        artifact: &StackArtifact,
        template: &Value,
        started: Instant,
        resolve_outputs: bool,
        out: &Output,
    ) -> Result<StackReport, DeployError> {
        let (outputs, outputs_note) = match self.describe_stack(&artifact.stack_name).await? {
            Some(s) => {
                self.ensure_termination_protection(&s, artifact.termination_protection, out)
                    .await?;
                self.outputs(&s, template, resolve_outputs).await?
            }
            None => (BTreeMap::new(), None),
        };
        Ok(StackReport {
            stack: artifact.stack_name.clone(),
            county: artifact.county_id.clone(),
            outcome: Outcome::Unchanged {
                reason: "CloudFormation found no changes".into(),
            },
            seconds: started.elapsed().as_secs_f64(),
            outputs,
            outputs_note,
        })
    }

    /// Safety checks, then approval. Order matters: a refused change must
    /// never reach the approval prompt (a "yes" cannot override safety).
    #[allow(clippy::too_many_arguments)]
    async fn check(
        &self,
        name: &str,
        county: &str,
        rows: &[ResourceChange],
        diff: &TemplateDiff,
        old: Option<&Value>,
        new: &Value,
        opts: &DeployOptions,
        out: &Output,
    ) -> Result<(), DeployError> {
        let county = (name != crate::bootstrap::STACK_NAME).then_some(county);
        let allowed = opts.allowed_for(county.unwrap_or_default());
        safety::check_stateful(name, county, rows, Some(diff), &allowed)?;
        if let Some(old) = old {
            safety::check_gsi_limit(name, old, new)?;
        }
        let reason = match opts.require_approval {
            RequireApproval::Never => None,
            RequireApproval::AnyChange => Some(format!(
                "{} change(s) and --require-approval any-change",
                rows.len()
            )),
            RequireApproval::Broadening => {
                let b = safety::broadening_changes(rows);
                (!b.is_empty()).then(|| format!("access may widen: {}", b.join(", ")))
            }
        };
        let Some(reason) = reason else { return Ok(()) };
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

    /// `Err(Interrupted)` once Ctrl-C was pressed, before anything executes.
    fn stop_if_interrupted(&self, name: &str) -> Result<(), DeployError> {
        if self.interrupt().is_raised() {
            Err(interrupted(
                name,
                "the change set was deleted; nothing was executed",
            ))
        } else {
            Ok(())
        }
    }

    /// Deletes a change set we will not execute, and the empty
    /// `REVIEW_IN_PROGRESS` stack a CREATE change set leaves behind.
    async fn discard_change_set(
        &self,
        cs_id: &str,
        stack_id: &str,
        is_create: bool,
        why: &str,
        out: &Output,
    ) {
        let name = stack_id.split('/').nth(1).unwrap_or(stack_id);
        match call(self.pacing(), || {
            self.cfn()
                .delete_change_set()
                .change_set_name(cs_id)
                .stack_name(stack_id)
                .send()
        })
        .await
        {
            Ok(_) => out.emit(
                name,
                "change_set_deleted",
                &format!("deleted the change set ({why}); nothing was executed"),
                json!({"change_set": cs_id}),
            ),
            Err(e) => out.note(
                name,
                &format!(
                    "could not delete change set {cs_id}: {}; delete it by hand",
                    aws_error("DeleteChangeSet", &e)
                ),
            ),
        }
        if is_create
            && let Ok(Some(s)) = self.describe_stack(stack_id).await
            && status_of(&s) == "REVIEW_IN_PROGRESS"
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

    async fn wait_for_change_set(
        &self,
        name: &str,
        cs_id: &str,
    ) -> Result<ChangeSetResult, DeployError> {
        let mut backoff = Backoff::new(self.pacing().poll_initial, self.pacing().poll_cap);
        let deadline = Instant::now() + self.pacing().stack_timeout;
        loop {
            let mut rows = Vec::new();
            let mut token: Option<String> = None;
            let mut status;
            loop {
                let page = call(self.pacing(), || {
                    self.cfn()
                        .describe_change_set()
                        .change_set_name(cs_id)
                        .set_next_token(token.clone())
                        .send()
                })
                .await
                .map_err(|e| aws_error("DescribeChangeSet", &e))?;
                status = page
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default();
                match status.as_str() {
                    "FAILED" => {
                        let reason = page.status_reason().unwrap_or("").to_string();
                        return Ok(if is_no_changes(&reason) {
                            ChangeSetResult::NoChanges
                        } else {
                            ChangeSetResult::Failed(reason)
                        });
                    }
                    "CREATE_COMPLETE" => {
                        rows.extend(page.changes().iter().filter_map(ResourceChange::from_sdk));
                        token = page.next_token().map(str::to_string);
                        if token.is_none() {
                            return Ok(ChangeSetResult::Ready(rows));
                        }
                    }
                    _ => break,
                }
            }
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

    async fn newest_event_id(&self, stack_id: &str) -> Result<Option<String>, DeployError> {
        let page = call(self.pacing(), || {
            self.cfn()
                .describe_stack_events()
                .stack_name(stack_id)
                .send()
        })
        .await
        .map_err(|e| aws_error("DescribeStackEvents", &e))?;
        Ok(page
            .stack_events()
            .first()
            .and_then(|e| e.event_id())
            .map(str::to_string))
    }

    /// Events newer than `marker`, oldest first; advances the marker.
    async fn new_events(
        &self,
        stack_id: &str,
        marker: &mut Option<String>,
    ) -> Result<Vec<StackEvent>, DeployError> {
        let mut fresh = Vec::new();
        let mut token: Option<String> = None;
        // Ten pages = 1,000 events: more than a county stack emits between polls.
        'pages: for _ in 0..10 {
            let page = match call(self.pacing(), || {
                self.cfn()
                    .describe_stack_events()
                    .stack_name(stack_id)
                    .set_next_token(token.clone())
                    .send()
            })
            .await
            {
                Ok(p) => p,
                Err(e) if is_missing_stack(&e) => break,
                Err(e) => return Err(aws_error("DescribeStackEvents", &e)),
            };
            for e in page.stack_events() {
                if marker.is_some() && e.event_id() == marker.as_deref() {
                    break 'pages;
                }
                fresh.push(e.clone());
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        if let Some(newest) = fresh.first().and_then(|e| e.event_id()) {
            *marker = Some(newest.to_string());
        }
        fresh.reverse();
        Ok(fresh)
    }

    /// Streams events until the stack reaches a terminal status. Returns the
    /// final stack (`None` once deleted) and every event seen.
    pub(crate) async fn wait_for_stack(
        &self,
        stack_id: &str,
        name: &str,
        mut marker: Option<String>,
        total: u64,
        out: &Output,
    ) -> Result<(Option<Stack>, Vec<StackEvent>), DeployError> {
        let bar = out.progress(name, total);
        let mut tally = Tally::default();
        let mut seen = Vec::new();
        let mut backoff = Backoff::new(self.pacing().poll_initial, self.pacing().poll_cap);
        let deadline = Instant::now() + self.pacing().stack_timeout;
        let mut polls = 0u32;
        loop {
            polls += 1;
            let fresh = self.new_events(stack_id, &mut marker).await?;
            let mut stack_settled = false;
            for e in &fresh {
                if tally.record(name, e) {
                    bar.set_position(tally.count());
                }
                let status = e.resource_status().map(|s| s.as_str()).unwrap_or("");
                let id = e.logical_resource_id().unwrap_or("");
                if id == name && is_terminal(status) {
                    stack_settled = true;
                }
                let reason = e.resource_status_reason().unwrap_or("");
                let failed = status.ends_with("_FAILED");
                if bar.is_hidden() || failed {
                    let ty = e.resource_type().unwrap_or("?");
                    let sep = if reason.is_empty() { "" } else { "  " };
                    let data = json!({"status": status, "logical_id": id, "resource_type": ty, "reason": reason});
                    out.emit(
                        name,
                        "event",
                        &format!("{status:<20} {id} ({ty}){sep}{reason}"),
                        data,
                    );
                }
            }
            seen.extend(fresh);
            // Events say when the stack settles; DescribeStacks confirms it.
            // Every fifth poll asks anyway, in case an event page was missed.
            if stack_settled || polls.is_multiple_of(5) {
                let stack = self.describe_stack(stack_id).await?;
                let status = stack.as_ref().map(status_of).unwrap_or("DELETE_COMPLETE");
                if is_terminal(status) {
                    bar.finish_and_clear();
                    return Ok((stack, seen));
                }
            }
            if Instant::now() > deadline {
                bar.abandon();
                return Err(DeployError::StackFailed {
                    stack: name.into(),
                    status: format!(
                        "still in progress after {:?}; stopped waiting (the operation continues)",
                        self.pacing().stack_timeout
                    ),
                    diagnosis: first_failure(name, &seen).map(Box::new),
                });
            }
            tokio::select! {
                () = backoff.sleep() => {}
                () = self.interrupt().raised() => {
                    bar.abandon();
                    let status = match self.describe_stack(stack_id).await {
                        Ok(Some(s)) => status_of(&s).to_string(),
                        Ok(None) => "DELETE_COMPLETE".into(),
                        Err(_) => "in progress".into(),
                    };
                    return Err(DeployError::Interrupted {
                        stack: name.into(),
                        state: format!(
                            "stopped waiting while the stack was {status}; CloudFormation carries on with the operation"
                        ),
                        fix: format!(
                            "follow it with `acme-infra status` (or the CloudFormation console); to stop an update and roll it back: \
                             `aws cloudformation cancel-update-stack --stack-name {name}`"
                        ),
                    });
                }
            }
        }
    }

    /// Deletes a stack and waits (used for `ROLLBACK_COMPLETE` recreation and `destroy`).
    /// `resources` sizes the progress bar (0 when unknown).
    pub(crate) async fn delete_and_wait(
        &self,
        stack: &Stack,
        resources: u64,
        out: &Output,
    ) -> Result<(), DeployError> {
        let name = stack.stack_name().unwrap_or("?").to_string();
        let id = stack.stack_id().unwrap_or(&name).to_string();
        if stack.enable_termination_protection() == Some(true) {
            out.note(&name, "turning termination protection off");
            call(self.pacing(), || {
                self.cfn()
                    .update_termination_protection()
                    .stack_name(&id)
                    .enable_termination_protection(false)
                    .send()
            })
            .await
            .map_err(|e| aws_error("UpdateTerminationProtection", &e))?;
        }
        let marker = self.newest_event_id(&id).await?;
        call(self.pacing(), || {
            self.cfn().delete_stack().stack_name(&id).send()
        })
        .await
        .map_err(|e| aws_error("DeleteStack", &e))?;
        let (final_stack, events) = self
            .wait_for_stack(&id, &name, marker, resources, out)
            .await?;
        match final_stack.as_ref().map(status_of) {
            None | Some("DELETE_COMPLETE") => Ok(()),
            Some(s) => Err(DeployError::StackFailed {
                stack: name.clone(),
                status: s.to_string(),
                diagnosis: first_failure(&name, &events).map(Box::new),
            }),
        }
    }

    /// Sets termination protection when it differs from what the artifact wants.
    async fn ensure_termination_protection(
        &self,
        stack: &Stack,
        want: bool,
        out: &Output,
    ) -> Result<(), DeployError> {
        if stack.enable_termination_protection().unwrap_or(false) == want {
            return Ok(());
        }
        let id = stack.stack_id().or(stack.stack_name()).unwrap_or_default();
        let name = stack.stack_name().unwrap_or(id);
        let on_off = if want { "on" } else { "off" };
        let done = call(self.pacing(), || {
            self.cfn()
                .update_termination_protection()
                .stack_name(id)
                .enable_termination_protection(want)
                // One attempt: a failure is a warning, and the next deploy
                // (which sees protection still off) tries again.
                .customize()
                .config_override(
                    aws_sdk_cloudformation::config::Builder::default().retry_config(
                        aws_sdk_cloudformation::config::retry::RetryConfig::disabled(),
                    ),
                )
                .send()
        })
        .await;
        match done {
            Ok(_) => out.note(name, &format!("termination protection {on_off}")),
            // The stack itself is deployed: failing the deploy now would
            // report a success as a failure. Say it loudly instead, with the
            // command that finishes the job (the local emulator, for one,
            // does not implement this call).
            Err(e) => {
                let e = aws_error("UpdateTerminationProtection", &e);
                let flag = if want { "--enable" } else { "--no-enable" };
                out.emit(
                    name,
                    "warning",
                    &format!(
                        "warning: the stack is deployed, but termination protection could not be turned {on_off}: {e}\n  \
                         fix: aws cloudformation update-termination-protection {flag}-termination-protection --stack-name {name}"
                    ),
                    json!({"termination_protection": want, "error": e.to_string()}),
                );
            }
        }
        Ok(())
    }

    /// The stack's outputs. Stacks created through change sets in moto have
    /// none; then outputs whose value is a plain `Ref` are resolved from
    /// `ListStackResources` (a `Ref` is the physical id for every stateful
    /// type we use) and the note says so. That fallback costs a call per
    /// stack, so it runs only when `resolve` (an outputs file was asked for).
    pub(crate) async fn outputs(
        &self,
        stack: &Stack,
        template: &Value,
        resolve: bool,
    ) -> Result<(BTreeMap<String, String>, Option<String>), DeployError> {
        let outputs: BTreeMap<String, String> = stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
            .collect();
        let declared = template.get("Outputs").and_then(Value::as_object);
        let Some(declared) = declared.filter(|d| resolve && !d.is_empty() && outputs.is_empty())
        else {
            return Ok((outputs, None));
        };
        let resources = self
            .physical_ids(stack.stack_id().or(stack.stack_name()).unwrap_or_default())
            .await?;
        let mut resolved = BTreeMap::new();
        let mut missing = Vec::new();
        for (key, out) in declared {
            let value = out.get("Value");
            let got = match value {
                Some(Value::String(s)) => Some(s.clone()),
                Some(v) => v
                    .get("Ref")
                    .and_then(Value::as_str)
                    .and_then(|r| resources.get(r))
                    .map(|(_, p)| p.clone()),
                None => None,
            };
            match got {
                Some(v) => {
                    resolved.insert(key.clone(), v);
                }
                None => missing.push(key.clone()),
            }
        }
        let mut note = format!(
            "CloudFormation returned no Outputs (moto omits them for change-set-created stacks); resolved {} of {} from ListStackResources",
            resolved.len(),
            declared.len()
        );
        if !missing.is_empty() {
            note.push_str(&format!(
                "; unresolved (not a plain Ref): {}",
                missing.join(", ")
            ));
        }
        Ok((resolved, Some(note)))
    }

    /// Logical id → (type, physical id), paginated.
    pub(crate) async fn physical_ids(
        &self,
        stack: &str,
    ) -> Result<BTreeMap<String, (String, String)>, DeployError> {
        let mut map = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let page = call(self.pacing(), || {
                self.cfn()
                    .list_stack_resources()
                    .stack_name(stack)
                    .set_next_token(token.clone())
                    .send()
            })
            .await
            .map_err(|e| aws_error("ListStackResources", &e))?;
            for r in page.stack_resource_summaries() {
                if let (Some(l), Some(p)) = (r.logical_resource_id(), r.physical_resource_id()) {
                    map.insert(
                        l.to_string(),
                        (r.resource_type().unwrap_or("?").to_string(), p.to_string()),
                    );
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(map);
            }
        }
    }
}

enum ChangeSetResult {
    Ready(Vec<ResourceChange>),
    NoChanges,
    Failed(String),
}

/// Why a change set is being deleted: the interrupt, or `otherwise`.
fn discard_reason(e: &DeployError, otherwise: &'static str) -> &'static str {
    if matches!(e, DeployError::Interrupted { .. }) {
        "the deploy was interrupted"
    } else {
        otherwise
    }
}

/// The error for a stack left at a safe point by Ctrl-C.
pub(crate) fn interrupted(stack: &str, state: &str) -> DeployError {
    DeployError::Interrupted {
        stack: stack.into(),
        state: state.into(),
        fix: "deploy again when ready; `acme-infra status` shows every county's stack".into(),
    }
}

pub(crate) fn preflight_usage(artifacts: &[StackArtifact]) -> Result<(), DeployError> {
    if artifacts.is_empty() {
        return Err(DeployError::usage(
            "no stacks selected: name at least one county (or none, for all of the environment's counties)",
        ));
    }
    let mut names = std::collections::BTreeSet::new();
    for a in artifacts {
        if !names.insert(a.stack_name.as_str()) {
            return Err(DeployError::usage(format!(
                "stack {} is listed twice",
                a.stack_name
            )));
        }
    }
    Ok(())
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
        };
        s.push_str(&format!(
            "{:<10} {:<18} {:<10} {:>7} {:>7.1}s\n",
            r.county, r.stack, word, n, r.seconds
        ));
    }
    let ok = report.stacks.len() - failures.len();
    s.push_str(&format!("{ok} ok, {} failed\n", failures.len()));
    s
}

fn write_outputs(path: &std::path::Path, report: &DeployReport) -> Result<(), DeployError> {
    let mut doc = serde_json::Map::new();
    for r in report
        .stacks
        .iter()
        .filter(|r| r.outcome != Outcome::Skipped)
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

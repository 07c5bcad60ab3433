//! The [`Deployer`]: SDK clients (built once), pacing, bookkeeping and the
//! interrupt flag. Every module that talks to AWS adds methods to it and
//! depends on this one; this one depends on none of them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::Serialize;

use crate::artifact::StackArtifact;
use crate::aws::{CallCounter, Clients, Pacing, Stats, aws_error, call};
use crate::error::DeployError;
use crate::interrupt::Interrupt;

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

struct Inner {
    clients: Clients,
    pacing: Pacing,
    stats: Stats,
    caller: crate::reach::Caller,
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

impl Deployer {
    /// A deployer over the given clients.
    pub fn new(clients: Clients, pacing: Pacing) -> Self {
        Self {
            inner: Arc::new(Inner {
                clients,
                pacing,
                stats: Stats::default(),
                caller: crate::reach::Caller::default(),
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

    /// A deployer over other clients (another account or region), with this
    /// one's pacing and interrupt flag.
    pub(crate) fn with_clients(&self, clients: Clients) -> Self {
        Self::new(clients, self.inner.pacing.clone()).with_interrupt(self.interrupt.clone())
    }

    /// The clients.
    pub fn clients(&self) -> &Clients {
        &self.inner.clients
    }

    /// Who these credentials are, once asked (see [`crate::reach`]).
    pub(crate) fn caller_cache(&self) -> &crate::reach::Caller {
        &self.inner.caller
    }

    pub(crate) fn pacing(&self) -> &Pacing {
        &self.inner.pacing
    }

    pub(crate) fn cfn(&self) -> &aws_sdk_cloudformation::Client {
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

    /// `Err(Interrupted)` once Ctrl-C was pressed, before anything executes.
    pub(crate) fn stop_if_interrupted(&self, name: &str) -> Result<(), DeployError> {
        if self.interrupt().is_raised() {
            Err(interrupted(
                name,
                "the change set was deleted; nothing was executed",
            ))
        } else {
            Ok(())
        }
    }

    /// `sts:GetCallerIdentity`, then refuses if any artifact targets another
    /// account or region: a deploy with the wrong profile must not create a
    /// county's stack in someone else's account.
    pub async fn check_identity(
        &self,
        artifacts: &[StackArtifact],
    ) -> Result<Identity, DeployError> {
        let identity = self.identity().await?;
        match elsewhere(&identity, artifacts) {
            None => Ok(identity),
            Some(e) => Err(e),
        }
    }

    /// Who the credentials are: account (`sts:GetCallerIdentity`) and region.
    pub async fn identity(&self) -> Result<Identity, DeployError> {
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
        Ok(Identity {
            account: who.account().unwrap_or_default().to_string(),
            region,
            arn: who.arn().unwrap_or_default().to_string(),
        })
    }
}

/// The refusal for artifacts that target another account or region.
fn elsewhere(identity: &Identity, artifacts: &[StackArtifact]) -> Option<DeployError> {
    let wrong: Vec<String> = artifacts
        .iter()
        .filter(|a| a.account != identity.account || a.region != identity.region)
        .map(|a| format!("{} wants {}/{}", a.stack_name, a.account, a.region))
        .collect();
    (!wrong.is_empty()).then(|| DeployError::Identity {
        message: format!(
            "credentials are for account {} in {} ({}), but {}",
            identity.account,
            identity.region,
            identity.arn,
            wrong.join("; ")
        ),
        fix: "switch to the environment's profile (AWS_PROFILE) and region (AWS_REGION); nothing was deployed".into(),
    })
}

/// The error for a stack left at a safe point by Ctrl-C.
pub(crate) fn interrupted(stack: &str, state: &str) -> DeployError {
    DeployError::Interrupted {
        stack: stack.into(),
        state: state.into(),
        fix: "deploy again when ready; `acme-infra status` shows every county's stack".into(),
    }
}

/// Refuses an empty selection and a stack listed twice, before any API call.
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

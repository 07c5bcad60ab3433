//! Reaching each county's account. A fleet spans accounts: one pipeline job's
//! credentials reach a county directly when they are its account's, and
//! otherwise through the way in its county file names (`access:`, carried in
//! the assembly): a role in the county's account to assume (the CDK's
//! `assumeRoleArn`) or a named profile. A county with neither, in another
//! account, cannot be reached: a whole-fleet run skips it with the reason, a
//! run that named it fails.

use acme_stacks::config::AccountAccess;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_sts::config::SharedCredentialsProvider;

use crate::artifact::StackArtifact;
use crate::aws::Clients;
use crate::deployer::{Deployer, Identity};
use crate::error::DeployError;

/// Where a group of stacks lives and how it is reached.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    pub account: String,
    pub region: String,
    pub access: Option<AccountAccess>,
}

impl Target {
    pub fn of(a: &StackArtifact) -> Self {
        Target {
            account: a.account.clone(),
            region: a.region.clone(),
            access: a.access.clone(),
        }
    }
}

/// The outcome of trying to reach a [`Target`].
#[derive(Debug)]
pub enum Reach {
    /// A deployer whose credentials are the target account's, in its region.
    Reached {
        deployer: Deployer,
        identity: Identity,
    },
    /// The caller's credentials are another account's and the county file
    /// gives no way in. `reason` says so, naming both accounts.
    Unreachable { reason: String },
}

/// Artifacts grouped by target, groups in the order their first stack came.
pub fn by_target(artifacts: Vec<StackArtifact>) -> Vec<(Target, Vec<StackArtifact>)> {
    let mut groups: Vec<(Target, Vec<StackArtifact>)> = Vec::new();
    for a in artifacts {
        let t = Target::of(&a);
        match groups.iter_mut().find(|(g, _)| *g == t) {
            Some((_, members)) => members.push(a),
            None => groups.push((t, vec![a])),
        }
    }
    groups
}

impl Deployer {
    /// A deployer for `t`: these clients when they already fit (same region,
    /// no way in named), else clients in `t.region` with the credentials its
    /// access gives. `Err` when a named way in does not work or leads to
    /// another account: the county file promised it would.
    pub async fn reach(&self, t: &Target) -> Result<Reach, DeployError> {
        let fits =
            t.access.is_none() && self.clients().region.as_deref() == Some(t.region.as_str());
        let deployer = if fits {
            self.clone()
        } else {
            let sdk = self.sdk_for(t).await?;
            self.with_clients(Clients::from_sdk_config(&sdk))
        };
        let identity = match (deployer.identity().await, &t.access) {
            (Ok(identity), _) => identity,
            (Err(e), None) => return Err(e),
            (Err(e), Some(access)) => return Err(way_in_failed(t, access, &e.to_string())),
        };
        if identity.account == t.account {
            return Ok(Reach::Reached { deployer, identity });
        }
        match &t.access {
            None => Ok(Reach::Unreachable {
                reason: format!(
                    "account {} cannot be reached: these credentials are for account {} ({}) and the county file gives no `access:` (a `role_arn` to assume or a `profile`)",
                    t.account, identity.account, identity.arn
                ),
            }),
            Some(access) => Err(way_in_failed(
                t,
                access,
                &format!(
                    "it leads to account {} ({})",
                    identity.account, identity.arn
                ),
            )),
        }
    }

    /// The SDK configuration of `t`: the caller's, in `t.region`, with the
    /// role assumed or the profile loaded.
    async fn sdk_for(&self, t: &Target) -> Result<aws_config::SdkConfig, DeployError> {
        let region = Region::new(t.region.clone());
        let base = self
            .clients()
            .sdk
            .clone()
            .ok_or_else(|| DeployError::Identity {
                message: format!(
                    "account {} in {} needs clients of its own, and these were assembled by hand",
                    t.account, t.region
                ),
                fix: "build the deployer with Clients::from_env".into(),
            })?;
        Ok(match &t.access {
            None => base.into_builder().region(region).build(),
            Some(AccountAccess::Role { arn, external_id }) => {
                let mut role = aws_config::sts::AssumeRoleProvider::builder(arn)
                    .session_name("acme-infra")
                    .region(region.clone());
                if let Some(id) = external_id {
                    role = role.external_id(id);
                }
                let provider = role.configure(&base).build().await;
                base.into_builder()
                    .region(region)
                    .credentials_provider(SharedCredentialsProvider::new(provider))
                    .build()
            }
            Some(AccountAccess::Profile(name)) => {
                aws_config::defaults(BehaviorVersion::latest())
                    .profile_name(name)
                    .region(region)
                    .load()
                    .await
            }
        })
    }
}

/// The refusal for stacks in an account these credentials are not for, when
/// the run named them: the message the deployer always gave, and how a
/// county file can name a way in.
pub(crate) fn unreachable(members: &[StackArtifact], reason: String) -> DeployError {
    let wants: Vec<String> = members
        .iter()
        .map(|a| format!("{} wants {}/{}", a.stack_name, a.account, a.region))
        .collect();
    DeployError::Identity {
        message: format!("{}; {reason}", wants.join("; ")),
        fix: "switch to the account's credentials (AWS_PROFILE), or give the county file `access: { role_arn: ... }` or `access: { profile: ... }`; nothing was deployed".into(),
    }
}

/// A county file's way in that did not lead into its account.
fn way_in_failed(t: &Target, access: &AccountAccess, why: &str) -> DeployError {
    let (what, fix) = match access {
        AccountAccess::Role { arn, .. } => (
            format!("assuming {arn}"),
            "check that the role exists in the county's account and trusts these credentials (sts:AssumeRole), and the external id if one is set",
        ),
        AccountAccess::Profile(name) => (
            format!("profile `{name}`"),
            "check that the profile exists in ~/.aws/config on this machine and has fresh credentials (e.g. `aws sso login --profile <name>`)",
        ),
    };
    DeployError::Identity {
        message: format!("account {} ({}): {what} failed: {why}", t.account, t.region),
        fix: fix.into(),
    }
}

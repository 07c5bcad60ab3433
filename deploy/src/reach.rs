//! Reaching each county's account. A fleet spans accounts: one pipeline job's
//! credentials reach a county directly when they are its account's (whatever
//! its county file says), and otherwise through the way in its county file
//! names (`access:`, carried in the assembly): a role in the county's account
//! to assume (the CDK's `assumeRoleArn`) or a named profile. A county with
//! neither, in another account, cannot be reached: a whole-fleet run skips it
//! with the reason, a run that named it fails.

use acme_stacks::config::AccountAccess;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_sts::config::SharedCredentialsProvider;
use tokio::sync::OnceCell;

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

/// The base credentials' identity, asked once per deployer: a fleet of many
/// counties in a handful of accounts costs one `GetCallerIdentity`, not one
/// per county. A failure is kept too (as its message and fix), so a machine
/// without default credentials does not wait out the credential chain again
/// for every county that names a profile.
#[derive(Default)]
pub(crate) struct Caller(OnceCell<Result<Identity, (String, String)>>);

impl Deployer {
    /// A deployer for `t`. The caller's own credentials when they are already
    /// `t.account`'s, whatever `access:` says (as the CDK does): a pipeline
    /// job that arrives through OIDC as the county's deploy role must not
    /// assume that role again (which would need the role to trust itself),
    /// and a profile kept on operators' machines must not be needed by a
    /// job that is already in the account. Otherwise the way in `access:`
    /// names; without one, `Unreachable`. `Err` when a named way in does not
    /// work or leads to another account: the county file promised it would.
    pub async fn reach(&self, t: &Target) -> Result<Reach, DeployError> {
        let caller = self.caller(t).await;
        if let Ok(me) = &caller
            && me.account == t.account
        {
            return Ok(Reach::Reached {
                deployer: self.in_region(t)?,
                identity: Identity {
                    region: t.region.clone(),
                    ..me.clone()
                },
            });
        }
        let Some(access) = &t.access else {
            let me = caller?;
            return Ok(Reach::Unreachable {
                reason: format!(
                    "account {} cannot be reached: these credentials are for account {} ({}) and the county file gives no `access:` (a `role_arn` to assume or a `profile`)",
                    t.account, me.account, me.arn
                ),
            });
        };
        self.reach_through(t, access).await
    }

    /// Who the base credentials are, from the cache or one
    /// `GetCallerIdentity` (in `t`'s region when these clients have none).
    async fn caller(&self, t: &Target) -> Result<Identity, DeployError> {
        let asked = self
            .caller_cache()
            .0
            .get_or_init(|| async {
                let who = match self.clients().region {
                    Some(_) => self.identity().await,
                    None => match self.in_region(t) {
                        Ok(d) => d.identity().await,
                        Err(e) => Err(e),
                    },
                };
                who.map_err(|e| match e {
                    DeployError::Identity { message, fix } => (message, fix),
                    other => (other.to_string(), String::new()),
                })
            })
            .await;
        asked
            .clone()
            .map_err(|(message, fix)| DeployError::Identity { message, fix })
    }

    /// These credentials in `t.region`: this deployer when it is already there.
    fn in_region(&self, t: &Target) -> Result<Deployer, DeployError> {
        if self.clients().region.as_deref() == Some(t.region.as_str()) {
            return Ok(self.clone());
        }
        let sdk = self.base_sdk(t)?;
        let sdk = sdk
            .into_builder()
            .region(Region::new(t.region.clone()))
            .build();
        Ok(self.with_clients(Clients::from_sdk_config(&sdk)))
    }

    /// `t` through the way in its county file names, checked to lead into
    /// `t.account`.
    async fn reach_through(
        &self,
        t: &Target,
        access: &AccountAccess,
    ) -> Result<Reach, DeployError> {
        let sdk = self.sdk_through(t, access).await?;
        let deployer = self.with_clients(Clients::from_sdk_config(&sdk));
        let identity = deployer
            .identity()
            .await
            .map_err(|e| way_in_failed(t, access, &e.to_string()))?;
        if identity.account != t.account {
            let why = format!(
                "it leads to account {} ({})",
                identity.account, identity.arn
            );
            return Err(way_in_failed(t, access, &why));
        }
        Ok(Reach::Reached { deployer, identity })
    }

    /// The SDK configuration of `t` through `access`: the caller's, in
    /// `t.region`, with the role assumed, or the profile's credentials.
    async fn sdk_through(
        &self,
        t: &Target,
        access: &AccountAccess,
    ) -> Result<aws_config::SdkConfig, DeployError> {
        let region = Region::new(t.region.clone());
        Ok(match access {
            AccountAccess::Role { arn, external_id } => {
                let base = self.base_sdk(t)?;
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
            AccountAccess::Profile(name) => {
                // The profile's credentials, not the default chain's: that
                // chain reads environment keys first, so a job holding keys
                // in its environment (its own account's) would never use
                // the profile at all.
                let conf = ProviderConfig::without_region().with_region(Some(region.clone()));
                let creds = ProfileFileCredentialsProvider::builder()
                    .profile_name(name)
                    .configure(&conf)
                    .build();
                aws_config::defaults(BehaviorVersion::latest())
                    .profile_name(name)
                    .region(region)
                    .credentials_provider(creds)
                    .load()
                    .await
            }
        })
    }

    /// The SDK configuration these clients were built from, to derive
    /// another region's or account's.
    fn base_sdk(&self, t: &Target) -> Result<aws_config::SdkConfig, DeployError> {
        self.clients()
            .sdk
            .clone()
            .ok_or_else(|| DeployError::Identity {
                message: format!(
                    "account {} in {} needs clients of its own, and these were assembled by hand",
                    t.account, t.region
                ),
                fix: "build the deployer with Clients::from_env".into(),
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

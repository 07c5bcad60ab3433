//! The bootstrap stack (one per account and region): the assets bucket that
//! function bundles and large templates go to. Deploying it is an ordinary
//! stack deploy (same change set, diff and safety checks: its bucket is
//! stateful; see `Deployer::bootstrap` in [`crate::deploy`]); finding it is
//! what every county deploy does first.

use std::collections::BTreeMap;

use serde_json::Value;

pub use acme_stacks::bootstrap::{OUTPUT_ASSETS_BUCKET, OUTPUT_VERSION, STACK_NAME, VERSION};

use aws_sdk_cloudformation::types::{Stack, StackStatus};

use crate::artifact::{StackArtifact, not_bootstrapped};
use crate::deployer::Deployer;
use crate::error::{DeployError, RefusalKind};
use crate::stack::{status_of, tag};

/// Stack tag carrying the bootstrap version. Outputs are the primary source;
/// the tag is the fallback for moto, whose change-set-created stacks have no
/// Outputs.
pub const VERSION_TAG: &str = "acme:bootstrap-version";

/// Options for [`Deployer::bootstrap`].
#[derive(Debug, Clone, Default)]
pub struct BootstrapOptions {
    /// Turn on termination protection on the bootstrap stack.
    pub termination_protection: bool,
    /// Logical ids that may be replaced (the bucket, only if you mean it).
    pub allow_replace: Vec<String>,
    /// Use this template instead of `acme_stacks::bootstrap::template_json`
    /// (tests, and trying a new bootstrap version before it ships).
    pub template_override: Option<String>,
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

/// The bootstrap stack as an artifact for `account`/`region`; refuses a
/// template without resources.
pub(crate) fn artifact(
    account: &str,
    region: &str,
    opts: &BootstrapOptions,
) -> Result<StackArtifact, DeployError> {
    let template_body = match &opts.template_override {
        Some(t) => t.clone(),
        None => acme_stacks::bootstrap::template_json(),
    };
    let has_resources = serde_json::from_str::<Value>(&template_body)
        .ok()
        .and_then(|t| {
            t.get("Resources")
                .and_then(Value::as_object)
                .map(|r| !r.is_empty())
        })
        .unwrap_or(false);
    if !has_resources {
        return Err(DeployError::refused(
            STACK_NAME,
            RefusalKind::Template,
            "the bootstrap template has no resources (acme-stacks still ships the placeholder)",
            "update acme-stacks to the release with the typed bootstrap template",
        ));
    }
    Ok(StackArtifact {
        stack_name: STACK_NAME.to_string(),
        county_id: "bootstrap".to_string(),
        account: account.to_string(),
        region: region.to_string(),
        access: None,
        template_body,
        tags: BTreeMap::from([(VERSION_TAG.to_string(), VERSION.to_string())]),
        termination_protection: opts.termination_protection,
        assets: vec![],
    })
}

fn output<'a>(stack: &'a Stack, key: &str) -> Option<&'a str> {
    stack
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some(key))
        .and_then(|o| o.output_value())
}

/// The bootstrap version from the stack's output, else from its tag (moto).
fn version(stack: &Stack, notes: &mut Vec<String>) -> u32 {
    let text = output(stack, OUTPUT_VERSION).or_else(|| {
        let t = tag(stack, VERSION_TAG);
        if t.is_some() {
            notes.push(format!(
                "version read from the {VERSION_TAG} tag (no {OUTPUT_VERSION} output)"
            ));
        }
        t
    });
    text.and_then(|v| v.parse().ok()).unwrap_or(0)
}

impl Deployer {
    /// Finds the assets bucket and bootstrap version; refuses (with the
    /// command that fixes it) when the target is not bootstrapped or is on an
    /// older bootstrap version.
    pub async fn bootstrap_info(
        &self,
        account: &str,
        region: &str,
    ) -> Result<BootstrapInfo, DeployError> {
        let Some(stack) = self.describe_stack(STACK_NAME).await? else {
            return Err(not_bootstrapped(
                account,
                region,
                &format!("stack {STACK_NAME} does not exist"),
            ));
        };
        let status = status_of(&stack);
        if !matches!(
            status,
            StackStatus::CreateComplete
                | StackStatus::UpdateComplete
                | StackStatus::UpdateRollbackComplete
        ) {
            return Err(not_bootstrapped(
                account,
                region,
                &format!("stack {STACK_NAME} is {}", status.as_str()),
            ));
        }
        let mut notes = Vec::new();
        let version = version(&stack, &mut notes);
        if version < VERSION {
            return Err(DeployError::refused(
                STACK_NAME,
                RefusalKind::Bootstrap,
                format!(
                    "account {account} in {region} has bootstrap version {version}; this deployer needs {VERSION}"
                ),
                format!("upgrade it: `acme-infra bootstrap --account {account} --region {region}`"),
            ));
        }
        let bucket = match output(&stack, OUTPUT_ASSETS_BUCKET) {
            Some(b) => b.to_string(),
            None => {
                self.bucket_resource(&stack, account, region, &mut notes)
                    .await?
            }
        };
        Ok(BootstrapInfo {
            bucket,
            version,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        })
    }

    /// The bootstrap stack's one bucket, from `ListStackResources` (moto
    /// omits Outputs).
    async fn bucket_resource(
        &self,
        stack: &Stack,
        account: &str,
        region: &str,
        notes: &mut Vec<String>,
    ) -> Result<String, DeployError> {
        let resources = self
            .physical_ids(stack.stack_id().unwrap_or(STACK_NAME))
            .await?;
        let buckets: Vec<&String> = resources
            .values()
            .filter(|(t, _)| t == "AWS::S3::Bucket")
            .map(|(_, p)| p)
            .collect();
        match buckets.as_slice() {
            [one] => {
                notes.push(format!("assets bucket found with ListStackResources (no {OUTPUT_ASSETS_BUCKET} output; moto omits Outputs)"));
                Ok((*one).clone())
            }
            _ => Err(not_bootstrapped(
                account,
                region,
                &format!("stack {STACK_NAME} has no {OUTPUT_ASSETS_BUCKET} output"),
            )),
        }
    }
}

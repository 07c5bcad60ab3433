//! The bootstrap stack (one per account and region): the assets bucket that
//! function bundles and large templates go to. Deploying it is an ordinary
//! stack deploy (same change set, diff and safety checks: its bucket is
//! stateful); finding it is what every county deploy does first.

use std::collections::BTreeMap;

use serde_json::Value;

pub use acme_stacks::bootstrap::{OUTPUT_ASSETS_BUCKET, OUTPUT_VERSION, STACK_NAME, VERSION};

use crate::artifact::{StackArtifact, not_bootstrapped};
use crate::deploy::{DeployOptions, Deployer, StackReport, status_of};
use crate::error::{DeployError, RefusalKind};
use crate::output::Output;

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

impl Deployer {
    /// Deploys (creates or upgrades) the bootstrap stack in `account`/`region`.
    pub async fn bootstrap(
        &self,
        account: &str,
        region: &str,
        opts: &BootstrapOptions,
        out: &Output,
    ) -> Result<StackReport, DeployError> {
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
        let artifact = StackArtifact {
            stack_name: STACK_NAME.to_string(),
            county_id: "bootstrap".to_string(),
            account: account.to_string(),
            region: region.to_string(),
            template_body,
            tags: BTreeMap::from([(VERSION_TAG.to_string(), VERSION.to_string())]),
            termination_protection: opts.termination_protection,
            assets: vec![],
        };
        self.check_identity(std::slice::from_ref(&artifact)).await?;
        let deploy = DeployOptions {
            allow_replace: opts.allow_replace.clone(),
            // The bootstrap stack is infrastructure for deploys; a broadening
            // change there (the bucket policy) is reviewed with the code.
            require_approval: crate::deploy::RequireApproval::Never,
            ..DeployOptions::default()
        };
        let report = self.deploy_stack(&artifact, None, &deploy, out).await?;
        let info = self.bootstrap_info(account, region).await?;
        out.emit(
            STACK_NAME,
            "bootstrap",
            &format!(
                "ready: assets bucket {} (bootstrap version {})",
                info.bucket, info.version
            ),
            serde_json::json!({"bucket": info.bucket, "version": info.version}),
        );
        Ok(report)
    }

    /// Finds the assets bucket and bootstrap version; refuses (with the
    /// command that fixes it) when the target is not bootstrapped or is on an
    /// older bootstrap version.
    pub async fn bootstrap_info(
        &self,
        account: &str,
        region: &str,
    ) -> Result<crate::deploy::BootstrapInfo, DeployError> {
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
            "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE"
        ) {
            return Err(not_bootstrapped(
                account,
                region,
                &format!("stack {STACK_NAME} is {status}"),
            ));
        }
        let output = |key: &str| {
            stack
                .outputs()
                .iter()
                .find(|o| o.output_key() == Some(key))
                .and_then(|o| o.output_value())
                .map(str::to_string)
        };
        let mut notes = Vec::new();
        let version_text = match output(OUTPUT_VERSION) {
            Some(v) => Some(v),
            None => {
                let t = stack
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some(VERSION_TAG))
                    .and_then(|t| t.value())
                    .map(str::to_string);
                if t.is_some() {
                    notes.push(format!(
                        "version read from the {VERSION_TAG} tag (no {OUTPUT_VERSION} output)"
                    ));
                }
                t
            }
        };
        let version: u32 = version_text
            .as_deref()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
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
        let bucket = match output(OUTPUT_ASSETS_BUCKET) {
            Some(b) => b,
            None => {
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
                        (*one).clone()
                    }
                    _ => {
                        return Err(not_bootstrapped(
                            account,
                            region,
                            &format!("stack {STACK_NAME} has no {OUTPUT_ASSETS_BUCKET} output"),
                        ));
                    }
                }
            }
        };
        Ok(crate::deploy::BootstrapInfo {
            bucket,
            version,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        })
    }
}

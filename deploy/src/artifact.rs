//! The deployer's input: one generated stack per county, plus what the
//! deployer derives from it (parameters, the deploy hash).

use std::collections::BTreeMap;
use std::path::PathBuf;

use acme_stacks::assembly::StackTemplate;
use acme_stacks::config::AccountAccess;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{DeployError, RefusalKind};

/// Template parameter that receives the assets bucket's name (the generator's name for it).
pub use acme_stacks::bootstrap::ASSET_BUCKET_PARAMETER;
/// Stack tag holding the hash of everything a deploy sends (template,
/// parameters, tags). Equal hash on the stack ⇒ nothing to deploy.
pub const DEPLOY_HASH_TAG: &str = "acme:deploy-hash";
/// CloudFormation refuses a `TemplateBody` over this many bytes; larger
/// templates must be uploaded to S3 and passed as `TemplateURL`.
pub const TEMPLATE_BODY_LIMIT: usize = 51_200;

/// One Lambda bundle a template needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionAsset {
    /// Template parameter receiving the S3 key, e.g. `OrderApiCodeKey`.
    pub parameter: String,
    /// The zip on disk.
    pub zip_path: PathBuf,
}

/// One generated CloudFormation stack, ready to deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackArtifact {
    /// Stack name, `acme-<county-id>`.
    pub stack_name: String,
    /// County id (the key in `--outputs-file` and the summary table).
    pub county_id: String,
    /// Account the stack belongs in; deploying elsewhere is refused.
    pub account: String,
    /// Region the stack belongs in; deploying elsewhere is refused.
    pub region: String,
    /// How its account is reached (`access:` of the county file); `None`:
    /// with the caller's own credentials.
    pub access: Option<AccountAccess>,
    /// The template as JSON text.
    pub template_body: String,
    /// Stack tags (propagated by CloudFormation to every taggable resource).
    pub tags: BTreeMap<String, String>,
    /// Turn on termination protection after a successful deploy.
    pub termination_protection: bool,
    /// Function bundles; each one's key goes into its template parameter.
    pub assets: Vec<FunctionAsset>,
}

/// A template parameter as the deployer reads it: only whether it has a default matters.
#[derive(Debug, Deserialize)]
struct DeclaredParameter {
    #[serde(rename = "Default", default)]
    default: Option<Value>,
}

/// An asset after hashing: where it will live in the assets bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HashedAsset {
    pub parameter: String,
    pub zip_path: PathBuf,
    pub sha256: String,
    pub key: String,
}

impl StackArtifact {
    /// The artifact for a generated stack and the bundles its template asks
    /// for. County stacks always get termination protection.
    pub fn new(template: StackTemplate, assets: Vec<FunctionAsset>) -> Self {
        StackArtifact {
            stack_name: template.stack_name,
            county_id: template.county_id,
            account: template.account,
            region: template.region,
            access: template.access,
            template_body: template.body,
            tags: template.tags,
            termination_protection: true,
            assets,
        }
    }

    /// Parses the template, so that a generator bug is reported before any
    /// API call rather than as CloudFormation's "Template format error".
    pub(crate) fn template(&self) -> Result<Value, DeployError> {
        serde_json::from_str(&self.template_body).map_err(|e| {
            DeployError::refused(
                &self.stack_name,
                RefusalKind::Template,
                format!("the template is not valid JSON: {e}"),
                "this is a generator bug: regenerate the stack and report it",
            )
        })
    }

    /// Hashes every asset (SHA-256 of the zip's bytes) into its content-addressed key.
    pub(crate) fn hash_assets(&self) -> Result<Vec<HashedAsset>, DeployError> {
        self.assets
            .iter()
            .map(|a| {
                let sha256 = sha256_file(&a.zip_path)?;
                Ok(HashedAsset {
                    parameter: a.parameter.clone(),
                    zip_path: a.zip_path.clone(),
                    key: format!("assets/{sha256}.zip"),
                    sha256,
                })
            })
            .collect()
    }

    /// The parameters this deploy passes: `AssetBucket` (when the template
    /// declares it) and one key per asset. Refuses an asset whose parameter the
    /// template does not declare, and a declared `*CodeKey`/`AssetBucket`
    /// parameter nobody fills: CloudFormation would reject both, later and vaguer.
    pub(crate) fn parameters(
        &self,
        template: &Value,
        assets: &[HashedAsset],
        bucket: Option<&str>,
    ) -> Result<BTreeMap<String, String>, DeployError> {
        let declared = self.declared_parameters(template)?;
        let mut params = BTreeMap::new();
        for a in assets {
            if !declared.contains_key(&a.parameter) {
                return Err(DeployError::refused(
                    &self.stack_name,
                    RefusalKind::Template,
                    format!(
                        "asset {} targets parameter {}, which the template does not declare",
                        a.zip_path.display(),
                        a.parameter
                    ),
                    "the generator and the asset list disagree: regenerate the stack",
                ));
            }
            params.insert(a.parameter.clone(), a.key.clone());
        }
        if declared.contains_key(ASSET_BUCKET_PARAMETER) {
            let bucket = bucket.ok_or_else(|| {
                not_bootstrapped(&self.account, &self.region, "it has no assets bucket")
            })?;
            params.insert(ASSET_BUCKET_PARAMETER.to_string(), bucket.to_string());
        }
        for (name, decl) in &declared {
            if !params.contains_key(name) && decl.default.is_none() {
                return Err(DeployError::refused(
                    &self.stack_name,
                    RefusalKind::Template,
                    format!("template parameter {name} has no default and no asset fills it"),
                    "add the function's zip to the artifact's assets (parameter names must match)",
                ));
            }
        }
        Ok(params)
    }

    /// The template's `Parameters`, by name.
    fn declared_parameters(
        &self,
        template: &Value,
    ) -> Result<BTreeMap<String, DeclaredParameter>, DeployError> {
        let Some(section) = template.get("Parameters") else {
            return Ok(BTreeMap::new());
        };
        BTreeMap::deserialize(section).map_err(|e| {
            DeployError::refused(
                &self.stack_name,
                RefusalKind::Template,
                format!("the template's Parameters section is malformed: {e}"),
                "this is a generator bug: regenerate the stack and report it",
            )
        })
    }

    /// The hash recorded on the stack as [`DEPLOY_HASH_TAG`]: SHA-256 over the
    /// template, the parameters and the tags. Asset keys are content hashes,
    /// so a changed zip changes the hash too.
    pub(crate) fn deploy_hash(&self, params: &BTreeMap<String, String>) -> String {
        let mut h = Sha256::new();
        // Length-prefixed fields: no two different inputs hash the same bytes.
        let mut field = |s: &str| {
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        field("acme-deploy-hash/v1");
        field(&self.template_body);
        for (k, v) in params {
            field(k);
            field(v);
        }
        for (k, v) in &self.tags {
            field(k);
            field(v);
        }
        hex::encode(h.finalize())
    }
}

pub(crate) fn not_bootstrapped(account: &str, region: &str, why: &str) -> DeployError {
    DeployError::refused(
        acme_stacks::bootstrap::STACK_NAME,
        RefusalKind::Bootstrap,
        format!("account {account} in {region} is not bootstrapped: {why}"),
        format!(
            "run `acme-infra bootstrap --account {account} --region {region}` once, then deploy again"
        ),
    )
}

/// SHA-256 of a file, hex; streams so large bundles are not held in memory twice.
pub(crate) fn sha256_file(path: &std::path::Path) -> Result<String, DeployError> {
    use std::io::Read;
    let io = |source| DeployError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// SHA-256 of bytes, hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(template: &str) -> StackArtifact {
        StackArtifact {
            stack_name: "acme-06037".into(),
            county_id: "06037".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            access: None,
            template_body: template.into(),
            tags: BTreeMap::from([("county".into(), "06037".into())]),
            termination_protection: true,
            assets: vec![],
        }
    }

    #[test]
    fn hash_changes_with_template_params_and_tags() {
        let a = artifact(r#"{"Resources":{}}"#);
        let p = BTreeMap::new();
        let h1 = a.deploy_hash(&p);
        assert_eq!(h1, a.deploy_hash(&p), "deterministic");
        let mut b = a.clone();
        b.template_body.push(' ');
        assert_ne!(h1, b.deploy_hash(&p));
        let mut c = a.clone();
        c.tags.insert("x".into(), "y".into());
        assert_ne!(h1, c.deploy_hash(&p));
        let p2 = BTreeMap::from([("K".to_string(), "assets/ab.zip".to_string())]);
        assert_ne!(h1, a.deploy_hash(&p2));
    }

    #[test]
    fn parameters_wire_bucket_and_keys_and_reject_strays() {
        let t: Value = serde_json::json!({"Parameters": {"AssetBucket": {"Type": "String"}, "OrderApiCodeKey": {"Type": "String"}}, "Resources": {}});
        let a = artifact("{}");
        let assets = vec![HashedAsset {
            parameter: "OrderApiCodeKey".into(),
            zip_path: "x.zip".into(),
            sha256: "ab".into(),
            key: "assets/ab.zip".into(),
        }];
        let p = a.parameters(&t, &assets, Some("bkt")).expect("params");
        assert_eq!(p["AssetBucket"], "bkt");
        assert_eq!(p["OrderApiCodeKey"], "assets/ab.zip");
        // Missing bucket => bootstrap refusal.
        let e = a.parameters(&t, &assets, None).expect_err("no bucket");
        assert!(matches!(
            e,
            DeployError::Refused {
                kind: RefusalKind::Bootstrap,
                ..
            }
        ));
        // An undeclared parameter is refused.
        let stray = vec![HashedAsset {
            parameter: "Nope".into(),
            ..assets[0].clone()
        }];
        assert!(a.parameters(&t, &stray, Some("bkt")).is_err());
        // A declared key nobody fills is refused.
        assert!(a.parameters(&t, &[], Some("bkt")).is_err());
        // No parameters at all (data-layer-only stack): nothing to pass.
        let plain = serde_json::json!({"Resources": {}});
        assert!(a.parameters(&plain, &[], None).expect("plain").is_empty());
    }
}

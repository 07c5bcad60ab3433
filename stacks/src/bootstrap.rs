//! The per-account, per-region bootstrap stack that deploys need: the assets
//! bucket that function bundles and large templates are uploaded to, and the
//! KMS key that encrypts it.

use serde_json::json;

use crate::cfn::resources::kms::{Alias, Key};
use crate::cfn::resources::s3::{
    AbortIncompleteMultipartUpload, Bucket, BucketEncryption, BucketPolicy, LifecycleConfiguration,
    LifecycleRule, NoncurrentVersionExpiration, OwnershipControls, PublicAccessBlock,
    VersioningConfiguration,
};
use crate::cfn::{
    Expr, LogicalId, Output, PolicyDocument, Principal, Res, Statement, Tag, Template,
    TemplateError,
};

/// Name of the bootstrap stack in every account and region.
pub const STACK_NAME: &str = "acme-bootstrap";
/// Output holding the assets bucket's name.
pub const OUTPUT_ASSETS_BUCKET: &str = "AssetsBucketName";
/// Output holding the bootstrap template's version, so deploy can tell an old bootstrap.
pub const OUTPUT_VERSION: &str = "BootstrapVersion";
/// Current bootstrap version. Bump it whenever the template changes in a way
/// deploys rely on.
pub const VERSION: u32 = 1;
/// Days an overwritten or deleted asset version is kept before S3 removes it.
pub const NONCURRENT_ASSET_DAYS: u32 = 30;

/// The assets bucket's name in an account and region. It is derived, not
/// random, so deploy can find it without reading stack outputs (the local
/// emulator returns none for stacks created through change sets).
pub fn assets_bucket_name(account: &str, region: &str) -> String {
    format!("acme-assets-{account}-{region}")
}

/// The bootstrap template.
pub fn template() -> Result<Template, TemplateError> {
    let mut t = Template::new(format!(
        "ACME order system bootstrap (version {VERSION}): assets bucket for deploys"
    ));
    let tags = vec![Tag::new("managed-by", "acme-infra")];
    let key = LogicalId::new("AssetsKey");
    t.add(
        Res::new(
            &key,
            Key {
                description: "Encrypts ACME deploy assets (function bundles, templates)".into(),
                enable_key_rotation: true,
                pending_window_in_days: 30,
                key_policy: PolicyDocument::new(vec![
                    Statement::allow(&["kms:*"], vec![Expr::lit("*")])
                        .sid("AccountAdministersKeyThroughIam")
                        .principal(Principal::aws(vec![Expr::sub(
                            "arn:${AWS::Partition}:iam::${AWS::AccountId}:root",
                        )])),
                ]),
                // Keys take their tags from the stack's tags, which CloudFormation
                // propagates to every taggable resource: the local emulator cannot
                // create a key with resource-level Tags, and the tags are the same.
                tags: Vec::new(),
            },
        )?
        .retain(),
    )?;
    t.add_resource(
        &LogicalId::new("AssetsKeyAlias"),
        Alias {
            alias_name: "alias/acme/assets".into(),
            target_key_id: key.r#ref(),
        },
    )?;
    let bucket = LogicalId::new("AssetsBucket");
    t.add(
        Res::new(
            &bucket,
            Bucket {
                bucket_name: Some(Expr::sub("acme-assets-${AWS::AccountId}-${AWS::Region}")),
                bucket_encryption: Some(BucketEncryption::kms(key.arn())),
                versioning_configuration: Some(VersioningConfiguration::enabled()),
                public_access_block_configuration: Some(PublicAccessBlock::all()),
                ownership_controls: Some(OwnershipControls::bucket_owner_enforced()),
                lifecycle_configuration: Some(LifecycleConfiguration {
                    rules: vec![LifecycleRule {
                        id: "ExpireOldAssetVersions".into(),
                        status: "Enabled",
                        noncurrent_version_expiration: Some(NoncurrentVersionExpiration {
                            noncurrent_days: NONCURRENT_ASSET_DAYS,
                        }),
                        abort_incomplete_multipart_upload: Some(AbortIncompleteMultipartUpload {
                            days_after_initiation: 1,
                        }),
                        ..Default::default()
                    }],
                }),
                tags,
                ..Default::default()
            },
        )?
        .retain()
        .metadata(
            "checkov",
            json!({"skip": [{"id": "CKV_AWS_18", "comment": "Assets are content-addressed build outputs; uploads are audited by CloudTrail, not access logs"}]}),
        ),
    )?;
    t.add_resource(
        &LogicalId::new("AssetsBucketPolicy"),
        BucketPolicy {
            bucket: bucket.r#ref(),
            policy_document: PolicyDocument::new(vec![Statement::deny_insecure_transport(
                &["s3:*"],
                vec![bucket.arn(), Expr::sub("${AssetsBucket.Arn}/*")],
            )]),
        },
    )?;
    t.add_output(
        OUTPUT_ASSETS_BUCKET,
        Output {
            description: "Bucket that deploys upload assets to".into(),
            value: bucket.r#ref(),
            export: None,
            condition: None,
        },
    )?;
    t.add_output(
        OUTPUT_VERSION,
        Output {
            description: "Version of the bootstrap template".into(),
            value: Expr::lit(VERSION.to_string()),
            export: None,
            condition: None,
        },
    )?;
    t.check_references()?;
    Ok(t)
}

/// The bootstrap template as JSON text. Account and region are resolved by
/// CloudFormation (pseudo parameters); they are taken here so a future version
/// can vary by partition without changing callers.
pub fn template_json(account: &str, region: &str) -> String {
    let _ = (account, region);
    template().map(|t| t.to_json()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_bucket_is_private_encrypted_versioned_and_tls_only() {
        let v = template().expect("builds").to_value();
        let b = &v["Resources"]["AssetsBucket"];
        assert_eq!(b["DeletionPolicy"], "Retain");
        let p = &b["Properties"];
        assert_eq!(p["VersioningConfiguration"]["Status"], "Enabled");
        assert_eq!(
            p["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"],
            true
        );
        assert_eq!(
            p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
                ["SSEAlgorithm"],
            "aws:kms"
        );
        let st =
            &v["Resources"]["AssetsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
        assert_eq!(st["Effect"], "Deny");
        assert_eq!(st["Condition"]["Bool"]["aws:SecureTransport"], false);
        assert_eq!(
            assets_bucket_name("123456789012", "us-east-2"),
            "acme-assets-123456789012-us-east-2"
        );
        assert!(template_json("123456789012", "us-east-1").contains("\"AWS::S3::Bucket\""));
    }
}

//! The per-account, per-region bootstrap stack that deploys need: the assets
//! bucket that function bundles and large templates are uploaded to, the KMS
//! key that encrypts it, and API Gateway's account setting for logging (a
//! county stage with access or execution logs cannot be created in a region
//! whose API Gateway has no CloudWatch role).

use serde_json::json;

use crate::cfn::guard::{self, Suppression};
use crate::cfn::resources::apigateway::Account;
use crate::cfn::resources::iam::Role;
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
/// deploys rely on. 2: API Gateway's CloudWatch role.
pub const VERSION: u32 = 2;
/// The county template's parameter that receives the assets bucket's name:
/// the generator declares it (with this bootstrap's bucket as default) and
/// the deployer passes the bucket it uploaded the bundles to. One name for
/// both sides.
pub const ASSET_BUCKET_PARAMETER: &str = "AssetBucket";
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
        "ACME order system bootstrap (version {VERSION}): assets bucket for deploys, API Gateway logging role"
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
                tags: tags.clone(),
                ..Default::default()
            },
        )?
        .retain()
        .metadata(
            "checkov",
            json!({"skip": [{"id": "CKV_AWS_18", "comment": "Assets are content-addressed build outputs; uploads are audited by CloudTrail, not access logs"}]}),
        )
        .guard_suppress(&guard::S3_NO_ACL)
        .guard_suppress(&guard::S3_NO_REPLICA)
        .guard_suppress(&Suppression {
            rule: "S3_BUCKET_LOGGING_ENABLED",
            reason: "Assets are content-addressed build outputs; uploads are audited by CloudTrail, not access logs",
        })
        .guard_suppress(&Suppression {
            rule: "S3_BUCKET_DEFAULT_LOCK_ENABLED",
            reason: "Bundles are build outputs, replaced on every release and their old versions expired: Object Lock would keep each for its retention with nothing to protect",
        }),
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
    // API Gateway writes logs with one role per account and region. Retained:
    // deleting the bootstrap stack must not break the county APIs' logging.
    let logs_role = LogicalId::new("ApiGatewayCloudWatchRole");
    t.add(
        Res::new(
            &logs_role,
            Role {
                description: "Lets API Gateway write the order APIs' execution and access logs"
                    .into(),
                assume_role_policy_document: PolicyDocument::new(vec![
                    Statement::assume_role(Principal::service("apigateway.amazonaws.com"))
                        .when("StringEquals", "aws:SourceAccount", Expr::account_id()),
                ]),
                managed_policy_arns: vec![Expr::sub(
                    "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
                )],
                policies: vec![],
                tags,
            },
        )?
        .retain(),
    )?;
    t.add(
        Res::new(
            &LogicalId::new("ApiGatewayAccount"),
            Account {
                cloud_watch_role_arn: logs_role.arn(),
            },
        )?
        .retain(),
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

/// The bootstrap template as JSON text (account and region are left to
/// CloudFormation's pseudo parameters).
pub fn template_json() -> String {
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
        assert!(template_json().contains("\"AWS::S3::Bucket\""));
        // API Gateway can log: the account setting names a retained role that
        // only API Gateway may assume, with AWS's logging policy.
        let account = &v["Resources"]["ApiGatewayAccount"];
        assert_eq!(
            account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0],
            "ApiGatewayCloudWatchRole"
        );
        let role = &v["Resources"]["ApiGatewayCloudWatchRole"];
        assert_eq!(role["DeletionPolicy"], "Retain");
        assert_eq!(
            role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
                [0],
            "apigateway.amazonaws.com"
        );
        assert!(
            role["Properties"]["ManagedPolicyArns"][0]["Fn::Sub"]
                .as_str()
                .is_some_and(|a| a.ends_with("/AmazonAPIGatewayPushToCloudWatchLogs"))
        );
    }
}

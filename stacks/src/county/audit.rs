//! Audit and data protection: a CloudTrail trail (management events, and data
//! events on the order tables, the Customers table and the analytics bucket's
//! objects) writing KMS-encrypted, digest-validated log files to a bucket under
//! S3 Object Lock in COMPLIANCE mode for the county's `audit_retention_days`;
//! and the bucket that receives S3 server access logs of the analytics and
//! audit buckets.
//!
//! The trail is multi-region. Every county has an account of its own (the
//! account is part of the county's identity), so this is the account's trail:
//! management events from every region are recorded — an attacker with leaked
//! credentials who starts resources in a region the county never uses is seen
//! too. Data events stay limited to the county's own resources, which live in
//! the county's region.

use serde_json::json;

use crate::cfn::guard::{self, Suppression};
use crate::cfn::resources::cloudtrail::{AdvancedEventSelector, FieldSelector, Trail};
use crate::cfn::resources::s3::{
    AbortIncompleteMultipartUpload, Bucket, BucketEncryption, BucketPolicy, DefaultRetention,
    EncryptionByDefault, EncryptionRule, LifecycleConfiguration, LifecycleRule,
    LoggingConfiguration, NoncurrentVersionExpiration, ObjectLockConfiguration, ObjectLockRule,
    OwnershipControls, PublicAccessBlock, VersioningConfiguration,
};
use crate::cfn::{Expr, LogicalId, PolicyDocument, Principal, Res, Statement, TemplateError};

use super::Ctx;

/// Days a noncurrent version of a log object is kept once its retention is over.
const NONCURRENT_DAYS: u32 = 30;

/// Logical ids of the audit resources.
#[derive(Debug, Clone)]
pub struct Audit {
    /// `AuditBucket`: Object Lock (COMPLIANCE), CloudTrail's destination.
    pub bucket: LogicalId,
    /// `AuditTrail`.
    pub trail: LogicalId,
    /// `AccessLogsBucket`: S3 server access logs of the analytics and audit buckets.
    pub access_logs: LogicalId,
    /// The trail's CloudWatch Logs copy, which the audit alarms watch.
    pub logs: super::audit_alarms::TrailLogs,
}

/// The trail's name. Fixed before deploy because the bucket policy and the key
/// policy must name the trail's ARN, and `Fn::GetAtt` on the trail would make
/// a cycle (the trail depends on both policies).
pub fn trail_name(county: &str) -> String {
    format!("acme-orders-{county}")
}

/// `arn:<partition>:cloudtrail:<region>:<account>:trail/<name>`, the value
/// CloudTrail puts in `aws:SourceArn` when it writes logs or uses the key.
pub(crate) fn trail_arn(county: &str) -> Expr {
    Expr::sub(format!(
        "arn:${{AWS::Partition}}:cloudtrail:${{AWS::Region}}:${{AWS::AccountId}}:trail/{}",
        trail_name(county)
    ))
}

/// The access-log bucket, created first: the analytics and audit buckets name
/// it in their logging configuration.
pub(crate) fn add_access_logs(cx: &mut Ctx<'_>) -> Result<LogicalId, TemplateError> {
    let id = LogicalId::new("AccessLogsBucket");
    let days = cx.cfg.audit_retention_days;
    cx.t.add(
        Res::new(
            &id,
            Bucket {
                // S3 server access logging delivers only to a bucket whose
                // default encryption is SSE-S3: SSE-KMS targets are refused.
                bucket_encryption: Some(BucketEncryption {
                    server_side_encryption_configuration: vec![EncryptionRule {
                        server_side_encryption_by_default: EncryptionByDefault {
                            sse_algorithm: "AES256",
                            kms_master_key_id: None,
                        },
                        bucket_key_enabled: false,
                    }],
                }),
                versioning_configuration: Some(VersioningConfiguration::enabled()),
                public_access_block_configuration: Some(PublicAccessBlock::all()),
                ownership_controls: Some(OwnershipControls::bucket_owner_enforced()),
                lifecycle_configuration: Some(LifecycleConfiguration {
                    rules: vec![LifecycleRule {
                        id: "ExpireAccessLogs".into(),
                        status: "Enabled",
                        // Access logs of the audit bucket are audit evidence too:
                        // kept as long as the audit log itself.
                        expiration_in_days: Some(days),
                        noncurrent_version_expiration: Some(NoncurrentVersionExpiration {
                            noncurrent_days: NONCURRENT_DAYS,
                        }),
                        abort_incomplete_multipart_upload: Some(AbortIncompleteMultipartUpload {
                            days_after_initiation: 1,
                        }),
                        ..Default::default()
                    }],
                }),
                tags: cx.tags.clone(),
                ..Default::default()
            },
        )?
        .retain()
        .metadata(
            "checkov",
            json!({"skip": [{"id": "CKV_AWS_18", "comment": "This is the access-log bucket: logging it into itself would log its own log deliveries without end"}]}),
        )
        .guard_suppress(&guard::S3_NO_ACL)
        .guard_suppress(&guard::S3_NO_REPLICA)
        .guard_suppress(&Suppression {
            rule: "S3_BUCKET_LOGGING_ENABLED",
            reason: "This is the access-log bucket: logging it into itself would log its own log deliveries without end",
        })
        .guard_suppress(&Suppression {
            rule: "S3_BUCKET_DEFAULT_LOCK_ENABLED",
            reason: "S3 server access logging refuses a target bucket that has an Object Lock default retention",
        }),
    )?;
    Ok(id)
}

pub(crate) fn add(
    cx: &mut Ctx<'_>,
    key: &LogicalId,
    data_tables: &[&LogicalId],
    analytics_bucket: &LogicalId,
    access_logs: &LogicalId,
) -> Result<Audit, TemplateError> {
    let bucket = LogicalId::new("AuditBucket");
    let days = cx.cfg.audit_retention_days;
    cx.t.add(
        Res::new(
            &bucket,
            Bucket {
                bucket_encryption: Some(BucketEncryption::kms(key.arn())),
                versioning_configuration: Some(VersioningConfiguration::enabled()),
                public_access_block_configuration: Some(PublicAccessBlock::all()),
                ownership_controls: Some(OwnershipControls::bucket_owner_enforced()),
                // COMPLIANCE: no one, not even the account's root user, can
                // delete or overwrite a log file version, or shorten its
                // retention, until `audit_retention_days` have passed.
                object_lock_enabled: Some(true),
                object_lock_configuration: Some(ObjectLockConfiguration {
                    object_lock_enabled: "Enabled",
                    rule: ObjectLockRule {
                        default_retention: DefaultRetention {
                            mode: "COMPLIANCE",
                            days,
                        },
                    },
                }),
                // Once a file's retention is over it has served its purpose:
                // expire it then (a delete marker), and remove the locked
                // version a little later. S3 never removes a version early.
                lifecycle_configuration: Some(LifecycleConfiguration {
                    rules: vec![LifecycleRule {
                        id: "ExpireAfterRetention".into(),
                        status: "Enabled",
                        expiration_in_days: Some(days),
                        noncurrent_version_expiration: Some(NoncurrentVersionExpiration {
                            noncurrent_days: NONCURRENT_DAYS,
                        }),
                        abort_incomplete_multipart_upload: Some(AbortIncompleteMultipartUpload {
                            days_after_initiation: 1,
                        }),
                        ..Default::default()
                    }],
                }),
                logging_configuration: Some(LoggingConfiguration {
                    destination_bucket_name: access_logs.r#ref(),
                    log_file_prefix: "audit/".into(),
                }),
                tags: cx.tags.clone(),
                ..Default::default()
            },
        )?
        .retain()
        .guard_suppress(&guard::S3_NO_ACL)
        .guard_suppress(&Suppression {
            rule: "S3_BUCKET_REPLICATION_ENABLED",
            reason: "Not replicated yet: a replica needs a second Object Lock bucket in another region, which a single-region county stack cannot create. The files are under COMPLIANCE retention and their digests are signed, so they cannot be altered in place",
        }),
    )?;

    let trail_arn = trail_arn(&cx.cfg.id);
    let policy = LogicalId::new("AuditBucketPolicy");
    cx.t.add_resource(
        &policy,
        BucketPolicy {
            bucket: bucket.r#ref(),
            policy_document: PolicyDocument::new(vec![
                Statement::deny_insecure_transport(
                    &["s3:*"],
                    vec![bucket.arn(), Expr::sub(format!("${{{bucket}.Arn}}/*"))],
                ),
                // What CloudTrail checks and needs, for this trail only
                // (`aws:SourceArn` keeps other accounts' trails out).
                Statement::allow(&["s3:GetBucketAcl"], vec![bucket.arn()])
                    .sid("CloudTrailAclCheck")
                    .principal(Principal::service("cloudtrail.amazonaws.com"))
                    .when("StringEquals", "aws:SourceArn", trail_arn.clone()),
                Statement::allow(
                    &["s3:PutObject"],
                    vec![Expr::sub(format!(
                        "${{{bucket}.Arn}}/AWSLogs/${{AWS::AccountId}}/*"
                    ))],
                )
                .sid("CloudTrailWrite")
                .principal(Principal::service("cloudtrail.amazonaws.com"))
                .when("StringEquals", "s3:x-amz-acl", "bucket-owner-full-control")
                .when("StringEquals", "aws:SourceArn", trail_arn),
            ]),
        },
    )?;

    cx.t.add_resource(
        &LogicalId::new("AccessLogsBucketPolicy"),
        BucketPolicy {
            bucket: access_logs.r#ref(),
            policy_document: PolicyDocument::new(vec![
                Statement::deny_insecure_transport(
                    &["s3:*"],
                    vec![
                        access_logs.arn(),
                        Expr::sub(format!("${{{access_logs}.Arn}}/*")),
                    ],
                ),
                // With ACLs disabled (BucketOwnerEnforced) the logging service
                // is granted by policy, for the two source buckets only.
                Statement::allow(
                    &["s3:PutObject"],
                    vec![Expr::sub(format!("${{{access_logs}.Arn}}/*"))],
                )
                .sid("S3ServerAccessLogs")
                .principal(Principal::service("logging.s3.amazonaws.com"))
                .when(
                    "ArnLike",
                    "aws:SourceArn",
                    vec![analytics_bucket.arn(), bucket.arn()],
                )
                .when("StringEquals", "aws:SourceAccount", Expr::account_id()),
            ]),
        },
    )?;

    let logs = super::audit_alarms::add_log_group(cx, key)?;
    let trail = LogicalId::new("AuditTrail");
    cx.t.add(
        Res::new(
            &trail,
            Trail {
                trail_name: trail_name(&cx.cfg.id),
                s3_bucket_name: bucket.r#ref(),
                is_logging: true,
                is_multi_region_trail: true,
                include_global_service_events: true,
                enable_log_file_validation: true,
                kms_key_id: key.arn(),
                advanced_event_selectors: event_selectors(data_tables, analytics_bucket),
                cloud_watch_logs_log_group_arn: Some(logs.log_group.arn()),
                cloud_watch_logs_role_arn: Some(logs.role.arn()),
                tags: cx.tags.clone(),
            },
        )?
        // CloudTrail checks at creation that it may write to the bucket.
        .depends_on(&policy)
        .guard_suppress(&Suppression {
            rule: "CLOUD_TRAIL_ENCRYPTION_ENABLED",
            reason: "The trail is encrypted with the county key: KMSKeyId is Fn::GetAtt CountyKey.Arn. The rule accepts only a literal string (it cannot read intrinsic functions)",
        })
        .guard_suppress(&Suppression {
            rule: "CLOUDTRAIL_S3_DATAEVENTS_ENABLED",
            reason: "Data events are selected with AdvancedEventSelectors (the order and customer tables, the analytics bucket's objects). The rule reads only the older EventSelectors, and asks for every object of every bucket",
        }),
    )?;
    super::audit_alarms::add_metric_filters(cx, &logs)?;
    Ok(Audit {
        bucket,
        trail,
        access_logs: access_logs.clone(),
        logs,
    })
}

/// Management events, plus data events on exactly these tables and on the
/// analytics bucket's objects. Reads are recorded too: "who read this order
/// or this customer" is the question an audit asks.
fn event_selectors(tables: &[&LogicalId], analytics: &LogicalId) -> Vec<AdvancedEventSelector> {
    let data = || FieldSelector::equals("eventCategory", vec![Expr::lit("Data")]);
    vec![
        AdvancedEventSelector {
            name: "Management events".into(),
            field_selectors: vec![FieldSelector::equals(
                "eventCategory",
                vec![Expr::lit("Management")],
            )],
        },
        AdvancedEventSelector {
            name: "Order and customer tables".into(),
            field_selectors: vec![
                data(),
                FieldSelector::equals("resources.type", vec![Expr::lit("AWS::DynamoDB::Table")]),
                FieldSelector::equals("resources.ARN", tables.iter().map(|t| t.arn()).collect()),
            ],
        },
        AdvancedEventSelector {
            name: "Analytics bucket objects".into(),
            field_selectors: vec![
                data(),
                FieldSelector::equals("resources.type", vec![Expr::lit("AWS::S3::Object")]),
                FieldSelector::starts_with(
                    "resources.ARN",
                    vec![Expr::sub(format!("${{{analytics}.Arn}}/"))],
                ),
            ],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Environments;

    #[test]
    fn bucket_and_key_policies_name_the_trail_that_exists() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
        let envs = Environments::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        for id in envs.county_ids() {
            let cfg = envs.load(&id).unwrap_or_else(|e| panic!("{e}"));
            let t = super::super::build(&cfg).expect("builds").to_value();
            let r = &t["Resources"];
            let name = r["AuditTrail"]["Properties"]["TrailName"]
                .as_str()
                .expect("trail name");
            let arn = serde_json::to_value(trail_arn(&cfg.id)).expect("json");
            assert!(
                arn["Fn::Sub"]
                    .as_str()
                    .is_some_and(|s| s.ends_with(&format!(":trail/{name}")))
            );
            let statements = |res: &str, doc: &str| {
                r[res]["Properties"][doc]["Statement"]
                    .as_array()
                    .expect("statements")
                    .clone()
            };
            let by_sid = |sts: &[serde_json::Value], sid: &str| {
                sts.iter()
                    .find(|s| s["Sid"] == sid)
                    .unwrap_or_else(|| panic!("{id}: no statement {sid}"))
                    .clone()
            };
            let bucket = statements("AuditBucketPolicy", "PolicyDocument");
            let key = statements("CountyKey", "KeyPolicy");
            for st in [
                by_sid(&bucket, "CloudTrailAclCheck"),
                by_sid(&bucket, "CloudTrailWrite"),
                by_sid(&key, "CloudTrailEncryptLogs"),
                by_sid(&key, "CloudTrailDescribeKey"),
            ] {
                assert_eq!(
                    st["Condition"]["StringEquals"]["aws:SourceArn"], arn,
                    "{id}"
                );
            }
            assert_eq!(
                by_sid(&bucket, "CloudTrailWrite")["Condition"]["StringEquals"]["s3:x-amz-acl"],
                "bucket-owner-full-control"
            );
            assert_eq!(
                r["AuditTrail"]["DependsOn"],
                serde_json::json!(["AuditBucketPolicy"])
            );
        }
    }
}

//! The county trail's copy in CloudWatch Logs, and what pages someone from
//! it: one metric filter per dangerous kind of event (the CIS AWS Foundations
//! Benchmark's monitoring items, plus the county tables' deletion
//! protection) and one alarm on each, to the operations topic.
//!
//! The bucket under Object Lock stays the record that cannot be changed; the
//! log group is there so that an event is noticed within minutes rather than
//! found in an audit months later.
//!
//! [`monitors`] is the one list: the filters here and the alarms in
//! `alarms.rs` are both made from it.

use crate::cfn::guard;
use crate::cfn::resources::iam::{InlinePolicy, Role};
use crate::cfn::resources::logs::{LogGroup, MetricFilter, MetricTransformation};
use crate::cfn::{Expr, LogicalId, PolicyDocument, Principal, Statement, TemplateError};
use crate::config::rules::LOG_RETENTION_DAYS;

use super::Ctx;

/// CloudWatch namespace of the audit metrics (one account per county, so the
/// metric names need no county dimension).
pub const METRIC_NAMESPACE: &str = "ACME/Audit";

/// A CloudWatch Logs filter pattern over CloudTrail records (JSON), built as a
/// tree so that every pattern is well formed and a test can evaluate it.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// `($.path = "value")`; `*` in the value matches any run of characters.
    Eq(&'static str, &'static str),
    /// `($.path != "value")`: the field is present and does not match.
    Ne(&'static str, &'static str),
    /// `($.path NOT EXISTS)`.
    NotExists(&'static str),
    /// `($.path IS FALSE)`: the field is the JSON boolean `false`.
    IsFalse(&'static str),
    /// Any of these (`||`).
    Any(Vec<Pattern>),
    /// All of these (`&&`).
    All(Vec<Pattern>),
}

impl Pattern {
    /// `$.eventName` is one of `names`.
    fn event_name_in(names: &[&'static str]) -> Pattern {
        Pattern::Any(names.iter().map(|n| Pattern::Eq("eventName", n)).collect())
    }

    /// The pattern as CloudWatch Logs reads it: `{ ... }`. Every operand is
    /// parenthesized, so no precedence between `&&` and `||` is relied on.
    pub fn render(&self) -> String {
        format!("{{ {} }}", self.term())
    }

    fn term(&self) -> String {
        let join = |parts: &[Pattern], op: &str| {
            let inner: Vec<String> = parts.iter().map(Pattern::term).collect();
            format!("({})", inner.join(op))
        };
        match self {
            Pattern::Eq(path, value) => format!("($.{path} = \"{value}\")"),
            Pattern::Ne(path, value) => format!("($.{path} != \"{value}\")"),
            Pattern::NotExists(path) => format!("($.{path} NOT EXISTS)"),
            Pattern::IsFalse(path) => format!("($.{path} IS FALSE)"),
            Pattern::Any(parts) => join(parts, " || "),
            Pattern::All(parts) => join(parts, " && "),
        }
    }
}

/// One kind of event that pages: its metric filter and its alarm.
#[derive(Debug, Clone)]
pub struct Monitor {
    /// Logical-id stem: `Audit<id>MetricFilter`, `Audit<id>Alarm`.
    pub id: &'static str,
    /// Metric name in [`METRIC_NAMESPACE`].
    pub metric: &'static str,
    /// Alarm name suffix: `acme-<county>-audit-<what>`.
    pub what: &'static str,
    /// The CIS AWS Foundations Benchmark v1.4.0 item, or `None`.
    pub cis: Option<&'static str>,
    /// What happened and what to do: the alarm's description.
    pub description: &'static str,
    pub pattern: Pattern,
}

/// The monitored events. Patterns follow the CIS benchmark's published ones.
pub fn monitors() -> Vec<Monitor> {
    use Pattern::{All, Any, Eq, IsFalse, Ne, NotExists};
    vec![
        Monitor {
            id: "UnauthorizedApiCalls",
            metric: "UnauthorizedApiCalls",
            what: "unauthorized-api-calls",
            cis: Some("4.1"),
            // Log delivery probing buckets and the S3 console's HeadBucket are
            // denied as a matter of course; the benchmark leaves them out.
            description: "An API call in the county's account was denied (AccessDenied or UnauthorizedOperation): a broken role, or someone probing what leaked credentials can do. Look up the caller in the trail's log group.",
            pattern: All(vec![
                Any(vec![
                    Eq("errorCode", "*UnauthorizedOperation"),
                    Eq("errorCode", "AccessDenied*"),
                ]),
                Ne("sourceIPAddress", "delivery.logs.amazonaws.com"),
                Ne("eventName", "HeadBucket"),
            ]),
        },
        Monitor {
            id: "ConsoleSignInWithoutMfa",
            metric: "ConsoleSignInWithoutMfa",
            what: "console-sign-in-without-mfa",
            cis: Some("4.2"),
            description: "An IAM user signed in to the console without MFA. Confirm it was them, then require MFA for that user.",
            pattern: All(vec![
                Eq("eventName", "ConsoleLogin"),
                Ne("additionalEventData.MFAUsed", "Yes"),
                Eq("userIdentity.type", "IAMUser"),
                Eq("responseElements.ConsoleLogin", "Success"),
            ]),
        },
        Monitor {
            id: "RootUse",
            metric: "RootUse",
            what: "root-use",
            cis: Some("4.3"),
            description: "The account's root user made a call. Nothing in the county's operation needs root: find out who and why.",
            pattern: All(vec![
                Eq("userIdentity.type", "Root"),
                NotExists("userIdentity.invokedBy"),
                Ne("eventType", "AwsServiceEvent"),
            ]),
        },
        Monitor {
            id: "IamPolicyChanges",
            metric: "IamPolicyChanges",
            what: "iam-policy-changes",
            cis: Some("4.4"),
            description: "An IAM policy was created, changed, attached or detached outside a deploy. Compare it with the stack (acme-infra diff).",
            pattern: Pattern::event_name_in(&[
                "DeleteGroupPolicy",
                "DeleteRolePolicy",
                "DeleteUserPolicy",
                "PutGroupPolicy",
                "PutRolePolicy",
                "PutUserPolicy",
                "CreatePolicy",
                "DeletePolicy",
                "CreatePolicyVersion",
                "DeletePolicyVersion",
                "AttachRolePolicy",
                "DetachRolePolicy",
                "AttachUserPolicy",
                "DetachUserPolicy",
                "AttachGroupPolicy",
                "DetachGroupPolicy",
            ]),
        },
        Monitor {
            id: "TrailConfigurationChanges",
            metric: "TrailConfigurationChanges",
            what: "trail-configuration-changes",
            cis: Some("4.5"),
            description: "A CloudTrail trail was created, changed, deleted, started or stopped: the audit record itself may be at stake.",
            pattern: Pattern::event_name_in(&[
                "CreateTrail",
                "UpdateTrail",
                "DeleteTrail",
                "StartLogging",
                "StopLogging",
            ]),
        },
        Monitor {
            id: "KmsKeyDisabledOrScheduledForDeletion",
            metric: "KmsKeyDisabledOrScheduledForDeletion",
            what: "kms-key-disabled-or-deletion",
            cis: Some("4.7"),
            description: "A KMS key was disabled or scheduled for deletion. If it is the county key, every table, queue and log of the county becomes unreadable: cancel the deletion (kms cancel-key-deletion) within the waiting period.",
            pattern: All(vec![
                Eq("eventSource", "kms.amazonaws.com"),
                Pattern::event_name_in(&["DisableKey", "ScheduleKeyDeletion"]),
            ]),
        },
        Monitor {
            id: "S3BucketPolicyChanges",
            metric: "S3BucketPolicyChanges",
            what: "s3-bucket-policy-changes",
            cis: Some("4.8"),
            description: "A bucket's policy, ACL, CORS, lifecycle or replication was changed outside a deploy. Compare it with the stack (acme-infra diff).",
            pattern: All(vec![
                Eq("eventSource", "s3.amazonaws.com"),
                Pattern::event_name_in(&[
                    "PutBucketAcl",
                    "PutBucketPolicy",
                    "PutBucketCors",
                    "PutBucketLifecycle",
                    "PutBucketReplication",
                    "DeleteBucketPolicy",
                    "DeleteBucketCors",
                    "DeleteBucketLifecycle",
                    "DeleteBucketReplication",
                ]),
            ]),
        },
        // Not a CIS item: the county's order data. The account is the
        // county's alone, so every table in it is one of the county's; the
        // table name is not matched because a caller may name a table by
        // its ARN.
        Monitor {
            id: "TableDeletionProtectionChanges",
            metric: "TableDeletionProtectionChanges",
            what: "table-deletion-protection",
            cis: None,
            description: "Deletion protection was turned off on a DynamoDB table, or a table deletion was attempted. The order tables hold every order of the county: turn protection back on unless this was a planned change.",
            pattern: All(vec![
                Eq("eventSource", "dynamodb.amazonaws.com"),
                Any(vec![
                    All(vec![
                        Eq("eventName", "UpdateTable"),
                        IsFalse("requestParameters.deletionProtectionEnabled"),
                    ]),
                    Eq("eventName", "DeleteTable"),
                ]),
            ]),
        },
    ]
}

/// The log group the trail also writes to.
pub fn log_group_name(county: &str) -> String {
    format!("/aws/cloudtrail/{}", super::audit::trail_name(county))
}

/// Retention of the trail's log group: the county's `audit_retention_days`
/// rounded up to a period CloudWatch Logs accepts, so the searchable copy is
/// kept at least as long as the locked one.
pub fn retention_days(audit_retention_days: u32) -> u32 {
    LOG_RETENTION_DAYS
        .iter()
        .copied()
        .find(|&d| d >= audit_retention_days)
        .unwrap_or(LOG_RETENTION_DAYS[LOG_RETENTION_DAYS.len() - 1])
}

/// Logical ids of the trail's log group and the role CloudTrail writes with.
#[derive(Debug, Clone)]
pub struct TrailLogs {
    /// `AuditTrailLogGroup`.
    pub log_group: LogicalId,
    /// `AuditTrailLogsRole`.
    pub role: LogicalId,
}

/// The log group (on the county key), and the role CloudTrail assumes to
/// create its streams and put events in that group only.
pub(crate) fn add_log_group(cx: &mut Ctx<'_>, key: &LogicalId) -> Result<TrailLogs, TemplateError> {
    let county = cx.cfg.id.clone();
    let name = log_group_name(&county);
    let log_group = LogicalId::new("AuditTrailLogGroup");
    cx.t.add_resource(
        &log_group,
        LogGroup {
            log_group_name: Expr::lit(name.clone()),
            retention_in_days: retention_days(cx.cfg.audit_retention_days),
            kms_key_id: key.arn(),
            tags: cx.tags.clone(),
        },
    )?;
    let trail_arn = super::audit::trail_arn(&county);
    // CloudTrail names its streams `<account>_CloudTrail_<region>`, one per
    // region of a multi-region trail.
    let streams = Expr::sub(format!(
        "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{name}:log-stream:${{AWS::AccountId}}_CloudTrail_*"
    ));
    let role = LogicalId::new("AuditTrailLogsRole");
    cx.t.add_resource(
        &role,
        Role {
            description: format!(
                "Lets the trail of county {county} write to its CloudWatch Logs group"
            ),
            assume_role_policy_document: PolicyDocument::new(vec![
                Statement::assume_role(Principal::service("cloudtrail.amazonaws.com"))
                    .when("StringEquals", "aws:SourceArn", trail_arn)
                    .when("StringEquals", "aws:SourceAccount", Expr::account_id()),
            ]),
            managed_policy_arns: vec![],
            policies: vec![InlinePolicy {
                policy_name: "WriteTrailLogGroup".into(),
                policy_document: PolicyDocument::new(vec![Statement::allow(
                    &["logs:CreateLogStream", "logs:PutLogEvents"],
                    vec![streams],
                )]),
            }],
            tags: cx.tags.clone(),
        },
    )?;
    cx.t.guard_suppress(&role, &guard::IAM_INLINE_POLICY)?;
    Ok(TrailLogs { log_group, role })
}

/// One metric filter per [`monitors`] entry on the trail's log group.
pub(crate) fn add_metric_filters(cx: &mut Ctx<'_>, logs: &TrailLogs) -> Result<(), TemplateError> {
    for m in monitors() {
        cx.t.add_resource(
            &LogicalId::new(format!("Audit{}MetricFilter", m.id)),
            MetricFilter {
                filter_name: format!("acme-{}-audit-{}", cx.cfg.id, m.what),
                log_group_name: logs.log_group.r#ref(),
                filter_pattern: m.pattern.render(),
                metric_transformations: vec![MetricTransformation {
                    metric_namespace: METRIC_NAMESPACE,
                    metric_name: m.metric,
                    metric_value: "1",
                }],
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::config::Environments;

    /// CloudWatch Logs' matching of a JSON filter pattern, for the terms
    /// [`Pattern`] can express: a `*` in a value matches any run of
    /// characters; `!=` needs the field to be present.
    fn matches(p: &Pattern, event: &Value) -> bool {
        let field = |path: &str| path.split('.').try_fold(event, |v, k| v.get(k));
        let text = |path: &str| field(path).and_then(Value::as_str);
        match p {
            Pattern::Eq(path, want) => text(path).is_some_and(|v| glob(want, v)),
            Pattern::Ne(path, want) => text(path).is_some_and(|v| !glob(want, v)),
            Pattern::NotExists(path) => field(path).is_none(),
            Pattern::IsFalse(path) => field(path) == Some(&Value::Bool(false)),
            Pattern::Any(parts) => parts.iter().any(|q| matches(q, event)),
            Pattern::All(parts) => parts.iter().all(|q| matches(q, event)),
        }
    }

    fn glob(pattern: &str, s: &str) -> bool {
        match pattern.split_once('*') {
            None => pattern == s,
            Some((head, tail)) => {
                s.starts_with(head) && (head.len()..=s.len()).any(|i| glob(tail, &s[i..]))
            }
        }
    }

    fn monitor(id: &str) -> Monitor {
        monitors()
            .into_iter()
            .find(|m| m.id == id)
            .unwrap_or_else(|| panic!("no monitor {id}"))
    }

    /// Each monitor against CloudTrail records it must and must not count.
    #[test]
    fn each_pattern_counts_the_dangerous_event_and_not_its_harmless_neighbours() {
        let user = json!({"type": "IAMUser", "userName": "pat"});
        let cases: Vec<(&str, Value, bool)> = vec![
            (
                "UnauthorizedApiCalls",
                json!({"eventName": "GetItem", "errorCode": "AccessDenied", "sourceIPAddress": "203.0.113.9"}),
                true,
            ),
            (
                "UnauthorizedApiCalls",
                json!({"eventName": "RunInstances", "errorCode": "Client.UnauthorizedOperation", "sourceIPAddress": "203.0.113.9"}),
                true,
            ),
            (
                "UnauthorizedApiCalls",
                json!({"eventName": "GetBucketAcl", "errorCode": "AccessDenied", "sourceIPAddress": "delivery.logs.amazonaws.com"}),
                false,
            ),
            (
                "UnauthorizedApiCalls",
                json!({"eventName": "HeadBucket", "errorCode": "AccessDenied", "sourceIPAddress": "203.0.113.9"}),
                false,
            ),
            (
                "UnauthorizedApiCalls",
                json!({"eventName": "GetItem", "sourceIPAddress": "203.0.113.9"}),
                false,
            ),
            (
                "ConsoleSignInWithoutMfa",
                json!({"eventName": "ConsoleLogin", "userIdentity": user, "additionalEventData": {"MFAUsed": "No"}, "responseElements": {"ConsoleLogin": "Success"}}),
                true,
            ),
            (
                "ConsoleSignInWithoutMfa",
                json!({"eventName": "ConsoleLogin", "userIdentity": user, "additionalEventData": {"MFAUsed": "Yes"}, "responseElements": {"ConsoleLogin": "Success"}}),
                false,
            ),
            (
                "ConsoleSignInWithoutMfa",
                json!({"eventName": "ConsoleLogin", "userIdentity": user, "additionalEventData": {"MFAUsed": "No"}, "responseElements": {"ConsoleLogin": "Failure"}}),
                false,
            ),
            (
                "RootUse",
                json!({"eventName": "CreateAccessKey", "eventType": "AwsApiCall", "userIdentity": {"type": "Root"}}),
                true,
            ),
            (
                "RootUse",
                json!({"eventName": "Decrypt", "eventType": "AwsApiCall", "userIdentity": {"type": "Root", "invokedBy": "cloudtrail.amazonaws.com"}}),
                false,
            ),
            (
                "RootUse",
                json!({"eventName": "AssumeRole", "eventType": "AwsServiceEvent", "userIdentity": {"type": "Root"}}),
                false,
            ),
            (
                "RootUse",
                json!({"eventName": "CreateAccessKey", "eventType": "AwsApiCall", "userIdentity": user}),
                false,
            ),
            (
                "IamPolicyChanges",
                json!({"eventName": "PutRolePolicy"}),
                true,
            ),
            (
                "IamPolicyChanges",
                json!({"eventName": "DetachGroupPolicy"}),
                true,
            ),
            (
                "IamPolicyChanges",
                json!({"eventName": "GetRolePolicy"}),
                false,
            ),
            (
                "TrailConfigurationChanges",
                json!({"eventName": "StopLogging"}),
                true,
            ),
            (
                "TrailConfigurationChanges",
                json!({"eventName": "LookupEvents"}),
                false,
            ),
            (
                "KmsKeyDisabledOrScheduledForDeletion",
                json!({"eventSource": "kms.amazonaws.com", "eventName": "ScheduleKeyDeletion"}),
                true,
            ),
            (
                "KmsKeyDisabledOrScheduledForDeletion",
                json!({"eventSource": "kms.amazonaws.com", "eventName": "DisableKey"}),
                true,
            ),
            (
                "KmsKeyDisabledOrScheduledForDeletion",
                json!({"eventSource": "kms.amazonaws.com", "eventName": "EnableKey"}),
                false,
            ),
            (
                "S3BucketPolicyChanges",
                json!({"eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy"}),
                true,
            ),
            (
                "S3BucketPolicyChanges",
                json!({"eventSource": "s3.amazonaws.com", "eventName": "DeleteBucketLifecycle"}),
                true,
            ),
            (
                "S3BucketPolicyChanges",
                json!({"eventSource": "s3.amazonaws.com", "eventName": "GetBucketPolicy"}),
                false,
            ),
            (
                "TableDeletionProtectionChanges",
                json!({"eventSource": "dynamodb.amazonaws.com", "eventName": "UpdateTable", "requestParameters": {"tableName": "Orders", "deletionProtectionEnabled": false}}),
                true,
            ),
            (
                "TableDeletionProtectionChanges",
                json!({"eventSource": "dynamodb.amazonaws.com", "eventName": "DeleteTable", "requestParameters": {"tableName": "Orders"}}),
                true,
            ),
            (
                "TableDeletionProtectionChanges",
                json!({"eventSource": "dynamodb.amazonaws.com", "eventName": "UpdateTable", "requestParameters": {"tableName": "Orders", "deletionProtectionEnabled": true}}),
                false,
            ),
            (
                "TableDeletionProtectionChanges",
                json!({"eventSource": "dynamodb.amazonaws.com", "eventName": "UpdateTable", "requestParameters": {"tableName": "Orders", "billingMode": "PAY_PER_REQUEST"}}),
                false,
            ),
        ];
        for (id, event, want) in &cases {
            assert_eq!(matches(&monitor(id).pattern, event), *want, "{id}: {event}");
        }
        for m in monitors() {
            assert!(
                cases.iter().any(|(id, _, want)| *id == m.id && *want),
                "{}: no event it must count",
                m.id
            );
        }
    }

    #[test]
    fn patterns_render_as_cloudwatch_reads_them() {
        assert_eq!(
            monitor("RootUse").pattern.render(),
            r#"{ (($.userIdentity.type = "Root") && ($.userIdentity.invokedBy NOT EXISTS) && ($.eventType != "AwsServiceEvent")) }"#
        );
        assert_eq!(
            monitor("TableDeletionProtectionChanges").pattern.render(),
            r#"{ (($.eventSource = "dynamodb.amazonaws.com") && ((($.eventName = "UpdateTable") && ($.requestParameters.deletionProtectionEnabled IS FALSE)) || ($.eventName = "DeleteTable"))) }"#
        );
        // CloudWatch Logs caps a filter pattern at 1,024 characters.
        for m in monitors() {
            assert!(m.pattern.render().len() <= 1024, "{}", m.id);
        }
    }

    #[test]
    fn retention_rounds_up_to_a_period_cloudwatch_accepts() {
        assert_eq!(retention_days(365), 365);
        assert_eq!(retention_days(366), 400);
        assert_eq!(retention_days(2555), 2557);
        assert_eq!(retention_days(3650), 3653);
        assert_eq!(retention_days(1), 1);
    }

    /// The trail writes to the log group through its role; each monitor has
    /// a filter on that group and an alarm on the filter's metric that pages
    /// the operations topic.
    #[test]
    fn every_monitor_is_wired_from_the_trail_to_the_operations_topic() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
        let envs = Environments::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        for id in envs.county_ids() {
            let cfg = envs.load(&id).unwrap_or_else(|e| panic!("{e}"));
            let t = super::super::build(&cfg).expect("builds").to_value();
            let r = &t["Resources"];
            let trail = &r["AuditTrail"]["Properties"];
            assert_eq!(
                trail["CloudWatchLogsLogGroupArn"],
                json!({"Fn::GetAtt": ["AuditTrailLogGroup", "Arn"]}),
                "{id}"
            );
            assert_eq!(
                trail["CloudWatchLogsRoleArn"],
                json!({"Fn::GetAtt": ["AuditTrailLogsRole", "Arn"]}),
                "{id}"
            );
            let group = &r["AuditTrailLogGroup"]["Properties"];
            assert_eq!(group["LogGroupName"], log_group_name(&id));
            assert_eq!(
                group["KmsKeyId"],
                json!({"Fn::GetAtt": ["CountyKey", "Arn"]})
            );
            let days = group["RetentionInDays"].as_u64().expect("retention");
            assert!(days >= u64::from(cfg.audit_retention_days), "{id}");
            // CloudWatch Logs may use the county key for this group: the key
            // policy's grant to the service admits its ARN in the encryption
            // context.
            let logs_grant = r["CountyKey"]["Properties"]["KeyPolicy"]["Statement"]
                .as_array()
                .expect("key policy")
                .iter()
                .find(|st| {
                    st["Principal"]["Service"][0]["Fn::Sub"] == "logs.${AWS::Region}.amazonaws.com"
                })
                .expect("a grant to CloudWatch Logs");
            let pattern = logs_grant["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
                ["Fn::Sub"]
                .as_str()
                .expect("encryption context condition");
            let arn = format!(
                "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{}",
                log_group_name(&id)
            );
            assert!(glob(pattern, &arn), "{id}: {arn} not admitted by {pattern}");

            let role = &r["AuditTrailLogsRole"]["Properties"];
            let trust = &role["AssumeRolePolicyDocument"]["Statement"][0];
            assert_eq!(
                trust["Principal"]["Service"],
                json!(["cloudtrail.amazonaws.com"])
            );
            assert!(trust["Condition"]["StringEquals"]["aws:SourceArn"].is_object());
            let grant = &role["Policies"][0]["PolicyDocument"]["Statement"];
            assert_eq!(grant.as_array().map(Vec::len), Some(1), "{id}: one grant");
            assert_eq!(
                grant[0]["Action"],
                json!(["logs:CreateLogStream", "logs:PutLogEvents"])
            );
            let streams = grant[0]["Resource"][0]["Fn::Sub"].as_str().expect("sub");
            assert!(
                streams.contains(&format!(":log-group:{}:log-stream:", log_group_name(&id))),
                "{id}: {streams}"
            );

            for m in monitors() {
                let filter = &r[format!("Audit{}MetricFilter", m.id)]["Properties"];
                assert_eq!(filter["LogGroupName"], json!({"Ref": "AuditTrailLogGroup"}));
                assert_eq!(filter["FilterPattern"], m.pattern.render(), "{id}");
                let metric = &filter["MetricTransformations"][0];
                assert_eq!(metric["MetricNamespace"], METRIC_NAMESPACE);
                assert_eq!(metric["MetricName"], m.metric);
                assert_eq!(metric["MetricValue"], "1");

                let alarm = &r[format!("Audit{}Alarm", m.id)]["Properties"];
                assert_eq!(alarm["Namespace"], METRIC_NAMESPACE, "{id} {}", m.id);
                assert_eq!(alarm["MetricName"], m.metric);
                assert_eq!(alarm["Statistic"], "Sum");
                assert_eq!(alarm["Threshold"], 1.0);
                assert_eq!(alarm["ComparisonOperator"], "GreaterThanOrEqualToThreshold");
                let topic = json!([{"Ref": "OperationsAlarmsTopic"}]);
                assert_eq!(alarm["AlarmActions"], topic);
                assert_eq!(
                    alarm["AlarmName"],
                    super::super::alarms::alarm_name(&id, &format!("audit-{}", m.what))
                );
            }
        }
    }
}

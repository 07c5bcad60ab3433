//! Shadow reads (mode `shadow` of a migrating county, `docs/migration.md`):
//! the ShadowReads queue the order API sends a sample of its answers to,
//! its dead-letter queue, who may send and receive, the API's settings, and
//! the alarms on what the comparer (`acme-infra migrate shadow`, running as
//! `MigrationRole`) publishes. Only with a `migration:` section.
//!
//! The queue is the API's only link to the comparison: the API never
//! reaches the legacy database (it stays out of the VPC); the comparer,
//! which already reads it, does.

use std::collections::BTreeMap;

use acme_contract::migration::shadow_metrics;
use acme_contract::schema::env;

use crate::cfn::resources::cloudwatch::{Alarm, Dimension, SingleMetric};
use crate::cfn::resources::iam_policy::RolePolicy;
use crate::cfn::resources::sqs::{Queue, QueuePolicy, RedrivePolicy};
use crate::cfn::{Expr, LogicalId, Output, PolicyDocument, Res, Statement, TemplateError};
use crate::config::MigrationConfig;

use super::Ctx;
use super::alarms::alarm_name;

/// Logical id of the queue (`Ref` = its URL, the `ShadowReadsQueueUrl` output).
pub const QUEUE: &str = "ShadowReadsQueue";
pub const DEAD_LETTER_QUEUE: &str = "ShadowReadsDeadLetterQueue";
/// A message the comparer received this often without deleting it (the
/// legacy database or CloudWatch kept refusing) goes to the dead-letter
/// queue, so it cannot hold the queue's head forever.
const MAX_RECEIVE_COUNT: u32 = 5;
/// A batch of 10 is one legacy query and one `PutMetricData`: seconds. Two
/// minutes before a message not deleted is delivered again.
const VISIBILITY_TIMEOUT: u32 = 120;

/// The queues, when the county has a `migration:` section.
#[derive(Debug, Clone)]
pub struct ShadowReads {
    pub queue: LogicalId,
    pub dead_letter_queue: LogicalId,
}

/// The ShadowReads queue and its dead-letter queue, on the county key.
pub(crate) fn add_queues(
    cx: &mut Ctx<'_>,
    key: &LogicalId,
) -> Result<Option<ShadowReads>, TemplateError> {
    if cx.cfg.migration.is_none() {
        return Ok(None);
    }
    let queue = LogicalId::new(QUEUE);
    let dlq = LogicalId::new(DEAD_LETTER_QUEUE);
    let spec = |visibility_timeout, retention_days: u32, redrive| Queue {
        kms_master_key_id: key.arn(),
        kms_data_key_reuse_period_seconds: 300,
        visibility_timeout,
        message_retention_period: retention_days * 86_400,
        receive_message_wait_time_seconds: Some(20),
        redrive_policy: redrive,
        redrive_allow_policy: None,
        tags: cx.tags.clone(),
    };
    // A sample is worth something only while the county is in shadow: no
    // retention on delete, unlike the order queues.
    let dlq_spec = spec(300, 14, None);
    let queue_spec = spec(
        VISIBILITY_TIMEOUT,
        4,
        Some(RedrivePolicy {
            dead_letter_target_arn: dlq.arn(),
            max_receive_count: MAX_RECEIVE_COUNT,
        }),
    );
    cx.t.add(Res::new(&dlq, dlq_spec)?)?;
    cx.t.add(Res::new(&queue, queue_spec)?)?;
    cx.t.add_resource(
        &LogicalId::new("ShadowReadsQueuesPolicy"),
        QueuePolicy {
            queues: vec![queue.r#ref(), dlq.r#ref()],
            policy_document: PolicyDocument::new(vec![Statement::deny_insecure_transport(
                &["sqs:*"],
                vec![queue.arn(), dlq.arn()],
            )]),
        },
    )?;
    Ok(Some(ShadowReads {
        queue,
        dead_letter_queue: dlq,
    }))
}

/// The order API's settings: where to send, and how much.
pub(crate) fn api_env(
    m: Option<&MigrationConfig>,
    s: Option<&ShadowReads>,
) -> BTreeMap<&'static str, Expr> {
    let mut vars = BTreeMap::new();
    if let (Some(m), Some(s)) = (m, s) {
        vars.insert(env::SHADOW_READS_QUEUE_URL, s.queue.r#ref());
        vars.insert(
            env::SHADOW_SAMPLE_PERCENT,
            Expr::lit(m.shadow.sample_percent.to_string()),
        );
    }
    vars
}

/// Who may use the queue (the order API sends; `MigrationRole` receives,
/// deletes and publishes the counts), its output, and the alarms.
pub(crate) fn add_access(
    cx: &mut Ctx<'_>,
    s: &ShadowReads,
    api_role: &LogicalId,
    migration_role: &LogicalId,
    operations_topic: &LogicalId,
) -> Result<(), TemplateError> {
    cx.t.add_resource(
        &LogicalId::new("OrderApiShadowReadsPolicy"),
        RolePolicy {
            policy_name: "ShadowReadsSend".into(),
            policy_document: PolicyDocument::new(vec![
                Statement::allow(&["sqs:SendMessage"], vec![s.queue.arn()]).sid("SendShadowReads"),
            ]),
            role_name: api_role.r#ref(),
        },
    )?;
    cx.t.add_resource(
        &LogicalId::new("MigrationShadowReadsPolicy"),
        RolePolicy {
            policy_name: "ShadowReadsCompare".into(),
            policy_document: PolicyDocument::new(vec![
                Statement::allow(
                    &["sqs:DeleteMessage", "sqs:ReceiveMessage"],
                    vec![s.queue.arn()],
                )
                .sid("ReceiveShadowReads"),
                // PutMetricData takes no resource ARN; the namespace
                // condition keeps the role to the migration's metrics.
                Statement::allow(&["cloudwatch:PutMetricData"], vec![Expr::lit("*")])
                    .when(
                        "StringEquals",
                        "cloudwatch:namespace",
                        shadow_metrics::NAMESPACE,
                    )
                    .sid("PublishShadowMetrics"),
            ]),
            role_name: migration_role.r#ref(),
        },
    )?;
    cx.t.add_output(
        "ShadowReadsQueueUrl",
        Output {
            description: "Where the order API sends sampled reads in mode shadow \
                          (acme-infra migrate shadow --queue)"
                .to_owned(),
            value: s.queue.r#ref(),
            export: None,
            condition: None,
        },
    )?;
    add_alarms(cx, s, operations_topic)
}

fn add_alarms(cx: &mut Ctx<'_>, s: &ShadowReads, topic: &LogicalId) -> Result<(), TemplateError> {
    let county = cx.cfg.id.clone();
    let mismatches = Alarm {
        alarm_name: alarm_name(&county, "shadow-mismatches"),
        alarm_description: format!(
            "A shadow read of county {county} differed from the legacy database: \
             `acme-infra migrate shadow` logged the order and the fields; the cutover \
             to dynamo is refused while mismatches are seen"
        ),
        metric: Some(SingleMetric {
            namespace: shadow_metrics::NAMESPACE,
            metric_name: shadow_metrics::MISMATCHES,
            dimensions: vec![Dimension::new(
                shadow_metrics::COUNTY_DIMENSION,
                Expr::lit(county.clone()),
            )],
            statistic: Some("Sum"),
            extended_statistic: None,
            period: 300,
        }),
        metrics: vec![],
        evaluation_periods: 1,
        datapoints_to_alarm: 1,
        threshold: 0.0,
        comparison_operator: "GreaterThanThreshold",
        // No comparer running, or no reads sampled: nothing seen differ.
        treat_missing_data: "notBreaching",
        alarm_actions: vec![topic.r#ref()],
        ok_actions: vec![topic.r#ref()],
    };
    cx.t.add_resource(&LogicalId::new("ShadowMismatchesAlarm"), mismatches)?;
    let dlq_depth = Alarm {
        alarm_name: alarm_name(&county, "shadow-reads-dlq-depth"),
        alarm_description: format!(
            "Shadow reads of county {county} the comparer received {MAX_RECEIVE_COUNT} times \
             without finishing (the legacy database or CloudWatch refused): its log says why"
        ),
        metric: Some(SingleMetric {
            namespace: "AWS/SQS",
            metric_name: "ApproximateNumberOfMessagesVisible",
            dimensions: vec![Dimension::new(
                "QueueName",
                s.dead_letter_queue.att("QueueName"),
            )],
            statistic: Some("Maximum"),
            extended_statistic: None,
            period: 300,
        }),
        metrics: vec![],
        evaluation_periods: 1,
        datapoints_to_alarm: 1,
        threshold: 0.0,
        comparison_operator: "GreaterThanThreshold",
        treat_missing_data: "notBreaching",
        alarm_actions: vec![topic.r#ref()],
        ok_actions: vec![topic.r#ref()],
    };
    cx.t.add_resource(&LogicalId::new("ShadowReadsDlqDepthAlarm"), dlq_depth)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::config::{CountyConfig, Environments, ShadowConfig};

    fn county(id: &str) -> CountyConfig {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
        let envs = Environments::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        envs.load(id).unwrap_or_else(|e| panic!("{e}"))
    }

    fn template(cfg: &CountyConfig) -> Value {
        super::super::build(cfg).expect("builds").to_value()
    }

    const IDS: [&str; 7] = [
        "ShadowReadsQueue",
        "ShadowReadsDeadLetterQueue",
        "ShadowReadsQueuesPolicy",
        "OrderApiShadowReadsPolicy",
        "MigrationShadowReadsPolicy",
        "ShadowMismatchesAlarm",
        "ShadowReadsDlqDepthAlarm",
    ];

    #[test]
    fn a_migrating_county_gets_the_queue_its_access_settings_and_alarms() {
        let mut cfg = county("travis-tx");
        if let Some(m) = cfg.migration.as_mut() {
            m.shadow = ShadowConfig { sample_percent: 12 };
        }
        let t = template(&cfg);
        let r = &t["Resources"];
        for id in IDS {
            assert!(r.get(id).is_some(), "{id}");
        }
        let q = &r["ShadowReadsQueue"]["Properties"];
        assert_eq!(
            q["KmsMasterKeyId"],
            json!({"Fn::GetAtt": ["CountyKey", "Arn"]})
        );
        assert_eq!(
            q["RedrivePolicy"]["deadLetterTargetArn"],
            json!({"Fn::GetAtt": ["ShadowReadsDeadLetterQueue", "Arn"]})
        );
        let vars = &r["OrderApiFunction"]["Properties"]["Environment"]["Variables"];
        assert_eq!(
            vars["ACME_SHADOW_READS_QUEUE_URL"],
            json!({"Ref": "ShadowReadsQueue"})
        );
        assert_eq!(vars["ACME_SHADOW_SAMPLE_PERCENT"], "12");
        // Only the order API samples.
        for f in ["OrderWorkerFunction", "StreamPublisherFunction"] {
            let v = &r[f]["Properties"]["Environment"]["Variables"];
            assert!(v.get("ACME_SHADOW_READS_QUEUE_URL").is_none(), "{f}");
        }
        let alarm = &r["ShadowMismatchesAlarm"]["Properties"];
        assert_eq!(alarm["Namespace"], "ACME/Migration");
        assert_eq!(alarm["MetricName"], "ShadowMismatches");
        assert_eq!(
            alarm["Dimensions"][0],
            json!({"Name": "County", "Value": "travis-tx"})
        );
        assert_eq!(
            alarm["AlarmActions"],
            json!([{"Ref": "OperationsAlarmsTopic"}])
        );
        assert_eq!(
            t["Outputs"]["ShadowReadsQueueUrl"]["Value"],
            json!({"Ref": "ShadowReadsQueue"})
        );
    }

    #[test]
    fn without_the_section_there_is_nothing_of_it() {
        let mut cfg = county("travis-tx");
        cfg.migration = None;
        let text = template(&cfg).to_string();
        for needle in IDS.iter().copied().chain(["ACME_SHADOW", "ACME/Migration"]) {
            assert!(!text.contains(needle), "{needle}");
        }
    }
}

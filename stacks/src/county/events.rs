//! Event fan-out: the county's custom EventBridge bus (with an archive, so
//! events can be replayed after a consumer bug), the customer-notification
//! topic and the operations topic that alarms go to.

use crate::cfn::resources::events::{Archive, EventBus, Subscription, Topic, TopicPolicy};
use crate::cfn::{Expr, LogicalId, PolicyDocument, Principal, Res, Statement, TemplateError};

use super::Ctx;

/// `source` of every order event the publisher puts on the bus.
pub const EVENT_SOURCE: &str = "acme.orders";
/// Days the archive keeps events for replay.
pub const ARCHIVE_RETENTION_DAYS: u32 = 365;

/// The county's order event bus. Everything that names the bus (function
/// environment, the analytics rule, IAM conditions) uses this name rather than
/// the bus's `Ref`, and depends on the bus explicitly where it must exist
/// first: the name is fixed by us, and the local emulator returns no usable
/// `Ref` for a bus.
pub fn bus_name(county: &str) -> String {
    format!("acme-orders-{county}")
}

/// The county bus's ARN and the pattern of its rules' ARNs
/// (`arn:<partition>:events:<region>:<account>:rule/<bus>/*`): what
/// EventBridge puts in `aws:SourceArn` when it uses the county key.
pub(crate) fn bus_and_rule_arns(county: &str) -> Vec<Expr> {
    let bus = bus_name(county);
    let base = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}";
    vec![
        Expr::sub(format!("{base}:event-bus/{bus}")),
        Expr::sub(format!("{base}:rule/{bus}/*")),
    ]
}

/// Logical ids of the event resources.
#[derive(Debug, Clone)]
pub struct Events {
    pub bus: LogicalId,
    /// [`bus_name`] of the county.
    pub bus_name: String,
    pub archive: LogicalId,
    /// Customer notifications (order confirmed, failed, cancelled).
    pub notifications: LogicalId,
    /// Operations alarms, subscribed to the county's alarm e-mail.
    pub operations: LogicalId,
}

pub(crate) fn add(cx: &mut Ctx<'_>, key: &LogicalId) -> Result<Events, TemplateError> {
    let bus = LogicalId::new("OrderEventBus");
    cx.t.add_resource(
        &bus,
        EventBus {
            name: Expr::lit(bus_name(&cx.cfg.id)),
            description: Some(format!("Order events of county {}", cx.cfg.id)),
            kms_key_identifier: Some(key.arn()),
            tags: cx.tags.clone(),
        },
    )?;
    let archive = LogicalId::new("OrderEventArchive");
    cx.t.add_resource(
        &archive,
        Archive {
            source_arn: bus.arn(),
            description: format!("Every order event of county {}, for replay", cx.cfg.id),
            retention_days: ARCHIVE_RETENTION_DAYS,
            // JSON text rather than an object: both are valid for this Json
            // property, and the emulator parses only text here.
            event_pattern: Some(serde_json::json!({"source": [EVENT_SOURCE]}).to_string()),
        },
    )?;
    let notifications = LogicalId::new("CustomerNotificationsTopic");
    let operations = LogicalId::new("OperationsAlarmsTopic");
    for (id, name) in [
        (&notifications, "ACME order notifications"),
        (&operations, "ACME order system alarms"),
    ] {
        cx.t.add(Res::new(
            id,
            Topic {
                display_name: name.to_owned(),
                kms_master_key_id: key.arn(),
                tags: cx.tags.clone(),
            },
        )?)?;
    }
    cx.t.add_resource(
        &LogicalId::new("TopicsPolicy"),
        TopicPolicy {
            topics: vec![notifications.r#ref(), operations.r#ref()],
            policy_document: PolicyDocument::new(vec![
                Statement::deny_insecure_transport(
                    &["sns:Publish", "sns:Subscribe"],
                    vec![notifications.r#ref(), operations.r#ref()],
                ),
                // CloudWatch alarms publish to the operations topic, but only
                // this county's alarms, in this account.
                Statement::allow(&["sns:Publish"], vec![operations.r#ref()])
                    .sid("CloudWatchAlarmsPublish")
                    .principal(Principal::service("cloudwatch.amazonaws.com"))
                    .when(
                        "ArnLike",
                        "aws:SourceArn",
                        super::alarms::alarm_arn_pattern(&cx.cfg.id),
                    )
                    .when("StringEquals", "aws:SourceAccount", Expr::account_id()),
            ]),
        },
    )?;
    cx.t.add_resource(
        &LogicalId::new("OperationsAlarmEmail"),
        Subscription {
            topic_arn: operations.r#ref(),
            protocol: "email",
            endpoint: Expr::lit(cx.cfg.alarm_email.clone()),
        },
    )?;
    Ok(Events {
        bus_name: bus_name(&cx.cfg.id),
        bus,
        archive,
        notifications,
        operations,
    })
}

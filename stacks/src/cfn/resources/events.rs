//! `AWS::Events::EventBus`, `::Archive` and `::Rule`; `AWS::SNS::Topic`,
//! `::Subscription` and `::TopicPolicy`.

use serde::Serialize;

use super::resource;
use crate::cfn::{Expr, PolicyDocument, Tag};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventBus {
    pub name: Expr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_identifier: Option<Expr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(EventBus, "AWS::Events::EventBus");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Archive {
    pub source_arn: Expr,
    pub description: String,
    /// Days; 0 = keep forever.
    pub retention_days: u32,
    /// The pattern as JSON text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
}
resource!(Archive, "AWS::Events::Archive");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Rule {
    pub description: String,
    pub event_bus_name: Expr,
    pub event_pattern: serde_json::Value,
    pub state: &'static str,
    pub targets: Vec<RuleTarget>,
}
resource!(Rule, "AWS::Events::Rule");

/// A scheduled rule (on the account's default bus, the only one schedules
/// run on).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleRule {
    pub description: String,
    /// `rate(5 minutes)` style.
    pub schedule_expression: String,
    pub state: &'static str,
    pub targets: Vec<RuleTarget>,
}
resource!(ScheduleRule, "AWS::Events::Rule");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleTarget {
    pub id: String,
    pub arn: Expr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<Expr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    pub arn: Expr,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetryPolicy {
    pub maximum_event_age_in_seconds: u32,
    pub maximum_retry_attempts: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Topic {
    pub display_name: String,
    pub kms_master_key_id: Expr,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(Topic, "AWS::SNS::Topic");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subscription {
    pub topic_arn: Expr,
    pub protocol: &'static str,
    pub endpoint: Expr,
}
resource!(Subscription, "AWS::SNS::Subscription");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopicPolicy {
    pub topics: Vec<Expr>,
    pub policy_document: PolicyDocument,
}
resource!(TopicPolicy, "AWS::SNS::TopicPolicy");

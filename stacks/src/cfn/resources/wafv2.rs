//! `AWS::WAFv2::WebACL`, `::WebACLAssociation` and `::LoggingConfiguration`.

use serde::Serialize;
use serde_json::Value;

use super::resource;
use crate::cfn::{Expr, Tag};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebAcl {
    pub name: String,
    pub description: String,
    /// `REGIONAL` for API Gateway, ALB and AppSync; `CLOUDFRONT` only in us-east-1.
    pub scope: &'static str,
    pub default_action: Value,
    pub rules: Vec<Rule>,
    pub visibility_config: VisibilityConfig,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(WebAcl, "AWS::WAFv2::WebACL");

/// A rule. A rule group reference takes `OverrideAction`; any other statement
/// takes `Action` — WAF rejects a rule with the wrong one.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Rule {
    pub name: String,
    pub priority: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_action: Option<Value>,
    pub statement: Value,
    pub visibility_config: VisibilityConfig,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VisibilityConfig {
    pub sampled_requests_enabled: bool,
    #[serde(rename = "CloudWatchMetricsEnabled")]
    pub cloudwatch_metrics_enabled: bool,
    pub metric_name: String,
}

impl VisibilityConfig {
    /// Metrics and sampled requests on, under `metric_name`.
    pub fn metric(metric_name: &str) -> Self {
        VisibilityConfig {
            sampled_requests_enabled: true,
            cloudwatch_metrics_enabled: true,
            metric_name: metric_name.to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebAclAssociation {
    pub resource_arn: Expr,
    #[serde(rename = "WebACLArn")]
    pub web_acl_arn: Expr,
}
resource!(WebAclAssociation, "AWS::WAFv2::WebACLAssociation");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfiguration {
    pub resource_arn: Expr,
    pub log_destination_configs: Vec<Expr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redacted_fields: Vec<Value>,
}
resource!(LoggingConfiguration, "AWS::WAFv2::LoggingConfiguration");

//! `AWS::Logs::LogGroup` and `AWS::Logs::MetricFilter`.

use serde::Serialize;

use super::resource;
use crate::cfn::{Expr, Tag};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogGroup {
    pub log_group_name: Expr,
    /// One of the periods CloudWatch Logs accepts (validated in the config).
    pub retention_in_days: u32,
    /// The key's ARN; the key policy must let `logs.<region>.amazonaws.com` use it.
    pub kms_key_id: Expr,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(LogGroup, "AWS::Logs::LogGroup");

/// Counts log events matching a filter pattern as a CloudWatch metric.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricFilter {
    pub filter_name: String,
    pub log_group_name: Expr,
    pub filter_pattern: String,
    pub metric_transformations: Vec<MetricTransformation>,
}
resource!(MetricFilter, "AWS::Logs::MetricFilter");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricTransformation {
    pub metric_namespace: &'static str,
    pub metric_name: &'static str,
    /// Added per matching event: `"1"` counts them.
    pub metric_value: &'static str,
}

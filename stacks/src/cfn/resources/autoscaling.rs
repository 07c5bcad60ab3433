//! `AWS::ApplicationAutoScaling::ScalableTarget` and `::ScalingPolicy`.

use serde::Serialize;

use super::resource;
use crate::cfn::Expr;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalableTarget {
    pub max_capacity: u32,
    pub min_capacity: u32,
    /// `table/<name>` or `table/<name>/index/<index>`.
    pub resource_id: Expr,
    /// e.g. `dynamodb:table:ReadCapacityUnits`.
    pub scalable_dimension: &'static str,
    pub service_namespace: &'static str,
}
resource!(
    ScalableTarget,
    "AWS::ApplicationAutoScaling::ScalableTarget"
);

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalingPolicy {
    pub policy_name: String,
    pub policy_type: &'static str,
    pub scaling_target_id: Expr,
    pub target_tracking_scaling_policy_configuration: TargetTracking,
}
resource!(ScalingPolicy, "AWS::ApplicationAutoScaling::ScalingPolicy");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetTracking {
    pub target_value: f64,
    pub predefined_metric_specification: PredefinedMetric,
    pub scale_in_cooldown: u32,
    pub scale_out_cooldown: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PredefinedMetric {
    pub predefined_metric_type: &'static str,
}

//! `AWS::CloudTrail::Trail` with advanced event selectors.

use serde::Serialize;

use super::resource;
use crate::cfn::{Expr, Tag};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Trail {
    /// Known before deploy: bucket and key policies name the trail's ARN,
    /// which `Fn::GetAtt` could not give them without a dependency cycle.
    pub trail_name: String,
    #[serde(rename = "S3BucketName")]
    pub s3_bucket_name: Expr,
    pub is_logging: bool,
    pub is_multi_region_trail: bool,
    pub include_global_service_events: bool,
    /// A signed digest file per hour lets anyone prove a log file unchanged.
    pub enable_log_file_validation: bool,
    #[serde(rename = "KMSKeyId")]
    pub kms_key_id: Expr,
    pub advanced_event_selectors: Vec<AdvancedEventSelector>,
    /// The log group's `Arn` attribute (it ends in `:*`, as CloudTrail wants).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_watch_logs_log_group_arn: Option<Expr>,
    /// A role CloudTrail assumes to write to that log group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_watch_logs_role_arn: Option<Expr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(Trail, "AWS::CloudTrail::Trail");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AdvancedEventSelector {
    pub name: String,
    pub field_selectors: Vec<FieldSelector>,
}

/// One field condition. CloudTrail allows one operator per field selector.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FieldSelector {
    /// `eventCategory`, `resources.type`, `resources.ARN`, `readOnly`, ...
    pub field: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub equals: Vec<Expr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub starts_with: Vec<Expr>,
}

impl FieldSelector {
    /// `field` equals one of `values`.
    pub fn equals(field: &'static str, values: Vec<Expr>) -> Self {
        FieldSelector {
            field,
            equals: values,
            ..Default::default()
        }
    }
    /// `field` starts with one of `prefixes`.
    pub fn starts_with(field: &'static str, prefixes: Vec<Expr>) -> Self {
        FieldSelector {
            field,
            starts_with: prefixes,
            ..Default::default()
        }
    }
}

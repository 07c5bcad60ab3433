//! `AWS::Athena::WorkGroup` and `AWS::Athena::NamedQuery`.

use serde::Serialize;

use super::resource;
use crate::cfn::{Expr, Tag};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WorkGroup {
    pub name: String,
    pub description: String,
    /// `ENABLED` or `DISABLED`.
    pub state: &'static str,
    pub work_group_configuration: WorkGroupConfiguration,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(WorkGroup, "AWS::Athena::WorkGroup");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WorkGroupConfiguration {
    /// Clients cannot override the result location or encryption.
    pub enforce_work_group_configuration: bool,
    #[serde(rename = "PublishCloudWatchMetricsEnabled")]
    pub publish_cloud_watch_metrics_enabled: bool,
    /// Cancels a query that would scan more (bytes, at least 10 MB).
    pub bytes_scanned_cutoff_per_query: u64,
    pub engine_version: EngineVersion,
    pub result_configuration: ResultConfiguration,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EngineVersion {
    pub selected_engine_version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResultConfiguration {
    pub output_location: Expr,
    pub encryption_configuration: ResultEncryption,
    /// Athena refuses to write results to a bucket another account owns.
    pub expected_bucket_owner: Expr,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResultEncryption {
    /// `SSE_S3`, `SSE_KMS` or `CSE_KMS`.
    pub encryption_option: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<Expr>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamedQuery {
    pub name: String,
    pub description: String,
    pub database: Expr,
    pub work_group: Expr,
    pub query_string: String,
}
resource!(NamedQuery, "AWS::Athena::NamedQuery");

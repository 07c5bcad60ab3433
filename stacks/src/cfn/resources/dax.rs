//! `AWS::DAX::Cluster`, `::ParameterGroup` and `::SubnetGroup`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::resource;
use crate::cfn::Expr;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Cluster {
    pub description: String,
    pub node_type: String,
    pub replication_factor: u32,
    #[serde(rename = "IAMRoleARN")]
    pub iam_role_arn: Expr,
    pub subnet_group_name: Expr,
    pub parameter_group_name: Expr,
    pub security_group_ids: Vec<String>,
    #[serde(rename = "SSESpecification")]
    pub sse_specification: ClusterSse,
    /// `TLS`: clients must speak TLS to the cluster endpoint.
    pub cluster_endpoint_encryption_type: &'static str,
    /// DAX takes tags as a JSON object, unlike most resource types.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}
resource!(Cluster, "AWS::DAX::Cluster");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClusterSse {
    #[serde(rename = "SSEEnabled")]
    pub sse_enabled: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterGroup {
    pub description: String,
    pub parameter_name_values: BTreeMap<String, String>,
}
resource!(ParameterGroup, "AWS::DAX::ParameterGroup");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubnetGroup {
    pub description: String,
    pub subnet_ids: Vec<String>,
}
resource!(SubnetGroup, "AWS::DAX::SubnetGroup");

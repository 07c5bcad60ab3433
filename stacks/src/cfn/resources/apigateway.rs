//! `AWS::ApiGateway::RestApi`, `::Resource`, `::Method`, `::RequestValidator`,
//! `::Model`, `::Deployment` and `::Stage`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::resource;
use crate::cfn::{Expr, Tag};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestApi {
    pub name: String,
    pub description: String,
    pub endpoint_configuration: EndpointConfiguration,
    /// Bytes; bodies at least this large are compressed when the client accepts it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_compression_size: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(RestApi, "AWS::ApiGateway::RestApi");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointConfiguration {
    pub types: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    pub rest_api_id: Expr,
    pub parent_id: Expr,
    pub path_part: String,
}
resource!(Resource, "AWS::ApiGateway::Resource");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Method {
    pub rest_api_id: Expr,
    pub resource_id: Expr,
    pub http_method: &'static str,
    pub authorization_type: &'static str,
    pub operation_name: String,
    pub request_validator_id: Expr,
    /// `method.request.querystring.<name>` / `method.request.path.<name>` →
    /// whether the parameter is required.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub request_parameters: BTreeMap<String, bool>,
    /// Content type → model name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub request_models: BTreeMap<&'static str, Expr>,
    pub integration: Integration,
}
resource!(Method, "AWS::ApiGateway::Method");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Integration {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    /// Lambda is always invoked with POST, whatever the client's method.
    pub integration_http_method: &'static str,
    pub uri: Expr,
    /// Milliseconds, 50..=29000.
    pub timeout_in_millis: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RequestValidator {
    pub rest_api_id: Expr,
    pub name: String,
    pub validate_request_body: bool,
    pub validate_request_parameters: bool,
}
resource!(RequestValidator, "AWS::ApiGateway::RequestValidator");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Model {
    pub rest_api_id: Expr,
    pub name: String,
    pub description: String,
    pub content_type: &'static str,
    /// JSON Schema draft 4 (API Gateway's dialect).
    pub schema: serde_json::Value,
}
resource!(Model, "AWS::ApiGateway::Model");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Deployment {
    pub rest_api_id: Expr,
    pub description: String,
}
resource!(Deployment, "AWS::ApiGateway::Deployment");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Stage {
    pub rest_api_id: Expr,
    pub deployment_id: Expr,
    pub stage_name: &'static str,
    pub description: String,
    pub tracing_enabled: bool,
    pub access_log_setting: AccessLogSetting,
    pub method_settings: Vec<MethodSetting>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(Stage, "AWS::ApiGateway::Stage");

/// The region's API Gateway account settings: the role API Gateway uses to
/// write execution and access logs to CloudWatch Logs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Account {
    pub cloud_watch_role_arn: Expr,
}
resource!(Account, "AWS::ApiGateway::Account");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessLogSetting {
    pub destination_arn: Expr,
    /// One log line per request; `$context` variables.
    pub format: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MethodSetting {
    pub resource_path: &'static str,
    pub http_method: &'static str,
    pub metrics_enabled: bool,
    pub data_trace_enabled: bool,
    pub logging_level: &'static str,
    pub throttling_rate_limit: f64,
    pub throttling_burst_limit: u32,
    pub caching_enabled: bool,
}

//! `AWS::SQS::Queue` and `AWS::SQS::QueuePolicy`.

use serde::Serialize;

use super::resource;
use crate::cfn::{Expr, PolicyDocument, Tag};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Queue {
    pub kms_master_key_id: Expr,
    /// How long SQS reuses a data key before calling KMS again (60..=86400):
    /// longer means fewer KMS requests on a busy queue.
    pub kms_data_key_reuse_period_seconds: u32,
    pub visibility_timeout: u32,
    pub message_retention_period: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receive_message_wait_time_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redrive_policy: Option<RedrivePolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redrive_allow_policy: Option<RedriveAllowPolicy>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(Queue, "AWS::SQS::Queue");

/// Note the camelCase keys: this property is SQS's own JSON, not CloudFormation's.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedrivePolicy {
    pub dead_letter_target_arn: Expr,
    pub max_receive_count: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedriveAllowPolicy {
    pub redrive_permission: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_queue_arns: Vec<Expr>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueuePolicy {
    pub queues: Vec<Expr>,
    pub policy_document: PolicyDocument,
}
resource!(QueuePolicy, "AWS::SQS::QueuePolicy");

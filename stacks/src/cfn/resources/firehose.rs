//! `AWS::KinesisFirehose::DeliveryStream`, Direct PUT into S3 (the only shape
//! the project emits).

use serde::Serialize;

use super::resource;
use crate::cfn::{Expr, Tag};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeliveryStream {
    pub delivery_stream_name: Expr,
    /// `DirectPut`: producers (here an EventBridge rule) call `PutRecord(Batch)`.
    pub delivery_stream_type: &'static str,
    /// Encryption of the records Firehose holds while buffering.
    pub delivery_stream_encryption_configuration_input: StreamEncryption,
    pub extended_s3_destination_configuration: ExtendedS3Destination,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(DeliveryStream, "AWS::KinesisFirehose::DeliveryStream");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamEncryption {
    /// `CUSTOMER_MANAGED_CMK` or `AWS_OWNED_CMK`.
    pub key_type: &'static str,
    #[serde(rename = "KeyARN", skip_serializing_if = "Option::is_none")]
    pub key_arn: Option<Expr>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExtendedS3Destination {
    #[serde(rename = "BucketARN")]
    pub bucket_arn: Expr,
    #[serde(rename = "RoleARN")]
    pub role_arn: Expr,
    /// May hold `!{timestamp:..}` expressions; then `error_output_prefix` must
    /// hold `!{firehose:error-output-type}`.
    pub prefix: String,
    pub error_output_prefix: String,
    pub buffering_hints: BufferingHints,
    /// `UNCOMPRESSED`, `GZIP`, `ZIP`, `Snappy` or `HADOOP_SNAPPY`.
    pub compression_format: &'static str,
    pub encryption_configuration: S3Encryption,
    pub cloud_watch_logging_options: CloudWatchLoggingOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing_configuration: Option<ProcessingConfiguration>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BufferingHints {
    /// 0..=900 seconds.
    pub interval_in_seconds: u32,
    /// 1..=128 MiB.
    pub size_in_m_bs: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3Encryption {
    #[serde(rename = "KMSEncryptionConfig")]
    pub kms_encryption_config: KmsEncryptionConfig,
}

#[derive(Debug, Clone, Serialize)]
pub struct KmsEncryptionConfig {
    #[serde(rename = "AWSKMSKeyARN")]
    pub aws_kms_key_arn: Expr,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CloudWatchLoggingOptions {
    pub enabled: bool,
    pub log_group_name: Expr,
    pub log_stream_name: Expr,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessingConfiguration {
    pub enabled: bool,
    pub processors: Vec<Processor>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Processor {
    /// e.g. `AppendDelimiterToRecord`.
    #[serde(rename = "Type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<ProcessorParameter>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessorParameter {
    pub parameter_name: &'static str,
    pub parameter_value: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn odd_property_names_follow_the_resource_reference() {
        let hints = BufferingHints {
            interval_in_seconds: 60,
            size_in_m_bs: 5,
        };
        assert_eq!(
            serde_json::to_value(&hints).expect("json"),
            json!({"IntervalInSeconds": 60, "SizeInMBs": 5})
        );
        let enc = S3Encryption {
            kms_encryption_config: KmsEncryptionConfig {
                aws_kms_key_arn: "k".into(),
            },
        };
        assert_eq!(
            serde_json::to_value(&enc).expect("json"),
            json!({"KMSEncryptionConfig": {"AWSKMSKeyARN": "k"}})
        );
    }
}

//! Typed properties of the CloudFormation resource types the project emits.
//! Field names follow the CloudFormation resource reference exactly (serde
//! renames them to PascalCase); optional properties are skipped when unset.

pub mod apigateway;
pub mod athena;
pub mod autoscaling;
pub mod cloudtrail;
pub mod cloudwatch;
pub mod dynamodb;
pub mod events;
pub mod firehose;
pub mod glue;
pub mod iam;
pub mod iam_policy;
pub mod kms;
pub mod lambda;
pub mod logs;
pub mod redshift;
pub mod s3;
pub mod sqs;
pub mod ssm;
pub mod wafv2;

/// Implements [`super::Resource`] for a properties struct.
macro_rules! resource {
    ($ty:ty, $name:literal) => {
        impl $crate::cfn::Resource for $ty {
            const TYPE: &'static str = $name;
        }
    };
}
pub(crate) use resource;

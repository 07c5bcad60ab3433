//! The county's cutover flag and last verify (SSM Parameter Store), and the
//! shadow-read and flagged-write sums (CloudWatch), as `migrate status` and
//! `migrate cutover` read and change them.

use acme_contract::migration::{
    CutoverMode, LEGACY_WRITES_FLAGGED, mode_parameter, shadow_metrics, verify_parameter,
};
use aws_config::SdkConfig;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_ssm::types::ParameterType;
use jiff::Timestamp;

use super::{VerifyRecord, Window};

/// Why SSM or CloudWatch could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(
        "{county} has no cutover flag (SSM parameter {parameter} not found): deploy its stack \
         with the `migration:` section first (the stack creates the flag in mode `legacy`)"
    )]
    NoFlag { county: String, parameter: String },
    #[error("SSM parameter {parameter} holds `{value}`, not a cutover mode")]
    BadFlag { parameter: String, value: String },
    #[error("SSM parameter {parameter} holds a verify record that does not read: {cause}")]
    BadVerify { parameter: String, cause: String },
    #[error(
        "the cutover flag {parameter} changed while this command ran (version {expected} \
         expected, {found} found): someone else moved {county}; run `acme-infra migrate status`"
    )]
    Raced {
        county: String,
        parameter: String,
        expected: i64,
        found: i64,
    },
    #[error("{action} failed: {cause}")]
    Aws { action: String, cause: String },
}

fn aws<E: std::error::Error + 'static>(action: String) -> impl FnOnce(E) -> ControlError {
    move |e| ControlError::Aws {
        action,
        cause: aws_sdk_ssm::error::DisplayErrorContext(e).to_string(),
    }
}

/// The county's flag as read: its mode and SSM's version of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    pub mode: CutoverMode,
    pub version: i64,
}

/// SSM and CloudWatch for one county.
#[derive(Debug, Clone)]
pub struct Control {
    county: String,
    ssm: aws_sdk_ssm::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

impl Control {
    pub fn new(sdk: &SdkConfig, county: &str) -> Self {
        Control {
            county: county.to_owned(),
            ssm: aws_sdk_ssm::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
        }
    }

    /// The county's mode and the flag's version.
    pub async fn flag(&self) -> Result<Flag, ControlError> {
        let parameter = mode_parameter(&self.county);
        let Some((value, version)) = self.get(&parameter).await? else {
            return Err(ControlError::NoFlag {
                county: self.county.clone(),
                parameter,
            });
        };
        let mode = value.trim().parse().map_err(|_| ControlError::BadFlag {
            parameter: parameter.clone(),
            value,
        })?;
        Ok(Flag { mode, version })
    }

    /// Sets the mode, over the flag as read at `from` (SSM has no
    /// conditional put: a version other than `from.version + 1` afterwards
    /// means someone else changed it in between, and is reported).
    pub async fn set_mode(&self, from: Flag, to: CutoverMode) -> Result<(), ControlError> {
        let parameter = mode_parameter(&self.county);
        let version = self.put(&parameter, to.name()).await?;
        if version != from.version + 1 {
            return Err(ControlError::Raced {
                county: self.county.clone(),
                parameter,
                expected: from.version + 1,
                found: version,
            });
        }
        Ok(())
    }

    /// The last verify's record, if one was made.
    pub async fn verify(&self) -> Result<Option<VerifyRecord>, ControlError> {
        let parameter = verify_parameter(&self.county);
        let Some((value, _)) = self.get(&parameter).await? else {
            return Ok(None);
        };
        serde_json::from_str(&value)
            .map(Some)
            .map_err(|e| ControlError::BadVerify {
                parameter,
                cause: e.to_string(),
            })
    }

    /// Records a verify's outcome where status and the gates find it.
    pub async fn record_verify(&self, record: &VerifyRecord) -> Result<(), ControlError> {
        let value = serde_json::to_string(record).map_err(|e| ControlError::BadVerify {
            parameter: verify_parameter(&self.county),
            cause: e.to_string(),
        })?;
        self.put(&verify_parameter(&self.county), &value)
            .await
            .map(|_| ())
    }

    /// Shadow reads, mismatches and flagged legacy writes summed over the
    /// last `minutes` to `now`.
    pub async fn window(&self, minutes: u32, now: Timestamp) -> Result<Window, ControlError> {
        Ok(Window {
            minutes,
            shadow_reads: self.sum(shadow_metrics::READS, minutes, now).await?,
            shadow_mismatches: self.sum(shadow_metrics::MISMATCHES, minutes, now).await?,
            legacy_writes_flagged: self.sum(LEGACY_WRITES_FLAGGED, minutes, now).await?,
        })
    }

    /// Publishes legacy writes the change capture flagged in mode `dynamo`.
    pub async fn publish_flagged(&self, count: u64) -> Result<(), ControlError> {
        let datum = aws_sdk_cloudwatch::types::MetricDatum::builder()
            .metric_name(LEGACY_WRITES_FLAGGED)
            .dimensions(self.dimension())
            .value(count as f64)
            .unit(aws_sdk_cloudwatch::types::StandardUnit::Count)
            .build();
        self.cloudwatch
            .put_metric_data()
            .namespace(shadow_metrics::NAMESPACE)
            .metric_data(datum)
            .send()
            .await
            .map_err(aws(format!("PutMetricData {LEGACY_WRITES_FLAGGED}")))?;
        Ok(())
    }

    fn dimension(&self) -> Dimension {
        Dimension::builder()
            .name(shadow_metrics::COUNTY_DIMENSION)
            .value(&self.county)
            .build()
    }

    /// One metric's sum over the window: one datapoint, its period the
    /// whole window (a multiple of 60 s, as CloudWatch requires). The window
    /// ends at the end of the current minute, so what was published this
    /// minute counts (CloudWatch keeps standard metrics per minute).
    async fn sum(&self, metric: &str, minutes: u32, now: Timestamp) -> Result<u64, ControlError> {
        let period = i32::try_from(minutes.saturating_mul(60)).unwrap_or(i32::MAX);
        let end_ms = (now.as_millisecond().div_euclid(60_000) + 1) * 60_000;
        let end = aws_sdk_cloudwatch::primitives::DateTime::from_millis(end_ms);
        let start = aws_sdk_cloudwatch::primitives::DateTime::from_millis(
            end_ms - i64::from(minutes) * 60_000,
        );
        let out = self
            .cloudwatch
            .get_metric_statistics()
            .namespace(shadow_metrics::NAMESPACE)
            .metric_name(metric)
            .dimensions(self.dimension())
            .start_time(start)
            .end_time(end)
            .period(period)
            .statistics(Statistic::Sum)
            .send()
            .await
            .map_err(aws(format!("GetMetricStatistics {metric}")))?;
        let total: f64 = out.datapoints().iter().filter_map(|d| d.sum()).sum();
        Ok(total.max(0.0).round() as u64)
    }

    async fn get(&self, parameter: &str) -> Result<Option<(String, i64)>, ControlError> {
        match self.ssm.get_parameter().name(parameter).send().await {
            Ok(out) => Ok(out
                .parameter
                .map(|p| (p.value.unwrap_or_default(), p.version))),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws(format!("GetParameter {parameter}"))(e)),
        }
    }

    async fn put(&self, parameter: &str, value: &str) -> Result<i64, ControlError> {
        let out = self
            .ssm
            .put_parameter()
            .name(parameter)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map_err(aws(format!("PutParameter {parameter}")))?;
        Ok(out.version)
    }
}

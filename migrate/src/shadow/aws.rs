//! The comparer's AWS sides: the ShadowReads queue over SQS and the counts
//! over CloudWatch `PutMetricData`.

use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use order_domain::CountyId;

use super::{Counts, Inbox, Message, MetricSink, ShadowError, metric_values};
use acme_contract::migration::shadow_metrics;

/// The ShadowReads queue.
#[derive(Debug, Clone)]
pub struct SqsInbox {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsInbox {
    pub fn from_sdk(sdk: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self::new(aws_sdk_sqs::Client::new(sdk), queue_url)
    }

    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

fn sdk_error(e: impl std::error::Error + 'static) -> String {
    aws_sdk_sqs::error::DisplayErrorContext(e).to_string()
}

impl Inbox for SqsInbox {
    async fn receive(&self, max: i32, wait: Duration) -> Result<Vec<Message>, ShadowError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(i32::try_from(wait.as_secs()).unwrap_or(20).min(20))
            .send()
            .await
            .map_err(|e| ShadowError::Queue(format!("ReceiveMessage: {}", sdk_error(e))))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                Some(Message {
                    id: m.message_id.unwrap_or_default(),
                    receipt: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
                })
            })
            .collect())
    }

    async fn delete(&self, messages: &[Message]) -> Result<(), ShadowError> {
        for chunk in messages.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&m.receipt)
                        .build()
                        .map_err(|e| ShadowError::Queue(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| ShadowError::Queue(format!("DeleteMessageBatch: {}", sdk_error(e))))?;
            // A message not deleted comes back and is compared again: its
            // counts would be published twice, so say so.
            if let Some(f) = out.failed.first() {
                return Err(ShadowError::Queue(format!(
                    "DeleteMessageBatch refused {} of {} messages ({}: {})",
                    out.failed.len(),
                    chunk.len(),
                    f.code,
                    f.message.as_deref().unwrap_or("")
                )));
            }
        }
        Ok(())
    }
}

/// `PutMetricData` in [`shadow_metrics::NAMESPACE`], dimension County.
#[derive(Debug, Clone)]
pub struct CloudWatchSink {
    client: aws_sdk_cloudwatch::Client,
}

impl CloudWatchSink {
    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Self {
        Self::new(aws_sdk_cloudwatch::Client::new(sdk))
    }

    pub fn new(client: aws_sdk_cloudwatch::Client) -> Self {
        Self { client }
    }
}

impl MetricSink for CloudWatchSink {
    async fn publish(&self, county: &CountyId, counts: &Counts) -> Result<(), ShadowError> {
        let dimension = Dimension::builder()
            .name(shadow_metrics::COUNTY_DIMENSION)
            .value(county.as_str())
            .build();
        let now = aws_sdk_cloudwatch::primitives::DateTime::from(std::time::SystemTime::now());
        let data = metric_values(counts).map(|(name, value)| {
            MetricDatum::builder()
                .metric_name(name)
                .dimensions(dimension.clone())
                .timestamp(now)
                .value(value as f64)
                .unit(StandardUnit::Count)
                .build()
        });
        self.client
            .put_metric_data()
            .namespace(shadow_metrics::NAMESPACE)
            .set_metric_data(Some(data.to_vec()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                ShadowError::Metrics(format!(
                    "PutMetricData: {}",
                    aws_sdk_cloudwatch::error::DisplayErrorContext(e)
                ))
            })
    }
}

//! The failure queue: records legacy-sync cannot write, with the reason.
//! The same queue is the event source's on-failure destination (batches
//! that kept failing for a passing reason), so one queue and one alarm hold
//! everything that did not reach the legacy tables.

use std::future::Future;

use aws_sdk_sqs::error::DisplayErrorContext;

/// One record that will never be written, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rejected {
    pub county_id: String,
    pub event_id: String,
    pub sequence_number: Option<String>,
    pub order_id: Option<String>,
    pub reason: String,
}

/// Where rejected records go.
pub trait Rejects: Send + Sync + 'static {
    fn send(&self, r: &Rejected) -> impl Future<Output = Result<(), String>> + Send;
}

/// The county's legacy-sync dead-letter queue.
#[derive(Debug, Clone)]
pub struct SqsRejects {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsRejects {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl Rejects for SqsRejects {
    async fn send(&self, r: &Rejected) -> Result<(), String> {
        let body = serde_json::to_string(r).map_err(|e| e.to_string())?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                format!(
                    "SendMessage to the failure queue: {}",
                    DisplayErrorContext(&e)
                )
            })
    }
}

//! [`SqsEnqueuer`]: work messages to the county's order queue (standard
//! queue: the worker is idempotent, so at-least-once delivery and no ordering
//! are fine, and FIFO's throughput limits are avoided).

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use order_domain::events::WorkMessage;

use crate::ports::{Enqueuer, SendError};

/// Sends [`WorkMessage`]s with `SendMessage`.
#[derive(Debug, Clone)]
pub struct SqsEnqueuer {
    client: Client,
    queue_url: String,
}

impl SqsEnqueuer {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }
}

/// Retryable unless SQS said the request itself is wrong (4xx other than
/// throttling): a missing queue or a denied send fails the same way again.
pub(crate) fn send_error<E, R>(op: &str, err: &SdkError<E, R>) -> SendError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let message = format!("{op}: {}", DisplayErrorContext(err));
    match err {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or_default();
            let throttled = code.contains("Throttl") || code == "RequestThrottled";
            let server = code.contains("InternalError")
                || code.contains("InternalFailure")
                || code.contains("ServiceUnavailable");
            if throttled || server {
                SendError::retryable(message)
            } else {
                SendError::permanent(message)
            }
        }
        SdkError::ConstructionFailure(_) => SendError::permanent(message),
        _ => SendError::retryable(message),
    }
}

impl Enqueuer for SqsEnqueuer {
    async fn enqueue(&self, message: WorkMessage) -> Result<(), SendError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(message.to_json())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| send_error("SendMessage", &e))
    }
}

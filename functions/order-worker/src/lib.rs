//! The order worker Lambda: SQS batches of `{"order_id": ...}` messages
//! through the domain's [`OrderWorker`] (reserve stock, take payment,
//! confirm or fail).
//!
//! # Entry point
//!
//! ```text
//! order_worker::Worker::new(store, gateway, rules, clock)
//!     .handle(event: SqsEvent).await -> SqsBatchResponse
//! ```
//!
//! generic over `S: Store`, `P: PaymentGateway`, `C: Clock`. The event
//! source mapping uses `ReportBatchItemFailures`, so the response lists the
//! messages SQS must deliver again:
//!
//! | outcome | reported as failure? | why |
//! |---|---|---|
//! | confirmed, failed, already final | no | done |
//! | lost a write race (`TransactionConflict`, a write that met a transaction, the order's lock lost repeatedly) | no, unless it still loses when [`ConflictRetry::budget`] (2 s) is spent | the worker calls the service again itself after a jittered pause ([`retry`]) |
//! | retryable error (throttling, outage, payment timeout, contention that outlasted the retries) | yes | a later delivery can succeed |
//! | malformed body | yes | after `maxReceiveCount` deliveries SQS moves it to the DLQ, where a person sees it |
//! | order not found, inconsistent or corrupt order | no (logged at error) | redelivery cannot fix it |
//!
//! Messages are processed one after another: a batch may hold the same
//! order twice (at-least-once delivery), and the second then finds it done.

pub mod retry;

pub use retry::ConflictRetry;

use std::time::Instant;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use order_domain::clock::Clock;
use order_domain::error::DomainError;
use order_domain::events::WorkMessage;
use order_domain::payment::PaymentGateway;
use order_domain::rules::CountyRules;
use order_domain::service::{OrderWorker, ProcessError, ProcessOutcome};
use order_domain::store::Store;

/// What happened to one message.
#[derive(Debug)]
pub enum MessageOutcome {
    Processed(Box<ProcessOutcome>),
    /// The body is not a work message: reported as a failure.
    Malformed(String),
    /// Acknowledged although it failed: redelivery cannot help.
    Dropped(ProcessError),
    /// Reported as a failure: SQS delivers it again.
    Retry(ProcessError),
}

impl MessageOutcome {
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            MessageOutcome::Malformed(_) | MessageOutcome::Retry(_)
        )
    }
}

/// The worker over one county's store and payment gateway.
pub struct Worker<S, P, C> {
    service: OrderWorker<S, P, C>,
    retry: ConflictRetry,
}

impl<S: Store, P: PaymentGateway, C: Clock> Worker<S, P, C> {
    pub fn new(store: S, gateway: P, rules: CountyRules, clock: C) -> Self {
        Self {
            service: OrderWorker::new(store, gateway, rules, clock),
            retry: ConflictRetry::default(),
        }
    }

    /// Retries lost write races with this policy instead of the default.
    #[must_use]
    pub fn with_conflict_retry(mut self, retry: ConflictRetry) -> Self {
        self.retry = retry;
        self
    }

    /// Processes a batch; the response names the messages to redeliver.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for message in &event.records {
            let message_id = message.message_id.as_deref().unwrap_or_default();
            let outcome = self.process_message(message).await;
            log_outcome(message_id, &outcome);
            if outcome.is_failure() {
                // An empty identifier makes Lambda retry the whole batch,
                // which is the safe reading of a message without an id.
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message_id.to_owned();
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    /// One message, without logging: for tests and the local runner.
    pub async fn process_message(&self, message: &SqsMessage) -> MessageOutcome {
        let body = message.body.as_deref().unwrap_or_default();
        let work = match WorkMessage::from_json(body) {
            Ok(w) => w,
            Err(e) => return MessageOutcome::Malformed(e.to_string()),
        };
        let started = Instant::now();
        let mut retry = 0;
        loop {
            let e = match self.service.process(&work.order_id).await {
                Ok(outcome) => return MessageOutcome::Processed(Box::new(outcome)),
                Err(e) => e,
            };
            if e.is_conflict() {
                retry += 1;
                // `process` resumes from whatever state the order is in, so
                // calling it again is safe at any point.
                if self.retry.pause(retry, started).await {
                    tracing::debug!(order_id = %work.order_id, retry, error = %e, "write conflict; retrying");
                    continue;
                }
            }
            return if e.is_retryable() {
                MessageOutcome::Retry(e)
            } else {
                MessageOutcome::Dropped(e)
            };
        }
    }
}

fn log_outcome(message_id: &str, outcome: &MessageOutcome) {
    match outcome {
        MessageOutcome::Processed(o) => {
            let order = o.order();
            let result = match **o {
                ProcessOutcome::Confirmed(_) => "confirmed",
                ProcessOutcome::Failed(_) => "failed",
                ProcessOutcome::AlreadyFinal(_) => "already_final",
                ProcessOutcome::Held(_) => "held",
            };
            tracing::info!(
                message_id, order_id = %order.order_id, status = %order.status, result,
                "order processed"
            );
        }
        MessageOutcome::Malformed(reason) => tracing::error!(
            message_id,
            reason,
            "malformed message body; reported as a failure so it reaches the DLQ"
        ),
        MessageOutcome::Retry(e) => tracing::warn!(
            message_id, code = e.code(), error = %e, "retryable failure; SQS will redeliver"
        ),
        MessageOutcome::Dropped(e) => tracing::error!(
            message_id, code = e.code(), error = %e,
            "order cannot be processed; message acknowledged"
        ),
    }
}

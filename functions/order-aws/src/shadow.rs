//! The order API's side of shadow reads (mode `shadow`): [`ShadowSampler`]
//! sends a sample of the orders it answered to the county's ShadowReads
//! queue, where `acme-infra migrate shadow` compares them with the legacy
//! database. The decision and the message are `order_domain::shadow`'s;
//! this is the queue, the settings and the discipline around the send:
//! it never delays or fails the read it samples.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_sqs::Client;
use jiff::Timestamp;
use order_domain::order::Order;
use order_domain::schema::env;
use order_domain::shadow::{OsRandom, Random, SampleRate, sample};

use crate::config::ConfigError;
use crate::ports::SendError;
use crate::sqs::send_error;

/// A send that has not finished after this is given up (and counted as
/// failed): the sample is worth less than the connection it would hold.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(2);

type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// Where sampled reads go (object-safe, so the API holds one without
/// another type parameter).
pub trait ShadowQueue: Send + Sync + 'static {
    fn send(&self, body: String) -> SendFuture<'_>;
}

/// The ShadowReads queue, by `SendMessage`.
#[derive(Debug, Clone)]
pub struct SqsShadowQueue {
    client: Client,
    queue_url: String,
}

impl SqsShadowQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl ShadowQueue for SqsShadowQueue {
    fn send(&self, body: String) -> SendFuture<'_> {
        Box::pin(async move {
            self.client
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(body)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| send_error("SendMessage", &e))
        })
    }
}

/// `ACME_SHADOW_READS_QUEUE_URL` and `ACME_SHADOW_SAMPLE_PERCENT`: both or
/// neither (a county without a `migration:` section has neither).
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowSettings {
    pub queue_url: String,
    pub rate: SampleRate,
}

impl ShadowSettings {
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let (url, percent) = match (
            get(env::SHADOW_READS_QUEUE_URL),
            get(env::SHADOW_SAMPLE_PERCENT),
        ) {
            (None, None) => return Ok(None),
            (Some(_), None) => return Err(ConfigError::Missing(env::SHADOW_SAMPLE_PERCENT)),
            (None, Some(_)) => return Err(ConfigError::Missing(env::SHADOW_READS_QUEUE_URL)),
            (Some(u), Some(p)) => (u, p),
        };
        if !url.starts_with("https://") && !url.starts_with("http://") {
            return Err(ConfigError::Invalid {
                var: env::SHADOW_READS_QUEUE_URL,
                reason: format!("{url:?} is not a queue URL (expected https://...)"),
            });
        }
        let rate = SampleRate::parse(&percent).map_err(|e| ConfigError::Invalid {
            var: env::SHADOW_SAMPLE_PERCENT,
            reason: e.to_string(),
        })?;
        Ok(Some(ShadowSettings {
            queue_url: url,
            rate,
        }))
    }
}

/// What the sampler has done since start-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShadowCounts {
    /// Reads sampled (a send was started).
    pub sampled: u64,
    pub sent: u64,
    /// Sends that failed or timed out (logged; the read was answered).
    pub failed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    sampled: AtomicU64,
    sent: AtomicU64,
    failed: AtomicU64,
}

/// Samples answered orders into the ShadowReads queue.
#[derive(Clone)]
pub struct ShadowSampler {
    rate: SampleRate,
    random: Arc<dyn Random>,
    queue: Arc<dyn ShadowQueue>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for ShadowSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShadowSampler")
            .field("rate", &self.rate)
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl ShadowSampler {
    /// The sampler a deployed API uses: the OS's random source.
    pub fn new(rate: SampleRate, queue: Arc<dyn ShadowQueue>) -> Self {
        Self::with_random(rate, queue, Arc::new(OsRandom))
    }

    /// With the draws `random` gives (tests choose which reads are sampled).
    pub fn with_random(
        rate: SampleRate,
        queue: Arc<dyn ShadowQueue>,
        random: Arc<dyn Random>,
    ) -> Self {
        Self {
            rate,
            random,
            queue,
            counters: Arc::default(),
        }
    }

    /// From the settings the stack gives the order API, over SQS.
    pub fn from_settings(settings: &ShadowSettings, sdk: &aws_config::SdkConfig) -> Self {
        let queue = SqsShadowQueue::new(Client::new(sdk), &settings.queue_url);
        Self::new(settings.rate, Arc::new(queue))
    }

    pub fn rate(&self) -> SampleRate {
        self.rate
    }

    pub fn counts(&self) -> ShadowCounts {
        ShadowCounts {
            sampled: self.counters.sampled.load(Ordering::Relaxed),
            sent: self.counters.sent.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
        }
    }

    /// Offers an order the API has just answered. If it is sampled, the
    /// send runs on its own task (the read's answer does not wait for it)
    /// and its handle is returned, for tests to await; a failure is logged
    /// and counted there. Must be called inside a Tokio runtime.
    pub fn offer(&self, order: &Order) -> Option<tokio::task::JoinHandle<()>> {
        let read = sample(order, self.rate, self.random.as_ref(), Timestamp::now())?;
        self.counters.sampled.fetch_add(1, Ordering::Relaxed);
        let queue = Arc::clone(&self.queue);
        let counters = Arc::clone(&self.counters);
        Some(tokio::spawn(async move {
            let outcome = tokio::time::timeout(SEND_TIMEOUT, queue.send(read.to_json())).await;
            let error = match outcome {
                Ok(Ok(())) => {
                    counters.sent.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Ok(Err(e)) => e.message,
                Err(_) => format!("no answer within {SEND_TIMEOUT:?}"),
            };
            let failed = counters.failed.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(
                order_id = %read.order_id, legacy_order_id = read.legacy_order_id,
                error, failed_total = failed,
                "shadow read not sent to the ShadowReads queue; the read was answered"
            );
        }))
    }
}

/// An in-memory ShadowReads queue: records bodies; fails or hangs on
/// demand (`test-support`).
#[cfg(any(test, feature = "test-support"))]
#[derive(Debug, Default)]
pub struct MemoryShadowQueue {
    sent: std::sync::Mutex<Vec<String>>,
    fail: std::sync::atomic::AtomicBool,
    hang: std::sync::atomic::AtomicBool,
}

#[cfg(any(test, feature = "test-support"))]
impl MemoryShadowQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every send fails from now on (or succeeds again).
    pub fn fail(&self, yes: bool) {
        self.fail.store(yes, Ordering::SeqCst);
    }

    /// Every send never answers from now on.
    pub fn hang(&self, yes: bool) {
        self.hang.store(yes, Ordering::SeqCst);
    }

    pub fn bodies(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[cfg(any(test, feature = "test-support"))]
impl ShadowQueue for MemoryShadowQueue {
    fn send(&self, body: String) -> SendFuture<'_> {
        Box::pin(async move {
            if self.hang.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            if self.fail.load(Ordering::SeqCst) {
                return Err(SendError::retryable("simulated SQS outage"));
            }
            self.sent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(body);
            Ok(())
        })
    }
}

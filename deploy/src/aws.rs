//! SDK clients (built once), the API-call counter, throttling retries and
//! polling backoff.
//!
//! Everything that talks to AWS goes through [`Clients`]. Production and the
//! moto tests take the same path: `aws_config::defaults(BehaviorVersion::latest())`
//! honours `AWS_ENDPOINT_URL`, which is all the tests change.

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::ControlFlow;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudformation::operation as cfn_op;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
// Re-exported by every SDK crate; naming it through one avoids a direct
// dependency on `aws-smithy-types`.
use aws_sdk_cloudformation::config::ConfigBag;

use crate::DeployError;

/// Counts API calls per `Service.Operation`, one per HTTP attempt (so SDK-level
/// retries are counted too: that is what the account's rate limit sees).
#[derive(Debug, Default, Clone)]
pub struct CallCounter {
    calls: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CallCounter {
    /// A snapshot of the counts, keyed `Service.Operation`.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.calls.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Calls of one operation, e.g. `count("CloudFormation.ExecuteChangeSet")`.
    pub fn count(&self, key: &str) -> u64 {
        self.snapshot().get(key).copied().unwrap_or(0)
    }

    /// All calls.
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "acme-deploy::CallCounter"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let key = cfg
            .load::<Metadata>()
            .map(|m| format!("{}.{}", m.service(), m.name()))
            .unwrap_or_else(|| "unknown".to_string());
        if let Ok(mut calls) = self.calls.lock() {
            *calls.entry(key).or_default() += 1;
        }
        Ok(())
    }
}

/// What this deployer did, beyond raw API calls: the figures tests and the
/// perf report assert on.
#[derive(Debug, Default)]
pub struct Stats {
    /// Objects uploaded to the assets bucket (zips and large templates).
    pub uploads: AtomicU64,
    /// Change sets created.
    pub change_sets_created: AtomicU64,
    /// Change sets executed.
    pub change_sets_executed: AtomicU64,
}

/// Timing knobs. Production uses [`Pacing::default`]; tests shrink them.
#[derive(Debug, Clone)]
pub struct Pacing {
    /// First poll interval while waiting for a change set or a stack.
    pub poll_initial: Duration,
    /// Longest poll interval: long deploys settle here instead of hammering
    /// `DescribeStackEvents` (CloudFormation's describe calls share one
    /// account-wide rate limit with every other deploy).
    pub poll_cap: Duration,
    /// First wait after a throttling error; doubles per retry.
    pub retry_base: Duration,
    /// Longest wait between throttling retries.
    pub retry_cap: Duration,
    /// Attempts (including the first) before a throttled call gives up.
    pub retry_attempts: u32,
    /// Longest wait for one stack operation before giving up.
    pub stack_timeout: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            poll_initial: Duration::from_secs(1),
            poll_cap: Duration::from_secs(8),
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(20),
            retry_attempts: 6,
            stack_timeout: Duration::from_secs(2 * 60 * 60),
        }
    }
}

impl Pacing {
    /// Millisecond-scale pacing for tests against moto or replayed responses.
    pub fn fast() -> Self {
        Self {
            poll_initial: Duration::from_millis(5),
            poll_cap: Duration::from_millis(20),
            retry_base: Duration::from_millis(5),
            retry_cap: Duration::from_millis(20),
            retry_attempts: 6,
            stack_timeout: Duration::from_secs(30),
        }
    }
}

/// Exponential backoff with jitter for polling.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, cap: Duration) -> Self {
        Self { next: initial, cap }
    }

    /// The next delay: grows by 1.5x up to the cap, with ±20% jitter so many
    /// concurrent county deploys do not poll in lock-step.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next.mul_f64(1.5)).min(self.cap);
        jitter(base)
    }

    pub(crate) async fn sleep(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }
}

/// ±20% jitter from the clock's sub-second nanos: good enough to de-correlate
/// pollers without a random-number dependency.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    let factor = 0.8 + f64::from(nanos % 1000) / 1000.0 * 0.4;
    d.mul_f64(factor)
}

/// The clients every command uses, built once per process.
#[derive(Debug, Clone)]
pub struct Clients {
    /// CloudFormation.
    pub cfn: aws_sdk_cloudformation::Client,
    /// S3 (assets bucket).
    pub s3: aws_sdk_s3::Client,
    /// STS (`GetCallerIdentity`).
    pub sts: aws_sdk_sts::Client,
    /// Region the clients talk to.
    pub region: Option<String>,
    /// Counts every API attempt made through these clients.
    pub counter: CallCounter,
    /// The SDK configuration they were built from, to derive the clients of
    /// another account or region (`None` for clients assembled by hand).
    pub(crate) sdk: Option<aws_config::SdkConfig>,
}

impl Clients {
    /// Loads the default credential/region chain (env, profile, SSO, IMDS...)
    /// and `AWS_ENDPOINT_URL`, and builds the clients with a call counter.
    pub async fn from_env() -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::from_sdk_config(&sdk)
    }

    /// Builds the clients from an already loaded SDK config.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        let counter = CallCounter::default();
        let cfn = aws_sdk_cloudformation::Client::from_conf(
            aws_sdk_cloudformation::config::Builder::from(sdk)
                .interceptor(counter.clone())
                .build(),
        );
        // A custom endpoint (moto, LocalStack, a VPC endpoint by IP) cannot serve
        // virtual-hosted bucket names like `bucket.127.0.0.1`; real S3 keeps the
        // default virtual-hosted style.
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .force_path_style(sdk.endpoint_url().is_some())
                .interceptor(counter.clone())
                .build(),
        );
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(sdk)
                .interceptor(counter.clone())
                .build(),
        );
        Self {
            cfn,
            s3,
            sts,
            region: sdk.region().map(|r| r.to_string()),
            counter,
            sdk: Some(sdk.clone()),
        }
    }

    /// Clients assembled by hand (tests pass `aws-smithy-mocks` clients here).
    pub fn from_parts(
        cfn: aws_sdk_cloudformation::Client,
        s3: aws_sdk_s3::Client,
        sts: aws_sdk_sts::Client,
        region: Option<String>,
        counter: CallCounter,
    ) -> Self {
        Self {
            cfn,
            s3,
            sts,
            region,
            counter,
            sdk: None,
        }
    }
}

/// True when an AWS error is throttling. CloudFormation says `Throttling` /
/// `Rate exceeded`; other services have their own spellings.
pub(crate) fn is_throttling(code: Option<&str>, message: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "Throttling"
                | "ThrottlingException"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "SlowDown"
        )
    ) || message.is_some_and(|m| m.contains("Rate exceeded"))
}

/// Runs an SDK call, retrying throttling with exponential backoff and jitter.
///
/// The SDK's own standard retry (3 attempts) already absorbs short bursts; this
/// outer loop covers what it gives up on: a fleet deploy at concurrency N can
/// keep CloudFormation's account-wide limit saturated for tens of seconds.
pub(crate) async fn call<T, E, R, F, Fut>(pacing: &Pacing, mut f: F) -> Result<T, SdkError<E, R>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata,
{
    let mut attempt = 1;
    let mut delay = pacing.retry_base;
    loop {
        match f().await {
            Err(e) if attempt < pacing.retry_attempts && is_throttling(e.code(), e.message()) => {
                tokio::time::sleep(jitter(delay)).await;
                delay = (delay * 2).min(pacing.retry_cap);
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// A response page that may name the next one.
pub(crate) trait Page {
    /// The token for the next page; `None` on the last.
    fn next_page(&self) -> Option<&str>;
}

macro_rules! pages {
    ($($output:ty),* $(,)?) => {$(
        impl Page for $output {
            fn next_page(&self) -> Option<&str> {
                self.next_token()
            }
        }
    )*};
}

pages!(
    cfn_op::describe_change_set::DescribeChangeSetOutput,
    cfn_op::describe_stack_events::DescribeStackEventsOutput,
    cfn_op::describe_stacks::DescribeStacksOutput,
    cfn_op::list_change_sets::ListChangeSetsOutput,
    cfn_op::list_stack_resources::ListStackResourcesOutput,
);

/// Walks the pages of a paginated call, each through [`call`] (a throttled
/// page is retried, not the whole walk), until `visit` breaks or the last
/// page. `request` gets the page token (`None` for the first page).
pub(crate) async fn paginate<P, E, R, F, Fut>(
    pacing: &Pacing,
    mut request: F,
    mut visit: impl FnMut(&P) -> ControlFlow<()>,
) -> Result<(), SdkError<E, R>>
where
    P: Page,
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<P, SdkError<E, R>>>,
    E: ProvideErrorMetadata,
{
    let mut token: Option<String> = None;
    loop {
        let page = call(pacing, || request(token.clone())).await?;
        if visit(&page).is_break() {
            return Ok(());
        }
        match page.next_page() {
            Some(next) => token = Some(next.to_string()),
            None => return Ok(()),
        }
    }
}

/// Converts an SDK error into [`DeployError::Aws`], keeping the whole source
/// chain (the SDK's `Display` alone says only "service error").
pub(crate) fn aws_error<E>(
    operation: &'static str,
    err: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> DeployError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = match (err.code(), err.message(), err.raw_response()) {
        (_, Some(m), _) => m.to_string(),
        // An answer that is not an AWS error (an HTML error page, say): its
        // status says more than the parser's complaint and the raw dump.
        (None, None, Some(raw)) => format!(
            "HTTP {} with no AWS error in the response (does this endpoint implement {operation}?)",
            raw.status().as_u16()
        ),
        _ => aws_sdk_cloudformation::error::DisplayErrorContext(err).to_string(),
    };
    DeployError::Aws {
        operation,
        code: err.code().map(str::to_string),
        message,
    }
}

/// True when CloudFormation says the stack does not exist (a `ValidationError`
/// whose message ends in "does not exist").
pub(crate) fn is_missing_stack<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.code() == Some("ValidationError")
        && err.message().is_some_and(|m| m.contains("does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_bounded_jitter() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        let delays: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
        assert!(
            delays[0] >= Duration::from_millis(800) && delays[0] <= Duration::from_millis(1200),
            "{delays:?}"
        );
        for d in &delays[6..] {
            assert!(
                *d >= Duration::from_millis(6400) && *d <= Duration::from_millis(9600),
                "capped at 8s ±20%: {delays:?}"
            );
        }
    }

    #[test]
    fn throttling_spellings() {
        assert!(is_throttling(Some("Throttling"), Some("Rate exceeded")));
        assert!(is_throttling(None, Some("Rate exceeded")));
        assert!(is_throttling(Some("ThrottlingException"), None));
        assert!(!is_throttling(
            Some("ValidationError"),
            Some("Stack with id x does not exist")
        ));
    }
}

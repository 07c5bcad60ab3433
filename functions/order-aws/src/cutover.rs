//! A migrating county's cutover mode, read by the functions from SSM
//! Parameter Store (`acme_contract::migration::mode_parameter`) and kept for
//! [`CutoverFlag::TTL`].
//!
//! Why a cache of 15 s: SSM's `GetParameter` has a default quota of 40
//! requests per second per account and region (standard throughput), shared
//! by every function instance of every county in the account. With one read
//! per instance per 15 s, 600 warm instances stay within it, and a change of
//! mode reaches every instance within 15 s — short next to a cutover, which
//! is gated on minutes of shadow reads. `acme-infra migrate cutover` says
//! so when it changes the mode.
//!
//! A county without `migration:` has no parameter and no flag
//! ([`CutoverFlag::from_env`] is `None`): it behaves as before.

use std::sync::Arc;
use std::time::{Duration, Instant};

use acme_contract::migration::{CutoverMode, MODE_CACHE_SECONDS};
use acme_contract::schema::env::CUTOVER_MODE_PARAMETER;
use aws_config::SdkConfig;
use tokio::sync::Mutex;

/// Why the mode could not be read. Callers fail safe: a county whose mode
/// is unknown takes no writes through the new API.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the cutover mode in SSM parameter {parameter} could not be read: {reason}")]
pub struct FlagError {
    pub parameter: String,
    pub reason: String,
}

/// The county's cutover mode, read through a short cache. Cheap to clone:
/// clones share the cache (the order API and its shadow-read sampler ask the
/// same one).
#[derive(Debug, Clone)]
pub struct CutoverFlag {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: Source,
    parameter: String,
    ttl: Duration,
    cache: Mutex<Option<(Instant, CutoverMode)>>,
}

#[derive(Debug)]
enum Source {
    Ssm(aws_sdk_ssm::Client),
    /// A fixed answer for handler tests without an emulator.
    #[cfg(any(test, feature = "test-support"))]
    Fixed(std::sync::Mutex<Result<CutoverMode, String>>),
}

impl CutoverFlag {
    /// How long a read mode is used before SSM is asked again.
    pub const TTL: Duration = Duration::from_secs(MODE_CACHE_SECONDS);

    /// The flag of the county the function serves, if the stack gave it one
    /// (`ACME_CUTOVER_MODE_PARAMETER`); `None` for a county that is not
    /// migrating. An empty value is a configuration error.
    pub fn from_env(sdk: &SdkConfig) -> Result<Option<Self>, FlagError> {
        Self::from_lookup(|k| std::env::var(k).ok(), sdk)
    }

    /// [`Self::from_env`] over another environment (the local runner's,
    /// built from the stack's).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        sdk: &SdkConfig,
    ) -> Result<Option<Self>, FlagError> {
        match lookup(CUTOVER_MODE_PARAMETER) {
            None => Ok(None),
            Some(p) if p.trim().is_empty() => Err(FlagError {
                parameter: String::new(),
                reason: format!("environment variable {CUTOVER_MODE_PARAMETER} is empty"),
            }),
            Some(p) => Ok(Some(Self::ssm(aws_sdk_ssm::Client::new(sdk), p))),
        }
    }

    /// The flag in SSM parameter `parameter`, cached for [`Self::TTL`].
    pub fn ssm(client: aws_sdk_ssm::Client, parameter: impl Into<String>) -> Self {
        Self::with(Source::Ssm(client), parameter.into(), Self::TTL)
    }

    /// A flag whose answer the test sets ([`Self::set_fixed`]); no cache.
    #[cfg(any(test, feature = "test-support"))]
    pub fn fixed(mode: Result<CutoverMode, String>) -> Self {
        let source = Source::Fixed(std::sync::Mutex::new(mode));
        Self::with(source, "/test/migration/mode".into(), Duration::ZERO)
    }

    /// Changes a [`Self::fixed`] flag's answer.
    #[cfg(any(test, feature = "test-support"))]
    pub fn set_fixed(&self, mode: Result<CutoverMode, String>) {
        #[allow(irrefutable_let_patterns)]
        if let Source::Fixed(m) = &self.inner.source
            && let Ok(mut g) = m.lock()
        {
            *g = mode;
        }
    }

    /// [`Self::ssm`] with another cache lifetime (tests: zero, to see a
    /// change at once).
    pub fn ssm_with_ttl(
        client: aws_sdk_ssm::Client,
        parameter: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        Self::with(Source::Ssm(client), parameter.into(), ttl)
    }

    fn with(source: Source, parameter: String, ttl: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                source,
                parameter,
                ttl,
                cache: Mutex::new(None),
            }),
        }
    }

    /// The SSM parameter's name.
    pub fn parameter(&self) -> &str {
        &self.inner.parameter
    }

    /// The county's mode: the cached one if younger than the TTL, else read
    /// again. A failed read is not cached (the next request asks again).
    pub async fn mode(&self) -> Result<CutoverMode, FlagError> {
        let mut cache = self.inner.cache.lock().await;
        if let Some((at, mode)) = *cache
            && at.elapsed() < self.inner.ttl
        {
            return Ok(mode);
        }
        let mode = self.read().await.map_err(|reason| FlagError {
            parameter: self.inner.parameter.clone(),
            reason,
        })?;
        *cache = Some((Instant::now(), mode));
        Ok(mode)
    }

    /// Whether the county is in `shadow` (the shadow-read sampler's question).
    /// An unreadable mode is "no": a read not sampled is harmless.
    pub async fn is_shadow(&self) -> bool {
        matches!(self.mode().await, Ok(CutoverMode::Shadow))
    }

    async fn read(&self) -> Result<CutoverMode, String> {
        match &self.inner.source {
            Source::Ssm(client) => {
                let out = client
                    .get_parameter()
                    .name(&self.inner.parameter)
                    .send()
                    .await
                    .map_err(|e| aws_sdk_ssm::error::DisplayErrorContext(e).to_string())?;
                let value = out
                    .parameter
                    .and_then(|p| p.value)
                    .ok_or_else(|| "the parameter has no value".to_owned())?;
                value.trim().parse().map_err(|e| format!("{e}"))
            }
            #[cfg(any(test, feature = "test-support"))]
            Source::Fixed(m) => m
                .lock()
                .map_err(|_| "the test's flag is poisoned".to_owned())?
                .clone(),
        }
    }
}

/// A migrating county's order API wiring, from the variables the stack sets
/// on it: the cutover flag (`ACME_CUTOVER_MODE_PARAMETER`) and the
/// shadow-read sampler (`ACME_SHADOW_READS_QUEUE_URL`,
/// `ACME_SHADOW_SAMPLE_PERCENT`). The Lambda's `main` reads them from its
/// environment, the local runner from the stack's; both build from here.
#[derive(Debug, Clone, Default)]
pub struct ApiMigration {
    pub cutover: Option<CutoverFlag>,
    pub shadow: Option<crate::ShadowSampler>,
}

/// A migrating county's API variables that do not read.
#[derive(Debug, thiserror::Error)]
pub enum MigrationConfigError {
    #[error(transparent)]
    Shadow(#[from] crate::ConfigError),
    #[error(transparent)]
    Flag(#[from] FlagError),
}

impl ApiMigration {
    /// From the process environment (the Lambda).
    pub fn from_env(sdk: &SdkConfig) -> Result<Self, MigrationConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok(), sdk)
    }

    /// From `lookup`; neither part for a county that is not migrating.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        sdk: &SdkConfig,
    ) -> Result<Self, MigrationConfigError> {
        let shadow = crate::ShadowSettings::from_lookup(&lookup)?;
        let cutover = CutoverFlag::from_lookup(&lookup, sdk)?;
        Ok(Self {
            cutover,
            shadow: shadow.map(|s| crate::ShadowSampler::from_settings(&s, sdk)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fixed_flag_answers_and_fails_as_set() {
        let flag = CutoverFlag::fixed(Ok(CutoverMode::Shadow));
        assert!(flag.is_shadow().await);
        flag.set_fixed(Err("gone".into()));
        let e = flag.mode().await.expect_err("fails");
        assert!(e.to_string().contains("gone"), "{e}");
        assert!(!flag.is_shadow().await, "unreadable is not shadow");
    }
}

//! Which payment provider the order API and the worker charge through, read
//! from `ACME_PAYMENT_PROVIDER` at cold start. The county file decides
//! (`payment: { provider: ... }`); when it says nothing the variable is unset
//! and the functions refuse to start, so no county runs on the simulated
//! gateway by accident.

use std::time::Duration;

use acme_contract::payment::{PaymentProvider, card_api};
use acme_contract::schema::env;
use aws_config::SdkConfig;
use order_domain::ids::OrderId;
use order_domain::money::Money;
use order_domain::payment::{PaymentError, PaymentGateway, PaymentId, RefundId, SimulatedGateway};
use thiserror::Error;

use crate::card_api::{ApiKey, CardApiGateway, Limits, ProviderUrl};

/// No usable payment provider in the environment.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PaymentConfigError {
    #[error(
        "no payment provider is configured: {var} is not set. Choose one in the county file \
         (environments/<county>.yaml) and deploy it again: `payment: {{ provider: card_api, ... }}` \
         charges cards through the provider's HTTPS API; `payment: {{ provider: simulator }}` runs \
         the county on the simulated gateway (no money moves)",
        var = env::PAYMENT_PROVIDER
    )]
    NotConfigured,
    #[error(
        "{var} is {value:?}, which is not a payment provider (known: {known}); \
         set `payment.provider` in the county file and deploy it again",
        var = env::PAYMENT_PROVIDER,
        known = PaymentProvider::NAMES.join(", ")
    )]
    Unknown { value: String },
    /// A `card_api` setting is missing or unusable.
    #[error(
        "environment variable {var} {problem} (provider card_api; the stack sets it from \
         `payment:` in the county file)"
    )]
    CardApi { var: &'static str, problem: String },
    /// The API key could not be read. Never carries the key.
    #[error("the card API key in secret {arn} could not be read: {reason}")]
    Secret { arn: String, reason: String },
}

/// The settings of provider `card_api`, read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardApiSettings {
    pub base_url: ProviderUrl,
    /// The Secrets Manager secret whose string is the API key.
    pub api_key_secret_arn: String,
    pub limits: Limits,
}

/// The county's payment choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub provider: PaymentProvider,
    /// `Some` exactly when `provider` is `card_api`.
    pub card_api: Option<CardApiSettings>,
}

impl Payment {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, PaymentConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads through `lookup`. Empty counts as unset (CloudFormation's value
    /// for an unresolved optional reference).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, PaymentConfigError> {
        let lookup = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let value = lookup(env::PAYMENT_PROVIDER).ok_or(PaymentConfigError::NotConfigured)?;
        let provider = PaymentProvider::from_name(value.trim())
            .ok_or(PaymentConfigError::Unknown { value })?;
        let card_api = match provider {
            PaymentProvider::Simulator => None,
            PaymentProvider::CardApi => Some(CardApiSettings::from_lookup(lookup)?),
        };
        Ok(Self { provider, card_api })
    }

    /// The gateway of the chosen provider. For `card_api`, reads the API key
    /// from Secrets Manager: once per cold start, as `Startup` calls this once.
    pub async fn gateway(&self, sdk: &SdkConfig) -> Result<CountyGateway, PaymentConfigError> {
        let Some(settings) = &self.card_api else {
            return Ok(CountyGateway::Simulated(SimulatedGateway::new()));
        };
        let client = aws_sdk_secretsmanager::Client::new(sdk);
        CardApiGateway::connect(&client, settings)
            .await
            .map(CountyGateway::CardApi)
    }
}

impl CardApiSettings {
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, PaymentConfigError> {
        let bad = |var: &'static str, problem: String| PaymentConfigError::CardApi { var, problem };
        let get = |var: &'static str| {
            lookup(var)
                .map(|v| v.trim().to_owned())
                .ok_or_else(|| bad(var, "is not set".to_owned()))
        };
        let base_url = ProviderUrl::https(&get(env::PAYMENT_API_URL)?)
            .map_err(|e| bad(env::PAYMENT_API_URL, format!("is invalid: {e}")))?;
        let api_key_secret_arn = get(env::PAYMENT_API_KEY_SECRET_ARN)?;
        if !api_key_secret_arn.starts_with("arn:")
            || !api_key_secret_arn.contains(":secretsmanager:")
        {
            return Err(bad(
                env::PAYMENT_API_KEY_SECRET_ARN,
                format!("is {api_key_secret_arn:?}, not a Secrets Manager secret ARN"),
            ));
        }
        let ms = |var: &'static str, range: std::ops::RangeInclusive<u32>, default: u32| {
            let Some(text) = lookup(var) else {
                return Ok(Duration::from_millis(u64::from(default)));
            };
            number(&text, &range)
                .map(|v| Duration::from_millis(u64::from(v)))
                .map_err(|p| bad(var, p))
        };
        let max_attempts = match lookup(env::PAYMENT_MAX_ATTEMPTS) {
            None => card_api::MAX_ATTEMPTS_DEFAULT,
            Some(text) => number(&text, &card_api::MAX_ATTEMPTS_RANGE)
                .map_err(|p| bad(env::PAYMENT_MAX_ATTEMPTS, p))?,
        };
        let limits = Limits {
            connect_timeout: ms(
                env::PAYMENT_CONNECT_TIMEOUT_MS,
                card_api::CONNECT_TIMEOUT_MS_RANGE,
                card_api::CONNECT_TIMEOUT_MS_DEFAULT,
            )?,
            request_timeout: ms(
                env::PAYMENT_REQUEST_TIMEOUT_MS,
                card_api::REQUEST_TIMEOUT_MS_RANGE,
                card_api::REQUEST_TIMEOUT_MS_DEFAULT,
            )?,
            max_attempts,
            call_budget: ms(
                env::PAYMENT_CALL_BUDGET_MS,
                card_api::CALL_BUDGET_MS_RANGE,
                card_api::CALL_BUDGET_MS_DEFAULT,
            )?,
        };
        Ok(Self {
            base_url,
            api_key_secret_arn,
            limits,
        })
    }
}

fn number(text: &str, range: &std::ops::RangeInclusive<u32>) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(format!(
            "is {text:?}, not a whole number from {} to {}",
            range.start(),
            range.end()
        )),
    }
}

impl CardApiGateway {
    /// Reads the API key from `settings`' secret (the secret's string is the
    /// key) and builds the gateway. Errors name the secret, never its value.
    pub async fn connect(
        secrets: &aws_sdk_secretsmanager::Client,
        settings: &CardApiSettings,
    ) -> Result<Self, PaymentConfigError> {
        let arn = &settings.api_key_secret_arn;
        let secret_error = |reason: String| PaymentConfigError::Secret {
            arn: arn.clone(),
            reason,
        };
        let out = secrets
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| {
                secret_error(format!(
                    "GetSecretValue failed: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                ))
            })?;
        let text = out.secret_string.ok_or_else(|| {
            secret_error("the secret holds no text (binary secrets are not read)".into())
        })?;
        let key = ApiKey::new(text)
            .map_err(|why| secret_error(format!("its value is not an API key: {why}")))?;
        CardApiGateway::new(settings.base_url.clone(), key, settings.limits).map_err(secret_error)
    }
}

/// The gateway a county's functions charge through, as its file chose.
#[derive(Debug)]
pub enum CountyGateway {
    Simulated(SimulatedGateway),
    CardApi(CardApiGateway),
}

impl PaymentGateway for CountyGateway {
    async fn charge(
        &self,
        idempotency_key: &OrderId,
        amount: Money,
    ) -> Result<PaymentId, PaymentError> {
        match self {
            CountyGateway::Simulated(g) => g.charge(idempotency_key, amount).await,
            CountyGateway::CardApi(g) => g.charge(idempotency_key, amount).await,
        }
    }

    async fn refund(&self, idempotency_key: &OrderId) -> Result<Option<RefundId>, PaymentError> {
        match self {
            CountyGateway::Simulated(g) => g.refund(idempotency_key).await,
            CountyGateway::CardApi(g) => g.refund(idempotency_key).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(value: Option<&str>) -> Result<Payment, PaymentConfigError> {
        Payment::from_lookup(|k| {
            assert_eq!(k, env::PAYMENT_PROVIDER);
            value.map(str::to_owned)
        })
    }

    #[test]
    fn the_simulator_only_when_named() {
        assert_eq!(
            load(Some("simulator")).map(|p| p.provider),
            Ok(PaymentProvider::Simulator)
        );
        assert_eq!(load(None), Err(PaymentConfigError::NotConfigured));
        assert_eq!(load(Some(" ")), Err(PaymentConfigError::NotConfigured));
        assert!(matches!(
            load(Some("stripe")),
            Err(PaymentConfigError::Unknown { value }) if value == "stripe"
        ));
    }

    #[test]
    fn errors_say_what_to_set_where() {
        let missing = PaymentConfigError::NotConfigured.to_string();
        assert!(
            missing.contains("ACME_PAYMENT_PROVIDER is not set"),
            "{missing}"
        );
        assert!(
            missing.contains("payment: { provider: simulator }"),
            "{missing}"
        );
        assert!(missing.contains("county file"), "{missing}");
        let unknown = PaymentConfigError::Unknown {
            value: "stripe".into(),
        }
        .to_string();
        assert!(unknown.contains("\"stripe\""), "{unknown}");
        assert!(unknown.contains("known: simulator"), "{unknown}");
        assert!(unknown.contains("payment.provider"), "{unknown}");
    }
}

#[cfg(test)]
mod card_api_tests {
    use std::collections::HashMap;

    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:us-east-2:111111111111:secret:acme/card-api-AbCdEf";

    fn vars() -> HashMap<&'static str, String> {
        HashMap::from([
            (env::PAYMENT_PROVIDER, "card_api".to_owned()),
            (
                env::PAYMENT_API_URL,
                "https://api.cards.example/".to_owned(),
            ),
            (env::PAYMENT_API_KEY_SECRET_ARN, ARN.to_owned()),
        ])
    }

    fn load(v: &HashMap<&'static str, String>) -> Result<Payment, PaymentConfigError> {
        Payment::from_lookup(|k| v.get(k).cloned())
    }

    fn problem(v: &HashMap<&'static str, String>) -> (&'static str, String) {
        match load(v) {
            Err(PaymentConfigError::CardApi { var, problem }) => (var, problem),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_the_url_the_secret_and_default_limits() {
        let p = load(&vars()).unwrap();
        assert_eq!(p.provider, PaymentProvider::CardApi);
        let card = p.card_api.unwrap();
        assert_eq!(card.base_url.as_str(), "https://api.cards.example");
        assert_eq!(card.api_key_secret_arn, ARN);
        assert_eq!(card.limits, Limits::default());
        let mut v = vars();
        v.insert(env::PAYMENT_REQUEST_TIMEOUT_MS, "2500".into());
        v.insert(env::PAYMENT_MAX_ATTEMPTS, "2".into());
        let limits = load(&v).unwrap().card_api.unwrap().limits;
        assert_eq!(limits.request_timeout, Duration::from_millis(2500));
        assert_eq!(limits.max_attempts, 2);
        // The simulator reads none of it.
        v.insert(env::PAYMENT_PROVIDER, "simulator".into());
        assert_eq!(load(&v).unwrap().card_api, None);
    }

    #[test]
    fn errors_name_the_variable_and_refuse_plain_http() {
        for var in [env::PAYMENT_API_URL, env::PAYMENT_API_KEY_SECRET_ARN] {
            let mut v = vars();
            v.remove(var);
            assert_eq!(problem(&v), (var, "is not set".to_owned()));
        }
        let mut v = vars();
        v.insert(env::PAYMENT_API_URL, "http://127.0.0.1:8080".into());
        let (var, p) = problem(&v);
        assert_eq!(var, env::PAYMENT_API_URL);
        assert!(p.contains("not an https:// URL"), "{p}");
        let mut v = vars();
        v.insert(env::PAYMENT_API_KEY_SECRET_ARN, "card-api-key".into());
        assert_eq!(problem(&v).0, env::PAYMENT_API_KEY_SECRET_ARN);
        let mut v = vars();
        v.insert(env::PAYMENT_MAX_ATTEMPTS, "0".into());
        let (var, p) = problem(&v);
        assert_eq!(var, env::PAYMENT_MAX_ATTEMPTS);
        assert!(p.contains("from 1 to 6"), "{p}");
        let msg = PaymentConfigError::CardApi {
            var: env::PAYMENT_API_URL,
            problem: "is not set".into(),
        }
        .to_string();
        assert!(msg.contains("ACME_PAYMENT_API_URL is not set"), "{msg}");
        assert!(msg.contains("county file"), "{msg}");
    }
}

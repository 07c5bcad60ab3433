//! Which payment provider the order API and the worker charge through, read
//! from `ACME_PAYMENT_PROVIDER` at cold start. The county file decides
//! (`payment: { provider: ... }`); when it says nothing the variable is unset
//! and the functions refuse to start, so no county runs on the simulated
//! gateway by accident.

use acme_contract::payment::PaymentProvider;
use acme_contract::schema::env;
use order_domain::payment::SimulatedGateway;
use thiserror::Error;

/// No usable payment provider in the environment.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PaymentConfigError {
    #[error(
        "no payment provider is configured: {var} is not set. No real provider is integrated yet; \
         to run this county on the simulated gateway (no money moves), add \
         `payment: {{ provider: simulator }}` to its county file (environments/<county>.yaml) and deploy it again",
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
}

/// The county's payment choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payment {
    pub provider: PaymentProvider,
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
        let value = lookup(env::PAYMENT_PROVIDER)
            .filter(|v| !v.trim().is_empty())
            .ok_or(PaymentConfigError::NotConfigured)?;
        let provider = PaymentProvider::from_name(value.trim())
            .ok_or(PaymentConfigError::Unknown { value })?;
        Ok(Self { provider })
    }

    /// The gateway of the chosen provider. Only the simulator exists; a real
    /// provider adds its adapter here.
    pub fn gateway(&self) -> SimulatedGateway {
        match self.provider {
            PaymentProvider::Simulator => SimulatedGateway::new(),
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

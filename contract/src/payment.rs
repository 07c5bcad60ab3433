//! The payment provider a county charges through. The county file chooses it
//! (`payment: { provider: ... }`), the generator passes the choice to the
//! functions in [`crate::schema::env::PAYMENT_PROVIDER`], and a function's
//! `main` refuses to start without one: no county takes orders on a provider
//! nobody chose.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A payment provider a county can select. The simulator moves no money, so a
/// county runs on it only when its file says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentProvider {
    /// The in-process simulated gateway (`order_domain::payment::SimulatedGateway`):
    /// every charge is approved and no money moves.
    Simulator,
    /// A card processor's HTTPS API (`order_aws::CardApiGateway`): payments
    /// created and confirmed in one call under an idempotency key, looked up
    /// by it, refunded (docs/architecture.md, "Payments").
    CardApi,
}

impl PaymentProvider {
    /// Every provider, in the order error messages list them.
    pub const ALL: &[PaymentProvider] = &[PaymentProvider::Simulator, PaymentProvider::CardApi];
    /// Their names as the county file and the environment variable spell them.
    pub const NAMES: &[&str] = &["simulator", "card_api"];

    pub const fn name(self) -> &'static str {
        match self {
            PaymentProvider::Simulator => "simulator",
            PaymentProvider::CardApi => "card_api",
        }
    }

    /// The provider named `name` (exact spelling).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.name() == name)
    }
}

impl fmt::Display for PaymentProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The settings of [`PaymentProvider::CardApi`]: their ranges and defaults.
/// The county file's `payment:` section is checked against them, and the
/// functions check the environment variables the stack derives from it
/// ([`crate::schema::env`]) against them again at cold start.
pub mod card_api {
    use std::ops::RangeInclusive;

    /// Milliseconds to establish a connection (TCP and TLS).
    pub const CONNECT_TIMEOUT_MS_RANGE: RangeInclusive<u32> = 100..=10_000;
    pub const CONNECT_TIMEOUT_MS_DEFAULT: u32 = 1_000;
    /// Milliseconds one request may take, connection included.
    pub const REQUEST_TIMEOUT_MS_RANGE: RangeInclusive<u32> = 500..=30_000;
    pub const REQUEST_TIMEOUT_MS_DEFAULT: u32 = 4_000;
    /// Requests one charge or refund may make in all (retries, and the
    /// look-ups that settle an unknown outcome, included).
    pub const MAX_ATTEMPTS_RANGE: RangeInclusive<u32> = 1..=6;
    pub const MAX_ATTEMPTS_DEFAULT: u32 = 4;
    /// Milliseconds one charge or refund may take in all: the adapter starts
    /// no request that could end after it. It must fit in the order API's
    /// and the worker's function timeouts (the API refunds on cancel).
    pub const CALL_BUDGET_MS_RANGE: RangeInclusive<u32> = 1_000..=60_000;
    pub const CALL_BUDGET_MS_DEFAULT: u32 = 8_000;
    /// What a function needs besides its budget when a charge takes the whole
    /// of it: loading and writing the order. A county file's budget must
    /// leave this much of the function's timeout.
    pub const FUNCTION_TIMEOUT_MARGIN_MS: u32 = 2_000;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_list_every_provider() {
        assert_eq!(PaymentProvider::ALL.len(), PaymentProvider::NAMES.len());
        for (p, name) in PaymentProvider::ALL.iter().zip(PaymentProvider::NAMES) {
            assert_eq!(p.name(), *name);
            assert_eq!(PaymentProvider::from_name(name), Some(*p));
        }
        assert_eq!(PaymentProvider::from_name("Simulator"), None);
        assert_eq!(
            PaymentProvider::from_name("card_api"),
            Some(PaymentProvider::CardApi)
        );
        assert_eq!(PaymentProvider::from_name("none"), None);
    }
}

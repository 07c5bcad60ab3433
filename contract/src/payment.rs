//! The payment provider a county charges through. The county file chooses it
//! (`payment: { provider: ... }`), the generator passes the choice to the
//! functions in [`crate::schema::env::PAYMENT_PROVIDER`], and a function's
//! `main` refuses to start without one: no county takes orders on a provider
//! nobody chose.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A payment provider a county can select. Only the simulator exists so far:
/// it moves no money, so a county runs on it only when its file says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentProvider {
    /// The in-process simulated gateway (`order_domain::payment::SimulatedGateway`):
    /// every charge is approved and no money moves.
    Simulator,
}

impl PaymentProvider {
    /// Every provider, in the order error messages list them.
    pub const ALL: &[PaymentProvider] = &[PaymentProvider::Simulator];
    /// Their names as the county file and the environment variable spell them.
    pub const NAMES: &[&str] = &["simulator"];

    pub const fn name(self) -> &'static str {
        match self {
            PaymentProvider::Simulator => "simulator",
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
        assert_eq!(PaymentProvider::from_name("none"), None);
    }
}

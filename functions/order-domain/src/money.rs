//! Money in integer cents. No floats anywhere: prices and totals are exact.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An amount of US dollars in cents, `0..=Money::MAX`.
///
/// The ceiling is 2^53 - 1 cents so that every amount survives a JSON number in
/// a JavaScript client (IEEE doubles are exact only up to 2^53) as well as a
/// DynamoDB `N`. Arithmetic is checked: `None` means the result left that range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(u64);

impl Money {
    pub const ZERO: Money = Money(0);
    pub const MAX: Money = Money((1 << 53) - 1);

    /// `None` if `cents` is over [`Money::MAX`].
    pub const fn from_cents(cents: u64) -> Option<Money> {
        if cents <= Self::MAX.0 {
            Some(Money(cents))
        } else {
            None
        }
    }

    pub const fn cents(self) -> u64 {
        self.0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).and_then(Money::from_cents)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    pub fn checked_mul(self, quantity: u32) -> Option<Money> {
        self.0
            .checked_mul(u64::from(quantity))
            .and_then(Money::from_cents)
    }

    /// Sum of `amounts`, or `None` on overflow.
    pub fn checked_sum<I: IntoIterator<Item = Money>>(amounts: I) -> Option<Money> {
        amounts
            .into_iter()
            .try_fold(Money::ZERO, |acc, m| acc.checked_add(m))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let cents = u64::deserialize(d)?;
        Money::from_cents(cents)
            .ok_or_else(|| serde::de::Error::custom("amount exceeds 2^53-1 cents"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_arithmetic() {
        let a = Money::from_cents(1999).unwrap();
        assert_eq!(a.checked_mul(3), Money::from_cents(5997));
        assert_eq!(a.checked_add(a), Money::from_cents(3998));
        assert_eq!(Money::MAX.checked_add(Money::from_cents(1).unwrap()), None);
        assert_eq!(Money::MAX.checked_mul(2), None);
        assert_eq!(Money::from_cents(u64::MAX), None);
        assert_eq!(Money::ZERO.checked_sub(a), None);
        assert_eq!(a.to_string(), "$19.99");
        assert_eq!(Money::from_cents(5).unwrap().to_string(), "$0.05");
        assert_eq!(Money::checked_sum([a, a, a]), Money::from_cents(5997));
        assert_eq!(Money::checked_sum([Money::MAX, a]), None);
    }

    #[test]
    fn serde_is_integer_cents() {
        let a = Money::from_cents(1234).unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), "1234");
        assert_eq!(serde_json::from_str::<Money>("1234").unwrap(), a);
        assert!(serde_json::from_str::<Money>("12.34").is_err());
        assert!(serde_json::from_str::<Money>("-1").is_err());
        assert!(serde_json::from_str::<Money>("9007199254740992").is_err());
    }
}

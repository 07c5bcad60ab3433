//! The ids of records migrated from the legacy order database, derived from
//! their legacy numbers alone. The backfill writes with them, `migrate verify`
//! and the change capture find records by them, and the API answers
//! `GET /orders/legacy/{legacy_order_id}` with them: one definition.
//!
//! **Orders.** An [`OrderId`] is a ULID: 48 bits of milliseconds, then 80
//! bits. A legacy order's id has a timestamp of zero (no order the API takes
//! can have one), then the 16-bit tag `0xACE1`, then the 64 bits of the legacy
//! `bigint`. So re-runs, resumes and the change capture all derive the same
//! id, the legacy number can be read back from the id, and no two legacy
//! numbers (nor a legacy and a new order) share an id. Legacy orders sort
//! before every order the new system takes.
//!
//! **Customers.** A legacy customer's id is the decimal text of its `bigint`
//! (`1001` → `"1001"`, `-5` → `"-5"`): digits and `-` are in the id alphabet,
//! at most 20 characters, and decimal text is a bijection, so two legacy
//! customers never share an id and a customer's orders and profile meet on
//! the same key.

use thiserror::Error;
use ulid::Ulid;

use crate::ids::{CustomerId, OrderId};

const TAG: u128 = 0xACE1;

/// The id of legacy order `number`.
pub fn order_id(number: i64) -> OrderId {
    // `as u64` is the two's-complement bijection, so negative numbers map too.
    OrderId::from_ulid(Ulid((TAG << 64) | u128::from(number as u64)))
}

/// The legacy number an id was derived from, if it was.
pub fn order_number(id: &OrderId) -> Option<i64> {
    let bits = id.ulid().0;
    (bits >> 64 == TAG).then_some(bits as u64 as i64)
}

/// The id of legacy customer `number`.
pub fn customer_id(number: i64) -> CustomerId {
    CustomerId::from_legacy(number)
}

/// Why a path's legacy number is not one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LegacyNumberError {
    #[error("must be a legacy order number: decimal digits, optionally after `-`")]
    NotDecimal,
    #[error(
        "is out of range: legacy numbers are 64-bit (-9223372036854775808 to 9223372036854775807)"
    )]
    OutOfRange,
}

/// Parses a legacy number as the legacy database prints a `bigint`:
/// optional `-`, then decimal digits (no `+`, spaces or other forms).
pub fn parse_number(text: &str) -> Result<i64, LegacyNumberError> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LegacyNumberError::NotDecimal);
    }
    text.parse().map_err(|_| LegacyNumberError::OutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_stable_and_reads_back() {
        let id = order_id(1_048_576);
        assert_eq!(id.to_string(), "0000000000NKGG000000010000");
        assert_eq!(order_id(1_048_576), id);
        for n in [0, 1, -1, 42, i64::MAX, i64::MIN] {
            assert_eq!(order_number(&order_id(n)), Some(n));
            assert_eq!(OrderId::parse(&order_id(n).to_string()), Ok(order_id(n)));
        }
    }

    #[test]
    fn ids_the_api_generates_are_never_taken_for_legacy_ones() {
        let now = OrderId::from_ulid(Ulid::from_parts(1_733_000_000_000, (TAG << 64) | 7));
        assert_eq!(order_number(&now), None);
        assert_ne!(order_id(1), order_id(2));
    }

    #[test]
    fn customer_ids_are_the_decimal_text() {
        assert_eq!(customer_id(1001).as_str(), "1001");
        assert_eq!(customer_id(-5).as_str(), "-5");
        assert_eq!(customer_id(i64::MIN).as_str(), "-9223372036854775808");
    }

    #[test]
    fn legacy_numbers_parse_strictly() {
        assert_eq!(parse_number("1011"), Ok(1011));
        assert_eq!(parse_number("-7"), Ok(-7));
        assert_eq!(parse_number("9223372036854775807"), Ok(i64::MAX));
        for bad in ["", "-", "+5", " 5", "5 ", "1e3", "0x10", "12a", "١٢"] {
            assert_eq!(
                parse_number(bad),
                Err(LegacyNumberError::NotDecimal),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_number("9223372036854775808"),
            Err(LegacyNumberError::OutOfRange)
        );
    }
}

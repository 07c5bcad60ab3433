//! The new id of a legacy order, derived from its legacy number alone.
//!
//! An [`OrderId`] is a ULID: 48 bits of milliseconds, then 80 bits. A legacy
//! order's id has a timestamp of zero (no order the API takes can have one),
//! then the 16-bit tag `0xACE1`, then the 64 bits of the legacy `bigint`. So
//! re-runs, resumes and the change capture all derive the same id, the legacy
//! number can be read back from the id, and no two legacy numbers (nor a
//! legacy and a new order) share an id. Legacy orders sort before every order
//! the new system takes.

use order_domain::OrderId;
use ulid::Ulid;

const TAG: u128 = 0xACE1;

/// The id of legacy order `number`.
pub fn from_legacy(number: i64) -> OrderId {
    // `as u64` is the two's-complement bijection, so negative numbers map too.
    OrderId::from_ulid(Ulid((TAG << 64) | u128::from(number as u64)))
}

/// The legacy number an id was derived from, if it was.
pub fn legacy_number(id: &OrderId) -> Option<i64> {
    let bits = id.ulid().0;
    (bits >> 64 == TAG).then_some(bits as u64 as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_stable_and_reads_back() {
        let id = from_legacy(1_048_576);
        assert_eq!(id.to_string(), "0000000000NKGG000000010000");
        assert_eq!(from_legacy(1_048_576), id);
        for n in [0, 1, -1, 42, i64::MAX, i64::MIN] {
            assert_eq!(legacy_number(&from_legacy(n)), Some(n));
            assert_eq!(
                OrderId::parse(&from_legacy(n).to_string()),
                Ok(from_legacy(n))
            );
        }
    }

    #[test]
    fn ids_the_api_generates_are_never_taken_for_legacy_ones() {
        let now = OrderId::from_ulid(Ulid::from_parts(1_733_000_000_000, (TAG << 64) | 7));
        assert_eq!(legacy_number(&now), None);
        assert_ne!(from_legacy(1), from_legacy(2));
    }
}

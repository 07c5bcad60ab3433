//! The new id of a legacy order: the rule is the order domain's
//! ([`order_domain::legacy`]), so the API finds migrated orders by the same
//! derivation.

use order_domain::OrderId;

/// The id of legacy order `number`.
pub fn from_legacy(number: i64) -> OrderId {
    order_domain::legacy::order_id(number)
}

/// The legacy number an id was derived from, if it was.
pub fn legacy_number(id: &OrderId) -> Option<i64> {
    order_domain::legacy::order_number(id)
}

//! The version guard on migrated items: each carries its legacy row's
//! `updated_at` (microseconds) as [`LEGACY_UPDATED_US`], and the change
//! capture writes an item only if the table holds no newer version of it.
//!
//! Orders get the attribute from the order domain's own item definitions
//! (`order_to_item`, `summary_item`); a stock record gets it here, beside
//! [`StockRecord::to_item`], because the new system's stock has no legacy
//! version of its own. The backfill writes the same attribute, so a change
//! already in the backfill's snapshot meets an equal version and rewrites
//! the same item: harmless.

use order_domain::codec::{LEGACY_UPDATED_US, StockRecord};
use order_domain::store::{AttrValue, Condition, Item, Table};

/// A migrated stock record's item: the domain's item plus its legacy version.
pub fn stock_item(record: &StockRecord, legacy_updated_us: i64) -> Item {
    let mut item = record.to_item();
    item.insert(
        LEGACY_UPDATED_US.into(),
        AttrValue::N(legacy_updated_us.to_string()),
    );
    item
}

/// Put only over nothing, or over a version not newer than `legacy_updated_us`.
///
/// Equal versions are written again: a legacy application that changes a
/// row without touching `updated_at` still reaches the table, and one
/// consumer applies changes in commit order, so an equal version is never an
/// older state arriving late. An item without the attribute (one the new
/// system wrote, not the migration) is never overwritten.
pub fn condition(table: Table, legacy_updated_us: i64) -> Condition {
    Condition::Or(vec![
        Condition::not_exists(table.partition_key()),
        Condition::NumberLessThan(
            LEGACY_UPDATED_US.into(),
            legacy_updated_us.saturating_add(1),
        ),
    ])
}

/// The version an item carries, if it is a migrated one.
pub fn version_of(item: &Item) -> Option<i64> {
    item.get(LEGACY_UPDATED_US)
        .and_then(AttrValue::as_n)
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use order_domain::{Money, Sku, StoreId};

    #[test]
    fn a_stock_item_carries_its_version() {
        let r = StockRecord {
            store_id: StoreId::parse("AUS-1").expect("id"),
            sku: Sku::parse("GIN-1L").expect("sku"),
            available: 4,
            price_cents: Money::from_cents(350).expect("price"),
        };
        let item = stock_item(&r, 1_700_000_000_000_001);
        assert_eq!(version_of(&item), Some(1_700_000_000_000_001));
        assert_eq!(StockRecord::from_item(&item).expect("decodes"), r);
    }
}

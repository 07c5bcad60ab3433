//! Builders the tests of several crates share (feature `test-support`, like
//! the other test doubles: no Lambda compiles them): a migrated order as the
//! backfill writes it, and an adult customer's profile, which the API needs
//! before it takes an order.

use jiff::Timestamp;
use jiff::civil::Date;

use crate::codec::StockRecord;
use crate::customer::Customer;
use crate::ids::{CountyId, CustomerId, Sku, StoreId};
use crate::legacy;
use crate::money::Money;
use crate::order::{LegacyOwner, LegacyRecord, LineItem, Order, OrderStatus, StatusChange};
use crate::store::{Put, Store, StoreError, Table};

/// A travis-tx order copied from the legacy database as order `number`:
/// CONFIRMED there and here, owned by the new system, two units of WINE-1 at
/// $12.50. Its legacy `updated_at` (17:05:00.123456Z) is later than its
/// `updated_at` here and has microseconds, so a test can tell the two apart;
/// its payment reference is `pay-1`.
pub fn migrated_order(number: i64) -> Order {
    let at: Timestamp = "2025-03-01T17:00:00Z".parse().expect("time");
    Order {
        order_id: legacy::order_id(number),
        customer_id: legacy::customer_id(77),
        store_id: StoreId::parse("S1").expect("id"),
        county_id: CountyId::parse("travis-tx").expect("id"),
        client_request_id: None,
        items: vec![LineItem {
            sku: Sku::parse("WINE-1").expect("sku"),
            quantity: 2,
            unit_price_cents: Money::from_cents(1250).expect("cents"),
        }],
        total_cents: Money::from_cents(2500).expect("cents"),
        status: OrderStatus::Confirmed,
        created_at: at,
        updated_at: at,
        version: 1,
        failure_reason: None,
        payment_id: None,
        hold_reason: None,
        history: vec![StatusChange {
            status: OrderStatus::Confirmed,
            at,
        }],
        legacy: Some(LegacyRecord {
            number,
            status: "CONFIRMED".into(),
            owner: LegacyOwner::New,
            placed_at_local: "2025-03-01T11:00:00".into(),
            updated_at: "2025-03-01T17:05:00.123456Z".parse().expect("time"),
            payment_ref: Some("pay-1".into()),
        }),
    }
}

/// The profile of customer `id` (a test's own, valid id), born 1990-02-28 and
/// so of age in every county, with no other PII.
pub fn adult(id: &str) -> Customer {
    let at: Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
    Customer {
        customer_id: CustomerId::parse(id).expect("customer id"),
        email: None,
        full_name: None,
        phone: None,
        birth_date: Some(Date::constant(1990, 2, 28)),
        created_at: at,
        updated_at: at,
        legacy: None,
    }
}

/// Writes [`adult`]`(id)` to the Customers table of `store`: the API takes
/// orders only from a customer with such a profile.
pub async fn seed_adult(store: &impl Store, id: &str) -> Result<(), StoreError> {
    let put = Put {
        table: Table::Customers,
        item: adult(id).to_item(),
        condition: None,
    };
    store.put(put).await
}

/// Puts `stock` on its store's shelf, as `inventory load` leaves it.
pub async fn seed_stock(store: &impl Store, stock: &StockRecord) -> Result<(), StoreError> {
    store
        .put(Put {
            table: Table::Inventory,
            item: stock.to_item(),
            condition: None,
        })
        .await
}

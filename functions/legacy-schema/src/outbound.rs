//! An order of the new system → the legacy rows that hold it: the inverse of
//! the migration's legacy → order mapping (`acme_migrate::order`), by the
//! same rules ([`crate::key`], [`crate::money`], [`crate::status`]), so a
//! legacy order that went through both directions comes back as it was.
//!
//! What the new system has and the legacy schema has not (history, the
//! failure reason, the version) stays behind; what the legacy schema needs
//! and the new order lacks (a `bigint` number for an order the API took, the
//! store's wall-clock `placed_at`) is decided by the writer from the legacy
//! database itself and named here ([`Number`], [`PlacedAt`]).

use order_domain::order::LegacyOwner;
use order_domain::{Order, OrderId, OrderStatus};

use crate::key;
use crate::money::format_cents;
use crate::rows::LegacyLine;
use crate::status::legacy_status;

/// The legacy schema's widths (`migrate/sql/legacy-schema.sql`).
pub const STORE_ID_MAX: usize = 40;
pub const SKU_MAX: usize = 64;
pub const CLIENT_REQUEST_ID_MAX: usize = 64;
pub const PAYMENT_REF_MAX: usize = 64;

/// Legacy numbers from here up are the new system's: the legacy-sync
/// function allocates them (a sequence in the legacy database starting here)
/// for orders the API took, and for customers the legacy database never had.
/// The legacy system's own numbers are far below (2^62 ≈ 4.6 × 10^18), so the
/// two never meet, and the change capture can tell a row written for the new
/// system by its number alone.
pub const NEW_SYSTEM_NUMBERS: i64 = 1 << 62;

/// The order's legacy `order_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Number {
    /// A migrated order: its own legacy number.
    Legacy(i64),
    /// An order the API took: the writer allocates one (at or above
    /// [`NEW_SYSTEM_NUMBERS`]) and keeps it with the order id, so every
    /// change of the order finds the same row.
    Allocate,
}

/// The order's legacy `customer_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Customer {
    /// A legacy customer (the id is the decimal text of its number, see
    /// `order_domain::legacy::customer_id`).
    Legacy(i64),
    /// A customer only the new system knows: the writer allocates a number
    /// for the id, as for orders.
    New(String),
}

/// `orders.placed_at`, the store's wall clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacedAt {
    /// As the legacy row recorded it (a migrated order).
    Local(String),
    /// An instant (µs since the epoch) the writer turns into the store's
    /// wall clock with the store's `timezone` (a UTC instant has exactly one
    /// wall-clock time, so this direction needs no fold rule).
    Utc(i64),
}

/// The rows of `orders` and `order_lines` that hold one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundOrder {
    pub order_id: OrderId,
    /// The order's version in the new system: the writer's guard.
    pub version: u64,
    pub number: Number,
    pub client_request_id: Option<String>,
    pub customer: Customer,
    /// The legacy store id (the escape undone).
    pub store_id: String,
    pub status: &'static str,
    /// `numeric(12,2)` text.
    pub total: String,
    pub currency: &'static str,
    pub payment_ref: Option<String>,
    pub placed_at: PlacedAt,
    /// `orders.updated_at`, µs since the epoch.
    pub updated_at_us: i64,
    pub lines: Vec<LegacyLine>,
}

/// Why an order cannot be held by the legacy tables.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("order {order_id}: {reason}")]
pub struct Unmappable {
    pub order_id: String,
    pub reason: String,
}

/// The legacy rows of `order`.
pub fn order_rows(order: &Order) -> Result<OutboundOrder, Unmappable> {
    let fail = |reason: String| Unmappable {
        order_id: order.order_id.to_string(),
        reason,
    };
    let store_id = legacy_key("store id", order.store_id.as_str(), STORE_ID_MAX).map_err(fail)?;
    let lines = order
        .items
        .iter()
        .zip(1..)
        .map(|(l, line_no)| {
            Ok(LegacyLine {
                line_no,
                sku: legacy_key("SKU", l.sku.as_str(), SKU_MAX)
                    .map_err(|e| format!("line {line_no}: {e}"))?,
                quantity: i32::try_from(l.quantity)
                    .map_err(|_| format!("line {line_no}: quantity {} is too large", l.quantity))?,
                unit_price: format_cents(l.unit_price_cents),
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(fail)?;
    if lines.is_empty() {
        return Err(fail("has no lines".into()));
    }
    let legacy = order.legacy.as_ref();
    let status = match legacy {
        // Still the legacy system's to finish: its own status text stays.
        Some(l) if l.owner == LegacyOwner::Legacy && order.status == OrderStatus::Pending => {
            crate::status::known(&l.status).ok_or_else(|| {
                fail(format!(
                    "legacy status `{}` is not a legacy status",
                    l.status
                ))
            })?
        }
        _ => legacy_status(order.status),
    };
    let client_request_id = order
        .client_request_id
        .as_ref()
        .map(|r| match legacy {
            // Escaped from the legacy value by the migration: undone.
            Some(_) => key::decode(r.as_str()).unwrap_or_else(|| r.as_str().to_owned()),
            None => r.as_str().to_owned(),
        })
        .filter(|r| r.len() <= CLIENT_REQUEST_ID_MAX);
    let payment_ref = match legacy {
        Some(l) => l.payment_ref.clone(),
        None => order.payment_id.as_ref().map(|p| p.0.clone()),
    };
    if let Some(p) = payment_ref.as_ref().filter(|p| p.len() > PAYMENT_REF_MAX) {
        return Err(fail(format!(
            "payment reference of {} bytes is longer than the legacy column's {PAYMENT_REF_MAX}",
            p.len()
        )));
    }
    let customer = match order_domain::legacy::parse_number(order.customer_id.as_str()) {
        Ok(n) if order_domain::legacy::customer_id(n) == order.customer_id => Customer::Legacy(n),
        _ => Customer::New(order.customer_id.as_str().to_owned()),
    };
    Ok(OutboundOrder {
        order_id: order.order_id,
        version: order.version,
        number: legacy.map_or(Number::Allocate, |l| Number::Legacy(l.number)),
        client_request_id,
        customer,
        store_id,
        status,
        total: format_cents(order.total_cents),
        currency: "USD",
        payment_ref,
        placed_at: match legacy {
            Some(l) => PlacedAt::Local(l.placed_at_local.clone()),
            None => PlacedAt::Utc(order.created_at.as_microsecond()),
        },
        updated_at_us: order.updated_at.as_microsecond(),
        lines,
    })
}

/// The legacy value of an id the migration escaped (`key::encode`), or the
/// id itself when it is one `encode` keeps as it is.
fn legacy_key(what: &str, value: &str, max: usize) -> Result<String, String> {
    let raw = key::decode(value).ok_or_else(|| {
        format!("{what} `{value}` is no legacy value (not an escape the migration writes)")
    })?;
    if raw.len() > max {
        return Err(format!(
            "{what} `{value}` is {} bytes, longer than the legacy column's {max}",
            raw.len()
        ));
    }
    Ok(raw)
}

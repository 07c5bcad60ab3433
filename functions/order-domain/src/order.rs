//! Orders, line items and the status machine.
//!
//! ```text
//!                  HELD (fraud review: release ▲▼ to RESERVED, reject ▶ CANCELLED)
//!                   ▲▼
//!   PENDING ──▶ RESERVED ──▶ CONFIRMED
//!      │  ╲         │  ╲          │
//!      │   ╲        │   ▼         │
//!      │    ╲───────┼─▶ FAILED    │
//!      ▼            ▼             ▼
//!   CANCELLED ◀─────┴─────────────┤   (stock released)
//!                                 ▼
//!                 FULFILLED ──▶ REFUNDED ◀── (from CONFIRMED too)
//! ```
//!
//! FULFILLED (picked up or shipped) and REFUNDED also arrive with history
//! migrated from the legacy order database, whose orders carry a
//! [`LegacyRecord`].
//!
//! Every change of an [`Order`] goes through [`Order::transitioned`], which checks
//! the edge, bumps `version` (the optimistic-lock counter every conditional write
//! checks) and appends to the status history.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::{ClientRequestId, CountyId, CustomerId, OrderId, Sku, StoreId};
use crate::money::Money;
use crate::payment::PaymentId;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Accepted by the API, waiting for the worker.
    Pending,
    /// Stock is held in the reservation ledger; payment not yet taken.
    Reserved,
    /// Paid; stock consumed; awaiting pick and pack.
    Confirmed,
    /// Out of stock or payment declined. Terminal.
    Failed,
    /// Cancelled by the customer or staff; stock released. Terminal.
    Cancelled,
    /// Picked up or shipped. Only a refund follows.
    Fulfilled,
    /// Money returned after confirmation or fulfilment. Terminal.
    Refunded,
    /// Reserved, but the worker's fraud rules stopped it before payment:
    /// waits for staff to release it (back to RESERVED, then payment) or
    /// reject it (CANCELLED, stock released). Its stock stays reserved.
    Held,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::Pending,
        OrderStatus::Reserved,
        OrderStatus::Confirmed,
        OrderStatus::Failed,
        OrderStatus::Cancelled,
        OrderStatus::Fulfilled,
        OrderStatus::Refunded,
        OrderStatus::Held,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::Reserved => "RESERVED",
            OrderStatus::Confirmed => "CONFIRMED",
            OrderStatus::Failed => "FAILED",
            OrderStatus::Cancelled => "CANCELLED",
            OrderStatus::Fulfilled => "FULFILLED",
            OrderStatus::Refunded => "REFUNDED",
            OrderStatus::Held => "HELD",
        }
    }

    /// No transition leaves this status.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Failed | OrderStatus::Cancelled | OrderStatus::Refunded
        )
    }

    /// Whether the worker has anything left to do (it stops at CONFIRMED).
    pub const fn needs_processing(self) -> bool {
        matches!(self, OrderStatus::Pending | OrderStatus::Reserved)
    }

    /// Whether the order appears in the sparse `by-status-time` index.
    /// FULFILLED and the terminal statuses drop out so the index only holds
    /// work in flight: the worker's, staff review's (HELD) and the stores'
    /// pick lists (CONFIRMED).
    pub const fn in_status_index(self) -> bool {
        matches!(
            self,
            OrderStatus::Pending
                | OrderStatus::Reserved
                | OrderStatus::Held
                | OrderStatus::Confirmed
        )
    }

    /// Whether the order holds entries in the reservation ledger.
    pub const fn holds_stock(self) -> bool {
        matches!(
            self,
            OrderStatus::Reserved | OrderStatus::Held | OrderStatus::Confirmed
        )
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not one of the status names.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown order status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for OrderStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, UnknownStatus> {
        OrderStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// A status change the machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("order cannot go from {from} to {to}")]
pub struct InvalidTransition {
    pub from: OrderStatus,
    pub to: OrderStatus,
}

/// Checks one edge of the status machine.
pub fn transition(from: OrderStatus, to: OrderStatus) -> Result<(), InvalidTransition> {
    use OrderStatus::*;
    let allowed = matches!(
        (from, to),
        (Pending, Reserved)
            | (Reserved, Confirmed)
            | (Pending | Reserved, Failed)
            | (Pending | Reserved | Held | Confirmed, Cancelled)
            | (Reserved, Held)
            | (Held, Reserved)
            | (Confirmed, Fulfilled)
            | (Confirmed | Fulfilled, Refunded)
    );
    if allowed {
        Ok(())
    } else {
        Err(InvalidTransition { from, to })
    }
}

/// One line of an order, priced from the store's stock record at accept time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineItem {
    pub sku: Sku,
    pub quantity: u32,
    pub unit_price_cents: Money,
}

impl LineItem {
    /// `quantity * unit_price_cents`, `None` on overflow.
    pub fn line_total(&self) -> Option<Money> {
        self.unit_price_cents.checked_mul(self.quantity)
    }
}

/// Why an order failed. Stored with the order and put in the `OrderFailed` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub enum FailureReason {
    /// Not enough stock for these SKUs when the worker tried to reserve.
    OutOfStock { skus: Vec<Sku> },
    /// The payment gateway declined the charge.
    PaymentDeclined { message: String },
    /// The order sat in RESERVED past the county's reservation TTL (payment
    /// kept failing); the stock was released.
    ReservationExpired,
}

impl FailureReason {
    pub const fn code(&self) -> &'static str {
        match self {
            FailureReason::OutOfStock { .. } => "OUT_OF_STOCK",
            FailureReason::PaymentDeclined { .. } => "PAYMENT_DECLINED",
            FailureReason::ReservationExpired => "RESERVATION_EXPIRED",
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::OutOfStock { skus } => {
                f.write_str("out of stock: ")?;
                for (i, sku) in skus.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(sku.as_str())?;
                }
                Ok(())
            }
            FailureReason::PaymentDeclined { message } => {
                write!(f, "payment declined: {message}")
            }
            FailureReason::ReservationExpired => f.write_str("reservation expired before payment"),
        }
    }
}

/// Which fraud rule held an order, with the rule's limit and what was counted.
/// Stored with the order and put in the `OrderHeld` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub enum HoldReason {
    /// The customer's orders in the hour up to this one (this one included).
    OrdersPerHour { limit: u32, counted: u32 },
    /// The customer's units in the 24 hours up to this order (its own included).
    UnitsPerDay { limit: u32, counted: u64 },
    /// The order's total, in cents, is over the county's threshold.
    OrderTotal { limit_cents: u64, total_cents: u64 },
    /// The customer has more orders in the day than the screening reads
    /// (`scanned`): held rather than judged on part of them.
    TooManyToCount { scanned: u32 },
}

impl HoldReason {
    pub const fn code(&self) -> &'static str {
        match self {
            HoldReason::OrdersPerHour { .. } => "ORDERS_PER_HOUR",
            HoldReason::UnitsPerDay { .. } => "UNITS_PER_DAY",
            HoldReason::OrderTotal { .. } => "ORDER_TOTAL",
            HoldReason::TooManyToCount { .. } => "TOO_MANY_TO_COUNT",
        }
    }
}

impl fmt::Display for HoldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoldReason::OrdersPerHour { limit, counted } => {
                write!(f, "{counted} orders in an hour, over the limit of {limit}")
            }
            HoldReason::UnitsPerDay { limit, counted } => {
                write!(f, "{counted} units in a day, over the limit of {limit}")
            }
            HoldReason::OrderTotal {
                limit_cents,
                total_cents,
            } => write!(
                f,
                "total of {total_cents} cents, over the limit of {limit_cents}"
            ),
            HoldReason::TooManyToCount { scanned } => {
                write!(f, "more than {scanned} orders in a day, too many to count")
            }
        }
    }
}

/// One entry of an order's status history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    pub status: OrderStatus,
    pub at: Timestamp,
}

/// The full order record, as kept in the OrderById table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub store_id: StoreId,
    pub county_id: CountyId,
    /// `None` only for legacy phone and in-store orders, which had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_request_id: Option<ClientRequestId>,
    pub items: Vec<LineItem>,
    pub total_cents: Money,
    pub status: OrderStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Starts at 1; every write adds 1 and is conditional on the previous value.
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<FailureReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<PaymentId>,
    /// Why the fraud rules held the order; kept after a release, for the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_reason: Option<HoldReason>,
    /// Every status the order has been in, oldest first.
    pub history: Vec<StatusChange>,
    /// Set on orders migrated from the legacy order database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy: Option<LegacyRecord>,
}

/// What a migrated order keeps of its legacy row, beyond what the order
/// model holds: enough to find it by its legacy number, to tell who owns
/// it, and to compare it with the legacy row again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyRecord {
    /// `orders.order_id` in the legacy database.
    pub number: i64,
    /// The legacy status text, as recorded.
    pub status: String,
    /// Who finishes the order: the legacy system for orders it had not
    /// finished (`NEW`, `PAID`), so the new worker never processes them.
    pub owner: LegacyOwner,
    /// The store's wall-clock `placed_at`, as recorded (`created_at` is it in UTC).
    pub placed_at_local: String,
    /// `orders.updated_at`: the version the change capture compares against.
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_ref: Option<String>,
}

/// Which system finishes a migrated order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LegacyOwner {
    /// Still in flight in the legacy system.
    Legacy,
    /// History: nothing left to do, or owned by the new system.
    New,
}

impl LegacyOwner {
    pub const fn as_str(self) -> &'static str {
        match self {
            LegacyOwner::Legacy => "LEGACY",
            LegacyOwner::New => "NEW",
        }
    }
}

impl Order {
    /// Whether the legacy system still finishes this order: the new worker,
    /// sweeper and cancel leave it alone.
    pub fn owned_by_legacy(&self) -> bool {
        self.legacy
            .as_ref()
            .is_some_and(|l| l.owner == LegacyOwner::Legacy)
    }

    /// Sum of quantities over all lines.
    pub fn total_units(&self) -> u64 {
        self.items.iter().map(|l| u64::from(l.quantity)).sum()
    }

    /// The next version of this order in status `to`, or the edge is not allowed.
    ///
    /// `updated_at` never goes backwards even if `now` does (Lambda hosts' clocks
    /// can disagree by a little), so history stays ordered.
    /// When the order entered `status` most recently, from its history.
    pub fn entered(&self, status: OrderStatus) -> Option<Timestamp> {
        self.history
            .iter()
            .rev()
            .find(|h| h.status == status)
            .map(|h| h.at)
    }

    pub fn transitioned(
        &self,
        to: OrderStatus,
        now: Timestamp,
    ) -> Result<Order, InvalidTransition> {
        transition(self.status, to)?;
        let at = now.max(self.updated_at);
        let mut next = self.clone();
        next.status = to;
        next.updated_at = at;
        next.version = self.version.saturating_add(1);
        next.history.push(StatusChange { status: to, at });
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn transition_table_is_exhaustive() {
        let allowed = [
            (Pending, Reserved),
            (Reserved, Confirmed),
            (Pending, Failed),
            (Reserved, Failed),
            (Pending, Cancelled),
            (Reserved, Cancelled),
            (Confirmed, Cancelled),
            (Reserved, Held),
            (Held, Reserved),
            (Held, Cancelled),
            (Confirmed, Fulfilled),
            (Confirmed, Refunded),
            (Fulfilled, Refunded),
        ];
        let mut checked = 0;
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                let expect_ok = allowed.contains(&(from, to));
                let got = transition(from, to);
                assert_eq!(got.is_ok(), expect_ok, "{from} -> {to}");
                if let Err(e) = got {
                    assert_eq!(e, InvalidTransition { from, to });
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 64);
    }

    #[test]
    fn terminal_statuses_have_no_exits() {
        for from in OrderStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in OrderStatus::ALL {
                assert!(transition(from, to).is_err());
            }
        }
        // Self-loops are never transitions: a retry must be recognised as
        // "already there", not re-applied.
        for s in OrderStatus::ALL {
            assert!(transition(s, s).is_err());
        }
    }

    #[test]
    fn status_names_round_trip() {
        for s in OrderStatus::ALL {
            assert_eq!(s.as_str().parse::<OrderStatus>().unwrap(), s);
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert!("pending".parse::<OrderStatus>().is_err());
    }

    #[test]
    fn failure_reason_display() {
        let r = FailureReason::OutOfStock {
            skus: vec![Sku::parse("A").unwrap(), Sku::parse("B").unwrap()],
        };
        assert_eq!(r.to_string(), "out of stock: A, B");
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"code": "OUT_OF_STOCK", "skus": ["A", "B"]})
        );
    }
}

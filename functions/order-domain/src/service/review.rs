//! Staff actions on one order: release or reject an order the fraud
//! screening HELD, and mark a CONFIRMED order FULFILLED (picked up or
//! shipped).
//!
//! | action | from | to | stock |
//! |---|---|---|---|
//! | release | HELD | RESERVED | ledger `RESERVED` again, the deadline counted from now; the caller re-enqueues the order and the worker charges it |
//! | reject | HELD | CANCELLED | put back, ledger deleted (as a cancel) |
//! | fulfill | CONFIRMED | FULFILLED | already consumed; ledger stays `CONFIRMED` |
//!
//! Each is one transaction conditional on the order's version and status, and
//! idempotent: asking again for a change already made answers with the order
//! as it is (released: any status after a HELD one but CANCELLED; rejected:
//! CANCELLED after HELD; fulfilled: FULFILLED or REFUNDED after it). Any
//! other status is a 409 naming it. The stream publisher turns each change
//! into its event (`OrderReleased`, `OrderCancelled`, `OrderFulfilled`).

use thiserror::Error;

use crate::clock::Clock;
use crate::codec::CorruptItem;
use crate::error::{DomainError, store_code, store_status};
use crate::ids::OrderId;
use crate::order::{Order, OrderStatus};
use crate::rules::CountyRules;
use crate::service::{
    LoadError, MAX_ATTEMPTS, TxOutcome, commit, end_order, load_order, status_tx, unhold_tx,
};
use crate::store::{Store, StoreError};

/// A staff action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Release,
    Reject,
    Fulfill,
}

impl Action {
    pub const fn verb(self) -> &'static str {
        match self {
            Action::Release => "released",
            Action::Reject => "rejected",
            Action::Fulfill => "fulfilled",
        }
    }

    /// The status the action starts from.
    pub const fn from(self) -> OrderStatus {
        match self {
            Action::Release | Action::Reject => OrderStatus::Held,
            Action::Fulfill => OrderStatus::Confirmed,
        }
    }

    /// Whether `order` shows this action already done.
    fn done(self, order: &Order) -> bool {
        let after = |s: OrderStatus| order.entered(s).is_some();
        match self {
            Action::Release => {
                after(OrderStatus::Held)
                    && !matches!(order.status, OrderStatus::Held | OrderStatus::Cancelled)
            }
            Action::Reject => after(OrderStatus::Held) && order.status == OrderStatus::Cancelled,
            Action::Fulfill => after(OrderStatus::Fulfilled),
        }
    }
}

/// Why a staff action did not happen.
#[derive(Debug, Error)]
pub enum ReviewError {
    #[error("order {0} not found")]
    NotFound(OrderId),
    #[error("order {order_id} is {status}: only a {} order can be {}", .action.from(), .action.verb())]
    WrongStatus {
        order_id: OrderId,
        status: OrderStatus,
        action: Action,
    },
    #[error("order {0} was migrated from the legacy order system; change it there")]
    Migrated(OrderId),
    #[error("order {0} kept changing; retry")]
    Contention(OrderId),
    #[error("order {order_id} is inconsistent: {detail}")]
    Inconsistent { order_id: OrderId, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Corrupt(#[from] CorruptItem),
}

impl From<LoadError> for ReviewError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Store(e) => ReviewError::Store(e),
            LoadError::Corrupt(e) => ReviewError::Corrupt(e),
        }
    }
}

impl DomainError for ReviewError {
    fn http_status(&self) -> u16 {
        match self {
            ReviewError::NotFound(_) => 404,
            ReviewError::WrongStatus { .. } | ReviewError::Migrated(_) => 409,
            ReviewError::Contention(_) => 503,
            ReviewError::Inconsistent { .. } | ReviewError::Corrupt(_) => 500,
            ReviewError::Store(e) => store_status(e),
        }
    }

    fn is_retryable(&self) -> bool {
        match self {
            ReviewError::Contention(_) => true,
            ReviewError::Store(e) => e.is_retryable(),
            _ => false,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ReviewError::NotFound(_) => "not_found",
            ReviewError::WrongStatus {
                action: Action::Fulfill,
                ..
            } => "not_confirmed",
            ReviewError::WrongStatus { .. } => "not_held",
            ReviewError::Migrated(_) => "migrated",
            ReviewError::Contention(_) => "contention",
            ReviewError::Inconsistent { .. } => "inconsistent",
            ReviewError::Store(e) => store_code(e),
            ReviewError::Corrupt(_) => "internal",
        }
    }
}

/// Staff actions on single orders.
pub struct ReviewService<S, C> {
    store: S,
    rules: CountyRules,
    clock: C,
}

impl<S: Store, C: Clock> ReviewService<S, C> {
    pub fn new(store: S, rules: CountyRules, clock: C) -> Self {
        Self {
            store,
            rules,
            clock,
        }
    }

    /// HELD → RESERVED. The caller enqueues the order so the worker charges
    /// it (the worker does not screen a released order again).
    pub async fn release(&self, order_id: &OrderId) -> Result<Order, ReviewError> {
        self.act(order_id, Action::Release).await
    }

    /// HELD → CANCELLED, stock put back. A held order was never charged.
    pub async fn reject(&self, order_id: &OrderId) -> Result<Order, ReviewError> {
        self.act(order_id, Action::Reject).await
    }

    /// CONFIRMED → FULFILLED: the order leaves the status index and the
    /// store's pick list.
    pub async fn fulfill(&self, order_id: &OrderId) -> Result<Order, ReviewError> {
        self.act(order_id, Action::Fulfill).await
    }

    async fn act(&self, order_id: &OrderId, action: Action) -> Result<Order, ReviewError> {
        for _ in 0..MAX_ATTEMPTS {
            let order = load_order(&self.store, order_id)
                .await?
                .ok_or(ReviewError::NotFound(*order_id))?;
            if order.owned_by_legacy() {
                return Err(ReviewError::Migrated(*order_id));
            }
            if action.done(&order) {
                return Ok(order);
            }
            if order.status != action.from() {
                return Err(ReviewError::WrongStatus {
                    order_id: *order_id,
                    status: order.status,
                    action,
                });
            }
            let next = self.next(&order, action)?;
            match self.write(&order, &next, action).await? {
                TxOutcome::Committed => return Ok(next),
                TxOutcome::LostRace => continue,
                TxOutcome::Rejected(c) => {
                    return Err(ReviewError::Inconsistent {
                        order_id: *order_id,
                        detail: format!("ledger entries missing for a {} order: {c}", order.status),
                    });
                }
            }
        }
        Err(ReviewError::Contention(*order_id))
    }

    fn next(&self, order: &Order, action: Action) -> Result<Order, ReviewError> {
        let to = match action {
            Action::Release => OrderStatus::Reserved,
            Action::Reject => OrderStatus::Cancelled,
            Action::Fulfill => OrderStatus::Fulfilled,
        };
        order
            .transitioned(to, self.clock.now())
            .map_err(|e| ReviewError::Inconsistent {
                order_id: order.order_id,
                detail: e.to_string(),
            })
    }

    async fn write(
        &self,
        order: &Order,
        next: &Order,
        action: Action,
    ) -> Result<TxOutcome, StoreError> {
        let shards = self.rules.gsi_write_shards;
        match action {
            Action::Release => commit(&self.store, unhold_tx(order, next, shards)).await,
            Action::Reject => end_order(&self.store, order, next, shards).await,
            Action::Fulfill => commit(&self.store, status_tx(order, next, shards)).await,
        }
    }
}

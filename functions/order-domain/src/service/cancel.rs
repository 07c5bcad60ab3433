//! Cancelling an order: PENDING, RESERVED or CONFIRMED → CANCELLED, putting
//! reserved stock back in the same transaction, then refunding any charge.
//!
//! Cancelling is idempotent: cancelling a CANCELLED order succeeds again
//! (and retries an outstanding refund), so a client or a handler may retry a
//! 503 freely.

use thiserror::Error;

use crate::clock::Clock;
use crate::codec::CorruptItem;
use crate::error::{DomainError, store_code, store_status};
use crate::ids::{CustomerId, OrderId};
use crate::order::{InvalidTransition, Order, OrderStatus};
use crate::payment::{PaymentError, PaymentGateway};
use crate::rules::CountyRules;
use crate::service::{LoadError, MAX_ATTEMPTS, TxOutcome, end_order, load_order};
use crate::store::{Store, StoreError};

/// Why a cancel did not complete.
#[derive(Debug, Error)]
pub enum CancelError {
    /// No such order, or not the requesting customer's (indistinguishable on
    /// purpose: ids of other customers' orders are not disclosed).
    #[error("order {0} not found")]
    NotFound(OrderId),
    /// The order is FAILED: nothing to cancel.
    #[error(transparent)]
    NotCancellable(#[from] InvalidTransition),
    /// The order is cancelled and its stock released, but the refund did not
    /// go through yet. Retrying the cancel retries the refund.
    #[error("order {order_id} is cancelled but the refund is pending: {error}")]
    RefundPending {
        order_id: OrderId,
        error: PaymentError,
    },
    /// A migrated order: its payment and stock live in the legacy system,
    /// which cancels it (until the county is cut over).
    #[error("order {0} was migrated from the legacy order system; cancel it there")]
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

impl From<LoadError> for CancelError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Store(e) => CancelError::Store(e),
            LoadError::Corrupt(e) => CancelError::Corrupt(e),
        }
    }
}

impl DomainError for CancelError {
    fn http_status(&self) -> u16 {
        match self {
            CancelError::NotFound(_) => 404,
            CancelError::NotCancellable(_) | CancelError::Migrated(_) => 409,
            CancelError::RefundPending { .. } | CancelError::Contention(_) => 503,
            CancelError::Inconsistent { .. } | CancelError::Corrupt(_) => 500,
            CancelError::Store(e) => store_status(e),
        }
    }

    fn is_retryable(&self) -> bool {
        match self {
            CancelError::RefundPending { .. } | CancelError::Contention(_) => true,
            CancelError::Store(e) => e.is_retryable(),
            _ => false,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            CancelError::NotFound(_) => "not_found",
            CancelError::NotCancellable(_) => "not_cancellable",
            CancelError::Migrated(_) => "migrated",
            CancelError::RefundPending { .. } => "refund_pending",
            CancelError::Contention(_) => "contention",
            CancelError::Inconsistent { .. } => "inconsistent",
            CancelError::Store(e) => store_code(e),
            CancelError::Corrupt(_) => "internal",
        }
    }
}

/// The cancel service (API or back office).
pub struct CancelService<S, P, C> {
    store: S,
    gateway: P,
    rules: CountyRules,
    clock: C,
}

impl<S: Store, P: PaymentGateway, C: Clock> CancelService<S, P, C> {
    pub fn new(store: S, gateway: P, rules: CountyRules, clock: C) -> Self {
        Self {
            store,
            gateway,
            rules,
            clock,
        }
    }

    /// Cancels `order_id`. With `requested_by`, only that customer's order
    /// can be cancelled (others look not found); `None` is for staff.
    pub async fn cancel(
        &self,
        order_id: &OrderId,
        requested_by: Option<&CustomerId>,
    ) -> Result<Order, CancelError> {
        for _ in 0..MAX_ATTEMPTS {
            let order = load_order(&self.store, order_id)
                .await?
                .filter(|o| requested_by.is_none_or(|c| *c == o.customer_id))
                .ok_or(CancelError::NotFound(*order_id))?;
            if order.legacy.is_some() {
                return Err(CancelError::Migrated(*order_id));
            }
            let cancelled = match order.status {
                OrderStatus::Cancelled => return self.refund(order).await,
                OrderStatus::Failed => {
                    return Err(InvalidTransition {
                        from: OrderStatus::Failed,
                        to: OrderStatus::Cancelled,
                    }
                    .into());
                }
                _ => order.transitioned(OrderStatus::Cancelled, self.clock.now())?,
            };
            match end_order(&self.store, &order, &cancelled, self.rules.gsi_write_shards).await? {
                TxOutcome::Committed => return self.refund(cancelled).await,
                TxOutcome::LostRace => continue,
                TxOutcome::Rejected(c) => {
                    return Err(CancelError::Inconsistent {
                        order_id: *order_id,
                        detail: format!("release refused: {c}"),
                    });
                }
            }
        }
        Err(CancelError::Contention(*order_id))
    }

    /// Refunds a cancelled order if it may have been charged: it went through
    /// RESERVED (a worker may charge right up to its confirm).
    async fn refund(&self, order: Order) -> Result<Order, CancelError> {
        if order.entered(OrderStatus::Reserved).is_some() {
            self.gateway
                .refund(&order.order_id)
                .await
                .map_err(|error| CancelError::RefundPending {
                    order_id: order.order_id,
                    error,
                })?;
        }
        Ok(order)
    }
}

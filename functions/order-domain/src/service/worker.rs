//! The order worker: one SQS message per order id, delivered at least once,
//! possibly to two workers at the same time.
//!
//! ```text
//! load (consistent) ──▶ CONFIRMED / FAILED / CANCELLED: done, no-op
//!   │
//!   ├─ PENDING ──▶ reserve tx: per line  ADD available -q  IF available >= q
//!   │                                     PUT RES#sku#order IF not exists
//!   │                          + order PENDING→RESERVED IF version = v
//!   │              out of stock ─▶ PENDING→FAILED (no stock touched)
//!   │
//!   ├─ HELD ─────▶ nothing: staff release it (→ RESERVED, re-enqueued) or reject it
//!   │
//!   └─ RESERVED ─▶ fraud screening (county rules; skipped once staff released it)
//!                    rule broken ─▶ hold tx (ledger HELD, no TTL) → HELD
//!                  charge(order id as idempotency key)
//!                    ok        ─▶ confirm tx (ledger CONFIRMED, no TTL) → CONFIRMED
//!                    declined  ─▶ release tx (stock back, ledger deleted) → FAILED
//!                    timeout / unavailable ─▶ retryable error: SQS redelivers
//! ```
//!
//! Every transaction is conditional on the order's `version`; losing a race
//! means someone else moved the order, so the worker reloads and carries on
//! from the new state. A crash between any two steps leaves a state the next
//! delivery resumes from: RESERVED goes straight to payment, and the gateway's
//! idempotency key makes a repeated charge return the first one.

use jiff::Timestamp;
use thiserror::Error;

use crate::clock::Clock;
use crate::codec::CorruptItem;
use crate::error::{DomainError, store_code, store_status};
use crate::ids::{OrderId, Sku};
use crate::order::{FailureReason, InvalidTransition, Order, OrderStatus};
use crate::payment::{PaymentError, PaymentGateway};
use crate::rules::CountyRules;
use crate::service::fraud::{ScreenError, screen};
use crate::service::{
    LineOp, LoadError, MAX_ATTEMPTS, OrderOp, TxOutcome, commit, confirm_tx, end_order, hold_tx,
    load_order, reservation_deadline, reserve_tx,
};
use crate::store::{Store, StoreError};

/// What [`OrderWorker::process`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessOutcome {
    /// This call confirmed the order (reserved, charged, confirmed).
    Confirmed(Order),
    /// This call failed the order (out of stock, declined, reservation expired).
    Failed(Order),
    /// Nothing to do: CONFIRMED, FAILED or CANCELLED already (a redelivery,
    /// or another worker got there first).
    AlreadyFinal(Order),
    /// Held for staff review, by this call's fraud screening or before it.
    Held(Order),
}

impl ProcessOutcome {
    pub fn order(&self) -> &Order {
        match self {
            ProcessOutcome::Confirmed(o)
            | ProcessOutcome::Failed(o)
            | ProcessOutcome::AlreadyFinal(o)
            | ProcessOutcome::Held(o) => o,
        }
    }
}

/// Why processing stopped. [`DomainError::is_retryable`] tells the handler
/// whether to report the message as a batch item failure (redeliver) or
/// acknowledge it and log.
#[derive(Debug, Error)]
pub enum ProcessError {
    /// No such order: acknowledge (nothing will ever make it exist).
    #[error("order {0} not found")]
    NotFound(OrderId),
    /// The gateway timed out or is down. Stock stays reserved; redeliver.
    #[error("payment for order {order_id} not settled, will retry: {error}")]
    PaymentRetry {
        order_id: OrderId,
        error: PaymentError,
    },
    /// A refund owed after losing a race to a cancel did not go through.
    #[error("refund for order {order_id} failed, will retry: {error}")]
    RefundRetry {
        order_id: OrderId,
        error: PaymentError,
    },
    /// Lost the optimistic-lock race too many times in a row.
    #[error("order {0} kept changing under the worker; will retry")]
    Contention(OrderId),
    /// Stored state breaks an invariant (e.g. a RESERVED order without its
    /// ledger entries). Needs a person; retrying can't fix it.
    #[error("order {order_id} is inconsistent: {detail}")]
    Inconsistent { order_id: OrderId, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Corrupt(#[from] CorruptItem),
}

impl From<ScreenError> for ProcessError {
    fn from(e: ScreenError) -> Self {
        match e {
            ScreenError::Store(e) => ProcessError::Store(e),
            ScreenError::Corrupt(e) => ProcessError::Corrupt(e),
        }
    }
}

impl From<LoadError> for ProcessError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Store(e) => ProcessError::Store(e),
            LoadError::Corrupt(e) => ProcessError::Corrupt(e),
        }
    }
}

/// The next state of `order`. Every call below is guarded by a status
/// match, so an invalid edge means a bug; report it as an inconsistency.
fn advance(order: &Order, to: OrderStatus, now: Timestamp) -> Result<Order, ProcessError> {
    order
        .transitioned(to, now)
        .map_err(|e: InvalidTransition| ProcessError::Inconsistent {
            order_id: order.order_id,
            detail: e.to_string(),
        })
}

impl ProcessError {
    /// Whether other writers of the same items stopped this call: a
    /// transaction cancelled for `TransactionConflict` (a hot SKU in a flash
    /// sale), a single-item write that met a transaction, or the order's own
    /// optimistic lock lost `MAX_ATTEMPTS` times. Nothing was left half
    /// done, and the contention is usually over in milliseconds, so the
    /// caller may call [`OrderWorker::process`] again after a jittered pause
    /// rather than wait out a queue's visibility timeout.
    pub fn is_conflict(&self) -> bool {
        match self {
            ProcessError::Contention(_) => true,
            ProcessError::Store(e) => e.is_conflict(),
            _ => false,
        }
    }
}

impl DomainError for ProcessError {
    fn http_status(&self) -> u16 {
        match self {
            ProcessError::NotFound(_) => 404,
            ProcessError::PaymentRetry { .. }
            | ProcessError::RefundRetry { .. }
            | ProcessError::Contention(_) => 503,
            ProcessError::Inconsistent { .. } | ProcessError::Corrupt(_) => 500,
            ProcessError::Store(e) => store_status(e),
        }
    }

    fn is_retryable(&self) -> bool {
        match self {
            ProcessError::PaymentRetry { .. }
            | ProcessError::RefundRetry { .. }
            | ProcessError::Contention(_) => true,
            ProcessError::Store(e) => e.is_retryable(),
            ProcessError::NotFound(_)
            | ProcessError::Inconsistent { .. }
            | ProcessError::Corrupt(_) => false,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ProcessError::NotFound(_) => "not_found",
            ProcessError::PaymentRetry { .. } => "payment_pending",
            ProcessError::RefundRetry { .. } => "refund_pending",
            ProcessError::Contention(_) => "contention",
            ProcessError::Inconsistent { .. } => "inconsistent",
            ProcessError::Store(e) => store_code(e),
            ProcessError::Corrupt(_) => "internal",
        }
    }
}

/// The SQS worker's service.
pub struct OrderWorker<S, P, C> {
    store: S,
    gateway: P,
    rules: CountyRules,
    clock: C,
}

impl<S: Store, P: PaymentGateway, C: Clock> OrderWorker<S, P, C> {
    pub fn new(store: S, gateway: P, rules: CountyRules, clock: C) -> Self {
        Self {
            store,
            gateway,
            rules,
            clock,
        }
    }

    /// Drives one order as far as it can go. Safe to call any number of
    /// times, concurrently, for the same order.
    pub async fn process(&self, order_id: &OrderId) -> Result<ProcessOutcome, ProcessError> {
        let mut known: Option<Order> = None;
        // Set once this call has a successful charge: if the order then turns
        // out cancelled or failed (a cancel won the race), the money goes back.
        let mut charged = false;
        for _ in 0..MAX_ATTEMPTS {
            let order = match known.take() {
                Some(o) => o,
                None => load_order(&self.store, order_id)
                    .await?
                    .ok_or(ProcessError::NotFound(*order_id))?,
            };
            // A migrated order the legacy system still owns is finished there,
            // never here: the message is done with, and nothing is touched.
            if order.owned_by_legacy() {
                return Ok(ProcessOutcome::AlreadyFinal(order));
            }
            match order.status {
                OrderStatus::Confirmed | OrderStatus::Fulfilled | OrderStatus::Refunded => {
                    return Ok(ProcessOutcome::AlreadyFinal(order));
                }
                OrderStatus::Failed | OrderStatus::Cancelled => {
                    if charged {
                        self.gateway.refund(order_id).await.map_err(|error| {
                            ProcessError::RefundRetry {
                                order_id: *order_id,
                                error,
                            }
                        })?;
                    }
                    return Ok(ProcessOutcome::AlreadyFinal(order));
                }
                OrderStatus::Pending => match self.reserve(&order).await? {
                    Step::Next(o) => known = Some(o),
                    Step::Reload => {}
                    Step::Done(outcome) => return Ok(outcome),
                },
                OrderStatus::Held => return Ok(ProcessOutcome::Held(order)),
                OrderStatus::Reserved => {
                    let step = match self.screen(&order).await? {
                        Some(step) => step,
                        None => self.pay(&order, &mut charged).await?,
                    };
                    match step {
                        Step::Next(o) => known = Some(o),
                        Step::Reload => {}
                        Step::Done(outcome) => return Ok(outcome),
                    }
                }
            }
        }
        Err(ProcessError::Contention(*order_id))
    }

    async fn reserve(&self, order: &Order) -> Result<Step, ProcessError> {
        let now = self.clock.now();
        let reserved = advance(order, OrderStatus::Reserved, now)?;
        let tx = reserve_tx(order, &reserved, self.rules.gsi_write_shards, now);
        match commit(&self.store, tx).await? {
            TxOutcome::Committed => Ok(Step::Next(reserved)),
            TxOutcome::LostRace => Ok(Step::Reload),
            TxOutcome::Rejected(c) => {
                let short: Vec<Sku> = order
                    .items
                    .iter()
                    .enumerate()
                    .filter(|(n, _)| c.failed(OrderOp::Line(*n, LineOp::Stock)))
                    .map(|(_, l)| l.sku.clone())
                    .collect();
                if short.is_empty() {
                    return Err(ProcessError::Inconsistent {
                        order_id: order.order_id,
                        detail: format!(
                            "PENDING but reservation refused without a stock shortage: {c}"
                        ),
                    });
                }
                let mut failed = advance(order, OrderStatus::Failed, now)?;
                failed.failure_reason = Some(FailureReason::OutOfStock { skus: short });
                self.fail(order, failed).await
            }
        }
    }

    /// The fraud step before payment: `None` to go on to payment, or the
    /// step after holding the order (RESERVED → HELD, its ledger entries
    /// kept without TTL) because it breaks one of the county's rules.
    async fn screen(&self, order: &Order) -> Result<Option<Step>, ProcessError> {
        let Some(rules) = &self.rules.fraud else {
            return Ok(None);
        };
        let Some(reason) = screen(&self.store, rules, order).await? else {
            return Ok(None);
        };
        let mut held = advance(order, OrderStatus::Held, self.clock.now())?;
        held.hold_reason = Some(reason);
        let outcome = commit(
            &self.store,
            hold_tx(order, &held, self.rules.gsi_write_shards),
        )
        .await?;
        self.finish(outcome, held, ProcessOutcome::Held).map(Some)
    }

    async fn pay(&self, order: &Order, charged: &mut bool) -> Result<Step, ProcessError> {
        let now = self.clock.now();
        if now >= self.reservation_deadline(order) {
            // Payment kept failing for longer than the county holds stock:
            // give the stock back. A charge may have gone through on an
            // earlier attempt whose answer was lost, so refund (idempotent,
            // a no-op if nothing was captured) before failing the order.
            self.gateway
                .refund(&order.order_id)
                .await
                .map_err(|error| ProcessError::RefundRetry {
                    order_id: order.order_id,
                    error,
                })?;
            let mut failed = advance(order, OrderStatus::Failed, now)?;
            failed.failure_reason = Some(FailureReason::ReservationExpired);
            return self.fail(order, failed).await;
        }
        match self
            .gateway
            .charge(&order.order_id, order.total_cents)
            .await
        {
            Ok(payment_id) => {
                *charged = true;
                let mut confirmed = advance(order, OrderStatus::Confirmed, now)?;
                confirmed.payment_id = Some(payment_id);
                let tx = confirm_tx(order, &confirmed, self.rules.gsi_write_shards);
                let outcome = commit(&self.store, tx).await?;
                self.finish(outcome, confirmed, ProcessOutcome::Confirmed)
            }
            Err(PaymentError::Declined(message)) => {
                let mut failed = advance(order, OrderStatus::Failed, now)?;
                failed.failure_reason = Some(FailureReason::PaymentDeclined { message });
                self.fail(order, failed).await
            }
            Err(error) => Err(ProcessError::PaymentRetry {
                order_id: order.order_id,
                error,
            }),
        }
    }

    /// Fails the order `order` → `failed`, releasing its reservation if it
    /// holds one (the same release a cancel makes).
    async fn fail(&self, order: &Order, failed: Order) -> Result<Step, ProcessError> {
        let outcome = end_order(&self.store, order, &failed, self.rules.gsi_write_shards).await?;
        self.finish(outcome, failed, ProcessOutcome::Failed)
    }

    /// The step after a final transition's transaction: done, or reload if
    /// the order moved meanwhile.
    fn finish(
        &self,
        tx: TxOutcome,
        next: Order,
        outcome: fn(Order) -> ProcessOutcome,
    ) -> Result<Step, ProcessError> {
        match tx {
            TxOutcome::Committed => Ok(Step::Done(outcome(next))),
            TxOutcome::LostRace => Ok(Step::Reload),
            TxOutcome::Rejected(c) => Err(ProcessError::Inconsistent {
                order_id: next.order_id,
                detail: format!(
                    "ledger or stock record missing for a {} order: {c}",
                    next.status
                ),
            }),
        }
    }

    /// When a reservation stops being worth holding: RESERVED time plus the
    /// county's reservation TTL.
    fn reservation_deadline(&self, order: &Order) -> Timestamp {
        reservation_deadline(order, self.rules.reservation_ttl_seconds)
    }
}

enum Step {
    /// Carry on with this (already written) state without a reload.
    Next(Order),
    /// Someone else moved the order: reload and look again.
    Reload,
    Done(ProcessOutcome),
}

//! The payment gateway port, and a simulated gateway for tests and local runs.
//!
//! The worker charges with the order id as the gateway's idempotency key, so a
//! redelivered message, a retry after a timeout or two concurrent workers can
//! never charge an order twice: the gateway returns the first charge's id.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::OrderId;
use crate::money::Money;

/// The gateway's id for a captured charge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PaymentId(pub String);

impl fmt::Display for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The gateway's id for a refund.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RefundId(pub String);

/// Why a charge or refund did not go through.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PaymentError {
    /// Final: the card or account said no. The order fails.
    #[error("payment declined: {0}")]
    Declined(String),
    /// The outcome is unknown (the charge may have gone through). Retry with the
    /// same idempotency key, which settles it either way.
    #[error("payment gateway timed out")]
    Timeout,
    /// The gateway could not be reached or answered 5xx. Retry later.
    #[error("payment gateway unavailable: {0}")]
    Unavailable(String),
}

impl PaymentError {
    pub const fn is_retryable(&self) -> bool {
        matches!(self, PaymentError::Timeout | PaymentError::Unavailable(_))
    }
}

/// A payment provider. `charge` and `refund` must be idempotent per order id.
pub trait PaymentGateway: Send + Sync {
    /// Charges `amount` for the order. Calling again with the same order id and
    /// amount returns the first charge's id and moves no money.
    fn charge(
        &self,
        idempotency_key: &OrderId,
        amount: Money,
    ) -> impl Future<Output = Result<PaymentId, PaymentError>> + Send;

    /// Refunds the order's charge in full. `Ok(None)` if nothing was charged,
    /// and the first refund's id if it was already refunded.
    fn refund(
        &self,
        idempotency_key: &OrderId,
    ) -> impl Future<Output = Result<Option<RefundId>, PaymentError>> + Send;
}

impl<G: PaymentGateway + ?Sized> PaymentGateway for Arc<G> {
    fn charge(
        &self,
        idempotency_key: &OrderId,
        amount: Money,
    ) -> impl Future<Output = Result<PaymentId, PaymentError>> + Send {
        (**self).charge(idempotency_key, amount)
    }

    fn refund(
        &self,
        idempotency_key: &OrderId,
    ) -> impl Future<Output = Result<Option<RefundId>, PaymentError>> + Send {
        (**self).refund(idempotency_key)
    }
}

/// How the simulated gateway treats one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behavior {
    /// Capture and answer.
    #[default]
    Approve,
    /// Decline every attempt.
    Decline,
    /// Capture, but lose the answer `times` times: the caller sees `Timeout`
    /// though the money moved. The dangerous case idempotency exists for.
    TimeoutAfterCapture { times: u32 },
    /// Answer `Timeout` `times` times without capturing.
    TimeoutBeforeCapture { times: u32 },
    /// Answer `Unavailable` `times` times without capturing.
    Unavailable { times: u32 },
}

#[derive(Debug, Default)]
struct Account {
    behavior: Behavior,
    failures_served: u32,
    attempts: u32,
    capture: Option<(PaymentId, Money)>,
    captures: u32,
    refund: Option<RefundId>,
}

/// An in-process gateway keyed by order id, for tests and local runs.
///
/// Counts attempts and captures per order so tests can assert "charged once".
#[derive(Debug, Default)]
pub struct SimulatedGateway {
    accounts: Mutex<HashMap<OrderId, Account>>,
    default_behavior: Behavior,
}

impl SimulatedGateway {
    pub fn new() -> Self {
        Self::default()
    }

    /// A gateway whose orders without an explicit behaviour behave like `b`.
    pub fn with_default(b: Behavior) -> Self {
        Self {
            accounts: Mutex::default(),
            default_behavior: b,
        }
    }

    /// Sets how `order` is treated from now on.
    pub fn set_behavior(&self, order: OrderId, behavior: Behavior) {
        let mut accounts = self.lock();
        let account = accounts.entry(order).or_default();
        account.behavior = behavior;
        account.failures_served = 0;
    }

    /// Charges that actually moved money for `order` (0 or 1 if idempotency holds).
    pub fn captures(&self, order: &OrderId) -> u32 {
        self.lock().get(order).map_or(0, |a| a.captures)
    }

    /// Calls to `charge` for `order`, successful or not.
    pub fn attempts(&self, order: &OrderId) -> u32 {
        self.lock().get(order).map_or(0, |a| a.attempts)
    }

    /// Whether `order`'s charge has been refunded.
    pub fn refunded(&self, order: &OrderId) -> bool {
        self.lock().get(order).is_some_and(|a| a.refund.is_some())
    }

    /// Sum of captures over all orders.
    pub fn total_captures(&self) -> u32 {
        self.lock().values().map(|a| a.captures).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<OrderId, Account>> {
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn charge_now(&self, order: &OrderId, amount: Money) -> Result<PaymentId, PaymentError> {
        let mut accounts = self.lock();
        let default = self.default_behavior;
        let account = accounts.entry(*order).or_insert_with(|| Account {
            behavior: default,
            ..Account::default()
        });
        account.attempts += 1;
        if let Some((id, captured)) = &account.capture {
            // Real gateways reject a reused key with a different payload.
            if *captured != amount {
                return Err(PaymentError::Declined(
                    "idempotency key reused with a different amount".into(),
                ));
            }
            let id = id.clone();
            return match account.behavior {
                Behavior::TimeoutAfterCapture { times } if account.failures_served < times => {
                    account.failures_served += 1;
                    Err(PaymentError::Timeout)
                }
                _ => Ok(id),
            };
        }
        match account.behavior {
            Behavior::Approve => Ok(capture(account, order, amount)),
            Behavior::Decline => Err(PaymentError::Declined("card declined".into())),
            Behavior::TimeoutAfterCapture { times } => {
                let id = capture(account, order, amount);
                if account.failures_served < times {
                    account.failures_served += 1;
                    Err(PaymentError::Timeout)
                } else {
                    Ok(id)
                }
            }
            Behavior::TimeoutBeforeCapture { times } if account.failures_served < times => {
                account.failures_served += 1;
                Err(PaymentError::Timeout)
            }
            Behavior::Unavailable { times } if account.failures_served < times => {
                account.failures_served += 1;
                Err(PaymentError::Unavailable("simulated outage".into()))
            }
            Behavior::TimeoutBeforeCapture { .. } | Behavior::Unavailable { .. } => {
                Ok(capture(account, order, amount))
            }
        }
    }

    fn refund_now(&self, order: &OrderId) -> Result<Option<RefundId>, PaymentError> {
        let mut accounts = self.lock();
        let Some(account) = accounts.get_mut(order) else {
            return Ok(None);
        };
        if account.capture.is_none() {
            return Ok(None);
        }
        let refund = account
            .refund
            .get_or_insert_with(|| RefundId(format!("re_{order}")))
            .clone();
        Ok(Some(refund))
    }
}

fn capture(account: &mut Account, order: &OrderId, amount: Money) -> PaymentId {
    let id = PaymentId(format!("pay_{order}"));
    account.capture = Some((id.clone(), amount));
    account.captures += 1;
    id
}

impl PaymentGateway for SimulatedGateway {
    fn charge(
        &self,
        idempotency_key: &OrderId,
        amount: Money,
    ) -> impl Future<Output = Result<PaymentId, PaymentError>> + Send {
        let result = self.charge_now(idempotency_key, amount);
        async move {
            // A real gateway is a network call: give other tasks a turn so
            // concurrency tests interleave here.
            crate::util::yield_now().await;
            result
        }
    }

    fn refund(
        &self,
        idempotency_key: &OrderId,
    ) -> impl Future<Output = Result<Option<RefundId>, PaymentError>> + Send {
        let result = self.refund_now(idempotency_key);
        async move {
            crate::util::yield_now().await;
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(n: u128) -> OrderId {
        OrderId::from_ulid(ulid::Ulid(n))
    }

    fn block<F: Future>(f: F) -> F::Output {
        crate::util::block_on(f)
    }

    #[test]
    fn approve_is_idempotent() {
        let g = SimulatedGateway::new();
        let amt = Money::from_cents(500).unwrap();
        let a = block(g.charge(&oid(1), amt)).unwrap();
        let b = block(g.charge(&oid(1), amt)).unwrap();
        assert_eq!(a, b);
        assert_eq!(g.captures(&oid(1)), 1);
        assert_eq!(g.attempts(&oid(1)), 2);
        assert!(block(g.charge(&oid(1), Money::from_cents(1).unwrap())).is_err());
    }

    #[test]
    fn timeout_after_capture_then_retry_returns_same_charge() {
        let g = SimulatedGateway::new();
        let amt = Money::from_cents(500).unwrap();
        g.set_behavior(oid(2), Behavior::TimeoutAfterCapture { times: 1 });
        assert_eq!(block(g.charge(&oid(2), amt)), Err(PaymentError::Timeout));
        assert_eq!(g.captures(&oid(2)), 1);
        assert!(block(g.charge(&oid(2), amt)).is_ok());
        assert_eq!(g.captures(&oid(2)), 1);
    }

    #[test]
    fn decline_unavailable_and_refund() {
        let g = SimulatedGateway::new();
        let amt = Money::from_cents(500).unwrap();
        g.set_behavior(oid(3), Behavior::Decline);
        assert!(matches!(
            block(g.charge(&oid(3), amt)),
            Err(PaymentError::Declined(_))
        ));
        assert_eq!(block(g.refund(&oid(3))), Ok(None));
        g.set_behavior(oid(4), Behavior::Unavailable { times: 2 });
        assert!(block(g.charge(&oid(4), amt)).is_err());
        assert!(block(g.charge(&oid(4), amt)).is_err());
        assert!(block(g.charge(&oid(4), amt)).is_ok());
        let r1 = block(g.refund(&oid(4))).unwrap();
        let r2 = block(g.refund(&oid(4))).unwrap();
        assert!(r1.is_some());
        assert_eq!(r1, r2);
        assert!(g.refunded(&oid(4)));
    }
}

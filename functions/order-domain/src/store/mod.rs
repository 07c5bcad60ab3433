//! The storage port: an SDK-free DynamoDB-shaped model and the [`Store`] trait
//! the services are generic over. With the `test-support` feature (tests and
//! the local runner, never a Lambda) it also has `MemoryStore`, an in-process
//! implementation with DynamoDB's semantics and injectable faults. The
//! write-unit meter that wraps a store lives in the `order-capacity` crate.
//!
//! A DynamoDB adapter implements [`Store`] by translating 1:1:
//!
//! | `Store` method | DynamoDB call | notes |
//! |---|---|---|
//! | [`Store::transact`] | `TransactWriteItems` | each op via [`WriteOp::render`]; on `TransactionCanceledException` map `CancellationReasons[i]` with [`CancelReason::from_code`] (same order as the ops) |
//! | [`Store::get`] | `GetItem` | `ConsistentRead` as given |
//! | [`Store::query`] | `Query` | via [`Query::render`] |
//! | [`Store::put`], [`Store::update`], [`Store::delete`] | `PutItem`, `UpdateItem` (`ReturnValues=ALL_NEW`), `DeleteItem` (`ALL_OLD`) | `ConditionalCheckFailedException` → [`StoreError::ConditionFailed`]; `TransactionConflictException` (the item is in a transaction under way) → [`StoreError::Conflict`] |
//! | [`Store::batch_put`] | `BatchWriteItem` | return `UnprocessedItems` |
//!
//! Throttling (`ProvisionedThroughputExceededException`, `ThrottlingException`,
//! `RequestLimitExceeded`) maps to [`StoreError::Throttled`]; timeouts, 5xx and
//! `InternalServerError` to [`StoreError::Unavailable`]; `ValidationException`
//! to [`StoreError::Validation`] (a bug: not retryable).

use std::future::Future;
use std::sync::Arc;

use thiserror::Error;

#[cfg(any(test, feature = "test-support"))]
mod memory;
mod plan;
mod render;
mod value;

#[cfg(any(test, feature = "test-support"))]
pub use memory::{Fault, FaultOp, MemoryStore, StoreStats};
pub use plan::{
    BATCH_WRITE_MAX, Condition, ConditionCheck, Delete, Index, MAX_PARTITION_KEY_BYTES,
    MAX_SORT_KEY_BYTES, MissingEnv, Page, PlanError, Put, Query, SortCondition, Table, TableNames,
    Transaction, Update, UpdateAction, WriteOp,
};
pub use render::{RenderedQuery, RenderedWrite, WriteKind};
pub use value::{AttrError, AttrValue, Item, ItemExt, item_size, value_size};

/// Why one op of a cancelled transaction failed. `None` in
/// [`TxCanceled::reasons`] is DynamoDB's code `"None"`: that op was fine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelReason {
    /// The op's condition was false. `item` is the item as it was, when the
    /// request asked for `ReturnValuesOnConditionCheckFailure = ALL_OLD`.
    ConditionalCheckFailed { item: Option<Item> },
    /// Another transaction or write touched the item at the same time.
    TransactionConflict,
    /// Capacity exceeded for the item's table or partition.
    Throttled,
    /// The op was malformed or would break a limit.
    Validation(String),
    /// Any other code DynamoDB may add.
    Other { code: String, message: String },
}

impl CancelReason {
    /// Maps one of DynamoDB's `CancellationReason`s. `None` for code `"None"`.
    pub fn from_code(code: &str, message: Option<&str>, item: Option<Item>) -> Option<Self> {
        Some(match code {
            "None" => return None,
            "ConditionalCheckFailed" => CancelReason::ConditionalCheckFailed { item },
            "TransactionConflict" => CancelReason::TransactionConflict,
            "ThrottlingError" | "ProvisionedThroughputExceeded" | "RequestLimitExceeded" => {
                CancelReason::Throttled
            }
            "ValidationError" | "ItemCollectionSizeLimitExceeded" => {
                CancelReason::Validation(message.unwrap_or(code).to_owned())
            }
            _ => CancelReason::Other {
                code: code.to_owned(),
                message: message.unwrap_or_default().to_owned(),
            },
        })
    }
}

/// A `TransactionCanceledException`: nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxCanceled {
    /// One entry per op, in op order.
    pub reasons: Vec<Option<CancelReason>>,
}

impl TxCanceled {
    /// Whether op `i`'s condition was false.
    pub fn condition_failed(&self, i: usize) -> bool {
        matches!(
            self.reasons.get(i),
            Some(Some(CancelReason::ConditionalCheckFailed { .. }))
        )
    }

    /// The item op `i` found, if its condition failed and the store returned it.
    pub fn failed_item(&self, i: usize) -> Option<&Item> {
        match self.reasons.get(i) {
            Some(Some(CancelReason::ConditionalCheckFailed { item })) => item.as_ref(),
            _ => None,
        }
    }

    /// True when another transaction touching one of its items stopped it
    /// (and nothing but contention or throttling did): DynamoDB cancels the
    /// loser of such a race outright, so trying the same transaction again
    /// after a short, jittered pause is the cure.
    pub fn is_conflict(&self) -> bool {
        self.is_retryable()
            && self
                .reasons
                .iter()
                .flatten()
                .any(|r| matches!(r, CancelReason::TransactionConflict))
    }

    /// True when only contention or throttling stopped it: the same
    /// transaction may succeed if tried again.
    pub fn is_retryable(&self) -> bool {
        let mut any = false;
        for r in self.reasons.iter().flatten() {
            match r {
                CancelReason::TransactionConflict | CancelReason::Throttled => any = true,
                _ => return false,
            }
        }
        any
    }
}

impl std::fmt::Display for TxCanceled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[")?;
        for (i, r) in self.reasons.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match r {
                None => f.write_str("None")?,
                Some(CancelReason::ConditionalCheckFailed { .. }) => {
                    f.write_str("ConditionalCheckFailed")?
                }
                Some(CancelReason::TransactionConflict) => f.write_str("TransactionConflict")?,
                Some(CancelReason::Throttled) => f.write_str("Throttled")?,
                Some(CancelReason::Validation(m)) => write!(f, "ValidationError({m})")?,
                Some(CancelReason::Other { code, .. }) => f.write_str(code)?,
            }
        }
        f.write_str("]")
    }
}

/// A store call failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    #[error("transaction cancelled: {0}")]
    TransactionCanceled(TxCanceled),
    /// A single-item write's condition was false.
    #[error("conditional check failed")]
    ConditionFailed { item: Option<Item> },
    /// A single-item write met a transaction under way on the same item
    /// (`TransactionConflictException`): nothing was written; retryable.
    #[error("write conflicted with a transaction in progress: {0}")]
    Conflict(String),
    #[error("throttled: {0}")]
    Throttled(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The request was malformed: a bug, so not retryable.
    #[error("store rejected the request: {0}")]
    Validation(String),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Throttled(_) | StoreError::Unavailable(_) | StoreError::Conflict(_) => true,
            StoreError::TransactionCanceled(c) => c.is_retryable(),
            StoreError::ConditionFailed { .. }
            | StoreError::Validation(_)
            | StoreError::Plan(_) => false,
        }
    }

    /// Whether another writer of the same item stopped this call (a
    /// cancelled transaction's `TransactionConflict`, or a single-item
    /// write's `TransactionConflictException`): worth retrying at once, with
    /// jittered backoff, rather than after a queue's visibility timeout.
    pub fn is_conflict(&self) -> bool {
        match self {
            StoreError::Conflict(_) => true,
            StoreError::TransactionCanceled(c) => c.is_conflict(),
            _ => false,
        }
    }

    /// The cancellation details, if this is a cancelled transaction.
    pub fn canceled(&self) -> Option<&TxCanceled> {
        match self {
            StoreError::TransactionCanceled(c) => Some(c),
            _ => None,
        }
    }
}

/// Key-value storage with DynamoDB's semantics. Implemented by the DynamoDB
/// adapter (elsewhere) and, for tests, by `MemoryStore`.
///
/// Methods return `impl Future + Send` so services can run on a multi-threaded
/// runtime; implementations may write `async fn`.
pub trait Store: Send + Sync {
    /// All ops or none (`TransactWriteItems`).
    fn transact(&self, tx: Transaction) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One item by primary key (`GetItem`).
    fn get(
        &self,
        table: Table,
        key: Item,
        consistent: bool,
    ) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send;

    /// One page of a partition (`Query`).
    fn query(&self, query: Query) -> impl Future<Output = Result<Page, StoreError>> + Send;

    /// `PutItem` with an optional condition.
    fn put(&self, put: Put) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// `UpdateItem`; returns the item after the update (`ALL_NEW`).
    fn update(&self, update: Update) -> impl Future<Output = Result<Item, StoreError>> + Send;

    /// `DeleteItem`; returns the deleted item (`ALL_OLD`), if there was one.
    fn delete(
        &self,
        delete: Delete,
    ) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send;

    /// `BatchWriteItem` puts, at most [`BATCH_WRITE_MAX`] items, no conditions.
    /// Returns the items not written (throttled): the caller retries them.
    fn batch_put(
        &self,
        table: Table,
        items: Vec<Item>,
    ) -> impl Future<Output = Result<Vec<Item>, StoreError>> + Send;
}

impl<S: Store + ?Sized> Store for Arc<S> {
    fn transact(&self, tx: Transaction) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).transact(tx)
    }
    fn get(
        &self,
        table: Table,
        key: Item,
        consistent: bool,
    ) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send {
        (**self).get(table, key, consistent)
    }
    fn query(&self, query: Query) -> impl Future<Output = Result<Page, StoreError>> + Send {
        (**self).query(query)
    }
    fn put(&self, put: Put) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).put(put)
    }
    fn update(&self, update: Update) -> impl Future<Output = Result<Item, StoreError>> + Send {
        (**self).update(update)
    }
    fn delete(
        &self,
        delete: Delete,
    ) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send {
        (**self).delete(delete)
    }
    fn batch_put(
        &self,
        table: Table,
        items: Vec<Item>,
    ) -> impl Future<Output = Result<Vec<Item>, StoreError>> + Send {
        (**self).batch_put(table, items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_reasons_from_codes() {
        assert_eq!(CancelReason::from_code("None", None, None), None);
        assert_eq!(
            CancelReason::from_code("ConditionalCheckFailed", None, None),
            Some(CancelReason::ConditionalCheckFailed { item: None })
        );
        let c = TxCanceled {
            reasons: vec![
                None,
                CancelReason::from_code("TransactionConflict", None, None),
            ],
        };
        assert!(c.is_retryable());
        assert!(c.is_conflict());
        assert!(StoreError::TransactionCanceled(c.clone()).is_retryable());
        assert!(StoreError::TransactionCanceled(c.clone()).is_conflict());
        let throttled = TxCanceled {
            reasons: vec![CancelReason::from_code("ThrottlingError", None, None)],
        };
        assert!(throttled.is_retryable() && !throttled.is_conflict());
        let single = StoreError::Conflict("PutItem".into());
        assert!(single.is_retryable() && single.is_conflict());
        assert!(!StoreError::Throttled("x".into()).is_conflict());
        let c = TxCanceled {
            reasons: vec![
                CancelReason::from_code("ConditionalCheckFailed", None, None),
                CancelReason::from_code("TransactionConflict", None, None),
            ],
        };
        assert!(!c.is_retryable());
        assert!(!c.is_conflict());
        assert!(c.condition_failed(0));
        assert!(!c.condition_failed(1));
        assert!(!c.condition_failed(7));
        assert_eq!(
            c.to_string(),
            "[ConditionalCheckFailed, TransactionConflict]"
        );
    }
}

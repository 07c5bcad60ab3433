//! The services the Lambdas call, generic over [`Store`], [`Clock`] and
//! (where needed) [`IdGenerator`] and [`PaymentGateway`].
//!
//! | Lambda | service | call |
//! |---|---|---|
//! | API `POST /orders` | [`AcceptService`] | [`AcceptService::accept`] |
//! | API `GET /orders/{id}`, lists | [`OrderQueries`] | `get_order`, `customer_orders`, ... |
//! | API `POST /orders/{id}/cancel` | [`CancelService`] | [`CancelService::cancel`] |
//! | API `PUT`/`GET /customers/{id}` | [`CustomerService`] | `put`, `get` |
//! | API `POST /orders/{id}/release`, `/reject`, `/fulfill` (staff) | [`ReviewService`] | `release`, `reject`, `fulfill` |
//! | worker (SQS) | [`OrderWorker`] | [`OrderWorker::process`] per message |
//! | stream publisher | [`crate::events`] | `derive_event`, `outbox_decision` |
//! | scheduled sweeper | [`Sweeper`], [`Expiry`] | [`Sweeper::stale_pending`], [`Sweeper::expiry_candidates`], [`Expiry::release_if_expired`] |
//!
//! Every status change is one transaction that writes the OrderById record
//! and the Orders summary together, conditional on the record's `version`, so
//! concurrent deliveries of the same message race safely: one wins, the others
//! see a failed condition, reload and find the work done.
//!
//! [`Clock`]: crate::clock::Clock
//! [`IdGenerator`]: crate::clock::IdGenerator
//! [`PaymentGateway`]: crate::payment::PaymentGateway

mod accept;
mod cancel;
mod customers;
mod fraud;
mod queries;
mod review;
mod sweeper;
mod worker;

pub use accept::{
    AcceptError, AcceptOp, AcceptOutcome, AcceptPlan, AcceptService, Accepted, CustomerRefusal,
    MAX_BODY_BYTES, MAX_LISTED_PROBLEMS, RequestedLine, ValidatedRequest, check_age, parse_request,
    plan_accept,
};
pub use cancel::{CancelError, CancelService};
pub use customers::{CustomerError, CustomerService, Upsert};
pub use fraud::SCREEN_SCAN_LIMIT;
pub use queries::{MAX_PAGE_SIZE, OrderQueries, OrdersPage, QueryError};
pub use review::{Action as ReviewAction, ReviewError, ReviewService};
pub use sweeper::{EXPIRY_SETTLE_SECONDS, Expired, Expiry, Sweeper};
pub use worker::{OrderWorker, ProcessError, ProcessOutcome};

use jiff::Timestamp;

use crate::codec::{self, CorruptItem};
use crate::ids::OrderId;
use crate::order::Order;
use crate::schema::{inventory as inv, order_by_id, orders};
use crate::store::{
    AttrValue, Condition, Delete, Item, Put, Store, StoreError, Table, Transaction, TxCanceled,
    Update, UpdateAction, WriteOp,
};

/// How many times a service reloads and retries after losing an optimistic
/// lock race before giving up with a retryable error.
pub(crate) const MAX_ATTEMPTS: usize = 5;

/// When a reservation stops being worth holding: the time the order entered
/// RESERVED plus the county's `reservation_ttl_seconds`. The worker stops
/// charging at this instant; the sweeper releases after it (plus
/// [`EXPIRY_SETTLE_SECONDS`]).
pub(crate) fn reservation_deadline(order: &Order, ttl_seconds: u32) -> Timestamp {
    let since = order
        .entered(crate::order::OrderStatus::Reserved)
        .unwrap_or(order.updated_at);
    since
        .checked_add(jiff::SignedDuration::from_secs(i64::from(ttl_seconds)))
        .unwrap_or(since)
}

/// A transaction op by name. DynamoDB explains a cancelled transaction with
/// one reason per op, in the order the ops were sent; a name stands for that
/// position so code asks about the op it means.
pub trait TxOp: Copy {
    fn position(self) -> usize;
}

/// [`TxCanceled`] read by op name.
pub(crate) trait CanceledOps {
    /// Whether `op`'s condition was false.
    fn failed(&self, op: impl TxOp) -> bool;
    /// The item `op` found, if its condition failed and the store returned it.
    fn found(&self, op: impl TxOp) -> Option<&Item>;
}

impl CanceledOps for TxCanceled {
    fn failed(&self, op: impl TxOp) -> bool {
        self.condition_failed(op.position())
    }
    fn found(&self, op: impl TxOp) -> Option<&Item> {
        self.failed_item(op.position())
    }
}

/// Failure while loading an order.
#[derive(Debug)]
pub(crate) enum LoadError {
    Store(StoreError),
    Corrupt(CorruptItem),
}

/// Reads the OrderById record with a strongly consistent read: every
/// decision below is checked against `version`, so it must be fresh.
pub(crate) async fn load_order<S: Store>(
    store: &S,
    order_id: &OrderId,
) -> Result<Option<Order>, LoadError> {
    let item = store
        .get(Table::OrderById, codec::order_key(order_id), true)
        .await
        .map_err(LoadError::Store)?;
    item.map(|i| codec::order_from_item(&i))
        .transpose()
        .map_err(LoadError::Corrupt)
}

/// What an op of an order transaction does to one order line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineOp {
    /// The line's stock record (`available`).
    Stock,
    /// The line's reservation ledger entry.
    Ledger,
}

/// An op of an order transaction, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrderOp {
    /// Line `n`'s op of this kind.
    Line(usize, LineOp),
    /// The OrderById record, conditional on the order's version.
    Record,
    /// The Orders summary, likewise.
    Summary,
}

/// An order transaction being built: each op with its name, so a refusal
/// can be read by name whatever the number of lines.
pub(crate) struct OrderTx {
    ops: Vec<WriteOp>,
    names: Vec<OrderOp>,
}

impl OrderTx {
    fn with_capacity(n: usize) -> Self {
        Self {
            ops: Vec::with_capacity(n),
            names: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, name: OrderOp, op: WriteOp) {
        self.ops.push(op);
        self.names.push(name);
    }

    /// Adds the status change `prev` → `next`, the last two ops.
    fn change_status(mut self, prev: &Order, next: &Order, shards: u32) -> Self {
        let [record, summary] = status_writes(prev, next, shards);
        self.push(OrderOp::Record, record);
        self.push(OrderOp::Summary, summary);
        self
    }
}

/// A refused order transaction, read by op name.
#[derive(Debug)]
pub(crate) struct Refusal {
    reasons: TxCanceled,
    names: Vec<OrderOp>,
}

impl Refusal {
    /// Whether `op`'s condition was false.
    pub(crate) fn failed(&self, op: OrderOp) -> bool {
        self.names
            .iter()
            .position(|n| *n == op)
            .is_some_and(|i| self.reasons.condition_failed(i))
    }

    /// The order's optimistic lock failed: someone else moved it.
    fn lost_race(&self) -> bool {
        self.failed(OrderOp::Record) || self.failed(OrderOp::Summary)
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.reasons.fmt(f)
    }
}

/// How an order transaction ended.
#[derive(Debug)]
pub(crate) enum TxOutcome {
    Committed,
    /// The order's version moved under us: reload and look again.
    LostRace,
    /// Some other op's condition failed (not retryable); the details.
    Rejected(Refusal),
}

/// Runs an order transaction and sorts out why it failed, if it did:
/// losing the order's optimistic lock is [`TxOutcome::LostRace`], any other
/// failed condition [`TxOutcome::Rejected`]; contention, throttling and
/// outages stay errors (retryable ones).
pub(crate) async fn commit<S: Store>(store: &S, tx: OrderTx) -> Result<TxOutcome, StoreError> {
    let OrderTx { ops, names } = tx;
    match store.transact(Transaction::new(ops)?).await {
        Ok(()) => Ok(TxOutcome::Committed),
        Err(StoreError::TransactionCanceled(reasons)) => {
            let refusal = Refusal { reasons, names };
            if refusal.lost_race() {
                Ok(TxOutcome::LostRace)
            } else if refusal.reasons.is_retryable() {
                Err(StoreError::TransactionCanceled(refusal.reasons))
            } else {
                Ok(TxOutcome::Rejected(refusal))
            }
        }
        Err(e) => Err(e),
    }
}

/// Ends an order: `prev` → `next` (FAILED or CANCELLED), releasing the
/// reservation in the same transaction if `prev` holds one (RESERVED or
/// CONFIRMED: stock put back, ledger entries deleted), else just the status
/// change. Shared by cancels and the worker's failures, so stock is released
/// one way only.
pub(crate) async fn end_order<S: Store>(
    store: &S,
    prev: &Order,
    next: &Order,
    shards: u32,
) -> Result<TxOutcome, StoreError> {
    let tx = if prev.status.holds_stock() {
        release_tx(prev, next, shards)
    } else {
        status_tx(prev, next, shards)
    };
    commit(store, tx).await
}

/// The two writes of a status change `prev` → `next`: replace the OrderById
/// record and the Orders summary, both conditional on `prev.version`.
pub(crate) fn status_writes(prev: &Order, next: &Order, shards: u32) -> [WriteOp; 2] {
    let same_version = Condition::equals(order_by_id::VERSION, AttrValue::n(prev.version));
    [
        WriteOp::Put(Put {
            table: Table::OrderById,
            item: codec::order_to_item(next),
            condition: Some(Condition::And(vec![
                same_version.clone(),
                Condition::equals(order_by_id::STATUS, AttrValue::s(prev.status.as_str())),
            ])),
        }),
        WriteOp::Put(Put {
            table: Table::Orders,
            item: codec::summary_item(next, shards),
            condition: Some(Condition::equals(
                orders::VERSION,
                AttrValue::n(prev.version),
            )),
        }),
    ]
}

/// A status change with no stock involved (PENDING → FAILED or CANCELLED).
pub(crate) fn status_tx(prev: &Order, next: &Order, shards: u32) -> OrderTx {
    OrderTx::with_capacity(2).change_status(prev, next, shards)
}

/// PENDING → RESERVED: per line, take the units from the stock record only if
/// enough are available, and write the ledger entry only if absent (so a
/// retried reservation can never take stock twice). The entry has no TTL:
/// it leaves the table only in the transaction that gives its units back
/// ([`release_tx`]), so DynamoDB can never delete units out of the ledger.
pub(crate) fn reserve_tx(prev: &Order, next: &Order, shards: u32, now: Timestamp) -> OrderTx {
    let mut tx = OrderTx::with_capacity(prev.items.len() * 2 + 2);
    for (n, line) in prev.items.iter().enumerate() {
        let q = i64::from(line.quantity);
        let stock = WriteOp::Update(Update {
            table: Table::Inventory,
            key: codec::stock_key(&prev.store_id, &line.sku),
            actions: vec![UpdateAction::Add(inv::AVAILABLE.into(), -q)],
            // Fails on a missing stock record too: absent attributes compare false.
            condition: Some(Condition::at_least(inv::AVAILABLE, q)),
        });
        let ledger = WriteOp::Put(Put {
            table: Table::Inventory,
            item: codec::reservation_item(&prev.store_id, line, &prev.order_id, now),
            condition: Some(Condition::not_exists(inv::SK)),
        });
        tx.push(OrderOp::Line(n, LineOp::Stock), stock);
        tx.push(OrderOp::Line(n, LineOp::Ledger), ledger);
    }
    tx.change_status(prev, next, shards)
}

/// RESERVED or CONFIRMED → FAILED or CANCELLED: put the units back and delete
/// the ledger entries. Each delete requires its entry to exist, so stock can
/// never be released twice.
pub(crate) fn release_tx(prev: &Order, next: &Order, shards: u32) -> OrderTx {
    let mut tx = OrderTx::with_capacity(prev.items.len() * 2 + 2);
    for (n, line) in prev.items.iter().enumerate() {
        let stock = WriteOp::Update(Update {
            table: Table::Inventory,
            key: codec::stock_key(&prev.store_id, &line.sku),
            actions: vec![UpdateAction::Add(
                inv::AVAILABLE.into(),
                i64::from(line.quantity),
            )],
            // Never create a stock record from a release.
            condition: Some(Condition::exists(inv::SK)),
        });
        let ledger = WriteOp::Delete(Delete {
            table: Table::Inventory,
            key: codec::reservation_key(&prev.store_id, &line.sku, &prev.order_id),
            condition: Some(Condition::exists(inv::SK)),
        });
        tx.push(OrderOp::Line(n, LineOp::Stock), stock);
        tx.push(OrderOp::Line(n, LineOp::Ledger), ledger);
    }
    tx.change_status(prev, next, shards)
}

/// RESERVED → CONFIRMED: mark the ledger entries sold; the stock was
/// already taken.
pub(crate) fn confirm_tx(prev: &Order, next: &Order, shards: u32) -> OrderTx {
    let mut tx = OrderTx::with_capacity(prev.items.len() + 2);
    for (n, line) in prev.items.iter().enumerate() {
        let ledger = WriteOp::Update(Update {
            table: Table::Inventory,
            key: codec::reservation_key(&prev.store_id, &line.sku, &prev.order_id),
            actions: vec![UpdateAction::Set(
                inv::STATE.into(),
                AttrValue::s(codec::RESERVATION_CONFIRMED),
            )],
            condition: Some(Condition::exists(inv::SK)),
        });
        tx.push(OrderOp::Line(n, LineOp::Ledger), ledger);
    }
    tx.change_status(prev, next, shards)
}

/// Sets every line's ledger entry to `state`, each conditional on the entry
/// existing. Ledger entries carry no expiry: the sweeper releases a RESERVED
/// order's stock after its reservation deadline, which the order's history
/// gives (`reservation_deadline`).
fn ledger_state_tx(prev: &Order, state: &str) -> OrderTx {
    let mut tx = OrderTx::with_capacity(prev.items.len() + 2);
    for (n, line) in prev.items.iter().enumerate() {
        let ledger = WriteOp::Update(Update {
            table: Table::Inventory,
            key: codec::reservation_key(&prev.store_id, &line.sku, &prev.order_id),
            actions: vec![UpdateAction::Set(inv::STATE.into(), AttrValue::s(state))],
            condition: Some(Condition::exists(inv::SK)),
        });
        tx.push(OrderOp::Line(n, LineOp::Ledger), ledger);
    }
    tx
}

/// RESERVED → HELD: the ledger entries become `HELD`, so the stock stays
/// reserved for as long as review takes; the sweeper releases only RESERVED
/// orders past their deadline, never a HELD one.
pub(crate) fn hold_tx(prev: &Order, next: &Order, shards: u32) -> OrderTx {
    ledger_state_tx(prev, codec::RESERVATION_HELD).change_status(prev, next, shards)
}

/// HELD → RESERVED (staff released it): the ledger entries are `RESERVED`
/// again; the order's reservation deadline starts over from this RESERVED
/// entry in its history.
pub(crate) fn unhold_tx(prev: &Order, next: &Order, shards: u32) -> OrderTx {
    ledger_state_tx(prev, codec::RESERVATION_RESERVED).change_status(prev, next, shards)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::OrderStatus;
    use crate::store::Transaction;

    #[test]
    fn transactions_fit_dynamodb_at_the_line_item_limit() {
        let mut o = crate::codec::tests_support::sample_order();
        o.status = OrderStatus::Pending;
        let line = o.items[0].clone();
        o.items = (0..crate::rules::MAX_LINE_ITEMS_PER_ORDER)
            .map(|i| crate::order::LineItem {
                sku: crate::ids::Sku::parse(&format!("SKU-{i}")).unwrap(),
                ..line.clone()
            })
            .collect();
        let now = o.created_at;
        let reserved = o.transitioned(OrderStatus::Reserved, now).unwrap();
        let r = reserve_tx(&o, &reserved, 8, now);
        assert_eq!(r.ops.len(), 100);
        assert_eq!(r.names[1], OrderOp::Line(0, LineOp::Ledger));
        assert_eq!(r.names[98..], [OrderOp::Record, OrderOp::Summary]);
        assert!(Transaction::new(r.ops).is_ok());
        let failed = reserved.transitioned(OrderStatus::Failed, now).unwrap();
        assert!(Transaction::new(release_tx(&reserved, &failed, 8).ops).is_ok());
        let confirmed = reserved.transitioned(OrderStatus::Confirmed, now).unwrap();
        assert!(Transaction::new(confirm_tx(&reserved, &confirmed, 8).ops).is_ok());
    }
}

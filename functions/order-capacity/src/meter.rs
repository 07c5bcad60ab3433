//! Capacity metering: the write units DynamoDB would charge for what a
//! [`Store`] is asked to do, so the cost of a flow is measured by running it
//! (`cargo run -p order-capacity --example write-units`) rather than worked
//! out by hand.
//!
//! [`MeteredStore`] wraps any store, reads each written item before and after
//! the write, and prices the change with DynamoDB's documented rules (Amazon
//! DynamoDB Developer Guide: "DynamoDB item sizes and formats", "DynamoDB read
//! and write operations", "Global secondary indexes: write capacity
//! considerations", "Amazon DynamoDB Transactions: capacity management"):
//!
//! | what | rule |
//! |---|---|
//! | item size ([`item_size`]) | Σ over attributes of (UTF-8 bytes of the name + size of the value); `S`: UTF-8 bytes; `N`: 1 byte per two significant digits + 1 (leading and trailing zeros trimmed); `BOOL`, `NULL`: 1; `L`, `M`: 3 + Σ over elements of (1 + element size, a map element's name included) |
//! | a write | 1 write unit per started 1 KB, at least 1; `PutItem` and `UpdateItem` of an existing item count the larger of the item before and after; `DeleteItem` the deleted item |
//! | in `TransactWriteItems` | every write costs twice (prepare and commit); a `ConditionCheck` writes nothing and costs a transactional read: 2 read units per started 4 KB |
//! | each global secondary index | the index entry is the projected item (table keys, index keys, projected attributes). A write that puts an item into the index costs a put of its entry; one that takes it out, a delete of the old entry; one that changes the index key, both; one that only changes projected attributes, one write; one that changes neither, nothing. Each index write costs 1 unit per started 1 KB of its entry |
//!
//! Index writes are charged at the standard rate, not doubled inside a
//! transaction: DynamoDB propagates a transaction's changes to its indexes
//! after the transaction commits ([`INDEX_TRANSACTION_FACTOR`]).
//!
//! Not priced: reads other than condition checks, writes that failed (a
//! cancelled transaction or a failed condition is counted in [`Usage`], not
//! priced), storage, and streams (which cost no write units). The
//! before-and-after reads are made on the wrapped store and are not atomic
//! with the write: the meter is for measuring one flow at a time, not for
//! concurrent production traffic.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};

use order_domain::store::{
    AttrValue, Delete, Index, Item, Page, Put, Query, Store, StoreError, Table, Transaction,
    Update, WriteOp,
};
pub use order_domain::store::{item_size, value_size};

/// Bytes one write unit covers.
pub const WRITE_UNIT_BYTES: usize = 1024;
/// Bytes one read unit covers.
pub const READ_UNIT_BYTES: usize = 4096;
/// Every write and read inside a transaction costs this many times its
/// standard price.
pub const TRANSACTION_FACTOR: u64 = 2;
/// What a transaction's index writes cost relative to the standard price:
/// DynamoDB propagates a committed transaction's changes to its indexes
/// afterwards, outside the transaction, so they are standard writes. (The
/// guide does not state this in so many words; if it ever proves otherwise,
/// this is the one number to change.)
pub const INDEX_TRANSACTION_FACTOR: u64 = 1;

/// Write units for a write of `bytes`: one per started kilobyte, at least one.
pub fn write_units(bytes: usize) -> u64 {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as u64
}

/// Read units for a strongly consistent read of `bytes`: one per started
/// 4 KB, at least one.
pub fn read_units(bytes: usize) -> u64 {
    bytes.div_ceil(READ_UNIT_BYTES).max(1) as u64
}

/// How one global secondary index is laid out: which table it indexes, its
/// keys and the non-key attributes it projects (`INCLUDE`; empty is
/// `KEYS_ONLY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexLayout {
    pub index: Index,
    pub projected: Vec<&'static str>,
}

impl IndexLayout {
    /// The index entry `item` has, or `None` if it is not in the index (an
    /// index is sparse: an item without both index keys is not in it).
    pub fn entry(&self, item: &Item) -> Option<Item> {
        let table = self.index.table();
        let keys = [self.index.partition_key(), self.index.sort_key()];
        if keys.iter().any(|k| !item.contains_key(*k)) {
            return None;
        }
        let attrs = keys
            .into_iter()
            .chain([table.partition_key()])
            .chain(table.sort_key())
            .chain(self.projected.iter().copied());
        Some(
            attrs
                .filter_map(|a| item.get(a).map(|v| (a.to_owned(), v.clone())))
                .collect(),
        )
    }

    fn key_of<'i>(&self, entry: &'i Item) -> [Option<&'i AttrValue>; 2] {
        [
            entry.get(self.index.partition_key()),
            entry.get(self.index.sort_key()),
        ]
    }
}

/// The indexes the meter charges for. [`Layout::deployed`] is what the stack
/// generator builds; other layouts price "what if" designs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub indexes: Vec<IndexLayout>,
}

impl Layout {
    /// The county stack's indexes: every index of every table, projecting
    /// `INCLUDE` of [`Index::projected`] (the stack generator reads the same
    /// constants).
    pub fn deployed() -> Self {
        Self {
            indexes: Table::ALL
                .iter()
                .flat_map(|t| t.indexes())
                .map(|&index| IndexLayout {
                    index,
                    projected: index.projected().to_vec(),
                })
                .collect(),
        }
    }

    /// This layout with `index` projecting `projected` instead.
    pub fn with_projection(mut self, index: Index, projected: &[&'static str]) -> Self {
        for l in self.indexes.iter_mut().filter(|l| l.index == index) {
            l.projected = projected.to_vec();
        }
        self
    }

    fn of(&self, table: Table) -> impl Iterator<Item = &IndexLayout> {
        self.indexes
            .iter()
            .filter(move |l| l.index.table() == table)
    }
}

impl Default for Layout {
    fn default() -> Self {
        Self::deployed()
    }
}

/// Where capacity is consumed: a table or one of its indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Table(Table),
    Index(Index),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Table(t) => f.write_str(t.logical()),
            Target::Index(i) => write!(f, "{}/{}", i.table().logical(), i.name()),
        }
    }
}

/// What a charge is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Put,
    Update,
    Delete,
    /// A transaction's condition-only op: a read.
    ConditionCheck,
    /// An item entering an index, or its new entry after a key change.
    IndexPut,
    /// An item leaving an index, or its old entry after a key change.
    IndexDelete,
    /// New values of projected attributes, same index key.
    IndexUpdate,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Put => "put",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::ConditionCheck => "condition check",
            Action::IndexPut => "index put",
            Action::IndexDelete => "index delete",
            Action::IndexUpdate => "index update",
        })
    }
}

/// The capacity one action consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub target: Target,
    pub action: Action,
    /// The size the charge is based on.
    pub bytes: usize,
    pub write_units: u64,
    pub read_units: u64,
    /// The partition key value the charge lands on (the item's, or the index
    /// entry's), as text: what the planner groups by to find the hottest
    /// partition. `None` only if the item lacks its key.
    pub partition: Option<String>,
}

/// `item`'s value of `attr` as text: a key's string or number.
fn key_text(item: &Item, attr: &str) -> Option<String> {
    match item.get(attr)? {
        AttrValue::S(s) | AttrValue::N(s) => Some(s.clone()),
        other => Some(format!("{other:?}")),
    }
}

/// Prices a write to `table` that changed an item from `before` to `after`
/// (`None`: absent), inside a transaction or not: the table write, then each
/// index write it causes. `action` is the table write's kind (`Put`, `Update`
/// or `Delete`).
pub fn price_write(
    layout: &Layout,
    table: Table,
    action: Action,
    before: Option<&Item>,
    after: Option<&Item>,
    transactional: bool,
) -> Vec<Charge> {
    let size = |i: Option<&Item>| i.map_or(0, item_size);
    let bytes = match action {
        Action::Delete => size(before),
        _ => size(before).max(size(after)),
    };
    let (factor, index_factor) = if transactional {
        (TRANSACTION_FACTOR, INDEX_TRANSACTION_FACTOR)
    } else {
        (1, 1)
    };
    let partition = after
        .or(before)
        .and_then(|i| key_text(i, table.partition_key()));
    let mut charges = vec![Charge {
        target: Target::Table(table),
        action,
        bytes,
        write_units: write_units(bytes) * factor,
        read_units: 0,
        partition,
    }];
    for index in layout.of(table) {
        let old = before.and_then(|i| index.entry(i));
        let new = after.and_then(|i| index.entry(i));
        let charge = |action, entry: &Item| {
            let bytes = item_size(entry);
            Charge {
                target: Target::Index(index.index),
                action,
                bytes,
                write_units: write_units(bytes) * index_factor,
                read_units: 0,
                partition: key_text(entry, index.index.partition_key()),
            }
        };
        match (&old, &new) {
            (None, None) => {}
            (None, Some(n)) => charges.push(charge(Action::IndexPut, n)),
            (Some(o), None) => charges.push(charge(Action::IndexDelete, o)),
            (Some(o), Some(n)) if index.key_of(o) != index.key_of(n) => {
                charges.push(charge(Action::IndexDelete, o));
                charges.push(charge(Action::IndexPut, n));
            }
            (Some(o), Some(n)) if o != n => {
                let mut c = charge(Action::IndexUpdate, n);
                c.bytes = c.bytes.max(item_size(o));
                c.write_units = write_units(c.bytes) * index_factor;
                charges.push(c);
            }
            (Some(_), Some(_)) => {}
        }
    }
    charges
}

/// Prices a transaction's `ConditionCheck` on `item` (absent: the smallest
/// read).
pub fn price_condition_check(table: Table, item: Option<&Item>) -> Charge {
    let bytes = item.map_or(0, item_size);
    Charge {
        target: Target::Table(table),
        action: Action::ConditionCheck,
        bytes,
        write_units: 0,
        read_units: read_units(bytes) * TRANSACTION_FACTOR,
        partition: item.and_then(|i| key_text(i, table.partition_key())),
    }
}

/// The DynamoDB call a [`Request`] was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    TransactWriteItems,
    PutItem,
    UpdateItem,
    DeleteItem,
    BatchWriteItem,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One successful write call and what it consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub call: Call,
    pub charges: Vec<Charge>,
}

impl Request {
    pub fn write_units(&self) -> u64 {
        self.charges.iter().map(|c| c.write_units).sum()
    }

    pub fn read_units(&self) -> u64 {
        self.charges.iter().map(|c| c.read_units).sum()
    }
}

/// Capacity consumed on one table or index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TargetUsage {
    /// Writes (or condition checks) charged.
    pub actions: u64,
    pub write_units: u64,
    pub read_units: u64,
}

/// What a metered store consumed since it was last [taken](MeteredStore::take).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Usage {
    /// Successful write calls, in order.
    pub requests: Vec<Request>,
    /// Transactions DynamoDB would have cancelled (not priced).
    pub canceled_transactions: u64,
    /// Single writes whose condition failed (not priced).
    pub failed_writes: u64,
}

impl Usage {
    pub fn charges(&self) -> impl Iterator<Item = &Charge> {
        self.requests.iter().flat_map(|r| &r.charges)
    }

    pub fn write_units(&self) -> u64 {
        self.charges().map(|c| c.write_units).sum()
    }

    pub fn read_units(&self) -> u64 {
        self.charges().map(|c| c.read_units).sum()
    }

    /// Totals per table and index, tables first.
    pub fn by_target(&self) -> BTreeMap<Target, TargetUsage> {
        let mut out: BTreeMap<Target, TargetUsage> = BTreeMap::new();
        for c in self.charges() {
            let t = out.entry(c.target).or_default();
            t.actions += 1;
            t.write_units += c.write_units;
            t.read_units += c.read_units;
        }
        out
    }

    /// Write units charged to `target`.
    pub fn write_units_of(&self, target: Target) -> u64 {
        self.by_target().get(&target).map_or(0, |t| t.write_units)
    }

    /// Write units charged to indexes.
    pub fn index_write_units(&self) -> u64 {
        self.charges()
            .filter(|c| matches!(c.target, Target::Index(_)))
            .map(|c| c.write_units)
            .sum()
    }

    /// This usage followed by `other`'s.
    pub fn merged(mut self, other: Usage) -> Usage {
        self.requests.extend(other.requests);
        self.canceled_transactions += other.canceled_transactions;
        self.failed_writes += other.failed_writes;
        self
    }

    /// Every charge, one line each, grouped by request.
    pub fn details(&self) -> String {
        let mut out = String::new();
        for (i, r) in self.requests.iter().enumerate() {
            out.push_str(&format!(
                "  {}. {} ({} WCU)\n",
                i + 1,
                r.call,
                r.write_units()
            ));
            for c in &r.charges {
                let units = if c.read_units > 0 {
                    format!("{} RCU", c.read_units)
                } else {
                    format!("{} WCU", c.write_units)
                };
                out.push_str(&format!(
                    "     {:<28} {:<15} {:>5} B  {units}\n",
                    c.target.to_string(),
                    c.action.to_string(),
                    c.bytes,
                ));
            }
        }
        out
    }
}

/// The per-target totals as a table.
impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  {:<28} {:>7} {:>5} {:>5}",
            "table or index", "writes", "WCU", "RCU"
        )?;
        let mut total = TargetUsage::default();
        for (target, t) in self.by_target() {
            writeln!(
                f,
                "  {:<28} {:>7} {:>5} {:>5}",
                target.to_string(),
                t.actions,
                t.write_units,
                t.read_units
            )?;
            total.actions += t.actions;
            total.write_units += t.write_units;
            total.read_units += t.read_units;
        }
        write!(
            f,
            "  {:<28} {:>7} {:>5} {:>5}",
            "total", total.actions, total.write_units, total.read_units
        )?;
        if self.canceled_transactions > 0 || self.failed_writes > 0 {
            write!(
                f,
                "\n  (not priced: {} cancelled transactions, {} failed conditional writes)",
                self.canceled_transactions, self.failed_writes
            )?;
        }
        Ok(())
    }
}

/// A [`Store`] that prices every successful write of the store it wraps.
#[derive(Debug)]
pub struct MeteredStore<S> {
    inner: S,
    layout: Layout,
    usage: Mutex<Usage>,
}

impl<S: Store> MeteredStore<S> {
    /// Meters `inner` with the deployed index layout.
    pub fn new(inner: S) -> Self {
        Self::with_layout(inner, Layout::deployed())
    }

    /// Meters `inner` as if its indexes were laid out as `layout`.
    pub fn with_layout(inner: S, layout: Layout) -> Self {
        Self {
            inner,
            layout,
            usage: Mutex::new(Usage::default()),
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// What was consumed since the last call, resetting the meter.
    pub fn take(&self) -> Usage {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, call: Call, charges: Vec<Charge>) {
        self.lock().requests.push(Request { call, charges });
    }

    /// The item at `key` now (a metering read: not charged).
    async fn image(&self, table: Table, key: Item) -> Result<Option<Item>, StoreError> {
        self.inner.get(table, key, true).await
    }

    async fn transact_metered(&self, tx: Transaction) -> Result<(), StoreError> {
        let mut before = Vec::with_capacity(tx.len());
        for op in tx.ops() {
            before.push((op.clone(), self.image(op.table(), op.key()?).await?));
        }
        match self.inner.transact(tx).await {
            Ok(()) => {}
            Err(e) => {
                if matches!(e, StoreError::TransactionCanceled(_)) {
                    self.lock().canceled_transactions += 1;
                }
                return Err(e);
            }
        }
        let mut charges = Vec::new();
        for (op, old) in before {
            let action = match &op {
                WriteOp::ConditionCheck(c) => {
                    charges.push(price_condition_check(c.table, old.as_ref()));
                    continue;
                }
                WriteOp::Put(_) => Action::Put,
                WriteOp::Update(_) => Action::Update,
                WriteOp::Delete(_) => Action::Delete,
            };
            let new = self.image(op.table(), op.key()?).await?;
            charges.extend(price_write(
                &self.layout,
                op.table(),
                action,
                old.as_ref(),
                new.as_ref(),
                true,
            ));
        }
        self.record(Call::TransactWriteItems, charges);
        Ok(())
    }

    /// Runs a single write of the item `op` names, pricing it if it
    /// succeeded.
    async fn single<T, F>(
        &self,
        op: WriteOp,
        call: Call,
        action: Action,
        write: F,
    ) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, StoreError>>,
    {
        let (table, key) = (op.table(), op.key()?);
        let old = self.image(table, key.clone()).await?;
        let out = match write.await {
            Ok(out) => out,
            Err(e) => {
                if matches!(e, StoreError::ConditionFailed { .. }) {
                    self.lock().failed_writes += 1;
                }
                return Err(e);
            }
        };
        let new = self.image(table, key).await?;
        let charges = price_write(
            &self.layout,
            table,
            action,
            old.as_ref(),
            new.as_ref(),
            false,
        );
        self.record(call, charges);
        Ok(out)
    }
}

impl<S: Store> Store for MeteredStore<S> {
    async fn transact(&self, tx: Transaction) -> Result<(), StoreError> {
        self.transact_metered(tx).await
    }

    async fn get(
        &self,
        table: Table,
        key: Item,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        self.inner.get(table, key, consistent).await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }

    async fn put(&self, put: Put) -> Result<(), StoreError> {
        let op = WriteOp::Put(put.clone());
        self.single(op, Call::PutItem, Action::Put, self.inner.put(put))
            .await
    }

    async fn update(&self, update: Update) -> Result<Item, StoreError> {
        let op = WriteOp::Update(update.clone());
        self.single(
            op,
            Call::UpdateItem,
            Action::Update,
            self.inner.update(update),
        )
        .await
    }

    async fn delete(&self, delete: Delete) -> Result<Option<Item>, StoreError> {
        let op = WriteOp::Delete(delete.clone());
        self.single(
            op,
            Call::DeleteItem,
            Action::Delete,
            self.inner.delete(delete),
        )
        .await
    }

    async fn batch_put(&self, table: Table, items: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut before = Vec::with_capacity(items.len());
        for item in &items {
            let key = table.key_of(item)?;
            before.push((key.clone(), self.image(table, key).await?));
        }
        let unprocessed = self.inner.batch_put(table, items).await?;
        let mut charges = Vec::new();
        for (key, old) in before {
            let skipped = unprocessed
                .iter()
                .any(|u| table.key_of(u).is_ok_and(|k| k == key));
            if skipped {
                continue;
            }
            let new = self.image(table, key).await?;
            charges.extend(price_write(
                &self.layout,
                table,
                Action::Put,
                old.as_ref(),
                new.as_ref(),
                false,
            ));
        }
        self.record(Call::BatchWriteItem, charges);
        Ok(unprocessed)
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use order_domain::schema::orders;
    use order_domain::store::{Condition, ConditionCheck, MemoryStore, UpdateAction};

    use super::*;

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
            .block_on(f)
    }

    fn item(pairs: &[(&str, AttrValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn sizes_follow_the_documented_rules() {
        // Names count; strings are UTF-8 bytes.
        assert_eq!(item_size(&item(&[("ab", AttrValue::s("héllo"))])), 2 + 6);
        // Numbers: one byte per two significant digits, plus one.
        for (n, size) in [
            ("0", 2),
            ("7", 2),
            ("12", 2),
            ("123", 3),
            ("1999", 3),
            ("1000", 2),
            ("-1000", 2),
            ("0.001", 2),
            ("1.5", 2),
            ("1780000000", 3),
            ("1780000123", 6),
        ] {
            assert_eq!(value_size(&AttrValue::N(n.into())), size, "{n}");
        }
        assert_eq!(value_size(&AttrValue::Bool(true)), 1);
        assert_eq!(value_size(&AttrValue::Null), 1);
        // Lists and maps: 3 bytes, plus 1 per element (and a map's names).
        assert_eq!(value_size(&AttrValue::L(vec![])), 3);
        assert_eq!(
            value_size(&AttrValue::L(vec![AttrValue::s("ab"), AttrValue::Null])),
            3 + (1 + 2) + (1 + 1)
        );
        assert_eq!(
            value_size(&AttrValue::M(item(&[("k", AttrValue::s("vv"))]))),
            3 + 1 + 1 + 2
        );
    }

    #[test]
    fn units_round_up_per_started_kilobyte() {
        assert_eq!(write_units(0), 1);
        assert_eq!(write_units(1), 1);
        assert_eq!(write_units(1024), 1);
        assert_eq!(write_units(1025), 2);
        assert_eq!(read_units(4096), 1);
        assert_eq!(read_units(4097), 2);
    }

    fn summary(status_shard: Option<&str>, status: &str) -> Item {
        let mut i = item(&[
            (orders::PK, AttrValue::s("c1")),
            (
                orders::SK,
                AttrValue::s("000001#01HZY3M4T7X8Q9R0S1T2V3W4X5"),
            ),
            (orders::COUNTY_SHARD_PK, AttrValue::s("travis-tx#1")),
            (orders::STORE_PK, AttrValue::s("s1")),
            (orders::ORDER_ID, AttrValue::s("01HZY3M4T7X8Q9R0S1T2V3W4X5")),
            (orders::STATUS, AttrValue::s(status)),
            (orders::TOTAL_CENTS, AttrValue::n(1999)),
            (orders::CREATED_AT, AttrValue::s("2026-03-09T20:00:00Z")),
            (orders::UPDATED_AT, AttrValue::s("2026-03-09T20:00:00Z")),
            ("padding", AttrValue::s("x".repeat(2000))),
        ]);
        if let Some(s) = status_shard {
            i.insert(orders::STATUS_SHARD_PK.into(), AttrValue::s(s));
        }
        i
    }

    fn actions(charges: &[Charge], index: Index) -> Vec<Action> {
        charges
            .iter()
            .filter(|c| c.target == Target::Index(index))
            .map(|c| c.action)
            .collect()
    }

    #[test]
    fn index_writes_follow_key_and_projection_changes() {
        let layout = Layout::deployed();
        let pending = summary(Some("PENDING#1"), "PENDING");
        let new = price_write(
            &layout,
            Table::Orders,
            Action::Put,
            None,
            Some(&pending),
            true,
        );
        // 2 KB+ item, transactional: 3 units x 2.
        assert_eq!(new[0].write_units, 6);
        for index in [Index::CountyTime, Index::StoreTime, Index::StatusTime] {
            assert_eq!(actions(&new, index), [Action::IndexPut], "{index:?}");
        }
        // Index entries hold only keys and projected attributes: the padding
        // is not copied, so each is one unit, at the standard rate.
        assert!(new[1..].iter().all(|c| c.write_units == 1 && c.bytes < 300));

        // A status change: the status key moves (delete + put); the other
        // indexes see a new projected value (one update each).
        let reserved = summary(Some("RESERVED#1"), "RESERVED");
        let moved = price_write(
            &layout,
            Table::Orders,
            Action::Put,
            Some(&pending),
            Some(&reserved),
            true,
        );
        assert_eq!(
            actions(&moved, Index::StatusTime),
            [Action::IndexDelete, Action::IndexPut]
        );
        assert_eq!(actions(&moved, Index::CountyTime), [Action::IndexUpdate]);
        assert_eq!(actions(&moved, Index::StoreTime), [Action::IndexUpdate]);

        // Leaving the sparse index is one delete.
        let failed = summary(None, "FAILED");
        let left = price_write(
            &layout,
            Table::Orders,
            Action::Put,
            Some(&reserved),
            Some(&failed),
            true,
        );
        assert_eq!(actions(&left, Index::StatusTime), [Action::IndexDelete]);

        // Rewriting attributes no index projects costs no index write.
        let mut touched = pending.clone();
        touched.insert(orders::UPDATED_AT.into(), AttrValue::s("later"));
        let quiet = price_write(
            &layout,
            Table::Orders,
            Action::Put,
            Some(&pending),
            Some(&touched),
            false,
        );
        assert_eq!(quiet.len(), 1, "{quiet:?}");
        assert_eq!(quiet[0].write_units, 3, "the table write is the whole item");

        // KEYS_ONLY indexes ignore projected-attribute changes.
        let keys_only = Layout::deployed()
            .with_projection(Index::CountyTime, &[])
            .with_projection(Index::StoreTime, &[]);
        let moved = price_write(
            &keys_only,
            Table::Orders,
            Action::Put,
            Some(&pending),
            Some(&reserved),
            true,
        );
        assert!(actions(&moved, Index::CountyTime).is_empty());
        assert_eq!(actions(&moved, Index::StatusTime).len(), 2);
    }

    #[test]
    fn deletes_and_updates_are_priced_by_the_larger_image() {
        let layout = Layout::deployed();
        let big = item(&[("k", AttrValue::s("x".repeat(1500)))]);
        let small = item(&[("k", AttrValue::s("x"))]);
        let shrink = price_write(
            &layout,
            Table::Inventory,
            Action::Update,
            Some(&big),
            Some(&small),
            false,
        );
        assert_eq!(shrink[0].write_units, 2);
        let delete = price_write(
            &layout,
            Table::Inventory,
            Action::Delete,
            Some(&big),
            None,
            true,
        );
        assert_eq!(delete[0].write_units, 4);
        // A delete of nothing still costs the minimum.
        let nothing = price_write(&layout, Table::Inventory, Action::Delete, None, None, false);
        assert_eq!(nothing[0].write_units, 1);
    }

    fn inv_key(sk: &str) -> Item {
        item(&[
            ("store_id", AttrValue::s("s1")),
            ("item_key", AttrValue::s(sk)),
        ])
    }

    #[test]
    fn the_store_meters_transactions_condition_checks_and_failures() {
        let store = MeteredStore::new(MemoryStore::new());
        let mut stock = inv_key("STOCK#a");
        stock.insert("available".into(), AttrValue::n(5));
        block_on(store.put(Put {
            table: Table::Inventory,
            item: stock,
            condition: None,
        }))
        .unwrap();
        let seeded = store.take();
        assert_eq!(seeded.requests.len(), 1);
        assert_eq!(seeded.requests[0].call, Call::PutItem);
        assert_eq!(seeded.write_units(), 1);

        let tx = Transaction::new(vec![
            WriteOp::Update(Update {
                table: Table::Inventory,
                key: inv_key("STOCK#a"),
                actions: vec![UpdateAction::Add("available".into(), -1)],
                condition: Some(Condition::at_least("available", 1)),
            }),
            WriteOp::ConditionCheck(ConditionCheck {
                table: Table::Inventory,
                key: inv_key("STOCK#b"),
                condition: Condition::not_exists("item_key"),
            }),
        ])
        .unwrap();
        block_on(store.transact(tx)).unwrap();
        let usage = store.take();
        assert_eq!(usage.requests[0].call, Call::TransactWriteItems);
        assert_eq!((usage.write_units(), usage.read_units()), (2, 2));
        let by = usage.by_target();
        assert_eq!(
            by[&Target::Table(Table::Inventory)],
            TargetUsage {
                actions: 2,
                write_units: 2,
                read_units: 2
            }
        );

        // A cancelled transaction is counted, not priced.
        let doomed = Transaction::new(vec![WriteOp::Update(Update {
            table: Table::Inventory,
            key: inv_key("STOCK#a"),
            actions: vec![UpdateAction::Add("available".into(), -10)],
            condition: Some(Condition::at_least("available", 10)),
        })])
        .unwrap();
        assert!(block_on(store.transact(doomed)).is_err());
        let usage = store.take();
        assert_eq!(usage.canceled_transactions, 1);
        assert_eq!(usage.write_units(), 0);
        assert!(usage.to_string().contains("1 cancelled transactions"));
    }
}

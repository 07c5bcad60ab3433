//! [`MemoryStore`]: an in-process [`Store`] with DynamoDB's semantics, so unit
//! tests of the services exercise the same rules production does:
//!
//! - transactions are all-or-nothing and report one cancellation reason per op,
//!   with the current item on a failed condition (`ALL_OLD`);
//! - conditions see a missing item as "every attribute absent"; numbers compare
//!   numerically; comparing across types is false;
//! - `UpdateItem` creates a missing item (unless the condition stops it) and
//!   `ADD` treats a missing number as 0;
//! - numbers are normalised on write; items over 400 KB are rejected;
//! - queries sort `S` keys by bytes, stop at `Limit` with a `LastEvaluatedKey`,
//!   read GSIs sparsely with only the projected attributes, and refuse
//!   consistent reads on a GSI.
//!
//! Deliberate simplifications: one mutex serialises everything, so there are no
//! `TransactionConflict`s unless injected with [`MemoryStore::inject`]; every
//! read is strongly consistent (GSIs included); numbers must be integers;
//! there is no 1 MB page limit. Every call yields to the executor once before
//! it runs, as a network round trip would, so concurrent tasks interleave.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::store::plan::{
    BATCH_WRITE_MAX, Condition, Delete, PlanError, Put, Query, Table, Transaction, Update,
    UpdateAction, WriteOp,
};
use crate::store::value::{AttrValue, Item, item_size, parse_integer};
use crate::store::{CancelReason, Page, Store, StoreError, TxCanceled};
use crate::util::yield_now;

/// DynamoDB's item size limit.
const MAX_ITEM_BYTES: usize = 400 * 1024;

/// Primary key as (partition value, sort value or "").
type KeyTuple = (String, String);

#[derive(Debug, Default)]
struct State {
    tables: BTreeMap<Table, BTreeMap<KeyTuple, Item>>,
    stats: StoreStats,
    faults: Vec<Fault>,
}

/// Counters for assertions such as "nothing was written twice".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Transactions that committed.
    pub transactions_committed: u64,
    /// Transactions cancelled (conditions, validation, injected faults).
    pub transactions_canceled: u64,
    /// Items written or deleted, by any call.
    pub items_written: u64,
    pub gets: u64,
    pub queries: u64,
}

/// Which calls a [`Fault`] applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOp {
    Transact,
    Get,
    Query,
    /// Put, update, delete and batch put.
    Write,
}

/// A failure to inject: after `skip` matching calls pass, the next one fails
/// with `error` before touching any data. Used to simulate a crash between two
/// steps (the step fails; the process is "restarted" by calling again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub op: FaultOp,
    pub skip: u32,
    pub error: StoreError,
}

/// An in-memory [`Store`]. Cheap to create; share it with `Arc`.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a fault (see [`Fault`]).
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Injected faults that have not fired yet.
    pub fn faults_left(&self) -> usize {
        self.lock().faults.len()
    }

    pub fn stats(&self) -> StoreStats {
        self.lock().stats
    }

    /// Every item of `table`, in key order.
    pub fn items(&self, table: Table) -> Vec<Item> {
        self.lock()
            .tables
            .get(&table)
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Writes an item without any of the async machinery, stats or faults
    /// (for test fixtures: state that exists before the story starts).
    pub fn seed(&self, table: Table, item: Item) {
        if let Ok(kt) = key_tuple(table, &item) {
            self.lock()
                .tables
                .entry(table)
                .or_default()
                .insert(kt, item);
        }
    }

    /// Reads an item without any of the async machinery (for test assertions).
    pub fn peek(&self, table: Table, key: &Item) -> Option<Item> {
        let kt = key_tuple(table, key).ok()?;
        self.lock().tables.get(&table)?.get(&kt).cloned()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another test thread must not hide this store's data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take_fault(state: &mut State, op: FaultOp) -> Result<(), StoreError> {
        let Some(pos) = state.faults.iter().position(|f| f.op == op) else {
            return Ok(());
        };
        let fault = &mut state.faults[pos];
        if fault.skip > 0 {
            fault.skip -= 1;
            return Ok(());
        }
        let fault = state.faults.remove(pos);
        if op == FaultOp::Transact {
            state.stats.transactions_canceled += 1;
        }
        Err(fault.error)
    }

    fn transact_now(&self, tx: Transaction) -> Result<(), StoreError> {
        let mut state = self.lock();
        Self::take_fault(&mut state, FaultOp::Transact)?;
        let ops = tx.into_ops();
        let mut reasons: Vec<Option<CancelReason>> = vec![None; ops.len()];
        let mut writes: Vec<(Table, KeyTuple, Option<Item>)> = Vec::new();
        let mut failed = false;
        for (i, op) in ops.iter().enumerate() {
            match plan_op(&state, op) {
                Ok(Some(w)) => writes.push(w),
                Ok(None) => {}
                Err(reason) => {
                    reasons[i] = Some(reason);
                    failed = true;
                }
            }
        }
        if failed {
            state.stats.transactions_canceled += 1;
            return Err(StoreError::TransactionCanceled(TxCanceled { reasons }));
        }
        for w in writes {
            apply(&mut state, w);
        }
        state.stats.transactions_committed += 1;
        Ok(())
    }

    fn single_write(&self, op: WriteOp) -> Result<Option<Item>, StoreError> {
        op.validate()?;
        let mut state = self.lock();
        Self::take_fault(&mut state, FaultOp::Write)?;
        let old = current(&state, &op).map_err(StoreError::Validation)?;
        match plan_op(&state, &op) {
            Ok(Some(w)) => {
                let new = w.2.clone();
                apply(&mut state, w);
                Ok(match op {
                    WriteOp::Delete(_) => old,
                    _ => new,
                })
            }
            Ok(None) => Ok(None),
            Err(CancelReason::ConditionalCheckFailed { item }) => {
                Err(StoreError::ConditionFailed { item })
            }
            Err(CancelReason::Validation(m)) => Err(StoreError::Validation(m)),
            Err(CancelReason::TransactionConflict) => {
                Err(StoreError::Conflict("TransactionConflictException".into()))
            }
            Err(other) => Err(StoreError::Unavailable(format!("{other:?}"))),
        }
    }

    fn get_now(&self, table: Table, key: &Item) -> Result<Option<Item>, StoreError> {
        table.check_key(key)?;
        let mut state = self.lock();
        Self::take_fault(&mut state, FaultOp::Get)?;
        state.stats.gets += 1;
        let kt = key_tuple(table, key).map_err(StoreError::Validation)?;
        Ok(state.tables.get(&table).and_then(|t| t.get(&kt)).cloned())
    }

    fn query_now(&self, q: &Query) -> Result<Page, StoreError> {
        let mut state = self.lock();
        Self::take_fault(&mut state, FaultOp::Query)?;
        state.stats.queries += 1;
        run_query(&state, q)
    }

    fn batch_put_now(&self, table: Table, items: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        if items.len() > BATCH_WRITE_MAX {
            return Err(PlanError::BatchTooLarge { got: items.len() }.into());
        }
        let mut keys = std::collections::BTreeSet::new();
        let mut writes = Vec::with_capacity(items.len());
        for item in items {
            let op = WriteOp::Put(Put {
                table,
                item,
                condition: None,
            });
            op.validate()?;
            let key = op.key()?;
            if !keys.insert(key) {
                // BatchWriteItem's own rule.
                return Err(StoreError::Validation(
                    "provided list of item keys contains duplicates".into(),
                ));
            }
            writes.push(op);
        }
        let mut state = self.lock();
        Self::take_fault(&mut state, FaultOp::Write)?;
        let mut planned = Vec::with_capacity(writes.len());
        for op in &writes {
            match plan_op(&state, op) {
                Ok(Some(w)) => planned.push(w),
                Ok(None) => {}
                Err(r) => return Err(StoreError::Validation(format!("{r:?}"))),
            }
        }
        for w in planned {
            apply(&mut state, w);
        }
        Ok(Vec::new())
    }
}

fn key_tuple(table: Table, key: &Item) -> Result<KeyTuple, String> {
    let s = |attr: &str| match key.get(attr) {
        Some(AttrValue::S(s)) => Ok(s.clone()),
        _ => Err(format!("key attribute `{attr}` missing or not S")),
    };
    let pk = s(table.partition_key())?;
    let sk = match table.sort_key() {
        Some(a) => s(a)?,
        None => String::new(),
    };
    Ok((pk, sk))
}

fn current(state: &State, op: &WriteOp) -> Result<Option<Item>, String> {
    let table = op.table();
    let key = op.key().map_err(|e| e.to_string())?;
    let kt = key_tuple(table, &key)?;
    Ok(state.tables.get(&table).and_then(|t| t.get(&kt)).cloned())
}

/// Evaluates `op` against the current state: `Ok(Some(write))` to apply,
/// `Ok(None)` for a passing condition check, `Err(reason)` if it fails.
fn plan_op(
    state: &State,
    op: &WriteOp,
) -> Result<Option<(Table, KeyTuple, Option<Item>)>, CancelReason> {
    let table = op.table();
    let key = op
        .key()
        .map_err(|e| CancelReason::Validation(e.to_string()))?;
    let kt = key_tuple(table, &key).map_err(CancelReason::Validation)?;
    let existing = state.tables.get(&table).and_then(|t| t.get(&kt));
    if let Some(c) = op.condition()
        && !eval(c, existing)
    {
        return Err(CancelReason::ConditionalCheckFailed {
            item: existing.cloned(),
        });
    }
    let new = match op {
        WriteOp::ConditionCheck(_) => return Ok(None),
        WriteOp::Delete(_) => None,
        WriteOp::Put(p) => Some(normalize_item(&p.item)?),
        WriteOp::Update(u) => {
            let mut item = existing.cloned().unwrap_or_else(|| key.clone());
            for action in &u.actions {
                apply_action(&mut item, action)?;
            }
            Some(normalize_item(&item)?)
        }
    };
    if let Some(item) = &new {
        let size = item_size(item);
        if size > MAX_ITEM_BYTES {
            return Err(CancelReason::Validation(format!(
                "item size {size} bytes exceeds the 400 KB limit"
            )));
        }
    }
    Ok(Some((table, kt, new)))
}

fn apply(state: &mut State, (table, kt, new): (Table, KeyTuple, Option<Item>)) {
    let t = state.tables.entry(table).or_default();
    match new {
        Some(item) => {
            t.insert(kt, item);
        }
        None => {
            t.remove(&kt);
        }
    }
    state.stats.items_written += 1;
}

fn apply_action(item: &mut Item, action: &UpdateAction) -> Result<(), CancelReason> {
    match action {
        UpdateAction::Set(a, v) => {
            item.insert(a.clone(), v.clone());
        }
        UpdateAction::Remove(a) => {
            item.remove(a);
        }
        UpdateAction::Add(a, delta) => {
            let base = match item.get(a) {
                None => 0,
                Some(v) => v.as_i128().ok_or_else(|| {
                    CancelReason::Validation(format!(
                        "an operand in the update expression has an incorrect data type (`{a}` is {})",
                        v.type_name()
                    ))
                })?,
            };
            let sum = base
                .checked_add(i128::from(*delta))
                .ok_or_else(|| CancelReason::Validation("number overflow".into()))?;
            item.insert(a.clone(), AttrValue::n(sum));
        }
    }
    Ok(())
}

/// Rewrites numbers to canonical form, rejecting non-integers.
fn normalize_item(item: &Item) -> Result<Item, CancelReason> {
    item.iter()
        .map(|(k, v)| Ok((k.clone(), normalize(v)?)))
        .collect()
}

fn normalize(v: &AttrValue) -> Result<AttrValue, CancelReason> {
    Ok(match v {
        AttrValue::N(n) => AttrValue::n(parse_integer(n).ok_or_else(|| {
            CancelReason::Validation(format!(
                "number {n:?} is not an integer (the in-memory store supports integers only)"
            ))
        })?),
        AttrValue::L(l) => AttrValue::L(l.iter().map(normalize).collect::<Result<_, _>>()?),
        AttrValue::M(m) => AttrValue::M(normalize_item(m)?),
        other => other.clone(),
    })
}

fn eval(c: &Condition, item: Option<&Item>) -> bool {
    let get = |a: &str| item.and_then(|i| i.get(a));
    match c {
        Condition::AttributeExists(a) => get(a).is_some(),
        Condition::AttributeNotExists(a) => get(a).is_none(),
        Condition::Equals(a, v) => get(a).is_some_and(|x| values_equal(x, v)),
        Condition::NumberAtLeast(a, n) => get(a)
            .and_then(AttrValue::as_i128)
            .is_some_and(|x| x >= i128::from(*n)),
        Condition::NumberLessThan(a, n) => get(a)
            .and_then(AttrValue::as_i128)
            .is_some_and(|x| x < i128::from(*n)),
        Condition::And(cs) => cs.iter().all(|c| eval(c, item)),
        Condition::Or(cs) => cs.iter().any(|c| eval(c, item)),
    }
}

fn values_equal(a: &AttrValue, b: &AttrValue) -> bool {
    match (a, b) {
        (AttrValue::N(_), AttrValue::N(_)) => match (a.as_i128(), b.as_i128()) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
        _ => a == b,
    }
}

fn s_attr<'a>(item: &'a Item, attr: &str) -> Option<&'a str> {
    item.get(attr).and_then(AttrValue::as_s)
}

fn run_query(state: &State, q: &Query) -> Result<Page, StoreError> {
    if q.index.is_some() && q.consistent {
        return Err(StoreError::Validation(
            "consistent reads are not supported on global secondary indexes".into(),
        ));
    }
    if q.partition.is_empty() {
        return Err(StoreError::Validation(
            "partition key value is empty".into(),
        ));
    }
    if q.limit == Some(0) {
        return Err(StoreError::Validation("Limit must be at least 1".into()));
    }
    let pk_attr = q.partition_key_attr();
    let sk_attr = q.sort_key_attr();
    let table_pk = q.table.partition_key();
    let table_sk = q.table.sort_key();
    // (index or table sort key, table pk, table sk): the order DynamoDB returns.
    let order_key = |item: &Item| -> (String, String, String) {
        let get = |a: Option<&str>| {
            a.and_then(|a| s_attr(item, a))
                .unwrap_or_default()
                .to_owned()
        };
        (get(sk_attr), get(Some(table_pk)), get(table_sk))
    };
    let start = match &q.start_key {
        None => None,
        Some(sk) => {
            let attrs = q.page_key_attrs();
            let valid = sk.len() == attrs.len()
                && attrs.iter().all(|a| s_attr(sk, a).is_some())
                && s_attr(sk, pk_attr) == Some(q.partition.as_str());
            if !valid {
                return Err(StoreError::Validation(
                    "the provided starting key is invalid".into(),
                ));
            }
            Some(order_key(sk))
        }
    };
    let mut matched: Vec<(&Item, (String, String, String))> = state
        .tables
        .get(&q.table)
        .into_iter()
        .flat_map(|t| t.values())
        .filter(|item| s_attr(item, pk_attr) == Some(q.partition.as_str()))
        // A GSI is sparse: items without its key attributes are not in it.
        .filter(|item| sk_attr.is_none_or(|a| s_attr(item, a).is_some()))
        .filter(|item| match (&q.sort, sk_attr) {
            (Some(cond), Some(a)) => s_attr(item, a).is_some_and(|v| cond.matches(v)),
            _ => true,
        })
        .map(|item| (item, order_key(item)))
        .collect();
    matched.sort_by(|a, b| a.1.cmp(&b.1));
    if !q.forward {
        matched.reverse();
    }
    if let Some(start) = start {
        let after = |k: &(String, String, String)| match k.cmp(&start) {
            Ordering::Greater => q.forward,
            Ordering::Less => !q.forward,
            Ordering::Equal => false,
        };
        matched.retain(|(_, k)| after(k));
    }
    let limit = q.limit.map_or(usize::MAX, |l| l as usize);
    let stopped_early = matched.len() >= limit && q.limit.is_some();
    matched.truncate(limit);
    let page_attrs = q.page_key_attrs();
    let last_evaluated_key = if stopped_early {
        matched.last().map(|(item, _)| {
            page_attrs
                .iter()
                .filter_map(|a| item.get(*a).map(|v| ((*a).to_owned(), v.clone())))
                .collect()
        })
    } else {
        None
    };
    let items = matched
        .into_iter()
        .map(|(item, _)| match q.index {
            None => item.clone(),
            Some(index) => item
                .iter()
                .filter(|(k, _)| {
                    page_attrs.contains(&k.as_str()) || index.projected().contains(&k.as_str())
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
        .collect();
    Ok(Page {
        items,
        last_evaluated_key,
    })
}

impl Store for MemoryStore {
    async fn transact(&self, tx: Transaction) -> Result<(), StoreError> {
        yield_now().await;
        self.transact_now(tx)
    }

    async fn get(
        &self,
        table: Table,
        key: Item,
        _consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        yield_now().await;
        self.get_now(table, &key)
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        yield_now().await;
        self.query_now(&query)
    }

    async fn put(&self, put: Put) -> Result<(), StoreError> {
        yield_now().await;
        self.single_write(WriteOp::Put(put)).map(|_| ())
    }

    async fn update(&self, update: Update) -> Result<Item, StoreError> {
        yield_now().await;
        self.single_write(WriteOp::Update(update))?
            .ok_or_else(|| StoreError::Validation("update produced no item".into()))
    }

    async fn delete(&self, delete: Delete) -> Result<Option<Item>, StoreError> {
        yield_now().await;
        self.single_write(WriteOp::Delete(delete))
    }

    async fn batch_put(&self, table: Table, items: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        yield_now().await;
        self.batch_put_now(table, items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::plan::{ConditionCheck, Index};
    use crate::util::block_on;

    fn inv(store: &str, key: &str) -> Item {
        [
            ("store_id".to_owned(), AttrValue::s(store)),
            ("item_key".to_owned(), AttrValue::s(key)),
        ]
        .into()
    }

    fn with(mut item: Item, attr: &str, v: AttrValue) -> Item {
        item.insert(attr.to_owned(), v);
        item
    }

    fn stock_update(key: &str, q: i64) -> WriteOp {
        WriteOp::Update(Update {
            table: Table::Inventory,
            key: inv("s1", key),
            actions: vec![UpdateAction::Add("available".into(), -q)],
            condition: Some(Condition::at_least("available", q)),
        })
    }

    fn seeded() -> MemoryStore {
        let m = MemoryStore::new();
        block_on(m.batch_put(
            Table::Inventory,
            vec![
                with(inv("s1", "STOCK#a"), "available", AttrValue::n(5)),
                with(inv("s1", "STOCK#b"), "available", AttrValue::n(1)),
            ],
        ))
        .unwrap();
        m
    }

    fn available(m: &MemoryStore, key: &str) -> Option<i128> {
        m.peek(Table::Inventory, &inv("s1", key))
            .and_then(|i| i.get("available").and_then(AttrValue::as_i128))
    }

    #[test]
    fn transaction_is_all_or_nothing_with_reasons() {
        let m = seeded();
        let tx =
            Transaction::new(vec![stock_update("STOCK#a", 2), stock_update("STOCK#b", 2)]).unwrap();
        let err = block_on(m.transact(tx)).unwrap_err();
        let c = err.canceled().unwrap();
        assert_eq!(c.reasons[0], None);
        assert!(c.condition_failed(1));
        assert_eq!(
            c.failed_item(1).and_then(|i| i.get("available")),
            Some(&AttrValue::n(1))
        );
        assert_eq!(available(&m, "STOCK#a"), Some(5), "nothing applied");
        let tx =
            Transaction::new(vec![stock_update("STOCK#a", 2), stock_update("STOCK#b", 1)]).unwrap();
        block_on(m.transact(tx)).unwrap();
        assert_eq!(available(&m, "STOCK#a"), Some(3));
        assert_eq!(available(&m, "STOCK#b"), Some(0));
    }

    #[test]
    fn update_on_missing_item_fails_its_condition_instead_of_creating() {
        let m = seeded();
        let tx = Transaction::new(vec![stock_update("STOCK#zzz", 1)]).unwrap();
        assert!(block_on(m.transact(tx)).is_err());
        assert!(m.peek(Table::Inventory, &inv("s1", "STOCK#zzz")).is_none());
        // Without a condition, UpdateItem upserts and ADD starts from 0.
        let item = block_on(m.update(Update {
            table: Table::Inventory,
            key: inv("s1", "STOCK#new"),
            actions: vec![UpdateAction::Add("available".into(), 4)],
            condition: None,
        }))
        .unwrap();
        assert_eq!(item.get("available"), Some(&AttrValue::n(4)));
    }

    #[test]
    fn add_on_a_string_is_a_validation_reason() {
        let m = seeded();
        block_on(m.put(Put {
            table: Table::Inventory,
            item: with(inv("s1", "X"), "available", AttrValue::s("many")),
            condition: None,
        }))
        .unwrap();
        let tx = Transaction::new(vec![WriteOp::Update(Update {
            table: Table::Inventory,
            key: inv("s1", "X"),
            actions: vec![UpdateAction::Add("available".into(), 1)],
            condition: None,
        })])
        .unwrap();
        let err = block_on(m.transact(tx)).unwrap_err();
        assert!(matches!(
            err.canceled().unwrap().reasons[0],
            Some(CancelReason::Validation(_))
        ));
    }

    #[test]
    fn numbers_compare_numerically_and_are_normalised() {
        let m = MemoryStore::new();
        block_on(m.put(Put {
            table: Table::Inventory,
            item: with(inv("s1", "n"), "v", AttrValue::N("007".into())),
            condition: None,
        }))
        .unwrap();
        assert_eq!(
            m.peek(Table::Inventory, &inv("s1", "n")).unwrap()["v"],
            AttrValue::n(7)
        );
        let check = |v: &str| {
            let tx = Transaction::new(vec![WriteOp::ConditionCheck(ConditionCheck {
                table: Table::Inventory,
                key: inv("s1", "n"),
                condition: Condition::equals("v", AttrValue::N(v.into())),
            })])
            .unwrap();
            block_on(m.transact(tx)).is_ok()
        };
        assert!(check("7"));
        assert!(check("7.0"));
        assert!(!check("8"));
        let bad = block_on(m.put(Put {
            table: Table::Inventory,
            item: with(inv("s1", "f"), "v", AttrValue::N("1.5".into())),
            condition: None,
        }));
        assert!(matches!(bad, Err(StoreError::Validation(_))));
    }

    #[test]
    fn single_op_conditions_and_delete() {
        let m = seeded();
        let put = |cond| Put {
            table: Table::Inventory,
            item: inv("s1", "STOCK#a"),
            condition: Some(cond),
        };
        let err = block_on(m.put(put(Condition::not_exists("item_key")))).unwrap_err();
        assert!(matches!(err, StoreError::ConditionFailed { item: Some(_) }));
        let old = block_on(m.delete(Delete {
            table: Table::Inventory,
            key: inv("s1", "STOCK#a"),
            condition: Some(Condition::exists("item_key")),
        }))
        .unwrap();
        assert!(old.is_some());
        assert!(block_on(m.put(put(Condition::not_exists("item_key")))).is_ok());
    }

    #[test]
    fn oversized_items_are_rejected() {
        let m = MemoryStore::new();
        let big = with(inv("s1", "big"), "blob", AttrValue::s("x".repeat(410_000)));
        let r = block_on(m.put(Put {
            table: Table::Inventory,
            item: big,
            condition: None,
        }));
        assert!(matches!(r, Err(StoreError::Validation(_))));
    }

    #[test]
    fn batch_put_limits() {
        let m = MemoryStore::new();
        let items: Vec<_> = (0..26).map(|i| inv("s", &format!("k{i}"))).collect();
        assert!(block_on(m.batch_put(Table::Inventory, items)).is_err());
        let dup = vec![inv("s", "k"), inv("s", "k")];
        assert!(block_on(m.batch_put(Table::Inventory, dup)).is_err());
    }

    fn order_item(cust: &str, sk: &str, status_shard: Option<&str>) -> Item {
        let mut i: Item = [
            ("customer_id".to_owned(), AttrValue::s(cust)),
            ("order_sk".to_owned(), AttrValue::s(sk)),
            ("store_id".to_owned(), AttrValue::s("s1")),
            ("order_id".to_owned(), AttrValue::s(format!("id-{sk}"))),
            ("secret".to_owned(), AttrValue::s("not projected")),
        ]
        .into();
        if let Some(s) = status_shard {
            i.insert("status_shard".into(), AttrValue::s(s));
        }
        i
    }

    #[test]
    fn query_pages_sorts_and_projects() {
        let m = MemoryStore::new();
        let items = vec![
            order_item("c1", "003", Some("PENDING#0")),
            order_item("c1", "001", Some("PENDING#0")),
            order_item("c2", "002", None),
            order_item("c1", "004", Some("PENDING#1")),
        ];
        block_on(m.batch_put(Table::Orders, items)).unwrap();

        let mut q = Query::table(Table::Orders, "c1");
        q.forward = false;
        q.limit = Some(2);
        let p1 = block_on(m.query(q.clone())).unwrap();
        let sks: Vec<_> = p1
            .items
            .iter()
            .map(|i| s_attr(i, "order_sk").unwrap())
            .collect();
        assert_eq!(sks, ["004", "003"]);
        q.start_key = p1.last_evaluated_key.clone();
        let p2 = block_on(m.query(q.clone())).unwrap();
        let sks: Vec<_> = p2
            .items
            .iter()
            .map(|i| s_attr(i, "order_sk").unwrap())
            .collect();
        assert_eq!(sks, ["001"]);
        assert!(p2.last_evaluated_key.is_none());

        // A start key from another partition is refused.
        let mut bad = q.clone();
        bad.partition = "c2".into();
        assert!(matches!(
            block_on(m.query(bad)),
            Err(StoreError::Validation(_))
        ));

        // GSI: sparse (c2's item has no status_shard), projected.
        let g = block_on(m.query(Query::index(Index::StatusTime, "PENDING#0"))).unwrap();
        assert_eq!(g.items.len(), 2);
        assert!(!g.items[0].contains_key("secret"));
        assert!(g.items[0].contains_key("order_id"));
        let mut gq = Query::index(Index::StatusTime, "PENDING#0");
        gq.consistent = true;
        assert!(block_on(m.query(gq)).is_err());
        let mut gq = Query::index(Index::StatusTime, "PENDING#0");
        gq.limit = Some(1);
        let lek = block_on(m.query(gq)).unwrap().last_evaluated_key.unwrap();
        let keys: Vec<_> = lek.keys().cloned().collect();
        assert_eq!(keys, ["customer_id", "order_sk", "status_shard"]);
    }

    #[test]
    fn injected_faults_fire_after_skips() {
        let m = seeded();
        m.inject(Fault {
            op: FaultOp::Transact,
            skip: 1,
            error: StoreError::Unavailable("boom".into()),
        });
        let tx = || Transaction::new(vec![stock_update("STOCK#a", 1)]).unwrap();
        assert!(block_on(m.transact(tx())).is_ok());
        assert_eq!(
            block_on(m.transact(tx())),
            Err(StoreError::Unavailable("boom".into()))
        );
        assert!(block_on(m.transact(tx())).is_ok());
        assert_eq!(available(&m, "STOCK#a"), Some(3));
    }
}

//! Storage plans: tables, conditions, write operations and transactions, as
//! plain values. The domain builds them; a store executes them.
//!
//! The shapes follow DynamoDB's API one-to-one (`Put`, `Update`, `Delete`,
//! `ConditionCheck` inside `TransactWriteItems`), so the real adapter is a
//! mechanical translation (see [`crate::store::render`]) and the in-memory store
//! can apply the same rules DynamoDB does.

use std::collections::BTreeSet;

use thiserror::Error;

use crate::schema;
use crate::store::value::{AttrValue, Item};

/// A logical table. The physical name is per county: see [`TableNames`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    Orders,
    OrderById,
    Inventory,
    Idempotency,
    /// Customer PII: only the order API's role may use it (its own KMS key),
    /// so its name is optional in [`TableNames`].
    Customers,
}

impl Table {
    /// The four order tables every function uses.
    pub const ORDER_TABLES: [Table; 4] = [
        Table::Orders,
        Table::OrderById,
        Table::Inventory,
        Table::Idempotency,
    ];

    /// Every table of a county: the order tables, then Customers.
    pub const ALL: [Table; 5] = [
        Table::Orders,
        Table::OrderById,
        Table::Inventory,
        Table::Idempotency,
        Table::Customers,
    ];

    /// The logical name the stack generator uses for this table.
    pub const fn logical(self) -> &'static str {
        match self {
            Table::Orders => schema::orders::LOGICAL,
            Table::OrderById => schema::order_by_id::LOGICAL,
            Table::Inventory => schema::inventory::LOGICAL,
            Table::Idempotency => schema::idempotency::LOGICAL,
            Table::Customers => schema::customers::LOGICAL,
        }
    }

    /// HASH key attribute. Every key attribute in this schema is a string (`S`).
    pub const fn partition_key(self) -> &'static str {
        match self {
            Table::Orders => schema::orders::PK,
            Table::OrderById => schema::order_by_id::PK,
            Table::Inventory => schema::inventory::PK,
            Table::Idempotency => schema::idempotency::PK,
            Table::Customers => schema::customers::PK,
        }
    }

    /// RANGE key attribute, if the table has one.
    pub const fn sort_key(self) -> Option<&'static str> {
        match self {
            Table::Orders => Some(schema::orders::SK),
            Table::Inventory => Some(schema::inventory::SK),
            Table::OrderById | Table::Idempotency | Table::Customers => None,
        }
    }

    /// Global secondary indexes on this table.
    pub const fn indexes(self) -> &'static [Index] {
        match self {
            Table::Orders => &[Index::CountyTime, Index::StoreTime, Index::StatusTime],
            _ => &[],
        }
    }

    /// Whether `attr` is part of this table's primary key.
    pub fn is_key_attr(self, attr: &str) -> bool {
        attr == self.partition_key() || self.sort_key() == Some(attr)
    }

    /// Copies the primary key attributes out of `item`.
    pub fn key_of(self, item: &Item) -> Result<Item, PlanError> {
        let mut key = Item::new();
        for attr in std::iter::once(self.partition_key()).chain(self.sort_key()) {
            let v = item.get(attr).ok_or_else(|| PlanError::BadKey {
                table: self,
                reason: format!("missing key attribute `{attr}`"),
            })?;
            key.insert(attr.to_owned(), v.clone());
        }
        Ok(key)
    }

    /// Checks that `key` is exactly this table's key: the key attributes, each
    /// a non-empty string within DynamoDB's size limits, and nothing else.
    pub fn check_key(self, key: &Item) -> Result<(), PlanError> {
        self.key_values(key, true).map(|_| ())
    }

    /// The (partition, sort or "") key strings of `item`, checked. With
    /// `exact`, `item` must hold nothing but the key (a `Key` parameter);
    /// otherwise it may be a whole item.
    pub(crate) fn key_values(self, item: &Item, exact: bool) -> Result<(&str, &str), PlanError> {
        let bad = |reason: String| PlanError::BadKey {
            table: self,
            reason,
        };
        let expected = 1 + usize::from(self.sort_key().is_some());
        if exact && item.len() != expected {
            return Err(bad(format!(
                "expected {expected} key attribute(s), got {:?}",
                item.keys().collect::<Vec<_>>()
            )));
        }
        let pk = key_value(item, self.partition_key(), MAX_PARTITION_KEY_BYTES).map_err(bad)?;
        let sk = match self.sort_key() {
            Some(sk) => key_value(item, sk, MAX_SORT_KEY_BYTES).map_err(bad)?,
            None => "",
        };
        Ok((pk, sk))
    }
}

/// DynamoDB's limits on key attribute values.
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;
pub const MAX_SORT_KEY_BYTES: usize = 1024;

fn key_value<'a>(key: &'a Item, attr: &str, max: usize) -> Result<&'a str, String> {
    match key.get(attr) {
        Some(AttrValue::S(s)) if s.is_empty() => Err(format!("key attribute `{attr}` is empty")),
        Some(AttrValue::S(s)) if s.len() > max => Err(format!(
            "key attribute `{attr}` is {} bytes (limit {max})",
            s.len()
        )),
        Some(AttrValue::S(s)) => Ok(s),
        Some(other) => Err(format!(
            "key attribute `{attr}` must be S, found {}",
            other.type_name()
        )),
        None => Err(format!("missing key attribute `{attr}`")),
    }
}

/// A global secondary index on the Orders table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Index {
    /// `by-county-time`: HASH `<county>#<shard>`, RANGE order_sk.
    CountyTime,
    /// `by-store-time`: HASH store id, RANGE order_sk.
    StoreTime,
    /// `by-status-time` (sparse): HASH `<STATUS>#<shard>`, RANGE order_sk.
    StatusTime,
}

impl Index {
    pub const fn name(self) -> &'static str {
        match self {
            Index::CountyTime => schema::orders::GSI_COUNTY,
            Index::StoreTime => schema::orders::GSI_STORE,
            Index::StatusTime => schema::orders::GSI_STATUS,
        }
    }

    pub const fn table(self) -> Table {
        Table::Orders
    }

    pub const fn partition_key(self) -> &'static str {
        match self {
            Index::CountyTime => schema::orders::COUNTY_SHARD_PK,
            Index::StoreTime => schema::orders::STORE_PK,
            Index::StatusTime => schema::orders::STATUS_SHARD_PK,
        }
    }

    pub const fn sort_key(self) -> &'static str {
        schema::orders::GSI_SK
    }

    /// Non-key attributes copied into the index (`INCLUDE` projection).
    pub const fn projected(self) -> &'static [&'static str] {
        schema::orders::GSI_PROJECTED
    }

    pub fn from_name(name: &str) -> Option<Index> {
        [Index::CountyTime, Index::StoreTime, Index::StatusTime]
            .into_iter()
            .find(|i| i.name() == name)
    }
}

/// Physical table names, from the environment the stack sets on each function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub orders: String,
    pub order_by_id: String,
    pub inventory: String,
    pub idempotency: String,
    /// `None` in the worker and the stream publisher: the stack gives the
    /// Customers table (and its key) to the order API's role only.
    pub customers: Option<String>,
}

/// A required environment variable is not set.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("environment variable {0} is not set")]
pub struct MissingEnv(pub &'static str);

impl TableNames {
    /// The physical name of `table`; an error naming the variable for the
    /// Customers table in a function that was not given it.
    pub fn name(&self, table: Table) -> Result<&str, PlanError> {
        match table {
            Table::Orders => Ok(&self.orders),
            Table::OrderById => Ok(&self.order_by_id),
            Table::Inventory => Ok(&self.inventory),
            Table::Idempotency => Ok(&self.idempotency),
            Table::Customers => self
                .customers
                .as_deref()
                .ok_or(PlanError::TableNotConfigured {
                    table,
                    var: schema::env::CUSTOMERS_TABLE,
                }),
        }
    }

    /// Reads `ACME_*_TABLE` through `lookup` (pass `|k| std::env::var(k).ok()`).
    /// `ACME_CUSTOMERS_TABLE` is optional: only the order API has it.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MissingEnv> {
        let get = |k: &'static str| lookup(k).filter(|v| !v.is_empty()).ok_or(MissingEnv(k));
        Ok(Self {
            orders: get(schema::env::ORDERS_TABLE)?,
            order_by_id: get(schema::env::ORDER_BY_ID_TABLE)?,
            inventory: get(schema::env::INVENTORY_TABLE)?,
            idempotency: get(schema::env::IDEMPOTENCY_TABLE)?,
            customers: get(schema::env::CUSTOMERS_TABLE).ok(),
        })
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, MissingEnv> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Which logical table a physical name belongs to.
    pub fn table_for(&self, physical: &str) -> Option<Table> {
        Table::ALL
            .into_iter()
            .find(|t| self.name(*t).is_ok_and(|n| n == physical))
    }
}

/// A condition on the item's state before the write (a `ConditionExpression`).
/// On an item that does not exist every attribute is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    AttributeExists(String),
    AttributeNotExists(String),
    /// Attribute present and equal (numbers compare numerically).
    Equals(String, AttrValue),
    /// Attribute present, a number, and `>= n`.
    NumberAtLeast(String, i64),
    /// Attribute present, a number, and `< n`.
    NumberLessThan(String, i64),
    /// All hold. Must not be empty.
    And(Vec<Condition>),
    /// At least one holds. Must not be empty.
    Or(Vec<Condition>),
}

impl Condition {
    pub fn exists(attr: &str) -> Self {
        Condition::AttributeExists(attr.to_owned())
    }

    pub fn not_exists(attr: &str) -> Self {
        Condition::AttributeNotExists(attr.to_owned())
    }

    pub fn equals(attr: &str, v: AttrValue) -> Self {
        Condition::Equals(attr.to_owned(), v)
    }

    pub fn at_least(attr: &str, n: i64) -> Self {
        Condition::NumberAtLeast(attr.to_owned(), n)
    }

    fn check(&self) -> Result<(), String> {
        match self {
            Condition::And(cs) | Condition::Or(cs) if cs.is_empty() => {
                Err("AND/OR with no operands".to_owned())
            }
            Condition::And(cs) | Condition::Or(cs) => cs.iter().try_for_each(Condition::check),
            Condition::Equals(attr, _)
            | Condition::AttributeExists(attr)
            | Condition::AttributeNotExists(attr)
            | Condition::NumberAtLeast(attr, _)
            | Condition::NumberLessThan(attr, _)
                if attr.is_empty() =>
            {
                Err("empty attribute name".to_owned())
            }
            _ => Ok(()),
        }
    }
}

/// One clause of an `UpdateExpression`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateAction {
    /// `SET attr = value`.
    Set(String, AttrValue),
    /// `ADD attr delta` on a number; a missing attribute counts as 0.
    Add(String, i64),
    /// `REMOVE attr`.
    Remove(String),
}

impl UpdateAction {
    pub fn attr(&self) -> &str {
        match self {
            UpdateAction::Set(a, _) | UpdateAction::Add(a, _) | UpdateAction::Remove(a) => a,
        }
    }
}

/// Create or replace a whole item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    pub table: Table,
    pub item: Item,
    pub condition: Option<Condition>,
}

/// Change attributes of an item (creating it if absent, as DynamoDB does,
/// unless the condition forbids it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub table: Table,
    pub key: Item,
    pub actions: Vec<UpdateAction>,
    pub condition: Option<Condition>,
}

/// Delete an item (a no-op if absent, unless the condition forbids it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    pub table: Table,
    pub key: Item,
    pub condition: Option<Condition>,
}

/// Assert a condition on an item without writing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionCheck {
    pub table: Table,
    pub key: Item,
    pub condition: Condition,
}

/// One write, standalone or inside a [`Transaction`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    Put(Put),
    Update(Update),
    Delete(Delete),
    ConditionCheck(ConditionCheck),
}

impl WriteOp {
    pub fn table(&self) -> Table {
        match self {
            WriteOp::Put(p) => p.table,
            WriteOp::Update(u) => u.table,
            WriteOp::Delete(d) => d.table,
            WriteOp::ConditionCheck(c) => c.table,
        }
    }

    /// The primary key of the item this op touches.
    pub fn key(&self) -> Result<Item, PlanError> {
        match self {
            WriteOp::Put(p) => p.table.key_of(&p.item),
            WriteOp::Update(u) => Ok(u.key.clone()),
            WriteOp::Delete(d) => Ok(d.key.clone()),
            WriteOp::ConditionCheck(c) => Ok(c.key.clone()),
        }
    }

    pub fn condition(&self) -> Option<&Condition> {
        match self {
            WriteOp::Put(p) => p.condition.as_ref(),
            WriteOp::Update(u) => u.condition.as_ref(),
            WriteOp::Delete(d) => d.condition.as_ref(),
            WriteOp::ConditionCheck(c) => Some(&c.condition),
        }
    }

    /// The checks DynamoDB makes before running an op: a well-formed key,
    /// non-empty AND/OR, and an update expression that touches each attribute
    /// once and no key attribute (both are `ValidationException`s there).
    pub fn validate(&self) -> Result<(), PlanError> {
        self.checked_key().map(|_| ())
    }

    /// Validates the op and returns its key strings without cloning.
    fn checked_key(&self) -> Result<(&str, &str), PlanError> {
        let table = self.table();
        let key = match self {
            WriteOp::Put(p) => table.key_values(&p.item, false)?,
            WriteOp::Update(Update { key, .. })
            | WriteOp::Delete(Delete { key, .. })
            | WriteOp::ConditionCheck(ConditionCheck { key, .. }) => table.key_values(key, true)?,
        };
        if let Some(c) = self.condition() {
            c.check().map_err(PlanError::BadCondition)?;
        }
        if let WriteOp::Update(u) = self {
            if u.actions.is_empty() {
                return Err(PlanError::BadUpdate("no actions".to_owned()));
            }
            let mut seen = BTreeSet::new();
            for a in &u.actions {
                let attr = a.attr();
                if attr.is_empty() {
                    return Err(PlanError::BadUpdate("empty attribute name".to_owned()));
                }
                if table.is_key_attr(attr) {
                    return Err(PlanError::BadUpdate(format!(
                        "cannot update key attribute `{attr}`"
                    )));
                }
                if !seen.insert(attr) {
                    return Err(PlanError::BadUpdate(format!(
                        "attribute `{attr}` appears in more than one action"
                    )));
                }
            }
        }
        Ok(key)
    }
}

impl From<Put> for WriteOp {
    fn from(v: Put) -> Self {
        WriteOp::Put(v)
    }
}
impl From<Update> for WriteOp {
    fn from(v: Update) -> Self {
        WriteOp::Update(v)
    }
}
impl From<Delete> for WriteOp {
    fn from(v: Delete) -> Self {
        WriteOp::Delete(v)
    }
}
impl From<ConditionCheck> for WriteOp {
    fn from(v: ConditionCheck) -> Self {
        WriteOp::ConditionCheck(v)
    }
}

/// A plan that DynamoDB would refuse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    #[error("a transaction needs at least one operation")]
    Empty,
    #[error("a transaction takes at most {max} operations, got {got}", max = Transaction::MAX_OPS)]
    TooManyOps { got: usize },
    #[error("operations {first} and {second} both touch the same {table:?} item")]
    DuplicateItem {
        table: Table,
        first: usize,
        second: usize,
    },
    #[error("bad {table:?} key: {reason}")]
    BadKey { table: Table, reason: String },
    #[error("bad condition: {0}")]
    BadCondition(String),
    #[error("bad update: {0}")]
    BadUpdate(String),
    #[error("batch write takes at most {max} items, got {got}", max = BATCH_WRITE_MAX)]
    BatchTooLarge { got: usize },
    /// A function without the table's name used it: the Customers table is
    /// only given to the order API (the stack sets its variable there alone).
    #[error(
        "the {table:?} table is not configured for this function: {var} is not set (the county stack sets it on the order API only)"
    )]
    TableNotConfigured { table: Table, var: &'static str },
}

/// BatchWriteItem's limit.
pub use acme_contract::limits::BATCH_WRITE_MAX;

/// An all-or-nothing group of writes (`TransactWriteItems`).
///
/// Construction enforces DynamoDB's rules so a bad plan fails in the domain,
/// not as a `ValidationException` at run time: 1..=100 operations, and no two
/// operations on the same item (DynamoDB rejects that outright).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    ops: Vec<WriteOp>,
}

impl Transaction {
    /// TransactWriteItems' limit (raised from 25 to 100 in 2022).
    pub const MAX_OPS: usize = acme_contract::limits::TRANSACTION_MAX_OPS;

    pub fn new(ops: Vec<WriteOp>) -> Result<Self, PlanError> {
        if ops.is_empty() {
            return Err(PlanError::Empty);
        }
        if ops.len() > Self::MAX_OPS {
            return Err(PlanError::TooManyOps { got: ops.len() });
        }
        // Small transactions (the accept path's three ops) compare every pair
        // without allocating; bigger ones use a map. Either way the first
        // duplicate (the lowest `second`) is reported, and an invalid op
        // before it is reported instead, in op order.
        const LINEAR_MAX: usize = 8;
        let mut few: [(Table, &str, &str); LINEAR_MAX] = [(Table::Orders, "", ""); LINEAR_MAX];
        let mut seen: std::collections::BTreeMap<(Table, &str, &str), usize> = Default::default();
        for (i, op) in ops.iter().enumerate() {
            let (pk, sk) = op.checked_key()?;
            let key = (op.table(), pk, sk);
            let first = if ops.len() <= LINEAR_MAX {
                few[i] = key;
                few[..i].iter().position(|k| *k == key)
            } else {
                seen.insert(key, i)
            };
            if let Some(first) = first {
                return Err(PlanError::DuplicateItem {
                    table: op.table(),
                    first,
                    second: i,
                });
            }
        }
        Ok(Self { ops })
    }

    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }

    pub fn into_ops(self) -> Vec<WriteOp> {
        self.ops
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A condition on the sort key in a query (`KeyConditionExpression`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortCondition {
    Eq(String),
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
    /// Inclusive on both ends.
    Between(String, String),
    BeginsWith(String),
}

impl SortCondition {
    /// Whether `sk` satisfies the condition. Strings compare by UTF-8 bytes, as
    /// DynamoDB orders `S` keys.
    pub fn matches(&self, sk: &str) -> bool {
        match self {
            SortCondition::Eq(v) => sk == v,
            SortCondition::Lt(v) => sk < v.as_str(),
            SortCondition::Le(v) => sk <= v.as_str(),
            SortCondition::Gt(v) => sk > v.as_str(),
            SortCondition::Ge(v) => sk >= v.as_str(),
            SortCondition::Between(a, b) => sk >= a.as_str() && sk <= b.as_str(),
            SortCondition::BeginsWith(p) => sk.starts_with(p.as_str()),
        }
    }
}

/// A `Query` on a table or one of its indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub table: Table,
    pub index: Option<Index>,
    /// Value of the table's (or index's) partition key.
    pub partition: String,
    pub sort: Option<SortCondition>,
    /// `ScanIndexForward`: ascending by sort key when true.
    pub forward: bool,
    /// Items to evaluate before stopping (DynamoDB's `Limit`).
    pub limit: Option<u32>,
    /// `ExclusiveStartKey`: the previous page's `LastEvaluatedKey`.
    pub start_key: Option<Item>,
    /// Strongly consistent read. Not allowed on a GSI.
    pub consistent: bool,
}

impl Query {
    /// A query on a table's partition, ascending, no limit.
    pub fn table(table: Table, partition: impl Into<String>) -> Self {
        Self {
            table,
            index: None,
            partition: partition.into(),
            sort: None,
            forward: true,
            limit: None,
            start_key: None,
            consistent: false,
        }
    }

    /// A query on a GSI's partition, ascending, no limit.
    pub fn index(index: Index, partition: impl Into<String>) -> Self {
        Self {
            index: Some(index),
            ..Self::table(index.table(), partition)
        }
    }

    pub fn partition_key_attr(&self) -> &'static str {
        match self.index {
            Some(i) => i.partition_key(),
            None => self.table.partition_key(),
        }
    }

    pub fn sort_key_attr(&self) -> Option<&'static str> {
        match self.index {
            Some(i) => Some(i.sort_key()),
            None => self.table.sort_key(),
        }
    }

    /// The attributes a `LastEvaluatedKey` of this query holds: the table's key
    /// plus, on an index, the index's key.
    pub fn page_key_attrs(&self) -> Vec<&'static str> {
        let mut attrs = vec![self.table.partition_key()];
        attrs.extend(self.table.sort_key());
        if let Some(i) = self.index {
            for a in [i.partition_key(), i.sort_key()] {
                if !attrs.contains(&a) {
                    attrs.push(a);
                }
            }
        }
        attrs
    }
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when the query stopped early (limit reached); pass it back as
    /// `start_key`. As in DynamoDB it may be present even if nothing follows.
    pub last_evaluated_key: Option<Item>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(table: Table, pk: &str, sk: Option<&str>) -> Item {
        let mut k = Item::new();
        k.insert(table.partition_key().into(), AttrValue::s(pk));
        if let (Some(a), Some(v)) = (table.sort_key(), sk) {
            k.insert(a.into(), AttrValue::s(v));
        }
        k
    }

    fn check(table: Table, pk: &str, sk: Option<&str>) -> WriteOp {
        WriteOp::ConditionCheck(ConditionCheck {
            table,
            key: key(table, pk, sk),
            condition: Condition::exists("x"),
        })
    }

    #[test]
    fn transaction_limits() {
        assert_eq!(Transaction::new(vec![]), Err(PlanError::Empty));
        let ops: Vec<_> = (0..101)
            .map(|i| check(Table::OrderById, &format!("o{i}"), None))
            .collect();
        assert_eq!(
            Transaction::new(ops.clone()),
            Err(PlanError::TooManyOps { got: 101 })
        );
        assert!(Transaction::new(ops[..100].to_vec()).is_ok());
    }

    #[test]
    fn transaction_rejects_two_ops_on_one_item() {
        let ops = vec![
            check(Table::Inventory, "s1", Some("STOCK#a")),
            check(Table::Inventory, "s1", Some("STOCK#b")),
            WriteOp::Put(Put {
                table: Table::Inventory,
                item: key(Table::Inventory, "s1", Some("STOCK#a")),
                condition: None,
            }),
        ];
        assert_eq!(
            Transaction::new(ops),
            Err(PlanError::DuplicateItem {
                table: Table::Inventory,
                first: 0,
                second: 2
            })
        );
        // Same key values in different tables are different items.
        let ops = vec![
            check(Table::OrderById, "x", None),
            check(Table::Idempotency, "x", None),
        ];
        assert!(Transaction::new(ops).is_ok());
    }

    #[test]
    fn the_first_duplicate_is_reported_in_small_and_large_transactions() {
        for len in [4, 8, 9, 60] {
            let mut ops: Vec<_> = (0..len)
                .map(|i| check(Table::OrderById, &format!("o{i}"), None))
                .collect();
            // Op len-1 repeats op 0, op 3 repeats op 1: op 3 is found first.
            ops[len - 1] = check(Table::OrderById, "o0", None);
            ops[3] = check(Table::OrderById, "o1", None);
            assert_eq!(
                Transaction::new(ops.clone()),
                Err(PlanError::DuplicateItem {
                    table: Table::OrderById,
                    first: 1,
                    second: 3
                }),
                "{len} ops"
            );
            // An invalid key before the first duplicate is reported instead.
            ops[2] = check(Table::OrderById, "", None);
            assert!(
                matches!(Transaction::new(ops), Err(PlanError::BadKey { .. })),
                "{len} ops"
            );
        }
    }

    #[test]
    fn keys_are_checked() {
        assert!(matches!(
            Transaction::new(vec![check(Table::Inventory, "s1", None)]),
            Err(PlanError::BadKey { .. })
        ));
        assert!(matches!(
            Transaction::new(vec![check(Table::OrderById, "", None)]),
            Err(PlanError::BadKey { .. })
        ));
        let long = "x".repeat(2049);
        assert!(matches!(
            Transaction::new(vec![check(Table::OrderById, &long, None)]),
            Err(PlanError::BadKey { .. })
        ));
    }

    #[test]
    fn updates_are_checked() {
        let upd = |actions| {
            WriteOp::Update(Update {
                table: Table::OrderById,
                key: key(Table::OrderById, "o", None),
                actions,
                condition: None,
            })
        };
        assert!(
            upd(vec![UpdateAction::Add("n".into(), 1)])
                .validate()
                .is_ok()
        );
        assert!(upd(vec![]).validate().is_err());
        assert!(
            upd(vec![UpdateAction::Set(
                "order_id".into(),
                AttrValue::s("x")
            )])
            .validate()
            .is_err()
        );
        assert!(
            upd(vec![
                UpdateAction::Add("n".into(), 1),
                UpdateAction::Remove("n".into())
            ])
            .validate()
            .is_err()
        );
    }

    #[test]
    fn table_names_from_lookup() {
        let env = |k: &str| Some(format!("{k}-phys"));
        let names = TableNames::from_lookup(env).unwrap();
        assert_eq!(names.name(Table::Orders), Ok("ACME_ORDERS_TABLE-phys"));
        assert_eq!(
            names.name(Table::Customers),
            Ok("ACME_CUSTOMERS_TABLE-phys")
        );
        assert_eq!(
            names.table_for("ACME_INVENTORY_TABLE-phys"),
            Some(Table::Inventory)
        );
        // The worker and the publisher start without the Customers table,
        // and a customer operation there says which variable is missing.
        let order_only =
            |k: &str| (k != crate::schema::env::CUSTOMERS_TABLE).then(|| format!("{k}-phys"));
        let names = TableNames::from_lookup(order_only).unwrap();
        assert_eq!(names.customers, None);
        let e = names.name(Table::Customers).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the Customers table is not configured for this function: ACME_CUSTOMERS_TABLE is not set (the county stack sets it on the order API only)"
        );
        assert_eq!(
            names.table_for("ACME_ORDERS_TABLE-phys"),
            Some(Table::Orders)
        );
        assert_eq!(
            TableNames::from_lookup(|_| None),
            Err(MissingEnv(crate::schema::env::ORDERS_TABLE))
        );
    }

    #[test]
    fn sort_conditions() {
        assert!(SortCondition::BeginsWith("ab".into()).matches("abc"));
        assert!(SortCondition::Between("b".into(), "d".into()).matches("d"));
        assert!(!SortCondition::Lt("b".into()).matches("b"));
        assert!(SortCondition::Ge("b".into()).matches("b#1"));
    }
}

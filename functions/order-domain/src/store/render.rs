//! Rendering plans into DynamoDB's expression language, for the real adapter.
//!
//! A DynamoDB adapter maps a [`Transaction`](crate::store::Transaction) to
//! `TransactWriteItems` by rendering each op with [`WriteOp::render`] and copying
//! the fields into the SDK builder: `TableName` from
//! [`TableNames`](crate::store::TableNames), `Item`/`Key` by converting each
//! [`AttrValue`] to the SDK's `AttributeValue`, and the expression strings,
//! `ExpressionAttributeNames` and `ExpressionAttributeValues` verbatim. Every
//! attribute name goes through a `#n` placeholder, so no name can collide with
//! DynamoDB's ~570 reserved words (`status`, `items`, `version`, ...).

use std::collections::BTreeMap;

use crate::store::plan::{Condition, Index, Query, SortCondition, Table, UpdateAction, WriteOp};
use crate::store::value::{AttrValue, Item};

/// Placeholder allocation for one request.
#[derive(Debug, Default)]
struct Placeholders {
    names: BTreeMap<String, String>,
    by_attr: BTreeMap<String, String>,
    values: BTreeMap<String, AttrValue>,
}

impl Placeholders {
    fn name(&mut self, attr: &str) -> String {
        if let Some(p) = self.by_attr.get(attr) {
            return p.clone();
        }
        let p = format!("#n{}", self.by_attr.len());
        self.by_attr.insert(attr.to_owned(), p.clone());
        self.names.insert(p.clone(), attr.to_owned());
        p
    }

    fn value(&mut self, v: AttrValue) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), v);
        p
    }

    fn condition(&mut self, c: &Condition) -> String {
        match c {
            Condition::AttributeExists(a) => format!("attribute_exists({})", self.name(a)),
            Condition::AttributeNotExists(a) => {
                format!("attribute_not_exists({})", self.name(a))
            }
            Condition::Equals(a, v) => {
                let n = self.name(a);
                format!("{n} = {}", self.value(v.clone()))
            }
            Condition::NumberAtLeast(a, x) => {
                let n = self.name(a);
                format!("{n} >= {}", self.value(AttrValue::n(*x)))
            }
            Condition::NumberLessThan(a, x) => {
                let n = self.name(a);
                format!("{n} < {}", self.value(AttrValue::n(*x)))
            }
            Condition::And(cs) => self.join(cs, " AND "),
            Condition::Or(cs) => self.join(cs, " OR "),
        }
    }

    fn join(&mut self, cs: &[Condition], op: &str) -> String {
        let parts: Vec<String> = cs
            .iter()
            .map(|c| format!("({})", self.condition(c)))
            .collect();
        parts.join(op)
    }

    fn update(&mut self, actions: &[UpdateAction]) -> String {
        let (mut set, mut add, mut remove) = (Vec::new(), Vec::new(), Vec::new());
        for a in actions {
            match a {
                UpdateAction::Set(attr, v) => {
                    let n = self.name(attr);
                    set.push(format!("{n} = {}", self.value(v.clone())));
                }
                UpdateAction::Add(attr, d) => {
                    let n = self.name(attr);
                    add.push(format!("{n} {}", self.value(AttrValue::n(*d))));
                }
                UpdateAction::Remove(attr) => remove.push(self.name(attr)),
            }
        }
        let mut clauses = Vec::new();
        for (kw, parts) in [("SET", set), ("ADD", add), ("REMOVE", remove)] {
            if !parts.is_empty() {
                clauses.push(format!("{kw} {}", parts.join(", ")));
            }
        }
        clauses.join(" ")
    }
}

/// Which `TransactWriteItem` member (or single-item call) an op becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    Put,
    Update,
    Delete,
    ConditionCheck,
}

/// One op in DynamoDB request form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedWrite {
    pub kind: WriteKind,
    pub table: Table,
    /// `Item` for a Put.
    pub item: Option<Item>,
    /// `Key` for Update, Delete and ConditionCheck.
    pub key: Option<Item>,
    pub update_expression: Option<String>,
    pub condition_expression: Option<String>,
    /// Empty maps must be omitted from the request (DynamoDB rejects them).
    pub expression_attribute_names: BTreeMap<String, String>,
    pub expression_attribute_values: BTreeMap<String, AttrValue>,
}

impl WriteOp {
    /// Renders this op as DynamoDB expressions. Set
    /// `ReturnValuesOnConditionCheckFailure = ALL_OLD` on each op so cancellation
    /// reasons carry the current item (the services use it to skip a re-read).
    pub fn render(&self) -> RenderedWrite {
        let mut p = Placeholders::default();
        let (kind, item, key, update) = match self {
            WriteOp::Put(x) => (WriteKind::Put, Some(x.item.clone()), None, None),
            WriteOp::Update(x) => (
                WriteKind::Update,
                None,
                Some(x.key.clone()),
                Some(p.update(&x.actions)),
            ),
            WriteOp::Delete(x) => (WriteKind::Delete, None, Some(x.key.clone()), None),
            WriteOp::ConditionCheck(x) => {
                (WriteKind::ConditionCheck, None, Some(x.key.clone()), None)
            }
        };
        let condition_expression = self.condition().map(|c| p.condition(c));
        RenderedWrite {
            kind,
            table: self.table(),
            item,
            key,
            update_expression: update,
            condition_expression,
            expression_attribute_names: p.names,
            expression_attribute_values: p.values,
        }
    }
}

/// A query in DynamoDB request form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedQuery {
    pub table: Table,
    pub index_name: Option<&'static str>,
    pub key_condition_expression: String,
    pub expression_attribute_names: BTreeMap<String, String>,
    pub expression_attribute_values: BTreeMap<String, AttrValue>,
    pub scan_index_forward: bool,
    pub limit: Option<u32>,
    pub exclusive_start_key: Option<Item>,
    pub consistent_read: bool,
}

impl Query {
    pub fn render(&self) -> RenderedQuery {
        let mut p = Placeholders::default();
        let pk = p.name(self.partition_key_attr());
        let pv = p.value(AttrValue::s(self.partition.clone()));
        let mut expr = format!("{pk} = {pv}");
        if let (Some(sort), Some(sk_attr)) = (&self.sort, self.sort_key_attr()) {
            let sk = p.name(sk_attr);
            let mut v = |s: &String| p.value(AttrValue::s(s.clone()));
            let clause = match sort {
                SortCondition::Eq(x) => format!("{sk} = {}", v(x)),
                SortCondition::Lt(x) => format!("{sk} < {}", v(x)),
                SortCondition::Le(x) => format!("{sk} <= {}", v(x)),
                SortCondition::Gt(x) => format!("{sk} > {}", v(x)),
                SortCondition::Ge(x) => format!("{sk} >= {}", v(x)),
                SortCondition::Between(a, b) => {
                    let a = v(a);
                    format!("{sk} BETWEEN {a} AND {}", v(b))
                }
                SortCondition::BeginsWith(x) => format!("begins_with({sk}, {})", v(x)),
            };
            expr.push_str(" AND ");
            expr.push_str(&clause);
        }
        RenderedQuery {
            table: self.table,
            index_name: self.index.map(Index::name),
            key_condition_expression: expr,
            expression_attribute_names: p.names,
            expression_attribute_values: p.values,
            scan_index_forward: self.forward,
            limit: self.limit,
            exclusive_start_key: self.start_key.clone(),
            consistent_read: self.consistent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::plan::{Put, Update};

    fn okey() -> Item {
        [("order_id".to_owned(), AttrValue::s("O1"))].into()
    }

    #[test]
    fn update_with_condition() {
        let op = WriteOp::Update(Update {
            table: Table::OrderById,
            key: okey(),
            actions: vec![
                UpdateAction::Set("status".into(), AttrValue::s("RESERVED")),
                UpdateAction::Add("version".into(), 1),
                UpdateAction::Remove("failure_reason".into()),
            ],
            condition: Some(Condition::And(vec![
                Condition::equals("version", AttrValue::n(3)),
                Condition::equals("status", AttrValue::s("PENDING")),
            ])),
        });
        let r = op.render();
        assert_eq!(r.kind, WriteKind::Update);
        assert_eq!(
            r.update_expression.as_deref(),
            Some("SET #n0 = :v0 ADD #n1 :v1 REMOVE #n2")
        );
        assert_eq!(
            r.condition_expression.as_deref(),
            Some("(#n1 = :v2) AND (#n0 = :v3)")
        );
        assert_eq!(r.expression_attribute_names["#n0"], "status");
        assert_eq!(r.expression_attribute_names["#n1"], "version");
        assert_eq!(r.expression_attribute_values[":v2"], AttrValue::n(3));
    }

    #[test]
    fn put_not_exists_or_expired() {
        let op = WriteOp::Put(Put {
            table: Table::OrderById,
            item: okey(),
            condition: Some(Condition::Or(vec![
                Condition::not_exists("order_id"),
                Condition::NumberLessThan("expires_at".into(), 100),
            ])),
        });
        let r = op.render();
        assert_eq!(
            r.condition_expression.as_deref(),
            Some("(attribute_not_exists(#n0)) OR (#n1 < :v0)")
        );
        assert!(r.update_expression.is_none());
        assert_eq!(r.item, Some(okey()));
    }

    #[test]
    fn query_render() {
        let mut q = Query::index(Index::StatusTime, "PENDING#3");
        q.sort = Some(SortCondition::Lt("000001".into()));
        q.forward = false;
        let r = q.render();
        assert_eq!(r.index_name, Some("by-status-time"));
        assert_eq!(r.key_condition_expression, "#n0 = :v0 AND #n1 < :v1");
        assert_eq!(r.expression_attribute_names["#n0"], "status_shard");
        assert!(!r.scan_index_forward);
        let mut q = Query::table(Table::Orders, "c1");
        q.sort = Some(SortCondition::Between("a".into(), "b".into()));
        assert_eq!(
            q.render().key_condition_expression,
            "#n0 = :v0 AND #n1 BETWEEN :v1 AND :v2"
        );
    }
}

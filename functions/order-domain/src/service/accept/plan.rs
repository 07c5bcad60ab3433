//! The accept decision without I/O: price a validated request from its stock
//! records and build the order, the answer and the transaction that writes
//! them.

use jiff::Timestamp;

use crate::codec::{self, CorruptItem, StockRecord};
use crate::error::{ValidationError, ValidationErrors};
use crate::ids::OrderId;
use crate::money::Money;
use crate::order::{LineItem, Order, OrderStatus, StatusChange};
use crate::rules::CountyRules;
use crate::schema::{idempotency as idem, order_by_id, orders};
use crate::service::TxOp;
use crate::store::{AttrValue, Condition, Item, Put, StoreError, Table, Transaction, WriteOp};

use super::request::ValidatedRequest;
use super::{AcceptError, Accepted};

/// The ops of the accept transaction, declared in the order they are sent:
/// DynamoDB explains a cancelled transaction with one reason per op, by
/// position, and [`TxOp`] maps a name to that position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptOp {
    /// The idempotency record, written only if absent or expired: where two
    /// identical requests that both passed the read race, exactly one wins.
    Idempotency,
    /// The Orders summary, written only if new.
    Summary,
    /// The OrderById record, written only if new.
    Record,
}

impl AcceptOp {
    pub const ALL: [AcceptOp; 3] = [AcceptOp::Idempotency, AcceptOp::Summary, AcceptOp::Record];
}

impl TxOp for AcceptOp {
    fn position(self) -> usize {
        self as usize
    }
}

/// The accept transaction's writes, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AcceptWrites {
    idempotency: Put,
    summary: Put,
    record: Put,
}

impl AcceptWrites {
    /// The writes as one transaction, each at its [`AcceptOp`]'s position.
    fn into_transaction(self) -> Result<Transaction, StoreError> {
        let ops = vec![
            WriteOp::Put(self.idempotency),
            WriteOp::Put(self.summary),
            WriteOp::Put(self.record),
        ];
        Ok(Transaction::new(ops)?)
    }
}

/// Everything the accept transaction writes, built without I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptPlan {
    pub order: Order,
    pub accepted: Accepted,
    /// The three writes, each at its [`AcceptOp`]'s position.
    pub transaction: Transaction,
}

/// Prices the request from its stock records (`stock[i]` for `req.lines[i]`,
/// `None` if the store has no such SKU) and builds the accept transaction.
pub fn plan_accept(
    req: &ValidatedRequest,
    stock: &[Option<StockRecord>],
    rules: &CountyRules,
    now: Timestamp,
    order_id: OrderId,
) -> Result<AcceptPlan, AcceptError> {
    let (items, total_cents) = price(req, stock).map_err(AcceptError::Validation)?;
    let order = Order {
        order_id,
        customer_id: req.customer_id.clone(),
        store_id: req.store_id.clone(),
        county_id: rules.county_id.clone(),
        client_request_id: Some(req.client_request_id.clone()),
        items,
        total_cents,
        status: OrderStatus::Pending,
        created_at: now,
        updated_at: now,
        version: 1,
        failure_reason: None,
        hold_reason: None,
        payment_id: None,
        history: vec![StatusChange {
            status: OrderStatus::Pending,
            at: now,
        }],
        legacy: None,
    };
    let accepted = Accepted::from(&order);
    let writes = writes(req, &order, &accepted, rules)?;
    Ok(AcceptPlan {
        order,
        accepted,
        transaction: writes.into_transaction()?,
    })
}

/// The priced lines and their total, or every line the store does not sell.
fn price(
    req: &ValidatedRequest,
    stock: &[Option<StockRecord>],
) -> Result<(Vec<LineItem>, Money), ValidationErrors> {
    let mut errors = Vec::new();
    let mut items = Vec::with_capacity(req.lines.len());
    for (i, line) in req.lines.iter().enumerate() {
        match stock.get(i).and_then(Option::as_ref) {
            Some(s) if s.sku == line.sku && s.store_id == req.store_id => items.push(LineItem {
                sku: line.sku.clone(),
                quantity: line.quantity,
                unit_price_cents: s.price_cents,
            }),
            _ => errors.push(ValidationError::new(
                format!("items[{i}].sku"),
                format!("{} is not sold at store {}", line.sku, req.store_id),
            )),
        }
    }
    let total = items
        .iter()
        .try_fold(Money::ZERO, |acc, l| acc.checked_add(l.line_total()?));
    if total.is_none() {
        errors.push(ValidationError::new("items", "order total is too large"));
    }
    match total {
        Some(total) if errors.is_empty() => Ok((items, total)),
        _ => Err(ValidationErrors(errors)),
    }
}

/// Room for the answer to a typical order (a few hundred bytes), so it is
/// written without the buffer regrowing: each regrowth copies it.
const RESPONSE_CAPACITY: usize = 1024;

fn response_text(accepted: &Accepted) -> Result<String, CorruptItem> {
    let mut text = Vec::with_capacity(RESPONSE_CAPACITY);
    serde_json::to_writer(&mut text, accepted)
        .map_err(|e| CorruptItem::new(Table::Idempotency, e))?;
    String::from_utf8(text).map_err(|e| CorruptItem::new(Table::Idempotency, e))
}

fn writes(
    req: &ValidatedRequest,
    order: &Order,
    accepted: &Accepted,
    rules: &CountyRules,
) -> Result<AcceptWrites, AcceptError> {
    let now = order.created_at;
    let response = response_text(accepted)?;
    let expires_at = now.as_second() + i64::from(rules.idempotency_ttl_hours) * 3600;
    // Formatted once: every item below stores it.
    let created_at = now.to_string();
    // In attribute-name order, which `Item::from` sorts into cheapest.
    let record: Item = [
        (idem::CREATED_AT.to_owned(), AttrValue::s(&created_at)),
        (idem::TTL.to_owned(), AttrValue::n(expires_at)),
        (idem::PK.to_owned(), AttrValue::s(req.idempotency_key())),
        (
            idem::ORDER_ID.to_owned(),
            AttrValue::s(order.order_id.to_string()),
        ),
        (
            idem::REQUEST_HASH.to_owned(),
            AttrValue::s(&req.request_hash),
        ),
        (idem::RESPONSE.to_owned(), AttrValue::S(response)),
    ]
    .into();
    let summary =
        codec::summary_item_with(order, rules.gsi_write_shards, AttrValue::s(&created_at));
    let order_record = codec::order_item_with(order, AttrValue::S(created_at));
    Ok(AcceptWrites {
        idempotency: Put {
            table: Table::Idempotency,
            item: record,
            // DynamoDB TTL deletes lazily, so an expired record may still be
            // there; it counts as absent.
            condition: Some(Condition::Or(vec![
                Condition::not_exists(idem::PK),
                Condition::NumberLessThan(idem::TTL.to_owned(), now.as_second()),
            ])),
        },
        summary: Put {
            table: Table::Orders,
            item: summary,
            condition: Some(Condition::not_exists(orders::PK)),
        },
        record: Put {
            table: Table::OrderById,
            item: order_record,
            condition: Some(Condition::not_exists(order_by_id::PK)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Sku, StoreId};
    use crate::service::accept::parse_request;
    use crate::service::accept::test_rules as rules;
    use crate::store::ItemExt;

    const OK: &str = r#"{"client_request_id":"r1","customer_id":"c1","store_id":"s1",
        "items":[{"sku":"A","quantity":2},{"sku":"B","quantity":1}]}"#;

    fn rec(sku: &str, cents: u64) -> StockRecord {
        StockRecord {
            store_id: StoreId::parse("s1").unwrap(),
            sku: Sku::parse(sku).unwrap(),
            available: 0,
            price_cents: Money::from_cents(cents).unwrap(),
        }
    }

    fn at(now: &str) -> (Timestamp, OrderId) {
        let now: Timestamp = now.parse().unwrap();
        let id = OrderId::from_ulid(ulid::Ulid::from_parts(now.as_millisecond() as u64, 1));
        (now, id)
    }

    #[test]
    fn plan_prices_from_stock_and_rejects_unknown_skus() {
        let r = rules();
        let req = parse_request(OK.as_bytes(), &r).unwrap();
        let (now, id) = at("2026-03-09T15:00:00Z");
        let plan = plan_accept(
            &req,
            &[Some(rec("A", 1000)), Some(rec("B", 250))],
            &r,
            now,
            id,
        )
        .unwrap();
        assert_eq!(plan.order.total_cents.cents(), 2250);
        assert_eq!(plan.transaction.len(), 3);
        let err = plan_accept(&req, &[Some(rec("A", 1000)), None], &r, now, id).unwrap_err();
        match err {
            AcceptError::Validation(v) => assert!(v.has("items[1].sku")),
            other => panic!("{other:?}"),
        }
        let overflow = plan_accept(
            &req,
            &[Some(rec("A", Money::MAX.cents())), Some(rec("B", 1))],
            &r,
            now,
            id,
        );
        assert!(matches!(overflow, Err(AcceptError::Validation(_))));
    }

    #[test]
    fn each_op_sits_at_its_names_position() {
        let r = rules();
        let req = parse_request(OK.as_bytes(), &r).unwrap();
        let (now, id) = at("2026-03-09T15:00:00.123456789Z");
        let stock = [Some(rec("A", 1000)), Some(rec("B", 250))];
        let plan = plan_accept(&req, &stock, &r, now, id).unwrap();
        let table = |op: AcceptOp| match &plan.transaction.ops()[op.position()] {
            WriteOp::Put(put) => put.table,
            other => panic!("{op:?} is {other:?}"),
        };
        let tables = AcceptOp::ALL.map(table);
        assert_eq!(
            tables,
            [Table::Idempotency, Table::Orders, Table::OrderById]
        );
        assert_eq!(plan.transaction.len(), AcceptOp::ALL.len());
    }

    #[test]
    fn the_stored_response_is_the_serde_answer() {
        // A retry replays this text, so it must be the answer itself.
        let r = rules();
        let req = parse_request(OK.as_bytes(), &r).unwrap();
        let (now, id) = at("2026-03-09T15:00:00.123456789Z");
        let stock = [Some(rec("A", 1000)), Some(rec("B", 250))];
        let plan = plan_accept(&req, &stock, &r, now, id).unwrap();
        let WriteOp::Put(put) = &plan.transaction.ops()[AcceptOp::Idempotency.position()] else {
            panic!("the idempotency op is a put");
        };
        let response = put.item.get_s(idem::RESPONSE).unwrap();
        assert_eq!(response, serde_json::to_string(&plan.accepted).unwrap());
        assert_eq!(
            serde_json::from_str::<Accepted>(response).unwrap(),
            plan.accepted
        );
        assert_eq!(plan.accepted, Accepted::from(&plan.order));
        assert_eq!(
            put.item.get_s(idem::CREATED_AT).unwrap(),
            "2026-03-09T15:00:00.123456789Z"
        );
    }
}

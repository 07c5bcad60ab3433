//! `POST /orders`: validate, price from stock records, write PENDING with an
//! idempotency record in one transaction, answer 202.
//!
//! Order of checks, and why:
//! 1. body size, JSON shape and every field (400, all problems at once);
//! 2. the idempotency record: a retry of an accepted request gets the first
//!    answer even if the shop has closed since or prices changed;
//! 3. sales enabled and sale hours in the county's time zone, read on the
//!    sale clock (422);
//! 4. prices from the `STOCK#<sku>` records (unknown SKU at the store: 400);
//! 5. one transaction: idempotency record (only if absent or expired), Orders
//!    summary, OrderById record. If two identical requests race past step 2,
//!    the transaction's condition on the idempotency record lets exactly one
//!    win; the loser answers with the winner's response.

use std::borrow::Cow;
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::clock::{Clock, IdGenerator};
use crate::codec::{self, CorruptItem, StockRecord};
use crate::error::{DomainError, ValidationError, ValidationErrors, store_code, store_status};
use crate::ids::{ClientRequestId, CountyId, CustomerId, OrderId, Sku, StoreId};
use crate::keys;
use crate::money::Money;
use crate::order::{LineItem, Order, OrderStatus, StatusChange};
use crate::rules::{CountyRules, SalesClosed};
use crate::schema::{idempotency as idem, orders};
use crate::service::json;
use crate::store::{
    AttrValue, Condition, Item, ItemExt, Put, Store, StoreError, Table, Transaction, WriteOp,
};
use crate::util::join_all;

/// API Gateway and Lambda take far more; orders don't need it. Larger bodies
/// are refused before parsing.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The request body, strictly typed: the fast path for valid bodies.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceOrderBody<'a> {
    #[serde(borrow)]
    client_request_id: Cow<'a, str>,
    #[serde(borrow)]
    customer_id: Cow<'a, str>,
    #[serde(borrow)]
    store_id: Cow<'a, str>,
    #[serde(borrow, deserialize_with = "lines_with_room")]
    items: Vec<BodyLine<'a>>,
}

/// Lines a typical order fits in without the `Vec` growing.
const TYPICAL_LINES: usize = 8;

/// `items` into a `Vec` with room for a typical order from the start: JSON
/// arrays carry no length, so serde's own `Vec` starts empty and reallocates
/// as it grows.
fn lines_with_room<'de: 'a, 'a, D>(d: D) -> Result<Vec<BodyLine<'a>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Lines<'a>(std::marker::PhantomData<BodyLine<'a>>);
    impl<'de: 'a, 'a> serde::de::Visitor<'de> for Lines<'a> {
        type Value = Vec<BodyLine<'a>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a sequence")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut lines = Vec::with_capacity(seq.size_hint().unwrap_or(TYPICAL_LINES));
            while let Some(line) = seq.next_element()? {
                lines.push(line);
            }
            Ok(lines)
        }
    }
    d.deserialize_seq(Lines(std::marker::PhantomData))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyLine<'a> {
    #[serde(borrow)]
    sku: Cow<'a, str>,
    quantity: i64,
}

/// What was readable from a body, field by field, for semantic checks.
#[derive(Default)]
struct Partial<'a> {
    client_request_id: Option<Cow<'a, str>>,
    customer_id: Option<Cow<'a, str>>,
    store_id: Option<Cow<'a, str>>,
    items: Option<Vec<PartialLine<'a>>>,
}

#[derive(Default)]
struct PartialLine<'a> {
    sku: Option<Cow<'a, str>>,
    quantity: Option<i64>,
}

/// The fields the semantic checks read, borrowed from a typed body (the fast
/// path: nothing copied) or from a [`Partial`] (the slow path).
struct Fields<'p, L> {
    client_request_id: Option<&'p str>,
    customer_id: Option<&'p str>,
    store_id: Option<&'p str>,
    items: Option<&'p [L]>,
}

/// One line's fields, as far as they were readable.
trait LineFields {
    fn sku(&self) -> Option<&str>;
    fn quantity(&self) -> Option<i64>;
}

impl LineFields for BodyLine<'_> {
    fn sku(&self) -> Option<&str> {
        Some(&self.sku)
    }
    fn quantity(&self) -> Option<i64> {
        Some(self.quantity)
    }
}

impl LineFields for PartialLine<'_> {
    fn sku(&self) -> Option<&str> {
        self.sku.as_deref()
    }
    fn quantity(&self) -> Option<i64> {
        self.quantity
    }
}

impl<'p, 'a> From<&'p PlaceOrderBody<'a>> for Fields<'p, BodyLine<'a>> {
    fn from(b: &'p PlaceOrderBody<'a>) -> Self {
        Fields {
            client_request_id: Some(&b.client_request_id),
            customer_id: Some(&b.customer_id),
            store_id: Some(&b.store_id),
            items: Some(&b.items),
        }
    }
}

impl<'p, 'a> From<&'p Partial<'a>> for Fields<'p, PartialLine<'a>> {
    fn from(p: &'p Partial<'a>) -> Self {
        Fields {
            client_request_id: p.client_request_id.as_deref(),
            customer_id: p.customer_id.as_deref(),
            store_id: p.store_id.as_deref(),
            items: p.items.as_deref(),
        }
    }
}

/// The slow path, taken only when the typed parse fails: walk the JSON value
/// to report every structural problem with its path, keeping whatever fields
/// are well-typed so their semantic problems are reported too.
fn walk_body(v: &serde_json::Value, errors: &mut Vec<ValidationError>) -> Partial<'static> {
    use serde_json::Value;
    let mut p = Partial::default();
    let Value::Object(obj) = v else {
        errors.push(ValidationError::new("body", "must be a JSON object"));
        return p;
    };
    let string = |field: &str, v: &Value, errors: &mut Vec<ValidationError>| match v {
        Value::String(s) => Some(Cow::Owned(s.clone())),
        _ => {
            errors.push(ValidationError::new(field, "must be a string"));
            None
        }
    };
    for (k, v) in obj {
        match k.as_str() {
            "client_request_id" => p.client_request_id = string(k, v, errors),
            "customer_id" => p.customer_id = string(k, v, errors),
            "store_id" => p.store_id = string(k, v, errors),
            "items" => {
                let Value::Array(lines) = v else {
                    errors.push(ValidationError::new("items", "must be an array"));
                    continue;
                };
                let mut out = Vec::with_capacity(lines.len());
                for (i, line) in lines.iter().enumerate() {
                    let mut pl = PartialLine::default();
                    let Value::Object(fields) = line else {
                        errors.push(ValidationError::new(
                            format!("items[{i}]"),
                            "must be an object",
                        ));
                        out.push(pl);
                        continue;
                    };
                    for (lk, lv) in fields {
                        let path = format!("items[{i}].{lk}");
                        match lk.as_str() {
                            "sku" => pl.sku = string(&path, lv, errors),
                            "quantity" => match lv.as_i64() {
                                Some(q) => pl.quantity = Some(q),
                                None => {
                                    errors.push(ValidationError::new(path, "must be an integer"))
                                }
                            },
                            _ => errors.push(ValidationError::new(path, "unknown field")),
                        }
                    }
                    for required in ["sku", "quantity"] {
                        if !fields.contains_key(required) {
                            errors.push(ValidationError::new(
                                format!("items[{i}].{required}"),
                                "is required",
                            ));
                        }
                    }
                    out.push(pl);
                }
                p.items = Some(out);
            }
            _ => errors.push(ValidationError::new(k.as_str(), "unknown field")),
        }
    }
    for required in ["client_request_id", "customer_id", "store_id", "items"] {
        if !obj.contains_key(required) {
            errors.push(ValidationError::new(required, "is required"));
        }
    }
    p
}

/// One requested line after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedLine {
    pub sku: Sku,
    pub quantity: u32,
}

/// A request that passed every check that needs no I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedRequest {
    pub client_request_id: ClientRequestId,
    pub customer_id: CustomerId,
    pub store_id: StoreId,
    pub lines: Vec<RequestedLine>,
    /// SHA-256 (hex) of the canonical request: ids and lines sorted by SKU, so
    /// the same order with its lines in another order or other JSON spacing is
    /// the same request.
    pub request_hash: String,
}

impl ValidatedRequest {
    pub fn idempotency_key(&self) -> String {
        keys::idempotency_key(&self.customer_id, &self.client_request_id)
    }
}

/// Parses and validates a `POST /orders` body against the county's limits,
/// reporting every problem found (not just the first).
pub fn validate_request(
    body: &[u8],
    rules: &CountyRules,
) -> Result<ValidatedRequest, ValidationErrors> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ValidationErrors::single(
            "body",
            format!("is {} bytes; the limit is {MAX_BODY_BYTES}", body.len()),
        ));
    }
    let mut errors = Vec::new();
    let validated = match serde_json::from_slice::<PlaceOrderBody<'_>>(body) {
        Ok(b) => check_fields(Fields::from(&b), rules, &mut errors),
        Err(typed_err) => match serde_json::from_slice::<serde_json::Value>(body) {
            Err(e) => {
                return Err(ValidationErrors::single(
                    "body",
                    format!("is not valid JSON: {e}"),
                ));
            }
            Ok(v) => {
                let p = walk_body(&v, &mut errors);
                if errors.is_empty() {
                    // Something the walk doesn't model, e.g. a duplicated key.
                    errors.push(ValidationError::new("body", typed_err.to_string()));
                }
                check_fields(Fields::from(&p), rules, &mut errors)
            }
        },
    };
    match validated {
        Some(v) if errors.is_empty() => Ok(v),
        _ => Err(ValidationErrors(errors)),
    }
}

/// Parses an id field, recording an error under the path `field()` (built
/// only on error: the happy path allocates no paths).
fn id_field<T>(
    field: impl FnOnce() -> String,
    value: Option<&str>,
    parse: fn(&str) -> Result<T, crate::ids::IdError>,
    errors: &mut Vec<ValidationError>,
) -> Option<T> {
    parse(value?)
        .map_err(|e| errors.push(ValidationError::new(field(), e.to_string())))
        .ok()
}

fn check_fields<L: LineFields>(
    p: Fields<'_, L>,
    rules: &CountyRules,
    errors: &mut Vec<ValidationError>,
) -> Option<ValidatedRequest> {
    let client_request_id = id_field(
        || "client_request_id".into(),
        p.client_request_id,
        ClientRequestId::parse,
        errors,
    );
    let customer_id = id_field(
        || "customer_id".into(),
        p.customer_id,
        CustomerId::parse,
        errors,
    );
    let store_id = id_field(|| "store_id".into(), p.store_id, StoreId::parse, errors);

    let items = p.items?;
    let max_units = rules.max_units_per_order;
    let max_lines = rules.max_line_items as usize;
    if items.is_empty() {
        errors.push(ValidationError::new(
            "items",
            "must contain at least 1 item",
        ));
    } else if items.len() > max_lines {
        errors.push(ValidationError::new(
            "items",
            format!(
                "must contain at most {max_lines} items (got {})",
                items.len()
            ),
        ));
    }
    let mut lines = Vec::with_capacity(items.len());
    let mut total_units: u64 = 0;
    let mut all_ok = true;
    for (i, line) in items.iter().enumerate() {
        let raw_sku = line.sku();
        let sku = id_field(|| format!("items[{i}].sku"), raw_sku, Sku::parse, errors);
        if let (Some(_), Some(raw)) = (&sku, raw_sku) {
            // The first earlier line with the same text; it parsed too (same
            // text), so it is the SKU's first occurrence. Line counts are
            // small (bounded by the body size): a linear scan beats hashing.
            if let Some(first) = items[..i].iter().position(|l| l.sku() == Some(raw)) {
                errors.push(ValidationError::new(
                    format!("items[{i}].sku"),
                    format!("duplicates items[{first}].sku; combine the quantities"),
                ));
                all_ok = false;
            }
        }
        let quantity = match line.quantity() {
            None => None,
            Some(q) if q < 1 => {
                errors.push(ValidationError::new(
                    format!("items[{i}].quantity"),
                    "must be at least 1",
                ));
                None
            }
            Some(q) if q > i64::from(max_units) => {
                errors.push(ValidationError::new(
                    format!("items[{i}].quantity"),
                    format!("must be at most {max_units}"),
                ));
                None
            }
            // In 1..=max_units <= u32::MAX, so the conversion holds.
            Some(q) => u32::try_from(q).ok(),
        };
        if let Some(q) = quantity {
            total_units += u64::from(q);
        }
        match (sku, quantity) {
            (Some(sku), Some(quantity)) => lines.push(RequestedLine { sku, quantity }),
            _ => all_ok = false,
        }
    }
    if total_units > u64::from(max_units) {
        errors.push(ValidationError::new(
            "items",
            format!(
                "total quantity {total_units} exceeds the county limit of {max_units} units per order"
            ),
        ));
    }
    if !all_ok {
        return None;
    }
    let (client_request_id, customer_id, store_id) = (client_request_id?, customer_id?, store_id?);
    let request_hash = canonical_hash(&client_request_id, &customer_id, &store_id, &lines);
    Some(ValidatedRequest {
        client_request_id,
        customer_id,
        store_id,
        lines,
        request_hash,
    })
}

fn canonical_hash(
    request: &ClientRequestId,
    customer: &CustomerId,
    store: &StoreId,
    lines: &[RequestedLine],
) -> String {
    // Sorted by (SKU text, quantity): `Sku` orders as its text does.
    let mut items: Vec<(&Sku, u32)> = lines.iter().map(|l| (&l.sku, l.quantity)).collect();
    items.sort_unstable();
    let mut hasher = Sha256::new();
    // `{"v":1,"client_request_id":..,"customer_id":..,"store_id":..,
    // "items":[[sku,quantity],..]}`, byte for byte as serde_json writes it:
    // the request hashes already stored in idempotency records depend on it.
    json::canonical_request(&mut hasher, request, customer, store, &items);
    // Hex on the stack, then one exactly sized `String` (`hex::encode`
    // grows its string a character at a time).
    let mut text = [0u8; 64];
    let hex = match hex::encode_to_slice(hasher.finalize(), &mut text) {
        Ok(()) => std::str::from_utf8(&text).unwrap_or_default(),
        Err(_) => "",
    };
    hex.to_owned()
}

/// The 202 answer, also stored in the idempotency record and replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub order_id: OrderId,
    pub status: OrderStatus,
    pub customer_id: CustomerId,
    pub store_id: StoreId,
    pub county_id: CountyId,
    pub client_request_id: ClientRequestId,
    pub items: Vec<LineItem>,
    pub total_cents: Money,
    pub created_at: Timestamp,
}

/// The result of [`AcceptService::accept`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptOutcome {
    pub accepted: Accepted,
    /// True when this was a retry answered from the idempotency record:
    /// nothing was written, and the handler need not enqueue again (the
    /// stream publisher guarantees the first acceptance was enqueued).
    pub replayed: bool,
}

/// Everything the accept transaction writes, built without I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptPlan {
    pub order: Order,
    pub accepted: Accepted,
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
    let (Some(total), true) = (total, errors.is_empty()) else {
        return Err(AcceptError::Validation(ValidationErrors(errors)));
    };

    let order = Order {
        order_id,
        customer_id: req.customer_id.clone(),
        store_id: req.store_id.clone(),
        county_id: rules.county_id.clone(),
        client_request_id: req.client_request_id.clone(),
        items,
        total_cents: total,
        status: OrderStatus::Pending,
        created_at: now,
        updated_at: now,
        version: 1,
        failure_reason: None,
        payment_id: None,
        history: vec![StatusChange {
            status: OrderStatus::Pending,
            at: now,
        }],
    };
    let accepted = Accepted {
        order_id,
        status: OrderStatus::Pending,
        customer_id: order.customer_id.clone(),
        store_id: order.store_id.clone(),
        county_id: order.county_id.clone(),
        client_request_id: order.client_request_id.clone(),
        items: order.items.clone(),
        total_cents: total,
        created_at: now,
    };
    let now_secs = now.as_second();
    let expires_at = now_secs + i64::from(rules.idempotency_ttl_hours) * 3600;
    let created_at = now.to_string();
    let response = match json::accepted(&accepted, &created_at) {
        Some(text) => text,
        None => serde_json::to_string(&accepted)
            .map_err(|e| AcceptError::Corrupt(CorruptItem::new(Table::Idempotency, e)))?,
    };
    // The items share `now`'s text rather than each formatting it.
    let summary = codec::summary_item_with(
        &order,
        rules.gsi_write_shards,
        AttrValue::s(created_at.as_str()),
    );
    let record = codec::order_item_with(&order, AttrValue::s(created_at.as_str()));
    let mut id_text = [0u8; OrderId::LEN];
    // In key order: `Item::from` sorts, and sorted input is its cheap case.
    let idem_item: Item = [
        (idem::CREATED_AT.to_owned(), AttrValue::S(created_at)),
        (idem::TTL.to_owned(), AttrValue::n(expires_at)),
        (idem::PK.to_owned(), AttrValue::s(req.idempotency_key())),
        (
            idem::ORDER_ID.to_owned(),
            AttrValue::s(order_id.encode(&mut id_text)),
        ),
        (
            idem::REQUEST_HASH.to_owned(),
            AttrValue::s(req.request_hash.as_str()),
        ),
        (idem::RESPONSE.to_owned(), AttrValue::S(response)),
    ]
    .into();
    let ops = vec![
        // Op 0 (the service relies on the index): DynamoDB TTL deletes lazily,
        // so an expired record may still be there; it counts as absent.
        WriteOp::Put(Put {
            table: Table::Idempotency,
            item: idem_item,
            condition: Some(Condition::Or(vec![
                Condition::not_exists(idem::PK),
                Condition::NumberLessThan(idem::TTL.to_owned(), now_secs),
            ])),
        }),
        WriteOp::Put(Put {
            table: Table::Orders,
            item: summary,
            condition: Some(Condition::not_exists(orders::PK)),
        }),
        WriteOp::Put(Put {
            table: Table::OrderById,
            item: record,
            condition: Some(Condition::not_exists(crate::schema::order_by_id::PK)),
        }),
    ];
    let transaction = Transaction::new(ops).map_err(|e| AcceptError::Store(StoreError::Plan(e)))?;
    Ok(AcceptPlan {
        order,
        accepted,
        transaction,
    })
}

/// An upper bound on the length of `accepted` as JSON, so the response is
/// serialized into one allocation: growing a buffer reallocates, and
/// reallocations bypass the allocator's per-thread caches. Every string in it
/// is an id whose charset needs no JSON escaping, or the `created_at` text
/// (`created_at_len` bytes); every number has at most 20 digits.
pub(crate) fn response_capacity(accepted: &Accepted, created_at_len: usize) -> usize {
    // {"order_id":"","status":"","customer_id":"","store_id":"",
    //  "county_id":"","client_request_id":"","items":[],"total_cents":,
    //  "created_at":""} and the longest status name.
    const FIXED: usize = 138;
    const LONGEST_STATUS: usize = 9;
    // {"sku":"","quantity":,"unit_price_cents":}, plus a comma.
    const PER_LINE: usize = 43;
    const NUMBER: usize = 20;
    let ids = OrderId::LEN
        + accepted.customer_id.as_str().len()
        + accepted.store_id.as_str().len()
        + accepted.county_id.as_str().len()
        + accepted.client_request_id.as_str().len();
    let lines: usize = accepted
        .items
        .iter()
        .map(|l| PER_LINE + l.sku.as_str().len() + 2 * NUMBER)
        .sum();
    FIXED + LONGEST_STATUS + ids + NUMBER + created_at_len + lines
}

/// Why an order was not accepted.
#[derive(Debug, Error)]
pub enum AcceptError {
    #[error("invalid request: {0}")]
    Validation(ValidationErrors),
    #[error("client_request_id was already used with a different request")]
    Conflict,
    #[error(transparent)]
    Closed(#[from] SalesClosed),
    /// A concurrent request interfered; the same request can be retried.
    #[error("concurrent request in progress; retry")]
    Contention,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Corrupt(#[from] CorruptItem),
}

impl DomainError for AcceptError {
    fn http_status(&self) -> u16 {
        match self {
            AcceptError::Validation(_) => 400,
            AcceptError::Conflict => 409,
            AcceptError::Closed(_) => 422,
            AcceptError::Contention => 503,
            AcceptError::Store(e) => store_status(e),
            AcceptError::Corrupt(_) => 500,
        }
    }

    fn is_retryable(&self) -> bool {
        match self {
            AcceptError::Contention => true,
            AcceptError::Store(e) => e.is_retryable(),
            _ => false,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AcceptError::Validation(_) => "validation_failed",
            AcceptError::Conflict => "idempotency_conflict",
            AcceptError::Closed(SalesClosed::Disabled { .. }) => "sales_disabled",
            AcceptError::Closed(SalesClosed::OutsideHours { .. }) => "outside_sale_hours",
            AcceptError::Contention => "contention",
            AcceptError::Store(e) => store_code(e),
            AcceptError::Corrupt(_) => "internal",
        }
    }

    fn field_errors(&self) -> &[ValidationError] {
        match self {
            AcceptError::Validation(v) => &v.0,
            _ => &[],
        }
    }
}

/// A live idempotency record.
struct IdempotencyRecord {
    request_hash: String,
    response: Accepted,
}

fn live_record(item: &Item, now: Timestamp) -> Result<Option<IdempotencyRecord>, CorruptItem> {
    let corrupt = |e: crate::store::AttrError| CorruptItem::new(Table::Idempotency, e);
    let expires_at = item.get_i64(idem::TTL).map_err(corrupt)?;
    if expires_at < now.as_second() {
        return Ok(None);
    }
    let response = serde_json::from_str(item.get_s(idem::RESPONSE).map_err(corrupt)?)
        .map_err(|e| CorruptItem::new(Table::Idempotency, e))?;
    Ok(Some(IdempotencyRecord {
        request_hash: item.get_s(idem::REQUEST_HASH).map_err(corrupt)?.to_owned(),
        response,
    }))
}

fn answer(record: IdempotencyRecord, req: &ValidatedRequest) -> Result<AcceptOutcome, AcceptError> {
    if record.request_hash == req.request_hash {
        Ok(AcceptOutcome {
            accepted: record.response,
            replayed: true,
        })
    } else {
        Err(AcceptError::Conflict)
    }
}

/// The `POST /orders` service.
///
/// It reads two clocks. The wall clock `clock` dates everything the order
/// records: `created_at`, the time component of the order id, the
/// idempotency record's age and TTL. The sale clock decides only whether the
/// county's sale hours are open, and is the time the 422 message quotes. In
/// production both are the same clock; the local runner's `--sale-clock`
/// pins the sale clock (see [`AcceptService::with_sale_clock`]) so a shop can
/// be tried "at 17:00 on a Wednesday" while orders still carry real times.
pub struct AcceptService<S, C, G> {
    store: S,
    rules: CountyRules,
    clock: C,
    /// `None`: the wall clock is the sale clock.
    sale_clock: Option<Arc<dyn Clock>>,
    ids: G,
}

impl<S: Store, C: Clock, G: IdGenerator> AcceptService<S, C, G> {
    /// A service whose sale-hour check reads the wall clock `clock`.
    pub fn new(store: S, rules: CountyRules, clock: C, ids: G) -> Self {
        Self {
            store,
            rules,
            clock,
            sale_clock: None,
            ids,
        }
    }

    /// Checks sale hours against `sale_clock` instead of the wall clock.
    /// Nothing else reads it: timestamps, ids and TTLs stay on the wall clock.
    pub fn with_sale_clock(mut self, sale_clock: impl Clock + 'static) -> Self {
        self.sale_clock = Some(Arc::new(sale_clock));
        self
    }

    pub fn rules(&self) -> &CountyRules {
        &self.rules
    }

    /// The instant the sale-hour rules are checked at, given the wall
    /// clock's `now`.
    fn sale_time(&self, now: Timestamp) -> Timestamp {
        self.sale_clock.as_ref().map_or(now, |c| c.now())
    }

    /// Accepts an order from the raw request body.
    pub async fn accept(&self, body: &[u8]) -> Result<AcceptOutcome, AcceptError> {
        let req = validate_request(body, &self.rules).map_err(AcceptError::Validation)?;
        let now = self.clock.now();
        let key = req.idempotency_key();
        if let Some(record) = self.read_record(&key, now).await? {
            return answer(record, &req);
        }
        self.rules.check_open(self.sale_time(now))?;
        let stock = self.fetch_stock(&req).await?;
        let order_id = self.ids.order_id(now);
        let plan = plan_accept(&req, &stock, &self.rules, now, order_id)?;
        match self.store.transact(plan.transaction).await {
            Ok(()) => Ok(AcceptOutcome {
                accepted: plan.accepted,
                replayed: false,
            }),
            Err(StoreError::TransactionCanceled(c)) if c.condition_failed(0) => {
                // Lost the race to an identical (or conflicting) request.
                let record = match c.failed_item(0) {
                    Some(item) => live_record(item, now)?,
                    None => self.read_record(&key, now).await?,
                };
                match record {
                    Some(record) => answer(record, &req),
                    // The winner's record vanished (TTL) in between: let the
                    // client retry.
                    None => Err(AcceptError::Contention),
                }
            }
            // An order id collision (op 1 or 2), practically impossible
            // with ULIDs; a retry draws a new id.
            Err(StoreError::TransactionCanceled(c))
                if c.condition_failed(1) || c.condition_failed(2) =>
            {
                Err(AcceptError::Contention)
            }
            Err(e) => Err(AcceptError::Store(e)),
        }
    }

    async fn read_record(
        &self,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<IdempotencyRecord>, AcceptError> {
        let item = self
            .store
            .get(
                Table::Idempotency,
                [(idem::PK.to_owned(), AttrValue::s(key))].into(),
                true,
            )
            .await?;
        match item {
            Some(item) => Ok(live_record(&item, now)?),
            None => Ok(None),
        }
    }

    /// Reads every line's stock record concurrently (one round trip's time).
    /// Eventually consistent: a price a second stale is acceptable, and it
    /// halves the read cost.
    async fn fetch_stock(
        &self,
        req: &ValidatedRequest,
    ) -> Result<Vec<Option<StockRecord>>, AcceptError> {
        let reads = req
            .lines
            .iter()
            .map(|l| {
                self.store.get(
                    Table::Inventory,
                    codec::stock_key(&req.store_id, &l.sku),
                    false,
                )
            })
            .collect();
        join_all(reads)
            .await
            .into_iter()
            .map(|r| match r? {
                Some(item) => Ok(Some(StockRecord::from_item(&item)?)),
                None => Ok(None),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> CountyRules {
        CountyRules::from_json(
            r#"{"county_id": "travis-tx", "sales_enabled": true, "timezone": "America/Chicago",
                "max_units_per_order": 24, "max_line_items": 5, "gsi_write_shards": 4,
                "reservation_ttl_seconds": 900, "idempotency_ttl_hours": 24}"#,
        )
        .unwrap()
    }

    fn errors(body: &str) -> Vec<(String, String)> {
        match validate_request(body.as_bytes(), &rules()) {
            Ok(_) => vec![],
            Err(e) => e.0.into_iter().map(|e| (e.field, e.reason)).collect(),
        }
    }

    fn fields(body: &str) -> Vec<String> {
        errors(body).into_iter().map(|(f, _)| f).collect()
    }

    const OK: &str = r#"{"client_request_id":"r1","customer_id":"c1","store_id":"s1",
        "items":[{"sku":"A","quantity":2},{"sku":"B","quantity":1}]}"#;

    #[test]
    fn valid_body() {
        let v = validate_request(OK.as_bytes(), &rules()).unwrap();
        assert_eq!(v.lines.len(), 2);
        assert_eq!(v.idempotency_key(), "c1#r1");
        assert_eq!(v.request_hash.len(), 64);
    }

    #[test]
    fn hash_ignores_line_order_and_whitespace_but_not_content() {
        let a = validate_request(OK.as_bytes(), &rules()).unwrap();
        let b = validate_request(
            br#"{"items":[{"quantity":1,"sku":"B"},{"sku":"A","quantity":2}],
                 "store_id":"s1","customer_id":"c1","client_request_id":"r1"}"#,
            &rules(),
        )
        .unwrap();
        assert_eq!(a.request_hash, b.request_hash);
        let c = validate_request(
            OK.replace("\"quantity\":2", "\"quantity\":3").as_bytes(),
            &rules(),
        )
        .unwrap();
        assert_ne!(a.request_hash, c.request_hash);
    }

    #[test]
    fn the_request_hash_is_sha256_of_the_canonical_json() {
        // The hashes stored in idempotency records were made this way: a
        // change to the canonical form would turn retries into conflicts.
        let v = validate_request(OK.as_bytes(), &rules()).unwrap();
        let canonical = r#"{"v":1,"client_request_id":"r1","customer_id":"c1","store_id":"s1","items":[["A",2],["B",1]]}"#;
        assert_eq!(v.request_hash, hex::encode(Sha256::digest(canonical)));
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let body = r#"{"client_request_id":"","customer_id":"c#1","store_id":7,"colour":"red",
            "items":[{"sku":"A","quantity":0},{"sku":"A","quantity":1},
                     {"sku":"B","quantity":1.5},{"sku":"C","qty":1},"x",
                     {"sku":"this-sku-is-far-too-long-to-be-valid","quantity":-3}]}"#;
        let f = fields(body);
        for expected in [
            "client_request_id",
            "customer_id",
            "store_id",
            "colour",
            "items[0].quantity",
            "items[1].sku",
            "items[2].quantity",
            "items[3].qty",
            "items[3].quantity",
            "items[4]",
            "items[5].sku",
            "items[5].quantity",
            "items",
        ] {
            assert!(
                f.contains(&expected.to_owned()),
                "missing {expected} in {f:?}"
            );
        }
        let errs = errors(body);
        let dup = errs.iter().find(|(f, _)| f == "items[1].sku").unwrap();
        assert!(dup.1.contains("items[0]"), "{dup:?}");
        let unknown = errs.iter().find(|(f, _)| f == "colour").unwrap();
        assert_eq!(unknown.1, "unknown field");
    }

    #[test]
    fn limits() {
        assert_eq!(
            fields(&OK.replace("\"quantity\":2", "\"quantity\":24")),
            ["items"]
        );
        assert_eq!(
            fields(&OK.replace("\"quantity\":2", "\"quantity\":25")),
            ["items[0].quantity"]
        );
        assert_eq!(
            fields(&OK.replace("\"quantity\":2", "\"quantity\":99999999999999999999")),
            ["items[0].quantity"]
        );
        let empty = r#"{"client_request_id":"r","customer_id":"c","store_id":"s","items":[]}"#;
        assert_eq!(
            errors(empty),
            [(
                "items".to_owned(),
                "must contain at least 1 item".to_owned()
            )]
        );
        let six: Vec<String> = (0..6)
            .map(|i| format!(r#"{{"sku":"S{i}","quantity":1}}"#))
            .collect();
        let many = format!(
            r#"{{"client_request_id":"r","customer_id":"c","store_id":"s","items":[{}]}}"#,
            six.join(",")
        );
        assert_eq!(fields(&many), ["items"]);
        let huge = format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        assert_eq!(fields(&huge), ["body"]);
        assert_eq!(fields("{"), ["body"]);
        assert_eq!(fields("[]"), ["body"]);
        let missing = r#"{"customer_id":"c","store_id":"s"}"#;
        assert_eq!(fields(missing), ["client_request_id", "items"]);
        let long_id = OK.replace("\"r1\"", &format!("\"{}\"", "r".repeat(65)));
        assert_eq!(fields(&long_id), ["client_request_id"]);
        let dup_key = r#"{"client_request_id":"r","client_request_id":"r","customer_id":"c","store_id":"s","items":[{"sku":"A","quantity":1}]}"#;
        assert_eq!(fields(dup_key), ["body"]);
    }

    #[test]
    fn escaped_strings_parse() {
        let body = OK.replace("\"c1\"", "\"c\\u0031\"");
        let v = validate_request(body.as_bytes(), &rules()).unwrap();
        assert_eq!(v.customer_id.as_str(), "c1");
    }

    #[test]
    fn the_response_is_serialized_into_one_allocation() {
        let r = rules();
        let now: Timestamp = "2026-03-09T15:00:00.123456789Z".parse().unwrap();
        let long = |c: char| c.to_string().repeat(64);
        let body = format!(
            r#"{{"client_request_id":"{}","customer_id":"{}","store_id":"{}","items":[{}]}}"#,
            long('r'),
            long('c'),
            long('s'),
            (0..5)
                .map(|i| format!(r#"{{"sku":"{}{i}","quantity":4}}"#, "K".repeat(31)))
                .collect::<Vec<_>>()
                .join(",")
        );
        for body in [OK, body.as_str()] {
            let req = validate_request(body.as_bytes(), &r).unwrap();
            let stock: Vec<_> = req
                .lines
                .iter()
                .map(|l| {
                    Some(StockRecord {
                        store_id: req.store_id.clone(),
                        sku: l.sku.clone(),
                        available: 0,
                        price_cents: Money::MAX,
                    })
                })
                .collect();
            // The most expensive lines whose total still fits.
            let mut stock = stock;
            for s in stock.iter_mut().flatten() {
                s.price_cents = Money::from_cents(Money::MAX.cents() / 100).unwrap();
            }
            let id = OrderId::from_ulid(ulid::Ulid::from_parts(now.as_millisecond() as u64, 1));
            let plan = plan_accept(&req, &stock, &r, now, id).unwrap();
            let WriteOp::Put(put) = &plan.transaction.ops()[0] else {
                panic!("op 0 is the idempotency put");
            };
            let AttrValue::S(response) = &put.item[idem::RESPONSE] else {
                panic!("response is a string");
            };
            let bound = response_capacity(&plan.accepted, now.to_string().len());
            assert_eq!(*response, serde_json::to_string(&plan.accepted).unwrap());
            assert!(response.len() <= bound, "{} > {bound}", response.len());
            assert_eq!(response.capacity(), bound, "the buffer never grew");
        }
    }

    #[test]
    fn plan_prices_from_stock_and_rejects_unknown_skus() {
        let r = rules();
        let req = validate_request(OK.as_bytes(), &r).unwrap();
        let now: Timestamp = "2026-03-09T15:00:00Z".parse().unwrap();
        let id = OrderId::from_ulid(ulid::Ulid::from_parts(now.as_millisecond() as u64, 1));
        let rec = |sku: &str, cents| StockRecord {
            store_id: StoreId::parse("s1").unwrap(),
            sku: Sku::parse(sku).unwrap(),
            available: 0,
            price_cents: Money::from_cents(cents).unwrap(),
        };
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
}

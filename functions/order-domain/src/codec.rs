//! Items of each table: the mapping between domain values and [`Item`]s.
//!
//! Numbers are `N`, timestamps are RFC 3339 `S` in UTC (readable in the console
//! and in stream images), and absent optional fields are absent attributes
//! rather than `NULL`s.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::{ClientRequestId, CustomerId, OrderId, Sku, StoreId};
use crate::keys;
use crate::money::Money;
use crate::order::{
    FailureReason, HoldReason, LegacyOwner, LegacyRecord, LineItem, Order, OrderStatus,
    StatusChange,
};
use crate::payment::PaymentId;
use crate::schema::{inventory as inv, orders};
use crate::store::{AttrError, AttrValue, Item, ItemExt, Table};

/// An item read from a table does not decode: data written by something else,
/// or by a newer, incompatible release. Not retryable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("corrupt {table:?} item: {reason}")]
pub struct CorruptItem {
    pub table: Table,
    pub reason: String,
}

impl CorruptItem {
    pub fn new(table: Table, reason: impl std::fmt::Display) -> Self {
        Self {
            table,
            reason: reason.to_string(),
        }
    }
}

fn s(v: impl Into<String>) -> AttrValue {
    AttrValue::S(v.into())
}

fn ts(t: Timestamp) -> AttrValue {
    AttrValue::S(t.to_string())
}

/// `ts(t)`, reusing `known`'s text when it is the same instant: an order's
/// `created_at`, `updated_at` and history instants are often one instant,
/// and copying the text is far cheaper than formatting it again.
fn ts_reusing(t: Timestamp, known: &(Timestamp, AttrValue)) -> AttrValue {
    if t == known.0 { known.1.clone() } else { ts(t) }
}

/// The canonical text of an order id, formatted without `fmt` machinery.
fn order_id_attr(id: &OrderId) -> AttrValue {
    let mut buf = [0u8; OrderId::LEN];
    AttrValue::S(id.encode(&mut buf).to_owned())
}

fn entry(k: &str, v: AttrValue) -> (String, AttrValue) {
    (k.to_owned(), v)
}

/// Key of an OrderById record.
pub fn order_key(order_id: &OrderId) -> Item {
    [entry(
        crate::schema::order_by_id::PK,
        s(order_id.to_string()),
    )]
    .into()
}

// The item builders below list attributes in key order: `Item::from` sorts
// its input, and input already in order costs one comparison per attribute
// instead of moving entries around (this is the API's hot path).

/// The full OrderById record.
pub fn order_to_item(o: &Order) -> Item {
    order_item_with(o, ts(o.created_at))
}

/// [`order_to_item`], given `created_at`, the text of `o.created_at`.
pub(crate) fn order_item_with(o: &Order, created_at: AttrValue) -> Item {
    let items = o
        .items
        .iter()
        .map(|l| {
            AttrValue::M(
                [
                    entry("quantity", AttrValue::n(l.quantity)),
                    entry("sku", s(l.sku.as_str())),
                    entry("unit_price_cents", AttrValue::n(l.unit_price_cents.cents())),
                ]
                .into(),
            )
        })
        .collect();
    let created = (o.created_at, created_at);
    let history = o
        .history
        .iter()
        .map(|h| {
            AttrValue::M(
                [
                    entry("at", ts_reusing(h.at, &created)),
                    entry("status", s(h.status.as_str())),
                ]
                .into(),
            )
        })
        .collect();
    let updated_at = ts_reusing(o.updated_at, &created);
    let mut item: Item = [
        entry("county_id", s(o.county_id.as_str())),
        entry("created_at", created.1),
        entry("customer_id", s(o.customer_id.as_str())),
        entry("history", AttrValue::L(history)),
        entry("items", AttrValue::L(items)),
        entry("order_id", order_id_attr(&o.order_id)),
        entry("status", s(o.status.as_str())),
        entry("store_id", s(o.store_id.as_str())),
        entry("total_cents", AttrValue::n(o.total_cents.cents())),
        entry("updated_at", updated_at),
        entry("version", AttrValue::n(o.version)),
    ]
    .into();
    if let Some(r) = &o.failure_reason {
        item.insert("failure_reason".into(), failure_to_attr(r));
    }
    if let Some(p) = &o.payment_id {
        item.insert("payment_id".into(), s(p.0.clone()));
    }
    if let Some(r) = &o.hold_reason {
        item.insert("hold_reason".into(), hold_to_attr(r));
    }
    if let Some(r) = &o.client_request_id {
        item.insert("client_request_id".into(), s(r.as_str()));
    }
    if let Some(l) = &o.legacy {
        item.insert(LEGACY_ORDER_ID.into(), AttrValue::N(l.number.to_string()));
        item.insert(LEGACY_UPDATED_US.into(), legacy_updated_us(l));
        item.insert("legacy".into(), legacy_to_attr(l));
    }
    item
}

/// The attribute holding a migrated order's legacy number, on its OrderById
/// and Orders items.
pub const LEGACY_ORDER_ID: &str = "legacy_order_id";

/// The legacy row's `updated_at` in microseconds, on a migrated order's
/// OrderById and Orders items (and a migrated stock record): the version the
/// change capture's conditional writes compare against. A number at the top
/// level, because a condition can compare only that (`legacy.updated_at` is
/// text of varying width).
pub const LEGACY_UPDATED_US: &str = "legacy_updated_us";

fn legacy_updated_us(l: &LegacyRecord) -> AttrValue {
    AttrValue::N(l.updated_at.as_microsecond().to_string())
}

fn legacy_to_attr(l: &LegacyRecord) -> AttrValue {
    let mut m: Item = [
        entry("owner", s(l.owner.as_str())),
        entry("placed_at_local", s(l.placed_at_local.clone())),
        entry("status", s(l.status.clone())),
        entry("updated_at", ts(l.updated_at)),
    ]
    .into();
    if let Some(p) = &l.payment_ref {
        m.insert("payment_ref".into(), s(p.clone()));
    }
    AttrValue::M(m)
}

fn legacy_from_attr(item: &Item) -> Result<Option<LegacyRecord>, AttrError> {
    let Some(v) = item.get("legacy") else {
        return Ok(None);
    };
    let m = as_map(v, "legacy")?;
    let number = item
        .get(LEGACY_ORDER_ID)
        .and_then(AttrValue::as_n)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| AttrError::new(LEGACY_ORDER_ID, "missing or not an integer"))?;
    let owner = match m.get_s("owner")? {
        "LEGACY" => LegacyOwner::Legacy,
        "NEW" => LegacyOwner::New,
        other => {
            return Err(AttrError::new(
                "legacy.owner",
                format!("unknown owner {other:?}"),
            ));
        }
    };
    Ok(Some(LegacyRecord {
        number,
        status: m.get_s("status")?.to_owned(),
        owner,
        placed_at_local: m.get_s("placed_at_local")?.to_owned(),
        updated_at: m.parse_s("updated_at")?,
        payment_ref: m.get_opt_s("payment_ref")?.map(str::to_owned),
    }))
}

fn failure_to_attr(r: &FailureReason) -> AttrValue {
    let mut m: Item = [entry("code", s(r.code()))].into();
    match r {
        FailureReason::OutOfStock { skus } => {
            m.insert(
                "skus".into(),
                AttrValue::L(skus.iter().map(|k| s(k.as_str())).collect()),
            );
        }
        FailureReason::PaymentDeclined { message } => {
            m.insert("message".into(), s(message.clone()));
        }
        FailureReason::ReservationExpired => {}
    }
    AttrValue::M(m)
}

/// `{code, limit, counted}`: every rule has a limit and a counted value.
fn hold_to_attr(r: &HoldReason) -> AttrValue {
    let (limit, counted) = match *r {
        HoldReason::OrdersPerHour { limit, counted } => (u64::from(limit), u64::from(counted)),
        HoldReason::UnitsPerDay { limit, counted } => (u64::from(limit), counted),
        HoldReason::OrderTotal {
            limit_cents,
            total_cents,
        } => (limit_cents, total_cents),
        HoldReason::TooManyToCount { scanned } => (u64::from(scanned), u64::from(scanned)),
    };
    AttrValue::M(
        [
            entry("code", s(r.code())),
            entry("counted", AttrValue::n(counted)),
            entry("limit", AttrValue::n(limit)),
        ]
        .into(),
    )
}

fn hold_from_attr(v: &AttrValue) -> Result<HoldReason, AttrError> {
    let m = as_map(v, "hold_reason")?;
    let (limit, counted) = (m.get_u64("limit")?, m.get_u64("counted")?);
    let small =
        |n: u64| u32::try_from(n).map_err(|_| AttrError::new("hold_reason", "out of range"));
    match m.get_s("code")? {
        "ORDERS_PER_HOUR" => Ok(HoldReason::OrdersPerHour {
            limit: small(limit)?,
            counted: small(counted)?,
        }),
        "UNITS_PER_DAY" => Ok(HoldReason::UnitsPerDay {
            limit: small(limit)?,
            counted,
        }),
        "ORDER_TOTAL" => Ok(HoldReason::OrderTotal {
            limit_cents: limit,
            total_cents: counted,
        }),
        "TOO_MANY_TO_COUNT" => Ok(HoldReason::TooManyToCount {
            scanned: small(counted)?,
        }),
        other => Err(AttrError::new(
            "hold_reason.code",
            format!("unknown code {other:?}"),
        )),
    }
}

fn as_map<'a>(v: &'a AttrValue, what: &str) -> Result<&'a Item, AttrError> {
    match v {
        AttrValue::M(m) => Ok(m),
        other => Err(AttrError::new(
            what,
            format!("expected M, found {}", other.type_name()),
        )),
    }
}

fn as_list<'a>(item: &'a Item, name: &str) -> Result<&'a [AttrValue], AttrError> {
    match item.attr(name)? {
        AttrValue::L(l) => Ok(l),
        other => Err(AttrError::new(
            name,
            format!("expected L, found {}", other.type_name()),
        )),
    }
}

fn u32_attr(item: &Item, name: &str) -> Result<u32, AttrError> {
    u32::try_from(item.get_u64(name)?).map_err(|_| AttrError::new(name, "out of range"))
}

fn money_attr(item: &Item, name: &str) -> Result<Money, AttrError> {
    Money::from_cents(item.get_u64(name)?).ok_or_else(|| AttrError::new(name, "out of range"))
}

fn failure_from_attr(v: &AttrValue) -> Result<FailureReason, AttrError> {
    let m = as_map(v, "failure_reason")?;
    match m.get_s("code")? {
        "OUT_OF_STOCK" => Ok(FailureReason::OutOfStock {
            skus: as_list(m, "skus")?
                .iter()
                .map(|x| {
                    x.as_s()
                        .and_then(|x| Sku::parse(x).ok())
                        .ok_or_else(|| AttrError::new("failure_reason.skus", "bad sku"))
                })
                .collect::<Result<_, _>>()?,
        }),
        "PAYMENT_DECLINED" => Ok(FailureReason::PaymentDeclined {
            message: m.get_s("message")?.to_owned(),
        }),
        "RESERVATION_EXPIRED" => Ok(FailureReason::ReservationExpired),
        other => Err(AttrError::new(
            "failure_reason.code",
            format!("unknown code {other:?}"),
        )),
    }
}

/// Decodes an OrderById record (or a stream image of one).
pub fn order_from_item(item: &Item) -> Result<Order, CorruptItem> {
    decode_order(item).map_err(|e| CorruptItem::new(Table::OrderById, e))
}

fn decode_order(item: &Item) -> Result<Order, AttrError> {
    let items = as_list(item, "items")?
        .iter()
        .map(|v| {
            let m = as_map(v, "items[]")?;
            Ok(LineItem {
                sku: m.parse_s("sku")?,
                quantity: u32_attr(m, "quantity")?,
                unit_price_cents: money_attr(m, "unit_price_cents")?,
            })
        })
        .collect::<Result<_, AttrError>>()?;
    let history = as_list(item, "history")?
        .iter()
        .map(|v| {
            let m = as_map(v, "history[]")?;
            Ok(StatusChange {
                status: m.parse_s("status")?,
                at: m.parse_s("at")?,
            })
        })
        .collect::<Result<_, AttrError>>()?;
    Ok(Order {
        order_id: item.parse_s("order_id")?,
        customer_id: item.parse_s("customer_id")?,
        store_id: item.parse_s("store_id")?,
        county_id: item.parse_s("county_id")?,
        client_request_id: item
            .get_opt_s("client_request_id")?
            .map(|r| {
                ClientRequestId::parse(r)
                    .map_err(|e| AttrError::new("client_request_id", e.to_string()))
            })
            .transpose()?,
        items,
        total_cents: money_attr(item, "total_cents")?,
        status: item.parse_s("status")?,
        created_at: item.parse_s("created_at")?,
        updated_at: item.parse_s("updated_at")?,
        version: item.get_u64("version")?,
        failure_reason: item
            .get("failure_reason")
            .map(failure_from_attr)
            .transpose()?,
        payment_id: item
            .get_opt_s("payment_id")?
            .map(|p| PaymentId(p.to_owned())),
        hold_reason: item.get("hold_reason").map(hold_from_attr).transpose()?,
        history,
        legacy: legacy_from_attr(item)?,
    })
}

/// Key of an order's Orders (summary) item.
pub fn summary_key(customer: &CustomerId, created_at: Timestamp, order_id: &OrderId) -> Item {
    [
        entry(orders::PK, s(customer.as_str())),
        entry(orders::SK, s(keys::order_sk(created_at, order_id))),
    ]
    .into()
}

/// The Orders item: a summary plus every GSI key. The status shard key is
/// present only while the status is in the sparse status index.
pub fn summary_item(o: &Order, gsi_write_shards: u32) -> Item {
    summary_item_with(o, gsi_write_shards, ts(o.created_at))
}

/// [`summary_item`], given `created_at`, the text of `o.created_at`.
pub(crate) fn summary_item_with(o: &Order, gsi_write_shards: u32, created_at: AttrValue) -> Item {
    let shard = keys::shard_of(&o.order_id, gsi_write_shards);
    let created = (o.created_at, created_at);
    let updated_at = ts_reusing(o.updated_at, &created);
    // The key (as `summary_key` makes it) and the summary, in key order.
    let mut item: Item = [
        entry(orders::COUNTY_ID, s(o.county_id.as_str())),
        entry(
            orders::COUNTY_SHARD_PK,
            s(keys::county_shard_key(&o.county_id, shard)),
        ),
        entry(orders::CREATED_AT, created.1),
        entry(orders::PK, s(o.customer_id.as_str())),
        entry(orders::ORDER_ID, order_id_attr(&o.order_id)),
        entry(orders::SK, s(keys::order_sk(o.created_at, &o.order_id))),
        entry(orders::STATUS, s(o.status.as_str())),
        entry(orders::STORE_PK, s(o.store_id.as_str())),
        entry(orders::TOTAL_CENTS, AttrValue::n(o.total_cents.cents())),
        entry(orders::UNITS, AttrValue::n(o.total_units())),
        entry(orders::UPDATED_AT, updated_at),
        entry(orders::VERSION, AttrValue::n(o.version)),
    ]
    .into();
    // The status index lists this system's work in flight: an order the
    // legacy system still owns is not part of it.
    if o.status.in_status_index() && !o.owned_by_legacy() {
        item.insert(
            orders::STATUS_SHARD_PK.into(),
            s(keys::status_shard_key(o.status, shard)),
        );
    }
    if let Some(l) = &o.legacy {
        item.insert(LEGACY_ORDER_ID.into(), AttrValue::N(l.number.to_string()));
        item.insert(LEGACY_UPDATED_US.into(), legacy_updated_us(l));
    }
    item
}

/// An order as listed from the Orders table or any of its GSIs (only the
/// projected attributes, so no line items).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub status: OrderStatus,
    pub total_cents: Money,
    pub created_at: Timestamp,
}

impl OrderSummary {
    pub fn from_item(item: &Item) -> Result<Self, CorruptItem> {
        let decode = || -> Result<Self, AttrError> {
            Ok(Self {
                order_id: item.parse_s(orders::ORDER_ID)?,
                customer_id: item.parse_s(orders::PK)?,
                status: item.parse_s(orders::STATUS)?,
                total_cents: money_attr(item, orders::TOTAL_CENTS)?,
                created_at: item.parse_s(orders::CREATED_AT)?,
            })
        };
        decode().map_err(|e| CorruptItem::new(Table::Orders, e))
    }
}

/// A stock record: units available and the price, per store and SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockRecord {
    pub store_id: StoreId,
    pub sku: Sku,
    /// Units that can still be reserved. Reservations subtract, releases add.
    pub available: i64,
    pub price_cents: Money,
}

/// Key of a stock record.
pub fn stock_key(store: &StoreId, sku: &Sku) -> Item {
    [
        entry(inv::PK, s(store.as_str())),
        entry(inv::SK, s(keys::stock_key(sku))),
    ]
    .into()
}

impl StockRecord {
    pub fn to_item(&self) -> Item {
        let mut item = stock_key(&self.store_id, &self.sku);
        item.extend([
            entry(inv::SKU, s(self.sku.as_str())),
            entry(inv::AVAILABLE, AttrValue::n(self.available)),
            entry(inv::PRICE_CENTS, AttrValue::n(self.price_cents.cents())),
        ]);
        item
    }

    pub fn from_item(item: &Item) -> Result<Self, CorruptItem> {
        let decode = || -> Result<Self, AttrError> {
            Ok(Self {
                store_id: item.parse_s(inv::PK)?,
                sku: item.parse_s(inv::SKU)?,
                available: item.get_i64(inv::AVAILABLE)?,
                price_cents: money_attr(item, inv::PRICE_CENTS)?,
            })
        };
        decode().map_err(|e| CorruptItem::new(Table::Inventory, e))
    }
}

/// State of a reservation ledger entry.
pub const RESERVATION_RESERVED: &str = "RESERVED";
pub const RESERVATION_CONFIRMED: &str = "CONFIRMED";
/// The order is HELD for fraud review: no `expires_at`, so neither TTL nor a
/// sweeper looking for expired `RESERVED` entries releases it while staff
/// decide. A release sets `RESERVED` and a fresh `expires_at` again.
pub const RESERVATION_HELD: &str = "HELD";

/// Key of a reservation ledger entry.
pub fn reservation_key(store: &StoreId, sku: &Sku, order_id: &OrderId) -> Item {
    [
        entry(inv::PK, s(store.as_str())),
        entry(inv::SK, s(keys::reservation_key(sku, order_id))),
    ]
    .into()
}

/// A reservation ledger entry, in state `RESERVED`. No TTL: only the release
/// that returns its units deletes it (docs/architecture.md, "Reservations").
pub fn reservation_item(
    store: &StoreId,
    line: &LineItem,
    order_id: &OrderId,
    now: Timestamp,
) -> Item {
    let mut item = reservation_key(store, &line.sku, order_id);
    item.extend([
        entry(inv::SKU, s(line.sku.as_str())),
        entry(inv::ORDER_ID, s(order_id.to_string())),
        entry(inv::QUANTITY, AttrValue::n(line.quantity)),
        entry(inv::STATE, s(RESERVATION_RESERVED)),
        entry(inv::CREATED_AT, ts(now)),
    ]);
    item
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;
    use crate::ids::{ClientRequestId, CountyId};
    use crate::order::{FailureReason, LineItem, StatusChange};

    pub(crate) fn sample_order() -> Order {
        let t: Timestamp = "2026-03-09T15:04:05.678Z".parse().unwrap();
        Order {
            order_id: OrderId::parse("01HZY3M4T7X8Q9R0S1T2V3W4X5").unwrap(),
            customer_id: CustomerId::parse("cust-1").unwrap(),
            store_id: StoreId::parse("store-9").unwrap(),
            county_id: CountyId::parse("travis-tx").unwrap(),
            client_request_id: Some(ClientRequestId::parse("req-1").unwrap()),
            items: vec![LineItem {
                sku: Sku::parse("WINE-1").unwrap(),
                quantity: 2,
                unit_price_cents: Money::from_cents(1999).unwrap(),
            }],
            total_cents: Money::from_cents(3998).unwrap(),
            status: OrderStatus::Failed,
            created_at: t,
            updated_at: t,
            version: 3,
            failure_reason: Some(FailureReason::OutOfStock {
                skus: vec![Sku::parse("WINE-1").unwrap()],
            }),
            payment_id: Some(PaymentId("pay_1".into())),
            hold_reason: None,
            history: vec![StatusChange {
                status: OrderStatus::Pending,
                at: t,
            }],
            legacy: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::sample_order;
    use super::*;

    #[test]
    fn order_round_trips_and_matches_serde_names() {
        let o = sample_order();
        let item = order_to_item(&o);
        assert_eq!(order_from_item(&item).unwrap(), o);
        // The record's attribute names are Order's field names (schema docs say so).
        let json = serde_json::to_value(&o).unwrap();
        let fields: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        let attrs: Vec<_> = item.keys().cloned().collect();
        let mut fields_sorted = fields.clone();
        fields_sorted.sort();
        assert_eq!(attrs, fields_sorted);
        assert_eq!(item["created_at"], AttrValue::s("2026-03-09T15:04:05.678Z"));
    }

    #[test]
    fn a_migrated_order_round_trips_and_carries_its_legacy_number() {
        let mut o = sample_order();
        o.client_request_id = None;
        o.status = OrderStatus::Refunded;
        o.legacy = Some(LegacyRecord {
            number: 1010,
            status: "REFUNDED".into(),
            owner: LegacyOwner::New,
            placed_at_local: "2024-06-18T12:00:00.000000".into(),
            updated_at: "2024-06-18T17:00:00Z".parse().unwrap(),
            payment_ref: Some("ch_1010".into()),
        });
        let item = order_to_item(&o);
        assert_eq!(item[LEGACY_ORDER_ID], AttrValue::N("1010".into()));
        assert_eq!(
            item[LEGACY_UPDATED_US],
            AttrValue::N("1718730000000000".into())
        );
        assert_eq!(
            summary_item(&o, 4)[LEGACY_UPDATED_US],
            item[LEGACY_UPDATED_US]
        );
        assert!(!item.contains_key("client_request_id"));
        assert_eq!(order_from_item(&item).unwrap(), o);
        // The legacy map without its number is corrupt, not a new order.
        let mut broken = item.clone();
        broken.remove(LEGACY_ORDER_ID);
        assert!(
            order_from_item(&broken)
                .unwrap_err()
                .reason
                .contains(LEGACY_ORDER_ID)
        );
    }

    #[test]
    fn corrupt_orders_name_the_attribute() {
        let mut item = order_to_item(&sample_order());
        item.insert("version".into(), AttrValue::s("three"));
        let err = order_from_item(&item).unwrap_err();
        assert!(err.reason.contains("version"), "{err}");
        let mut item = order_to_item(&sample_order());
        item.insert("status".into(), AttrValue::s("SHIPPED"));
        assert!(order_from_item(&item).is_err());
    }

    #[test]
    fn summary_is_sparse_on_status() {
        let mut o = sample_order();
        let failed = summary_item(&o, 4);
        assert!(!failed.contains_key(orders::STATUS_SHARD_PK));
        o.status = OrderStatus::Pending;
        let pending = summary_item(&o, 4);
        let shard = keys::shard_of(&o.order_id, 4);
        assert_eq!(
            pending[orders::STATUS_SHARD_PK],
            AttrValue::s(format!("PENDING#{shard}"))
        );
        assert_eq!(
            pending[orders::COUNTY_SHARD_PK],
            AttrValue::s(format!("travis-tx#{shard}"))
        );
        // Every GSI projection attribute is on the item.
        for a in orders::GSI_PROJECTED {
            assert!(pending.contains_key(*a), "{a}");
        }
        let summary = OrderSummary::from_item(&pending).unwrap();
        assert_eq!(summary.order_id, o.order_id);
        assert_eq!(summary.status, OrderStatus::Pending);
    }

    #[test]
    fn a_held_order_carries_its_reason_and_sits_in_the_status_index() {
        let mut o = sample_order();
        o.failure_reason = None;
        o.status = OrderStatus::Held;
        for r in [
            HoldReason::OrdersPerHour {
                limit: 5,
                counted: 6,
            },
            HoldReason::UnitsPerDay {
                limit: 96,
                counted: 100,
            },
            HoldReason::OrderTotal {
                limit_cents: 100_000,
                total_cents: 100_001,
            },
        ] {
            o.hold_reason = Some(r);
            let item = order_to_item(&o);
            assert_eq!(order_from_item(&item).unwrap(), o);
            let json = serde_json::to_value(&o).unwrap();
            assert_eq!(json["hold_reason"]["code"], r.code());
        }
        let shard = keys::shard_of(&o.order_id, 4);
        assert_eq!(
            summary_item(&o, 4)[orders::STATUS_SHARD_PK],
            AttrValue::s(format!("HELD#{shard}"))
        );
    }

    #[test]
    fn fulfilled_and_terminal_orders_leave_the_status_index() {
        // Status writes put the whole summary item, so an attribute the item
        // lacks is removed from the stored one: leaving the index is this.
        let mut o = sample_order();
        for status in OrderStatus::ALL {
            o.status = status;
            let item = summary_item(&o, 4);
            let listed = matches!(
                status,
                OrderStatus::Pending
                    | OrderStatus::Reserved
                    | OrderStatus::Held
                    | OrderStatus::Confirmed
            );
            assert_eq!(
                item.contains_key(orders::STATUS_SHARD_PK),
                listed,
                "{status}"
            );
        }
    }

    #[test]
    fn stock_round_trips() {
        let r = StockRecord {
            store_id: StoreId::parse("s").unwrap(),
            sku: Sku::parse("k").unwrap(),
            available: 12,
            price_cents: Money::from_cents(250).unwrap(),
        };
        assert_eq!(StockRecord::from_item(&r.to_item()).unwrap(), r);
        assert_eq!(r.to_item()[inv::SK], AttrValue::s("STOCK#k"));
    }
}

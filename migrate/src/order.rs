//! A legacy order (its row and lines) → the order domain's [`Order`], by the
//! rules in [`crate::map`], and from there to the very items the API and
//! the worker write ([`order_domain::codec`]), priced in write units by the
//! project's meter.
//!
//! History is not judged by today's order rules: a 150-line order from last
//! year migrates. What the new model cannot hold is a reject naming the
//! rule; what it holds only after a decision is a warning naming it.

use jiff::Timestamp;
use jiff::civil::DateTime;
use order_capacity::meter::{Action, Layout, price_write};
use order_domain::codec::{order_to_item, summary_item};
use order_domain::order::{LegacyOwner, LegacyRecord, StatusChange};
use order_domain::store::{Item, Table};
use order_domain::{ClientRequestId, CountyId, LineItem, Money, Order, OrderStatus, Sku, StoreId};

use crate::map::status::{FinalStatus, Target};
use crate::map::time::StoreZone;
use crate::map::{key, money, order_id, status};
use crate::read::{LegacyOrder, LegacyStore};
use crate::write::Pending;

/// A legacy store, ready to place its orders: its id in the new alphabet
/// and its zone, or why its orders cannot be placed.
#[derive(Debug, Clone)]
pub struct MappedStore {
    pub legacy_id: String,
    pub mapped: Result<(StoreId, StoreZone), String>,
}

impl MappedStore {
    pub fn new(store: &LegacyStore) -> Self {
        let mapped = (|| {
            let id = key::encode(&store.store_id, StoreId::MAX_LEN)
                .map_err(|e| format!("store id {e}"))?;
            let id = StoreId::parse(&id.value).map_err(|e| format!("store id: {e}"))?;
            let zone = StoreZone::get(&store.timezone).map_err(|e| format!("store: {e}"))?;
            Ok((id, zone))
        })();
        MappedStore {
            legacy_id: store.store_id.clone(),
            mapped,
        }
    }
}

/// The county's legacy stores, mapped; `None` if it has none.
pub async fn county_stores(
    snap: &crate::source::Snapshot<'_>,
    county: &CountyId,
) -> Result<Option<Vec<MappedStore>>, crate::source::SourceError> {
    let stores: Vec<MappedStore> = snap
        .stores(county.as_str())
        .await?
        .iter()
        .map(MappedStore::new)
        .collect();
    Ok((!stores.is_empty()).then_some(stores))
}

/// [`map_order`] for an order of any of the county's `stores`; the reason
/// when it cannot be held.
pub fn map_in_county(
    o: &LegacyOrder,
    stores: &[MappedStore],
    county: &CountyId,
) -> Result<MappedOrder, String> {
    let store = stores
        .iter()
        .find(|s| s.legacy_id == o.store_id)
        .ok_or_else(|| format!("store `{}` is not in the county", o.store_id))?;
    map_order(o, store, county).map_err(|r| r.reason)
}

/// A legacy order the new model holds, with what had to be decided.
#[derive(Debug, Clone)]
pub struct MappedOrder {
    pub order: Order,
    pub warnings: Vec<String>,
}

/// A legacy order the new model cannot hold, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub legacy_order_id: i64,
    pub reason: String,
}

/// Maps one legacy order of `store` in `county`.
pub fn map_order(
    o: &LegacyOrder,
    store: &MappedStore,
    county: &CountyId,
) -> Result<MappedOrder, Reject> {
    let reject = |reason: String| Reject {
        legacy_order_id: o.order_id,
        reason,
    };
    let (store_id, zone) = store.mapped.clone().map_err(reject)?;
    let target = status::map(&o.status).map_err(|e| reject(e.to_string()))?;
    if o.currency != "USD" {
        return Err(reject(format!("currency `{}` is not USD", o.currency)));
    }
    let total = money::parse_cents(&o.total).map_err(|e| reject(format!("total {e}")))?;
    let mut warnings = Vec::new();
    let items = lines(o, &mut warnings).map_err(reject)?;
    check_total(total, &items, &mut warnings);
    let local = DateTime::strptime("%Y-%m-%dT%H:%M:%S%.f", &o.placed_at)
        .map_err(|e| reject(format!("placed_at `{}`: {e}", o.placed_at)))?;
    let (created_at, note) = zone.to_utc(local).map_err(|e| reject(e.to_string()))?;
    if let Some(note) = note {
        warnings.push(format!("placed_at {}: {note}", o.placed_at));
    }
    let legacy_updated = Timestamp::from_microsecond(o.updated_at_us)
        .map_err(|e| reject(format!("updated_at: {e}")))?;
    let client_request_id = o
        .client_request_id
        .as_deref()
        .map(|raw| {
            mapped_id::<ClientRequestId>(
                "client request id",
                raw,
                ClientRequestId::MAX_LEN,
                &mut warnings,
            )
        })
        .transpose()
        .map_err(reject)?;
    let (status, owner) = match target {
        Target::InFlight(_) => (OrderStatus::Pending, LegacyOwner::Legacy),
        Target::Final(f) => (final_status(f), LegacyOwner::New),
    };
    let updated_at = legacy_updated.max(created_at);
    let mut history = vec![StatusChange {
        status: OrderStatus::Pending,
        at: created_at,
    }];
    if status != OrderStatus::Pending {
        history.push(StatusChange {
            status,
            at: updated_at,
        });
    }
    // The profile's key too (`crate::customer`): orders and profile meet.
    let customer_id = order_domain::legacy::customer_id(o.customer_id);
    let order = Order {
        order_id: order_id::from_legacy(o.order_id),
        customer_id,
        store_id,
        county_id: county.clone(),
        client_request_id,
        items,
        total_cents: total,
        status,
        created_at,
        updated_at,
        version: 1,
        failure_reason: None,
        hold_reason: None,
        payment_id: None,
        history,
        legacy: Some(LegacyRecord {
            number: o.order_id,
            status: o.status.clone(),
            owner,
            placed_at_local: o.placed_at.clone(),
            updated_at: legacy_updated,
            payment_ref: o.payment_ref.clone(),
        }),
    };
    Ok(MappedOrder { order, warnings })
}

fn final_status(f: FinalStatus) -> OrderStatus {
    match f {
        FinalStatus::Confirmed => OrderStatus::Confirmed,
        FinalStatus::Fulfilled => OrderStatus::Fulfilled,
        FinalStatus::Cancelled => OrderStatus::Cancelled,
        FinalStatus::Failed => OrderStatus::Failed,
        FinalStatus::Refunded => OrderStatus::Refunded,
    }
}

fn lines(o: &LegacyOrder, warnings: &mut Vec<String>) -> Result<Vec<LineItem>, String> {
    if o.lines.is_empty() {
        return Err("has no lines".into());
    }
    o.lines
        .iter()
        .map(|l| {
            let at = |what: String| format!("line {}: {what}", l.line_no);
            let sku = mapped_id::<Sku>("SKU", &l.sku, Sku::MAX_LEN, warnings).map_err(at)?;
            let quantity = u32::try_from(l.quantity)
                .ok()
                .filter(|q| *q > 0)
                .ok_or_else(|| at(format!("quantity {} is not positive", l.quantity)))?;
            let unit_price_cents =
                money::parse_cents(&l.unit_price).map_err(|e| at(format!("unit price {e}")))?;
            Ok(LineItem {
                sku,
                quantity,
                unit_price_cents,
            })
        })
        .collect()
}

/// A total that differs from its lines (a discount, tax) is kept as recorded.
fn check_total(total: Money, items: &[LineItem], warnings: &mut Vec<String>) {
    let lines = Money::checked_sum(
        items
            .iter()
            .filter_map(|l| l.unit_price_cents.checked_mul(l.quantity)),
    );
    if lines != Some(total) {
        let lines = lines.map_or("more than the system can hold".into(), |m| m.to_string());
        warnings.push(format!(
            "total {total} differs from its lines' {lines}; kept as recorded"
        ));
    }
}

/// An id the new alphabet holds, escaped if it must be (a warning).
fn mapped_id<T: TryFrom<String, Error = order_domain::IdError>>(
    what: &str,
    raw: &str,
    max: usize,
    warnings: &mut Vec<String>,
) -> Result<T, String> {
    let mapped = key::encode(raw, max).map_err(|e| format!("{what} {e}"))?;
    if mapped.escaped {
        warnings.push(format!("{what} `{raw}` stored as `{}`", mapped.value));
    }
    T::try_from(mapped.value).map_err(|e| format!("{what} `{raw}`: {e}"))
}

/// The items the API and the worker would have written for `order`: its
/// OrderById record and its Orders summary, each priced in write units
/// (table and index writes) by the project's meter.
///
/// The record carries `origin = legacy` ([`legacy_schema::origin`]): the
/// legacy-sync function does not write it back to the legacy database.
pub fn items(order: &Order, gsi_write_shards: u32) -> Vec<Pending> {
    let mut record = order_to_item(order);
    record.insert(
        legacy_schema::origin::ORIGIN.into(),
        order_domain::store::AttrValue::S(legacy_schema::origin::FROM_LEGACY.into()),
    );
    vec![
        priced(Table::OrderById, record),
        priced(Table::Orders, summary_item(order, gsi_write_shards)),
    ]
}

/// A put of `item` into `table` (new, not in a transaction), priced by the
/// meter: the table write and every index entry it makes.
pub fn priced(table: Table, item: Item) -> Pending {
    let write_units = price_write(
        &Layout::deployed(),
        table,
        Action::Put,
        None,
        Some(&item),
        false,
    )
    .iter()
    .map(|c| c.write_units)
    .sum();
    Pending {
        table,
        item,
        write_units,
    }
}

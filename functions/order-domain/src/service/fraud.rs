//! The worker's fraud screening, between reserving and charging: an order
//! that breaks one of the county's rules (`fraud` in `ACME_COUNTY_RULES`) is
//! HELD for staff review instead of charged.
//!
//! The counts come from one bounded query of the customer's own partition of
//! the Orders table (HASH `customer_id`, RANGE `<created millis>#<order id>`):
//! the 24 hours up to this order's creation, newest first, at most
//! [`SCREEN_SCAN_LIMIT`] items, strongly consistent. FAILED and CANCELLED
//! orders do not count. Units come from the summary's `units` attribute; an
//! item written before it existed costs one read of its order record.
//!
//! Rules are checked cheapest first: the order's own total, then orders in
//! the hour, then units in the day. A customer with more orders in a day than
//! one page holds is held as [`HoldReason::TooManyToCount`].

use jiff::SignedDuration;

use crate::codec::{CorruptItem, OrderSummary};
use crate::keys;
use crate::order::{HoldReason, Order, OrderStatus};
use crate::rules::FraudRules;
use crate::schema::orders;
use crate::service::{LoadError, load_order};
use crate::store::{Item, ItemExt, Query, SortCondition, Store, StoreError, Table};
use crate::util::join_all;

/// Most Orders items one screening reads: more than the largest orders-per-
/// hour limit, so the hour's count is always exact.
pub const SCREEN_SCAN_LIMIT: u32 = 200;

const HOUR: SignedDuration = SignedDuration::from_secs(3600);
const DAY: SignedDuration = SignedDuration::from_secs(86_400);

/// Why a screening could not finish.
#[derive(Debug)]
pub(crate) enum ScreenError {
    Store(StoreError),
    Corrupt(CorruptItem),
}

impl From<LoadError> for ScreenError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Store(e) => ScreenError::Store(e),
            LoadError::Corrupt(e) => ScreenError::Corrupt(e),
        }
    }
}

/// The rule `order` breaks, if any. An order staff already released from a
/// hold is not screened again: the review was the screening.
pub(crate) async fn screen<S: Store>(
    store: &S,
    rules: &FraudRules,
    order: &Order,
) -> Result<Option<HoldReason>, ScreenError> {
    if order.entered(OrderStatus::Held).is_some() {
        return Ok(None);
    }
    let total = order.total_cents.cents();
    if total > rules.order_total_over_cents {
        return Ok(Some(HoldReason::OrderTotal {
            limit_cents: rules.order_total_over_cents,
            total_cents: total,
        }));
    }
    let (day, truncated) = customer_day(store, order).await?;
    if truncated {
        return Ok(Some(HoldReason::TooManyToCount {
            scanned: SCREEN_SCAN_LIMIT,
        }));
    }
    let hour_start = order
        .created_at
        .checked_sub(HOUR)
        .unwrap_or(order.created_at);
    let in_hour = day
        .iter()
        .filter(|(s, _)| s.created_at > hour_start)
        .count();
    let in_hour = u32::try_from(in_hour).unwrap_or(u32::MAX);
    if in_hour > rules.orders_per_customer_per_hour {
        return Ok(Some(HoldReason::OrdersPerHour {
            limit: rules.orders_per_customer_per_hour,
            counted: in_hour,
        }));
    }
    let units = day_units(store, &day).await?;
    if units > u64::from(rules.units_per_customer_per_day) {
        return Ok(Some(HoldReason::UnitsPerDay {
            limit: rules.units_per_customer_per_day,
            counted: units,
        }));
    }
    Ok(None)
}

/// The customer's live orders created in the 24 hours up to and including
/// `order` (newest first, with their `units` if recorded), and whether there
/// were more than one page holds.
async fn customer_day<S: Store>(
    store: &S,
    order: &Order,
) -> Result<(Vec<(OrderSummary, Option<u64>)>, bool), ScreenError> {
    let from = order
        .created_at
        .checked_sub(DAY)
        .unwrap_or(order.created_at);
    // Strictly after `from`: the bound key sorts before every order of that
    // millisecond, so one millisecond later excludes them.
    let from = from
        .checked_add(SignedDuration::from_millis(1))
        .unwrap_or(from);
    let mut q = Query::table(Table::Orders, order.customer_id.as_str());
    q.sort = Some(SortCondition::Between(
        keys::order_sk_bound(from),
        keys::order_sk(order.created_at, &order.order_id),
    ));
    q.forward = false;
    q.limit = Some(SCREEN_SCAN_LIMIT);
    q.consistent = true;
    let page = store.query(q).await.map_err(ScreenError::Store)?;
    let live = page
        .items
        .iter()
        .map(|item| Ok((OrderSummary::from_item(item)?, units_of(item)?)))
        .filter(|r: &Result<_, CorruptItem>| {
            r.as_ref().map_or(true, |(s, _)| {
                !matches!(s.status, OrderStatus::Failed | OrderStatus::Cancelled)
            })
        })
        .collect::<Result<Vec<_>, CorruptItem>>()
        .map_err(ScreenError::Corrupt)?;
    Ok((live, page.last_evaluated_key.is_some()))
}

fn units_of(item: &Item) -> Result<Option<u64>, CorruptItem> {
    item.get(orders::UNITS)
        .map(|_| item.get_u64(orders::UNITS))
        .transpose()
        .map_err(|e| CorruptItem::new(Table::Orders, e))
}

/// Sum of units over `day`, reading the order record of any summary without
/// `units` (written before the attribute existed), concurrently.
async fn day_units<S: Store>(
    store: &S,
    day: &[(OrderSummary, Option<u64>)],
) -> Result<u64, ScreenError> {
    let known: u64 = day.iter().filter_map(|(_, u)| *u).sum();
    let reads = day
        .iter()
        .filter(|(_, u)| u.is_none())
        .map(|(s, _)| load_order(store, &s.order_id))
        .collect::<Vec<_>>();
    let mut units = known;
    for loaded in join_all(reads).await {
        units += loaded?.map_or(0, |o| o.total_units());
    }
    Ok(units)
}

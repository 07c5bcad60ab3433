//! `POST /orders`: validate, price from stock records, write PENDING with an
//! idempotency record in one transaction, answer 202.
//!
//! Order of checks, and why:
//! 1. body size, JSON shape and every field (400, all problems at once);
//! 2. the idempotency record: a retry of an accepted request gets the first
//!    answer even if the shop has closed since or prices changed;
//! 3. sales enabled and sale hours in the county's time zone, read on the
//!    sale clock (422);
//! 4. the customer's profile (Customers, strongly consistent): refused
//!    (422) without one, without a birth date, or under the county's
//!    `legal_age` in whole years on the order date in the county's time zone
//!    (the wall clock's date there, not UTC's). A refusal writes nothing, no
//!    idempotency record either, so the same request retried after the
//!    profile is written is taken;
//! 5. prices from the `STOCK#<sku>` records (unknown SKU at the store: 400);
//! 6. one transaction: idempotency record (only if absent or expired), Orders
//!    summary, OrderById record. If two identical requests race past step 2,
//!    the transaction's condition on the idempotency record lets exactly one
//!    win; the loser answers with the winner's response.

mod plan;
mod request;

pub use plan::{AcceptOp, AcceptPlan, plan_accept};
pub use request::{
    MAX_BODY_BYTES, MAX_LISTED_PROBLEMS, RequestedLine, ValidatedRequest, parse_request,
};

use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::clock::{Clock, IdGenerator};
use crate::codec::{self, CorruptItem, StockRecord};
use crate::customer::{Customer, age_on, customer_key};
use crate::error::{DomainError, ValidationError, ValidationErrors, store_code, store_status};
use crate::ids::{ClientRequestId, CountyId, CustomerId, OrderId, StoreId};
use crate::money::Money;
use crate::order::{LineItem, Order, OrderStatus};
use crate::rules::{CountyRules, SalesClosed};
use crate::schema::idempotency as idem;
use crate::service::CanceledOps;
use crate::store::{AttrValue, Item, ItemExt, Store, StoreError, Table, TxCanceled};
use crate::util::join_all;

/// The 202 answer, also stored in the idempotency record and replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub order_id: OrderId,
    pub status: OrderStatus,
    pub customer_id: CustomerId,
    pub store_id: StoreId,
    pub county_id: CountyId,
    /// Always set on orders the API takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_request_id: Option<ClientRequestId>,
    pub items: Vec<LineItem>,
    pub total_cents: Money,
    pub created_at: Timestamp,
}

impl From<&Order> for Accepted {
    fn from(o: &Order) -> Self {
        Self {
            order_id: o.order_id,
            status: o.status,
            customer_id: o.customer_id.clone(),
            store_id: o.store_id.clone(),
            county_id: o.county_id.clone(),
            client_request_id: o.client_request_id.clone(),
            items: o.items.clone(),
            total_cents: o.total_cents,
            created_at: o.created_at,
        }
    }
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

/// Why an order was not accepted.
#[derive(Debug, Error)]
pub enum AcceptError {
    #[error("invalid request: {0}")]
    Validation(ValidationErrors),
    #[error("client_request_id was already used with a different request")]
    Conflict,
    #[error(transparent)]
    Closed(#[from] SalesClosed),
    #[error(transparent)]
    Customer(#[from] CustomerRefusal),
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
            AcceptError::Closed(_) | AcceptError::Customer(_) => 422,
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
            AcceptError::Customer(r) => r.code(),
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

/// Why the customer may not order. No variant carries PII: the birth date
/// is never quoted, only the county's rule and the date it was applied on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CustomerRefusal {
    #[error(
        "customer {customer} has no profile: PUT /customers/{customer} with a birth date, then retry the order"
    )]
    NoProfile { customer: CustomerId },
    #[error(
        "customer {customer}'s profile has no birth date: PUT /customers/{customer} with one, then retry the order"
    )]
    NoBirthDate { customer: CustomerId },
    #[error(
        "customer {customer} is under the legal age of {legal_age} in {county} on {date} ({timezone})"
    )]
    UnderAge {
        customer: CustomerId,
        legal_age: u32,
        county: CountyId,
        date: jiff::civil::Date,
        timezone: String,
    },
}

impl CustomerRefusal {
    pub const fn code(&self) -> &'static str {
        match self {
            CustomerRefusal::NoProfile { .. } => "customer_profile_required",
            CustomerRefusal::NoBirthDate { .. } => "birth_date_required",
            CustomerRefusal::UnderAge { .. } => "under_legal_age",
        }
    }
}

/// Whether `profile` may order at `now` under `rules`: the date is the
/// county's, so an order at 23:30 local is judged on that local day
/// whatever UTC's date is.
pub fn check_age(
    customer: &CustomerId,
    profile: Option<&Customer>,
    rules: &CountyRules,
    now: Timestamp,
) -> Result<(), CustomerRefusal> {
    let customer = customer.clone();
    let profile = profile.ok_or_else(|| CustomerRefusal::NoProfile {
        customer: customer.clone(),
    })?;
    let birth = profile
        .birth_date
        .ok_or_else(|| CustomerRefusal::NoBirthDate {
            customer: customer.clone(),
        })?;
    let date = now.to_zoned_datetime(rules.timezone.tz().clone()).date();
    let old_enough = i64::from(age_on(birth, date)) >= i64::from(rules.legal_age);
    if old_enough {
        return Ok(());
    }
    Err(CustomerRefusal::UnderAge {
        customer,
        legal_age: rules.legal_age,
        county: rules.county_id.clone(),
        date,
        timezone: rules.timezone.name().to_owned(),
    })
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

    /// Accepts an order from the raw request body: parse, answer a retry
    /// from its idempotency record, check sale hours, read prices, plan,
    /// then write.
    pub async fn accept(&self, body: &[u8]) -> Result<AcceptOutcome, AcceptError> {
        let req = parse_request(body, &self.rules).map_err(AcceptError::Validation)?;
        let now = self.clock.now();
        if let Some(record) = self.read_record(&req.idempotency_key(), now).await? {
            return answer(record, &req);
        }
        self.rules.check_open(self.sale_time(now))?;
        let profile = self.fetch_profile(&req.customer_id).await?;
        check_age(&req.customer_id, profile.as_ref(), &self.rules, now)?;
        let stock = self.fetch_stock(&req).await?;
        let plan = plan_accept(&req, &stock, &self.rules, now, self.ids.order_id(now))?;
        self.execute(plan, &req, now).await
    }

    /// Writes the plan's transaction.
    async fn execute(
        &self,
        plan: AcceptPlan,
        req: &ValidatedRequest,
        now: Timestamp,
    ) -> Result<AcceptOutcome, AcceptError> {
        match self.store.transact(plan.transaction).await {
            Ok(()) => Ok(AcceptOutcome {
                accepted: plan.accepted,
                replayed: false,
            }),
            Err(StoreError::TransactionCanceled(c)) if c.failed(AcceptOp::Idempotency) => {
                self.lost_race(&c, req, now).await
            }
            // An order id collision, practically impossible with ULIDs; a
            // retry draws a new id.
            Err(StoreError::TransactionCanceled(c))
                if c.failed(AcceptOp::Summary) || c.failed(AcceptOp::Record) =>
            {
                Err(AcceptError::Contention)
            }
            Err(e) => Err(AcceptError::Store(e)),
        }
    }

    /// An identical (or conflicting) request wrote its idempotency record
    /// first: answer as a retry of it.
    async fn lost_race(
        &self,
        c: &TxCanceled,
        req: &ValidatedRequest,
        now: Timestamp,
    ) -> Result<AcceptOutcome, AcceptError> {
        let record = match c.found(AcceptOp::Idempotency) {
            Some(item) => live_record(item, now)?,
            None => self.read_record(&req.idempotency_key(), now).await?,
        };
        match record {
            Some(record) => answer(record, req),
            // The winner's record vanished (TTL) in between: let the client
            // retry.
            None => Err(AcceptError::Contention),
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

    /// The customer's profile, strongly consistent: a profile written just
    /// before the order must count.
    async fn fetch_profile(&self, id: &CustomerId) -> Result<Option<Customer>, AcceptError> {
        let item = self
            .store
            .get(Table::Customers, customer_key(id), true)
            .await?;
        Ok(item.as_ref().map(Customer::from_item).transpose()?)
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

/// The rules the unit tests below and in the submodules run under.
#[cfg(test)]
fn test_rules() -> CountyRules {
    CountyRules::from_json(
        r#"{"county_id": "travis-tx", "sales_enabled": true, "timezone": "America/Chicago",
            "max_units_per_order": 24, "max_line_items": 5, "gsi_write_shards": 4,
            "reservation_ttl_seconds": 900, "idempotency_ttl_hours": 24}"#,
    )
    .expect("test rules")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Sku;

    fn profile(birth: Option<jiff::civil::Date>) -> Customer {
        let t: Timestamp = "2020-01-01T00:00:00Z".parse().unwrap();
        Customer {
            customer_id: CustomerId::parse("cust-1").unwrap(),
            email: None,
            full_name: None,
            phone: None,
            birth_date: birth,
            created_at: t,
            updated_at: t,
            legacy: None,
        }
    }

    #[test]
    fn the_legal_age_is_judged_on_the_countys_date() {
        let rules = test_rules();
        let id = CustomerId::parse("cust-1").unwrap();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        let born = |y, m, d| profile(Some(jiff::civil::Date::constant(y, m, d)));
        // 21 today in Austin (CDT, UTC-5): 2026-03-09 local all day.
        let p = born(2005, 3, 9);
        assert_eq!(
            check_age(&id, Some(&p), &rules, at("2026-03-09T05:00:00Z")),
            Ok(())
        );
        // 2026-03-09T04:59Z is still 23:59 on March 8 in Austin: one day short,
        // although UTC's date is already the birthday.
        let e = check_age(&id, Some(&p), &rules, at("2026-03-09T04:59:00Z")).unwrap_err();
        assert_eq!(e.code(), "under_legal_age");
        assert_eq!(
            e.to_string(),
            "customer cust-1 is under the legal age of 21 in travis-tx on 2026-03-08 (America/Chicago)"
        );
        // And the other way: 23:30 local on the birthday is UTC's next day.
        let p = born(2005, 3, 10);
        assert!(check_age(&id, Some(&p), &rules, at("2026-03-10T04:30:00Z")).is_err());
        assert!(check_age(&id, Some(&p), &rules, at("2026-03-10T05:00:00Z")).is_ok());
        // A leap-day birthday: of age on March 1 of a common year.
        let p = born(2005, 2, 29 - 1);
        assert!(check_age(&id, Some(&p), &rules, at("2026-02-28T18:00:00Z")).is_ok());
        let leap = born(2004, 2, 29);
        assert!(check_age(&id, Some(&leap), &rules, at("2025-02-28T18:00:00Z")).is_err());
        assert!(check_age(&id, Some(&leap), &rules, at("2025-03-01T18:00:00Z")).is_ok());
        // A county with another legal age.
        let mut eighteen = rules.clone();
        eighteen.legal_age = 18;
        let p = born(2008, 3, 9);
        assert!(check_age(&id, Some(&p), &eighteen, at("2026-03-09T18:00:00Z")).is_ok());
        assert!(check_age(&id, Some(&p), &rules, at("2026-03-09T18:00:00Z")).is_err());
    }

    #[test]
    fn no_profile_or_no_birth_date_is_refused_with_its_own_code() {
        let rules = test_rules();
        let id = CustomerId::parse("cust-1").unwrap();
        let now = "2026-03-09T18:00:00Z".parse().unwrap();
        let e = check_age(&id, None, &rules, now).unwrap_err();
        assert_eq!(e.code(), "customer_profile_required");
        assert!(e.to_string().contains("PUT /customers/cust-1"), "{e}");
        let e = check_age(&id, Some(&profile(None)), &rules, now).unwrap_err();
        assert_eq!(e.code(), "birth_date_required");
        let refused = AcceptError::Customer(e);
        assert_eq!(refused.http_status(), 422);
        assert!(!refused.is_retryable());
    }

    fn sample(created_at: &str) -> Accepted {
        Accepted {
            order_id: OrderId::parse("01HZY3M4T7X8Q9R0S1T2V3W4X5").unwrap(),
            status: OrderStatus::Pending,
            customer_id: CustomerId::parse("cust_0001234567").unwrap(),
            store_id: StoreId::parse("store-austin-042").unwrap(),
            county_id: CountyId::parse("travis-tx").unwrap(),
            client_request_id: Some(ClientRequestId::parse("3f1c9a7e-5b2d-4e8f").unwrap()),
            items: (0..2)
                .map(|i| LineItem {
                    sku: Sku::parse(&format!("SKU-{i}")).unwrap(),
                    quantity: i + 1,
                    unit_price_cents: Money::from_cents(1999 + u64::from(i)).unwrap(),
                })
                .collect(),
            total_cents: Money::from_cents(5999).unwrap(),
            created_at: created_at.parse().unwrap(),
        }
    }

    #[test]
    fn the_answer_is_pinned_byte_for_byte() {
        // Clients read this text, and idempotency records store it to replay
        // it: its shape must not drift.
        let a = sample("2026-03-09T15:00:00.123456789Z");
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"order_id":"01HZY3M4T7X8Q9R0S1T2V3W4X5","status":"PENDING","#,
                r#""customer_id":"cust_0001234567","store_id":"store-austin-042","#,
                r#""county_id":"travis-tx","client_request_id":"3f1c9a7e-5b2d-4e8f","#,
                r#""items":[{"sku":"SKU-0","quantity":1,"unit_price_cents":1999},"#,
                r#"{"sku":"SKU-1","quantity":2,"unit_price_cents":2000}],"#,
                r#""total_cents":5999,"created_at":"2026-03-09T15:00:00.123456789Z"}"#
            )
        );
        assert_eq!(serde_json::from_str::<Accepted>(&text).unwrap(), a);
        let whole = sample("2026-03-09T20:00:00Z");
        assert!(
            serde_json::to_string(&whole)
                .unwrap()
                .ends_with(r#""created_at":"2026-03-09T20:00:00Z"}"#)
        );
    }
}

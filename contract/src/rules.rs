//! The county rules the generator writes into `ACME_COUNTY_RULES` and every
//! function reads back (`order_domain::rules::CountyRules` parses through
//! [`CountyRulesJson`] and then validates): the JSON shape, defined once, and
//! the ranges both sides enforce.
//!
//! ```json
//! {"county_id": "travis-tx", "sales_enabled": true, "timezone": "America/Chicago",
//!  "sale_hours": {"monday": {"open_minute": 420, "close_minute": 1440}, "sunday": null},
//!  "max_units_per_order": 48, "max_line_items": 20, "gsi_write_shards": 8,
//!  "reservation_ttl_seconds": 900, "idempotency_ttl_hours": 24, "legal_age": 21,
//!  "fraud": {"orders_per_customer_per_hour": 5, "units_per_customer_per_day": 96,
//!            "order_total_over_cents": 100000}}
//! ```
//!
//! `legal_age` and `fraud` were added later: JSON without them (rules written
//! by an older generator, or tests' own) reads as age 21 and no fraud rules.

use std::fmt;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use crate::limits::MAX_LINE_ITEMS_PER_ORDER;

/// Total units (sum of quantities) one order may hold.
pub const MAX_UNITS_PER_ORDER_RANGE: RangeInclusive<u32> = 1..=10_000;
/// Distinct line items one order may hold: bounded by one transaction.
pub const MAX_LINE_ITEMS_RANGE: RangeInclusive<u32> = 1..=MAX_LINE_ITEMS_PER_ORDER;
/// Write shards of the county and status GSI keys.
pub const GSI_WRITE_SHARDS_RANGE: RangeInclusive<u32> = 1..=64;
/// Life of an unpaid stock reservation, seconds.
pub const RESERVATION_TTL_SECONDS_RANGE: RangeInclusive<u32> = 60..=86_400;
/// Life of an idempotency record, hours.
pub const IDEMPOTENCY_TTL_HOURS_RANGE: RangeInclusive<u32> = 1..=720;
/// The age, in whole years on the order date, a customer must have reached.
pub const LEGAL_AGE_RANGE: RangeInclusive<u32> = 18..=30;
/// The legal age when the rules say nothing: 21, the US minimum for alcohol.
pub const DEFAULT_LEGAL_AGE: u32 = 21;
/// Fraud rule: orders one customer may place in an hour before the next is held.
pub const ORDERS_PER_CUSTOMER_PER_HOUR_RANGE: RangeInclusive<u32> = 1..=100;
/// Fraud rule: units one customer may order in a day before the next order is held.
pub const UNITS_PER_CUSTOMER_PER_DAY_RANGE: RangeInclusive<u32> = 1..=100_000;
/// Fraud rule: an order whose total exceeds this many cents is held.
pub const ORDER_TOTAL_OVER_CENTS_RANGE: RangeInclusive<u64> = 100..=100_000_000;

/// `ACME_COUNTY_RULES`, as written and read. Field order is the JSON's.
/// Unknown fields are errors, so a generator newer than a function fails at
/// its cold start rather than being half understood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountyRulesJson {
    pub county_id: String,
    pub sales_enabled: bool,
    /// IANA time zone of the sale hours.
    pub timezone: String,
    #[serde(default)]
    pub sale_hours: SaleHours,
    pub max_units_per_order: u32,
    pub max_line_items: u32,
    pub gsi_write_shards: u32,
    pub reservation_ttl_seconds: u32,
    pub idempotency_ttl_hours: u32,
    /// Whole years a customer must be on the order date, in the county's zone.
    #[serde(default = "default_legal_age")]
    pub legal_age: u32,
    /// `None`: no fraud screening (every reserved order goes to payment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraud: Option<FraudRulesJson>,
}

fn default_legal_age() -> u32 {
    DEFAULT_LEGAL_AGE
}

/// The worker's fraud screening before payment: an order breaking any rule
/// is HELD for staff review instead of charged. Counts are per customer,
/// over the hour or day up to the order's creation, and leave out FAILED and
/// CANCELLED orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FraudRulesJson {
    /// Orders (this one included) in the hour up to this order's creation.
    pub orders_per_customer_per_hour: u32,
    /// Units (this order's included) in the 24 hours up to its creation.
    pub units_per_customer_per_day: u32,
    /// An order whose total is strictly more than this is held.
    pub order_total_over_cents: u64,
}

/// A day's sale window in minutes after local midnight: open at
/// `open_minute`, closed from `close_minute` on. `close_minute = 1440` means
/// "until midnight" (24:00). A window cannot cross midnight: split it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaleWindow {
    pub open_minute: u16,
    pub close_minute: u16,
}

impl SaleWindow {
    pub const MINUTES_PER_DAY: u16 = 1440;

    pub fn contains(&self, minute_of_day: u16) -> bool {
        self.open_minute <= minute_of_day && minute_of_day < self.close_minute
    }
}

impl fmt::Display for SaleWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}-{}", hm(self.open_minute), hm(self.close_minute))
    }
}

/// Sale windows per weekday, Monday first. `None` (or absent) = closed all day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaleHours {
    #[serde(default)]
    pub monday: Option<SaleWindow>,
    #[serde(default)]
    pub tuesday: Option<SaleWindow>,
    #[serde(default)]
    pub wednesday: Option<SaleWindow>,
    #[serde(default)]
    pub thursday: Option<SaleWindow>,
    #[serde(default)]
    pub friday: Option<SaleWindow>,
    #[serde(default)]
    pub saturday: Option<SaleWindow>,
    #[serde(default)]
    pub sunday: Option<SaleWindow>,
}

impl SaleHours {
    /// The same window every day.
    pub fn every_day(w: SaleWindow) -> Self {
        Self {
            monday: Some(w),
            tuesday: Some(w),
            wednesday: Some(w),
            thursday: Some(w),
            friday: Some(w),
            saturday: Some(w),
            sunday: Some(w),
        }
    }

    /// Each weekday's name and window, Monday first.
    pub fn days(&self) -> [(&'static str, Option<SaleWindow>); 7] {
        [
            ("monday", self.monday),
            ("tuesday", self.tuesday),
            ("wednesday", self.wednesday),
            ("thursday", self.thursday),
            ("friday", self.friday),
            ("saturday", self.saturday),
            ("sunday", self.sunday),
        ]
    }
}

//! A county's sale rules, as the stack hands them to every function in the
//! `ACME_COUNTY_RULES` environment variable (JSON).
//!
//! ```json
//! {"county_id": "travis-tx", "sales_enabled": true, "timezone": "America/Chicago",
//!  "sale_hours": {"monday": {"open_minute": 420, "close_minute": 1440}, "sunday": null},
//!  "max_units_per_order": 48, "max_line_items": 20, "gsi_write_shards": 8,
//!  "reservation_ttl_seconds": 900, "idempotency_ttl_hours": 24}
//! ```
//!
//! Unknown fields are errors. A weekday that is absent or `null` is closed.
//! Sale hours are wall-clock minutes in the county's IANA time zone, so the
//! check follows daylight saving time: 07:00 is 07:00 local on both sides of a
//! transition, whatever its UTC offset.

use std::fmt;
use std::ops::RangeInclusive;

use acme_contract::rules::{
    CountyRulesJson, GSI_WRITE_SHARDS_RANGE, IDEMPOTENCY_TTL_HOURS_RANGE, LEGAL_AGE_RANGE,
    MAX_LINE_ITEMS_RANGE, MAX_UNITS_PER_ORDER_RANGE, ORDER_TOTAL_OVER_CENTS_RANGE,
    ORDERS_PER_CUSTOMER_PER_HOUR_RANGE, RESERVATION_TTL_SECONDS_RANGE,
    UNITS_PER_CUSTOMER_PER_DAY_RANGE,
};
use jiff::Timestamp;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::ids::CountyId;

pub use acme_contract::limits::{MAX_LINE_ITEMS_PER_ORDER, OPS_PER_LINE_ITEM, OPS_PER_ORDER};
/// The sale hours' and fraud rules' JSON shapes, shared with the generator.
pub use acme_contract::rules::{FraudRulesJson as FraudRules, SaleHours, SaleWindow};

/// The window of weekday `d`.
fn window_on(hours: &SaleHours, d: Weekday) -> Option<SaleWindow> {
    match d {
        Weekday::Monday => hours.monday,
        Weekday::Tuesday => hours.tuesday,
        Weekday::Wednesday => hours.wednesday,
        Weekday::Thursday => hours.thursday,
        Weekday::Friday => hours.friday,
        Weekday::Saturday => hours.saturday,
        Weekday::Sunday => hours.sunday,
    }
}

/// An IANA time zone, resolved once when the rules are loaded (from the tz
/// database bundled into the binary, so a Lambda needs no `/usr/share/zoneinfo`).
#[derive(Clone)]
pub struct CountyTimeZone {
    name: String,
    tz: TimeZone,
}

impl CountyTimeZone {
    pub fn get(name: &str) -> Result<Self, RulesError> {
        let tz = TimeZone::get(name).map_err(|e| RulesError::Invalid {
            field: "timezone",
            reason: format!("unknown IANA time zone {name:?}: {e}"),
        })?;
        Ok(Self {
            name: name.to_owned(),
            tz,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }
}

impl fmt::Debug for CountyTimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CountyTimeZone").field(&self.name).finish()
    }
}

impl PartialEq for CountyTimeZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for CountyTimeZone {}

impl Serialize for CountyTimeZone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for CountyTimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        CountyTimeZone::get(&name).map_err(serde::de::Error::custom)
    }
}

/// One county's rules. Build with [`CountyRules::from_json`] or
/// [`CountyRules::from_env`], which validate; the services rely on that.
///
/// (De)serialized through [`CountyRulesJson`], the shape the generator
/// writes: the id and the time zone are checked on the way in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CountyRulesJson", into = "CountyRulesJson")]
pub struct CountyRules {
    pub county_id: CountyId,
    pub sales_enabled: bool,
    pub timezone: CountyTimeZone,
    pub sale_hours: SaleHours,
    /// Maximum total units (sum of quantities) per order, [`MAX_UNITS_PER_ORDER_RANGE`].
    pub max_units_per_order: u32,
    /// Maximum distinct line items per order, 1..=[`MAX_LINE_ITEMS_PER_ORDER`].
    pub max_line_items: u32,
    /// Write shards for the county and status GSIs, [`GSI_WRITE_SHARDS_RANGE`].
    pub gsi_write_shards: u32,
    /// Life of an unpaid reservation, seconds, [`RESERVATION_TTL_SECONDS_RANGE`].
    pub reservation_ttl_seconds: u32,
    /// Life of an idempotency record, hours, [`IDEMPOTENCY_TTL_HOURS_RANGE`].
    pub idempotency_ttl_hours: u32,
    /// Whole years a customer must have on the order date, [`LEGAL_AGE_RANGE`].
    pub legal_age: u32,
    /// The worker's screening before payment; `None` = none.
    pub fraud: Option<FraudRules>,
}

impl TryFrom<CountyRulesJson> for CountyRules {
    type Error = RulesError;

    fn try_from(j: CountyRulesJson) -> Result<Self, RulesError> {
        let county_id = CountyId::parse(&j.county_id).map_err(|e| RulesError::Invalid {
            field: "county_id",
            reason: format!("{:?}: {e}", j.county_id),
        })?;
        Ok(Self {
            county_id,
            sales_enabled: j.sales_enabled,
            timezone: CountyTimeZone::get(&j.timezone)?,
            sale_hours: j.sale_hours,
            max_units_per_order: j.max_units_per_order,
            max_line_items: j.max_line_items,
            gsi_write_shards: j.gsi_write_shards,
            reservation_ttl_seconds: j.reservation_ttl_seconds,
            idempotency_ttl_hours: j.idempotency_ttl_hours,
            legal_age: j.legal_age,
            fraud: j.fraud,
        })
    }
}

impl From<CountyRules> for CountyRulesJson {
    fn from(r: CountyRules) -> Self {
        Self {
            county_id: r.county_id.as_str().to_owned(),
            sales_enabled: r.sales_enabled,
            timezone: r.timezone.name().to_owned(),
            sale_hours: r.sale_hours,
            max_units_per_order: r.max_units_per_order,
            max_line_items: r.max_line_items,
            gsi_write_shards: r.gsi_write_shards,
            reservation_ttl_seconds: r.reservation_ttl_seconds,
            idempotency_ttl_hours: r.idempotency_ttl_hours,
            legal_age: r.legal_age,
            fraud: r.fraud,
        }
    }
}

/// The rules did not load.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RulesError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("county rules are not valid JSON for this schema: {0}")]
    Json(String),
    #[error("county rules: `{field}` {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// Why an order cannot be taken right now (HTTP 422).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SalesClosed {
    #[error("sales are disabled in {county}")]
    Disabled { county: CountyId },
    #[error("outside sale hours in {county}: it is {local_time}; {hours}")]
    OutsideHours {
        county: CountyId,
        /// E.g. `Sunday 06:30 CDT`.
        local_time: String,
        /// E.g. `today's hours are 07:00-22:00` or `no sales today`.
        hours: String,
    },
}

impl CountyRules {
    /// Parses and validates the JSON the stack puts in `ACME_COUNTY_RULES`.
    pub fn from_json(json: &str) -> Result<Self, RulesError> {
        let rules: CountyRules =
            serde_json::from_str(json).map_err(|e| RulesError::Json(e.to_string()))?;
        rules.validate()?;
        Ok(rules)
    }

    /// Reads `ACME_COUNTY_RULES` from the process environment.
    pub fn from_env() -> Result<Self, RulesError> {
        let var = crate::schema::env::COUNTY_RULES;
        let json = std::env::var(var).map_err(|_| RulesError::Missing(var))?;
        Self::from_json(&json)
    }

    /// The same ranges the stack generator enforces, plus the transaction
    /// bound on line items.
    pub fn validate(&self) -> Result<(), RulesError> {
        fn range(field: &'static str, v: u32, r: RangeInclusive<u32>) -> Result<(), RulesError> {
            if r.contains(&v) {
                Ok(())
            } else {
                Err(RulesError::Invalid {
                    field,
                    reason: format!("is {v}, must be {}..={}", r.start(), r.end()),
                })
            }
        }
        range(
            "max_units_per_order",
            self.max_units_per_order,
            MAX_UNITS_PER_ORDER_RANGE,
        )?;
        range("max_line_items", self.max_line_items, MAX_LINE_ITEMS_RANGE)?;
        range(
            "gsi_write_shards",
            self.gsi_write_shards,
            GSI_WRITE_SHARDS_RANGE,
        )?;
        range(
            "reservation_ttl_seconds",
            self.reservation_ttl_seconds,
            RESERVATION_TTL_SECONDS_RANGE,
        )?;
        range(
            "idempotency_ttl_hours",
            self.idempotency_ttl_hours,
            IDEMPOTENCY_TTL_HOURS_RANGE,
        )?;
        range("legal_age", self.legal_age, LEGAL_AGE_RANGE)?;
        if let Some(f) = &self.fraud {
            range(
                "fraud.orders_per_customer_per_hour",
                f.orders_per_customer_per_hour,
                ORDERS_PER_CUSTOMER_PER_HOUR_RANGE,
            )?;
            range(
                "fraud.units_per_customer_per_day",
                f.units_per_customer_per_day,
                UNITS_PER_CUSTOMER_PER_DAY_RANGE,
            )?;
            let r = ORDER_TOTAL_OVER_CENTS_RANGE;
            if !r.contains(&f.order_total_over_cents) {
                return Err(RulesError::Invalid {
                    field: "fraud.order_total_over_cents",
                    reason: format!(
                        "is {}, must be {}..={}",
                        f.order_total_over_cents,
                        r.start(),
                        r.end()
                    ),
                });
            }
        }
        for (day, w) in self.sale_hours.days() {
            if let Some(w) = w
                && !(w.open_minute < w.close_minute
                    && w.close_minute <= SaleWindow::MINUTES_PER_DAY)
            {
                return Err(RulesError::Invalid {
                    field: "sale_hours",
                    reason: format!(
                        "{day}: need open_minute < close_minute <= 1440, got {}..{}",
                        w.open_minute, w.close_minute
                    ),
                });
            }
        }
        Ok(())
    }

    /// Whether an order may be accepted at `now`.
    pub fn check_open(&self, now: Timestamp) -> Result<(), SalesClosed> {
        if !self.sales_enabled {
            return Err(SalesClosed::Disabled {
                county: self.county_id.clone(),
            });
        }
        let local = now.to_zoned_datetime(self.timezone.tz().clone());
        // hour() is 0..=23 and minute() 0..=59, so this is 0..=1439.
        let minute = (local.hour() as u16) * 60 + local.minute() as u16;
        let window = window_on(&self.sale_hours, local.weekday());
        if window.is_some_and(|w| w.contains(minute)) {
            return Ok(());
        }
        Err(SalesClosed::OutsideHours {
            county: self.county_id.clone(),
            local_time: local.strftime("%A %H:%M %Z").to_string(),
            hours: match window {
                Some(w) => format!("today's hours are {w}"),
                None => "no sales today".to_owned(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample_json() -> &'static str {
        r#"{"county_id": "travis-tx", "sales_enabled": true, "timezone": "America/Chicago",
            "sale_hours": {"monday": {"open_minute": 420, "close_minute": 1320},
                           "tuesday": {"open_minute": 420, "close_minute": 1320},
                           "wednesday": {"open_minute": 420, "close_minute": 1320},
                           "thursday": {"open_minute": 420, "close_minute": 1320},
                           "friday": {"open_minute": 420, "close_minute": 1440},
                           "saturday": {"open_minute": 600, "close_minute": 1440},
                           "sunday": null},
            "max_units_per_order": 48, "max_line_items": 20, "gsi_write_shards": 8,
            "reservation_ttl_seconds": 900, "idempotency_ttl_hours": 24}"#
    }

    fn rules() -> CountyRules {
        CountyRules::from_json(sample_json()).unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn loads_and_round_trips() {
        let r = rules();
        assert_eq!(r.timezone.name(), "America/Chicago");
        let back = serde_json::to_string(&r).unwrap();
        assert_eq!(CountyRules::from_json(&back).unwrap(), r);
    }

    #[test]
    fn rejects_unknown_fields_bad_zone_and_ranges() {
        let typo = sample_json().replace("max_line_items", "max_lines");
        assert!(
            matches!(CountyRules::from_json(&typo), Err(RulesError::Json(m)) if m.contains("max_lines"))
        );
        let zone = sample_json().replace("America/Chicago", "America/Chicag0");
        assert!(CountyRules::from_json(&zone).is_err());
        let too_many = sample_json().replace("\"max_line_items\": 20", "\"max_line_items\": 50");
        assert!(matches!(
            CountyRules::from_json(&too_many),
            Err(RulesError::Invalid {
                field: "max_line_items",
                ..
            })
        ));
        let bad_window = sample_json().replace("\"close_minute\": 1320", "\"close_minute\": 1441");
        assert!(CountyRules::from_json(&bad_window).is_err());
        let inverted = sample_json().replace("\"open_minute\": 600", "\"open_minute\": 1440");
        assert!(CountyRules::from_json(&inverted).is_err());
        let shards = sample_json().replace("\"gsi_write_shards\": 8", "\"gsi_write_shards\": 0");
        assert!(CountyRules::from_json(&shards).is_err());
        assert_eq!(MAX_LINE_ITEMS_PER_ORDER, 49);
    }

    #[test]
    fn legal_age_defaults_to_21_and_fraud_rules_are_checked() {
        let r = rules();
        assert_eq!((r.legal_age, r.fraud), (21, None));
        let with = sample_json().replace(
            "\"idempotency_ttl_hours\": 24",
            "\"idempotency_ttl_hours\": 24, \"legal_age\": 19, \"fraud\": \
             {\"orders_per_customer_per_hour\": 5, \"units_per_customer_per_day\": 96, \
             \"order_total_over_cents\": 100000}",
        );
        let r = CountyRules::from_json(&with).unwrap();
        assert_eq!(r.legal_age, 19);
        assert_eq!(r.fraud.map(|f| f.units_per_customer_per_day), Some(96));
        assert_eq!(
            CountyRules::from_json(&serde_json::to_string(&r).unwrap()).unwrap(),
            r
        );
        let young = with.replace("\"legal_age\": 19", "\"legal_age\": 12");
        assert!(matches!(
            CountyRules::from_json(&young),
            Err(RulesError::Invalid {
                field: "legal_age",
                ..
            })
        ));
        let zero = with.replace(
            "\"orders_per_customer_per_hour\": 5",
            "\"orders_per_customer_per_hour\": 0",
        );
        assert!(matches!(
            CountyRules::from_json(&zero),
            Err(RulesError::Invalid {
                field: "fraud.orders_per_customer_per_hour",
                ..
            })
        ));
        let typo = with.replace("order_total_over_cents", "order_total_cents");
        assert!(matches!(
            CountyRules::from_json(&typo),
            Err(RulesError::Json(_))
        ));
    }

    #[test]
    fn disabled_county_is_closed() {
        let mut r = rules();
        r.sales_enabled = false;
        assert!(matches!(
            r.check_open(at("2026-03-04T18:00:00Z")),
            Err(SalesClosed::Disabled { .. })
        ));
    }

    #[test]
    fn hours_follow_dst_spring_forward() {
        // 2026-03-08 is a Sunday (closed); DST starts at 02:00 CST -> 03:00 CDT.
        // Monday 2026-03-09 is CDT (UTC-5): 07:00 local = 12:00Z.
        let r = rules();
        assert!(r.check_open(at("2026-03-09T11:59:59Z")).is_err());
        assert!(r.check_open(at("2026-03-09T12:00:00Z")).is_ok());
        // The Monday before, CST (UTC-6): 07:00 local = 13:00Z, so 12:30Z is closed.
        assert!(r.check_open(at("2026-03-02T12:30:00Z")).is_err());
        assert!(r.check_open(at("2026-03-02T13:00:00Z")).is_ok());
        // Closing at 22:00 local: Monday 21:59 CDT = 02:59Z Tuesday.
        assert!(r.check_open(at("2026-03-10T02:59:00Z")).is_ok());
        assert!(r.check_open(at("2026-03-10T03:00:00Z")).is_err());
    }

    #[test]
    fn hours_follow_dst_fall_back() {
        // 2026-11-01 (Sunday) DST ends 02:00 CDT -> 01:00 CST. Monday 11-02 is
        // CST: 07:00 local = 13:00Z; 12:30Z is 06:30 local, closed.
        let r = rules();
        assert!(r.check_open(at("2026-11-02T12:30:00Z")).is_err());
        assert!(r.check_open(at("2026-11-02T13:00:00Z")).is_ok());
        // The Monday before is CDT: 12:30Z is 07:30 local, open.
        assert!(r.check_open(at("2026-10-26T12:30:00Z")).is_ok());
    }

    #[test]
    fn a_window_across_the_repeated_hour_uses_wall_clock() {
        // Sunday 01:00-02:00 local: during fall-back, 01:xx happens twice and
        // both are inside the window; 02:00 CST is not.
        let mut r = rules();
        r.sale_hours.sunday = Some(SaleWindow {
            open_minute: 60,
            close_minute: 120,
        });
        assert!(r.check_open(at("2026-11-01T06:30:00Z")).is_ok()); // 01:30 CDT
        assert!(r.check_open(at("2026-11-01T07:30:00Z")).is_ok()); // 01:30 CST
        assert!(r.check_open(at("2026-11-01T08:00:00Z")).is_err()); // 02:00 CST
        // Spring forward: 02:00-03:00 doesn't exist; 01:59 CST is open, the next
        // minute is 03:00 CDT, closed.
        assert!(r.check_open(at("2026-03-08T07:59:00Z")).is_ok());
        assert!(r.check_open(at("2026-03-08T08:00:00Z")).is_err());
    }

    #[test]
    fn closing_at_2400_means_through_the_last_minute() {
        // Friday 2026-03-13 closes at 24:00; Saturday opens at 10:00.
        let r = rules();
        // 23:59:59.999 CDT Friday = 04:59:59.999Z Saturday.
        assert!(r.check_open(at("2026-03-14T04:59:59.999Z")).is_ok());
        // Midnight is Saturday 00:00, before Saturday's 10:00 opening.
        let err = r.check_open(at("2026-03-14T05:00:00Z")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "outside sale hours in travis-tx: it is Saturday 00:00 CDT; today's hours are 10:00-24:00"
        );
        // Saturday 23:59 is open (Saturday's window also ends at 24:00), and
        // Sunday 00:00 is closed all day.
        assert!(r.check_open(at("2026-03-15T04:59:00Z")).is_ok());
        let err = r.check_open(at("2026-03-15T05:00:00Z")).unwrap_err();
        assert!(err.to_string().ends_with("no sales today"), "{err}");
    }
}

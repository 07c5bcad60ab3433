//! Shadow reads: while a migrating county is in mode `shadow`, the API
//! answers reads from DynamoDB and sends a sample of its answers to the
//! county's ShadowReads queue, where `acme-infra migrate shadow` compares
//! each with the legacy database (`docs/migration.md`).
//!
//! This module holds what both sides share: the [`ShadowRead`] message (the
//! fields a legacy row holds, never a customer's PII), the [`SampleRate`] a
//! county file sets, and the sampling decision over an injected [`Random`]
//! source, so tests choose which reads are sampled.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::{ClientRequestId, CountyId, CustomerId, OrderId, StoreId};
use crate::money::Money;
use crate::order::{LineItem, Order, OrderStatus};

/// The message format's version: a comparer refuses (and reports) any other.
pub const MESSAGE_VERSION: u32 = 1;

/// One sampled answer of the API, as the comparer needs it: the order's
/// identity, the item's legacy version marker (`codec::LEGACY_UPDATED_US`)
/// and every field the legacy row holds. Customer profiles (names, e-mails,
/// phones) are in no order and so never in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShadowRead {
    pub v: u32,
    pub county_id: CountyId,
    pub order_id: OrderId,
    pub legacy_order_id: i64,
    /// The legacy `updated_at` the item was written from, in microseconds:
    /// a legacy row updated after it makes a difference lag, not a mismatch.
    pub legacy_updated_us: i64,
    pub customer_id: CustomerId,
    pub store_id: StoreId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_request_id: Option<ClientRequestId>,
    pub status: OrderStatus,
    pub legacy_status: String,
    pub total_cents: Money,
    pub items: Vec<LineItem>,
    pub created_at: Timestamp,
    pub placed_at_local: String,
    /// When the API answered.
    pub answered_at: Timestamp,
}

impl ShadowRead {
    /// The message for an answered order; `None` for an order the new
    /// system took (it has no legacy row to compare with).
    pub fn of(order: &Order, answered_at: Timestamp) -> Option<Self> {
        let legacy = order.legacy.as_ref()?;
        Some(ShadowRead {
            v: MESSAGE_VERSION,
            county_id: order.county_id.clone(),
            order_id: order.order_id,
            legacy_order_id: legacy.number,
            legacy_updated_us: legacy.updated_at.as_microsecond(),
            customer_id: order.customer_id.clone(),
            store_id: order.store_id.clone(),
            client_request_id: order.client_request_id.clone(),
            status: order.status,
            legacy_status: legacy.status.clone(),
            total_cents: order.total_cents,
            items: order.items.clone(),
            created_at: order.created_at,
            placed_at_local: legacy.placed_at_local.clone(),
            answered_at,
        })
    }

    pub fn to_json(&self) -> String {
        // A struct of ids, numbers and strings always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a message body, naming what is wrong with it.
    pub fn parse(body: &str) -> Result<Self, String> {
        let read: ShadowRead = serde_json::from_str(body).map_err(|e| e.to_string())?;
        if read.v != MESSAGE_VERSION {
            return Err(format!(
                "message version {} (this comparer reads {MESSAGE_VERSION})",
                read.v
            ));
        }
        Ok(read)
    }
}

/// The share of reads sampled, from a county file's
/// `migration.shadow.sample_percent` (0 to 100, fractions allowed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleRate {
    percent: f64,
    /// Sampled when a uniform `u32` is below this (out of 2^32).
    threshold: u64,
}

/// A sample percent that is not one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("sample percent `{0}` must be a number from 0 to 100")]
pub struct BadSampleRate(pub String);

impl SampleRate {
    pub const NONE: SampleRate = SampleRate {
        percent: 0.0,
        threshold: 0,
    };

    pub fn from_percent(percent: f64) -> Result<Self, BadSampleRate> {
        if !(0.0..=100.0).contains(&percent) {
            return Err(BadSampleRate(percent.to_string()));
        }
        let threshold = (percent / 100.0 * 4_294_967_296.0).round() as u64;
        Ok(SampleRate { percent, threshold })
    }

    pub fn parse(text: &str) -> Result<Self, BadSampleRate> {
        let percent = text
            .trim()
            .parse::<f64>()
            .map_err(|_| BadSampleRate(text.to_owned()))?;
        Self::from_percent(percent).map_err(|_| BadSampleRate(text.to_owned()))
    }

    pub fn percent(self) -> f64 {
        self.percent
    }

    /// Whether the read that drew `draw` (uniform over `u32`) is sampled.
    pub fn samples(self, draw: u32) -> bool {
        u64::from(draw) < self.threshold
    }
}

/// Uniform random `u32`s for the sampling decision.
pub trait Random: Send + Sync {
    /// `None` when no randomness is to be had: the read is then not sampled.
    fn next_u32(&self) -> Option<u32>;
}

/// The operating system's random source.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn next_u32(&self) -> Option<u32> {
        getrandom::u32().ok()
    }
}

/// A fixed sequence of draws, repeated (`test-support`).
#[cfg(any(test, feature = "test-support"))]
#[derive(Debug)]
pub struct ScriptedRandom {
    draws: Vec<u32>,
    at: std::sync::atomic::AtomicUsize,
}

#[cfg(any(test, feature = "test-support"))]
impl ScriptedRandom {
    pub fn new(draws: Vec<u32>) -> Self {
        Self {
            draws,
            at: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

#[cfg(any(test, feature = "test-support"))]
impl Random for ScriptedRandom {
    fn next_u32(&self) -> Option<u32> {
        let i = self.at.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.draws.get(i % self.draws.len().max(1)).copied()
    }
}

/// Whether an answered `order` is sent for comparison, and the message if so.
/// Only migrated orders are (a draw is spent on them alone, so the rate is
/// the share of migrated orders' reads).
pub fn sample(
    order: &Order,
    rate: SampleRate,
    random: &dyn Random,
    now: Timestamp,
) -> Option<ShadowRead> {
    order.legacy.as_ref()?;
    let draw = random.next_u32()?;
    if rate.samples(draw) {
        ShadowRead::of(order, now)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::migrated_order;

    #[test]
    fn the_rate_samples_its_share_of_draws() {
        for (percent, expected) in [(0.0, 0), (5.0, 50), (12.5, 125), (100.0, 1000)] {
            let rate = SampleRate::from_percent(percent).expect("valid");
            // 1000 draws evenly over u32, each in the middle of its step.
            let hits = (0..1000u64)
                .filter(|i| rate.samples(((2 * i + 1) * 4_294_967_296 / 2000) as u32))
                .count();
            assert_eq!(hits, expected, "{percent}%");
        }
        let all = SampleRate::from_percent(100.0).expect("valid");
        assert!(all.samples(u32::MAX));
        assert!(!SampleRate::NONE.samples(0));
    }

    #[test]
    fn bad_rates_are_refused_by_value() {
        for bad in ["-1", "100.5", "NaN", "five", "", "inf"] {
            assert_eq!(
                SampleRate::parse(bad),
                Err(BadSampleRate(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(SampleRate::parse("2.5").map(SampleRate::percent), Ok(2.5));
    }

    #[test]
    fn only_migrated_orders_are_sampled_and_the_draw_decides() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
        let rate = SampleRate::from_percent(50.0).expect("valid");
        let random = ScriptedRandom::new(vec![0, u32::MAX]);
        let o = migrated_order(1010);
        assert!(sample(&o, rate, &random, now).is_some());
        assert!(sample(&o, rate, &random, now).is_none());
        let mut new = o.clone();
        new.legacy = None;
        assert!(sample(&new, rate, &random, now).is_none());
        // The new order spent no draw: the next is the first again.
        assert!(sample(&o, rate, &random, now).is_some());
    }

    #[test]
    fn the_message_round_trips_and_holds_the_legacy_version() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
        let read = ShadowRead::of(&migrated_order(1010), now).expect("migrated");
        assert_eq!(read.legacy_order_id, 1010);
        assert_eq!(read.legacy_updated_us, 1_740_848_700_123_456);
        assert_eq!(ShadowRead::parse(&read.to_json()), Ok(read.clone()));
        let mut old = serde_json::to_value(&read).expect("json");
        old["v"] = 2.into();
        assert_eq!(
            ShadowRead::parse(&old.to_string()),
            Err("message version 2 (this comparer reads 1)".into())
        );
        assert!(ShadowRead::parse("{}").is_err());
        assert!(!read.to_json().contains("pay-1"), "no payment reference");
    }
}

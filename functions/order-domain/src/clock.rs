//! Injected time and id generation, so tests can pin "now" and predict ids.
//!
//! The services know two notions of time. The *wall clock* (the [`Clock`]
//! every service takes) dates what an order records: `created_at`,
//! `updated_at`, the time component of its id, TTLs. The *sale clock* only
//! answers "are the county's sale hours open?" (and is the time a refusal
//! quotes); it is the wall clock unless the accept service is given another
//! one (`AcceptService::with_sale_clock`), as the local runner's
//! `--sale-clock` does with a `ManualClock`.

#[cfg(any(test, feature = "test-support"))]
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

#[cfg(any(test, feature = "test-support"))]
use jiff::SignedDuration;
use jiff::Timestamp;
use ulid::{Generator, Ulid};

use crate::ids::OrderId;

/// The current time.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// The host's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to (`test-support`: tests and the local
/// runner's `--sale-clock`).
#[cfg(any(test, feature = "test-support"))]
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

#[cfg(any(test, feature = "test-support"))]
impl ManualClock {
    pub fn new(at: Timestamp) -> Self {
        Self(Mutex::new(at))
    }

    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }

    /// Moves the clock forward (saturating at the end of time).
    pub fn advance(&self, by: SignedDuration) {
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *t = t.saturating_add(by).unwrap_or(*t);
    }
}

#[cfg(any(test, feature = "test-support"))]
impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Makes order ids.
pub trait IdGenerator: Send + Sync {
    /// A new id whose time component is `now`.
    fn order_id(&self, now: Timestamp) -> OrderId;
}

impl<G: IdGenerator + ?Sized> IdGenerator for Arc<G> {
    fn order_id(&self, now: Timestamp) -> OrderId {
        (**self).order_id(now)
    }
}

fn system_time(t: Timestamp) -> SystemTime {
    let ms = u64::try_from(t.as_millisecond()).unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

/// Random ULIDs, monotonic within a millisecond in one process (ULID spec's
/// monotonic mode), so ids made in a burst still sort in creation order.
#[derive(Debug, Default)]
pub struct UlidGenerator(Mutex<Generator>);

impl UlidGenerator {
    pub fn new() -> Self {
        Self::default()
    }
}

impl IdGenerator for UlidGenerator {
    fn order_id(&self, now: Timestamp) -> OrderId {
        let at = system_time(now);
        let mut g = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Overflow needs 2^80 ids in one millisecond; fall back to a fresh
        // random id rather than fail.
        let ulid = g
            .generate_from_datetime(at)
            .unwrap_or_else(|_| Ulid::from_datetime(at));
        OrderId::from_ulid(ulid)
    }
}

/// Deterministic ids for tests (`test-support`): time component `now`,
/// random component a counter starting at 1.
#[cfg(any(test, feature = "test-support"))]
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

#[cfg(any(test, feature = "test-support"))]
impl SequentialIds {
    pub fn new() -> Self {
        Self::default()
    }
}

#[cfg(any(test, feature = "test-support"))]
impl IdGenerator for SequentialIds {
    fn order_id(&self, now: Timestamp) -> OrderId {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        let ms = u64::try_from(now.as_millisecond()).unwrap_or(0);
        OrderId::from_ulid(Ulid::from_parts(ms, u128::from(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulids_carry_the_time_and_are_monotonic() {
        let g = UlidGenerator::new();
        let now: Timestamp = "2026-05-01T12:00:00.500Z".parse().unwrap();
        let a = g.order_id(now);
        let b = g.order_id(now);
        assert!(a < b);
        assert_eq!(a.timestamp_ms(), now.as_millisecond() as u64);
    }

    #[test]
    fn manual_clock_and_sequential_ids() {
        let t: Timestamp = "2026-05-01T12:00:00Z".parse().unwrap();
        let c = ManualClock::new(t);
        c.advance(SignedDuration::from_secs(90));
        assert_eq!(
            c.now(),
            "2026-05-01T12:01:30Z".parse::<Timestamp>().unwrap()
        );
        let ids = SequentialIds::new();
        let a = ids.order_id(t);
        let b = ids.order_id(t);
        assert_eq!(a.ulid().random(), 1);
        assert_eq!(b.ulid().random(), 2);
    }
}

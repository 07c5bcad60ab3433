//! Retrying an order that lost a write race: [`ConflictRetry`].
//!
//! DynamoDB cancels a `TransactWriteItems` with `TransactionConflict` when
//! another transaction touches one of its items at the same time (every
//! order for a hot SKU in a flash sale reserves from the same stock record),
//! and refuses a single-item write to an item a transaction holds. Nothing is
//! written either way, and the race is usually over in milliseconds. Left to
//! SQS, the message would wait out the queue's visibility timeout (minutes)
//! and, after `maxReceiveCount` such losses, sit in the DLQ with the order
//! PENDING. So the worker tries again itself, a bounded number of times,
//! after a pause with "full jitter" (a random fraction of an exponentially
//! growing ceiling, as AWS's architecture blog recommends), so the losers of
//! one race do not all come back at the same instant and collide again.

use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

/// How long to keep retrying an order that loses to other writers, and how
/// to space the tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConflictRetry {
    /// Time a message may spend retrying, first call included; a retry whose
    /// pause would end past it is not made, and the message goes back to SQS
    /// as a retryable failure. A time bound rather than a count: one order
    /// may lose several races in a row (its reservation, then its
    /// confirmation), and what must stay bounded is the batch's run time
    /// against the function's timeout.
    pub budget: Duration,
    /// The ceiling of the first pause; it doubles each retry.
    pub base: Duration,
    /// The largest ceiling.
    pub cap: Duration,
}

impl Default for ConflictRetry {
    /// Up to 2 s per message, pauses of at most 20, 40, 80, 160, then 250 ms:
    /// ten messages that all contend still finish well inside the worker's
    /// 30 s timeout.
    fn default() -> Self {
        Self {
            budget: Duration::from_secs(2),
            base: Duration::from_millis(10),
            cap: Duration::from_millis(250),
        }
    }
}

impl ConflictRetry {
    /// The pause before retry `retry` (1 for the first), given a random
    /// number: uniform in `0..=min(cap, base * 2^retry)`.
    pub fn delay(&self, retry: u32, random: u64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1_u32 << retry.min(20))
            .min(self.cap);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(random % nanos.saturating_add(1))
    }

    /// The pause before retry `retry` when `spent` has gone by since the
    /// first call, or `None` when the retry would end past the budget.
    pub fn next_pause(&self, retry: u32, spent: Duration, random: u64) -> Option<Duration> {
        let pause = self.delay(retry, random);
        (spent.saturating_add(pause) < self.budget).then_some(pause)
    }

    /// Sleeps before retry `retry` if the budget allows it; false if not.
    pub(crate) async fn pause(&self, retry: u32, started: Instant) -> bool {
        match self.next_pause(retry, started.elapsed(), random()) {
            Some(pause) => {
                tokio::time::sleep(pause).await;
                true
            }
            None => false,
        }
    }
}

/// A random number from std's per-process random hash keys: jitter needs
/// spread, not cryptographic quality.
fn random() -> u64 {
    RandomState::new().hash_one(Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_to_the_cap_and_stay_within_it() {
        let r = ConflictRetry::default();
        let ms = Duration::from_millis;
        assert_eq!(r.delay(1, 20_000_000), ms(20));
        assert_eq!(r.delay(1, 0), Duration::ZERO);
        for retry in 1..40 {
            let ceiling = ms(10 * 2_u64.pow(retry.min(10))).min(ms(250));
            for random in [0, 1, 12_345_678_901, u64::MAX / 3, u64::MAX] {
                assert!(r.delay(retry, random) <= ceiling, "{retry} {random}");
            }
        }
        // Jitter: a spread of pauses, not one value for every loser.
        let pauses: std::collections::HashSet<Duration> =
            (0..32).map(|_| r.delay(3, random())).collect();
        assert!(pauses.len() > 16, "{pauses:?}");
    }

    #[test]
    fn no_retry_ends_past_the_budget() {
        let r = ConflictRetry::default();
        let ms = Duration::from_millis;
        assert_eq!(r.next_pause(1, ms(0), 20_000_000), Some(ms(20)));
        assert_eq!(r.next_pause(9, ms(1_700), 250_000_000), Some(ms(250)));
        assert_eq!(r.next_pause(9, ms(1_800), 250_000_000), None);
        assert_eq!(r.next_pause(2, ms(2_000), 0), None);
    }
}

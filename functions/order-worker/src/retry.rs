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

/// How often and how long to retry an order that lost to another writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConflictRetry {
    /// Calls in all, the first included; after the last, the message goes
    /// back to SQS as a retryable failure.
    pub attempts: u32,
    /// The ceiling of the first pause; it doubles each retry.
    pub base: Duration,
    /// The largest ceiling.
    pub cap: Duration,
}

impl Default for ConflictRetry {
    /// Six calls, pauses of at most 50, 100, 200, 400 and 500 ms: 1.25 s at
    /// worst per message, well inside the worker's 30 s timeout for a
    /// typical batch.
    fn default() -> Self {
        Self {
            attempts: 6,
            base: Duration::from_millis(25),
            cap: Duration::from_millis(500),
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

    /// Sleeps before retry `retry`.
    pub(crate) async fn pause(&self, retry: u32) {
        tokio::time::sleep(self.delay(retry, random())).await;
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
        assert_eq!(r.delay(1, 50_000_000), ms(50));
        assert_eq!(r.delay(1, 0), Duration::ZERO);
        for retry in 1..40 {
            let ceiling = ms(25 * 2_u64.pow(retry.min(10))).min(ms(500));
            for random in [0, 1, 12_345_678_901, u64::MAX / 3, u64::MAX] {
                assert!(r.delay(retry, random) <= ceiling, "{retry} {random}");
            }
        }
        // Jitter: a spread of pauses, not one value for every loser.
        let pauses: std::collections::HashSet<Duration> =
            (0..32).map(|_| r.delay(3, random())).collect();
        assert!(pauses.len() > 16, "{pauses:?}");
    }
}

//! Writing mapped items with `BatchWriteItem`: at most 25 items a call,
//! `UnprocessedItems` and throttling retried with capped exponential backoff
//! and full jitter, every call paid for from the [`WcuBudget`] first.
//!
//! Writes go through the order domain's [`Store`] port, so the same code
//! writes to a deployed county's tables and to the local runner's tables on
//! the emulator.

use std::time::Duration;

use order_domain::store::{BATCH_WRITE_MAX, Item, Store, StoreError, Table};

use crate::limit::WcuBudget;

/// One item to write and what it costs in write units (table and indexes).
#[derive(Debug, Clone)]
pub struct Pending {
    pub table: Table,
    pub item: Item,
    pub write_units: u64,
}

/// How hard to retry before giving up.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Retry {
    /// 15 attempts from 50 ms, capped at 5 s: about a minute of a table
    /// that admits nothing before the run stops (and can be resumed).
    fn default() -> Self {
        Retry {
            attempts: 15,
            base: Duration::from_millis(50),
            cap: Duration::from_secs(5),
        }
    }
}

impl Retry {
    /// Full jitter: a random wait in `0..=min(cap, base * 2^attempt)`.
    fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX))
            .min(self.cap);
        let mut b = [0u8; 8];
        // Without randomness the wait is the ceiling: slower, still correct.
        let fraction = match getrandom::fill(&mut b) {
            Ok(()) => (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64,
            Err(_) => 1.0,
        };
        ceiling.mul_f64(fraction)
    }
}

/// What the writer did, for progress and the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub items: u64,
    pub write_units: u64,
    pub calls: u64,
    /// Items DynamoDB returned as `UnprocessedItems` (then retried).
    pub unprocessed: u64,
    /// Calls refused whole for throttling (then retried).
    pub throttled: u64,
}

/// Why writing stopped.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(
        "{table:?}: still throttled after {attempts} attempts ({pending} items unwritten): {last}"
    )]
    GaveUp {
        table: Table,
        attempts: u32,
        pending: usize,
        last: String,
    },
    #[error("{table:?}: {source}")]
    Store {
        table: Table,
        #[source]
        source: StoreError,
    },
}

/// Writes batches to a [`Store`] within a budget.
pub struct Writer<S> {
    store: S,
    budget: WcuBudget,
    retry: Retry,
    stats: WriteStats,
}

impl<S: Store> Writer<S> {
    pub fn new(store: S, budget: WcuBudget, retry: Retry) -> Self {
        Writer {
            store,
            budget,
            retry,
            stats: WriteStats::default(),
        }
    }

    pub fn stats(&self) -> WriteStats {
        self.stats
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Writes every item, grouped by table in calls of at most 25. Returns
    /// once all are written; on error, some may have been (puts are
    /// idempotent: a resumed run writes them again, unchanged).
    pub async fn write_all(&mut self, items: Vec<Pending>) -> Result<(), WriteError> {
        let mut by_table: Vec<(Table, Vec<Pending>)> = Vec::new();
        for p in items {
            match by_table.iter_mut().find(|(t, _)| *t == p.table) {
                Some((_, group)) => group.push(p),
                None => by_table.push((p.table, vec![p])),
            }
        }
        for (table, group) in by_table {
            let mut rest = group.into_iter().peekable();
            while rest.peek().is_some() {
                let chunk: Vec<Pending> = rest.by_ref().take(BATCH_WRITE_MAX).collect();
                self.write_chunk(table, chunk).await?;
            }
        }
        Ok(())
    }

    async fn write_chunk(&mut self, table: Table, chunk: Vec<Pending>) -> Result<(), WriteError> {
        let units: u64 = chunk.iter().map(|p| p.write_units).sum();
        self.budget.spend(units).await;
        let count = chunk.len() as u64;
        let mut pending: Vec<Item> = chunk.into_iter().map(|p| p.item).collect();
        let mut attempt = 0;
        loop {
            self.stats.calls += 1;
            let last = match self.store.batch_put(table, pending.clone()).await {
                Ok(unprocessed) if unprocessed.is_empty() => break,
                Ok(unprocessed) => {
                    self.stats.unprocessed += unprocessed.len() as u64;
                    let text = format!("{} items unprocessed", unprocessed.len());
                    pending = unprocessed;
                    text
                }
                Err(e) if e.is_retryable() => {
                    self.stats.throttled += 1;
                    e.to_string()
                }
                Err(source) => return Err(WriteError::Store { table, source }),
            };
            attempt += 1;
            if attempt >= self.retry.attempts {
                return Err(WriteError::GaveUp {
                    table,
                    attempts: attempt,
                    pending: pending.len(),
                    last,
                });
            }
            tokio::time::sleep(self.retry.delay(attempt)).await;
        }
        self.stats.items += count;
        self.stats.write_units += units;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered_below_the_ceiling() {
        let r = Retry::default();
        for attempt in 0..40 {
            let ceiling = (r.base * 2u32.saturating_pow(attempt.min(20))).min(r.cap);
            assert!(r.delay(attempt) <= ceiling, "attempt {attempt}");
        }
        let spread: std::collections::BTreeSet<_> = (0..20).map(|_| r.delay(6)).collect();
        assert!(spread.len() > 1, "jitter varies the wait");
    }
}

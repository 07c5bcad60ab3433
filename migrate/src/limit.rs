//! `--max-wcu`: a token bucket in DynamoDB write units per second, so a
//! backfill leaves the county's live traffic its share of the table.
//!
//! The bucket holds at most one second of budget, so a pause (a slow page of
//! the legacy database) never turns into a burst above the limit. With
//! `--shard K/N`, each of the N processes gets `max / N`: the budget is
//! shared without the processes talking to each other.

use std::time::Duration;

use tokio::time::Instant;

/// Write units per second, or unlimited.
#[derive(Debug)]
pub struct WcuBudget {
    per_second: Option<f64>,
    tokens: f64,
    last: Instant,
}

impl WcuBudget {
    /// `None`: no limit.
    pub fn new(per_second: Option<u64>) -> Self {
        let per_second = per_second.map(|r| r as f64);
        WcuBudget {
            per_second,
            tokens: per_second.unwrap_or(0.0),
            last: Instant::now(),
        }
    }

    /// This process's part of a budget shared by `shards` processes.
    pub fn shared(total: Option<u64>, shards: u32) -> Self {
        Self::new(total.map(|t| (t / u64::from(shards.max(1))).max(1)))
    }

    pub fn per_second(&self) -> Option<f64> {
        self.per_second
    }

    /// Waits until `units` may be spent, then spends them. A request larger
    /// than one second's budget waits for the time it takes to earn it.
    pub async fn spend(&mut self, units: u64) {
        let Some(rate) = self.per_second else { return };
        self.refill(rate);
        self.tokens -= units as f64;
        if self.tokens < 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(-self.tokens / rate)).await;
            self.refill(rate);
        }
    }

    fn refill(&mut self, rate: f64) {
        let now = Instant::now();
        let earned = now.duration_since(self.last).as_secs_f64() * rate;
        self.tokens = (self.tokens + earned).min(rate);
        self.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spending_holds_the_rate_over_time() {
        let mut budget = WcuBudget::new(Some(100));
        let start = Instant::now();
        // 1,000 units at 100/s: the first second's budget is in the bucket,
        // the other 900 units take 9 s.
        for _ in 0..100 {
            budget.spend(10).await;
        }
        let took = start.elapsed().as_secs_f64();
        assert!((8.9..=9.1).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_pause_does_not_allow_a_burst() {
        let mut budget = WcuBudget::new(Some(50));
        tokio::time::sleep(Duration::from_secs(60)).await;
        let start = Instant::now();
        for _ in 0..100 {
            budget.spend(1).await; // 100 units: 50 banked, 50 earned in 1 s
        }
        let took = start.elapsed().as_secs_f64();
        assert!((0.95..=1.05).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn no_limit_never_waits_and_shards_split_the_budget() {
        let mut budget = WcuBudget::new(None);
        let start = Instant::now();
        budget.spend(1_000_000).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(WcuBudget::shared(Some(1000), 4).per_second(), Some(250.0));
        assert_eq!(WcuBudget::shared(Some(3), 4).per_second(), Some(1.0));
        assert_eq!(WcuBudget::shared(None, 4).per_second(), None);
    }
}

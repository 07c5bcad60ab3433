//! How far a backfill is and how long it has left: the rows in scope are
//! counted once, in the run's own snapshot (the same `WHERE` as the pages,
//! this shard's share), so the total cannot drift from what the pages read.

use std::time::Duration;

use serde::Serialize;

use crate::backfill::Progress;
use crate::checkpoint::Position;
use crate::read::Shard;
use crate::source::{Snapshot, SourceError};

/// Rows in scope of the snapshot, per phase, for this shard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub inventory: u64,
    pub orders: u64,
    pub customers: u64,
}

impl Totals {
    pub fn rows(&self) -> u64 {
        self.inventory + self.orders + self.customers
    }

    /// The rows in scope, and how many of them earlier runs of this
    /// checkpoint already read (everything at or before `position`).
    pub async fn count(
        snap: &Snapshot<'_>,
        county: &str,
        shard: Shard,
        position: &Position,
    ) -> Result<(Totals, u64), SourceError> {
        let (inventory, inventory_before) = if shard.is_first() {
            let after = match position {
                Position::Inventory { after } => {
                    after.as_ref().map(|(a, b)| (a.as_str(), b.as_str()))
                }
                _ => None,
            };
            let (all, before) = snap.count_inventory(county, after).await?;
            match position {
                Position::Inventory { .. } => (all, before),
                _ => (all, all),
            }
        } else {
            (0, 0)
        };
        let (orders, orders_before) = match position {
            Position::Inventory { .. } => (snap.count_orders(county, shard, None).await?.0, 0),
            Position::Orders { after } => snap.count_orders(county, shard, *after).await?,
            Position::Customers { .. } | Position::Done => {
                let (all, _) = snap.count_orders(county, shard, None).await?;
                (all, all)
            }
        };
        let (customers, customers_before) = match position {
            Position::Customers { after } => snap.count_customers(county, shard, *after).await?,
            Position::Done => {
                let (all, _) = snap.count_customers(county, shard, None).await?;
                (all, all)
            }
            _ => (snap.count_customers(county, shard, None).await?.0, 0),
        };
        Ok((
            Totals {
                inventory,
                orders,
                customers,
            },
            inventory_before + orders_before + customers_before,
        ))
    }
}

impl Progress {
    /// Rows read, earlier runs included, as a share of the rows in scope.
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            return 100.0;
        }
        (self.done as f64 * 100.0 / self.total as f64).min(100.0)
    }

    /// The time left at this run's rate so far; `None` before anything is
    /// read.
    pub fn eta(&self, elapsed: Duration) -> Option<Duration> {
        let this_run = self.done.saturating_sub(self.before);
        if this_run == 0 || elapsed.is_zero() {
            return None;
        }
        let rate = this_run as f64 / elapsed.as_secs_f64();
        let left = self.total.saturating_sub(self.done) as f64;
        Some(Duration::from_secs_f64(left / rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::write::WriteStats;

    fn at(done: u64, before: u64, total: u64) -> Progress {
        Progress {
            phase: "orders",
            rows: 0,
            done,
            before,
            total,
            stats: WriteStats::default(),
        }
    }

    #[test]
    fn the_eta_uses_this_runs_rate_and_the_rows_left() {
        // 400 of 1,000 done, 100 of them by this run in 10 s: 600 left at 10/s.
        let p = at(400, 300, 1000);
        assert_eq!(p.percent(), 40.0);
        assert_eq!(
            p.eta(Duration::from_secs(10)),
            Some(Duration::from_secs(60))
        );
        assert_eq!(at(300, 300, 1000).eta(Duration::from_secs(10)), None);
        assert_eq!(
            at(1000, 0, 1000).eta(Duration::from_secs(5)),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn an_empty_or_overrun_scope_reads_as_complete() {
        assert_eq!(at(0, 0, 0).percent(), 100.0);
        // Rows inserted after the count cannot be read by the snapshot, but
        // the display stays sane if they were.
        assert_eq!(at(12, 0, 10).percent(), 100.0);
        assert_eq!(
            at(12, 0, 10).eta(Duration::from_secs(1)),
            Some(Duration::ZERO)
        );
    }
}

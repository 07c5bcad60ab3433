//! Finding orders stuck in flight, for a scheduled function to re-enqueue.
//!
//! The outbox (the stream publisher enqueues every new PENDING order) makes
//! a lost enqueue rare; the sweeper makes it harmless: a PENDING order older
//! than a few minutes is sent to the worker again, and a RESERVED one older
//! than the reservation TTL is sent so the worker can finish or release it.
//! Re-enqueueing is always safe because the worker is idempotent.

use jiff::{SignedDuration, Timestamp};

use crate::clock::Clock;
use crate::keys;
use crate::order::OrderStatus;
use crate::rules::CountyRules;
use crate::service::queries::{OrderQueries, OrdersPage, QueryError};
use crate::store::{Index, SortCondition, Store};

/// The sweeper's service.
pub struct Sweeper<S, C> {
    queries: OrderQueries<S>,
    rules: CountyRules,
    clock: C,
}

impl<S: Store, C: Clock> Sweeper<S, C> {
    pub fn new(store: S, rules: CountyRules, clock: C) -> Self {
        Self {
            queries: OrderQueries::new(store, rules.clone()),
            rules,
            clock,
        }
    }

    /// Orders in `status` created more than `older_than` ago, oldest first,
    /// across every status shard. Page with the returned cursor so orders
    /// that keep failing can't starve the ones behind them.
    pub async fn stale_orders(
        &self,
        status: OrderStatus,
        older_than: SignedDuration,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrdersPage, QueryError> {
        let now = self.clock.now();
        let cutoff = now.checked_sub(older_than).unwrap_or(Timestamp::UNIX_EPOCH);
        let partitions = (0..self.rules.gsi_write_shards)
            .map(|s| keys::status_shard_key(status, s))
            .collect();
        // `order_sk < <cutoff millis>`: strictly before the cutoff.
        let sort = SortCondition::Lt(keys::order_sk_bound(cutoff));
        self.queries
            .merged(
                Index::StatusTime,
                partitions,
                Some(sort),
                true,
                limit,
                cursor,
            )
            .await
    }

    /// PENDING orders older than `older_than`: accepted but never processed.
    pub async fn stale_pending(
        &self,
        older_than: SignedDuration,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrdersPage, QueryError> {
        self.stale_orders(OrderStatus::Pending, older_than, limit, cursor)
            .await
    }
}

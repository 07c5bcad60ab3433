//! The scheduled sweeper: finds orders stuck in flight and settles them.
//!
//! The outbox (the stream publisher enqueues every new PENDING order) makes
//! a lost enqueue rare; the sweeper makes it harmless: a PENDING order older
//! than the county's threshold is sent to the worker again (always safe: the
//! worker is idempotent). A RESERVED order whose reservation has expired
//! (its message died in the DLQ, or the worker kept failing) is released
//! here, by [`Expiry`]: refund (idempotent), then the same release
//! transaction a cancel makes, so its units return to available stock in the
//! transaction that deletes its ledger entries.
//!
//! Only orders in PENDING or RESERVED are ever touched: an order in any other
//! state (CONFIRMED, a staff-held one) keeps its reservation. Every write is
//! conditional on the order's version and on the ledger entry existing, so
//! two sweeps racing (or a sweep racing a worker or a cancel) release the
//! units once: one transaction wins, the others reload and find the order
//! FAILED.

use jiff::{SignedDuration, Timestamp};

use crate::clock::Clock;
use crate::ids::OrderId;
use crate::keys;
use crate::order::{FailureReason, Order, OrderStatus};
use crate::payment::PaymentGateway;
use crate::rules::CountyRules;
use crate::service::queries::{OrderQueries, OrdersPage, QueryError};
use crate::service::worker::ProcessError;
use crate::service::{MAX_ATTEMPTS, TxOutcome, end_order, load_order, reservation_deadline};
use crate::store::{Index, SortCondition, Store};

/// How long past its deadline a reservation is left before the sweeper
/// releases it: Lambda's longest timeout (900 s). The worker stops charging
/// at the deadline, so after this no worker invocation that charged before
/// the deadline can still be running, and the sweeper's refund can never
/// undo a charge a worker is about to confirm.
pub const EXPIRY_SETTLE_SECONDS: i64 = 900;

/// The sweeper's queries.
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

    /// RESERVED orders that may have expired: created before the
    /// reservation TTL plus [`EXPIRY_SETTLE_SECONDS`] ago (an order is
    /// reserved after it is created, so this is a superset; [`Expiry`]
    /// checks each order's own deadline).
    pub async fn expiry_candidates(
        &self,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrdersPage, QueryError> {
        let older_than = SignedDuration::from_secs(
            i64::from(self.rules.reservation_ttl_seconds) + EXPIRY_SETTLE_SECONDS,
        );
        self.stale_orders(OrderStatus::Reserved, older_than, limit, cursor)
            .await
    }
}

/// What [`Expiry::release_if_expired`] did with one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expired {
    /// This call released the reservation: the order is FAILED
    /// (`RESERVATION_EXPIRED`), its units are back in stock.
    Released(Order),
    /// Still RESERVED, but not yet past its deadline plus the settle time.
    NotYet(Order),
    /// Not RESERVED (any more): nothing to release here. A second sweep that
    /// lost the race lands here, as does an order held for staff review.
    NotReserved(Order),
}

/// Releases expired reservations (refund first, then the release
/// transaction), for the sweeper.
pub struct Expiry<S, P, C> {
    store: S,
    gateway: P,
    rules: CountyRules,
    clock: C,
}

impl<S: Store, P: PaymentGateway, C: Clock> Expiry<S, P, C> {
    pub fn new(store: S, gateway: P, rules: CountyRules, clock: C) -> Self {
        Self {
            store,
            gateway,
            rules,
            clock,
        }
    }

    /// Releases `order_id`'s reservation if the order is RESERVED and past
    /// its deadline plus [`EXPIRY_SETTLE_SECONDS`]. Safe to call any number
    /// of times, concurrently.
    pub async fn release_if_expired(&self, order_id: &OrderId) -> Result<Expired, ProcessError> {
        for _ in 0..MAX_ATTEMPTS {
            let order = load_order(&self.store, order_id)
                .await?
                .ok_or(ProcessError::NotFound(*order_id))?;
            if order.status != OrderStatus::Reserved || order.owned_by_legacy() {
                return Ok(Expired::NotReserved(order));
            }
            let now = self.clock.now();
            let deadline = reservation_deadline(&order, self.rules.reservation_ttl_seconds);
            let settled = deadline
                .checked_add(SignedDuration::from_secs(EXPIRY_SETTLE_SECONDS))
                .unwrap_or(deadline);
            if now < settled {
                return Ok(Expired::NotYet(order));
            }
            // A charge may have gone through on an attempt whose answer was
            // lost: refund (idempotent, a no-op if nothing was captured)
            // before the order is failed, so a failed refund leaves it
            // RESERVED for the next sweep to try again.
            self.gateway
                .refund(order_id)
                .await
                .map_err(|error| ProcessError::RefundRetry {
                    order_id: *order_id,
                    error,
                })?;
            let mut failed = order.transitioned(OrderStatus::Failed, now).map_err(|e| {
                ProcessError::Inconsistent {
                    order_id: *order_id,
                    detail: e.to_string(),
                }
            })?;
            failed.failure_reason = Some(FailureReason::ReservationExpired);
            match end_order(&self.store, &order, &failed, self.rules.gsi_write_shards).await? {
                TxOutcome::Committed => return Ok(Expired::Released(failed)),
                TxOutcome::LostRace => continue,
                TxOutcome::Rejected(c) => {
                    return Err(ProcessError::Inconsistent {
                        order_id: *order_id,
                        detail: format!("release of an expired reservation refused: {c}"),
                    });
                }
            }
        }
        Err(ProcessError::Contention(*order_id))
    }
}

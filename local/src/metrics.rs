//! Where a request's time goes: time inside store and enqueue calls (the
//! emulator's round trips) versus everything else (our code).
//!
//! [`TimedStore`] and [`TimedEnqueuer`] wrap the adapters the functions get
//! and add each call's duration to the request being served, found through a
//! task-local set by the HTTP server around each invocation. Calls outside a
//! request (worker, publisher) are not attributed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use order_domain::store::{
    Delete, Item, Page, Put, Query, Store, StoreError, Table, Transaction, Update,
};

tokio::task_local! {
    static REQUEST: Arc<RequestTiming>;
}

/// Time spent in the emulator while serving one request.
#[derive(Debug, Default)]
pub struct RequestTiming {
    emulator_nanos: AtomicU64,
    lock_nanos: AtomicU64,
    calls: AtomicU64,
}

impl RequestTiming {
    pub fn emulator_nanos(&self) -> u64 {
        self.emulator_nanos.load(Ordering::Relaxed)
    }

    /// Of [`RequestTiming::emulator_nanos`], the part spent waiting for the
    /// isolation lock ([`crate::isolation`]) rather than in moto.
    pub fn lock_nanos(&self) -> u64 {
        self.lock_nanos.load(Ordering::Relaxed)
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

/// Runs `fut` with its emulator time recorded into `timing`.
pub async fn scope<F: std::future::Future>(timing: Arc<RequestTiming>, fut: F) -> F::Output {
    REQUEST.scope(timing, fut).await
}

/// Adds a wait for the isolation lock to the current request, if any.
pub(crate) fn record_lock_wait(waited: std::time::Duration) {
    let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
    let _ = REQUEST.try_with(|t| {
        t.lock_nanos.fetch_add(nanos, Ordering::Relaxed);
    });
}

async fn timed<T>(fut: impl std::future::Future<Output = T>) -> T {
    let start = Instant::now();
    let out = fut.await;
    let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let _ = REQUEST.try_with(|t| {
        t.emulator_nanos.fetch_add(nanos, Ordering::Relaxed);
        t.calls.fetch_add(1, Ordering::Relaxed);
    });
    out
}

/// A [`Store`] whose calls are timed.
#[derive(Debug, Clone)]
pub struct TimedStore<S>(pub S);

impl<S: Store> Store for TimedStore<S> {
    async fn transact(&self, tx: Transaction) -> Result<(), StoreError> {
        timed(self.0.transact(tx)).await
    }
    async fn get(
        &self,
        table: Table,
        key: Item,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        timed(self.0.get(table, key, consistent)).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        timed(self.0.query(query)).await
    }
    async fn put(&self, put: Put) -> Result<(), StoreError> {
        timed(self.0.put(put)).await
    }
    async fn update(&self, update: Update) -> Result<Item, StoreError> {
        timed(self.0.update(update)).await
    }
    async fn delete(&self, delete: Delete) -> Result<Option<Item>, StoreError> {
        timed(self.0.delete(delete)).await
    }
    async fn batch_put(&self, table: Table, items: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        timed(self.0.batch_put(table, items)).await
    }
}

/// An [`order_aws::Enqueuer`] whose sends are timed.
#[derive(Debug, Clone)]
pub struct TimedEnqueuer<E>(pub E);

impl<E: order_aws::Enqueuer> order_aws::Enqueuer for TimedEnqueuer<E> {
    async fn enqueue(
        &self,
        message: order_domain::events::WorkMessage,
    ) -> Result<(), order_aws::SendError> {
        timed(self.0.enqueue(message)).await
    }
}

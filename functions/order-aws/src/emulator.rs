//! Serializable isolation for DynamoDB on the local AWS emulator (moto), for
//! the local runner and the integration tests. Deployed functions never use
//! it: they talk to DynamoDB through [`DynamoStore`](crate::DynamoStore)
//! directly, and DynamoDB isolates transactions itself.
//!
//! moto's `TransactWriteItems` is not isolated from concurrent requests: it
//! deep-copies each table at the start, checks and writes op by op without a
//! lock, and on a cancelled transaction puts the copies back
//! (`moto/dynamodb/models/__init__.py`, moto 5.2). Under concurrent requests
//! that loses other requests' committed writes (an idempotency record, a
//! stock decrement), lets two "conditional" writers both win, and swaps the
//! table's stream shard for the copy: stream records the cancelled
//! transaction wrote are visible to a concurrent `GetRecords` and then
//! vanish, and their sequence numbers are handed out again. Seen in the local
//! runner: 50 identical concurrent `POST /orders` wrote 3 orders.
//!
//! DynamoDB gives transactions serializable isolation, so this restores it at
//! the client: writes (transactions, puts, updates, deletes, batch writes)
//! take one process-wide lock, [`EmulatorLock`], exclusively; reads, table
//! and stream alike, take it shared. The domain's conditions still decide
//! every outcome (10 of 40 orders for 10 units win because their conditions
//! hold, not because of the lock); what the lock removes is moto's
//! interleaving. It covers one process: writers in another process (a second
//! runner, `acme-infra inventory load`) are not serialized against this one.

use std::future::Future;
use std::time::{Duration, Instant};

use order_domain::store::{
    Delete, Item, Page, Put, Query, Store, StoreError, Table, Transaction, Update,
};
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static EMULATOR: RwLock<()> = RwLock::const_new(());

/// The process-wide lock every request to the emulator's DynamoDB and
/// DynamoDB Streams APIs takes while it is in flight.
#[derive(Debug, Clone, Copy)]
pub struct EmulatorLock;

/// Held while a write is in flight: no other request runs meanwhile.
pub type ExclusiveGuard = RwLockWriteGuard<'static, ()>;
/// Held while a read is in flight: no write runs meanwhile.
pub type SharedGuard = RwLockReadGuard<'static, ()>;

impl EmulatorLock {
    /// For a write: waits until no other request is in flight.
    pub async fn exclusive() -> ExclusiveGuard {
        EMULATOR.write().await
    }

    /// For a read (`GetItem`, `Query`, `GetShardIterator` + `GetRecords`):
    /// waits until no write is in flight.
    pub async fn shared() -> SharedGuard {
        EMULATOR.read().await
    }
}

/// How long one store call took: waiting for [`EmulatorLock`], and in all
/// (the wait included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallTime {
    pub lock_wait: Duration,
    pub total: Duration,
}

/// A [`Store`] whose writes are serialized against each other and against
/// reads, process-wide, through [`EmulatorLock`].
#[derive(Debug, Clone)]
pub struct IsolatedStore<S> {
    inner: S,
    on_call: Option<fn(CallTime)>,
}

impl<S> IsolatedStore<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            on_call: None,
        }
    }

    /// Calls `record` with each call's [`CallTime`] (the local runner
    /// attributes it to the request being served).
    pub fn on_call(mut self, record: fn(CallTime)) -> Self {
        self.on_call = Some(record);
        self
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    async fn write<T>(&self, call: impl Future<Output = T>) -> T {
        let start = Instant::now();
        let _guard = EmulatorLock::exclusive().await;
        self.timed(start, call).await
    }

    async fn read<T>(&self, call: impl Future<Output = T>) -> T {
        let start = Instant::now();
        let _guard = EmulatorLock::shared().await;
        self.timed(start, call).await
    }

    async fn timed<T>(&self, start: Instant, call: impl Future<Output = T>) -> T {
        let lock_wait = start.elapsed();
        let out = call.await;
        if let Some(record) = self.on_call {
            record(CallTime {
                lock_wait,
                total: start.elapsed(),
            });
        }
        out
    }
}

impl<S: Store> Store for IsolatedStore<S> {
    async fn transact(&self, tx: Transaction) -> Result<(), StoreError> {
        self.write(self.inner.transact(tx)).await
    }
    async fn get(&self, t: Table, key: Item, consistent: bool) -> Result<Option<Item>, StoreError> {
        self.read(self.inner.get(t, key, consistent)).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.read(self.inner.query(query)).await
    }
    async fn put(&self, put: Put) -> Result<(), StoreError> {
        self.write(self.inner.put(put)).await
    }
    async fn update(&self, update: Update) -> Result<Item, StoreError> {
        self.write(self.inner.update(update)).await
    }
    async fn delete(&self, delete: Delete) -> Result<Option<Item>, StoreError> {
        self.write(self.inner.delete(delete)).await
    }
    async fn batch_put(&self, table: Table, items: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        self.write(self.inner.batch_put(table, items)).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use order_domain::schema::order_by_id;
    use order_domain::store::{AttrValue, MemoryStore};

    use super::*;

    /// One test: the lock is process-wide, and parallel tests would queue on
    /// each other's guards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_share_the_lock_and_writes_wait_for_them() {
        let first = EmulatorLock::shared().await;
        let second = EmulatorLock::shared().await;
        assert!(EMULATOR.try_write().is_err(), "a write runs during reads");
        drop((first, second));
        assert!(EMULATOR.try_write().is_ok());

        let store = IsolatedStore::new(std::sync::Arc::new(MemoryStore::new()));
        let item: Item = [(order_by_id::PK.to_owned(), AttrValue::s("o-1"))].into();
        let read = EmulatorLock::shared().await;
        let put = tokio::spawn({
            let store = store.clone();
            let item = item.clone();
            async move {
                store
                    .put(Put {
                        table: Table::OrderById,
                        item,
                        condition: None,
                    })
                    .await
            }
        });
        // The put queues for the exclusive lock (tokio's lock then refuses new
        // readers) and stays there while the read is in flight.
        let deadline = Instant::now() + Duration::from_secs(10);
        while EMULATOR.try_read().is_ok() {
            assert!(
                Instant::now() < deadline,
                "the put never asked for the lock"
            );
            tokio::task::yield_now().await;
        }
        assert!(!put.is_finished());
        drop(read);
        put.await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"));
        let got = store.get(Table::OrderById, item.clone(), true).await;
        assert_eq!(got, Ok(Some(item)));
    }
}

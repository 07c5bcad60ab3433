//! Serializable isolation for DynamoDB writes on moto.
//!
//! moto's `TransactWriteItems` is not isolated from concurrent requests: it
//! deep-copies each table at the start, checks and writes op by op without a
//! lock, and on a cancelled transaction puts the copies back
//! (`moto/dynamodb/models/__init__.py`, moto 5.2). Under concurrent requests
//! that loses other requests' committed writes (an idempotency record, a
//! stock decrement), lets two "conditional" writers both win, and swaps the
//! table's stream shard for a copy, stranding open shard iterators. Seen
//! here: 50 identical concurrent `POST /orders` wrote 3 orders.
//!
//! DynamoDB itself gives transactions serializable isolation, so the runner
//! restores that at the client: writes (transactions, puts, updates, deletes,
//! batch writes) to the emulator take a process-wide lock exclusively, reads
//! take it shared. The domain's conditions still decide every outcome (10 of
//! 40 orders for 10 units win because their conditions hold, not because of
//! the lock); what the lock removes is moto's interleaving. It is local-only:
//! deployed functions use `DynamoStore` directly.

use order_domain::store::{
    Delete, Item, Page, Put, Query, Store, StoreError, Table, Transaction, Update,
};
use tokio::sync::RwLock;

static EMULATOR: RwLock<()> = RwLock::const_new(());

async fn exclusive() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    let start = std::time::Instant::now();
    let g = EMULATOR.write().await;
    crate::metrics::record_lock_wait(start.elapsed());
    g
}

async fn shared() -> tokio::sync::RwLockReadGuard<'static, ()> {
    let start = std::time::Instant::now();
    let g = EMULATOR.read().await;
    crate::metrics::record_lock_wait(start.elapsed());
    g
}

/// A [`Store`] whose writes are serialized against each other and against
/// reads, process-wide.
#[derive(Debug, Clone)]
pub struct IsolatedStore<S>(pub S);

impl<S: Store> Store for IsolatedStore<S> {
    async fn transact(&self, tx: Transaction) -> Result<(), StoreError> {
        let _w = exclusive().await;
        self.0.transact(tx).await
    }
    async fn get(
        &self,
        table: Table,
        key: Item,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        let _r = shared().await;
        self.0.get(table, key, consistent).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        let _r = shared().await;
        self.0.query(query).await
    }
    async fn put(&self, put: Put) -> Result<(), StoreError> {
        let _w = exclusive().await;
        self.0.put(put).await
    }
    async fn update(&self, update: Update) -> Result<Item, StoreError> {
        let _w = exclusive().await;
        self.0.update(update).await
    }
    async fn delete(&self, delete: Delete) -> Result<Option<Item>, StoreError> {
        let _w = exclusive().await;
        self.0.delete(delete).await
    }
    async fn batch_put(&self, table: Table, items: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let _w = exclusive().await;
        self.0.batch_put(table, items).await
    }
}

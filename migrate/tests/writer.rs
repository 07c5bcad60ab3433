//! The batch writer under throttling: whole calls refused with
//! `ProvisionedThroughputExceededException` and items returned as
//! `UnprocessedItems` are retried until every item is written exactly as
//! given; a table that never admits anything stops the run with the count
//! of what is left.

use std::sync::Mutex;
use std::time::Duration;

use acme_migrate::limit::WcuBudget;
use acme_migrate::write::{Pending, Retry, WriteError, Writer};
use order_domain::store::{
    AttrValue, Delete, Item, MemoryStore, Page, Put, Query, Store, StoreError, Table, Transaction,
    Update,
};

/// Refuses the first `refuse` calls whole, then returns the last `hold`
/// items of each call unprocessed for `partial` calls, then admits all.
struct Throttling {
    inner: MemoryStore,
    script: Mutex<(u32, u32, usize)>,
    calls: Mutex<Vec<usize>>,
}

impl Throttling {
    fn new(refuse: u32, partial: u32, hold: usize) -> Self {
        Throttling {
            inner: MemoryStore::new(),
            script: Mutex::new((refuse, partial, hold)),
            calls: Mutex::new(Vec::new()),
        }
    }
}

impl Store for Throttling {
    async fn transact(&self, tx: Transaction) -> Result<(), StoreError> {
        self.inner.transact(tx).await
    }
    async fn get(&self, t: Table, key: Item, c: bool) -> Result<Option<Item>, StoreError> {
        self.inner.get(t, key, c).await
    }
    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        self.inner.query(q).await
    }
    async fn put(&self, p: Put) -> Result<(), StoreError> {
        self.inner.put(p).await
    }
    async fn update(&self, u: Update) -> Result<Item, StoreError> {
        self.inner.update(u).await
    }
    async fn delete(&self, d: Delete) -> Result<Option<Item>, StoreError> {
        self.inner.delete(d).await
    }
    async fn batch_put(&self, table: Table, mut items: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        self.calls.lock().expect("lock").push(items.len());
        let held = {
            let mut s = self.script.lock().expect("lock");
            if s.0 > 0 {
                s.0 -= 1;
                return Err(StoreError::Throttled(
                    "ProvisionedThroughputExceededException".into(),
                ));
            }
            if s.1 > 0 {
                s.1 -= 1;
                let keep = items.len().saturating_sub(s.2);
                items.split_off(keep)
            } else {
                Vec::new()
            }
        };
        let rest = self.inner.batch_put(table, items).await?;
        assert!(rest.is_empty());
        Ok(held)
    }
}

fn order(n: u32) -> Pending {
    let item: Item = [
        ("order_id".to_owned(), AttrValue::S(format!("O{n:05}"))),
        ("n".to_owned(), AttrValue::n(n)),
    ]
    .into();
    Pending {
        table: Table::OrderById,
        item,
        write_units: 1,
    }
}

fn quick() -> Retry {
    Retry {
        attempts: 8,
        base: Duration::from_millis(1),
        cap: Duration::from_millis(5),
    }
}

#[tokio::test]
async fn throttled_calls_and_unprocessed_items_are_retried_and_nothing_is_lost() {
    let store = Throttling::new(3, 4, 7);
    let mut writer = Writer::new(store, WcuBudget::new(None), quick());
    let items: Vec<Pending> = (0..60).map(order).collect();
    writer.write_all(items.clone()).await.expect("written");

    let mut stored = writer.store().inner.items(Table::OrderById);
    stored.sort_by_key(|i| format!("{:?}", i.get("order_id")));
    let wanted: Vec<Item> = items.into_iter().map(|p| p.item).collect();
    assert_eq!(stored, wanted);

    let stats = writer.stats();
    assert_eq!((stats.items, stats.write_units), (60, 60));
    assert_eq!((stats.throttled, stats.unprocessed), (3, 28));
    let calls = writer.store().calls.lock().expect("lock").clone();
    assert!(calls.iter().all(|&n| n <= 25), "{calls:?}");
    // 3 refused + 25 (7 held) + 7 (7 held) + 7 (7 held) + 7 (7 held, the last partial)
    // + 7, then 25 and 10.
    assert_eq!(calls, [25, 25, 25, 25, 7, 7, 7, 7, 25, 10]);
}

#[tokio::test]
async fn a_table_that_never_admits_stops_with_what_is_left() {
    let store = Throttling::new(u32::MAX, 0, 0);
    let mut writer = Writer::new(store, WcuBudget::new(None), quick());
    let err = writer
        .write_all((0..30).map(order).collect())
        .await
        .expect_err("gives up");
    assert!(
        matches!(
            err,
            WriteError::GaveUp {
                attempts: 8,
                pending: 25,
                ..
            }
        ),
        "{err}"
    );
    assert!(writer.store().inner.items(Table::OrderById).is_empty());
}

/// The writer over the DynamoDB adapter the command uses, with DynamoDB's
/// answers replayed at the SDK (moto never throttles and never returns
/// `UnprocessedItems`): a `ProvisionedThroughputExceededException` as
/// DynamoDB sends it, then a partial write, then success.
#[tokio::test]
async fn the_dynamodb_adapter_turns_throttling_and_unprocessed_items_into_retries() {
    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use order_domain::store::TableNames;

    let tables = TableNames::from_lookup(|k| Some(format!("table-{k}"))).expect("names");
    let name = tables.name(Table::OrderById).expect("table").to_owned();
    let items: Vec<Pending> = (0..25).map(order).collect();
    let held: Vec<WriteRequest> = items[22..]
        .iter()
        .map(|p| {
            let put = PutRequest::builder()
                .set_item(Some(order_aws::convert::item_to_sdk(&p.item)))
                .build()
                .expect("put");
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    let sent = std::sync::Arc::new(Mutex::new(Vec::<Vec<String>>::new()));
    let log = sent.clone();
    let throttled = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#;
    let rule = mock!(Client::batch_write_item)
        .match_requests(move |r| {
            let ids = r
                .request_items()
                .into_iter()
                .flat_map(|m| m.values())
                .flatten();
            let ids = ids.filter_map(|w| w.put_request()?.item().get("order_id")?.as_s().ok());
            log.lock().expect("lock").push(ids.cloned().collect());
            true
        })
        .sequence()
        .http_status(400, Some(throttled.to_owned()))
        .times(2)
        .output(move || {
            BatchWriteItemOutput::builder()
                .unprocessed_items(name.clone(), held.clone())
                .build()
        })
        .output(|| BatchWriteItemOutput::builder().build())
        .build();
    // The SDK's own retries are off, so every answer reaches the writer.
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, &[&rule], |c| c
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled()));
    let store = order_aws::DynamoStore::new(client, tables);
    let mut writer = Writer::new(store, WcuBudget::new(None), quick());
    writer.write_all(items).await.expect("written");

    let stats = writer.stats();
    assert_eq!((stats.throttled, stats.unprocessed), (2, 3));
    assert_eq!((stats.items, stats.calls), (25, 4));
    let sent = sent.lock().expect("lock").clone();
    let all: Vec<String> = (0..25).map(|n| format!("O{n:05}")).collect();
    assert_eq!(sent[..3], [all.clone(), all.clone(), all.clone()]);
    assert_eq!(
        sent[3],
        all[22..],
        "exactly the unprocessed items, once more"
    );
    assert_eq!(rule.num_calls(), 4);
}

//! legacy-sync end to end: orders written to the county's OrderById table on
//! the emulator, its stream read by the local runner's poller (Lambda's
//! stream semantics) into the handler the Lambda runs, the rows checked in a
//! throwaway PostgreSQL; the database connection comes from a Secrets
//! Manager secret on the emulator, as the function reads it. With the change
//! capture (`acme-migrate`'s sync) running beside it, nothing bounces.
//! Needs `scripts/with-moto.sh scripts/with-postgres.sh`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use acme_local::functions::{FunctionError, StreamFunction};
use acme_local::provision::{Clients, Resources, new_run_id, provision};
use acme_local::stack::{CountyStack, StreamMapping};
use acme_local::stream::{StreamPoller, dynamodb_event};
use acme_migrate::sync::slot::SlotName;
use acme_migrate::sync::{self, Event, Options, Totals};
use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::streams::DynamoDbEventResponse;
use legacy_schema::outbound::NEW_SYSTEM_NUMBERS;
use legacy_sync::{LegacySync, Rejected, SqsRejects, secret};
use order_aws::DynamoStore;
use order_domain::codec::{order_from_item, order_key, order_to_item};
use order_domain::order::StatusChange;
use order_domain::store::{Put, Store, Table, TableNames};
use order_domain::{CountyId, LineItem, Money, Order, OrderStatus};
use tokio::sync::watch;
use tokio_postgres::{Client, NoTls};

const COUNTY: &str = "travis-tx";

struct Handler(LegacySync<SqsRejects>);

impl StreamFunction for Handler {
    async fn call(&self, event: DynamoDbEvent) -> Result<DynamoDbEventResponse, FunctionError> {
        Ok(self.0.handle(event).await)
    }
}

struct County {
    sdk: aws_config::SdkConfig,
    resources: Resources,
    tables: TableNames,
    store: DynamoStore,
    dlq_url: String,
}

async fn county() -> County {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: run through scripts/with-moto.sh (make test does)"
    );
    let sdk = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let environments = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
    let stack = CountyStack::load(&environments, COUNTY).expect("the sample county");
    let resources = provision(
        &stack,
        &new_run_id(),
        Clients {
            dynamodb: &dynamodb,
            sqs: &aws_sdk_sqs::Client::new(&sdk),
            eventbridge: &aws_sdk_eventbridge::Client::new(&sdk),
            sns: &aws_sdk_sns::Client::new(&sdk),
        },
    )
    .await
    .expect("provision the county on the emulator");
    let tables = resources.table_names().expect("tables");
    let dlq_url = aws_sdk_sqs::Client::new(&sdk)
        .create_queue()
        .queue_name(format!("legacy-sync-dlq-{}", new_run_id()))
        .send()
        .await
        .expect("create the failure queue")
        .queue_url
        .expect("queue url");
    let store = DynamoStore::new(dynamodb, tables.clone());
    County {
        sdk,
        resources,
        tables,
        store,
        dlq_url,
    }
}

/// A fresh legacy database with the schema, one store and one customer.
async fn legacy_db(name: &str) -> (String, Client) {
    let server = std::env::var("ACME_TEST_LEGACY_URL").unwrap_or_else(|_| {
        panic!("ACME_TEST_LEGACY_URL is not set: run through scripts/with-postgres.sh")
    });
    let admin = connect(&server).await;
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin.simple_query(&sql).await.expect("create the database");
    }
    let (base, _) = server.rsplit_once('/').expect("URL ends in /database");
    let url = format!("{base}/{name}");
    let client = connect(&url).await;
    client
        .batch_execute(include_str!("../../../migrate/sql/legacy-schema.sql"))
        .await
        .expect("legacy schema");
    client
        .batch_execute(
            "INSERT INTO stores VALUES ('AUS-1', 'travis-tx', 'Austin', 'America/Chicago'),
                                      ('SEA-1', 'king-wa', 'Seattle', 'America/Los_Angeles');
             INSERT INTO customers VALUES (1001, 'ann@example.com', 'Ann', NULL, NULL, now());",
        )
        .await
        .expect("seed");
    (url, client)
}

async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    client
}

/// The handler as the Lambda builds it: the connection from the secret.
async fn handler(c: &County, url: &str) -> Arc<Handler> {
    handler_with(c, url, None).await
}

/// The same, reading the county's cutover mode from `flag`.
async fn handler_with(c: &County, url: &str, flag: Option<order_aws::CutoverFlag>) -> Arc<Handler> {
    let sm = aws_sdk_secretsmanager::Client::new(&c.sdk);
    let arn = sm
        .create_secret()
        .name(format!("legacy-db-{}", new_run_id()))
        .secret_string(url)
        .send()
        .await
        .expect("create the secret")
        .arn
        .expect("arn");
    let target = secret::read(&sm, &arn, None).await.expect("the secret");
    let rejects = SqsRejects::new(aws_sdk_sqs::Client::new(&c.sdk), c.dlq_url.clone());
    let sync = LegacySync::new(COUNTY, target, rejects);
    Arc::new(Handler(match flag {
        Some(flag) => sync.with_cutover(flag),
        None => sync,
    }))
}

/// The runner's poller over the OrderById stream, into `function`.
fn poll(c: &County, function: Arc<Handler>) -> watch::Sender<bool> {
    let (stop, rx) = watch::channel(false);
    let poller = StreamPoller {
        streams: aws_sdk_dynamodbstreams::Client::new(&c.sdk),
        stream_arn: c.resources.order_stream_arn.clone().expect("a stream"),
        region: c.sdk.region().map(|r| r.to_string()).unwrap_or_default(),
        mapping: StreamMapping { batch_size: 100 },
        function,
        checkpoints: None,
    };
    tokio::spawn(poller.run(rx));
    stop
}

async fn until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn new_order(id: &str, store: &str) -> Order {
    let at: jiff::Timestamp = "2026-12-06T15:00:00.123456Z".parse().expect("ts");
    Order {
        order_id: id.parse().expect("id"),
        customer_id: "cust-9".parse().expect("customer"),
        store_id: store.parse().expect("store"),
        county_id: CountyId::parse(COUNTY).expect("county"),
        client_request_id: Some(format!("req-{id}").parse().expect("request id")),
        items: vec![
            LineItem {
                sku: "CAB-750".parse().expect("sku"),
                quantity: 2,
                unit_price_cents: Money::from_cents(1099).expect("money"),
            },
            LineItem {
                sku: "RED_20WINE_20_232".parse().expect("sku"),
                quantity: 1,
                unit_price_cents: Money::from_cents(500).expect("money"),
            },
        ],
        total_cents: Money::from_cents(2698).expect("money"),
        status: OrderStatus::Pending,
        created_at: at,
        updated_at: at,
        version: 1,
        failure_reason: None,
        payment_id: None,
        hold_reason: None,
        history: vec![StatusChange {
            status: OrderStatus::Pending,
            at,
        }],
        legacy: None,
    }
}

/// The next state of `o`, as the worker writes it (the whole record).
fn advance(o: &mut Order, status: OrderStatus) {
    o.version += 1;
    o.status = status;
    o.updated_at += jiff::SignedDuration::from_secs(60);
    o.history.push(StatusChange {
        status,
        at: o.updated_at,
    });
}

async fn put(store: &DynamoStore, o: &Order) {
    store
        .put(Put {
            table: Table::OrderById,
            item: order_to_item(o),
            condition: None,
        })
        .await
        .expect("put the order record");
}

/// (legacy number, status, xmin) of the order's legacy row, by order id.
async fn legacy_row(db: &Client, order_id: &str) -> Option<(i64, String, String)> {
    db.query_opt(
        "SELECT o.order_id, o.status, o.xmin::text FROM acme_sync.orders g
           JOIN orders o ON o.order_id = g.legacy_order_id WHERE g.order_id = $1",
        &[&order_id],
    )
    .await
    .ok()
    .flatten()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_reach_the_legacy_tables_once_and_follow_their_status() {
    let c = county().await;
    let (url, db) = legacy_db("legacy_sync_flow").await;
    let stop = poll(&c, handler(&c, &url).await);

    let mut o = new_order("01JEX5W0000000000000000001", "AUS-1");
    put(&c.store, &o).await;
    let id = o.order_id.to_string();
    until("the order in the legacy tables", || async {
        legacy_row(&db, &id).await.is_some()
    })
    .await;
    for status in [OrderStatus::Confirmed, OrderStatus::Fulfilled] {
        advance(&mut o, status);
        put(&c.store, &o).await;
    }
    until("SHIPPED", || async {
        legacy_row(&db, &id).await.is_some_and(|r| r.1 == "SHIPPED")
    })
    .await;
    let (number, _, xmin) = legacy_row(&db, &id).await.expect("row");
    assert!(number >= NEW_SYSTEM_NUMBERS, "{number}");
    let row = db
        .query_one(
            "SELECT customer_id, store_id, total::text, currency, placed_at::text, client_request_id,
                    (SELECT count(*) FROM orders) AS orders,
                    (SELECT string_agg(line_no || ' ' || sku || ' ' || quantity || ' ' || unit_price, ', ' ORDER BY line_no)
                       FROM order_lines WHERE order_id = $1) AS lines
               FROM orders WHERE order_id = $1",
            &[&number],
        )
        .await
        .expect("the row");
    let customer: i64 = row.get(0);
    assert!(
        customer >= NEW_SYSTEM_NUMBERS,
        "a new customer gets a number of the new system's"
    );
    assert_eq!(row.get::<_, String>(1), "AUS-1");
    assert_eq!(row.get::<_, String>(2), "26.98");
    assert_eq!(row.get::<_, String>(3), "USD");
    // 15:00:00.123456 UTC in Austin (CST, UTC-6).
    assert_eq!(row.get::<_, String>(4), "2026-12-06 09:00:00.123456");
    assert_eq!(row.get::<_, String>(5), format!("req-{id}"));
    assert_eq!(row.get::<_, i64>(6), 1, "exactly one legacy order");
    assert_eq!(
        row.get::<_, String>(7),
        "1 CAB-750 2 10.99, 2 RED WINE #2 1 5.00"
    );

    // The whole stream again, from the start, in order and reversed: the
    // row is not even rewritten (its xmin stays).
    stop.send(true).expect("stop");
    let streams = aws_sdk_dynamodbstreams::Client::new(&c.sdk);
    let records = all_records(
        &streams,
        c.resources.order_stream_arn.as_deref().expect("arn"),
    )
    .await;
    assert_eq!(records.len(), 3);
    let sync = handler(&c, &url).await;
    let arn = c.resources.order_stream_arn.clone().expect("arn");
    let mut reversed = records.clone();
    reversed.reverse();
    for batch in [records, reversed] {
        let event = dynamodb_event(&batch, &arn, "us-east-2").expect("event");
        let (failed, counts) = sync.0.apply(&event.records).await;
        assert_eq!(failed, None);
        assert_eq!((counts.written, counts.stale), (0, 3), "{counts:?}");
    }
    assert_eq!(legacy_row(&db, &id).await.expect("row").2, xmin);
}

async fn all_records(
    streams: &aws_sdk_dynamodbstreams::Client,
    arn: &str,
) -> Vec<aws_sdk_dynamodbstreams::types::Record> {
    let desc = streams
        .describe_stream()
        .stream_arn(arn)
        .send()
        .await
        .expect("describe")
        .stream_description
        .expect("description");
    let mut out = Vec::new();
    for shard in desc.shards() {
        let it = streams
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(shard.shard_id().expect("id"))
            .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("iterator")
            .shard_iterator
            .expect("iterator");
        let recs = streams
            .get_records()
            .shard_iterator(it)
            .send()
            .await
            .expect("records");
        out.extend(recs.records().iter().cloned());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_that_cannot_be_held_goes_to_the_failure_queue_and_the_rest_flow() {
    let c = county().await;
    let (url, db) = legacy_db("legacy_sync_reject").await;
    let stop = poll(&c, handler(&c, &url).await);
    // A store the legacy database does not have, then another county's.
    let bad = new_order("01JEX5W0000000000000000002", "AUS-9");
    put(&c.store, &bad).await;
    let other = new_order("01JEX5W0000000000000000003", "SEA-1");
    put(&c.store, &other).await;
    let good = new_order("01JEX5W0000000000000000004", "AUS-1");
    put(&c.store, &good).await;
    let good_id = good.order_id.to_string();
    until("the good order", || async {
        legacy_row(&db, &good_id).await.is_some()
    })
    .await;
    stop.send(true).expect("stop");
    let sqs = aws_sdk_sqs::Client::new(&c.sdk);
    let mut rejected: Vec<Rejected> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while rejected.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for two rejects: {rejected:?}"
        );
        let out = sqs
            .receive_message()
            .queue_url(&c.dlq_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        for m in out.messages() {
            rejected.push(serde_json::from_str(m.body().expect("body")).expect("a reject"));
        }
    }
    rejected.sort_by(|a, b| a.order_id.cmp(&b.order_id));
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert_eq!(
        rejected[0].order_id.as_deref(),
        Some(bad.order_id.to_string().as_str())
    );
    assert!(
        rejected[0]
            .reason
            .contains("store `AUS-9` is not in the legacy database"),
        "{}",
        rejected[0].reason
    );
    assert!(
        rejected[1].reason.contains("county `king-wa`"),
        "{}",
        rejected[1].reason
    );
    assert_eq!(rejected[0].county_id, COUNTY);
    let n: i64 = db
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 1, "only the good order, and nothing of the refused ones");
    let _ = c.tables;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_change_capture_running_nothing_bounces() {
    let c = county().await;
    let db_name = "legacy_sync_loop";
    let (url, db) = legacy_db(db_name).await;
    let slot = SlotName::parse(&format!("acme_test_{db_name}")).expect("slot");
    let county_id = CountyId::parse(COUNTY).expect("county");
    let legacy_url: acme_migrate::source::LegacyUrl = url.parse().expect("url");
    sync::prepare(&legacy_url, &county_id, &slot)
        .await
        .expect("prepare");
    let opts = Options {
        county: county_id.clone(),
        slot: slot.clone(),
        gsi_write_shards: 4,
        batch_changes: 200,
        poll: Duration::from_millis(50),
        concurrency: 4,
        reconnect_max: Duration::from_secs(1),
    };
    let (stop_sync, stop_rx) = watch::channel(false);
    let store = c.store.clone();
    let sync_url = legacy_url.clone();
    let capture = tokio::spawn(async move {
        let mut on = |_: Event<'_>| {};
        sync::run(&sync_url, store, &opts, stop_rx, &mut on).await
    });
    let stop = poll(&c, handler(&c, &url).await);

    // A legacy order, in flight (PAID): the change capture brings it over
    // with origin = legacy, and legacy-sync leaves it alone.
    db.batch_execute(
        "INSERT INTO orders VALUES (1008, 'req-1008', 1001, 'AUS-1', 'PAID', 12.74, 'USD', 'ch_1008',
                                    '2026-12-01 09:01:00', '2026-12-01 15:01:00+00');
         INSERT INTO order_lines VALUES (1008, 1, 'CAB-750', 1, 12.74);",
    )
    .await
    .expect("a legacy order");
    let migrated_id = acme_migrate::map::order_id::from_legacy(1008);
    let record = || async {
        c.store
            .get(Table::OrderById, order_key(&migrated_id), true)
            .await
            .expect("get")
            .map(|i| order_from_item(&i).expect("order"))
    };
    until("the migrated order", || async { record().await.is_some() }).await;
    // A new order through the new system.
    let mut o = new_order("01JEX5W0000000000000000005", "AUS-1");
    put(&c.store, &o).await;
    advance(&mut o, OrderStatus::Confirmed);
    put(&c.store, &o).await;
    // After the cutover the worker finishes the migrated order: that flows back.
    let mut m = record().await.expect("migrated");
    advance(&mut m, OrderStatus::Confirmed);
    put(&c.store, &m).await;
    let id = o.order_id.to_string();
    until("both orders in the legacy tables", || async {
        legacy_row(&db, &id)
            .await
            .is_some_and(|r| r.1 == "CONFIRMED")
            && legacy_row(&db, &migrated_id.to_string())
                .await
                .is_some_and(|r| r.1 == "CONFIRMED")
    })
    .await;
    let (number, ..) = legacy_row(&db, &id).await.expect("row");
    // The slot has read past everything legacy-sync wrote.
    until("the slot caught up", || async {
        db.query_one(
            "SELECT confirmed_flush_lsn >= pg_current_wal_flush_lsn() FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot.to_string()],
        )
        .await
        .map(|r| r.get::<_, bool>(0))
        .unwrap_or(false)
    })
    .await;
    stop.send(true).expect("stop");
    stop_sync.send(true).expect("stop the sync");
    let totals: Totals = capture.await.expect("joins").expect("the sync ran");
    // The change capture wrote the migrated order once (record, summary,
    // profile) and nothing of what legacy-sync wrote.
    assert_eq!(totals.orders, 1, "{totals:?}");
    assert_eq!(totals.stale, 0, "{totals:?}");
    let bounced = c
        .store
        .get(
            Table::OrderById,
            order_key(&acme_migrate::map::order_id::from_legacy(number)),
            true,
        )
        .await
        .expect("get");
    assert!(bounced.is_none(), "the new order came back as a legacy one");
    let now = c
        .store
        .get(Table::OrderById, order_key(&o.order_id), true)
        .await
        .expect("get")
        .map(|i| order_from_item(&i).expect("order"))
        .expect("the new order");
    assert_eq!(
        (now.version, now.status),
        (2, OrderStatus::Confirmed),
        "no churn"
    );
    let m_now = record().await.expect("migrated");
    assert_eq!(
        (m_now.version, m_now.status),
        (m.version, OrderStatus::Confirmed),
        "no churn"
    );
    sync::drop_slot(&legacy_url, &slot)
        .await
        .expect("drop the slot");
}

#[tokio::test]
async fn in_mode_retired_nothing_is_written_and_an_unreadable_mode_retries_the_batch() {
    let c = county().await;
    let (url, db) = legacy_db("legacy_sync_retired").await;
    let o = new_order("01JEX5W0000000000000000009", "AUS-1");
    put(&c.store, &o).await;
    let id = o.order_id.to_string();
    let arn = c.resources.order_stream_arn.clone().expect("arn");
    let streams = aws_sdk_dynamodbstreams::Client::new(&c.sdk);
    let records = all_records(&streams, &arn).await;
    let event = dynamodb_event(&records, &arn, "us-east-2").expect("event");

    let ssm = aws_sdk_ssm::Client::new(&c.sdk);
    let parameter = acme_contract::migration::mode_parameter(&format!("ls-{}", new_run_id()));
    let set = |mode: &'static str| {
        let (ssm, parameter) = (ssm.clone(), parameter.clone());
        async move {
            ssm.put_parameter()
                .name(parameter)
                .value(mode)
                .r#type(aws_sdk_ssm::types::ParameterType::String)
                .overwrite(true)
                .send()
                .await
                .expect("put the mode");
        }
    };
    // No cache: each batch sees the mode just set.
    let flag = order_aws::CutoverFlag::ssm_with_ttl(ssm.clone(), &parameter, Duration::ZERO);
    let sync = handler_with(&c, &url, Some(flag)).await;

    set("retired").await;
    let (failed, counts) = sync.0.apply(&event.records).await;
    assert_eq!(failed, None, "acknowledged");
    assert_eq!(counts.skipped, records.len() as u64, "{counts:?}");
    assert!(legacy_row(&db, &id).await.is_none(), "nothing written");

    ssm.delete_parameter()
        .name(&parameter)
        .send()
        .await
        .expect("delete");
    let (failed, _) = sync.0.apply(&event.records).await;
    assert_eq!(failed, Some(0), "an unreadable mode retries the batch");
    assert!(legacy_row(&db, &id).await.is_none(), "nothing written");

    set("dynamo").await;
    let (failed, counts) = sync.0.apply(&event.records).await;
    assert_eq!(failed, None);
    assert_eq!(counts.written, 1, "{counts:?}");
    assert!(legacy_row(&db, &id).await.is_some());
}

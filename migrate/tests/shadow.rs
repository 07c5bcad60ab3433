//! Shadow reads end to end: the messy county backfilled from a real
//! PostgreSQL into its tables on moto, reads of it sampled by the order
//! API's sampler into a real (moto) ShadowReads queue, then the comparer
//! against the legacy database, publishing to moto's CloudWatch. Needs
//! `scripts/with-moto.sh` and `scripts/with-postgres.sh`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use acme_contract::migration::shadow_metrics;
use acme_migrate::shadow::aws::{CloudWatchSink, SqsInbox};
use acme_migrate::shadow::{self, Counts};
use acme_migrate::source::Legacy;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use common::county;
use order_aws::{DynamoStore, ShadowSampler, SqsShadowQueue};
use order_domain::codec::{order_from_item, order_key};
use order_domain::shadow::{SampleRate, ScriptedRandom};
use order_domain::store::{Store, Table};
use order_domain::{CountyId, Order, legacy};

/// Orders of the messy county the mapping keeps.
const MIGRATED: [i64; 9] = [1001, 1002, 1003, 1004, 1007, 1008, 1009, 1010, 1011];

async fn backfilled(db: &str) -> (String, DynamoStore) {
    let url = common::messy_county(db).await;
    let (dynamo, tables) = common::county_tables().await;
    let store = DynamoStore::new(dynamo, tables);
    let dir = tempfile::tempdir().expect("tmp");
    common::backfill(&url, store.clone(), dir.path()).await;
    (url, store)
}

/// The order as `GET /orders/legacy/{n}` reads it.
async fn read(store: &DynamoStore, number: i64) -> Order {
    let item = store
        .get(Table::OrderById, order_key(&legacy::order_id(number)), true)
        .await
        .expect("get")
        .expect("migrated");
    order_from_item(&item).expect("order")
}

async fn new_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("url")
}

async fn metric_sum(cw: &aws_sdk_cloudwatch::Client, county: &str, name: &str) -> f64 {
    let now = std::time::SystemTime::now();
    let out = cw
        .get_metric_statistics()
        .namespace(shadow_metrics::NAMESPACE)
        .metric_name(name)
        .dimensions(
            Dimension::builder()
                .name(shadow_metrics::COUNTY_DIMENSION)
                .value(county)
                .build(),
        )
        .start_time((now - Duration::from_secs(3600)).into())
        .end_time((now + Duration::from_secs(60)).into())
        .period(60)
        .statistics(Statistic::Sum)
        .send()
        .await
        .expect("GetMetricStatistics");
    out.datapoints().iter().filter_map(|d| d.sum()).sum()
}

#[tokio::test]
async fn sampled_reads_are_compared_with_the_legacy_rows_and_counted() {
    let (url, store) = backfilled("shadow_compare").await;
    let sdk = aws_config::load_from_env().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let queue_url = new_queue(&sqs, &format!("ShadowReads-{run}")).await;

    // The API's sampler at 50%, its draws alternating under and over the
    // threshold: each order read twice is sent once.
    let sampler = ShadowSampler::with_random(
        SampleRate::from_percent(50.0).expect("rate"),
        Arc::new(SqsShadowQueue::new(sqs.clone(), &queue_url)),
        Arc::new(ScriptedRandom::new(vec![0, u32::MAX])),
    );
    // How long the read waits for the sampler, and how long the send takes
    // beside it (printed with --nocapture; moto's time, not SQS's).
    let (mut offer_max, mut send_max) = (Duration::ZERO, Duration::ZERO);
    for n in MIGRATED {
        let order = read(&store, n).await;
        for _ in 0..2 {
            let started = std::time::Instant::now();
            let offered = sampler.offer(&order);
            offer_max = offer_max.max(started.elapsed());
            if let Some(sending) = offered {
                sending.await.expect("send task");
                send_max = send_max.max(started.elapsed());
            }
        }
    }
    eprintln!("offer returned within {offer_max:?}; sends done within {send_max:?}");
    assert_eq!(sampler.counts().sent, MIGRATED.len() as u64);
    assert_eq!(sampler.counts().failed, 0);

    // Behind DynamoDB's back: 1001's status changes with no new updated_at
    // (a mismatch); 1002 changes as the legacy system changes it, with a
    // later updated_at the change capture has not applied yet (stale).
    let pg = common::connect(&url).await;
    pg.batch_execute(
        "UPDATE orders SET status = 'REFUNDED' WHERE order_id = 1001;
         UPDATE orders SET status = 'REFUNDED', updated_at = updated_at + interval '1 second'
          WHERE order_id = 1002;",
    )
    .await
    .expect("change the legacy rows");
    // Two messages that are not shadow reads of this county.
    for body in ["{not json", r#"{"v": 1, "county_id": "hays-tx"}"#] {
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }

    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    // Other tests on the same moto may publish for travis-tx too: compare
    // the sums before and after.
    let before = metric_sums(&cw).await;
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let opts = shadow::Options {
        county: county(),
        batch: 10,
        wait: Duration::from_secs(1),
        until_empty: true,
    };
    let mut batches = 0;
    let compared = std::time::Instant::now();
    let totals = shadow::run(
        &url.parse().expect("url"),
        &SqsInbox::new(sqs.clone(), &queue_url),
        &CloudWatchSink::new(cw.clone()),
        &opts,
        stop,
        &mut |_| batches += 1,
    )
    .await
    .expect("compare");
    eprintln!("compared 11 messages in {:?}", compared.elapsed());

    assert_eq!(
        totals.counts,
        Counts {
            reads: 9,
            mismatches: 1,
            stale: 1,
            malformed: 2
        }
    );
    assert_eq!(totals.mismatches.len(), 1);
    let m = &totals.mismatches[0];
    assert_eq!(m.legacy_order_id, 1001);
    assert_eq!(m.fields, ["legacy_status", "status"]);
    assert!(batches >= 1);

    // Every message is gone: compared ones after publishing, the rest at once.
    let left = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("receive");
    assert!(left.messages().is_empty(), "{:?}", left.messages());

    let after = metric_sums(&cw).await;
    let delta: Vec<f64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(
        delta,
        [9.0, 1.0, 1.0],
        "ShadowReads, ShadowMismatches, ShadowStaleReads"
    );
}

/// The sums of the three metrics for travis-tx, as the cutover gate reads them.
async fn metric_sums(cw: &aws_sdk_cloudwatch::Client) -> Vec<f64> {
    let mut sums = Vec::new();
    for name in [
        shadow_metrics::READS,
        shadow_metrics::MISMATCHES,
        shadow_metrics::STALE,
    ] {
        sums.push(metric_sum(cw, "travis-tx", name).await);
    }
    sums
}

/// A CloudWatch that refuses every publish.
struct Refusing;

impl shadow::MetricSink for Refusing {
    async fn publish(&self, _: &CountyId, _: &Counts) -> Result<(), shadow::ShadowError> {
        Err(shadow::ShadowError::Metrics("simulated outage".into()))
    }
}

async fn visible_and_in_flight(sqs: &aws_sdk_sqs::Client, url: &str) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("attributes");
    let a = out.attributes().expect("attributes");
    (
        a[&A::ApproximateNumberOfMessages].clone(),
        a[&A::ApproximateNumberOfMessagesNotVisible].clone(),
    )
}

#[tokio::test]
async fn a_comparison_not_published_is_not_deleted() {
    let (url, store) = backfilled("shadow_unpublished").await;
    let sdk = aws_config::load_from_env().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = new_queue(&sqs, &format!("ShadowReadsKept-{}", std::process::id())).await;
    let sampler = ShadowSampler::with_random(
        SampleRate::from_percent(100.0).expect("rate"),
        Arc::new(SqsShadowQueue::new(sqs.clone(), &queue_url)),
        Arc::new(ScriptedRandom::new(vec![0])),
    );
    for n in [1001, 1003, 1009] {
        let sending = sampler.offer(&read(&store, n).await).expect("sampled");
        sending.await.expect("send task");
    }
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body("{not json")
        .send()
        .await
        .expect("send");

    let mut legacy = Legacy::connect(&url.parse().expect("url"))
        .await
        .expect("connect");
    let inbox = SqsInbox::new(sqs.clone(), &queue_url);
    let mut messages = Vec::new();
    while messages.len() < 4 {
        let got = shadow::Inbox::receive(&inbox, 10, Duration::from_secs(1))
            .await
            .expect("receive");
        assert!(!got.is_empty(), "the four messages are in the queue");
        messages.extend(got);
    }
    let err = shadow::compare_batch(&mut legacy, &inbox, &Refusing, &county(), messages)
        .await
        .expect_err("the publish is refused");
    assert!(err.to_string().contains("simulated outage"), "{err}");
    // The malformed message was deleted; the three compared ones were not:
    // in flight until their visibility timeout, then delivered again.
    assert_eq!(
        visible_and_in_flight(&sqs, &queue_url).await,
        ("0".to_owned(), "3".to_owned())
    );
}

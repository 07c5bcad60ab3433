//! `SqsEnqueuer` and `AwsEventSink` against moto's SQS, EventBridge and SNS
//! over real HTTP. Run: `scripts/with-moto.sh cargo test -p order-aws`.

// Test helpers may unwrap too: a panic there is a failed assertion (as clippy.toml
// allows inside #[test] functions).
#![allow(clippy::unwrap_used)]

mod common;

use order_aws::{AwsEventSink, CustomerNotification, Enqueuer, EventSink, SqsEnqueuer};
use order_domain::events::{OrderEvent, OrderEventKind, WorkMessage};
use order_domain::ids::OrderId;
use order_domain::order::OrderStatus;

fn order_id(n: u128) -> OrderId {
    OrderId::from_ulid(ulid::Ulid::from_parts(1_773_068_645_678, n))
}

fn event(n: u128, kind: OrderEventKind, status: OrderStatus) -> OrderEvent {
    let id = order_id(n);
    serde_json::from_value(serde_json::json!({
        "detail_type": kind,
        "event_id": format!("{id}:2"),
        "order_id": id,
        "county_id": "travis-tx",
        "customer_id": "cust-1",
        "store_id": "store-9",
        "status": status,
        "occurred_at": "2026-03-09T15:04:05.678Z",
        "version": 2,
        "total_cents": 3998,
    }))
    .unwrap()
}

#[tokio::test]
async fn enqueue_sends_the_work_message() {
    let sdk = common::sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let url = sqs
        .create_queue()
        .queue_name(common::unique("orders"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let enqueuer = SqsEnqueuer::new(sqs.clone(), &url);
    let msg = WorkMessage {
        order_id: order_id(7),
    };
    enqueuer.enqueue(msg).await.unwrap();
    let got = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let bodies: Vec<&str> = got.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies.len(), 1);
    assert_eq!(WorkMessage::from_json(bodies[0]).unwrap(), msg);

    // A queue that does not exist is a permanent error, named.
    let missing = SqsEnqueuer::new(sqs, format!("{url}-missing"));
    let err = missing.enqueue(msg).await.unwrap_err();
    assert!(err.message.contains("SendMessage"), "{err}");
}

#[tokio::test]
async fn events_and_notifications_reach_the_bus_and_topic() {
    let sdk = common::sdk().await;
    let eb = aws_sdk_eventbridge::Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    let bus = common::unique("acme-bus");
    eb.create_event_bus().name(&bus).send().await.unwrap();
    let topic = sns
        .create_topic()
        .name(common::unique("notify"))
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();
    let sink = AwsEventSink::new(eb, sns.clone(), &bus, &topic);

    // 23 events: three PutEvents calls of at most 10 entries.
    let events: Vec<OrderEvent> = (1..=23)
        .map(|n| event(n, OrderEventKind::OrderConfirmed, OrderStatus::Confirmed))
        .collect();
    sink.put_events(&events).await.unwrap();
    sink.put_events(&[]).await.unwrap();

    let failed = event(99, OrderEventKind::OrderFailed, OrderStatus::Failed);
    let n = CustomerNotification::for_event(&failed);
    assert_eq!(n.kind, OrderEventKind::OrderFailed);
    assert!(n.subject.len() <= 100, "{}", n.subject);
    sink.notify(&n).await.unwrap();

    // A bus that does not exist (ResourceNotFoundException, not retried):
    // the first call fails, and no later call is made, so every event counts
    // as not published, and the error says why.
    let nowhere = AwsEventSink::new(
        aws_sdk_eventbridge::Client::new(&sdk),
        sns,
        common::unique("no-such-bus"),
        &topic,
    );
    let e = nowhere.put_events(&events).await.unwrap_err();
    assert_eq!(e.failed, (0..23).collect::<Vec<_>>());
    assert!(e.message.contains("ResourceNotFoundException"), "{e}");
}

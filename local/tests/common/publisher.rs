//! Around the stream publisher: a log of the batches the runner's stream
//! poller delivers (and a switch to fail them), an event sink that fails one
//! customer's events, and taps that read what reached the county's bus and
//! notifications topic.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use acme_local::functions::{FunctionError, StreamFunction};
use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::streams::DynamoDbEventResponse;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, QueueAttributeName};
use order_aws::{CustomerNotification, EventSink, PublishError, SendError};
use order_domain::events::OrderEvent;
use order_domain::ids::{CustomerId, OrderId};
use order_domain::schema::order_by_id;
use order_domain::store::ItemExt;
use serde_json::{Value, json};

use super::{Harness, wait_for};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One stream record as the publisher got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub seq: u128,
    pub order_id: String,
    pub version: i64,
    pub status: String,
}

/// How a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every record processed.
    Done,
    /// A batch item failure: the poller resumes at this record.
    FailedAt(u128),
    /// A function error (the batch was refused while paused).
    FunctionError,
}

/// One invocation of the publisher.
#[derive(Debug, Clone)]
pub struct Batch {
    pub records: Vec<Rec>,
    pub outcome: Outcome,
}

impl Batch {
    pub fn first(&self) -> u128 {
        self.records.first().map_or(0, |r| r.seq)
    }

    /// The records this batch completed: all, or those before the failure.
    pub fn done(&self) -> impl Iterator<Item = &Rec> {
        let outcome = self.outcome;
        self.records.iter().filter(move |r| match outcome {
            Outcome::Done => true,
            Outcome::FailedAt(at) => r.seq < at,
            Outcome::FunctionError => false,
        })
    }
}

/// The batches delivered so far; shared by the test and [`Logged`].
#[derive(Debug, Default)]
pub struct BatchLog {
    batches: Mutex<Vec<Batch>>,
    /// Held while a batch is with the publisher; `true` refuses batches.
    paused: tokio::sync::Mutex<bool>,
}

impl BatchLog {
    pub fn batches(&self) -> Vec<Batch> {
        lock(&self.batches).clone()
    }

    /// From now on every batch is refused with a function error, so the
    /// stream gathers behind the checkpoint; returns once no batch is with
    /// the publisher.
    pub async fn pause(&self) {
        *self.paused.lock().await = true;
    }

    pub async fn resume(&self) {
        *self.paused.lock().await = false;
    }

    /// Waits until `check` holds for the batches delivered so far.
    pub async fn wait(&self, what: &str, timeout: Duration, check: impl Fn(&[Batch]) -> bool) {
        wait_for(what, timeout, || async {
            check(&self.batches()).then_some(())
        })
        .await;
    }

    /// Whether a batch has completed the record of `order` at `status`.
    pub fn completed(&self, order: &OrderId, status: &str) -> bool {
        let id = order.to_string();
        lock(&self.batches)
            .iter()
            .flat_map(Batch::done)
            .any(|r| r.order_id == id && r.status == status)
    }

    /// The stream record of `order` at `version`, as delivered.
    pub fn record(&self, order: &OrderId, version: i64) -> Option<Rec> {
        let id = order.to_string();
        lock(&self.batches)
            .iter()
            .flat_map(|b| b.records.iter())
            .find(|r| r.order_id == id && r.version == version)
            .cloned()
    }
}

/// The publisher, with every batch it gets logged in a [`BatchLog`].
pub struct Logged<F> {
    pub inner: F,
    pub log: Arc<BatchLog>,
}

fn rec(r: &aws_lambda_events::dynamodb::EventRecord) -> Rec {
    let (old, new) = stream_publisher::record_images(r).expect("stream images");
    let image = new.or(old).expect("an image");
    Rec {
        seq: r
            .change
            .sequence_number
            .as_deref()
            .and_then(|s| s.parse().ok())
            .expect("numeric sequence number"),
        order_id: image.get_s(order_by_id::PK).expect("order id").to_owned(),
        version: image.get_i64(order_by_id::VERSION).expect("version"),
        status: image.get_s(order_by_id::STATUS).expect("status").to_owned(),
    }
}

impl<F: StreamFunction> StreamFunction for Logged<F> {
    async fn call(&self, event: DynamoDbEvent) -> Result<DynamoDbEventResponse, FunctionError> {
        let records: Vec<Rec> = event.records.iter().map(rec).collect();
        let paused = self.log.paused.lock().await;
        let result = if *paused {
            Err("the test paused the publisher".into())
        } else {
            self.inner.call(event).await
        };
        let outcome = match &result {
            Err(_) => Outcome::FunctionError,
            Ok(r) => match r.batch_item_failures.first() {
                None => Outcome::Done,
                Some(f) => Outcome::FailedAt(
                    f.item_identifier
                        .as_deref()
                        .and_then(|s| s.parse().ok())
                        .expect("the failure names a record"),
                ),
            },
        };
        lock(&self.log.batches).push(Batch { records, outcome });
        drop(paused);
        result
    }
}

/// An event sink whose first `calls` `PutEvents` calls carrying events of
/// `customer` fail for those events, as EventBridge fails single entries
/// (`FailedEntryCount`); the call's other events go through the real sink.
pub struct FailCustomer<S> {
    pub inner: S,
    pub customer: CustomerId,
    calls: AtomicUsize,
}

impl<S> FailCustomer<S> {
    pub fn new(inner: S, customer: &str, calls: usize) -> Self {
        Self {
            inner,
            customer: CustomerId::parse(customer).expect("customer id"),
            calls: AtomicUsize::new(calls),
        }
    }
}

impl<S: EventSink> EventSink for FailCustomer<S> {
    async fn put_events(&self, events: &[OrderEvent]) -> Result<(), PublishError> {
        let (hit, rest): (Vec<usize>, Vec<usize>) =
            (0..events.len()).partition(|&i| events[i].customer_id == self.customer);
        let fail = !hit.is_empty()
            && self
                .calls
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        if !fail {
            return self.inner.put_events(events).await;
        }
        let others: Vec<OrderEvent> = rest.iter().map(|&i| events[i].clone()).collect();
        let mut failed = hit;
        if let Err(e) = self.inner.put_events(&others).await {
            failed.extend(e.failed.iter().map(|&i| rest[i]));
        }
        failed.sort_unstable();
        Err(PublishError {
            failed,
            message: format!(
                "injected: EventBridge failed the entries of {}",
                self.customer
            ),
        })
    }

    async fn notify(&self, n: &CustomerNotification) -> Result<(), SendError> {
        self.inner.notify(n).await
    }
}

/// An order event as a tap received it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seen {
    pub order_id: String,
    pub version: u64,
    pub kind: String,
}

/// A FIFO queue behind a rule on the county bus: what the bus published, in
/// the order it was published (moto delivers to the target within the
/// `PutEvents` call).
pub struct EventTap {
    eb: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
    bus: String,
    url: String,
    arn: String,
}

const TAP_RULE: &str = "events-tap";

/// A queue for a tap of this county: its client, URL and ARN.
async fn tap_queue(h: &Harness, tap: &str, fifo: bool) -> (aws_sdk_sqs::Client, String, String) {
    let sqs = aws_sdk_sqs::Client::new(&h.county.sdk);
    let suffix = if fifo { ".fifo" } else { "" };
    let name = format!("{tap}-{}{suffix}", h.county.resources.run_id);
    let mut req = sqs.create_queue().queue_name(name);
    if fifo {
        req = req
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(QueueAttributeName::ContentBasedDeduplication, "true");
    }
    let url = req
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("queue URL");
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .expect("queue ARN");
    (sqs, url, arn)
}

/// Receives until the queue is empty, deleting what it got.
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Value> {
    let mut bodies = Vec::new();
    loop {
        let msgs = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("ReceiveMessage")
            .messages
            .unwrap_or_default();
        if msgs.is_empty() {
            return bodies;
        }
        let entries: Vec<DeleteMessageBatchRequestEntry> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(m.receipt_handle.clone())
                    .build()
                    .expect("delete entry")
            })
            .collect();
        sqs.delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .expect("DeleteMessageBatch");
        bodies.extend(
            msgs.iter()
                .map(|m| serde_json::from_str(m.body().unwrap_or("null")).expect("JSON body")),
        );
    }
}

impl EventTap {
    pub async fn attach(h: &Harness) -> Self {
        let (sqs, url, arn) = tap_queue(h, "events-tap", true).await;
        let tap = Self {
            eb: aws_sdk_eventbridge::Client::new(&h.county.sdk),
            sqs,
            bus: h
                .county
                .resources
                .event_bus_name
                .clone()
                .expect("the county has an event bus"),
            url,
            arn,
        };
        tap.add_rule().await;
        tap
    }

    pub fn bus(&self) -> &str {
        &self.bus
    }

    /// The rule and its target (again, after the bus was deleted and made
    /// anew: a bus's rules go with it).
    pub async fn add_rule(&self) {
        self.eb
            .put_rule()
            .name(TAP_RULE)
            .event_bus_name(&self.bus)
            .event_pattern(json!({"source": [order_domain::events::EVENT_SOURCE]}).to_string())
            .send()
            .await
            .expect("PutRule");
        self.eb
            .put_targets()
            .rule(TAP_RULE)
            .event_bus_name(&self.bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("fifo")
                    .arn(&self.arn)
                    .sqs_parameters(
                        aws_sdk_eventbridge::types::SqsParameters::builder()
                            .message_group_id("events")
                            .build(),
                    )
                    .build()
                    .expect("target"),
            )
            .send()
            .await
            .expect("PutTargets");
    }

    /// Every event published since the last call, as EventBridge delivered
    /// it (envelope and detail).
    pub async fn take_raw(&self) -> Vec<Value> {
        drain(&self.sqs, &self.url).await
    }

    /// Every event published since the last call, in publication order.
    pub async fn take(&self) -> Vec<Seen> {
        drain(&self.sqs, &self.url)
            .await
            .iter()
            .map(|v| Seen {
                order_id: v["detail"]["order_id"].as_str().unwrap_or("?").to_owned(),
                version: v["detail"]["version"].as_u64().unwrap_or(0),
                kind: v["detail-type"].as_str().unwrap_or("?").to_owned(),
            })
            .collect()
    }
}

/// A queue subscribed to the county's notifications topic.
pub struct NotificationTap {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl NotificationTap {
    pub async fn attach(h: &Harness) -> Self {
        let (sqs, url, arn) = tap_queue(h, "notifications-tap", false).await;
        let topic = h
            .county
            .resources
            .topics
            .get("CustomerNotificationsTopic")
            .expect("the county has a notifications topic");
        aws_sdk_sns::Client::new(&h.county.sdk)
            .subscribe()
            .topic_arn(topic)
            .protocol("sqs")
            .endpoint(arn)
            .send()
            .await
            .expect("Subscribe");
        Self { sqs, url }
    }

    /// Every notification since the last call, as SNS delivered it.
    pub async fn take_raw(&self) -> Vec<Value> {
        drain(&self.sqs, &self.url).await
    }

    /// How many notifications each event id got since the last call.
    pub async fn take(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for v in drain(&self.sqs, &self.url).await {
            let id = v["MessageAttributes"]["event_id"]["Value"]
                .as_str()
                .unwrap_or("?")
                .to_owned();
            *counts.entry(id).or_default() += 1;
        }
        counts
    }
}

//! Creates a county's tables, queues, event bus and topics on the emulator
//! from the `Properties` the county template gives them, under physical names
//! unique to this run (`<county>-<Logical>-<run id>`), so runs and tests can
//! share one emulator.
//!
//! Taken from the template: key schemas, attribute definitions, billing mode
//! and throughput, GSIs with their projections, stream view types, TTL
//! attributes; queue timeouts, retention, long-poll wait, and the redrive
//! policy (resolved to the dead-letter queue created here). Left out, because
//! they point at resources the runner doesn't create (the county KMS key) or
//! that moto drops anyway: SSE, KMS keys on queues, PITR, deletion
//! protection, tags.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ProvisionedThroughput, ScalarAttributeType, StreamSpecification,
    StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{LocalError, Result};
use crate::stack::{CountyStack, logical};

/// Queue attributes copied from the template, by CloudFormation property name.
const QUEUE_ATTRIBUTES: &[(&str, QueueAttributeName)] = &[
    ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
    (
        "MessageRetentionPeriod",
        QueueAttributeName::MessageRetentionPeriod,
    ),
    (
        "ReceiveMessageWaitTimeSeconds",
        QueueAttributeName::ReceiveMessageWaitTimeSeconds,
    ),
    ("DelaySeconds", QueueAttributeName::DelaySeconds),
    ("MaximumMessageSize", QueueAttributeName::MaximumMessageSize),
];

/// One provisioned queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueInfo {
    pub url: String,
    pub arn: String,
}

/// What one run created: logical id → physical name (tables), URL and ARN
/// (queues), and the rest the functions need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub county_id: String,
    pub run_id: String,
    pub region: String,
    pub tables: BTreeMap<String, String>,
    pub queues: BTreeMap<String, QueueInfo>,
    pub order_stream_arn: Option<String>,
    pub event_bus_name: Option<String>,
    pub topics: BTreeMap<String, String>,
}

impl Resources {
    /// Physical name of the table `logical` (e.g. `InventoryTable`).
    pub fn table(&self, logical: &str) -> Result<&str> {
        self.tables
            .get(logical)
            .map(String::as_str)
            .ok_or_else(|| LocalError::Invalid(format!("no table {logical} was provisioned")))
    }

    pub fn queue(&self, logical: &str) -> Result<&QueueInfo> {
        self.queues
            .get(logical)
            .ok_or_else(|| LocalError::Invalid(format!("no queue {logical} was provisioned")))
    }

    /// The four order tables, as the domain names them.
    pub fn table_names(&self) -> Result<order_domain::store::TableNames> {
        Ok(order_domain::store::TableNames {
            orders: self.table(logical::ORDERS_TABLE)?.to_owned(),
            order_by_id: self.table(logical::ORDER_BY_ID_TABLE)?.to_owned(),
            inventory: self.table(logical::INVENTORY_TABLE)?.to_owned(),
            idempotency: self.table(logical::IDEMPOTENCY_TABLE)?.to_owned(),
        })
    }
}

/// A short random run id: 8 hex digits.
pub fn new_run_id() -> String {
    let mut b = [0u8; 4];
    // Only uniqueness between runs matters here; fall back to the clock.
    if getrandom::fill(&mut b).is_err() {
        let t = jiff::Timestamp::now().as_nanosecond();
        b = (t as u32).to_be_bytes();
    }
    hex::encode(b)
}

/// The clients provisioning uses.
pub struct Clients<'a> {
    pub dynamodb: &'a aws_sdk_dynamodb::Client,
    pub sqs: &'a aws_sdk_sqs::Client,
    pub eventbridge: &'a aws_sdk_eventbridge::Client,
    pub sns: &'a aws_sdk_sns::Client,
}

/// Creates everything the county's functions touch.
pub async fn provision(stack: &CountyStack, run_id: &str, c: Clients<'_>) -> Result<Resources> {
    let name = |l: &str| format!("{}-{}-{}", stack.county_id, l, run_id);
    let mut res = Resources {
        county_id: stack.county_id.clone(),
        run_id: run_id.to_owned(),
        region: stack.region.clone(),
        tables: BTreeMap::new(),
        queues: BTreeMap::new(),
        order_stream_arn: None,
        event_bus_name: None,
        topics: BTreeMap::new(),
    };
    for l in [
        logical::ORDERS_TABLE,
        logical::ORDER_BY_ID_TABLE,
        logical::INVENTORY_TABLE,
        logical::IDEMPOTENCY_TABLE,
        logical::CUSTOMERS_TABLE,
    ] {
        let Some(props) = stack.properties(l, "AWS::DynamoDB::Table") else {
            if l == logical::CUSTOMERS_TABLE {
                continue;
            }
            return Err(LocalError::MissingInTemplate {
                what: format!("AWS::DynamoDB::Table {l}"),
                why: "store orders",
            });
        };
        let physical = name(l);
        let stream = create_table(c.dynamodb, l, &physical, props).await?;
        if l == logical::ORDER_BY_ID_TABLE {
            res.order_stream_arn = stream;
        }
        tracing::debug!(logical = l, table = %physical, "table created");
        res.tables.insert(l.to_owned(), physical);
    }

    // Queues without their redrive policies first, so every dead-letter
    // queue exists (and has an ARN) before a policy points at it.
    let queue_ids = stack.logical_ids("AWS::SQS::Queue");
    for l in &queue_ids {
        let props = stack
            .properties(l, "AWS::SQS::Queue")
            .unwrap_or(&Value::Null);
        let info = create_queue(c.sqs, &name(l), props).await?;
        res.queues.insert(l.clone(), info);
    }
    for l in &queue_ids {
        let props = stack
            .properties(l, "AWS::SQS::Queue")
            .unwrap_or(&Value::Null);
        if let Some(policy) = props.get("RedrivePolicy") {
            let dlq = policy
                .pointer("/deadLetterTargetArn/Fn::GetAtt/0")
                .and_then(Value::as_str)
                .and_then(|d| res.queues.get(d))
                .ok_or_else(|| {
                    LocalError::Template(format!(
                        "{l}: RedrivePolicy.deadLetterTargetArn is not a GetAtt of a queue in the template"
                    ))
                })?;
            let max = policy
                .get("maxReceiveCount")
                .and_then(Value::as_u64)
                .unwrap_or(5);
            let redrive =
                serde_json::json!({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": max})
                    .to_string();
            let url = res.queue(l)?.url.clone();
            c.sqs
                .set_queue_attributes()
                .queue_url(url)
                .attributes(QueueAttributeName::RedrivePolicy, redrive)
                .send()
                .await
                .map_err(|e| LocalError::aws("sqs", "SetQueueAttributes", e))?;
        }
    }
    if stack
        .properties(logical::ORDER_QUEUE, "AWS::SQS::Queue")
        .is_none()
    {
        return Err(LocalError::MissingInTemplate {
            what: format!("AWS::SQS::Queue {}", logical::ORDER_QUEUE),
            why: "hand orders to the worker",
        });
    }

    if stack
        .properties(logical::EVENT_BUS, "AWS::Events::EventBus")
        .is_some()
    {
        let bus = name(logical::EVENT_BUS);
        c.eventbridge
            .create_event_bus()
            .name(&bus)
            .send()
            .await
            .map_err(|e| LocalError::aws("eventbridge", "CreateEventBus", e))?;
        res.event_bus_name = Some(bus);
    }
    for l in stack.logical_ids("AWS::SNS::Topic") {
        let out = c
            .sns
            .create_topic()
            .name(name(&l))
            .send()
            .await
            .map_err(|e| LocalError::aws("sns", "CreateTopic", e))?;
        if let Some(arn) = out.topic_arn {
            res.topics.insert(l, arn);
        }
    }
    Ok(res)
}

fn literal<'a>(v: &'a Value, path: &str) -> Result<&'a str> {
    v.as_str().ok_or_else(|| {
        LocalError::Template(format!(
            "{path} is {v}, not a literal string; the local runner can't resolve intrinsics here"
        ))
    })
}

fn key_schema(v: &Value, path: &str) -> Result<Vec<KeySchemaElement>> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|k| {
            let name = literal(&k["AttributeName"], path)?;
            let ty = literal(&k["KeyType"], path)?;
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::from(ty))
                .build()
                .map_err(|e| LocalError::Template(format!("{path}: {e}")))
        })
        .collect()
}

fn throughput(v: &Value, path: &str) -> Result<Option<ProvisionedThroughput>> {
    if v.is_null() {
        return Ok(None);
    }
    let n = |k: &str| {
        v.get(k)
            .and_then(Value::as_i64)
            .ok_or_else(|| LocalError::Template(format!("{path}.{k} is not a number")))
    };
    ProvisionedThroughput::builder()
        .read_capacity_units(n("ReadCapacityUnits")?)
        .write_capacity_units(n("WriteCapacityUnits")?)
        .build()
        .map(Some)
        .map_err(|e| LocalError::Template(format!("{path}: {e}")))
}

/// Creates one table; returns its stream ARN if it has a stream.
async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    logical: &str,
    physical: &str,
    props: &Value,
) -> Result<Option<String>> {
    let p = |k: &str| format!("{logical}.Properties.{k}");
    let mut req = client.create_table().table_name(physical);
    for a in props["AttributeDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(literal(&a["AttributeName"], &p("AttributeDefinitions"))?)
                .attribute_type(ScalarAttributeType::from(literal(
                    &a["AttributeType"],
                    &p("AttributeDefinitions"),
                )?))
                .build()
                .map_err(|e| LocalError::Template(format!("{logical}: {e}")))?,
        );
    }
    req = req.set_key_schema(Some(key_schema(&props["KeySchema"], &p("KeySchema"))?));
    let billing = props["BillingMode"].as_str().unwrap_or("PROVISIONED");
    req = req.billing_mode(BillingMode::from(billing));
    req = req.set_provisioned_throughput(throughput(
        &props["ProvisionedThroughput"],
        &p("ProvisionedThroughput"),
    )?);
    for g in props["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let gp = p("GlobalSecondaryIndexes");
        let proj = &g["Projection"];
        let projection = Projection::builder()
            .projection_type(ProjectionType::from(
                proj["ProjectionType"].as_str().unwrap_or("ALL"),
            ))
            .set_non_key_attributes(proj["NonKeyAttributes"].as_array().map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            }))
            .build();
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(literal(&g["IndexName"], &gp)?)
                .set_key_schema(Some(key_schema(&g["KeySchema"], &gp)?))
                .projection(projection)
                .set_provisioned_throughput(throughput(&g["ProvisionedThroughput"], &gp)?)
                .build()
                .map_err(|e| LocalError::Template(format!("{gp}: {e}")))?,
        );
    }
    if let Some(view) = props.pointer("/StreamSpecification/StreamViewType") {
        req = req.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(literal(
                    view,
                    &p("StreamSpecification"),
                )?))
                .build()
                .map_err(|e| LocalError::Template(format!("{logical}: {e}")))?,
        );
    }
    let out = req
        .send()
        .await
        .map_err(|e| LocalError::aws("dynamodb", "CreateTable", e))?;
    if let Some(ttl) = props.get("TimeToLiveSpecification")
        && ttl["Enabled"].as_bool() == Some(true)
    {
        // moto records TTL but never expires items; the domain treats expired
        // records as absent itself, so behaviour doesn't depend on it.
        client
            .update_time_to_live()
            .table_name(physical)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(literal(
                        &ttl["AttributeName"],
                        &p("TimeToLiveSpecification"),
                    )?)
                    .build()
                    .map_err(|e| LocalError::Template(format!("{logical}: {e}")))?,
            )
            .send()
            .await
            .map_err(|e| LocalError::aws("dynamodb", "UpdateTimeToLive", e))?;
    }
    Ok(out.table_description.and_then(|d| d.latest_stream_arn))
}

async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    props: &Value,
) -> Result<QueueInfo> {
    let mut req = client.create_queue().queue_name(name);
    for (prop, attr) in QUEUE_ATTRIBUTES {
        if let Some(v) = props.get(*prop).and_then(Value::as_u64) {
            req = req.attributes(attr.clone(), v.to_string());
        }
    }
    let url = req
        .send()
        .await
        .map_err(|e| LocalError::aws("sqs", "CreateQueue", e))?
        .queue_url
        .ok_or_else(|| LocalError::Invalid(format!("CreateQueue {name} returned no URL")))?;
    let arn = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| LocalError::aws("sqs", "GetQueueAttributes", e))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| LocalError::Invalid(format!("queue {name} has no ARN")))?;
    Ok(QueueInfo { url, arn })
}

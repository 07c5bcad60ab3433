//! Creates a county's tables, queues, event bus and topics on the emulator,
//! under physical names unique to this run (`<county>-<Logical>-<run id>`), so
//! runs and tests can share one emulator.
//!
//! Tables come from their typed layouts (`TableSpec`, the values the
//! template's tables are built from): key schemas, attribute definitions,
//! billing mode and throughput, GSIs with their projections, stream view
//! types, TTL attributes. Queues come from the `Properties` the county
//! template gives them: timeouts, retention, long-poll wait, and the redrive
//! policy (resolved to the dead-letter queue created here). Left out, because
//! they point at resources the runner doesn't create (the county KMS key) or
//! that moto drops anyway: SSE, KMS keys on queues, PITR, deletion
//! protection, tags.

use std::collections::BTreeMap;

use acme_stacks::cfn::resources::dynamodb::{self as cfn, KeySchema};
use acme_stacks::county::tables::TableSpec;
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

    /// The county's tables, as the domain names them.
    pub fn table_names(&self) -> Result<order_domain::store::TableNames> {
        Ok(order_domain::store::TableNames {
            orders: self.table(logical::ORDERS_TABLE)?.to_owned(),
            order_by_id: self.table(logical::ORDER_BY_ID_TABLE)?.to_owned(),
            inventory: self.table(logical::INVENTORY_TABLE)?.to_owned(),
            idempotency: self.table(logical::IDEMPOTENCY_TABLE)?.to_owned(),
            customers: Some(self.table(logical::CUSTOMERS_TABLE)?.to_owned()),
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
    for spec in &stack.tables {
        let l = spec.logical_id().to_string();
        let physical = name(&l);
        let stream = create_table(c.dynamodb, spec, &physical).await?;
        if l == logical::ORDER_BY_ID_TABLE {
            res.order_stream_arn = stream;
        }
        tracing::debug!(logical = %l, table = %physical, "table created");
        res.tables.insert(l, physical);
    }
    for l in [
        logical::ORDERS_TABLE,
        logical::ORDER_BY_ID_TABLE,
        logical::INVENTORY_TABLE,
        logical::IDEMPOTENCY_TABLE,
        logical::CUSTOMERS_TABLE,
    ] {
        if !res.tables.contains_key(l) {
            return Err(LocalError::MissingInTemplate {
                what: format!("AWS::DynamoDB::Table {l}"),
                why: "store orders and customer profiles",
            });
        }
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

fn key_schema(keys: &[KeySchema]) -> Result<Vec<KeySchemaElement>> {
    keys.iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(match k.key_type {
                    cfn::KeyType::Hash => KeyType::Hash,
                    cfn::KeyType::Range => KeyType::Range,
                })
                .build()
                .map_err(|e| LocalError::Template(format!("key {}: {e}", k.attribute_name)))
        })
        .collect()
}

fn attribute_definition(a: &cfn::AttributeDefinition) -> Result<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(&a.attribute_name)
        .attribute_type(match a.attribute_type {
            cfn::AttributeType::S => ScalarAttributeType::S,
            cfn::AttributeType::N => ScalarAttributeType::N,
            cfn::AttributeType::B => ScalarAttributeType::B,
        })
        .build()
        .map_err(|e| LocalError::Template(format!("attribute {}: {e}", a.attribute_name)))
}

fn throughput(t: Option<cfn::ProvisionedThroughput>) -> Result<Option<ProvisionedThroughput>> {
    t.map(|t| {
        ProvisionedThroughput::builder()
            .read_capacity_units(i64::from(t.read_capacity_units))
            .write_capacity_units(i64::from(t.write_capacity_units))
            .build()
            .map_err(|e| LocalError::Template(format!("throughput: {e}")))
    })
    .transpose()
}

fn global_secondary_index(g: &cfn::GlobalSecondaryIndex) -> Result<GlobalSecondaryIndex> {
    let projection = Projection::builder()
        .projection_type(match g.projection.projection_type {
            cfn::ProjectionType::KeysOnly => ProjectionType::KeysOnly,
            cfn::ProjectionType::Include => ProjectionType::Include,
            cfn::ProjectionType::All => ProjectionType::All,
        })
        .set_non_key_attributes(
            (!g.projection.non_key_attributes.is_empty())
                .then(|| g.projection.non_key_attributes.clone()),
        )
        .build();
    GlobalSecondaryIndex::builder()
        .index_name(&g.index_name)
        .set_key_schema(Some(key_schema(&g.key_schema)?))
        .projection(projection)
        .set_provisioned_throughput(throughput(g.provisioned_throughput)?)
        .build()
        .map_err(|e| LocalError::Template(format!("index {}: {e}", g.index_name)))
}

fn stream_view_type(v: cfn::StreamViewType) -> StreamViewType {
    match v {
        cfn::StreamViewType::KeysOnly => StreamViewType::KeysOnly,
        cfn::StreamViewType::NewImage => StreamViewType::NewImage,
        cfn::StreamViewType::OldImage => StreamViewType::OldImage,
        cfn::StreamViewType::NewAndOldImages => StreamViewType::NewAndOldImages,
    }
}

/// Creates one table; returns its stream ARN if it has a stream.
async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    spec: &TableSpec,
    physical: &str,
) -> Result<Option<String>> {
    let mut req = client
        .create_table()
        .table_name(physical)
        .set_key_schema(Some(key_schema(&spec.key_schema())?))
        .billing_mode(match spec.billing_mode() {
            cfn::BillingMode::PayPerRequest => BillingMode::PayPerRequest,
            cfn::BillingMode::Provisioned => BillingMode::Provisioned,
        })
        .set_provisioned_throughput(throughput(spec.throughput)?);
    for a in &spec.attribute_definitions() {
        req = req.attribute_definitions(attribute_definition(a)?);
    }
    for g in &spec.global_secondary_indexes() {
        req = req.global_secondary_indexes(global_secondary_index(g)?);
    }
    if let Some(view) = spec.stream {
        req = req.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(stream_view_type(view))
                .build()
                .map_err(|e| LocalError::Template(format!("{physical}: {e}")))?,
        );
    }
    let out = req
        .send()
        .await
        .map_err(|e| LocalError::aws("dynamodb", "CreateTable", e))?;
    if let Some(attr) = spec.ttl {
        enable_ttl(client, physical, attr).await?;
    }
    Ok(out.table_description.and_then(|d| d.latest_stream_arn))
}

/// moto records TTL but never expires items; the domain treats expired
/// records as absent itself, so behaviour doesn't depend on it.
async fn enable_ttl(client: &aws_sdk_dynamodb::Client, table: &str, attr: &str) -> Result<()> {
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(attr)
                .build()
                .map_err(|e| LocalError::Template(format!("{table}: {e}")))?,
        )
        .send()
        .await
        .map_err(|e| LocalError::aws("dynamodb", "UpdateTimeToLive", e))?;
    Ok(())
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

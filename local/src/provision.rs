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
    /// A migrating county's cutover flag (an SSM parameter name; see
    /// [`crate::migration`]): set at every start, not provisioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cutover_flag: Option<String>,
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
#[derive(Clone, Copy)]
pub struct Clients<'a> {
    pub dynamodb: &'a aws_sdk_dynamodb::Client,
    pub sqs: &'a aws_sdk_sqs::Client,
    pub eventbridge: &'a aws_sdk_eventbridge::Client,
    pub sns: &'a aws_sdk_sns::Client,
}

/// Creates everything the county's functions touch; if one step fails, what
/// the earlier ones created is deleted again.
pub async fn provision(stack: &CountyStack, run_id: &str, c: Clients<'_>) -> Result<Resources> {
    let mut res = Resources {
        county_id: stack.county_id.clone(),
        run_id: run_id.to_owned(),
        region: stack.region.clone(),
        tables: BTreeMap::new(),
        queues: BTreeMap::new(),
        order_stream_arn: None,
        event_bus_name: None,
        topics: BTreeMap::new(),
        cutover_flag: None,
    };
    match create_all(stack, run_id, &c, &mut res).await {
        Ok(()) => Ok(res),
        Err(e) => {
            teardown(&res, &c).await;
            Err(e)
        }
    }
}

/// Deletes `res` from the emulator (a start that failed after creating
/// them); failures are logged, the start's own error is what gets reported.
pub async fn teardown(res: &Resources, c: &Clients<'_>) {
    for table in res.tables.values() {
        if let Err(e) = c.dynamodb.delete_table().table_name(table).send().await {
            tracing::warn!(%table, error = %LocalError::aws("dynamodb", "DeleteTable", e), "left behind");
        }
    }
    for q in res.queues.values() {
        if let Err(e) = c.sqs.delete_queue().queue_url(&q.url).send().await {
            tracing::warn!(queue = %q.url, error = %LocalError::aws("sqs", "DeleteQueue", e), "left behind");
        }
    }
    if let Some(bus) = &res.event_bus_name
        && let Err(e) = c.eventbridge.delete_event_bus().name(bus).send().await
    {
        tracing::warn!(%bus, error = %LocalError::aws("eventbridge", "DeleteEventBus", e), "left behind");
    }
    for arn in res.topics.values() {
        if let Err(e) = c.sns.delete_topic().topic_arn(arn).send().await {
            tracing::warn!(topic = %arn, error = %LocalError::aws("sns", "DeleteTopic", e), "left behind");
        }
    }
}

/// Why `res` (a previous run's) cannot be resumed for `stack` on this
/// endpoint, or `None` if every table and queue still exists there with the
/// template's logical ids and the order stream is the same one.
pub async fn unresumable(
    res: &Resources,
    stack: &CountyStack,
    c: &Clients<'_>,
) -> Result<Option<String>> {
    let tables: Vec<String> = stack
        .tables
        .iter()
        .map(|t| t.logical_id().to_string())
        .collect();
    if res.county_id != stack.county_id || res.region != stack.region {
        return Ok(Some(format!(
            "they are {} in {}",
            res.county_id, res.region
        )));
    }
    if !res.tables.keys().eq(sorted(tables).iter())
        || !res
            .queues
            .keys()
            .eq(sorted(stack.logical_ids("AWS::SQS::Queue")).iter())
    {
        return Ok(Some(
            "the county's template has other tables or queues now".into(),
        ));
    }
    for (l, table) in &res.tables {
        let stream = match c.dynamodb.describe_table().table_name(table).send().await {
            Ok(out) => out.table.and_then(|t| t.latest_stream_arn),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(Some(format!("table {table} no longer exists")));
            }
            Err(e) => return Err(LocalError::aws("dynamodb", "DescribeTable", e)),
        };
        if l == logical::ORDER_BY_ID_TABLE && stream != res.order_stream_arn {
            return Ok(Some(format!("table {table} has another stream")));
        }
    }
    for q in res.queues.values() {
        match c
            .sqs
            .get_queue_url()
            .queue_name(queue_name(&q.url))
            .send()
            .await
        {
            Ok(_) => {}
            Err(aws_sdk_sqs::error::SdkError::ServiceError(_)) => {
                return Ok(Some(format!("queue {} no longer exists", q.url)));
            }
            Err(e) => return Err(LocalError::aws("sqs", "GetQueueUrl", e)),
        }
    }
    Ok(None)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The queue's name: the last path segment of its URL.
fn queue_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

async fn create_all(
    stack: &CountyStack,
    run_id: &str,
    c: &Clients<'_>,
    res: &mut Resources,
) -> Result<()> {
    let name = |l: &str| format!("{}-{}-{}", stack.county_id, l, run_id);
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
    Ok(())
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

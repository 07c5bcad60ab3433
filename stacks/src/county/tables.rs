//! The county's DynamoDB tables: Orders (by customer, carrying the three GSIs),
//! OrderById (the full record; its stream feeds events), Inventory (stock and
//! the reservation ledger) and Idempotency. Names and key attributes come from
//! `acme_contract::schema`, the same constants the functions use.
//!
//! Every table: encrypted with the county key, point-in-time recovery per the
//! county's switch, deletion protection on, and `DeletionPolicy` +
//! `UpdateReplacePolicy` `Retain`, so neither a template edit nor a replacement
//! can delete order history.

use acme_contract::schema;

use crate::cfn::resources::autoscaling::{
    PredefinedMetric, ScalableTarget, ScalingPolicy, TargetTracking,
};
use crate::cfn::resources::dynamodb::{
    AttributeDefinition, AttributeType, BillingMode, GlobalSecondaryIndex, KeySchema,
    PointInTimeRecoverySpecification, Projection, ProjectionType, ProvisionedThroughput,
    SseSpecification, StreamSpecification, StreamViewType, Table, TimeToLiveSpecification,
};
use crate::cfn::{Expr, LogicalId, Res, TemplateError};
use crate::config::{CapacityMode, ScalingRange};

use super::Ctx;

/// Why the GSIs project what they project (also shown by `acme-infra synth --explain`
/// in later versions; kept here, next to the code it explains).
///
/// A GSI write costs write units for the *projected* item, rounded up to 1 KB,
/// and every base-table write that touches a GSI key or projected attribute
/// writes the index too. Projecting `ALL` would copy line items (the bulk of an
/// order) into three indexes. `KEYS_ONLY` would make every listing read the
/// base table per order. So the three GSIs project `INCLUDE` of a few small
/// summary attributes (order id, status, total, creation time): each index
/// entry stays well under 1 KB — one write unit per index write — and the
/// dashboard, store and pick/pack listings are answered from the index alone.
/// Full details are one `GET /orders/{id}` away, served by OrderById.
///
/// The county and status keys have few distinct values, so they are
/// write-sharded (`<value>#<shard>`, `gsi_write_shards` shards, the shard
/// derived from the order id): a county's whole write rate would otherwise land
/// on one index partition (about 1,000 WCU/s). The status index is sparse: only
/// in-flight orders carry `status_shard`, so it stays small and a FAILED or
/// CANCELLED order costs no index write after it leaves the index.
pub const GSI_PROJECTION_RATIONALE: &str = "INCLUDE(order_id,status,total_cents,created_at): \
one write unit per index write, listings served from the index alone";

/// Logical ids of the tables.
pub(crate) struct Tables {
    pub orders: LogicalId,
    pub order_by_id: LogicalId,
    pub inventory: LogicalId,
    pub idempotency: LogicalId,
}

struct TableSpec<'a> {
    logical: &'static str,
    hash: &'static str,
    range: Option<&'static str>,
    extra_string_attrs: &'a [&'static str],
    gsis: Vec<(&'static str, &'static str)>,
    ttl: Option<&'static str>,
    stream: bool,
}

pub(crate) fn add(cx: &mut Ctx<'_>, key: &LogicalId) -> Result<Tables, TemplateError> {
    let streams = cx.cfg.streams_enabled;
    let specs = [
        TableSpec {
            logical: schema::orders::LOGICAL,
            hash: schema::orders::PK,
            range: Some(schema::orders::SK),
            extra_string_attrs: &[
                schema::orders::COUNTY_SHARD_PK,
                schema::orders::STORE_PK,
                schema::orders::STATUS_SHARD_PK,
            ],
            gsis: vec![
                (schema::orders::GSI_COUNTY, schema::orders::COUNTY_SHARD_PK),
                (schema::orders::GSI_STORE, schema::orders::STORE_PK),
                (schema::orders::GSI_STATUS, schema::orders::STATUS_SHARD_PK),
            ],
            ttl: None,
            stream: false,
        },
        TableSpec {
            logical: schema::order_by_id::LOGICAL,
            hash: schema::order_by_id::PK,
            range: None,
            extra_string_attrs: &[],
            gsis: vec![],
            ttl: None,
            // Order events come from this table's changes: one record per
            // transition of the full order.
            stream: streams,
        },
        TableSpec {
            logical: schema::inventory::LOGICAL,
            hash: schema::inventory::PK,
            range: Some(schema::inventory::SK),
            extra_string_attrs: &[],
            gsis: vec![],
            ttl: Some(schema::inventory::TTL),
            stream: false,
        },
        TableSpec {
            logical: schema::idempotency::LOGICAL,
            hash: schema::idempotency::PK,
            range: None,
            extra_string_attrs: &[],
            gsis: vec![],
            ttl: Some(schema::idempotency::TTL),
            stream: false,
        },
    ];
    let mut ids = Vec::with_capacity(specs.len());
    for spec in &specs {
        ids.push(add_table(cx, key, spec)?);
    }
    let mut ids = ids.into_iter();
    let mut next = || {
        ids.next()
            .ok_or_else(|| TemplateError::InvalidLogicalId("table".into()))
    };
    Ok(Tables {
        orders: next()?,
        order_by_id: next()?,
        inventory: next()?,
        idempotency: next()?,
    })
}

fn add_table(
    cx: &mut Ctx<'_>,
    key: &LogicalId,
    spec: &TableSpec<'_>,
) -> Result<LogicalId, TemplateError> {
    let id = LogicalId::new(format!("{}Table", spec.logical));
    let provisioned = match &cx.cfg.capacity {
        CapacityMode::OnDemand => None,
        CapacityMode::Provisioned(p) => Some(p.clone()),
    };
    let throughput = provisioned.as_ref().map(|p| ProvisionedThroughput {
        read_capacity_units: p.read.min,
        write_capacity_units: p.write.min,
    });

    let mut attrs = vec![string_attr(spec.hash)];
    attrs.extend(spec.range.map(string_attr));
    attrs.extend(spec.extra_string_attrs.iter().copied().map(string_attr));
    attrs.sort_by(|a, b| a.attribute_name.cmp(&b.attribute_name));

    let mut key_schema = vec![KeySchema::hash(spec.hash)];
    key_schema.extend(spec.range.map(KeySchema::range));

    let gsis = spec
        .gsis
        .iter()
        .map(|(name, pk)| GlobalSecondaryIndex {
            index_name: (*name).to_owned(),
            key_schema: vec![
                KeySchema::hash(pk),
                KeySchema::range(schema::orders::GSI_SK),
            ],
            projection: Projection {
                projection_type: ProjectionType::Include,
                non_key_attributes: schema::orders::GSI_PROJECTED
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
            },
            provisioned_throughput: throughput,
        })
        .collect();

    let table = Table {
        attribute_definitions: attrs,
        key_schema,
        billing_mode: if provisioned.is_some() {
            BillingMode::Provisioned
        } else {
            BillingMode::PayPerRequest
        },
        provisioned_throughput: throughput,
        global_secondary_indexes: gsis,
        stream_specification: spec.stream.then_some(StreamSpecification {
            stream_view_type: StreamViewType::NewAndOldImages,
        }),
        point_in_time_recovery_specification: PointInTimeRecoverySpecification {
            point_in_time_recovery_enabled: cx.cfg.point_in_time_recovery,
        },
        sse_specification: SseSpecification::kms(key.arn()),
        time_to_live_specification: spec.ttl.map(|attr| TimeToLiveSpecification {
            attribute_name: attr.to_owned(),
            enabled: true,
        }),
        deletion_protection_enabled: true,
        tags: cx.tags.clone(),
    };
    cx.t.add(Res::new(&id, table)?.retain())?;

    if let Some(p) = provisioned {
        add_scaling(cx, &id, spec.logical, None, &p.read, &p.write)?;
        for (index, _) in &spec.gsis {
            add_scaling(cx, &id, spec.logical, Some(index), &p.read, &p.write)?;
        }
    }
    Ok(id)
}

fn string_attr(name: &str) -> AttributeDefinition {
    AttributeDefinition {
        attribute_name: name.to_owned(),
        attribute_type: AttributeType::S,
    }
}

/// Application Auto Scaling for one table or index, reads and writes, with
/// target tracking on DynamoDB's predefined utilisation metrics.
fn add_scaling(
    cx: &mut Ctx<'_>,
    table: &LogicalId,
    logical: &str,
    index: Option<&str>,
    read: &ScalingRange,
    write: &ScalingRange,
) -> Result<(), TemplateError> {
    let (resource_id, what, prefix) = match index {
        None => (
            Expr::sub(format!("table/${{{table}}}")),
            "table",
            logical.to_owned(),
        ),
        Some(i) => (
            Expr::sub(format!("table/${{{table}}}/index/{i}")),
            "index",
            format!("{logical}{}", pascal(i)),
        ),
    };
    for (dim, range, metric, suffix) in [
        (
            "ReadCapacityUnits",
            read,
            "DynamoDBReadCapacityUtilization",
            "Read",
        ),
        (
            "WriteCapacityUnits",
            write,
            "DynamoDBWriteCapacityUtilization",
            "Write",
        ),
    ] {
        let target = LogicalId::new(format!("{prefix}{suffix}ScalingTarget"));
        let dimension = match (what, dim) {
            ("table", "ReadCapacityUnits") => "dynamodb:table:ReadCapacityUnits",
            ("table", _) => "dynamodb:table:WriteCapacityUnits",
            (_, "ReadCapacityUnits") => "dynamodb:index:ReadCapacityUnits",
            _ => "dynamodb:index:WriteCapacityUnits",
        };
        cx.t.add_resource(
            &target,
            ScalableTarget {
                max_capacity: range.max,
                min_capacity: range.min,
                resource_id: resource_id.clone(),
                scalable_dimension: dimension,
                service_namespace: "dynamodb",
            },
        )?;
        cx.t.add_resource(
            &LogicalId::new(format!("{prefix}{suffix}ScalingPolicy")),
            ScalingPolicy {
                policy_name: format!("{prefix}{suffix}TargetTracking"),
                policy_type: "TargetTrackingScaling",
                scaling_target_id: target.r#ref(),
                target_tracking_scaling_policy_configuration: TargetTracking {
                    target_value: range.target_utilization,
                    predefined_metric_specification: PredefinedMetric {
                        predefined_metric_type: metric,
                    },
                    // Scale out fast for Friday-night peaks, scale in slowly:
                    // DynamoDB limits how often capacity may be decreased per day.
                    scale_in_cooldown: 300,
                    scale_out_cooldown: 60,
                },
            },
        )?;
    }
    Ok(())
}

/// `by-county-time` → `ByCountyTime`, for logical ids.
fn pascal(s: &str) -> String {
    s.split(['-', '_'])
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

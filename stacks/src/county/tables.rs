//! The county's DynamoDB tables: Orders (by customer, carrying the three GSIs),
//! OrderById (the full record; its stream feeds events), Inventory (stock and
//! the reservation ledger) and Idempotency. Names and key attributes come from
//! `acme_contract::schema`, the same constants the functions use. Each table's
//! layout is a [`TableSpec`]: the template is built from [`table_specs`], and
//! the local runner creates its tables on the emulator from the same specs.
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
use crate::cfn::{Expr, LogicalId, Res, Tag, TemplateError};
use crate::config::{CapacityMode, CountyConfig, ScalingRange};

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

/// One table's layout, defined once: the county template's
/// `AWS::DynamoDB::Table` is built from it, and the local runner creates the
/// same table on the emulator from it. What only CloudFormation can give a
/// table (encryption key, point-in-time recovery, deletion protection, tags,
/// auto scaling) is not part of the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// `Orders`; the table's logical id is `OrdersTable`.
    pub logical: &'static str,
    pub hash: &'static str,
    pub range: Option<&'static str>,
    /// Every GSI sorts on the base table's sort key.
    pub gsis: Vec<GsiSpec>,
    pub stream: Option<StreamViewType>,
    /// Attribute DynamoDB's TTL reaps items by.
    pub ttl: Option<&'static str>,
    /// Capacity of the table and of each GSI; `None` is on demand.
    pub throughput: Option<ProvisionedThroughput>,
}

/// A global secondary index: its name, HASH key and projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GsiSpec {
    pub name: &'static str,
    pub hash: &'static str,
    pub range: &'static str,
    pub projection: Projection,
}

impl TableSpec {
    /// The table's logical id in the county template (`OrdersTable`).
    pub fn logical_id(&self) -> LogicalId {
        LogicalId::new(format!("{}Table", self.logical))
    }

    /// Every key attribute of the table and its indexes (all strings), by name.
    pub fn attribute_definitions(&self) -> Vec<AttributeDefinition> {
        let mut names: Vec<&str> = [self.hash].into_iter().chain(self.range).collect();
        for g in &self.gsis {
            names.extend([g.hash, g.range]);
        }
        names.sort_unstable();
        names.dedup();
        names.into_iter().map(string_attr).collect()
    }

    pub fn key_schema(&self) -> Vec<KeySchema> {
        let mut key = vec![KeySchema::hash(self.hash)];
        key.extend(self.range.map(KeySchema::range));
        key
    }

    pub fn billing_mode(&self) -> BillingMode {
        match self.throughput {
            Some(_) => BillingMode::Provisioned,
            None => BillingMode::PayPerRequest,
        }
    }

    pub fn global_secondary_indexes(&self) -> Vec<GlobalSecondaryIndex> {
        self.gsis
            .iter()
            .map(|g| GlobalSecondaryIndex {
                index_name: g.name.to_owned(),
                key_schema: vec![KeySchema::hash(g.hash), KeySchema::range(g.range)],
                projection: g.projection.clone(),
                provisioned_throughput: self.throughput,
            })
            .collect()
    }

    /// The CloudFormation table: this layout plus what only CloudFormation
    /// gives a table. Deletion protection is always on.
    pub(crate) fn to_table(
        &self,
        point_in_time_recovery: bool,
        sse: SseSpecification,
        tags: Vec<Tag>,
    ) -> Table {
        Table {
            attribute_definitions: self.attribute_definitions(),
            key_schema: self.key_schema(),
            billing_mode: self.billing_mode(),
            provisioned_throughput: self.throughput,
            global_secondary_indexes: self.global_secondary_indexes(),
            stream_specification: self
                .stream
                .map(|stream_view_type| StreamSpecification { stream_view_type }),
            point_in_time_recovery_specification: PointInTimeRecoverySpecification {
                point_in_time_recovery_enabled: point_in_time_recovery,
            },
            sse_specification: sse,
            time_to_live_specification: self.ttl.map(|attr| TimeToLiveSpecification {
                attribute_name: attr.to_owned(),
                enabled: true,
            }),
            deletion_protection_enabled: true,
            tags,
        }
    }
}

/// Every table of a county: the four order tables, then Customers.
pub fn table_specs(cfg: &CountyConfig) -> Vec<TableSpec> {
    let mut specs = order_tables(cfg).to_vec();
    specs.push(customers());
    specs
}

/// The order tables: Orders, OrderById, Inventory, Idempotency.
fn order_tables(cfg: &CountyConfig) -> [TableSpec; 4] {
    let throughput = match &cfg.capacity {
        CapacityMode::OnDemand => None,
        CapacityMode::Provisioned(p) => Some(ProvisionedThroughput {
            read_capacity_units: p.read.min,
            write_capacity_units: p.write.min,
        }),
    };
    let table = |logical, hash| TableSpec {
        logical,
        hash,
        range: None,
        gsis: Vec::new(),
        stream: None,
        ttl: None,
        throughput,
    };
    let orders_gsi = |name, hash| GsiSpec {
        name,
        hash,
        range: schema::orders::GSI_SK,
        projection: Projection {
            projection_type: ProjectionType::Include,
            non_key_attributes: schema::orders::GSI_PROJECTED
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        },
    };
    [
        TableSpec {
            range: Some(schema::orders::SK),
            gsis: vec![
                orders_gsi(schema::orders::GSI_COUNTY, schema::orders::COUNTY_SHARD_PK),
                orders_gsi(schema::orders::GSI_STORE, schema::orders::STORE_PK),
                orders_gsi(schema::orders::GSI_STATUS, schema::orders::STATUS_SHARD_PK),
            ],
            ..table(schema::orders::LOGICAL, schema::orders::PK)
        },
        TableSpec {
            // Order events come from this table's changes: one record per
            // transition of the full order.
            stream: cfg
                .streams_enabled
                .then_some(StreamViewType::NewAndOldImages),
            ..table(schema::order_by_id::LOGICAL, schema::order_by_id::PK)
        },
        TableSpec {
            range: Some(schema::inventory::SK),
            // No TTL: a reservation's ledger entry is deleted only by the
            // transaction that returns its units (the release), so stock
            // never leaks through a TTL deletion (docs/architecture.md).
            ..table(schema::inventory::LOGICAL, schema::inventory::PK)
        },
        TableSpec {
            ttl: Some(schema::idempotency::TTL),
            ..table(schema::idempotency::LOGICAL, schema::idempotency::PK)
        },
    ]
}

/// Customer PII (`pii.rs` gives it its own key).
pub fn customers() -> TableSpec {
    TableSpec {
        logical: schema::customers::LOGICAL,
        hash: schema::customers::PK,
        range: None,
        gsis: Vec::new(),
        // No stream: a stream would copy PII to every consumer of it.
        stream: None,
        ttl: None,
        // One read per order and a write per profile change: far below what
        // would make provisioned capacity (and its auto-scaling) pay off, in
        // every county.
        throughput: None,
    }
}

pub(crate) fn add(cx: &mut Ctx<'_>, key: &LogicalId) -> Result<Tables, TemplateError> {
    let [orders, order_by_id, inventory, idempotency] = order_tables(cx.cfg);
    Ok(Tables {
        orders: add_table(cx, key, &orders)?,
        order_by_id: add_table(cx, key, &order_by_id)?,
        inventory: add_table(cx, key, &inventory)?,
        idempotency: add_table(cx, key, &idempotency)?,
    })
}

fn add_table(
    cx: &mut Ctx<'_>,
    key: &LogicalId,
    spec: &TableSpec,
) -> Result<LogicalId, TemplateError> {
    let id = spec.logical_id();
    let table = spec.to_table(
        cx.cfg.point_in_time_recovery,
        SseSpecification::kms(key.arn()),
        cx.tags.clone(),
    );
    cx.t.add(Res::new(&id, table)?.retain())?;

    let cfg = cx.cfg;
    if let CapacityMode::Provisioned(p) = &cfg.capacity {
        add_scaling(cx, &id, spec.logical, None, &p.read, &p.write)?;
        for g in &spec.gsis {
            add_scaling(cx, &id, spec.logical, Some(g.name), &p.read, &p.write)?;
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

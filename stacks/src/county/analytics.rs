//! Order analytics without touching DynamoDB: every order event on the county
//! bus is copied by an EventBridge rule into a Firehose delivery stream, which
//! writes gzipped JSON lines to the analytics bucket under
//! `orders/county=<id>/dt=<yyyy-MM-dd>/`. A Glue table with partition
//! projection describes those files, so Athena queries them without a crawler
//! and without `MSCK REPAIR`; an Athena workgroup with enforced, KMS-encrypted
//! results runs the queries. An optional Redshift Serverless namespace and
//! workgroup (`analytics.redshift_serverless`) can read the same table through
//! Spectrum.

use std::collections::BTreeMap;

use serde_json::json;

use crate::cfn::guard::{self, Suppression};
use crate::cfn::resources::athena::{
    EngineVersion, NamedQuery, ResultConfiguration, ResultEncryption, WorkGroup,
    WorkGroupConfiguration,
};
use crate::cfn::resources::cloudwatch::LogStream;
use crate::cfn::resources::events::{RetryPolicy, Rule, RuleTarget};
use crate::cfn::resources::firehose::{
    BufferingHints, CloudWatchLoggingOptions, DeliveryStream, ExtendedS3Destination,
    KmsEncryptionConfig, ProcessingConfiguration, Processor, S3Encryption, StreamEncryption,
};
use crate::cfn::resources::glue::{
    Column, Database, DatabaseInput, SerdeInfo, StorageDescriptor, Table, TableInput,
};
use crate::cfn::resources::iam::{InlinePolicy, Role};
use crate::cfn::resources::logs::LogGroup;
use crate::cfn::resources::redshift::{Namespace, Workgroup};
use crate::cfn::resources::s3::{
    AbortIncompleteMultipartUpload, Bucket, BucketEncryption, BucketPolicy, LifecycleConfiguration,
    LifecycleRule, LoggingConfiguration, NoncurrentVersionExpiration, OwnershipControls,
    PublicAccessBlock, VersioningConfiguration,
};
use crate::cfn::{Expr, LogicalId, PolicyDocument, Principal, Res, Statement, TemplateError};

use super::Ctx;
use super::events::{EVENT_SOURCE, Events};

/// Where Firehose writes order events. `county=` and `dt=` are Hive-style
/// partition directories; `dt` is the UTC delivery date (Firehose's
/// `timestamp` namespace is UTC), which is what partition projection expects.
pub const ORDERS_PREFIX: &str = "orders/";
/// Records Firehose could not deliver, by error type, for a person to inspect.
pub const ERRORS_PREFIX: &str = "errors/";
/// Athena query results (the workgroup enforces this location).
pub const RESULTS_PREFIX: &str = "athena-results/";
/// Name of the Glue table over the order events.
pub const TABLE_NAME: &str = "order_events";
/// Firehose buffers up to this long before writing a file: five minutes keeps
/// "last 24h" fresh enough while writing at most 288 small files a day.
const BUFFER_SECONDS: u32 = 300;
/// ... or until this much (MiB) has arrived, whichever comes first.
const BUFFER_MIB: u32 = 64;
/// Athena cancels a query of the workgroup that would scan more than this:
/// a guard against a query that forgets the `dt` predicate on years of data.
const BYTES_SCANNED_CUTOFF: u64 = 10 * 1024 * 1024 * 1024;
/// Days a noncurrent object version (an overwritten or deleted file) is kept.
const NONCURRENT_DAYS: u32 = 30;
/// Days failed-delivery records and query results are kept.
const ERRORS_DAYS: u32 = 90;
const RESULTS_DAYS: u32 = 30;
/// Oldest date partition projection offers; older data is still in S3 but a
/// query must widen the range to see it.
const PROJECTION_RANGE: &str = "NOW-5YEARS,NOW";

/// Logical ids of the analytics resources.
#[derive(Debug, Clone)]
pub struct Analytics {
    /// `AnalyticsBucket`: order events (`orders/`) and query results.
    pub bucket: LogicalId,
    /// `OrderEventsDeliveryStream`.
    pub delivery_stream: LogicalId,
    /// `AnalyticsDatabase` and `OrderEventsTable` (Glue).
    pub database: LogicalId,
    pub table: LogicalId,
    /// `AnalyticsWorkGroup` (Athena; `Ref` = workgroup name).
    pub workgroup: LogicalId,
    /// `RedshiftWorkgroup`, when `analytics.redshift_serverless` is on.
    pub redshift: Option<LogicalId>,
}

/// Names of a county's analytics resources (stable: queries and people use them).
pub(crate) fn stream_name(county: &str) -> String {
    format!("acme-orders-{county}")
}

/// Glue database name: lower case and `_`, since Athena would make every
/// query quote a name with `-` in it.
pub fn database_name(county: &str) -> String {
    format!("acme_orders_{}", county.replace('-', "_"))
}

/// The Athena workgroup of a county.
pub fn workgroup_name(county: &str) -> String {
    format!("acme-orders-{county}")
}

/// One saved Athena query of the county's workgroup. Every query reads the
/// order events once per `detail.event_id` (delivery is at least once: the
/// publisher, EventBridge and Firehose all retry, and an archive replay sends
/// everything again) and computes money from integer cents, exactly.
#[derive(Debug, Clone, Copy)]
pub struct AnalyticsQuery {
    /// Logical id of the `AWS::Athena::NamedQuery`.
    pub logical_id: &'static str,
    /// The name operators see in the Athena console.
    pub name: &'static str,
    pub description: &'static str,
    sql: fn(&str) -> String,
}

impl AnalyticsQuery {
    /// The query text for a county (its Glue database).
    pub fn sql(&self, county: &str) -> String {
        (self.sql)(&database_name(county))
    }
}

/// The saved queries, in the order the template lists them.
pub const QUERIES: &[AnalyticsQuery] = &[
    AnalyticsQuery {
        logical_id: "OrdersLast24hQuery",
        name: "orders by county last 24h",
        description: "Orders placed per county in the last 24 hours and their value, from the analytics bucket",
        sql: orders_last_24h,
    },
    AnalyticsQuery {
        logical_id: "ConfirmedOrdersByStoreHourQuery",
        name: "confirmed orders and revenue by store and hour",
        description: "Orders confirmed in the last 24 hours and their revenue, per store and UTC hour",
        sql: confirmed_by_store_hour,
    },
    AnalyticsQuery {
        logical_id: "FailureReasonsQuery",
        name: "order failures by reason last 7 days",
        description: "Orders that failed in the last 7 days, per failure code",
        sql: failure_reasons,
    },
    AnalyticsQuery {
        logical_id: "PlacedToConfirmedQuery",
        name: "time from placed to confirmed last 24h",
        description: "Seconds from OrderPlaced to OrderConfirmed for orders confirmed in the last 24 hours, per store",
        sql: placed_to_confirmed,
    },
];

/// The events of the last `days` UTC days, one row per `detail.event_id`
/// (the first delivery). The `dt` predicate lets partition projection read
/// only those days' files.
fn deduped_events(db: &str, days: u32) -> String {
    format!(
        "WITH deliveries AS (\n  \
           SELECT county, event_time, detail,\n         \
                  row_number() OVER (PARTITION BY detail.event_id ORDER BY event_time) AS delivery\n  \
           FROM \"{db}\".\"{TABLE_NAME}\"\n  \
           WHERE dt >= date_format(current_timestamp - INTERVAL '{days}' DAY, '%Y-%m-%d')\n\
         ),\n\
         events AS (SELECT county, event_time, detail FROM deliveries WHERE delivery = 1)\n"
    )
}

/// Dollars from summed cents, exact: Trino types `100.0` as DECIMAL(4,1), and
/// dividing by it keeps one decimal place (37.98 would read 38.0). Cents are
/// an integer; scaling by DECIMAL(3,2) `0.01` keeps two places.
fn dollars(cents: &str) -> String {
    format!("CAST(CAST(sum({cents}) AS DECIMAL(18,0)) * DECIMAL '0.01' AS DECIMAL(18,2))")
}

/// Orders placed in the last 24 hours, per county. The `dt` predicate reads
/// two days of files at most; the `occurred_at` predicate then cuts to
/// exactly 24 hours.
fn orders_last_24h(db: &str) -> String {
    format!(
        "-- Orders placed per county in the last 24 hours (from S3, not DynamoDB).\n\
         {events}\
         SELECT county,\n       \
                count(*) AS orders,\n       \
                {total} AS total_dollars\n\
         FROM events\n\
         WHERE detail.detail_type = 'OrderPlaced'\n  \
           AND from_iso8601_timestamp(detail.occurred_at) > current_timestamp - INTERVAL '24' HOUR\n\
         GROUP BY county\n\
         ORDER BY orders DESC;\n",
        events = deduped_events(db, 1),
        total = dollars("detail.total_cents"),
    )
}

/// Confirmed orders only (placed but unconfirmed ones are not revenue).
fn confirmed_by_store_hour(db: &str) -> String {
    format!(
        "-- Orders confirmed and their revenue per store and UTC hour, last 24 hours.\n\
         {events}\
         SELECT detail.store_id AS store_id,\n       \
                date_trunc('hour', from_iso8601_timestamp(detail.occurred_at)) AS hour,\n       \
                count(*) AS orders,\n       \
                {total} AS revenue_dollars\n\
         FROM events\n\
         WHERE detail.detail_type = 'OrderConfirmed'\n  \
           AND from_iso8601_timestamp(detail.occurred_at) > current_timestamp - INTERVAL '24' HOUR\n\
         GROUP BY 1, 2\n\
         ORDER BY hour, store_id;\n",
        events = deduped_events(db, 1),
        total = dollars("detail.total_cents"),
    )
}

fn failure_reasons(db: &str) -> String {
    format!(
        "-- Orders failed per failure code, last 7 days.\n\
         {events}\
         SELECT detail.failure_reason.code AS failure_code,\n       \
                count(*) AS orders,\n       \
                {total} AS lost_dollars\n\
         FROM events\n\
         WHERE detail.detail_type = 'OrderFailed'\n  \
           AND from_iso8601_timestamp(detail.occurred_at) > current_timestamp - INTERVAL '7' DAY\n\
         GROUP BY 1\n\
         ORDER BY orders DESC, failure_code;\n",
        events = deduped_events(db, 7),
        total = dollars("detail.total_cents"),
    )
}

/// Placed events are read two days back, so an order placed before midnight
/// and confirmed after still pairs up.
fn placed_to_confirmed(db: &str) -> String {
    format!(
        "-- Seconds from OrderPlaced to OrderConfirmed per store, orders confirmed in the last 24 hours.\n\
         {events}\
         , placed AS (\n  \
           SELECT detail.order_id AS order_id, min(from_iso8601_timestamp(detail.occurred_at)) AS at\n  \
           FROM events WHERE detail.detail_type = 'OrderPlaced' GROUP BY 1\n\
         ),\n\
         confirmed AS (\n  \
           SELECT detail.order_id AS order_id, detail.store_id AS store_id,\n         \
                  min(from_iso8601_timestamp(detail.occurred_at)) AS at\n  \
           FROM events WHERE detail.detail_type = 'OrderConfirmed' GROUP BY 1, 2\n\
         )\n\
         SELECT c.store_id,\n       \
                count(*) AS orders,\n       \
                avg(date_diff('second', p.at, c.at)) AS avg_seconds,\n       \
                max(date_diff('second', p.at, c.at)) AS max_seconds\n\
         FROM confirmed c JOIN placed p ON p.order_id = c.order_id\n\
         WHERE c.at > current_timestamp - INTERVAL '24' HOUR\n\
         GROUP BY 1\n\
         ORDER BY 1;\n",
        events = deduped_events(db, 2),
    )
}

pub(crate) fn add(
    cx: &mut Ctx<'_>,
    key: &LogicalId,
    events: &Events,
    access_logs: &LogicalId,
    redshift_serverless: bool,
) -> Result<Analytics, TemplateError> {
    let bucket = add_bucket(cx, key, access_logs)?;
    let delivery_stream = add_delivery(cx, key, &bucket)?;
    add_rule(cx, events, &delivery_stream)?;
    let (database, table) = add_catalog(cx, &bucket)?;
    let workgroup = add_athena(cx, key, &bucket, &database)?;
    let redshift = if redshift_serverless {
        Some(add_redshift(cx, key, &bucket)?)
    } else {
        None
    };
    Ok(Analytics {
        bucket,
        delivery_stream,
        database,
        table,
        workgroup,
        redshift,
    })
}

fn add_bucket(
    cx: &mut Ctx<'_>,
    key: &LogicalId,
    access_logs: &LogicalId,
) -> Result<LogicalId, TemplateError> {
    let bucket = LogicalId::new("AnalyticsBucket");
    let expire = |id: &str, prefix: &str, days: u32| LifecycleRule {
        id: id.into(),
        status: "Enabled",
        prefix: Some(prefix.into()),
        expiration_in_days: Some(days),
        ..Default::default()
    };
    cx.t.add(
        Res::new(
            &bucket,
            Bucket {
                bucket_encryption: Some(BucketEncryption::kms(key.arn())),
                versioning_configuration: Some(VersioningConfiguration::enabled()),
                public_access_block_configuration: Some(PublicAccessBlock::all()),
                ownership_controls: Some(OwnershipControls::bucket_owner_enforced()),
                lifecycle_configuration: Some(LifecycleConfiguration {
                    rules: vec![
                        LifecycleRule {
                            id: "ExpireOldVersions".into(),
                            status: "Enabled",
                            noncurrent_version_expiration: Some(NoncurrentVersionExpiration {
                                noncurrent_days: NONCURRENT_DAYS,
                            }),
                            abort_incomplete_multipart_upload: Some(
                                AbortIncompleteMultipartUpload {
                                    days_after_initiation: 1,
                                },
                            ),
                            ..Default::default()
                        },
                        expire("ExpireDeliveryErrors", ERRORS_PREFIX, ERRORS_DAYS),
                        expire("ExpireQueryResults", RESULTS_PREFIX, RESULTS_DAYS),
                    ],
                }),
                logging_configuration: Some(LoggingConfiguration {
                    destination_bucket_name: access_logs.r#ref(),
                    log_file_prefix: "analytics/".into(),
                }),
                tags: cx.tags.clone(),
                ..Default::default()
            },
        )?
        // Order history for analytics: removing it from the template must not
        // delete years of events.
        .retain()
        .guard_suppress(&guard::S3_NO_ACL)
        .guard_suppress(&guard::S3_NO_REPLICA)
        .guard_suppress(&Suppression {
            rule: "S3_BUCKET_DEFAULT_LOCK_ENABLED",
            reason: "Query results and delivery errors are expired by lifecycle and Athena rewrites its results: Object Lock would keep each for the retention period. Who wrote or read these objects is recorded in the locked audit bucket",
        }),
    )?;
    cx.t.add_resource(
        &LogicalId::new("AnalyticsBucketPolicy"),
        BucketPolicy {
            bucket: bucket.r#ref(),
            policy_document: PolicyDocument::new(vec![Statement::deny_insecure_transport(
                &["s3:*"],
                vec![bucket.arn(), Expr::sub(format!("${{{bucket}.Arn}}/*"))],
            )]),
        },
    )?;
    Ok(bucket)
}

fn add_delivery(
    cx: &mut Ctx<'_>,
    key: &LogicalId,
    bucket: &LogicalId,
) -> Result<LogicalId, TemplateError> {
    let name = stream_name(&cx.cfg.id);
    let log_group = LogicalId::new("OrderEventsDeliveryLogGroup");
    let log_group_name = format!("/aws/kinesisfirehose/{name}");
    const LOG_STREAM: &str = "S3Delivery";
    cx.t.add(Res::new(
        &log_group,
        LogGroup {
            log_group_name: Expr::lit(log_group_name.clone()),
            retention_in_days: cx.cfg.log_retention_days,
            kms_key_id: key.arn(),
            tags: cx.tags.clone(),
        },
    )?)?;
    let log_stream = LogicalId::new("OrderEventsDeliveryLogStream");
    cx.t.add_resource(
        &log_stream,
        LogStream {
            log_group_name: log_group.r#ref(),
            log_stream_name: LOG_STREAM.into(),
        },
    )?;

    let bucket_arn = bucket.arn();
    let objects = |prefix: &str| Expr::sub(format!("${{{bucket}.Arn}}/{prefix}*"));
    let role = LogicalId::new("OrderEventsDeliveryRole");
    cx.t.add_resource(
        &role,
        Role {
            description: format!(
                "Lets Firehose write county {}'s order events to the analytics bucket",
                cx.cfg.id
            ),
            // The confused-deputy guard AWS documents for Firehose: only a
            // delivery stream of this account may assume the role.
            assume_role_policy_document: PolicyDocument::new(vec![
                Statement::assume_role(Principal::service("firehose.amazonaws.com")).when(
                    "StringEquals",
                    "sts:ExternalId",
                    Expr::account_id(),
                ),
            ]),
            managed_policy_arns: vec![],
            policies: vec![InlinePolicy {
                policy_name: "DeliverToAnalyticsBucket".into(),
                policy_document: PolicyDocument::new(vec![
                    Statement::allow(
                        &[
                            "s3:AbortMultipartUpload",
                            "s3:GetBucketLocation",
                            "s3:GetObject",
                            "s3:ListBucket",
                            "s3:ListBucketMultipartUploads",
                            "s3:PutObject",
                        ],
                        vec![
                            bucket_arn.clone(),
                            objects(ORDERS_PREFIX),
                            objects(ERRORS_PREFIX),
                        ],
                    )
                    .sid("WriteEventFiles"),
                    // Only through S3, only for this bucket: the key encrypts
                    // every table and queue of the county too. With S3 Bucket
                    // Keys the encryption context is the bucket's ARN.
                    Statement::allow(&["kms:Decrypt", "kms:GenerateDataKey"], vec![key.arn()])
                        .sid("EncryptEventFiles")
                        .when(
                            "StringEquals",
                            "kms:ViaService",
                            Expr::sub("s3.${AWS::Region}.amazonaws.com"),
                        )
                        .when(
                            "ArnLike",
                            "kms:EncryptionContext:aws:s3:arn",
                            vec![bucket_arn.clone(), Expr::sub(format!("${{{bucket}.Arn}}/*"))],
                        ),
                    Statement::allow(
                        &["logs:PutLogEvents"],
                        vec![Expr::sub(format!(
                            "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{log_group_name}:log-stream:{LOG_STREAM}"
                        ))],
                    )
                    .sid("LogDeliveryErrors"),
                ]),
            }],
            tags: cx.tags.clone(),
        },
    )?;
    cx.t.guard_suppress(&role, &guard::IAM_INLINE_POLICY)?;

    let stream = LogicalId::new("OrderEventsDeliveryStream");
    cx.t.add_resource(
        &stream,
        DeliveryStream {
            delivery_stream_name: Expr::lit(name),
            delivery_stream_type: "DirectPut",
            delivery_stream_encryption_configuration_input: StreamEncryption {
                key_type: "CUSTOMER_MANAGED_CMK",
                key_arn: Some(key.arn()),
            },
            extended_s3_destination_configuration: ExtendedS3Destination {
                bucket_arn,
                role_arn: role.arn(),
                // The county is fixed per stack, so a static prefix plus
                // Firehose's timestamp namespace partitions by county and day
                // without dynamic partitioning (and its 64 MiB minimum buffer).
                prefix: format!(
                    "{ORDERS_PREFIX}county={}/dt=!{{timestamp:yyyy-MM-dd}}/",
                    cx.cfg.id
                ),
                error_output_prefix: format!(
                    "{ERRORS_PREFIX}!{{firehose:error-output-type}}/dt=!{{timestamp:yyyy-MM-dd}}/"
                ),
                buffering_hints: BufferingHints {
                    interval_in_seconds: BUFFER_SECONDS,
                    size_in_m_bs: BUFFER_MIB,
                },
                compression_format: "GZIP",
                encryption_configuration: S3Encryption {
                    kms_encryption_config: KmsEncryptionConfig {
                        aws_kms_key_arn: key.arn(),
                    },
                },
                cloud_watch_logging_options: CloudWatchLoggingOptions {
                    enabled: true,
                    log_group_name: log_group.r#ref(),
                    log_stream_name: log_stream.r#ref(),
                },
                // EventBridge sends each event without a trailing newline and
                // Firehose concatenates records: without a delimiter a file
                // would be one long line that the JSON SerDe reads as one row.
                processing_configuration: Some(ProcessingConfiguration {
                    enabled: true,
                    processors: vec![Processor {
                        kind: "AppendDelimiterToRecord",
                        parameters: vec![],
                    }],
                }),
            },
            tags: cx.tags.clone(),
        },
    )?;
    // The two rules fail on every delivery stream whatever its destination
    // (they require a `Parameters` section and a `Ref` password); this one
    // delivers to S3 only and has no password.
    for rule in [
        "KINESIS_FIREHOSE_REDSHIFT_DESTINATION_CONFIGURATION_NO_PLAINTEXT_PASSWORD",
        "KINESIS_FIREHOSE_SPLUNK_DESTINATION_CONFIGURATION_NO_PLAINTEXT_PASSWORD",
    ] {
        cx.t.guard_suppress(
            &stream,
            &Suppression {
                rule,
                reason: "No Redshift or Splunk destination, so no password: the stream delivers to S3 only. The rule fails on every delivery stream that has none, since it requires a Parameters section and a Ref password",
            },
        )?;
    }
    Ok(stream)
}

fn add_rule(cx: &mut Ctx<'_>, events: &Events, stream: &LogicalId) -> Result<(), TemplateError> {
    let role = LogicalId::new("OrderEventsToFirehoseRole");
    let bus_name = &events.bus_name;
    // The stream's ARN follows from the name we give it; it is spelled out
    // rather than taken with `Fn::GetAtt` (which the local emulator cannot
    // resolve for a Firehose stream), and the rule depends on the stream.
    let stream_arn = delivery_stream_arn(&cx.cfg.id);
    cx.t.add_resource(
        &role,
        Role {
            description: format!(
                "Lets EventBridge put county {}'s order events into Firehose",
                cx.cfg.id
            ),
            // Only rules on this county's bus, in this account, may use it.
            assume_role_policy_document: PolicyDocument::new(vec![
                Statement::assume_role(Principal::service("events.amazonaws.com"))
                    .when("StringEquals", "aws:SourceAccount", Expr::account_id())
                    .when(
                        "ArnLike",
                        "aws:SourceArn",
                        Expr::sub(format!(
                            "arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/{bus_name}/*"
                        )),
                    ),
            ]),
            managed_policy_arns: vec![],
            policies: vec![InlinePolicy {
                policy_name: "PutIntoDeliveryStream".into(),
                policy_document: PolicyDocument::new(vec![Statement::allow(
                    &["firehose:PutRecord", "firehose:PutRecordBatch"],
                    vec![stream_arn.clone()],
                )]),
            }],
            tags: cx.tags.clone(),
        },
    )?;
    cx.t.guard_suppress(&role, &guard::IAM_INLINE_POLICY)?;
    let rule = Res::new(
        &LogicalId::new("OrderEventsToAnalyticsRule"),
        Rule {
            description: format!(
                "Every order event of county {} into the analytics bucket",
                cx.cfg.id
            ),
            event_bus_name: Expr::lit(bus_name.clone()),
            event_pattern: json!({"source": [EVENT_SOURCE]}),
            state: "ENABLED",
            targets: vec![RuleTarget {
                id: "AnalyticsDeliveryStream".into(),
                arn: stream_arn,
                role_arn: Some(role.arn()),
                dead_letter_config: None,
                // EventBridge's longest retry: a Firehose outage of up to a
                // day loses nothing. Beyond that the bus archive (365 days)
                // can replay the missing window.
                retry_policy: Some(RetryPolicy {
                    maximum_event_age_in_seconds: 86_400,
                    maximum_retry_attempts: 185,
                }),
            }],
        },
    )?
    .depends_on(stream)
    .depends_on(&events.bus);
    cx.t.add(rule)?;
    Ok(())
}

/// ARN of the county's delivery stream, from the name [`stream_name`] gives it.
pub(crate) fn delivery_stream_arn(county: &str) -> Expr {
    Expr::sub(format!(
        "arn:${{AWS::Partition}}:firehose:${{AWS::Region}}:${{AWS::AccountId}}:deliverystream/{}",
        stream_name(county)
    ))
}

fn add_catalog(
    cx: &mut Ctx<'_>,
    bucket: &LogicalId,
) -> Result<(LogicalId, LogicalId), TemplateError> {
    let database = LogicalId::new("AnalyticsDatabase");
    cx.t.add_resource(
        &database,
        Database {
            catalog_id: Expr::account_id(),
            database_input: DatabaseInput {
                name: database_name(&cx.cfg.id),
                description: format!("Order analytics of county {}", cx.cfg.id),
            },
        },
    )?;

    // The EventBridge envelope; `detail` is `order_domain::events::OrderEvent`.
    let detail = "struct<detail_type:string,event_id:string,order_id:string,county_id:string,\
                  customer_id:string,store_id:string,status:string,occurred_at:string,\
                  version:bigint,total_cents:bigint,\
                  failure_reason:struct<code:string,skus:array<string>,message:string>>";
    let columns = vec![
        Column::new("version", "string", "EventBridge envelope version"),
        Column::new("id", "string", "EventBridge event id"),
        Column::new(
            "event_type",
            "string",
            "the envelope's detail-type: OrderPlaced, OrderConfirmed, OrderFailed, OrderCancelled, OrderHeld, OrderReleased or OrderFulfilled",
        ),
        Column::new("source", "string", ""),
        Column::new("account", "string", ""),
        Column::new("event_time", "string", "ISO 8601, UTC"),
        Column::new("region", "string", ""),
        Column::new("resources", "array<string>", ""),
        Column::new("detail", detail, "the order event"),
    ];
    let location = |tail: &str| Expr::sub(format!("s3://${{{bucket}}}/{ORDERS_PREFIX}{tail}"));
    // Partition projection: Athena computes the partitions from these rules
    // instead of reading them from the catalog, so no crawler or
    // `MSCK REPAIR TABLE` is ever needed and a new day is queryable at once.
    // `${!county}` is a literal `${county}` for Athena, escaped from Fn::Sub.
    let parameters = BTreeMap::from(
        [
            ("classification", Expr::lit("json")),
            ("compressionType", Expr::lit("gzip")),
            ("projection.enabled", Expr::lit("true")),
            ("projection.county.type", Expr::lit("enum")),
            ("projection.county.values", Expr::lit(cx.cfg.id.clone())),
            ("projection.dt.type", Expr::lit("date")),
            ("projection.dt.format", Expr::lit("yyyy-MM-dd")),
            ("projection.dt.range", Expr::lit(PROJECTION_RANGE)),
            ("projection.dt.interval", Expr::lit("1")),
            ("projection.dt.interval.unit", Expr::lit("DAYS")),
            (
                "storage.location.template",
                location("county=${!county}/dt=${!dt}/"),
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let table = LogicalId::new("OrderEventsTable");
    cx.t.add_resource(
        &table,
        Table {
            catalog_id: Expr::account_id(),
            database_name: database.r#ref(),
            table_input: TableInput {
                name: TABLE_NAME.into(),
                description: "Order events as EventBridge delivered them, one JSON object per line"
                    .into(),
                table_type: "EXTERNAL_TABLE",
                parameters,
                partition_keys: vec![
                    Column::new("county", "string", "county id"),
                    Column::new("dt", "string", "UTC delivery date, yyyy-MM-dd"),
                ],
                storage_descriptor: StorageDescriptor {
                    columns,
                    location: location(""),
                    input_format: "org.apache.hadoop.mapred.TextInputFormat",
                    output_format: "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    compressed: true,
                    serde_info: SerdeInfo {
                        serialization_library: "org.openx.data.jsonserde.JsonSerDe",
                        // `detail-type` and `time` are not usable column names
                        // (a `-`; a reserved word): map them. A `mapping.*`
                        // applies to a field of that name at every level of
                        // nesting, so no mapped name may be a field of
                        // `detail` (`detail_type` is one: mapped, it read NULL).
                        parameters: BTreeMap::from(
                            [
                                ("ignore.malformed.json", "true"),
                                ("mapping.event_type", "detail-type"),
                                ("mapping.event_time", "time"),
                            ]
                            .map(|(k, v)| (k.to_owned(), v.to_owned())),
                        ),
                    },
                },
            },
        },
    )?;
    Ok((database, table))
}

fn add_athena(
    cx: &mut Ctx<'_>,
    key: &LogicalId,
    bucket: &LogicalId,
    database: &LogicalId,
) -> Result<LogicalId, TemplateError> {
    let workgroup = LogicalId::new("AnalyticsWorkGroup");
    cx.t.add_resource(
        &workgroup,
        WorkGroup {
            name: workgroup_name(&cx.cfg.id),
            description: format!("Order analytics of county {}", cx.cfg.id),
            state: "ENABLED",
            work_group_configuration: WorkGroupConfiguration {
                // Clients cannot send results elsewhere or unencrypted.
                enforce_work_group_configuration: true,
                publish_cloud_watch_metrics_enabled: true,
                bytes_scanned_cutoff_per_query: BYTES_SCANNED_CUTOFF,
                engine_version: EngineVersion {
                    selected_engine_version: "Athena engine version 3",
                },
                result_configuration: ResultConfiguration {
                    output_location: Expr::sub(format!("s3://${{{bucket}}}/{RESULTS_PREFIX}")),
                    encryption_configuration: ResultEncryption {
                        encryption_option: "SSE_KMS",
                        kms_key: Some(key.arn()),
                    },
                    expected_bucket_owner: Expr::account_id(),
                },
            },
            tags: cx.tags.clone(),
        },
    )?;
    for q in QUERIES {
        cx.t.add_resource(
            &LogicalId::new(q.logical_id),
            NamedQuery {
                name: q.name.into(),
                description: q.description.into(),
                database: database.r#ref(),
                work_group: workgroup.r#ref(),
                query_string: q.sql(&cx.cfg.id),
            },
        )?;
    }
    Ok(workgroup)
}

/// Redshift Serverless reading the same Glue table through Spectrum. Costs
/// money while it runs queries only, but is off by default: Athena answers
/// the county's questions; this is for counties that join orders with data
/// already in Redshift.
fn add_redshift(
    cx: &mut Ctx<'_>,
    key: &LogicalId,
    bucket: &LogicalId,
) -> Result<LogicalId, TemplateError> {
    let role = LogicalId::new("RedshiftSpectrumRole");
    let catalog = |tail: &str| {
        Expr::sub(format!(
            "arn:${{AWS::Partition}}:glue:${{AWS::Region}}:${{AWS::AccountId}}:{tail}"
        ))
    };
    let db = database_name(&cx.cfg.id);
    cx.t.add_resource(
        &role,
        Role {
            description: format!(
                "Lets Redshift Serverless read county {}'s order events",
                cx.cfg.id
            ),
            assume_role_policy_document: PolicyDocument::new(vec![
                Statement::assume_role(Principal::service("redshift.amazonaws.com")).when(
                    "StringEquals",
                    "aws:SourceAccount",
                    Expr::account_id(),
                ),
            ]),
            managed_policy_arns: vec![],
            policies: vec![InlinePolicy {
                policy_name: "ReadOrderEvents".into(),
                policy_document: PolicyDocument::new(vec![
                    Statement::allow(
                        &[
                            "glue:GetDatabase",
                            "glue:GetTable",
                            "glue:GetTables",
                            "glue:GetPartitions",
                        ],
                        vec![
                            catalog("catalog"),
                            catalog(&format!("database/{db}")),
                            catalog(&format!("table/{db}/*")),
                        ],
                    )
                    .sid("ReadCatalog"),
                    Statement::allow(
                        &["s3:GetObject", "s3:ListBucket"],
                        vec![
                            bucket.arn(),
                            Expr::sub(format!("${{{bucket}.Arn}}/{ORDERS_PREFIX}*")),
                        ],
                    )
                    .sid("ReadEventFiles"),
                    Statement::allow(&["kms:Decrypt"], vec![key.arn()])
                        .sid("DecryptEventFiles")
                        .when(
                            "StringEquals",
                            "kms:ViaService",
                            Expr::sub("s3.${AWS::Region}.amazonaws.com"),
                        ),
                ]),
            }],
            tags: cx.tags.clone(),
        },
    )?;
    cx.t.guard_suppress(&role, &guard::IAM_INLINE_POLICY)?;
    let namespace = LogicalId::new("RedshiftNamespace");
    cx.t.add(
        Res::new(
            &namespace,
            Namespace {
                namespace_name: format!("acme-orders-{}", cx.cfg.id),
                db_name: "orders".into(),
                admin_username: "acme_admin".into(),
                manage_admin_password: true,
                admin_password_secret_kms_key_id: key.arn(),
                kms_key_id: key.arn(),
                iam_roles: vec![role.arn()],
                default_iam_role_arn: Some(role.arn()),
                log_exports: vec!["connectionlog", "useractivitylog", "userlog"],
                tags: cx.tags.clone(),
            },
        )?
        .retain(),
    )?;
    let workgroup = LogicalId::new("RedshiftWorkgroup");
    cx.t.add_resource(
        &workgroup,
        Workgroup {
            workgroup_name: format!("acme-orders-{}", cx.cfg.id),
            namespace_name: namespace.r#ref(),
            // The smallest capacity: ad-hoc analytics, billed per second of use.
            base_capacity: 8,
            publicly_accessible: false,
            enhanced_vpc_routing: true,
            tags: cx.tags.clone(),
        },
    )?;
    Ok(workgroup)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Environments;

    fn sample_template() -> serde_json::Value {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
        let envs = Environments::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        let id = envs
            .county_ids()
            .into_iter()
            .next()
            .expect("a sample county");
        let cfg = envs.load(&id).unwrap_or_else(|e| panic!("{e}"));
        super::super::build(&cfg).expect("builds").to_value()
    }

    #[test]
    fn the_rule_role_trusts_rules_of_the_county_bus_only() {
        let t = sample_template();
        let r = &t["Resources"];
        let bus = r["OrderEventBus"]["Properties"]["Name"]
            .as_str()
            .expect("literal bus name");
        let trust = &r["OrderEventsToFirehoseRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            [0]["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"];
        assert!(
            trust
                .as_str()
                .is_some_and(|s| s.ends_with(&format!(":rule/{bus}/*"))),
            "{trust}"
        );
        let rule = &r["OrderEventsToAnalyticsRule"];
        assert_eq!(rule["Properties"]["EventBusName"], bus);
        // The target is the county's stream, named as the stream names itself,
        // and the rule waits for both the bus and the stream.
        let stream = r["OrderEventsDeliveryStream"]["Properties"]["DeliveryStreamName"]
            .as_str()
            .expect("literal stream name");
        let target = rule["Properties"]["Targets"][0]["Arn"]["Fn::Sub"]
            .as_str()
            .expect("stream ARN");
        assert!(
            target.starts_with("arn:${AWS::Partition}:firehose:${AWS::Region}:${AWS::AccountId}:")
                && target.ends_with(&format!(":deliverystream/{stream}")),
            "{target}"
        );
        let grant = &r["OrderEventsToFirehoseRole"]["Properties"]["Policies"][0]["PolicyDocument"]
            ["Statement"][0]["Resource"][0]["Fn::Sub"];
        assert_eq!(grant.as_str(), Some(target));
        let deps = rule["DependsOn"].as_array().expect("DependsOn");
        for id in ["OrderEventBus", "OrderEventsDeliveryStream"] {
            assert!(deps.iter().any(|d| d == id), "{deps:?} lacks {id}");
        }
    }

    #[test]
    fn firehose_partitions_by_county_and_day_where_the_table_projects_them() {
        let t = sample_template();
        let r = &t["Resources"];
        let s3 =
            &r["OrderEventsDeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"];
        let prefix = s3["Prefix"].as_str().expect("prefix");
        assert!(prefix.starts_with("orders/county="), "{prefix}");
        assert!(prefix.ends_with("/dt=!{timestamp:yyyy-MM-dd}/"), "{prefix}");
        assert_eq!(s3["CompressionFormat"], "GZIP");
        let params = &r["OrderEventsTable"]["Properties"]["TableInput"]["Parameters"];
        assert_eq!(params["projection.enabled"], "true");
        assert_eq!(params["projection.dt.format"], "yyyy-MM-dd");
        let template = params["storage.location.template"]["Fn::Sub"]
            .as_str()
            .expect("location template");
        assert!(
            template.ends_with("/orders/county=${!county}/dt=${!dt}/"),
            "{template}"
        );
        let wg = &r["AnalyticsWorkGroup"]["Properties"]["WorkGroupConfiguration"];
        assert_eq!(wg["EnforceWorkGroupConfiguration"], true);
        assert_eq!(
            wg["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"],
            "SSE_KMS"
        );
    }

    #[test]
    fn names_are_athena_friendly() {
        assert_eq!(database_name("travis-tx"), "acme_orders_travis_tx");
        assert_eq!(workgroup_name("travis-tx"), "acme-orders-travis-tx");
        let q = QUERIES[0].sql("travis-tx");
        assert!(q.contains("FROM \"acme_orders_travis_tx\".\"order_events\""));
        assert!(q.contains("INTERVAL '24' HOUR"));
    }
}

//! The county's functions — the order API, the order worker, the stream
//! publisher, the scheduled order sweeper and, in a county moving off the
//! legacy database with `migration.legacy_sync`, legacy-sync — each with its
//! own execution role, log group and least-privilege policy.
//!
//! Code comes from content-hashed assets: the template takes the assets
//! bucket and one `assets/<sha256>.zip` key per function as parameters, and
//! lists in its `AcmeAssets` metadata which bundle (function crate and
//! architecture) each key parameter wants. The deployer reads that contract,
//! builds and uploads the bundles, and passes the keys; a new bundle is a new
//! key, so CloudFormation always sees the code change.
//!
//! Every role's policy names only the actions its function's code performs
//! (see `order_domain::service`), on the exact table, index, stream, queue,
//! bus, topic, key and log group ARNs. Two actions have no resource-level form
//! in IAM and take `*`: X-Ray's `PutTraceSegments`/`PutTelemetryRecords`, and
//! `dynamodb:ListStreams` (the Lambda stream poller's call).

use std::collections::BTreeMap;

use acme_contract::rules::{CountyRulesJson, FraudRulesJson};
use acme_contract::schema::env;
use serde_json::json;

use crate::assembly::{AssetMetadata, FunctionBundle};
use crate::cfn::guard::{self, Suppression};
use crate::cfn::resources::events::{RetryPolicy, RuleTarget, ScheduleRule};
use crate::cfn::resources::iam::{InlinePolicy, Role};
use crate::cfn::resources::iam_policy::RolePolicy;
use crate::cfn::resources::lambda::{
    Code, DeadLetterConfig, DestinationConfig, Environment, EventSourceMapping, Function,
    LoggingConfig, OnFailure, Permission, ScalingConfig, TracingConfig, VpcConfig,
};
use crate::cfn::resources::logs::LogGroup;
use crate::cfn::resources::sqs::{Queue, QueuePolicy};
use crate::cfn::{
    Expr, LogicalId, Parameter, PolicyDocument, Principal, Res, Statement, TemplateError,
};
use crate::config::{Architecture, CardApiConfig, FunctionSettings, LegacySyncConfig};

use super::events::Events;
use super::tables::Tables;
use super::{Ctx, FunctionIds, Functions, Pii};

/// Template parameter: the bucket holding the function bundles (one name,
/// defined with the bootstrap stack that owns the bucket).
pub use crate::bootstrap::ASSET_BUCKET_PARAMETER;
/// Template metadata key listing the bundle each code-key parameter wants.
pub const ASSETS_METADATA_KEY: &str = "AcmeAssets";
/// What a code-key parameter must look like: `assets/<sha256 hex>.zip`.
pub const ASSET_KEY_PATTERN: &str = "^assets/[0-9a-f]{64}\\.zip$";

/// Actions whose IAM authorization has no resource type, so `*` is the only
/// possible resource (Service Authorization Reference). Nothing else may use `*`.
pub const UNSCOPED_ACTIONS: &[&str] = &[
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "dynamodb:ListStreams",
];

/// Stream records the publisher takes per invocation (Lambda's default for
/// DynamoDB streams).
const STREAM_BATCH_SIZE: u32 = 100;
/// Retries of a failing stream batch: until the record ages out (-1). The
/// publisher skips records that are not order changes itself and fails only
/// while EventBridge or SNS is failing, which passes; giving up after a count
/// would drop order events during a long outage (the failure queue would get
/// only pointers to them).
const STREAM_MAX_RETRIES: i32 = -1;
/// DynamoDB Streams keeps records for 24 hours; older ones are gone anyway.
const STREAM_MAX_RECORD_AGE_SECONDS: i32 = 86_400;
/// One concurrent batch per shard keeps an order's events in stream order
/// (per-item order is per shard; a factor above 1 would interleave keys).
const STREAM_PARALLELIZATION_FACTOR: u32 = 1;
/// SQS's longest retention (14 days): failed invocations wait for a person.
const FAILURE_RETENTION_SECONDS: u32 = 14 * 86_400;

/// One function's static description.
struct Spec {
    /// Logical-id prefix: `OrderApi` → `OrderApiFunction`, `OrderApiRole`, ...
    prefix: &'static str,
    /// The function crate under `functions/`, which is also the bundle name.
    crate_name: &'static str,
    description: &'static str,
}

const API: Spec = Spec {
    prefix: "OrderApi",
    crate_name: "order-api",
    description: "Order API behind API Gateway",
};
const WORKER: Spec = Spec {
    prefix: "OrderWorker",
    crate_name: "order-worker",
    description: "Reserves, charges and confirms orders from the order queue",
};
const PUBLISHER: Spec = Spec {
    prefix: "StreamPublisher",
    crate_name: "stream-publisher",
    description: "Turns OrderById changes into events, notifications and re-enqueues",
};
const SWEEPER: Spec = Spec {
    prefix: "OrderSweeper",
    crate_name: "order-sweeper",
    description: "On a schedule: re-enqueues stuck orders, releases expired reservations",
};
const LEGACY_SYNC: Spec = Spec {
    prefix: "LegacySync",
    crate_name: "legacy-sync",
    description: "Writes orders the new system took or changed into the legacy database",
};

/// Every function a county stack may deploy, in template order: the one list
/// the deployer (through the template's `AcmeAssets`),
/// `scripts/build-functions.sh` and the tests follow (a test fails if the
/// script's list differs). legacy-sync is in a county's template only with
/// `migration.legacy_sync`.
const ALL: [&Spec; 5] = [&API, &WORKER, &PUBLISHER, &SWEEPER, &LEGACY_SYNC];

/// The function crates (= bundle names), in template order.
pub const FUNCTION_CRATES: [&str; 5] = [
    API.crate_name,
    WORKER.crate_name,
    PUBLISHER.crate_name,
    SWEEPER.crate_name,
    LEGACY_SYNC.crate_name,
];

/// legacy-sync's size: one connection, one transaction per record; its
/// time is the database's round trips, not CPU.
const LEGACY_SYNC_SETTINGS: FunctionSettings = FunctionSettings {
    memory_mb: 256,
    timeout_seconds: 60,
    reserved_concurrency: None,
};

/// The AWS-managed policy granting what Lambda needs to attach a function
/// to the VPC (its network interfaces: `ec2:CreateNetworkInterface`,
/// `DescribeNetworkInterfaces`, `DeleteNetworkInterface`, ...).
const VPC_ACCESS_POLICY: &str =
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole";

impl FunctionIds {
    fn of(spec: &Spec) -> Self {
        FunctionIds {
            function: LogicalId::new(format!("{}Function", spec.prefix)),
            role: LogicalId::new(format!("{}Role", spec.prefix)),
            log_group: LogicalId::new(format!("{}LogGroup", spec.prefix)),
        }
    }
}

/// The logical ids of the functions, known before any of them is added (the
/// Customers key policy names the order API's role).
pub(crate) fn ids(cfg: &crate::config::CountyConfig) -> Functions {
    Functions {
        api: FunctionIds::of(&API),
        worker: FunctionIds::of(&WORKER),
        publisher: FunctionIds::of(&PUBLISHER),
        sweeper: FunctionIds::of(&SWEEPER),
        dead_letter_queue: LogicalId::new("FunctionDeadLetterQueue"),
        publisher_failure_queue: cfg
            .streams_enabled
            .then(|| LogicalId::new("PublisherFailureQueue")),
        legacy_sync: legacy_sync(cfg).map(|_| FunctionIds::of(&LEGACY_SYNC)),
        legacy_sync_failure_queue: legacy_sync(cfg)
            .map(|_| LogicalId::new("LegacySyncFailureQueue")),
    }
}

/// `migration.legacy_sync`, when the county has the OrderById stream it reads.
fn legacy_sync(cfg: &crate::config::CountyConfig) -> Option<&LegacySyncConfig> {
    cfg.migration
        .as_ref()
        .and_then(|m| m.legacy_sync.as_ref())
        .filter(|_| cfg.streams_enabled)
}

/// The physical name of a county's function, e.g. `acme-travis-tx-order-api`
/// (at most 5 + 32 + 1 + 16 = 54 characters; Lambda allows 64).
pub fn function_name(county_id: &str, crate_name: &str) -> String {
    format!("acme-{county_id}-{crate_name}")
}

/// Compact JSON of the county's sale rules, for `ACME_COUNTY_RULES`: the
/// shared shape the functions parse (field order fixed by the struct).
pub fn county_rules_json(cfg: &crate::config::CountyConfig) -> String {
    let rules = CountyRulesJson {
        county_id: cfg.id.clone(),
        sales_enabled: cfg.sales_enabled,
        timezone: cfg.timezone.clone(),
        sale_hours: cfg.sale_hours,
        max_units_per_order: cfg.max_units_per_order,
        max_line_items: cfg.max_line_items,
        gsi_write_shards: cfg.gsi_write_shards,
        reservation_ttl_seconds: cfg.reservation_ttl_seconds,
        idempotency_ttl_hours: cfg.idempotency_ttl_hours,
        legal_age: cfg.legal_age,
        fraud: Some(FraudRulesJson {
            orders_per_customer_per_hour: cfg.fraud.orders_per_customer_per_hour,
            units_per_customer_per_day: cfg.fraud.units_per_customer_per_day,
            order_total_over_cents: u64::from(cfg.fraud.order_total_over_cents),
        }),
    };
    // Plain structs of strings, numbers and options: serialization cannot fail.
    serde_json::to_string(&rules).unwrap_or_default()
}

/// What the functions use, added earlier by other modules.
pub(crate) struct Deps<'a> {
    pub key: &'a LogicalId,
    pub tables: &'a Tables,
    pub order_queue: &'a LogicalId,
    pub events: &'a Events,
    pub pii: &'a Pii,
    /// The ShadowReads queue of a migrating county (`shadow.rs`).
    pub shadow_reads: Option<&'a super::shadow::ShadowReads>,
}

pub(crate) fn add(
    cx: &mut Ctx<'_>,
    ids: Functions,
    d: &Deps<'_>,
) -> Result<Functions, TemplateError> {
    let cfg = cx.cfg;
    add_parameters(cx, &ids)?;
    add_failure_queues(cx, &ids, d.key)?;

    let t = d.tables;
    let common_env = common_env(cx, d);

    // The order API: POST /orders (idempotency record + Orders summary +
    // OrderById record in one transaction, prices read from Inventory), the
    // order lists (Orders and its GSIs), GET /orders/{id} (OrderById), and
    // cancel, whose transaction also puts reserved stock back (Inventory
    // update + ledger delete, `order_domain::service::release_tx`).
    let card_api = cfg.payment.as_ref().and_then(|p| p.card_api.as_ref());
    let mut api_statements = vec![
        Statement::allow(
            &["dynamodb:PutItem", "dynamodb:Query"],
            vec![t.orders.arn()],
        )
        .sid("OrdersWriteAndListByCustomer"),
        Statement::allow(&["dynamodb:Query"], vec![index_arns(&t.orders)])
            .sid("OrdersListByCountyStoreStatus"),
        Statement::allow(
            &["dynamodb:GetItem", "dynamodb:PutItem"],
            vec![t.order_by_id.arn(), t.idempotency.arn()],
        )
        .sid("OrderRecordsAndIdempotency"),
        Statement::allow(
            &[
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:UpdateItem",
            ],
            vec![t.inventory.arn()],
        )
        .sid("InventoryPricesAndCancelRelease"),
        Statement::allow(&["sqs:SendMessage"], vec![d.order_queue.arn()]).sid("EnqueueOrders"),
    ];
    // Only the order API learns where customer PII is.
    let mut api_env = common_env.clone();
    api_env.insert(env::CUSTOMERS_TABLE, d.pii.table.r#ref());
    // The API refunds a cancelled order's charge.
    if let Some(card) = card_api {
        api_env.extend(card_api_env(card));
        api_statements.extend(card_api_statements(cx, card));
    }
    api_env.extend(super::shadow::api_env(
        cfg.migration.as_ref(),
        d.shadow_reads,
    ));
    // A migrating county's writes follow its cutover mode.
    if let Some((parameter, read)) = super::migration::cutover_flag_reader(cfg) {
        api_env.insert(env::CUTOVER_MODE_PARAMETER, parameter);
        api_statements.push(read);
    }
    let api = add_function(
        cx,
        &API,
        &ids,
        &ids.api,
        d.key,
        api_env,
        api_statements,
        &cfg.functions.api,
        None,
    )?;
    // Customer PII, in a policy of its own: the Customers key policy names
    // this role, so a grant inside the role would be a dependency cycle.
    let pii_policy = LogicalId::new("OrderApiCustomersPolicy");
    cx.t.add_resource(
        &pii_policy,
        RolePolicy {
            policy_name: "CustomersPii".into(),
            policy_document: PolicyDocument::new(vec![
                Statement::allow(
                    &["dynamodb:GetItem", "dynamodb:PutItem"],
                    vec![d.pii.table.arn()],
                )
                .sid("CustomersTable"),
                Statement::allow(super::pii::USE_ACTIONS, vec![d.pii.key.arn()])
                    .sid("CustomersKey"),
            ]),
            role_name: ids.api.role.r#ref(),
        },
    )?;
    cx.t.add(api.depends_on(&pii_policy))?;

    // The worker: loads the order (OrderById), then reserve / release /
    // confirm transactions — stock update, ledger put or delete, and the
    // OrderById + Orders status writes (`order_domain::service::worker`).
    let mut worker_statements = vec![
        Statement::allow(
            &["dynamodb:GetItem", "dynamodb:PutItem"],
            vec![t.order_by_id.arn()],
        )
        .sid("OrderRecord"),
        // Query: the fraud screening counts the customer's own orders
        // (`order_domain::service::fraud`).
        Statement::allow(
            &["dynamodb:PutItem", "dynamodb:Query"],
            vec![t.orders.arn()],
        )
        .sid("OrderSummaryAndCustomerOrders"),
        Statement::allow(
            &[
                "dynamodb:DeleteItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ],
            vec![t.inventory.arn()],
        )
        .sid("StockAndReservations"),
        // What Lambda's SQS poller calls with the function's role.
        Statement::allow(
            &[
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
            ],
            vec![d.order_queue.arn()],
        )
        .sid("ConsumeOrderQueue"),
    ];
    let mut worker_env = common_env.clone();
    if let Some(card) = card_api {
        worker_env.extend(card_api_env(card));
        worker_statements.extend(card_api_statements(cx, card));
    }
    let worker = add_function(
        cx,
        &WORKER,
        &ids,
        &ids.worker,
        d.key,
        worker_env,
        worker_statements,
        &cfg.functions.worker,
        None,
    )?;
    cx.t.add(worker)?;
    let q = &cfg.queue;
    cx.t.add_resource(
        &LogicalId::new("OrderWorkerQueueSource"),
        EventSourceMapping {
            event_source_arn: d.order_queue.arn(),
            function_name: ids.worker.function.r#ref(),
            enabled: true,
            batch_size: q.batch_size,
            maximum_batching_window_in_seconds: Some(q.batching_window_seconds),
            // A failed order is retried alone instead of redelivering the
            // whole batch (whose other orders already succeeded).
            function_response_types: vec!["ReportBatchItemFailures"],
            scaling_config: Some(ScalingConfig {
                maximum_concurrency: q.max_concurrency,
            }),
            starting_position: None,
            bisect_batch_on_function_error: None,
            maximum_retry_attempts: None,
            maximum_record_age_in_seconds: None,
            parallelization_factor: None,
            destination_config: None,
        },
    )?;

    // The publisher: reads the OrderById stream (what Lambda's stream poller
    // calls with the function's role), puts events on the bus, notifies
    // customers, re-enqueues PENDING orders (the outbox) and sends batches it
    // gives up on to its failure queue.
    let mut publisher_statements = vec![
        Statement::allow(&["events:PutEvents"], vec![d.events.bus.arn()]).sid("PutOrderEvents"),
        Statement::allow(&["sns:Publish"], vec![d.events.notifications.r#ref()])
            .sid("NotifyCustomers"),
    ];
    let mut outbox_queues = vec![d.order_queue.arn()];
    if let Some(failures) = &ids.publisher_failure_queue {
        let stream = t.order_by_id.att("StreamArn");
        publisher_statements.push(
            Statement::allow(
                &[
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                ],
                vec![stream],
            )
            .sid("ReadOrderStream"),
        );
        // ListStreams authorizes against no resource type (IAM's Service
        // Authorization Reference): `*` is its only form.
        publisher_statements.push(
            Statement::allow(&["dynamodb:ListStreams"], vec![Expr::lit("*")])
                .sid("ListStreamsHasNoResourceScope"),
        );
        outbox_queues.push(failures.arn());
    }
    publisher_statements
        .push(Statement::allow(&["sqs:SendMessage"], outbox_queues).sid("OutboxAndFailureQueue"));
    let publisher = add_function(
        cx,
        &PUBLISHER,
        &ids,
        &ids.publisher,
        d.key,
        common_env.clone(),
        publisher_statements,
        &cfg.functions.publisher,
        None,
    )?;
    cx.t.add(publisher)?;
    if let Some(failures) = &ids.publisher_failure_queue {
        cx.t.add_resource(
            &LogicalId::new("StreamPublisherStreamSource"),
            order_stream_mapping(
                t.order_by_id.att("StreamArn"),
                ids.publisher.function.r#ref(),
                failures,
            ),
        )?;
    }
    add_sweeper(cx, &ids, d, common_env)?;
    if let (Some(ls), Some(f), Some(q)) = (
        legacy_sync(cfg),
        &ids.legacy_sync,
        &ids.legacy_sync_failure_queue,
    ) {
        add_legacy_sync(cx, &ids, f, q, ls, d)?;
    }
    Ok(ids)
}

/// legacy-sync: reads the OrderById stream (only that stream), the database
/// secret (only that secret), sends what it cannot write to its failure
/// queue, and runs in the county's VPC subnets with the given security group.
fn add_legacy_sync(
    cx: &mut Ctx<'_>,
    ids: &Functions,
    f: &FunctionIds,
    failures: &LogicalId,
    ls: &LegacySyncConfig,
    d: &Deps<'_>,
) -> Result<(), TemplateError> {
    let stream = d.tables.order_by_id.att("StreamArn");
    let statements = vec![
        Statement::allow(
            &[
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
            ],
            vec![stream.clone()],
        )
        .sid("ReadOrderStream"),
        Statement::allow(&["dynamodb:ListStreams"], vec![Expr::lit("*")])
            .sid("ListStreamsHasNoResourceScope"),
        Statement::allow(
            &["secretsmanager:GetSecretValue"],
            vec![Expr::lit(ls.database_secret_arn.clone())],
        )
        .sid("LegacyDatabaseSecret"),
        Statement::allow(&["sqs:SendMessage"], vec![failures.arn()]).sid("FailureQueue"),
    ];
    let variables = BTreeMap::from([
        (env::COUNTY_ID, Expr::lit(cx.cfg.id.clone())),
        (
            env::LEGACY_DB_SECRET_ARN,
            Expr::lit(ls.database_secret_arn.clone()),
        ),
        (env::LEGACY_SYNC_DLQ_URL, failures.r#ref()),
    ]);
    // It stops writing in mode `retired`: it reads the county's cutover flag.
    let (mut statements, mut variables) = (statements, variables);
    if let Some((parameter, read)) = super::migration::cutover_flag_reader(cx.cfg) {
        variables.insert(env::CUTOVER_MODE_PARAMETER, parameter);
        statements.push(read);
    }
    let vpc = VpcConfig {
        subnet_ids: ls.subnet_ids.iter().map(Expr::lit).collect(),
        security_group_ids: vec![Expr::lit(ls.security_group_id.clone())],
    };
    let function = add_function(
        cx,
        &LEGACY_SYNC,
        ids,
        f,
        d.key,
        variables,
        statements,
        &LEGACY_SYNC_SETTINGS,
        Some(vpc),
    )?;
    cx.t.add(function)?;
    cx.t.add_resource(
        &LogicalId::new("LegacySyncStreamSource"),
        // As the publisher: a batch fails only while the database or the
        // queue is unreachable, which passes; rows that cannot be written go
        // to the failure queue from the function itself.
        order_stream_mapping(stream, f.function.r#ref(), failures),
    )?;
    Ok(())
}

/// The sweeper: lists stale PENDING and RESERVED orders (the Orders status
/// index), loads each (OrderById), re-enqueues PENDING ones, and releases
/// expired reservations with the cancel's release transaction (stock update,
/// ledger delete, OrderById + Orders status writes;
/// `order_domain::service::Expiry`). Invoked only by its schedule rule.
fn add_sweeper(
    cx: &mut Ctx<'_>,
    ids: &Functions,
    d: &Deps<'_>,
    mut vars: BTreeMap<&'static str, Expr>,
) -> Result<(), TemplateError> {
    let t = d.tables;
    let s = &cx.cfg.sweeper;
    let statements = vec![
        Statement::allow(&["dynamodb:Query"], vec![index_arns(&t.orders)])
            .sid("OrdersByStatusTime"),
        Statement::allow(&["dynamodb:PutItem"], vec![t.orders.arn()]).sid("OrderSummary"),
        Statement::allow(
            &["dynamodb:GetItem", "dynamodb:PutItem"],
            vec![t.order_by_id.arn()],
        )
        .sid("OrderRecord"),
        Statement::allow(
            &["dynamodb:DeleteItem", "dynamodb:UpdateItem"],
            vec![t.inventory.arn()],
        )
        .sid("ReleaseStockAndReservations"),
        Statement::allow(&["sqs:SendMessage"], vec![d.order_queue.arn()]).sid("RequeueOrders"),
    ];
    let mut statements = statements;
    // It refunds before it releases an expired reservation: the same
    // provider settings and key as the worker.
    if let Some(card) = cx.cfg.payment.as_ref().and_then(|p| p.card_api.as_ref()) {
        vars.extend(card_api_env(card));
        statements.extend(card_api_statements(cx, card));
    }
    vars.insert(
        env::STUCK_AFTER_SECONDS,
        Expr::lit((u64::from(s.stuck_after_minutes) * 60).to_string()),
    );
    let function = add_function(
        cx,
        &SWEEPER,
        ids,
        &ids.sweeper,
        d.key,
        vars,
        statements,
        &cx.cfg.functions.sweeper,
        None,
    )?;
    cx.t.add(function)?;
    let rule = LogicalId::new("OrderSweeperSchedule");
    cx.t.add_resource(
        &rule,
        ScheduleRule {
            description: format!(
                "Runs the order sweeper of county {} every {} minute(s)",
                cx.cfg.id, s.rate_minutes
            ),
            schedule_expression: schedule_expression(s.rate_minutes),
            state: "ENABLED",
            targets: vec![RuleTarget {
                id: "OrderSweeper".into(),
                arn: ids.sweeper.function.arn(),
                role_arn: None,
                // A missed run is made up by the next one: never queue
                // runs up behind an outage.
                dead_letter_config: None,
                retry_policy: Some(RetryPolicy {
                    maximum_event_age_in_seconds: 60 * s.rate_minutes,
                    maximum_retry_attempts: 2,
                }),
            }],
        },
    )?;
    cx.t.add_resource(
        &LogicalId::new("OrderSweeperSchedulePermission"),
        Permission {
            action: "lambda:InvokeFunction",
            function_name: ids.sweeper.function.r#ref(),
            principal: "events.amazonaws.com",
            source_arn: rule.arn(),
            source_account: None,
        },
    )?;
    Ok(())
}

/// A consumer of the OrderById stream: in order per shard, partial batch
/// failures with bisect, bounded retries and record age, and what still
/// fails to `failures`. From the oldest record the stream still has: a new
/// mapping (or a re-created one) misses no order change.
fn order_stream_mapping(stream: Expr, function: Expr, failures: &LogicalId) -> EventSourceMapping {
    EventSourceMapping {
        event_source_arn: stream,
        function_name: function,
        enabled: true,
        batch_size: STREAM_BATCH_SIZE,
        maximum_batching_window_in_seconds: None,
        function_response_types: vec!["ReportBatchItemFailures"],
        scaling_config: None,
        starting_position: Some("TRIM_HORIZON"),
        bisect_batch_on_function_error: Some(true),
        maximum_retry_attempts: Some(STREAM_MAX_RETRIES),
        maximum_record_age_in_seconds: Some(STREAM_MAX_RECORD_AGE_SECONDS),
        parallelization_factor: Some(STREAM_PARALLELIZATION_FACTOR),
        destination_config: Some(DestinationConfig {
            on_failure: OnFailure {
                destination: failures.arn(),
            },
        }),
    }
}

/// EventBridge's rate expression: singular unit for 1.
pub fn schedule_expression(minutes: u32) -> String {
    if minutes == 1 {
        "rate(1 minute)".to_owned()
    } else {
        format!("rate({minutes} minutes)")
    }
}

/// `<table ARN>/index/*`: every GSI of a table.
fn index_arns(table: &LogicalId) -> Expr {
    Expr::sub(format!("${{{table}.Arn}}/index/*"))
}

/// Environment every function gets: `order_domain::store::plan` requires all
/// four order table names, the rules parser requires the rules, and the order
/// API and the worker require the county's payment provider.
fn common_env(cx: &Ctx<'_>, d: &Deps<'_>) -> BTreeMap<&'static str, Expr> {
    let t = d.tables;
    let mut vars = BTreeMap::from([
        (env::COUNTY_ID, Expr::lit(cx.cfg.id.clone())),
        (env::ORDERS_TABLE, t.orders.r#ref()),
        (env::ORDER_BY_ID_TABLE, t.order_by_id.r#ref()),
        (env::INVENTORY_TABLE, t.inventory.r#ref()),
        (env::IDEMPOTENCY_TABLE, t.idempotency.r#ref()),
        (env::ORDER_QUEUE_URL, d.order_queue.r#ref()),
        (env::EVENT_BUS_NAME, Expr::lit(d.events.bus_name.clone())),
        (env::NOTIFICATIONS_TOPIC_ARN, d.events.notifications.r#ref()),
        (env::COUNTY_RULES, Expr::lit(county_rules_json(cx.cfg))),
        (
            env::GSI_WRITE_SHARDS,
            Expr::lit(cx.cfg.gsi_write_shards.to_string()),
        ),
    ]);
    // Unset when the county chose no provider: the order API and the worker
    // then refuse to start, naming the county file setting.
    if let Some(payment) = &cx.cfg.payment {
        vars.insert(env::PAYMENT_PROVIDER, Expr::lit(payment.provider.name()));
    }
    vars
}

/// The card API's settings, for the two functions that charge or refund.
fn card_api_env(card: &CardApiConfig) -> [(&'static str, Expr); 6] {
    let n = |v: u32| Expr::lit(v.to_string());
    [
        (env::PAYMENT_API_URL, Expr::lit(card.base_url.clone())),
        (
            env::PAYMENT_API_KEY_SECRET_ARN,
            Expr::lit(card.api_key_secret_arn.clone()),
        ),
        (env::PAYMENT_CONNECT_TIMEOUT_MS, n(card.connect_timeout_ms)),
        (env::PAYMENT_REQUEST_TIMEOUT_MS, n(card.request_timeout_ms)),
        (env::PAYMENT_MAX_ATTEMPTS, n(card.max_attempts)),
        (env::PAYMENT_CALL_BUDGET_MS, n(card.call_budget_ms)),
    ]
}

/// Reading the card API key: its one secret, and decrypting it through
/// Secrets Manager when the secret is on a key of the county's own.
fn card_api_statements(cx: &Ctx<'_>, card: &CardApiConfig) -> Vec<Statement> {
    let mut statements = vec![
        Statement::allow(
            &["secretsmanager:GetSecretValue"],
            vec![Expr::lit(card.api_key_secret_arn.clone())],
        )
        .sid("CardApiKeySecret"),
    ];
    if let Some(key) = &card.api_key_kms_key_arn {
        statements.push(
            Statement::allow(&["kms:Decrypt"], vec![Expr::lit(key.clone())])
                .when(
                    "StringEquals",
                    "kms:ViaService",
                    format!("secretsmanager.{}.amazonaws.com", cx.cfg.region),
                )
                .sid("CardApiKeySecretKey"),
        );
    }
    statements
}

fn architecture(a: Architecture) -> &'static str {
    match a {
        Architecture::Arm64 => "arm64",
        Architecture::X86_64 => "x86_64",
    }
}

fn code_key_parameter(spec: &Spec) -> String {
    format!("{}CodeKey", spec.prefix)
}

fn add_parameters(cx: &mut Ctx<'_>, ids: &Functions) -> Result<(), TemplateError> {
    let bucket = crate::bootstrap::assets_bucket_name(&cx.cfg.account, &cx.cfg.region);
    cx.t.add_parameter(
        ASSET_BUCKET_PARAMETER,
        Parameter {
            default: Some(bucket),
            // S3 bucket naming rules.
            allowed_pattern: Some("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$".into()),
            constraint_description: Some("an S3 bucket name".into()),
            ..Parameter::string("Bucket holding the function bundles (the bootstrap assets bucket)")
        },
    )?;
    let arch = architecture(cx.cfg.functions.architecture);
    let mut assets = AssetMetadata::default();
    let wanted = ALL
        .into_iter()
        .filter(|s| s.crate_name != LEGACY_SYNC.crate_name || ids.legacy_sync.is_some());
    for spec in wanted {
        let name = code_key_parameter(spec);
        cx.t.add_parameter(
            &name,
            Parameter {
                allowed_pattern: Some(ASSET_KEY_PATTERN.into()),
                constraint_description: Some(
                    "assets/<SHA-256 of the bundle, 64 lowercase hex>.zip".into(),
                ),
                ..Parameter::string(&format!(
                    "S3 key of the {} bundle ({arch})",
                    spec.crate_name
                ))
            },
        )?;
        let bundle = FunctionBundle {
            function: spec.crate_name.to_owned(),
            architecture: arch.to_owned(),
        };
        assets.0.insert(name, bundle);
    }
    let value = serde_json::to_value(&assets).map_err(|e| TemplateError::Serialize {
        id: ASSETS_METADATA_KEY.to_owned(),
        message: e.to_string(),
    })?;
    cx.t.set_metadata(ASSETS_METADATA_KEY, value);
    Ok(())
}

/// The dead-letter queue of asynchronous invocations and the publisher's
/// stream failure queue: on the county key, TLS only, retained (each message
/// is work nobody has done yet).
fn add_failure_queues(
    cx: &mut Ctx<'_>,
    ids: &Functions,
    key: &LogicalId,
) -> Result<(), TemplateError> {
    let mut queues = vec![&ids.dead_letter_queue];
    queues.extend(ids.publisher_failure_queue.as_ref());
    queues.extend(ids.legacy_sync_failure_queue.as_ref());
    for id in &queues {
        cx.t.add(
            Res::new(
                id,
                Queue {
                    kms_master_key_id: key.arn(),
                    kms_data_key_reuse_period_seconds: 300,
                    visibility_timeout: 300,
                    message_retention_period: FAILURE_RETENTION_SECONDS,
                    receive_message_wait_time_seconds: Some(20),
                    redrive_policy: None,
                    redrive_allow_policy: None,
                    tags: cx.tags.clone(),
                },
            )?
            .retain(),
        )?;
    }
    cx.t.add_resource(
        &LogicalId::new("FunctionQueuesPolicy"),
        QueuePolicy {
            queues: queues.iter().map(|q| q.r#ref()).collect(),
            policy_document: PolicyDocument::new(vec![Statement::deny_insecure_transport(
                &["sqs:*"],
                queues.iter().map(|q| q.arn()).collect(),
            )]),
        },
    )?;
    Ok(())
}

/// Adds a function's log group and role, and returns the function itself for
/// the caller to add (with any `DependsOn` it needs).
#[allow(clippy::too_many_arguments)]
fn add_function(
    cx: &mut Ctx<'_>,
    spec: &Spec,
    all: &Functions,
    ids: &FunctionIds,
    key: &LogicalId,
    variables: BTreeMap<&'static str, Expr>,
    mut statements: Vec<Statement>,
    settings: &FunctionSettings,
    vpc: Option<VpcConfig>,
) -> Result<Res, TemplateError> {
    let name = function_name(&cx.cfg.id, spec.crate_name);
    cx.t.add(
        Res::new(
            &ids.log_group,
            LogGroup {
                log_group_name: Expr::lit(format!("/aws/lambda/{name}")),
                retention_in_days: cx.cfg.log_retention_days,
                kms_key_id: key.arn(),
                tags: cx.tags.clone(),
            },
        )?
        .retain(),
    )?;

    statements.extend([
        Statement::allow(
            &["logs:CreateLogStream", "logs:PutLogEvents"],
            vec![ids.log_group.arn()],
        )
        .sid("WriteOwnLogGroup"),
        // X-Ray's trace APIs authorize against no resource type (IAM's
        // Service Authorization Reference): `*` is their only form.
        Statement::allow(
            &["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
            vec![Expr::lit("*")],
        )
        .sid("XRayHasNoResourceScope"),
        // Every table, queue, topic and bus of the county is on the county
        // key; Lambda also decrypts the environment with it at cold start.
        Statement::allow(&["kms:Decrypt", "kms:GenerateDataKey"], vec![key.arn()]).sid("CountyKey"),
        Statement::allow(&["sqs:SendMessage"], vec![all.dead_letter_queue.arn()])
            .sid("AsyncFailuresToDeadLetterQueue"),
    ]);
    cx.t.add_resource(
        &ids.role,
        Role {
            description: format!("Execution role of {name}"),
            assume_role_policy_document: PolicyDocument::new(vec![Statement::assume_role(
                Principal::service("lambda.amazonaws.com"),
            )]),
            managed_policy_arns: match vpc {
                Some(_) => vec![Expr::sub(VPC_ACCESS_POLICY)],
                None => vec![],
            },
            policies: vec![InlinePolicy {
                policy_name: "LeastPrivilege".into(),
                policy_document: PolicyDocument::new(statements),
            }],
            tags: cx.tags.clone(),
        },
    )?;
    cx.t.guard_suppress(&ids.role, &guard::IAM_INLINE_POLICY)?;
    cx.t.guard_suppress(&ids.role, &guard::IAM_STAR_FOR_UNSCOPED_ACTIONS)?;

    let in_vpc = vpc.is_some();
    let mut skips = Vec::new();
    if !in_vpc {
        skips.push(json!({"id": "CKV_AWS_117", "comment": NOT_IN_VPC}));
    }
    if settings.reserved_concurrency.is_none() {
        skips.push(json!({"id": "CKV_AWS_115", "comment": NO_RESERVED_CONCURRENCY}));
    }
    Res::new(
        &ids.function,
        Function {
            description: format!("{} (county {})", spec.description, cx.cfg.id),
            function_name: name,
            runtime: "provided.al2023",
            handler: "bootstrap",
            architectures: vec![architecture(cx.cfg.functions.architecture)],
            code: Code {
                s3_bucket: Expr::param(ASSET_BUCKET_PARAMETER),
                s3_key: Expr::param(&code_key_parameter(spec)),
            },
            role: ids.role.arn(),
            memory_size: settings.memory_mb,
            timeout: settings.timeout_seconds,
            reserved_concurrent_executions: settings.reserved_concurrency,
            environment: Environment { variables },
            kms_key_arn: key.arn(),
            tracing_config: TracingConfig { mode: "Active" },
            logging_config: LoggingConfig {
                log_group: ids.log_group.r#ref(),
                // lambda_runtime's tracing subscriber follows
                // AWS_LAMBDA_LOG_FORMAT: structured lines for Logs Insights.
                log_format: "JSON",
            },
            dead_letter_config: DeadLetterConfig {
                target_arn: all.dead_letter_queue.arn(),
            },
            vpc_config: vpc,
            tags: cx.tags.clone(),
        },
    )
    .map(|r| {
        let r = if skips.is_empty() {
            r
        } else {
            r.metadata("checkov", json!({ "skip": skips }))
        };
        let r = if in_vpc {
            r
        } else {
            r.guard_suppress(&Suppression {
                rule: "LAMBDA_INSIDE_VPC",
                reason: NOT_IN_VPC,
            })
        };
        match settings.reserved_concurrency {
            Some(_) => r,
            None => r.guard_suppress(&Suppression {
                rule: "LAMBDA_CONCURRENCY_CHECK",
                reason: NO_RESERVED_CONCURRENCY,
            }),
        }
    })
}

/// Why the functions run outside a VPC (checkov CKV_AWS_117, guard LAMBDA_INSIDE_VPC).
const NOT_IN_VPC: &str = "Calls only regional AWS service endpoints (DynamoDB, SQS, SNS, EventBridge, KMS) over TLS with SigV4 and uses no VPC resource";
/// Why a function may have no reserved concurrency (CKV_AWS_115, LAMBDA_CONCURRENCY_CHECK).
const NO_RESERVED_CONCURRENCY: &str = "No reserved concurrency configured for this county: concurrency is bounded by the event source (SQS MaximumConcurrency, one batch per stream shard)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_helpers_serialize_to_iam_shapes() {
        let t = LogicalId::new("OrdersTable");
        assert_eq!(
            serde_json::to_value(index_arns(&t)).expect("json"),
            json!({"Fn::Sub": "${OrdersTable.Arn}/index/*"})
        );
        assert_eq!(architecture(Architecture::Arm64), "arm64");
        assert_eq!(architecture(Architecture::X86_64), "x86_64");
        assert_eq!(code_key_parameter(&PUBLISHER), "StreamPublisherCodeKey");
    }

    #[test]
    fn function_names_fit_lambdas_limit_for_the_longest_county_id() {
        let longest = "a".repeat(acme_contract::ids::COUNTY_ID_MAX_LEN);
        for spec in ALL {
            assert!(function_name(&longest, spec.crate_name).len() <= 64);
        }
    }

    #[test]
    fn schedules_use_eventbridges_rate_syntax() {
        assert_eq!(schedule_expression(1), "rate(1 minute)");
        assert_eq!(schedule_expression(5), "rate(5 minutes)");
    }

    #[test]
    fn the_build_script_bundles_every_function() {
        let script = include_str!("../../../scripts/build-functions.sh");
        let line = script
            .lines()
            .find(|l| l.starts_with("functions=("))
            .expect("a functions=(...) line");
        let listed: Vec<&str> = line
            .trim_start_matches("functions=(")
            .trim_end_matches(')')
            .split_whitespace()
            .collect();
        assert_eq!(listed, FUNCTION_CRATES, "scripts/build-functions.sh");
    }
}

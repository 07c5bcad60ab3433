//! The county stack: one CloudFormation template per county, a pure function of
//! the county's [`CountyConfig`]. Each concern adds its resources in its own
//! module and hands back the logical ids later modules need in [`Refs`].

pub mod alarms;
pub mod analytics;
pub mod api;
pub mod audit;
pub mod audit_alarms;
pub mod events;
pub mod functions;
mod keys;
pub mod migration;
mod outputs;
pub mod pii;
mod queues;
pub mod shadow;
pub mod tables;

use crate::cfn::{Tag, Template, TemplateError};
use crate::config::CountyConfig;

pub use tables::GSI_PROJECTION_RATIONALE;

/// CloudFormation stack name of a county: `acme-<county id>`.
pub fn stack_name(county_id: &str) -> String {
    format!("acme-{county_id}")
}

/// Tags every taggable resource of a county carries (sorted by key): the
/// reserved `county`, `state` and `managed-by`, then the county's own.
pub fn tags(cfg: &CountyConfig) -> Vec<Tag> {
    let mut tags: Vec<Tag> = cfg
        .tags
        .iter()
        .map(|(k, v)| Tag::new(k, v.as_str()))
        .collect();
    tags.push(Tag::new("county", cfg.id.as_str()));
    tags.push(Tag::new("managed-by", "acme-infra"));
    tags.push(Tag::new("state", cfg.state.as_str()));
    tags.sort();
    tags
}

/// Logical ids of the resources that later parts of the stack refer to.
#[derive(Debug, Clone)]
pub struct Refs {
    pub key: crate::cfn::LogicalId,
    pub orders: crate::cfn::LogicalId,
    pub order_by_id: crate::cfn::LogicalId,
    pub inventory: crate::cfn::LogicalId,
    pub idempotency: crate::cfn::LogicalId,
    pub order_queue: crate::cfn::LogicalId,
    pub order_dlq: crate::cfn::LogicalId,
    pub events: events::Events,
    /// Customer PII: its own key and table.
    pub pii: Pii,
    /// The four functions, their roles and log groups.
    pub functions: Functions,
    /// REST API, stage and WAF web ACL.
    pub front_door: FrontDoor,
    /// Firehose, analytics bucket, Glue catalog, Athena (`analytics.rs`).
    pub analytics: analytics::Analytics,
    /// CloudTrail, the Object Lock audit bucket, access logs (`audit.rs`).
    pub audit: audit::Audit,
    /// `MigrationRole` (`migration.rs`), only with a `migration:` section.
    pub migration: Option<crate::cfn::LogicalId>,
}

/// Logical ids of one function and the resources that belong to it only.
#[derive(Debug, Clone)]
pub struct FunctionIds {
    /// `AWS::Lambda::Function`, e.g. `OrderApiFunction` (`Ref` = function name).
    pub function: crate::cfn::LogicalId,
    /// Its execution role, e.g. `OrderApiRole`.
    pub role: crate::cfn::LogicalId,
    /// Its log group, e.g. `OrderApiLogGroup` (`Ref` = log group name).
    pub log_group: crate::cfn::LogicalId,
}

/// The county's functions (`functions.rs`).
#[derive(Debug, Clone)]
pub struct Functions {
    /// `OrderApiFunction`: behind API Gateway.
    pub api: FunctionIds,
    /// `OrderWorkerFunction`: consumes the order queue.
    pub worker: FunctionIds,
    /// `StreamPublisherFunction`: consumes the OrderById stream (present even
    /// when streams are off; then it has no event source).
    pub publisher: FunctionIds,
    /// `OrderSweeperFunction`: run by the `OrderSweeperSchedule` rule.
    pub sweeper: FunctionIds,
    /// `FunctionDeadLetterQueue`: failed asynchronous invocations of any function.
    pub dead_letter_queue: crate::cfn::LogicalId,
    /// `PublisherFailureQueue`: stream batches the publisher gave up on; only
    /// when `streams_enabled`.
    pub publisher_failure_queue: Option<crate::cfn::LogicalId>,
    /// `LegacySyncFunction`: the OrderById stream into the legacy database;
    /// only with `migration.legacy_sync` (and streams on).
    pub legacy_sync: Option<FunctionIds>,
    /// `LegacySyncFailureQueue`: records legacy-sync could not write (with
    /// the reason) and batches it gave up on; with `legacy_sync`.
    pub legacy_sync_failure_queue: Option<crate::cfn::LogicalId>,
}

/// The front door (`api.rs`). WAF metric names for alarms: ACL metric
/// [`api::WEB_ACL_METRIC`] (`OrderApiWebAcl`), rate rule metric
/// [`api::RATE_LIMIT_METRIC`] (`RateLimit`).
#[derive(Debug, Clone)]
pub struct FrontDoor {
    /// `OrderApi` (`AWS::ApiGateway::RestApi`; `Ref` = API id).
    pub rest_api: crate::cfn::LogicalId,
    /// `OrderApiStage` (`AWS::ApiGateway::Stage`).
    pub stage: crate::cfn::LogicalId,
    /// The stage name, `live` (CloudWatch dimension `Stage`).
    pub stage_name: &'static str,
    /// Access-log group of the stage.
    pub access_log_group: crate::cfn::LogicalId,
    /// `OrderApiWebAcl` (`AWS::WAFv2::WebACL`, REGIONAL).
    pub web_acl: crate::cfn::LogicalId,
    /// WAF log group (`aws-waf-logs-...`).
    pub waf_log_group: crate::cfn::LogicalId,
}

/// Customer PII (`pii.rs`).
#[derive(Debug, Clone)]
pub struct Pii {
    /// `CustomersKey`: only `OrderApiRole` (and `MigrationRole`, when there
    /// is one) may use it.
    pub key: crate::cfn::LogicalId,
    /// `CustomersTable`.
    pub table: crate::cfn::LogicalId,
}

/// Everything a stack builder needs: the county, its tags and the template.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a CountyConfig,
    pub tags: Vec<Tag>,
    pub t: Template,
}

/// Builds a county's template.
pub fn build(cfg: &CountyConfig) -> Result<Template, TemplateError> {
    let mut cx = Ctx {
        cfg,
        tags: tags(cfg),
        t: Template::new(format!(
            "ACME Liquors order system for {} ({}, {}): county {}",
            cfg.name, cfg.state, cfg.region, cfg.id
        )),
    };
    let key = keys::add(&mut cx)?;
    let tables = tables::add(&mut cx, &key)?;
    let (order_queue, order_dlq) = queues::add(&mut cx, &key)?;
    let shadow_reads = shadow::add_queues(&mut cx, &key)?;
    let events = events::add(&mut cx, &key)?;
    let function_ids = functions::ids(cfg);
    let migration_role = migration::role(cfg);
    let pii = pii::add(&mut cx, &function_ids.api.role, migration_role.as_ref())?;
    let functions = functions::add(
        &mut cx,
        function_ids,
        &functions::Deps {
            key: &key,
            tables: &tables,
            order_queue: &order_queue,
            events: &events,
            pii: &pii,
            shadow_reads: shadow_reads.as_ref(),
        },
    )?;
    let migration = match &cfg.migration {
        Some(m) => Some(migration::add(&mut cx, m, &key, &tables, &pii)?),
        None => None,
    };
    if let (Some(s), Some(role)) = (&shadow_reads, &migration) {
        shadow::add_access(&mut cx, s, &functions.api.role, role, &events.operations)?;
    }
    let front_door = api::add(&mut cx, &key, &functions)?;
    let access_logs = audit::add_access_logs(&mut cx)?;
    let analytics = analytics::add(
        &mut cx,
        &key,
        &events,
        &access_logs,
        cfg.analytics.redshift_serverless,
    )?;
    let audit = audit::add(
        &mut cx,
        &key,
        &[&tables.orders, &tables.order_by_id, &pii.table],
        &analytics.bucket,
        &access_logs,
    )?;
    let refs = Refs {
        key,
        orders: tables.orders,
        order_by_id: tables.order_by_id,
        inventory: tables.inventory,
        idempotency: tables.idempotency,
        order_queue,
        order_dlq,
        events,
        pii,
        functions,
        front_door,
        analytics,
        audit,
        migration,
    };
    // Alarms and the dashboard watch everything above, so they come last.
    let monitoring = alarms::add(&mut cx, &refs)?;
    outputs::add(&mut cx, &refs)?;
    outputs::add_monitoring(&mut cx, &monitoring)?;
    cx.t.check_references()?;
    Ok(cx.t)
}

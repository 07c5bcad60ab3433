//! The service quotas a county needs, read through the Service Quotas API:
//! `GetServiceQuota` gives the applied value; where it answers
//! `NoSuchResourceException` (no applied value: the default holds),
//! `GetAWSDefaultServiceQuota` gives the default. Each check is a read
//! ([`read`]) and a pure verdict over the figures ([`lambda_verdict`],
//! [`api_verdict`], [`tables_verdict`]).

use std::fmt;

use acme_stacks::config::CountyConfig;
use aws_sdk_servicequotas::Client;
use aws_sdk_servicequotas::operation::get_service_quota::GetServiceQuotaError;

use super::{Check, Outcome, brief};

/// One quota, as the Service Quotas console and CLI name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaId {
    pub service: &'static str,
    pub code: &'static str,
    pub name: &'static str,
}

/// Lambda's concurrent executions per region.
pub const LAMBDA_CONCURRENCY: QuotaId = QuotaId {
    service: "lambda",
    code: "L-B99A9384",
    name: "Concurrent executions",
};
/// API Gateway's throttle rate per account per region, shared by every API
/// in the region (requests per second).
pub const API_THROTTLE: QuotaId = QuotaId {
    service: "apigateway",
    code: "L-8A5B8E43",
    name: "Throttle rate",
};
/// DynamoDB's maximum number of tables per region.
pub const DYNAMODB_TABLES: QuotaId = QuotaId {
    service: "dynamodb",
    code: "L-F98FE922",
    name: "Maximum number of tables",
};

/// Lambda keeps this much of the account's concurrency unreserved: a
/// reservation that would leave less fails (`ReservedConcurrentExecutions
/// ... decreases account's UnreservedConcurrentExecution below its minimum
/// value of [100]`).
pub const LAMBDA_UNRESERVED_MINIMUM: u64 = 100;

/// Where a quota's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `GetServiceQuota`: the account's applied value.
    Applied,
    /// `GetAWSDefaultServiceQuota`, the account having no applied value.
    Default,
}

/// A quota's value as read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub value: f64,
    pub source: Source,
}

impl Quota {
    /// Quotas are whole numbers of executions, requests or tables; the API
    /// carries them as doubles.
    fn whole(&self) -> u64 {
        self.value.max(0.0).floor() as u64
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Applied => "applied",
            Source::Default => "AWS default, no applied value",
        })
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.whole(), self.source)
    }
}

/// The applied value of `id`, else its default when the account has none;
/// the error says which calls failed and how.
pub async fn read(client: &Client, id: QuotaId) -> Result<Quota, String> {
    let applied = client
        .get_service_quota()
        .service_code(id.service)
        .quota_code(id.code)
        .send()
        .await;
    match applied {
        Ok(out) => value(out.quota(), Source::Applied, "GetServiceQuota"),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(GetServiceQuotaError::NoSuchResourceException(_))
            ) =>
        {
            let default = client
                .get_aws_default_service_quota()
                .service_code(id.service)
                .quota_code(id.code)
                .send()
                .await;
            match default {
                Ok(out) => value(out.quota(), Source::Default, "GetAWSDefaultServiceQuota"),
                Err(d) => Err(format!(
                    "GetServiceQuota: NoSuchResourceException, then GetAWSDefaultServiceQuota: {}",
                    brief(&d)
                )),
            }
        }
        Err(e) => Err(format!("GetServiceQuota: {}", brief(&e))),
    }
}

fn value(
    quota: Option<&aws_sdk_servicequotas::types::ServiceQuota>,
    source: Source,
    call: &str,
) -> Result<Quota, String> {
    quota
        .and_then(|q| q.value())
        .map(|value| Quota { value, source })
        .ok_or_else(|| format!("{call} answered without a value"))
}

/// The shell command that reads `id` by hand.
fn by_hand(id: QuotaId, region: &str) -> String {
    format!(
        "`aws service-quotas get-service-quota --service-code {} --quota-code {} --region {region}`",
        id.service, id.code
    )
}

/// A quota that could not be read: a warning naming the permission and
/// the command that reads it.
fn unread(name: &'static str, id: QuotaId, region: &str, why: &str, need: &str) -> Check {
    Check::new(
        name,
        Outcome::Warn,
        format!(
            "{} quota not read ({why}); {need}: allow servicequotas:GetServiceQuota and servicequotas:GetAWSDefaultServiceQuota, or check by hand: {}",
            id.name,
            by_hand(id, region)
        ),
    )
}

/// What a county asks of the account's Lambda concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LambdaNeed {
    /// Sum of the functions' reserved concurrency.
    pub reserved: u64,
    /// The worker's queue `max_concurrency` when the worker has no
    /// reservation (a reservation already bounds it and is counted above).
    pub worker: u64,
}

impl LambdaNeed {
    pub fn of(cfg: &CountyConfig) -> Self {
        let f = &cfg.functions;
        let reserved = [&f.api, &f.worker, &f.publisher, &f.sweeper]
            .iter()
            .filter_map(|s| s.reserved_concurrency)
            .map(u64::from)
            .sum();
        let worker = match f.worker.reserved_concurrency {
            Some(_) => 0,
            None => u64::from(cfg.queue.max_concurrency),
        };
        Self { reserved, worker }
    }

    /// Below this the deploy itself fails: reservations may not eat into
    /// the unreserved minimum.
    pub fn deployable(&self) -> u64 {
        self.reserved + LAMBDA_UNRESERVED_MINIMUM
    }

    /// Enough for the worker to reach its queue's maximum concurrency too.
    pub fn total(&self) -> u64 {
        self.deployable() + self.worker
    }

    fn figures(&self) -> String {
        format!(
            "the county needs {}: {} reserved + {} for the worker's queue + the {LAMBDA_UNRESERVED_MINIMUM} Lambda keeps unreserved",
            self.total(),
            self.reserved,
            self.worker
        )
    }
}

pub const LAMBDA_CHECK: &str = "lambda concurrency";
pub const API_CHECK: &str = "api gateway quota";
pub const TABLES_CHECK: &str = "dynamodb tables";

/// Concurrent executions against what the county reserves and runs.
pub fn lambda_verdict(need: LambdaNeed, quota: Result<Quota, String>, region: &str) -> Check {
    let id = LAMBDA_CONCURRENCY;
    let quota = match quota {
        Ok(q) => q,
        Err(why) => return unread(LAMBDA_CHECK, id, region, &why, &need.figures()),
    };
    let have = quota.whole();
    let (outcome, verdict) = if have >= need.total() {
        (Outcome::Pass, String::new())
    } else if have >= need.deployable() {
        (
            Outcome::Warn,
            format!(
                ": the deploy succeeds, but the worker cannot reach its {} at once; {}",
                need.worker,
                increase(id, need.total())
            ),
        )
    } else {
        (
            Outcome::Fail,
            format!(
                ": the reservations would leave less than {LAMBDA_UNRESERVED_MINIMUM} unreserved and the deploy would fail; {}",
                increase(id, need.total())
            ),
        )
    };
    Check::new(
        LAMBDA_CHECK,
        outcome,
        format!("quota {quota}, {}{verdict}", need.figures()),
    )
}

/// The stage's steady rate against the account's throttle in the region.
/// Over it the deploy succeeds, but the account throttles first.
pub fn api_verdict(rate: u32, burst: u32, quota: Result<Quota, String>, region: &str) -> Check {
    let id = API_THROTTLE;
    let need = format!("the stage asks for {rate} requests/s (burst {burst})");
    let quota = match quota {
        Ok(q) => q,
        Err(why) => return unread(API_CHECK, id, region, &why, &need),
    };
    let detail = format!(
        "account throttle {} requests/s ({}), shared by every API in {region}; {need}",
        quota.whole(),
        quota.source
    );
    if u64::from(rate) <= quota.whole() {
        Check::new(API_CHECK, Outcome::Pass, detail)
    } else {
        Check::new(
            API_CHECK,
            Outcome::Warn,
            format!(
                "{detail}: the account throttles first; {} or lower api.throttle_rate",
                increase(id, u64::from(rate))
            ),
        )
    }
}

/// Tables the account holds besides the county's, as far as `ListTables`
/// could say.
pub type OtherTables = Result<u64, String>;

/// The table quota against the tables already in the account (not the
/// county's own) plus the county's.
pub fn tables_verdict(
    county: u64,
    others: OtherTables,
    quota: Result<Quota, String>,
    region: &str,
) -> Check {
    let id = DYNAMODB_TABLES;
    let (need, counted) = match &others {
        Ok(n) => (
            n + county,
            format!(
                "{n} other tables in the account + the county's {county} = {}",
                n + county
            ),
        ),
        Err(why) => (
            county,
            format!(
                "the county creates {county}; tables already in the account not counted ({why}: allow dynamodb:ListTables)"
            ),
        ),
    };
    let quota = match quota {
        Ok(q) => q,
        Err(why) => return unread(TABLES_CHECK, id, region, &why, &counted),
    };
    let detail = format!("quota {quota}; {counted}");
    if need > quota.whole() {
        Check::new(
            TABLES_CHECK,
            Outcome::Fail,
            format!(
                "{detail}: CreateTable would fail and the deploy roll back; {} or delete unused tables",
                increase(id, need)
            ),
        )
    } else if others.is_err() {
        Check::new(TABLES_CHECK, Outcome::Warn, detail)
    } else {
        Check::new(TABLES_CHECK, Outcome::Pass, detail)
    }
}

fn increase(id: QuotaId, to: u64) -> String {
    format!(
        "request an increase: `aws service-quotas request-service-quota-increase --service-code {} --quota-code {} --desired-value {to}`",
        id.service, id.code
    )
}

/// Tables in the account that are not the county's: CloudFormation names
/// the tables it creates `<stack>-<logical id>-<suffix>`.
pub async fn other_tables(client: &aws_sdk_dynamodb::Client, cfg: &CountyConfig) -> OtherTables {
    let own = format!("{}-", acme_stacks::county::stack_name(&cfg.id));
    let mut pages = client.list_tables().into_paginator().send();
    let mut count = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("ListTables: {}", brief(&e)))?;
        count += page
            .table_names()
            .iter()
            .filter(|n| !n.starts_with(&own))
            .count() as u64;
    }
    Ok(count)
}

/// The three quota lines, their reads run together.
pub async fn checks(
    quotas: &Client,
    dynamodb: &aws_sdk_dynamodb::Client,
    cfg: &CountyConfig,
) -> [Check; 3] {
    let (lambda, api, tables, others) = tokio::join!(
        read(quotas, LAMBDA_CONCURRENCY),
        read(quotas, API_THROTTLE),
        read(quotas, DYNAMODB_TABLES),
        other_tables(dynamodb, cfg),
    );
    let county_tables = acme_stacks::county::tables::table_specs(cfg).len() as u64;
    [
        lambda_verdict(LambdaNeed::of(cfg), lambda, &cfg.region),
        api_verdict(
            cfg.api.throttle_rate,
            cfg.api.throttle_burst,
            api,
            &cfg.region,
        ),
        tables_verdict(county_tables, others, tables, &cfg.region),
    ]
}

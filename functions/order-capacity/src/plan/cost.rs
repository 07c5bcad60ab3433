//! A county's monthly bill, service by service, from the plan's rates, the
//! measured sample and the price table. What each line counts is in its
//! `basis`; the assumptions no measurement gives (function durations, event
//! sizes) are the constants below, and docs/plan.md lists them.

use acme_stacks::config::{Architecture, CapacityMode, CountyConfig, LoadConfig};
use acme_stacks::county::api::MANAGED_RULE_GROUPS;
use order_domain::store::Table;
use serde::Serialize;

use super::{CapacityChoice, HOURS_PER_MONTH, Rates};
use crate::flows::Measured;
use crate::meter::Target;
use crate::plan::prices::{Price, PriceFile, Prices};

/// Milliseconds an order API invocation is billed (a DynamoDB transaction or
/// read and the response).
pub const API_MS: f64 = 50.0;
/// Milliseconds a worker invocation is billed per order (two transactions
/// and the payment gateway's round trip).
pub const WORKER_MS: f64 = 300.0;
/// Milliseconds a stream-publisher invocation is billed per stream record.
pub const PUBLISHER_MS: f64 = 40.0;
/// SQS requests per order: send, receive, delete.
pub const SQS_REQUESTS_PER_ORDER: f64 = 3.0;
/// Lambda's SQS poller keeps this many long polls (20 s each) open on an
/// idle queue.
pub const SQS_IDLE_POLLERS: f64 = 5.0;
pub const SQS_LONG_POLL_SECONDS: f64 = 20.0;
/// Bytes an order event takes in the analytics bucket.
pub const EVENT_BYTES: f64 = 1024.0;
/// Firehose bills each record in 5 KB steps; an order event is under 5 KB.
pub const FIREHOSE_BILLED_RECORD_BYTES: f64 = 5.0 * 1024.0;
/// Objects a month Firehose and CloudTrail each write (one per 5-minute
/// buffer or delivery).
pub const OBJECTS_PER_MONTH_EACH: f64 = HOURS_PER_MONTH * 12.0;

const GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The monthly bill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    /// The price table's date, when it was last checked against AWS's
    /// pricing pages, and the region priced.
    pub prices_as_of: String,
    pub prices_checked_on: String,
    pub region: String,
    pub lines: Vec<CostLine>,
    pub total_usd: f64,
}

/// One service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostLine {
    pub service: &'static str,
    pub usd: f64,
    /// What was counted, for a reader checking the figure.
    pub basis: String,
    /// The prices this line uses (`service.item` keys of the price file)
    /// that no stored AWS source confirmed for the region when they were
    /// checked: the figure may be off by what those prices are.
    pub unconfirmed_prices: Vec<&'static str>,
}

/// The counts the bill is made of, per month.
struct Volumes {
    orders: f64,
    api_requests: f64,
    /// Stream records of OrderById: one per write, each an order event.
    events: f64,
    /// DynamoDB write calls (each a CloudTrail data event).
    write_calls: f64,
}

fn volumes(load: &LoadConfig, rates: &Rates, measured: &Measured) -> Volumes {
    let orders = rates.orders_per_month;
    let n = measured.orders.max(1) as f64;
    let life = measured.lifecycle();
    let record = Target::Table(Table::OrderById);
    let events_per_order = life.charges().filter(|c| c.target == record).count() as f64 / n;
    Volumes {
        orders,
        api_requests: orders * f64::from(1 + load.reads_per_order),
        events: orders * events_per_order,
        write_calls: orders * life.requests.len() as f64 / n,
    }
}

pub(super) fn monthly(
    cfg: &CountyConfig,
    load: &LoadConfig,
    rates: &Rates,
    measured: &Measured,
    capacity: &CapacityChoice,
    p: &Prices,
    file: &PriceFile,
) -> Cost {
    let v = volumes(load, rates, measured);
    let api = &p.api_gateway.rest_requests_per_million;
    let firehose = &p.firehose.ingested_gb;
    let lines = vec![
        dynamodb(cfg, capacity, p),
        lambda(cfg, &v, p),
        sqs(&v, p),
        line(
            "API Gateway",
            v.api_requests / 1e6 * api.usd,
            format!("{:.0} REST API requests", v.api_requests),
            &[("api_gateway.rest_requests_per_million", api)],
        ),
        waf(&v, p),
        line(
            "Firehose",
            v.events * FIREHOSE_BILLED_RECORD_BYTES / GB * firehose.usd,
            format!("{:.0} order events, billed at 5 KB each", v.events),
            &[("firehose.ingested_gb", firehose)],
        ),
        s3(&v, p),
        cloudtrail(load, &v, p),
    ];
    let lines = lines
        .into_iter()
        .map(|l| l.confirmed_in(&cfg.region))
        .collect::<Vec<_>>();
    Cost {
        prices_as_of: file.as_of.clone(),
        prices_checked_on: file.checked_on.clone(),
        region: cfg.region.clone(),
        total_usd: lines.iter().map(|l| l.usd).sum(),
        lines,
    }
}

/// A line before its prices are checked against the region: the prices it
/// used, by key.
struct Draft<'a> {
    line: CostLine,
    used: Vec<(&'static str, &'a Price)>,
}

impl Draft<'_> {
    fn confirmed_in(self, region: &str) -> CostLine {
        let unconfirmed_prices = self
            .used
            .iter()
            .filter(|(_, p)| !p.confirmed_for(region))
            .map(|(key, _)| *key)
            .collect();
        CostLine {
            unconfirmed_prices,
            ..self.line
        }
    }
}

fn line<'a>(
    service: &'static str,
    usd: f64,
    basis: String,
    used: &[(&'static str, &'a Price)],
) -> Draft<'a> {
    Draft {
        line: CostLine {
            service,
            usd,
            basis,
            unconfirmed_prices: Vec::new(),
        },
        used: used.to_vec(),
    }
}

/// The county's configured mode, priced.
fn dynamodb<'a>(cfg: &CountyConfig, c: &CapacityChoice, p: &'a Prices) -> Draft<'a> {
    let d = &p.dynamodb;
    match cfg.capacity {
        CapacityMode::OnDemand => line(
            "DynamoDB",
            c.on_demand_usd.unwrap_or_default(),
            "on-demand request units (as configured)".to_owned(),
            &[
                (
                    "dynamodb.on_demand_write_per_million",
                    &d.on_demand_write_per_million,
                ),
                (
                    "dynamodb.on_demand_read_per_million",
                    &d.on_demand_read_per_million,
                ),
            ],
        ),
        CapacityMode::Provisioned(_) => line(
            "DynamoDB",
            c.provisioned_usd.unwrap_or_default(),
            format!(
                "{:.0} WCU-hours, {:.0} RCU-hours provisioned (as configured)",
                c.provisioned_wcu_hours, c.provisioned_rcu_hours
            ),
            &[
                ("dynamodb.provisioned_wcu_hour", &d.provisioned_wcu_hour),
                ("dynamodb.provisioned_rcu_hour", &d.provisioned_rcu_hour),
            ],
        ),
    }
}

fn lambda<'a>(cfg: &CountyConfig, v: &Volumes, p: &'a Prices) -> Draft<'a> {
    let f = &cfg.functions;
    let gb_s = |calls: f64, ms: f64, mb: u32| calls * ms / 1000.0 * f64::from(mb) / 1024.0;
    let calls = v.api_requests + v.orders + v.events;
    let gb_seconds = gb_s(v.api_requests, API_MS, f.api.memory_mb)
        + gb_s(v.orders, WORKER_MS, f.worker.memory_mb)
        + gb_s(v.events, PUBLISHER_MS, f.publisher.memory_mb);
    let l = &p.lambda;
    let per_gb_s = match f.architecture {
        Architecture::Arm64 => ("lambda.gb_second_arm64", &l.gb_second_arm64),
        Architecture::X86_64 => ("lambda.gb_second_x86_64", &l.gb_second_x86_64),
    };
    line(
        "Lambda",
        calls / 1e6 * l.requests_per_million.usd + gb_seconds * per_gb_s.1.usd,
        format!("{calls:.0} invocations, {gb_seconds:.0} GB-seconds"),
        &[
            ("lambda.requests_per_million", &l.requests_per_million),
            per_gb_s,
        ],
    )
}

fn sqs<'a>(v: &Volumes, p: &'a Prices) -> Draft<'a> {
    let idle = SQS_IDLE_POLLERS * HOURS_PER_MONTH * 3600.0 / SQS_LONG_POLL_SECONDS;
    let requests = v.orders * SQS_REQUESTS_PER_ORDER + idle;
    let price = &p.sqs.requests_per_million;
    line(
        "SQS",
        requests / 1e6 * price.usd,
        format!("{requests:.0} requests (send, receive, delete; the poller's long polls)"),
        &[("sqs.requests_per_million", price)],
    )
}

fn waf<'a>(v: &Volumes, p: &'a Prices) -> Draft<'a> {
    let rules = 1 + MANAGED_RULE_GROUPS.len();
    let w = &p.waf;
    line(
        "WAF",
        w.web_acl_month.usd
            + rules as f64 * w.rule_month.usd
            + v.api_requests / 1e6 * w.requests_per_million.usd,
        format!("1 web ACL, {rules} rules, {:.0} requests", v.api_requests),
        &[
            ("waf.web_acl_month", &w.web_acl_month),
            ("waf.rule_month", &w.rule_month),
            ("waf.requests_per_million", &w.requests_per_million),
        ],
    )
}

fn s3<'a>(v: &Volumes, p: &'a Prices) -> Draft<'a> {
    let gb = v.events * EVENT_BYTES / GB;
    let puts = 2.0 * OBJECTS_PER_MONTH_EACH;
    let s = &p.s3;
    line(
        "S3",
        gb * s.standard_gb_month.usd + puts / 1000.0 * s.put_per_thousand.usd,
        format!("{gb:.2} GB of order events added, {puts:.0} objects written"),
        &[
            ("s3.standard_gb_month", &s.standard_gb_month),
            ("s3.put_per_thousand", &s.put_per_thousand),
        ],
    )
}

fn cloudtrail<'a>(load: &LoadConfig, v: &Volumes, p: &'a Prices) -> Draft<'a> {
    let reads = v.orders * f64::from(load.reads_per_order);
    let events = v.write_calls + reads + OBJECTS_PER_MONTH_EACH;
    let price = &p.cloudtrail.data_events_per_100k;
    line(
        "CloudTrail",
        events / 1e5 * price.usd,
        format!("{events:.0} data events (table writes and reads, analytics objects)"),
        &[("cloudtrail.data_events_per_100k", price)],
    )
}

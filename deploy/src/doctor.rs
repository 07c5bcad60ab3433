//! `acme-infra doctor`: what a county's first deploy needs from its account,
//! checked before it runs. One [`Check`] per line, each pass, warn, fail or
//! skip (not checkable with the APIs this tool carries; the line says how
//! to check it by hand).
//!
//! The AWS checks live here, with the deployer's own identity and bootstrap
//! logic, so `doctor` passes exactly when `deploy` would find what it looks
//! for. The legacy database check is the binary's (it needs `acme-migrate`).

use std::fmt;

use acme_stacks::config::{CapacityMode, CountyConfig};
use serde::Serialize;

use crate::deployer::Deployer;
use crate::error::DeployError;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    /// Could not be checked here; the detail says how to check it.
    Skip,
    Warn,
    Fail,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "pass",
            Outcome::Skip => "skip",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
        })
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
    pub detail: String,
}

impl Check {
    pub fn new(name: &'static str, outcome: Outcome, detail: impl Into<String>) -> Self {
        Self {
            name,
            outcome,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<4}  {:<18} {}", self.outcome, self.name, self.detail)
    }
}

/// Read-only calls against the county's account and region: `sts`,
/// `cloudformation:DescribeStacks` (and `ListStackResources` on moto), and
/// `dynamodb:DescribeLimits`.
pub async fn aws_checks(
    deployer: &Deployer,
    dynamodb: &aws_sdk_dynamodb::Client,
    cfg: &CountyConfig,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let identity = match deployer.identity().await {
        Ok(i) => i,
        Err(e) => {
            checks.push(Check::new("credentials", Outcome::Fail, e.to_string()));
            return checks;
        }
    };
    checks.push(Check::new(
        "credentials",
        Outcome::Pass,
        identity.arn.clone(),
    ));
    if identity.account != cfg.account {
        checks.push(Check::new(
            "account",
            Outcome::Fail,
            format!(
                "credentials are for account {}, the county file says {}: switch AWS_PROFILE to the county's account",
                identity.account, cfg.account
            ),
        ));
        return checks;
    }
    checks.push(Check::new("account", Outcome::Pass, cfg.account.clone()));
    let bootstrap = deployer.bootstrap_info(&cfg.account, &cfg.region).await;
    checks.push(region(cfg, &bootstrap));
    checks.push(bootstrap_check(bootstrap));
    checks.push(dynamodb_limits(dynamodb, cfg).await);
    checks.push(lambda_concurrency(cfg));
    checks.push(Check::new(
        "api gateway quota",
        Outcome::Skip,
        format!(
            "not readable without the API Gateway or Service Quotas SDK; the stage asks for {} requests/s (burst {}), the account's default is 10,000 (burst 5,000) per region: `aws service-quotas list-service-quotas --service-code apigateway`",
            cfg.api.throttle_rate, cfg.api.throttle_burst
        ),
    ));
    checks
}

/// A region that answered CloudFormation is enabled for these credentials;
/// an opt-in region that is not answers with an error on every call.
fn region(
    cfg: &CountyConfig,
    bootstrap: &Result<crate::bootstrap::BootstrapInfo, DeployError>,
) -> Check {
    match bootstrap {
        Err(DeployError::Aws { .. }) | Err(DeployError::Identity { .. }) => Check::new(
            "region",
            Outcome::Fail,
            format!(
                "CloudFormation in {} did not answer: is the region enabled for the account (opt-in regions: `aws account get-region-opt-status --region-name {}`)?",
                cfg.region, cfg.region
            ),
        ),
        _ => Check::new(
            "region",
            Outcome::Pass,
            format!(
                "{}: CloudFormation answers (opt-in status itself is not read: no Account SDK)",
                cfg.region
            ),
        ),
    }
}

fn bootstrap_check(bootstrap: Result<crate::bootstrap::BootstrapInfo, DeployError>) -> Check {
    match bootstrap {
        Ok(info) => Check::new(
            "bootstrap",
            Outcome::Pass,
            format!(
                "{} version {} (this deployer needs {}), assets bucket {}",
                crate::bootstrap::STACK_NAME,
                info.version,
                crate::bootstrap::VERSION,
                info.bucket
            ),
        ),
        Err(e) => {
            let fix = e.fix().map(|h| format!(": {h}")).unwrap_or_default();
            Check::new("bootstrap", Outcome::Fail, format!("{e}{fix}"))
        }
    }
}

/// The account's DynamoDB throughput quotas against what a provisioned
/// county's auto-scaling may ask for: each table and index up to
/// `capacity.*.max`.
async fn dynamodb_limits(client: &aws_sdk_dynamodb::Client, cfg: &CountyConfig) -> Check {
    let limits = match client.describe_limits().send().await {
        Ok(l) => l,
        Err(e) => {
            return Check::new(
                "dynamodb quotas",
                Outcome::Warn,
                format!(
                    "DescribeLimits failed ({}): allow dynamodb:DescribeLimits to check",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                ),
            );
        }
    };
    let table_w = limits.table_max_write_capacity_units().unwrap_or(0);
    let table_r = limits.table_max_read_capacity_units().unwrap_or(0);
    let account_w = limits.account_max_write_capacity_units().unwrap_or(0);
    let account_r = limits.account_max_read_capacity_units().unwrap_or(0);
    let quotas = format!(
        "per table {table_w} WCU / {table_r} RCU, account {account_w} WCU / {account_r} RCU"
    );
    let CapacityMode::Provisioned(p) = &cfg.capacity else {
        return Check::new(
            "dynamodb quotas",
            Outcome::Pass,
            format!("on-demand; {quotas}"),
        );
    };
    // Each provisioned table and each of its GSIs scales on its own.
    let scaled = acme_stacks::county::tables::table_specs(cfg)
        .iter()
        .filter(|t| t.throughput.is_some())
        .map(|t| 1 + t.gsis.len() as i64)
        .sum::<i64>();
    let (max_w, max_r) = (i64::from(p.write.max), i64::from(p.read.max));
    let mut over = Vec::new();
    if max_w > table_w || max_r > table_r {
        over.push(format!(
            "capacity max {max_w} WCU / {max_r} RCU exceeds the per-table quota"
        ));
    }
    if max_w * scaled > account_w || max_r * scaled > account_r {
        over.push(format!(
            "{scaled} tables and indexes at max ask for {} WCU / {} RCU, over the account quota",
            max_w * scaled,
            max_r * scaled
        ));
    }
    if over.is_empty() {
        Check::new("dynamodb quotas", Outcome::Pass, quotas)
    } else {
        Check::new(
            "dynamodb quotas",
            Outcome::Warn,
            format!(
                "{}; {quotas}: request an increase or lower capacity.*.max",
                over.join("; ")
            ),
        )
    }
}

/// What the county reserves of the account's concurrent executions. The
/// quota itself is `lambda:GetAccountSettings`, whose SDK this tool does not
/// carry (nor does the local emulator serve it).
fn lambda_concurrency(cfg: &CountyConfig) -> Check {
    let reserved = cfg.functions.api.reserved_concurrency.unwrap_or(0)
        + cfg.functions.worker.reserved_concurrency.unwrap_or(0)
        + cfg.functions.publisher.reserved_concurrency.unwrap_or(0);
    Check::new(
        "lambda concurrency",
        Outcome::Skip,
        format!(
            "the county reserves {reserved} and its worker may run {} at once; Lambda keeps 100 unreserved, so the account needs at least {}: `aws lambda get-account-settings --region {}`",
            cfg.queue.max_concurrency,
            reserved + 100,
            cfg.region
        ),
    )
}

/// The report's exit: any fail fails; a warning fails under `strict`.
pub fn failed(checks: &[Check], strict: bool) -> bool {
    checks
        .iter()
        .any(|c| c.outcome == Outcome::Fail || (strict && c.outcome == Outcome::Warn))
}

/// The deployer and a DynamoDB client for `region`, over the default
/// credential chain (and `AWS_ENDPOINT_URL`), plus the region the
/// environment configures: `deploy` refuses when the two differ, so
/// [`configured_region`] reports it as a check.
pub async fn connect(region: &str) -> (Deployer, aws_sdk_dynamodb::Client, Option<String>) {
    use aws_config::{BehaviorVersion, Region};
    let env = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let configured = env.region().map(|r| r.to_string());
    let sdk = env
        .into_builder()
        .region(Region::new(region.to_owned()))
        .build();
    let deployer = Deployer::new(
        crate::aws::Clients::from_sdk_config(&sdk),
        crate::aws::Pacing::default(),
    );
    (deployer, aws_sdk_dynamodb::Client::new(&sdk), configured)
}

/// The environment's region against the county's.
pub fn configured_region(cfg: &CountyConfig, configured: Option<&str>) -> Check {
    match configured {
        Some(r) if r == cfg.region => Check::new("configured region", Outcome::Pass, r.to_owned()),
        Some(r) => Check::new(
            "configured region",
            Outcome::Fail,
            format!(
                "AWS_REGION (or the profile) says {r}, the county deploys to {}: `deploy` would refuse; set AWS_REGION={}",
                cfg.region, cfg.region
            ),
        ),
        None => Check::new(
            "configured region",
            Outcome::Fail,
            format!("no region is configured: set AWS_REGION={}", cfg.region),
        ),
    }
}

//! `acme-infra doctor`: what a county's first deploy needs from its account,
//! checked before it runs. One [`Check`] per line, each pass, warn, fail or
//! skip (not checkable with the APIs this tool carries; the line says how
//! to check it by hand). A read the account refuses (or an emulator does
//! not serve) falls back where it can and says so in its line.
//!
//! The AWS checks live here, with the deployer's own identity and bootstrap
//! logic, so `doctor` passes exactly when `deploy` would find what it looks
//! for. The legacy database check is the binary's (it needs `acme-migrate`).

pub mod quotas;
#[cfg(test)]
mod tests;

use std::fmt;

use acme_stacks::config::{CapacityMode, CountyConfig};
use aws_sdk_account::types::RegionOptStatus;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
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

/// The clients doctor reads through, for the county's region.
pub struct Clients {
    pub deployer: Deployer,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub quotas: aws_sdk_servicequotas::Client,
    pub account: aws_sdk_account::Client,
}

/// Read-only calls against the county's account and region: `sts`,
/// `cloudformation:DescribeStacks` (and `ListStackResources` on moto),
/// `account:GetRegionOptStatus`, `dynamodb:DescribeLimits` and `ListTables`,
/// `servicequotas:GetServiceQuota` and `GetAWSDefaultServiceQuota`.
pub async fn aws_checks(clients: &Clients, cfg: &CountyConfig) -> Vec<Check> {
    let mut checks = Vec::new();
    let identity = match clients.deployer.identity().await {
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
                "credentials are for account {}, the county file says {}: switch AWS_PROFILE to the county's account, or give the county file `access:`",
                identity.account, cfg.account
            ),
        ));
        return checks;
    }
    checks.push(Check::new("account", Outcome::Pass, cfg.account.clone()));
    let (bootstrap, opt_in, limits, quotas) = tokio::join!(
        clients.deployer.bootstrap_info(&cfg.account, &cfg.region),
        opt_in_status(&clients.account, &cfg.region),
        dynamodb_limits(&clients.dynamodb, cfg),
        quotas::checks(&clients.quotas, &clients.dynamodb, cfg),
    );
    checks.push(region(cfg, opt_in, &bootstrap));
    checks.push(bootstrap_check(bootstrap));
    checks.push(limits);
    checks.extend(quotas);
    checks
}

/// The region's opt-in status for the account, or why it could not be read.
async fn opt_in_status(
    client: &aws_sdk_account::Client,
    region: &str,
) -> Result<Option<RegionOptStatus>, String> {
    client
        .get_region_opt_status()
        .region_name(region)
        .send()
        .await
        .map(|out| out.region_opt_status().cloned())
        .map_err(|e| format!("GetRegionOptStatus: {}", brief(&e)))
}

/// The opt-in status when the Account API gives it; otherwise inferred: a
/// region that answered CloudFormation is enabled for these credentials,
/// an opt-in region that is not answers with an error on every call.
fn region(
    cfg: &CountyConfig,
    opt_in: Result<Option<RegionOptStatus>, String>,
    bootstrap: &Result<crate::bootstrap::BootstrapInfo, DeployError>,
) -> Check {
    match opt_in {
        Ok(status) => opt_in_verdict(&cfg.region, status.as_ref()),
        Err(why) => inferred_region(cfg, &why, bootstrap),
    }
}

/// ENABLED and ENABLED_BY_DEFAULT pass, ENABLING warns, DISABLED and
/// DISABLING fail.
pub fn opt_in_verdict(region: &str, status: Option<&RegionOptStatus>) -> Check {
    let Some(status) = status else {
        return Check::new(
            "region",
            Outcome::Warn,
            format!(
                "{region}: GetRegionOptStatus answered without a status: `aws account get-region-opt-status --region-name {region}`"
            ),
        );
    };
    let s = status.as_str();
    let (outcome, hint) = match status {
        RegionOptStatus::Enabled | RegionOptStatus::EnabledByDefault => {
            (Outcome::Pass, String::new())
        }
        RegionOptStatus::Enabling => (
            Outcome::Warn,
            format!(
                ": still being enabled, deploy once `aws account get-region-opt-status --region-name {region}` says ENABLED"
            ),
        ),
        RegionOptStatus::Disabled | RegionOptStatus::Disabling => (
            Outcome::Fail,
            format!(
                ": not enabled for the account: `aws account enable-region --region-name {region}`, then wait for ENABLED"
            ),
        ),
        _ => (
            Outcome::Warn,
            format!(
                ": an opt-in status this tool does not know: `aws account get-region-opt-status --region-name {region}`"
            ),
        ),
    };
    Check::new(
        "region",
        outcome,
        format!("{region}: opt-in status {s}{hint}"),
    )
}

fn inferred_region(
    cfg: &CountyConfig,
    why: &str,
    bootstrap: &Result<crate::bootstrap::BootstrapInfo, DeployError>,
) -> Check {
    let r = &cfg.region;
    match bootstrap {
        Err(DeployError::Aws { .. }) | Err(DeployError::Identity { .. }) => Check::new(
            "region",
            Outcome::Fail,
            format!(
                "CloudFormation in {r} did not answer and the opt-in status was not read ({why}): is the region enabled for the account? allow account:GetRegionOptStatus or run `aws account get-region-opt-status --region-name {r}`"
            ),
        ),
        _ => Check::new(
            "region",
            Outcome::Pass,
            format!(
                "{r}: CloudFormation answers (opt-in status not read, {why}; allow account:GetRegionOptStatus to read it)"
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

/// The report's exit: any fail fails; a warning fails under `strict`.
pub fn failed(checks: &[Check], strict: bool) -> bool {
    checks
        .iter()
        .any(|c| c.outcome == Outcome::Fail || (strict && c.outcome == Outcome::Warn))
}

/// The county's account and region reached the way `deploy` reaches them
/// (these credentials when they are the account's, else the county file's
/// `access:`), over the default credential chain (and `AWS_ENDPOINT_URL`),
/// plus the region the environment configures: `deploy` refuses when the
/// two differ, so [`configured_region`] reports it as a check. `Err` is the
/// failing line when the account cannot be reached.
pub async fn connect(cfg: &CountyConfig) -> (Result<Clients, Check>, Option<String>) {
    use aws_config::{BehaviorVersion, Region};
    let env = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let configured = env.region().map(|r| r.to_string());
    let sdk = env
        .into_builder()
        .region(Region::new(cfg.region.clone()))
        .build();
    let base = Deployer::new(
        crate::aws::Clients::from_sdk_config(&sdk),
        crate::aws::Pacing::default(),
    );
    let deployer = match reach_county(&base, cfg).await {
        Ok(d) => d,
        Err(line) => return (Err(line), configured),
    };
    let sdk = deployer.clients().sdk.clone().unwrap_or(sdk);
    let clients = Clients {
        deployer,
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        quotas: aws_sdk_servicequotas::Client::new(&sdk),
        account: aws_sdk_account::Client::new(&sdk),
    };
    (Ok(clients), configured)
}

/// `base` in the county's account, or the line that says why not.
async fn reach_county(base: &Deployer, cfg: &CountyConfig) -> Result<Deployer, Check> {
    let target = crate::reach::Target {
        account: cfg.account.clone(),
        region: cfg.region.clone(),
        access: cfg.access.clone(),
    };
    match base.reach(&target).await {
        Ok(crate::reach::Reach::Reached { deployer, .. }) => Ok(deployer),
        Ok(crate::reach::Reach::Unreachable { reason }) => Err(Check::new(
            "account",
            Outcome::Fail,
            format!(
                "{reason}: switch to the account's credentials (AWS_PROFILE), or give the county file `access: {{ role_arn: ... }}` or `access: {{ profile: ... }}`"
            ),
        )),
        Err(e) => {
            // No way in named: the credentials themselves did not answer.
            let name = if cfg.access.is_some() {
                "account"
            } else {
                "credentials"
            };
            let fix = e.fix().map(|h| format!(": {h}")).unwrap_or_default();
            Err(Check::new(name, Outcome::Fail, format!("{e}{fix}")))
        }
    }
}

/// An SDK error in a few words for a check's line: the service's error
/// code and HTTP status, or what kept the call from an answer.
pub(crate) fn brief<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: &SdkError<E, HttpResponse>,
) -> String {
    match e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            match se.err().code() {
                Some(code) => format!("{code}, HTTP {status}"),
                None => format!("HTTP {status}"),
            }
        }
        SdkError::ResponseError(r) => {
            format!("unreadable answer, HTTP {}", r.raw().status().as_u16())
        }
        SdkError::TimeoutError(_) => "timed out".to_owned(),
        SdkError::DispatchFailure(_) => format!(
            "no answer: {}",
            aws_smithy_types::error::display::DisplayErrorContext(e)
        ),
        _ => aws_smithy_types::error::display::DisplayErrorContext(e).to_string(),
    }
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

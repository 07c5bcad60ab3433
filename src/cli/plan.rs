//! `acme-infra plan`.

use clap::Args;

use super::EnvironmentsArg;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  acme-infra plan --county travis-tx
  acme-infra plan --county travis-tx --json > plan.json
  acme-infra plan --county travis-tx --fail-on-risk     # in CI, on every pull request

Sizes the county from the `load:` section of its county file (orders per day,
peak hour factor, Friday-night multiplier, lines and reads per order, stores):
a sample of orders runs through the real order flows and the write-unit meter,
and the result is scaled to the county's rates. Shows write and read units per
second per table and index at average and at peak, the hottest partition
against DynamoDB's 1,000 WCU / 3,000 RCU per partition, the GSI write shards
that keep every partition under half of that, on-demand against provisioned,
and the monthly cost from the price table in the repository (its date and the
date it was checked against AWS's pricing pages are printed; a cost line marked
`*` uses a price no AWS source confirmed for the county's region). docs/plan.md
explains the model and its limits, and how to refresh the prices.

--fail-on-risk exits 13 when a partition or a provisioned maximum would be
exceeded at peak.")]
pub struct PlanArgs {
    /// The county to plan.
    #[arg(long, value_name = "ID")]
    pub county: String,
    /// Print the plan as JSON (for tools) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Exit non-zero (13) when a partition or a provisioned maximum would be
    /// exceeded at peak.
    #[arg(long)]
    pub fail_on_risk: bool,
    #[command(flatten)]
    pub env: EnvironmentsArg,
}

//! `acme-infra doctor`.

use clap::Args;

use super::EnvironmentsArg;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  AWS_PROFILE=travis AWS_REGION=us-east-2 acme-infra doctor --county travis-tx
  acme-infra doctor --county travis-tx --legacy-url 'postgres://migrator@legacy-db/orders?sslmode=require'
  acme-infra doctor --county travis-tx --strict --json     # CI: warnings fail too

Read-only checks before a county's first deploy, one line each (pass, warn
or fail, with the figures): credentials, account and configured region match
the county file, the region's opt-in status (Account API; where it is refused,
inferred from CloudFormation answering, and the line says so), the bootstrap
stack is present and current, DynamoDB's throughput quotas against the
county's capacity bounds, and, read through Service Quotas (the applied value,
else the AWS default), Lambda's concurrent executions against the county's
reservations, its worker and the 100 Lambda keeps unreserved, API Gateway's
throttle rate against the stage's, and DynamoDB's table quota against the
tables in the account plus the county's; a quota that cannot be read warns
with the permission and the command to read it by hand. When the county file
has `migration:`, the legacy database is reachable (with the migration's own
connection and TLS).

Exits 13 when a check fails (or warns, with --strict), 0 otherwise.")]
pub struct DoctorArgs {
    /// The county to check.
    #[arg(long, value_name = "ID")]
    pub county: String,
    /// The legacy database, for a county with `migration:` (a warning without one).
    #[arg(
        long,
        value_name = "URL",
        env = "ACME_LEGACY_URL",
        hide_env_values = true
    )]
    pub legacy_url: Option<String>,
    /// Warnings fail too.
    #[arg(long)]
    pub strict: bool,
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub env: EnvironmentsArg,
}

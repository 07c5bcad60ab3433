//! `acme-infra doctor`.

use clap::Args;

use super::EnvironmentsArg;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  AWS_PROFILE=travis AWS_REGION=us-east-2 acme-infra doctor --county travis-tx
  acme-infra doctor --county travis-tx --legacy-url 'postgres://migrator@legacy-db/orders?sslmode=require'
  acme-infra doctor --county travis-tx --strict --json     # CI: warnings fail too

Read-only checks before a county's first deploy, one line each (pass, warn,
fail, or skip when this tool cannot read it, with the command that can):
credentials, account and configured region match the county file, the region
answers, the bootstrap stack is present and current, DynamoDB's throughput
quotas against the county's capacity bounds, the Lambda and API Gateway
quotas the county needs, and, when the county file has `migration:`, the
legacy database is reachable (with the migration's own connection and TLS).

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

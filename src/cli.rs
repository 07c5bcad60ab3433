//! The command line: one enum of subcommands, each argument struct beside it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Synthesize, validate and deploy ACME Liquors' per-county order stacks.
///
/// Every county ACME sells in has a file `environments/<county>.yaml`
/// (merged over `environments/defaults.yaml`) and gets its own CloudFormation
/// stack, `acme-<county>`.
#[derive(Debug, Parser)]
#[command(name = "acme-infra", version, propagate_version = true)]
#[command(after_help = "\
Typical pipeline for a new county:
  acme-infra county add travis-tx --name 'Travis County' --state TX \\
      --account 111111111111 --region us-east-2
  acme-infra validate
  acme-infra synth --county travis-tx
")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write each county's CloudFormation template and a cloud assembly (cdk.out/).
    Synth(SynthArgs),
    /// Check county files without synthesizing anything (fast; for pre-commit hooks).
    Validate(ValidateArgs),
    /// List the counties: account, region, and whether sales are enabled.
    List(ListArgs),
    /// Manage county environment files.
    #[command(subcommand)]
    County(CountyCommand),
    /// Deploy county stacks through CloudFormation change sets (assets, diff, safety checks).
    Deploy(crate::commands::deploy::DeployCmd),
    /// Create the per-account, per-region assets stack that deploys need.
    Bootstrap(acme_deploy::cli::BootstrapArgs),
    /// Show what a deploy would change, resource by resource (read-only).
    Diff(crate::commands::deploy::WithEnv<acme_deploy::cli::DiffArgs>),
    /// Delete a county's stack; retained tables and buckets stay and are listed.
    Destroy(crate::commands::deploy::WithEnv<acme_deploy::cli::DestroyArgs>),
    /// Every county's stack status in one table.
    Status(crate::commands::deploy::WithEnv<acme_deploy::cli::StatusArgs>),
    /// Run a county's order system on the local AWS emulator (moto).
    Local(acme_local::cli::LocalArgs),
    /// Load and show stock levels and prices (local runner or AWS).
    #[command(subcommand)]
    Inventory(acme_local::cli::InventoryCommand),
}

/// Where the county files are.
#[derive(Debug, Clone, Args)]
pub struct EnvironmentsArg {
    /// Directory holding defaults.yaml and one <county>.yaml per county.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "environments",
        env = "ACME_ENVIRONMENTS"
    )]
    pub environments: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum FormatArg {
    /// JSON (what the CDK CLI and CloudFormation deploys read).
    #[default]
    Json,
    /// YAML with long-form intrinsics (for reading and review).
    Yaml,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  acme-infra synth                          # every county into cdk.out/
  acme-infra synth --county travis-tx       # one county
  acme-infra synth --out /tmp/asm --format yaml
  cdk ls --app cdk.out                      # the AWS CDK CLI reads the same assembly

The output is byte-for-byte deterministic. Synth fails if a stack breaks a
CloudFormation limit (500 resources, 1 MB template) and warns at 90%.")]
pub struct SynthArgs {
    /// County to synthesize (repeatable). Default: every county in the environments directory.
    #[arg(long = "county", value_name = "ID")]
    pub counties: Vec<String>,
    #[command(flatten)]
    pub env: EnvironmentsArg,
    /// Directory to write the cloud assembly into.
    #[arg(long, value_name = "DIR", default_value = "cdk.out")]
    pub out: PathBuf,
    /// Template format.
    #[arg(long, value_enum, default_value_t = FormatArg::Json)]
    pub format: FormatArg,
    /// Print only warnings and errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// County to validate (repeatable). Default: every county.
    #[arg(long = "county", value_name = "ID")]
    pub counties: Vec<String>,
    #[command(flatten)]
    pub env: EnvironmentsArg,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub env: EnvironmentsArg,
    /// Print JSON (an array of objects) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum CountyCommand {
    /// Create environments/<id>.yaml for a new county from the template, validated.
    #[command(after_help = "\
Example:
  acme-infra county add travis-tx --name 'Travis County' --state TX \\
      --account 111111111111 --region us-east-2 --timezone America/Chicago

The new file holds the identity you give and, commented out, every setting
you may override (defaults come from environments/defaults.yaml). An existing
county file is never overwritten.")]
    Add(CountyAddArgs),
}

#[derive(Debug, Args)]
pub struct CountyAddArgs {
    /// County id: lowercase letters, digits and '-', e.g. travis-tx.
    pub id: String,
    /// Display name, e.g. "Travis County".
    #[arg(long)]
    pub name: String,
    /// Two-letter state code, e.g. TX.
    #[arg(long)]
    pub state: String,
    /// 12-digit AWS account id the county deploys to.
    #[arg(long)]
    pub account: String,
    /// AWS region, e.g. us-east-2.
    #[arg(long)]
    pub region: String,
    /// IANA time zone for the sale hours. Default: the state's main zone.
    #[arg(long)]
    pub timezone: Option<String>,
    #[command(flatten)]
    pub env: EnvironmentsArg,
}

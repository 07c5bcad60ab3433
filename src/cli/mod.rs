//! The command line: one enum of subcommands; the argument structs live in one
//! module per command group and are turned into the libraries' plain options
//! there. Only the binary depends on clap.

pub mod deploy;
pub mod doctor;
pub mod local;
pub mod migrate;
pub mod pipeline;
pub mod plan;
pub mod stacks;

use std::path::PathBuf;

use acme_deploy::exit::Exit;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Synthesize, validate and deploy ACME Liquors' per-county order stacks.
///
/// Every county ACME sells in has a file `environments/<county>.yaml`
/// (merged over `environments/defaults.yaml`) and gets its own CloudFormation
/// stack, `acme-<county>`.
#[derive(Debug, Parser)]
#[command(name = "acme-infra", version, propagate_version = true)]
#[command(after_help = after_help())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write each county's CloudFormation template and a cloud assembly (cdk.out/).
    Synth(stacks::SynthArgs),
    /// Check county files without synthesizing anything (fast; for pre-commit hooks).
    Validate(stacks::ValidateArgs),
    /// List the counties: account, region, and whether sales are enabled.
    List(stacks::ListArgs),
    /// Manage county environment files.
    #[command(subcommand)]
    #[command(after_help = "\
Example:
  acme-infra county add harris-tx --name 'Harris County' --state TX \\
      --account 111111111111 --region us-east-2")]
    County(stacks::CountyCommand),
    /// Deploy county stacks through CloudFormation change sets (assets, diff, safety checks).
    Deploy(deploy::DeployArgs),
    /// Create the per-account, per-region assets stack that deploys need.
    Bootstrap(deploy::BootstrapArgs),
    /// Show what a deploy would change, resource by resource (read-only).
    Diff(deploy::DiffArgs),
    /// Delete a county's stack; retained tables and buckets stay and are listed.
    Destroy(deploy::DestroyArgs),
    /// Every county's stack status in one table.
    Status(deploy::StatusArgs),
    /// Run a county's order system on the local AWS emulator (moto).
    Local(local::LocalArgs),
    /// Load and show stock levels and prices (local runner or AWS).
    #[command(subcommand)]
    #[command(after_help = "\
Examples:
  acme-infra inventory load --county travis-tx stock.csv
  acme-infra inventory show --county travis-tx --store store-001
  acme-infra inventory show --county travis-tx --store store-001 --target aws --json")]
    Inventory(local::InventoryCommand),
    /// Dead letters and stuck orders: redrive the order DLQ, list stuck orders.
    #[command(subcommand)]
    #[command(after_help = "\
Examples:
  acme-infra orders redrive --county travis-tx --dry-run
  acme-infra orders redrive --county travis-tx --target aws
  acme-infra orders stuck --county travis-tx --json")]
    Orders(local::OrdersCommand),
    /// Move a county off the legacy PostgreSQL order database.
    #[command(subcommand)]
    #[command(after_help = "\
Examples:
  acme-infra migrate backfill --county travis-tx --from postgres://legacy-host/orders
  acme-infra migrate verify --county travis-tx --from postgres://legacy-host/orders")]
    Migrate(migrate::MigrateCommand),
    /// A county's capacity and monthly cost at its expected load (`load:` in its file).
    Plan(plan::PlanArgs),
    /// Check a county's account, region, bootstrap, quotas and legacy database before its first deploy.
    Doctor(doctor::DoctorArgs),
    /// Write the CI files that provision counties (GitHub Actions, GitLab CI, a shell script).
    #[command(subcommand)]
    #[command(after_help = "\
Example:
  acme-infra pipeline init --ci github")]
    Pipeline(pipeline::PipelineCommand),
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

impl From<FormatArg> for acme_stacks::synth::Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Json => Self::Json,
            FormatArg::Yaml => Self::Yaml,
        }
    }
}

/// The top-level help's epilogue: a typical pipeline, then the exit codes
/// (the one table, [`Exit::help_table`]).
fn after_help() -> String {
    format!(
        "\
Typical pipeline for a new county:
  acme-infra county add harris-tx --name 'Harris County' --state TX \\
      --account 111111111111 --region us-east-2
  acme-infra validate --county harris-tx
  acme-infra synth --county harris-tx --out cdk.out
  acme-infra deploy --county harris-tx --assembly cdk.out

{}",
        Exit::help_table()
    )
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn every_command_and_command_group_has_an_example_in_its_help() {
        fn check(cmd: &mut clap::Command, path: &str) {
            let help = cmd.render_long_help().to_string();
            let example = help.contains("Example") || help.contains("Typical pipeline");
            assert!(example, "`{path} --help` has no example:\n{help}");
            let names: Vec<String> = cmd
                .get_subcommands()
                .map(|s| s.get_name().to_owned())
                .filter(|n| n != "help")
                .collect();
            for name in names {
                let sub = cmd.find_subcommand_mut(&name).expect("subcommand");
                check(sub, &format!("{path} {name}"));
            }
        }
        check(&mut super::Cli::command(), "acme-infra");
    }

    #[test]
    fn the_command_line_is_consistent_and_help_lists_every_exit_code() {
        super::Cli::command().debug_assert();
        let help = super::Cli::command().render_long_help().to_string();
        for e in acme_deploy::exit::Exit::ALL {
            assert!(help.contains(e.meaning()), "{e:?} in --help:\n{help}");
        }
    }
}

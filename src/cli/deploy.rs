//! `deploy`, `bootstrap`, `diff`, `destroy` and `status`: the deployer's
//! commands. Their flags become `acme_deploy`'s plain options here.

use std::path::PathBuf;

use acme_deploy::{BootstrapOptions, DeployOptions, RequireApproval};
use clap::{Args, ValueEnum};

use super::EnvironmentsArg;

const DEPLOY_EXAMPLES: &str = "\
Examples:
  acme-infra deploy --county travis-tx         deploy one county, showing the change set first
  acme-infra deploy --all --concurrency 8      deploy every county of the environment, 8 at a time
  acme-infra deploy --county travis-tx --allow-replace OrdersTable
                                               accept that OrdersTable is REPLACED (its data is lost)
  acme-infra deploy --all --allow-replace king-wa/InventoryTable
                                               the same, for one county of a multi-county deploy
  acme-infra deploy --all --json --require-approval never --outputs-file outputs.json
                                               CI: JSON lines, no prompts, outputs keyed by county

What a deploy does, per county: hash the template, parameters and tags; if the stack already
carries that hash and its deployed template and parameters are the same, stop (no upload, no
change set). Otherwise upload missing function zips
(assets/<sha256>.zip), create a change set, print it, refuse unsafe changes (a stateful
resource replaced or deleted, more than one GSI change per table), ask for approval when
access may widen, execute, and stream events until the stack settles.

Function bundles: built exactly as `make functions` builds them (scripts/build-functions.sh:
cargo-lambda and zig installed into the checkout's .venv on first use, the `lambda` profile,
the architecture the county names), so deploy runs from the acme-infra checkout; or
--assets-dir names a directory of prebuilt zips (<dir>/<function>/bootstrap.zip or
<dir>/<function>.zip).

Accounts: a county whose account is not the credentials' own is reached as its county file
says, `access: { role_arn: arn:aws:iam::<account>:role/<name> }` (assumed from these
credentials) or `access: { profile: <name> }`, so one pipeline job deploys a fleet that spans
accounts. With --all, a county with no way in is skipped and listed as not reachable (the run
does not fail for it); a county named with --county is deployed or the run fails (exit 6).

Ctrl-C stops at the next safe point: counties not started are not started, change sets not
yet executed are deleted, and a stack CloudFormation is already changing is left to finish
(the deployer says how to follow or cancel it). A second Ctrl-C exits at once.

Exit codes: see `acme-infra --help`.";

const BOOTSTRAP_EXAMPLES: &str = "\
Examples:
  acme-infra bootstrap                                   bootstrap the account/region of your credentials
  acme-infra bootstrap --account 123456789012 --region us-east-1
  acme-infra bootstrap --county king-wa                  king-wa's account and region: your own
                                                         credentials when they are its account's,
                                                         else through its county file's `access:`

Creates or upgrades the `acme-bootstrap` stack: the KMS-encrypted, versioned, TLS-only assets
bucket that function bundles and large templates are uploaded to. Run it once per account and
region, and again when a deploy says the bootstrap version is too old.";

const DIFF_EXAMPLES: &str = "\
Examples:
  acme-infra diff --county travis-tx   what would change in travis-tx, resource by resource
  acme-infra diff --fail         CI gate: exit 1 when any county differs from what is deployed

Compares the generated template with the deployed one (GetTemplate); shows each added, removed
or modified resource and the property paths that change. Read-only.

Each county's account is reached as `deploy` reaches it (its county file's `access:`). Without
--county, a county these credentials cannot reach is listed as not compared and does not fail
the run; the summary line counts it.";

const DESTROY_EXAMPLES: &str = "\
Examples:
  acme-infra destroy --county travis-tx        asks first, then deletes stack acme-travis-tx
  acme-infra destroy --county travis-tx --yes

Turns termination protection off, deletes the stack, and lists the resources that survive it
(tables and buckets with DeletionPolicy: Retain), so you can decide what to do with their data.";

const STATUS_EXAMPLES: &str = "\
Examples:
  acme-infra status              every county's stack status, one table
  acme-infra status --json | jq '.stacks[] | select(.status | test(\"FAILED|ROLLBACK\"))'

STATUS is CloudFormation's, NOT_DEPLOYED when the credentials' account has no such stack, or
NOT_VISIBLE when the county belongs in another account or region than the credentials (which
cannot see it, so whether it is deployed is unknown).";

/// `acme-infra deploy`.
#[derive(Debug, Clone, Args)]
#[command(after_help = DEPLOY_EXAMPLES)]
pub struct DeployArgs {
    /// County to deploy (repeatable).
    #[arg(long = "county", value_name = "ID", required_unless_present = "all")]
    pub counties: Vec<String>,
    /// Deploy every county of the environment.
    #[arg(long, conflicts_with = "counties")]
    pub all: bool,
    /// Allow this stateful resource to be replaced or deleted; its data is lost. Repeatable.
    /// `<county>/<LogicalId>`, or a bare `<LogicalId>` when one county is deployed.
    #[arg(long = "allow-replace", value_name = "[COUNTY/]LOGICAL_ID")]
    pub allow_replace: Vec<String>,
    /// When to ask before executing: never, broadening (IAM, security groups, policies), any-change.
    #[arg(long, value_enum, default_value_t = RequireApprovalArg::Broadening)]
    pub require_approval: RequireApprovalArg,
    /// Counties deployed at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Start no new county after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Create a change set even when the stack already carries this deploy's hash.
    #[arg(long)]
    pub force: bool,
    /// Write each county's stack outputs here, as JSON keyed by county id.
    #[arg(long, value_name = "PATH")]
    pub outputs_file: Option<PathBuf>,
    /// JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub env: EnvironmentsArg,
    /// Directory of prebuilt function zips (`<dir>/<function>/bootstrap.zip` as
    /// cargo-lambda writes them, or `<dir>/<function>.zip`). Default: build them
    /// as `make functions` does, into the checkout's target/lambda/<arch>/.
    #[arg(long, value_name = "DIR")]
    pub assets_dir: Option<PathBuf>,
    /// Deploy the templates `acme-infra synth` wrote into DIR (e.g. cdk.out)
    /// instead of synthesizing them now, so what a pipeline reviewed is what
    /// it deploys. The county files are not read.
    #[arg(long, value_name = "DIR")]
    pub assembly: Option<PathBuf>,
}

/// `acme-infra bootstrap`.
#[derive(Debug, Clone, Args)]
#[command(after_help = BOOTSTRAP_EXAMPLES)]
pub struct BootstrapArgs {
    /// Bootstrap this county's account and region, reached the way `deploy`
    /// reaches it: these credentials when they are its account's, else
    /// through its county file's `access:`.
    #[arg(long, value_name = "ID", conflicts_with_all = ["account", "region"])]
    pub county: Option<String>,
    #[command(flatten)]
    pub env: EnvironmentsArg,
    /// Account to bootstrap; must be the one your credentials are for. Default: that account.
    #[arg(long, value_name = "ACCOUNT_ID")]
    pub account: Option<String>,
    /// Region to bootstrap; must be the configured one. Default: AWS_REGION / the profile's region.
    #[arg(long)]
    pub region: Option<String>,
    /// Leave termination protection off on the bootstrap stack.
    #[arg(long)]
    pub no_termination_protection: bool,
    /// Allow this bootstrap resource (logical id) to be replaced. Repeatable.
    #[arg(long = "allow-replace", value_name = "LOGICAL_ID")]
    pub allow_replace: Vec<String>,
    /// JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `acme-infra diff`.
#[derive(Debug, Clone, Args)]
#[command(after_help = DIFF_EXAMPLES)]
pub struct DiffArgs {
    /// County to compare (repeatable). Default: every county.
    #[arg(long = "county", value_name = "ID")]
    pub counties: Vec<String>,
    /// Exit with code 1 when any stack differs (or is not deployed).
    #[arg(long)]
    pub fail: bool,
    /// JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub env: EnvironmentsArg,
}

/// `acme-infra destroy`.
#[derive(Debug, Clone, Args)]
#[command(after_help = DESTROY_EXAMPLES)]
pub struct DestroyArgs {
    /// County whose stack to destroy (repeatable; at least one: there is no "all").
    #[arg(long = "county", value_name = "ID", required = true)]
    pub counties: Vec<String>,
    /// Do not ask.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub env: EnvironmentsArg,
}

/// `acme-infra status`.
#[derive(Debug, Clone, Args)]
#[command(after_help = STATUS_EXAMPLES)]
pub struct StatusArgs {
    /// County to show (repeatable). Default: every county.
    #[arg(long = "county", value_name = "ID")]
    pub counties: Vec<String>,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub env: EnvironmentsArg,
}

/// `--require-approval`: when a change needs a human's "yes".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum RequireApprovalArg {
    /// Never ask.
    Never,
    /// Ask when access may widen: IAM, security groups, policies, Lambda permissions.
    #[default]
    Broadening,
    /// Ask for every change.
    AnyChange,
}

impl From<RequireApprovalArg> for RequireApproval {
    fn from(a: RequireApprovalArg) -> Self {
        match a {
            RequireApprovalArg::Never => Self::Never,
            RequireApprovalArg::Broadening => Self::Broadening,
            RequireApprovalArg::AnyChange => Self::AnyChange,
        }
    }
}

impl DeployArgs {
    /// The deployer's options for these flags.
    pub fn options(&self) -> DeployOptions {
        DeployOptions {
            allow_replace: self.allow_replace.clone(),
            require_approval: self.require_approval.into(),
            concurrency: usize::from(self.concurrency),
            fail_fast: self.fail_fast,
            force: self.force,
            outputs_file: self.outputs_file.clone(),
            // `--all` deploys what these credentials can reach and lists the
            // rest; a county named with `--county` is deployed or fails.
            skip_unreachable: self.all,
        }
    }

    /// The counties to load: none named means all of them.
    pub fn county_ids(&self) -> &[String] {
        if self.all { &[] } else { &self.counties }
    }
}

impl BootstrapArgs {
    /// The deployer's options for these flags.
    pub fn options(&self) -> BootstrapOptions {
        BootstrapOptions {
            termination_protection: !self.no_termination_protection,
            allow_replace: self.allow_replace.clone(),
            template_override: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser, Subcommand};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Debug, Subcommand)]
    enum Command {
        Deploy(DeployArgs),
        Bootstrap(BootstrapArgs),
        Diff(DiffArgs),
        Destroy(DestroyArgs),
        Status(StatusArgs),
    }

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("acme-infra").chain(args.iter().copied()))
            .map(|c| c.command)
    }

    #[test]
    fn safe_defaults() {
        assert!(
            parse(&["deploy"]).is_err(),
            "deploy names its counties or says --all"
        );
        assert!(parse(&["deploy", "--all", "--county", "x"]).is_err());
        let Ok(Command::Deploy(d)) = parse(&["deploy", "--all"]) else {
            panic!("deploy parses")
        };
        assert!(d.all);
        assert_eq!(d.require_approval, RequireApprovalArg::Broadening);
        assert_eq!(d.concurrency, 4);
        assert!(d.allow_replace.is_empty() && !d.force && !d.fail_fast);
        let Ok(Command::Deploy(d)) = parse(&[
            "deploy",
            "--county",
            "06037",
            "--allow-replace",
            "Orders",
            "--allow-replace",
            "Events",
            "--require-approval",
            "any-change",
        ]) else {
            panic!("flags parse")
        };
        assert_eq!(
            (
                d.counties.as_slice(),
                d.allow_replace.len(),
                d.require_approval
            ),
            (&["06037".to_string()][..], 2, RequireApprovalArg::AnyChange)
        );
        assert!(
            parse(&["deploy", "--all", "--concurrency", "0"]).is_err(),
            "concurrency starts at 1"
        );
    }

    #[test]
    fn destroy_needs_a_county() {
        assert!(
            parse(&["destroy"]).is_err(),
            "there is no destroy-everything"
        );
        let Ok(Command::Destroy(d)) = parse(&["destroy", "--county", "06037", "-y"]) else {
            panic!("parses")
        };
        assert!(d.yes);
    }

    #[test]
    fn help_teaches_with_examples() {
        let mut cmd = Cli::command();
        for sub in ["deploy", "bootstrap", "diff", "destroy", "status"] {
            let help = cmd
                .find_subcommand_mut(sub)
                .map(|c| c.render_long_help().to_string())
                .unwrap_or_default();
            assert!(
                help.contains("Examples:"),
                "{sub} --help has examples:\n{help}"
            );
        }
        cmd.debug_assert();
    }
}

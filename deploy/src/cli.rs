//! Command-line arguments (clap derive) and the async entry points the
//! `acme-infra` binary calls. The binary builds one [`Deployer`] (SDK clients
//! are built once per process), generates the artifacts, and calls e.g.
//! [`run_deploy`]; on `Err(e)` it prints `e.report()` and exits with
//! `e.exit_code()` (see [`crate::exit`]).

use std::path::PathBuf;

use clap::Args;

use crate::artifact::StackArtifact;
use crate::bootstrap::BootstrapOptions;
use crate::deploy::{DeployOptions, DeployReport, Deployer, RequireApproval, StackReport};
use crate::error::DeployError;
use crate::output::{Format, Output};

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
carries that hash, stop (no upload, no change set). Otherwise upload missing function zips
(assets/<sha256>.zip), create a change set, print it, refuse unsafe changes (a stateful
resource replaced or deleted, more than one GSI change per table), ask for approval when
access may widen, execute, and stream events until the stack settles.

Function bundles: built with cargo-lambda (`make functions`) unless --assets-dir names a
directory of prebuilt zips (<dir>/<function>/bootstrap.zip or <dir>/<function>.zip).

Ctrl-C stops at the next safe point: counties not started are not started, change sets not
yet executed are deleted, and a stack CloudFormation is already changing is left to finish
(the deployer says how to follow or cancel it). A second Ctrl-C exits at once.

Exit codes: 0 ok, 2 usage, 3 refused by a safety check, 4 not approved,
5 CloudFormation failure, 6 credentials/wrong account, 130 interrupted.";

const BOOTSTRAP_EXAMPLES: &str = "\
Examples:
  acme-infra bootstrap                                   bootstrap the account/region of your credentials
  acme-infra bootstrap --account 123456789012 --region us-east-1

Creates or upgrades the `acme-bootstrap` stack: the KMS-encrypted, versioned, TLS-only assets
bucket that function bundles and large templates are uploaded to. Run it once per account and
region, and again when a deploy says the bootstrap version is too old.";

const DIFF_EXAMPLES: &str = "\
Examples:
  acme-infra diff --county travis-tx   what would change in travis-tx, resource by resource
  acme-infra diff --fail         CI gate: exit 1 when any county differs from what is deployed

Compares the generated template with the deployed one (GetTemplate); shows each added, removed
or modified resource and the property paths that change. Read-only.";

const DESTROY_EXAMPLES: &str = "\
Examples:
  acme-infra destroy --county travis-tx        asks first, then deletes stack acme-travis-tx
  acme-infra destroy --county travis-tx --yes

Turns termination protection off, deletes the stack, and lists the resources that survive it
(tables and buckets with DeletionPolicy: Retain), so you can decide what to do with their data.";

const STATUS_EXAMPLES: &str = "\
Examples:
  acme-infra status              every county's stack status, one table
  acme-infra status --json | jq '.stacks[] | select(.status | test(\"FAILED|ROLLBACK\"))'";

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
    #[arg(long, value_enum, default_value_t = RequireApproval::Broadening)]
    pub require_approval: RequireApproval,
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
}

/// `acme-infra bootstrap`.
#[derive(Debug, Clone, Args)]
#[command(after_help = BOOTSTRAP_EXAMPLES)]
pub struct BootstrapArgs {
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
}

/// The output sink for a command: text on stderr, or JSON lines on stdout.
pub fn output(json: bool) -> Output {
    Output::stdio(if json { Format::Json } else { Format::Human })
}

/// Keeps the artifacts whose county id is listed (all when `counties` is
/// empty); an unknown county id is a usage error naming a few valid ones.
pub fn select(
    artifacts: Vec<StackArtifact>,
    counties: &[String],
) -> Result<Vec<StackArtifact>, DeployError> {
    if counties.is_empty() {
        return Ok(artifacts);
    }
    for c in counties {
        if !artifacts.iter().any(|a| &a.county_id == c) {
            let known: Vec<&str> = artifacts
                .iter()
                .take(8)
                .map(|a| a.county_id.as_str())
                .collect();
            return Err(DeployError::usage(format!(
                "unknown county {c:?}; this environment has {} counties, e.g. {}",
                artifacts.len(),
                known.join(", ")
            )));
        }
    }
    Ok(artifacts
        .into_iter()
        .filter(|a| counties.contains(&a.county_id))
        .collect())
}

/// Every `--allow-replace` must name a county being deployed (or, bare, the
/// only one) and a well-formed logical id: a typo must not silently allow
/// nothing, nor a bare id allow data loss in every county at once.
pub fn check_allow_replace(
    allow: &[String],
    artifacts: &[StackArtifact],
) -> Result<(), DeployError> {
    let valid_id = |id: &str| {
        !id.is_empty() && id.len() <= 255 && id.chars().all(|c| c.is_ascii_alphanumeric())
    };
    for a in allow {
        let (county, id) = match a.split_once('/') {
            Some((c, id)) => (Some(c), id),
            None => (None, a.as_str()),
        };
        if !valid_id(id) {
            return Err(DeployError::usage(format!(
                "--allow-replace {a:?}: {id:?} is not a logical id (letters and digits only, e.g. OrdersTable)"
            )));
        }
        match county {
            Some(c) if !artifacts.iter().any(|x| x.county_id == c) => {
                return Err(DeployError::usage(format!(
                    "--allow-replace {a}: county {c:?} is not part of this deploy ({})",
                    artifacts
                        .iter()
                        .map(|x| x.county_id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            None if artifacts.len() > 1 => {
                return Err(DeployError::usage(format!(
                    "--allow-replace {a}: {} counties are being deployed; say whose {id} may lose its data: \
                     --allow-replace <county>/{id}",
                    artifacts.len()
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// `deploy`: see [`DeployArgs`].
pub async fn run_deploy(
    deployer: &Deployer,
    args: &DeployArgs,
    artifacts: Vec<StackArtifact>,
    out: &Output,
) -> Result<DeployReport, DeployError> {
    let artifacts = select(artifacts, &args.counties)?;
    check_allow_replace(&args.allow_replace, &artifacts)?;
    let opts = DeployOptions {
        allow_replace: args.allow_replace.clone(),
        require_approval: args.require_approval,
        concurrency: usize::from(args.concurrency),
        fail_fast: args.fail_fast,
        force: args.force,
        outputs_file: args.outputs_file.clone(),
    };
    deployer.deploy(artifacts, &opts, out).await
}

/// `bootstrap`: see [`BootstrapArgs`].
pub async fn run_bootstrap(
    deployer: &Deployer,
    args: &BootstrapArgs,
    out: &Output,
) -> Result<StackReport, DeployError> {
    let me = deployer.check_identity(&[]).await?;
    let account = args.account.clone().unwrap_or_else(|| me.account.clone());
    let region = args.region.clone().unwrap_or_else(|| me.region.clone());
    let opts = BootstrapOptions {
        termination_protection: !args.no_termination_protection,
        allow_replace: args.allow_replace.clone(),
        template_override: None,
    };
    deployer.bootstrap(&account, &region, &opts, out).await
}

/// `diff`: see [`DiffArgs`].
pub async fn run_diff(
    deployer: &Deployer,
    args: &DiffArgs,
    artifacts: Vec<StackArtifact>,
    out: &Output,
) -> Result<(), DeployError> {
    let artifacts = select(artifacts, &args.counties)?;
    deployer.diff(&artifacts, args.fail, out).await.map(|_| ())
}

/// `destroy`: see [`DestroyArgs`].
pub async fn run_destroy(
    deployer: &Deployer,
    args: &DestroyArgs,
    artifacts: Vec<StackArtifact>,
    out: &Output,
) -> Result<(), DeployError> {
    let artifacts = select(artifacts, &args.counties)?;
    deployer
        .destroy(&artifacts, args.yes, out)
        .await
        .map(|_| ())
}

/// `status`: see [`StatusArgs`].
pub async fn run_status(
    deployer: &Deployer,
    args: &StatusArgs,
    artifacts: Vec<StackArtifact>,
    out: &Output,
) -> Result<(), DeployError> {
    let artifacts = select(artifacts, &args.counties)?;
    deployer.status(&artifacts, out).await.map(|_| ())
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
        assert_eq!(d.require_approval, RequireApproval::Broadening);
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
            (&["06037".to_string()][..], 2, RequireApproval::AnyChange)
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

    fn artifact(c: &str) -> StackArtifact {
        StackArtifact {
            stack_name: format!("acme-{c}"),
            county_id: c.into(),
            account: "1".into(),
            region: "r".into(),
            template_body: "{}".into(),
            tags: Default::default(),
            termination_protection: true,
            assets: vec![],
        }
    }

    #[test]
    fn allow_replace_names_a_deployed_county_or_the_only_one() {
        let one = vec![artifact("travis-tx")];
        let two = vec![artifact("travis-tx"), artifact("king-wa")];
        let ok = |allow: &[&str], a: &[StackArtifact]| {
            let allow: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
            check_allow_replace(&allow, a)
        };
        assert!(ok(&["OrdersTable"], &one).is_ok());
        assert!(ok(&["travis-tx/OrdersTable"], &one).is_ok());
        assert!(ok(&["king-wa/InventoryTable", "travis-tx/OrdersTable"], &two).is_ok());
        let e = ok(&["OrdersTable"], &two).expect_err("bare with two counties");
        assert_eq!(e.exit_code(), crate::exit::USAGE);
        assert!(e.to_string().contains("<county>/OrdersTable"), "{e}");
        let e = ok(&["fulton-ga/OrdersTable"], &two).expect_err("county not deployed");
        assert!(e.to_string().contains("\"fulton-ga\""), "{e}");
        for bad in ["", "travis-tx/", "Orders-Table", "travis-tx/Orders Table"] {
            assert!(ok(&[bad], &one).is_err(), "{bad:?} is refused");
        }
        // Scoped entries apply to their county only.
        let opts = DeployOptions {
            allow_replace: vec!["king-wa/InventoryTable".into(), "OrdersTable".into()],
            ..DeployOptions::default()
        };
        assert_eq!(
            opts.allowed_for("king-wa"),
            ["InventoryTable", "OrdersTable"]
        );
        assert_eq!(opts.allowed_for("travis-tx"), ["OrdersTable"]);
    }

    #[test]
    fn select_by_county() {
        let a = artifact;
        let all = vec![a("06037"), a("06059")];
        assert_eq!(select(all.clone(), &[]).map(|v| v.len()).ok(), Some(2));
        assert_eq!(
            select(all.clone(), &["06059".into()])
                .map(|v| v[0].county_id.clone())
                .ok()
                .as_deref(),
            Some("06059")
        );
        let e = select(all, &["6037".into()]).expect_err("unknown");
        assert_eq!(e.exit_code(), crate::exit::USAGE);
        assert!(e.to_string().contains("06037"), "{e}");
    }
}

//! `acme-infra deploy | bootstrap | diff | destroy | status`: synthesize the
//! counties in-process, resolve their function bundles, and hand the stack
//! artifacts to the deployer (`acme-deploy`), the only part that talks to
//! CloudFormation.

use std::path::{Path, PathBuf};
use std::process::Command;

use acme_deploy::cli::{
    self as dcli, BootstrapArgs, DeployArgs, DestroyArgs, DiffArgs, StatusArgs,
};
use std::collections::BTreeMap;

use acme_deploy::{DeployError, Deployer, FunctionAsset, Interrupt, StackArtifact};
use acme_stacks::config::CountyConfig;
use acme_stacks::synth::{Format, synthesize};
use clap::Args;

use super::{CmdResult, CommandError, load_counties};
use crate::cli::EnvironmentsArg;
use crate::exit;

/// `acme-infra deploy`: the deployer's flags plus where counties and bundles come from.
#[derive(Debug, Args)]
pub struct DeployCmd {
    #[command(flatten)]
    pub deploy: DeployArgs,
    #[command(flatten)]
    pub env: EnvironmentsArg,
    /// Directory of prebuilt function zips (`<dir>/<function>/bootstrap.zip` as
    /// cargo-lambda writes them, or `<dir>/<function>.zip`). Default: build them
    /// with cargo-lambda into target/lambda/<arch>/.
    #[arg(long, value_name = "DIR")]
    pub assets_dir: Option<PathBuf>,
    /// Deploy the templates `acme-infra synth` wrote into DIR (e.g. cdk.out)
    /// instead of synthesizing them now, so what a pipeline reviewed is what
    /// it deploys. The county files are not read.
    #[arg(long, value_name = "DIR")]
    pub assembly: Option<PathBuf>,
}

/// A read-only deployer command with the counties it reads.
#[derive(Debug, Args)]
pub struct WithEnv<A: Args> {
    #[command(flatten)]
    pub args: A,
    #[command(flatten)]
    pub env: EnvironmentsArg,
}

fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            CommandError::new(
                exit::FAILURE,
                format!("error: cannot start the async runtime: {e}"),
            )
        })
}

fn deploy_error(e: DeployError) -> CommandError {
    CommandError::new(e.exit_code(), e.report().trim_end().to_owned())
}

/// A county's template, synthesized now or read from an assembly.
struct Source {
    county_id: String,
    stack_name: String,
    account: String,
    region: String,
    tags: BTreeMap<String, String>,
    body: String,
}

/// Synthesizes `counties` (once each).
fn synthesized(counties: &[CountyConfig]) -> Result<Vec<Source>, CommandError> {
    let mut out = Vec::with_capacity(counties.len());
    for c in counties {
        let s = synthesize(c, Format::Json).map_err(|e| {
            CommandError::new(exit::FAILURE, format!("error: county {}: {e}", c.id))
        })?;
        if s.has_errors() {
            let msgs: Vec<String> = s.findings.iter().map(ToString::to_string).collect();
            return Err(CommandError::new(exit::LIMIT_EXCEEDED, msgs.join("\n")));
        }
        out.push(Source {
            county_id: s.county_id,
            stack_name: s.stack_name,
            account: s.account,
            region: s.region,
            tags: s.tags,
            body: s.body,
        });
    }
    Ok(out)
}

/// Reads the stacks of a synthesized cloud assembly.
fn assembled(dir: &Path) -> Result<Vec<Source>, CommandError> {
    let stacks = acme_stacks::assembly::read(dir).map_err(|e| {
        CommandError::new(
            exit::USAGE,
            format!(
                "error: --assembly: {e}\n  = hint: `acme-infra synth --out {}` writes one",
                dir.display()
            ),
        )
    })?;
    if stacks.is_empty() {
        return Err(CommandError::new(
            exit::USAGE,
            format!("error: --assembly: {} holds no stacks", dir.display()),
        ));
    }
    Ok(stacks
        .into_iter()
        .map(|s| Source {
            county_id: s.county_id,
            stack_name: s.stack_name,
            account: s.account,
            region: s.region,
            tags: s.tags,
            body: s.body,
        })
        .collect())
}

/// Deployer artifacts for `sources`. Function bundles are resolved only when
/// `assets` is given (deploy); diff, status and destroy compare templates.
fn artifacts(
    sources: Vec<Source>,
    assets: Option<&Assets>,
) -> Result<Vec<StackArtifact>, CommandError> {
    let mut out = Vec::with_capacity(sources.len());
    for s in sources {
        let function_assets = match assets {
            Some(a) => asset_parameters(&s.body)?
                .iter()
                .map(|w| {
                    Ok(FunctionAsset {
                        parameter: w.parameter.clone(),
                        zip_path: a.zip_for(&w.function, &w.architecture)?,
                    })
                })
                .collect::<Result<Vec<_>, CommandError>>()?,
            None => Vec::new(),
        };
        out.push(StackArtifact {
            stack_name: s.stack_name,
            county_id: s.county_id,
            account: s.account,
            region: s.region,
            template_body: s.body,
            tags: s.tags,
            termination_protection: true,
            assets: function_assets,
        });
    }
    Ok(out)
}

/// One function bundle a template asks for (its `AcmeAssets` metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
struct WantedAsset {
    parameter: String,
    function: String,
    architecture: String,
}

/// Reads the template's `Metadata.AcmeAssets`: `{parameter: {function, architecture}}`.
fn asset_parameters(template: &str) -> Result<Vec<WantedAsset>, CommandError> {
    let v: serde_json::Value = serde_json::from_str(template).map_err(|e| {
        CommandError::new(
            exit::FAILURE,
            format!("error: synthesized template is not JSON: {e}"),
        )
    })?;
    let Some(map) = v
        .pointer("/Metadata/AcmeAssets")
        .and_then(|m| m.as_object())
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(map.len());
    for (parameter, spec) in map {
        let field = |k: &str| spec.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        match (field("function"), field("architecture")) {
            (Some(function), Some(architecture)) => out.push(WantedAsset {
                parameter: parameter.clone(),
                function,
                architecture,
            }),
            _ => {
                return Err(CommandError::new(
                    exit::FAILURE,
                    format!(
                        "error: template metadata AcmeAssets.{parameter} lacks `function` or `architecture`"
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// Where function zips come from.
enum Assets {
    /// Prebuilt zips in a directory.
    Dir(PathBuf),
    /// Built by cargo-lambda into `target/lambda/<arch>/<function>/bootstrap.zip`.
    Built(PathBuf),
}

impl Assets {
    fn zip_for(&self, function: &str, architecture: &str) -> Result<PathBuf, CommandError> {
        let candidates = match self {
            Assets::Dir(d) => vec![
                d.join(function).join("bootstrap.zip"),
                d.join(format!("{function}.zip")),
            ],
            Assets::Built(root) => {
                vec![root.join(architecture).join(function).join("bootstrap.zip")]
            }
        };
        candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
            CommandError::new(
                USAGE_OR_BUILD,
                format!(
                    "error: no {architecture} bundle for function `{function}`: looked for {}\n  = hint: run `make functions`, or pass --assets-dir with prebuilt zips",
                    candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                ),
            )
        })
    }
}

const USAGE_OR_BUILD: i32 = exit::USAGE;

/// Builds every function the artifacts need with cargo-lambda, once per architecture.
fn build_functions(wanted: &[WantedAsset], lambda_root: &Path) -> Result<(), CommandError> {
    let mut archs: Vec<&str> = wanted.iter().map(|w| w.architecture.as_str()).collect();
    archs.sort_unstable();
    archs.dedup();
    for arch in archs {
        let mut functions: Vec<&str> = wanted
            .iter()
            .filter(|w| w.architecture == arch)
            .map(|w| w.function.as_str())
            .collect();
        functions.sort_unstable();
        functions.dedup();
        let flag = match arch {
            "arm64" => "--arm64",
            "x86_64" => "--x86-64",
            other => {
                return Err(CommandError::new(
                    exit::FAILURE,
                    format!("error: unknown function architecture `{other}`"),
                ));
            }
        };
        eprintln!(
            "building {} for {arch} with cargo-lambda...",
            functions.join(", ")
        );
        let mut cmd = Command::new("cargo");
        cmd.args([
            "lambda",
            "build",
            "--release",
            flag,
            "--output-format",
            "zip",
            "--lambda-dir",
        ])
        .arg(lambda_root.join(arch));
        for f in &functions {
            cmd.args(["--package", f]);
        }
        let status = cmd.status().map_err(|e| {
            CommandError::new(exit::FAILURE, format!("error: cannot run `cargo lambda`: {e}\n  = hint: `make functions` installs cargo-lambda"))
        })?;
        if !status.success() {
            return Err(CommandError::new(
                exit::FAILURE,
                format!(
                    "error: `cargo lambda build {flag}` failed ({status}); see its output above\n  = hint: if the {arch} target cannot be installed here, build on a machine that can and pass --assets-dir"
                ),
            ));
        }
    }
    Ok(())
}

pub fn deploy(a: &DeployCmd) -> CmdResult {
    let sources = match &a.assembly {
        // `run_deploy` keeps the counties asked for (and names unknown ones).
        Some(dir) => assembled(dir)?,
        None => {
            let ids = if a.deploy.all {
                Vec::new()
            } else {
                a.deploy.counties.clone()
            };
            synthesized(&load_counties(&a.env, &ids)?)?
        }
    };
    let assets = match &a.assets_dir {
        Some(d) => Assets::Dir(d.clone()),
        None => {
            let root = PathBuf::from("target/lambda");
            let mut wanted = Vec::new();
            for s in &sources {
                wanted.extend(asset_parameters(&s.body)?);
            }
            if !wanted.is_empty() {
                build_functions(&wanted, &root)?;
            }
            Assets::Built(root)
        }
    };
    let artifacts = artifacts(sources, Some(&assets))?;
    runtime()?.block_on(async {
        let deployer = Deployer::from_env()
            .await
            .with_interrupt(Interrupt::on_ctrl_c(
                "interrupt: stopping at the next safe point (press Ctrl-C again to quit at once)",
            ));
        let out = dcli::output(a.deploy.json);
        dcli::run_deploy(&deployer, &a.deploy, artifacts, &out)
            .await
            .map(|_| ())
            .map_err(deploy_error)
    })
}

pub fn bootstrap(a: &BootstrapArgs) -> CmdResult {
    runtime()?.block_on(async {
        let deployer = Deployer::from_env().await;
        let out = dcli::output(a.json);
        dcli::run_bootstrap(&deployer, a, &out)
            .await
            .map(|_| ())
            .map_err(deploy_error)
    })
}

/// Runs a deployer command that needs templates but no function bundles
/// (diff, destroy, status) over freshly synthesized counties.
fn with_synthesized<A: Args, F, Fut>(
    a: &WithEnv<A>,
    counties: &[String],
    json: bool,
    run: F,
) -> CmdResult
where
    F: FnOnce(Deployer, Vec<StackArtifact>, acme_deploy::Output) -> Fut,
    Fut: std::future::Future<Output = Result<(), DeployError>>,
{
    let artifacts = artifacts(synthesized(&load_counties(&a.env, counties)?)?, None)?;
    runtime()?.block_on(async {
        let deployer = Deployer::from_env().await;
        run(deployer, artifacts, dcli::output(json))
            .await
            .map_err(deploy_error)
    })
}

pub fn diff(a: &WithEnv<DiffArgs>) -> CmdResult {
    with_synthesized(
        a,
        &a.args.counties,
        a.args.json,
        |d, arts, out| async move { dcli::run_diff(&d, &a.args, arts, &out).await },
    )
}

pub fn destroy(a: &WithEnv<DestroyArgs>) -> CmdResult {
    with_synthesized(
        a,
        &a.args.counties,
        a.args.json,
        |d, arts, out| async move { dcli::run_destroy(&d, &a.args, arts, &out).await },
    )
}

pub fn status(a: &WithEnv<StatusArgs>) -> CmdResult {
    with_synthesized(
        a,
        &a.args.counties,
        a.args.json,
        |d, arts, out| async move { dcli::run_status(&d, &a.args, arts, &out).await },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_county_asks_for_the_three_functions() {
        let envs = acme_stacks::config::Environments::open(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/environments"
        )))
        .expect("environments");
        for c in envs.load_all().expect("counties") {
            let s = synthesize(&c, Format::Json).expect("synth");
            let mut fns: Vec<String> = asset_parameters(&s.body)
                .expect("metadata")
                .into_iter()
                .map(|w| w.function)
                .collect();
            fns.sort();
            assert_eq!(
                fns,
                ["order-api", "order-worker", "stream-publisher"],
                "county {}",
                c.id
            );
        }
    }

    #[test]
    fn prebuilt_zips_are_found_in_either_layout_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("order-api")).expect("mkdir");
        std::fs::write(dir.path().join("order-api/bootstrap.zip"), b"zip").expect("write");
        std::fs::write(dir.path().join("order-worker.zip"), b"zip").expect("write");
        let a = Assets::Dir(dir.path().to_owned());
        assert!(
            a.zip_for("order-api", "arm64")
                .expect("found")
                .ends_with("order-api/bootstrap.zip")
        );
        assert!(
            a.zip_for("order-worker", "arm64")
                .expect("found")
                .ends_with("order-worker.zip")
        );
        let e = a.zip_for("stream-publisher", "arm64").expect_err("missing");
        assert_eq!(e.code, exit::USAGE);
        assert!(
            e.message.contains("stream-publisher") && e.message.contains("make functions"),
            "{}",
            e.message
        );
    }

    #[test]
    fn malformed_asset_metadata_is_an_error() {
        let t = r#"{"Metadata":{"AcmeAssets":{"OrderApiCodeKey":{"function":"order-api"}}}}"#;
        let e = asset_parameters(t).expect_err("no architecture");
        assert!(e.message.contains("OrderApiCodeKey"), "{}", e.message);
        assert!(
            asset_parameters(r#"{"Resources":{}}"#)
                .expect("none")
                .is_empty()
        );
    }
}

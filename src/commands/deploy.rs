//! `acme-infra deploy | bootstrap | diff | destroy | status`: synthesize the
//! counties in-process (or read an assembly), resolve their function bundles,
//! and hand the stack artifacts to the deployer (`acme-deploy`), the only
//! part that talks to CloudFormation.
//!
//! One flow: county files → [`synthesize`] (or
//! `assembly::read`) → [`StackTemplate`] → [`StackArtifact`], its bundles
//! named by the template's [`AssetMetadata`].

use std::path::{Path, PathBuf};
use std::process::Command;

use acme_deploy::cli as dcli;
use acme_deploy::{DeployError, Deployer, FunctionAsset, Interrupt, StackArtifact};
use acme_stacks::assembly::{self, AssetMetadata, FunctionBundle, StackTemplate};
use acme_stacks::synth::Format;

use super::{CmdResult, load_counties, synthesize};
use crate::cli::EnvironmentsArg;
use crate::cli::deploy::{BootstrapArgs, DeployArgs, DestroyArgs, DiffArgs, StatusArgs};
use crate::error::Error;
use crate::output::Console;

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

/// The counties' stacks, synthesized now: limit findings are shown as
/// `synth --quiet` shows them, and a stack over a limit stops the command.
fn synthesized(
    env: &EnvironmentsArg,
    ids: &[String],
    c: &mut Console,
) -> Result<Vec<StackTemplate>, Error> {
    let counties = load_counties(env, ids)?;
    let stacks = synthesize(&counties, Format::Json, true, c)?;
    Ok(stacks.into_iter().map(StackTemplate::from).collect())
}

/// The stacks of a cloud assembly `acme-infra synth` wrote.
fn assembled(dir: &Path) -> Result<Vec<StackTemplate>, Error> {
    let stacks = assembly::read(dir).map_err(|source| Error::ReadAssembly {
        dir: dir.to_owned(),
        source,
    })?;
    if stacks.is_empty() {
        return Err(Error::EmptyAssembly(dir.to_owned()));
    }
    Ok(stacks)
}

/// The stacks of the counties asked for (all when none are), before any
/// bundle is built for them; an unknown county is a usage error, as it is
/// when the county files are read.
fn chosen(stacks: Vec<StackTemplate>, ids: &[String]) -> Result<Vec<StackTemplate>, Error> {
    if let Some(missing) = ids
        .iter()
        .find(|id| !stacks.iter().any(|s| &s.county_id == *id))
    {
        let known: Vec<&str> = stacks.iter().map(|s| s.county_id.as_str()).collect();
        return Err(Error::Usage(format!(
            "unknown county `{missing}`: the assembly holds {}",
            known.join(", ")
        )));
    }
    Ok(stacks
        .into_iter()
        .filter(|s| ids.is_empty() || ids.contains(&s.county_id))
        .collect())
}

/// Where function zips come from.
enum Bundles {
    /// Prebuilt zips in a directory.
    Dir(PathBuf),
    /// Built by [`BUILD_SCRIPT`] into `target/lambda/<arch>/<function>/bootstrap.zip`.
    Built(PathBuf),
}

impl Bundles {
    fn zip_for(&self, b: &FunctionBundle) -> Result<PathBuf, Error> {
        let (function, architecture) = (&b.function, &b.architecture);
        let candidates = match self {
            Bundles::Dir(d) => vec![
                d.join(function).join("bootstrap.zip"),
                d.join(format!("{function}.zip")),
            ],
            Bundles::Built(root) => {
                vec![root.join(architecture).join(function).join("bootstrap.zip")]
            }
        };
        match candidates.iter().find(|p| p.is_file()) {
            Some(p) => Ok(p.clone()),
            None => Err(Error::MissingBundle {
                function: function.clone(),
                architecture: architecture.clone(),
                looked_for: candidates,
            }),
        }
    }
}

/// A template and the bundles its metadata asks for.
fn with_bundles(t: StackTemplate) -> Result<(StackTemplate, AssetMetadata), Error> {
    let wanted = AssetMetadata::from_template(&t.body)?;
    Ok((t, wanted))
}

/// The deployer's artifact for a template, its bundles resolved to zips.
fn artifact(t: StackTemplate, wanted: &AssetMetadata, b: &Bundles) -> Result<StackArtifact, Error> {
    let assets = wanted
        .0
        .iter()
        .map(|(parameter, bundle)| {
            Ok(FunctionAsset {
                parameter: parameter.clone(),
                zip_path: b.zip_for(bundle)?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(StackArtifact::new(t, assets))
}

/// The one build path of the function bundles, `make functions`' script: it
/// installs cargo-lambda and zig into the checkout's `.venv` on first use and
/// builds with the workspace's `lambda` profile.
const BUILD_SCRIPT: &str = "scripts/build-functions.sh";

/// The acme-infra checkout the current directory is in (the bundles are
/// built from its sources, into its `target/lambda/`).
fn checkout() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .find(|dir| dir.join(BUILD_SCRIPT).is_file())
        .map(Path::to_path_buf)
}

/// Builds every bundle the stacks want, once per architecture, exactly as
/// `ARCH=<arch> make functions` does; returns where the bundles are.
fn build_functions(wanted: &[&FunctionBundle], c: &mut Console) -> Result<PathBuf, Error> {
    let mut archs: Vec<&str> = wanted.iter().map(|w| w.architecture.as_str()).collect();
    archs.sort_unstable();
    archs.dedup();
    let root = checkout().ok_or_else(|| Error::NoCheckout {
        architecture: archs.first().map_or("arm64", |a| a).to_owned(),
    })?;
    for arch in archs {
        if !matches!(arch, "arm64" | "x86_64") {
            return Err(Error::UnknownArchitecture(arch.to_owned()));
        }
        c.say(format_args!(
            "building the {arch} function bundles: ARCH={arch} {BUILD_SCRIPT} (as `make functions`)..."
        ))?;
        // Its report goes to stderr with ours: stdout stays for --json.
        let status = Command::new(root.join(BUILD_SCRIPT))
            .current_dir(&root)
            .env("ARCH", arch)
            // A deploy must get the architecture the template names, never a fallback.
            .env_remove("ALLOW_ARCH_FALLBACK")
            .stdout(std::io::stderr())
            .status()
            .map_err(|source| Error::BuildScript {
                script: root.join(BUILD_SCRIPT),
                source,
            })?;
        if !status.success() {
            return Err(Error::BuildFailed {
                architecture: arch.to_owned(),
                status,
            });
        }
    }
    Ok(root.join("target/lambda"))
}

pub fn deploy(a: &DeployArgs, c: &mut Console) -> CmdResult {
    let templates = match &a.assembly {
        Some(dir) => chosen(assembled(dir)?, a.county_ids())?,
        None => synthesized(&a.env, a.county_ids(), c)?,
    };
    let stacks = templates
        .into_iter()
        .map(with_bundles)
        .collect::<Result<Vec<_>, Error>>()?;
    let bundles = match &a.assets_dir {
        Some(d) => Bundles::Dir(d.clone()),
        None => {
            let wanted: Vec<&FunctionBundle> =
                stacks.iter().flat_map(|(_, w)| w.0.values()).collect();
            if wanted.is_empty() {
                Bundles::Built(PathBuf::from("target/lambda"))
            } else {
                Bundles::Built(build_functions(&wanted, c)?)
            }
        }
    };
    let artifacts = stacks
        .into_iter()
        .map(|(t, wanted)| artifact(t, &wanted, &bundles))
        .collect::<Result<Vec<_>, Error>>()?;
    let opts = a.options();
    runtime()?.block_on(async {
        let deployer = Deployer::from_env()
            .await
            .with_interrupt(Interrupt::on_ctrl_c(
                "interrupt: stopping at the next safe point (press Ctrl-C again to quit at once)",
            ));
        let out = dcli::output(a.json);
        dcli::run_deploy(&deployer, &a.counties, &opts, artifacts, &out).await?;
        Ok::<(), Error>(())
    })
}

pub fn bootstrap(a: &BootstrapArgs) -> CmdResult {
    let county = a
        .county
        .as_deref()
        .map(|id| super::load_county(&a.env, id))
        .transpose()?;
    runtime()?.block_on(async {
        let base = Deployer::from_env().await;
        let out = dcli::output(a.json);
        let opts = a.options();
        match county {
            None => {
                let (account, region) = (a.account.as_deref(), a.region.as_deref());
                dcli::run_bootstrap(&base, account, region, &opts, &out).await?;
            }
            Some(c) => {
                let target = acme_deploy::Target {
                    account: c.account.clone(),
                    region: c.region.clone(),
                    access: c.access.clone(),
                };
                dcli::run_bootstrap_target(&base, &target, &opts, &out).await?;
            }
        }
        Ok::<(), Error>(())
    })
}

/// Runs a deployer command that needs templates but no function bundles
/// (diff, destroy, status) over freshly synthesized counties.
fn read_only<F, Fut>(
    env: &EnvironmentsArg,
    counties: &[String],
    json: bool,
    c: &mut Console,
    run: F,
) -> CmdResult
where
    F: FnOnce(Deployer, Vec<StackArtifact>, acme_deploy::Output) -> Fut,
    Fut: std::future::Future<Output = Result<(), DeployError>>,
{
    let artifacts = synthesized(env, counties, c)?
        .into_iter()
        .map(|t| StackArtifact::new(t, Vec::new()))
        .collect();
    runtime()?.block_on(async {
        let deployer = Deployer::from_env().await;
        Ok::<(), Error>(run(deployer, artifacts, dcli::output(json)).await?)
    })
}

pub fn diff(a: &DiffArgs, c: &mut Console) -> CmdResult {
    read_only(&a.env, &a.counties, a.json, c, |d, arts, out| async move {
        dcli::run_diff(&d, &a.counties, a.fail, arts, &out).await
    })
}

pub fn destroy(a: &DestroyArgs, c: &mut Console) -> CmdResult {
    read_only(&a.env, &a.counties, a.json, c, |d, arts, out| async move {
        dcli::run_destroy(&d, &a.counties, a.yes, arts, &out).await
    })
}

pub fn status(a: &StatusArgs, c: &mut Console) -> CmdResult {
    read_only(&a.env, &a.counties, a.json, c, |d, arts, out| async move {
        dcli::run_status(&d, &a.counties, arts, &out).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use acme_deploy::exit::Exit;
    use acme_stacks::synth::synthesize;

    #[test]
    fn every_sample_county_asks_for_every_function() {
        let envs = acme_stacks::config::Environments::open(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/environments"
        )))
        .expect("environments");
        for c in envs.load_all().expect("counties") {
            let s = synthesize(&c, Format::Json).expect("synth");
            let mut fns: Vec<String> = AssetMetadata::from_template(&s.body)
                .expect("metadata")
                .0
                .into_values()
                .map(|w| w.function)
                .collect();
            fns.sort();
            // legacy-sync only where the county file configures it.
            let legacy_sync = c
                .migration
                .as_ref()
                .is_some_and(|m| m.legacy_sync.is_some());
            let mut want: Vec<&str> = acme_stacks::county::functions::FUNCTION_CRATES
                .into_iter()
                .filter(|f| *f != "legacy-sync" || legacy_sync)
                .collect();
            want.sort_unstable();
            assert_eq!(fns, want, "county {}", c.id);
        }
    }

    #[test]
    fn prebuilt_zips_are_found_in_either_layout_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("order-api")).expect("mkdir");
        std::fs::write(dir.path().join("order-api/bootstrap.zip"), b"zip").expect("write");
        std::fs::write(dir.path().join("order-worker.zip"), b"zip").expect("write");
        let a = Bundles::Dir(dir.path().to_owned());
        let bundle = |f: &str| FunctionBundle {
            function: f.into(),
            architecture: "arm64".into(),
        };
        assert!(
            a.zip_for(&bundle("order-api"))
                .expect("found")
                .ends_with("order-api/bootstrap.zip")
        );
        assert!(
            a.zip_for(&bundle("order-worker"))
                .expect("found")
                .ends_with("order-worker.zip")
        );
        let e = a.zip_for(&bundle("stream-publisher")).expect_err("missing");
        assert_eq!(e.exit(), Exit::Usage);
        let message = e.render();
        assert!(
            message.contains("stream-publisher") && message.contains("make functions"),
            "{message}"
        );
    }
}

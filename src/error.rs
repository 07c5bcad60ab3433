//! Everything that can stop an `acme-infra` command, kept typed until `main`,
//! which picks the exit code ([`Error::exit`]) and prints [`Error::render`].

use std::fmt;
use std::path::PathBuf;
use std::process::ExitStatus;

use acme_deploy::DeployError;
use acme_deploy::exit::Exit;
use acme_local::LocalError;
use acme_stacks::assembly::{AssemblyError, AssetMetadataError};
use acme_stacks::config::{AddCountyError, ConfigErrors};
use acme_stacks::synth::SynthError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// County files that do not validate (rendered with file, line and caret).
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// `--county` names a county with no file (rendered as county-file errors are).
    #[error(transparent)]
    UnknownCounty(ConfigErrors),
    #[error("no county files in {}; add one with `acme-infra county add`", .0.display())]
    NoCounties(PathBuf),
    #[error(transparent)]
    AddCounty(#[from] AddCountyError),
    #[error(transparent)]
    Synth(#[from] SynthError),
    #[error(transparent)]
    WriteAssembly(AssemblyError),
    #[error("--assembly: {source}")]
    ReadAssembly {
        dir: PathBuf,
        #[source]
        source: AssemblyError,
    },
    #[error("--assembly: {} holds no stacks", .0.display())]
    EmptyAssembly(PathBuf),
    #[error(transparent)]
    AssetMetadata(#[from] AssetMetadataError),
    #[error(
        "no {architecture} bundle for function `{function}`: looked for {}",
        list(looked_for)
    )]
    MissingBundle {
        function: String,
        architecture: String,
        looked_for: Vec<PathBuf>,
    },
    #[error("unknown function architecture `{0}`")]
    UnknownArchitecture(String),
    #[error(
        "deploy builds the function bundles from an acme-infra checkout, and the current directory is not in one"
    )]
    NoCheckout { architecture: String },
    #[error("cannot run {}: {source}", .script.display())]
    BuildScript {
        script: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "building the {architecture} function bundles failed: `ARCH={architecture} scripts/build-functions.sh` (what `make functions` runs) ended with {status}; its output above names the cause"
    )]
    BuildFailed {
        architecture: String,
        status: ExitStatus,
    },
    #[error(transparent)]
    Deploy(#[from] DeployError),
    #[error("{0}")]
    Local(#[from] LocalError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// A bad input the command line could not catch itself.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Legacy(#[from] acme_migrate::source::SourceError),
    #[error(transparent)]
    Backfill(#[from] acme_migrate::backfill::BackfillError),
    #[error(transparent)]
    Verify(#[from] acme_migrate::verify::VerifyError),
    #[error("{0} difference(s) between the legacy database and the tables (listed above)")]
    VerifyFailed(u64),
    #[error(transparent)]
    Sync(#[from] acme_migrate::sync::SyncError),
    #[error(transparent)]
    Plan(#[from] order_capacity::plan::PlanError),
    #[error(transparent)]
    Prices(#[from] order_capacity::plan::PriceError),
    /// `plan --fail-on-risk`, `doctor`: the report above says what failed.
    #[error("{0}")]
    CheckFailed(String),
    #[error(transparent)]
    Shadow(#[from] acme_migrate::shadow::ShadowError),
    /// `migrate cutover`: a step that is not one step, or nothing to undo.
    #[error(transparent)]
    Step(#[from] acme_migrate::cutover::StepError),
    /// `migrate cutover`: a gate of the step is not met; nothing changed.
    #[error(
        "{county} stays in mode `{from}`: {failed} gate(s) of the step to `{to}` not met (listed above)"
    )]
    GateNotMet {
        county: String,
        from: acme_contract::migration::CutoverMode,
        to: acme_contract::migration::CutoverMode,
        failed: usize,
    },
    /// `migrate status|cutover`: SSM or CloudWatch.
    #[error(transparent)]
    Control(#[from] acme_migrate::cutover::control::ControlError),
    #[error(transparent)]
    Figures(#[from] acme_migrate::cutover::FiguresError),
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot write to stdout: {0}")]
    Stdout(#[source] std::io::Error),
    #[error("cannot write to stderr: {0}")]
    Stderr(#[source] std::io::Error),
    #[error(
        "{0} file(s) differ from what `pipeline init` writes (diff above); nothing was written"
    )]
    PipelineFilesDiffer(usize),
    /// A template built into the binary that does not render (a bug).
    #[error("{0}")]
    Template(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    /// How the process ends (see [`Exit`]).
    pub fn exit(&self) -> Exit {
        match self {
            Error::Config(_) | Error::NoCounties(_) => Exit::ConfigInvalid,
            Error::UnknownCounty(_) => Exit::Usage,
            Error::AddCounty(AddCountyError::AlreadyExists { .. }) => Exit::AlreadyExists,
            Error::AddCounty(AddCountyError::Invalid(_)) => Exit::ConfigInvalid,
            Error::Synth(SynthError::LimitsExceeded { .. }) => Exit::LimitExceeded,
            Error::ReadAssembly { .. }
            | Error::EmptyAssembly(_)
            | Error::MissingBundle { .. }
            | Error::NoCheckout { .. } => Exit::Usage,
            Error::Deploy(e) => e.exit(),
            Error::Usage(_) => Exit::Usage,
            Error::Plan(order_capacity::plan::PlanError::NoLoad(_)) => Exit::ConfigInvalid,
            Error::CheckFailed(_) => Exit::CheckFailed,
            Error::Legacy(e) => legacy_exit(e),
            Error::Backfill(e) => backfill_exit(e),
            Error::Verify(acme_migrate::verify::VerifyError::Source(e)) => legacy_exit(e),
            Error::Verify(acme_migrate::verify::VerifyError::NoStores(_)) => Exit::Usage,
            Error::Verify(acme_migrate::verify::VerifyError::Store(_)) => Exit::Failure,
            Error::VerifyFailed(_) | Error::PipelineFilesDiffer(_) => Exit::DiffFound,
            Error::Sync(e) => sync_exit(e),
            Error::Shadow(acme_migrate::shadow::ShadowError::Source(e)) => legacy_exit(e),
            Error::Shadow(acme_migrate::shadow::ShadowError::NoStores(_)) => Exit::Usage,
            Error::Step(_) => Exit::Usage,
            Error::GateNotMet { .. } => Exit::Refused,
            Error::Control(acme_migrate::cutover::control::ControlError::NoFlag { .. }) => {
                Exit::Usage
            }
            Error::Control(_) => Exit::Failure,
            Error::Figures(acme_migrate::cutover::FiguresError::Control(
                acme_migrate::cutover::control::ControlError::NoFlag { .. },
            )) => Exit::Usage,
            Error::Figures(acme_migrate::cutover::FiguresError::Control(_)) => Exit::Failure,
            Error::Figures(_) => Exit::LegacyDatabase,
            Error::Local(LocalError::Config(_)) => Exit::ConfigInvalid,
            Error::Local(
                LocalError::BadInput(_)
                | LocalError::PortInUse { .. }
                | LocalError::AlreadyRunning { .. }
                | LocalError::RunnerStopped { .. },
            ) => Exit::Usage,
            _ => Exit::Failure,
        }
    }

    /// What to do about it, when there is something to say.
    ///
    /// (The migration's errors carry their own advice in their message.)
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::ReadAssembly { dir, .. } => Some(format!(
                "`acme-infra synth --out {}` writes one",
                dir.display()
            )),
            Error::MissingBundle { .. } => {
                Some("run `make functions`, or pass --assets-dir with prebuilt zips".into())
            }
            Error::NoCheckout { architecture } => Some(format!(
                "run deploy from the checkout, or build there with `ARCH={architecture} make functions` and pass --assets-dir <checkout>/target/lambda/{architecture}"
            )),
            Error::BuildScript { .. } => Some(
                "run deploy from a complete acme-infra checkout (git status shows what is missing)"
                    .into(),
            ),
            Error::PipelineFilesDiffer(_) => Some(
                "keep your edits (the files stay as they are), or run it again with --force to replace them".into(),
            ),
            Error::BuildFailed { architecture, .. } => Some(format!(
                "fix what it reports and run `ARCH={architecture} make functions` until it succeeds, or pass --assets-dir with prebuilt zips"
            )),
            _ => None,
        }
    }

    /// The text `main` prints on stderr. County-file errors and deploy
    /// failures carry their own layout; the rest is `error: ...` and a hint.
    pub fn render(&self) -> String {
        match self {
            Error::Config(e) | Error::UnknownCounty(e) => e.to_string(),
            Error::AddCounty(e) => e.to_string(),
            Error::Deploy(e) => e.report().trim_end().to_owned(),
            other => match other.hint() {
                Some(h) => format!("error: {other}\n  = hint: {h}"),
                None => format!("error: {other}"),
            },
        }
    }
}

impl miette::Diagnostic for Error {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("acme-infra::exit::{:?}", self.exit())))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.hint().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
}

fn legacy_exit(e: &acme_migrate::source::SourceError) -> Exit {
    use acme_migrate::source::SourceError;
    match e {
        SourceError::NoUrl | SourceError::BadUrl(_) => Exit::Usage,
        SourceError::Connect { .. } | SourceError::Schema { .. } | SourceError::Query { .. } => {
            Exit::LegacyDatabase
        }
    }
}

/// A sync that cannot start or go on: the legacy side's refusals are 11
/// (including a slot another process reads), what the operator must fix
/// first is 2.
fn sync_exit(e: &acme_migrate::sync::SyncError) -> Exit {
    use acme_migrate::sync::SyncError;
    match e {
        SyncError::Source(e) => legacy_exit(e),
        SyncError::NoSlot { .. } | SyncError::NoStores(_) => Exit::Usage,
        SyncError::Write(_) => Exit::WritesRefused,
        SyncError::WalLevel { .. }
        | SyncError::WrongPlugin { .. }
        | SyncError::OtherDatabase { .. }
        | SyncError::SlotInUse { .. }
        | SyncError::Slot { .. }
        | SyncError::Decode(_)
        | SyncError::Held(_) => Exit::LegacyDatabase,
    }
}

fn backfill_exit(e: &acme_migrate::backfill::BackfillError) -> Exit {
    use acme_migrate::backfill::BackfillError;
    match e {
        BackfillError::Source(e) => legacy_exit(e),
        BackfillError::Write(_) => Exit::WritesRefused,
        BackfillError::NoStores(_) => Exit::Usage,
        BackfillError::Checkpoint(acme_migrate::checkpoint::CheckpointError::Exists { .. })
        | BackfillError::Checkpoint(acme_migrate::checkpoint::CheckpointError::Mismatch {
            ..
        }) => Exit::Usage,
        BackfillError::Checkpoint(_) => Exit::Failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_failure_has_its_exit_code_and_a_rendered_message() {
        let e = Error::NoCounties("envs".into());
        assert_eq!(e.exit(), Exit::ConfigInvalid);
        assert!(e.render().starts_with("error: no county files in envs"));
        let e = Error::Synth(SynthError::LimitsExceeded {
            stacks: vec!["acme-x".into()],
        });
        assert_eq!(e.exit(), Exit::LimitExceeded);
        let e = Error::Stdout(std::io::ErrorKind::StorageFull.into());
        assert_eq!(e.exit(), Exit::Failure);
        let e = Error::ReadAssembly {
            dir: "asm".into(),
            source: AssemblyError::Invalid {
                path: "asm/manifest.json".into(),
                message: "bad".into(),
            },
        };
        assert_eq!(e.exit(), Exit::Usage);
        assert!(
            e.render()
                .ends_with("= hint: `acme-infra synth --out asm` writes one"),
            "{}",
            e.render()
        );
    }
}

//! The local runner's error type: every variant says what failed and, where
//! it helps, what to do next.

use std::path::PathBuf;

use thiserror::Error;

/// Anything that stops the local runner or an inventory command.
#[derive(Debug, Error)]
pub enum LocalError {
    #[error("county configuration: {0}")]
    Config(#[from] acme_stacks::config::ConfigErrors),
    #[error("county template: {0}")]
    Template(String),
    #[error("the county template has no {what}; the local runner needs it to {why}")]
    MissingInTemplate { what: String, why: &'static str },
    #[error(
        "cannot start the moto server: {0} (set AWS_ENDPOINT_URL to a running emulator, run from an acme-infra checkout, whose scripts/py-tools.sh installs moto, or put moto_server on PATH)"
    )]
    Emulator(String),
    #[error("{service} {operation} failed: {message}")]
    Aws {
        service: &'static str,
        operation: &'static str,
        message: String,
    },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    /// Bad input from the person running the command (a malformed stock
    /// file, a bad flag value): the documented bad-input exit code, not a failure.
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "port {port} on 127.0.0.1 is in use: stop what listens there or choose another with --port (0 picks a free one); nothing was created"
    )]
    PortInUse { port: u16 },
    #[error(
        "a local runner for {county} is already running (API {api_url}; state file {path}): stop it first, or use it"
    )]
    AlreadyRunning {
        county: String,
        path: PathBuf,
        api_url: String,
    },
    #[error(
        "{path}: the local runner for {county} (pid {pid}) is not running, so its tables on {endpoint} are processed by no one; start it again with `acme-infra local --county {county}` (it resumes those tables and its queue), or remove the file to use the deployed stack"
    )]
    RunnerStopped {
        county: String,
        path: PathBuf,
        pid: u32,
        endpoint: String,
    },
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The command's output could not be written (a full disk, a closed pipe).
    #[error("cannot write the output: {0}")]
    Output(#[source] std::io::Error),
}

impl LocalError {
    /// An SDK call failed; `e` is printed with its full source chain, since the
    /// SDK's top-level message alone ("service error") says nothing.
    pub fn aws(service: &'static str, operation: &'static str, e: impl std::error::Error) -> Self {
        let mut message = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        LocalError::Aws {
            service,
            operation,
            message,
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = LocalError> = std::result::Result<T, E>;

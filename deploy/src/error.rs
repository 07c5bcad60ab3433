//! The deployer's error type: every variant knows its exit code and, where
//! there is one, the next thing the operator should do.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::events::FailureDiagnosis;
use crate::exit::Exit;

/// Why a safety check refused a change set. Every refusal deletes the change
/// set it created and executes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// A stateful resource (table, bucket, key, queue, log group...) would be
    /// replaced or deleted and `--allow-replace` does not name it.
    StatefulResource,
    /// More than one global secondary index would be added or removed on one
    /// table in one update (DynamoDB allows one per `UpdateTable`).
    GsiLimit,
    /// The account/region has no (or an outdated) bootstrap stack.
    Bootstrap,
    /// The stack is in a state CloudFormation cannot update (in progress,
    /// `UPDATE_ROLLBACK_FAILED`, ...).
    StackState,
    /// The template or its inputs are inconsistent (unparseable JSON,
    /// asset parameter not declared, template too large...).
    Template,
}

/// Everything that can stop a deployer command.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// Bad arguments or inputs.
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
    },
    /// A safety check refused to execute a change.
    #[error("{stack}: refused: {reason}")]
    Refused {
        /// Stack the refusal applies to.
        stack: String,
        /// Which check refused.
        kind: RefusalKind,
        /// What would have happened.
        reason: String,
        /// How to proceed.
        fix: String,
    },
    /// The change needs approval (`--require-approval`) and did not get it.
    #[error("{stack}: not approved: {reason}")]
    NotApproved {
        /// Stack the change belongs to.
        stack: String,
        /// Why approval was needed.
        reason: String,
        /// How to approve.
        fix: String,
    },
    /// Credentials are missing/invalid or point at the wrong account/region.
    #[error("{message}")]
    Identity {
        /// What is wrong.
        message: String,
        /// How to fix it.
        fix: String,
    },
    /// A stack operation ended in a failed or rolled-back state.
    #[error("{stack}: {status}")]
    StackFailed {
        /// Stack name.
        stack: String,
        /// Final stack status, e.g. `ROLLBACK_COMPLETE`.
        status: String,
        /// The first failing resource, when one could be found.
        diagnosis: Option<Box<FailureDiagnosis>>,
    },
    /// An AWS API call failed.
    #[error("{operation} failed{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Aws {
        /// The operation, e.g. `CreateChangeSet`.
        operation: &'static str,
        /// The AWS error code, when the service returned one.
        code: Option<String>,
        /// The error message with its whole source chain.
        message: String,
    },
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `diff --fail` found differences.
    #[error("{} stack(s) differ from what is deployed: {}", stacks.len(), stacks.join(", "))]
    DiffFound {
        /// The stacks that differ.
        stacks: Vec<String>,
    },
    /// Ctrl-C stopped the run at a safe point.
    #[error("{stack}: interrupted: {state}")]
    Interrupted {
        /// Stack the run stopped on.
        stack: String,
        /// Where the stack was left (nothing executed, or an operation still
        /// running in CloudFormation).
        state: String,
        /// What to do next.
        fix: String,
    },
    /// Several stacks were processed and at least one failed.
    #[error("{} of {total} stack(s) failed", failures.len())]
    Fleet {
        /// Number of stacks attempted.
        total: usize,
        /// `(stack name, error)` per failed stack.
        failures: Vec<(String, DeployError)>,
    },
}

impl DeployError {
    /// The same error for another stack of the group it stopped (an account
    /// that could not be reached or is not bootstrapped stops each of its
    /// stacks). Errors of one stack's own deploy are never duplicated; they
    /// fall back to their text under the credentials' exit code.
    pub(crate) fn duplicate(&self) -> DeployError {
        match self {
            Self::Usage { message } => Self::Usage {
                message: message.clone(),
            },
            Self::Refused {
                stack,
                kind,
                reason,
                fix,
            } => Self::Refused {
                stack: stack.clone(),
                kind: *kind,
                reason: reason.clone(),
                fix: fix.clone(),
            },
            Self::Aws {
                operation,
                code,
                message,
            } => Self::Aws {
                operation,
                code: code.clone(),
                message: message.clone(),
            },
            other => Self::Identity {
                message: other.to_string(),
                fix: other.fix().unwrap_or_default(),
            },
        }
    }
}

/// AWS error codes that mean "your credentials are the problem", not the stack.
const CREDENTIAL_CODES: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
];

impl DeployError {
    /// How the process ends for this error (see [`crate::exit`]).
    pub fn exit(&self) -> Exit {
        match self {
            Self::Usage { .. } | Self::Io { .. } => Exit::Usage,
            Self::Refused { .. } => Exit::Refused,
            Self::NotApproved { .. } => Exit::NotApproved,
            Self::Identity { .. } => Exit::Credentials,
            Self::StackFailed { .. } => Exit::CloudFormation,
            Self::Aws { code, .. } => match code.as_deref() {
                Some(c) if CREDENTIAL_CODES.contains(&c) => Exit::Credentials,
                _ => Exit::CloudFormation,
            },
            Self::DiffFound { .. } => Exit::DiffFound,
            Self::Interrupted { .. } => Exit::Interrupted,
            Self::Fleet { failures, .. } => failures
                .iter()
                .map(|(_, e)| e.exit())
                .max()
                .unwrap_or(Exit::CloudFormation),
        }
    }

    /// The process exit code for this error: [`Self::exit`] as a number.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.exit().code())
    }

    /// What the operator should do next, when there is something to say.
    pub fn fix(&self) -> Option<String> {
        match self {
            Self::Refused { fix, .. }
            | Self::NotApproved { fix, .. }
            | Self::Interrupted { fix, .. }
            | Self::Identity { fix, .. } => Some(fix.clone()),
            Self::StackFailed { diagnosis, .. } => diagnosis.as_ref().map(|d| d.fix.to_string()),
            Self::Aws { code, message, .. } => {
                crate::events::likely_fix(code.as_deref().unwrap_or(""), message)
                    .map(str::to_string)
            }
            _ => None,
        }
    }

    /// The full, human-readable report: the error, the failing resource when
    /// known, and the fix. Fits on one screen by design.
    pub fn report(&self) -> String {
        let mut s = String::new();
        match self {
            Self::StackFailed {
                stack,
                status,
                diagnosis,
            } => {
                let _ = writeln!(s, "error: {stack} ended in {status}");
                match diagnosis {
                    Some(d) => {
                        let _ =
                            writeln!(s, "  first failure: {} ({})", d.logical_id, d.resource_type);
                        let _ = writeln!(s, "  status:        {}", d.status);
                        let _ = writeln!(s, "  reason:        {}", d.reason);
                        let _ = writeln!(s, "  likely fix:    {}", d.fix);
                    }
                    None => {
                        let _ = writeln!(
                            s,
                            "  no failing resource event was found; see the stack's events"
                        );
                    }
                }
            }
            Self::Fleet { failures, total } => {
                let _ = writeln!(s, "error: {} of {total} stack(s) failed", failures.len());
                for (stack, e) in failures {
                    let _ = writeln!(s, "--- {stack} (exit {})", e.exit_code());
                    s.push_str(&e.report());
                }
            }
            other => {
                let _ = writeln!(s, "error: {other}");
                if let Some(fix) = other.fix() {
                    let _ = writeln!(s, "  fix: {fix}");
                }
            }
        }
        s
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::Usage {
            message: message.into(),
        }
    }

    pub(crate) fn refused(
        stack: &str,
        kind: RefusalKind,
        reason: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::Refused {
            stack: stack.to_string(),
            kind,
            reason: reason.into(),
            fix: fix.into(),
        }
    }

    /// True for refusals and missing approval: nothing was executed.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Refused { .. } | Self::NotApproved { .. })
    }
}

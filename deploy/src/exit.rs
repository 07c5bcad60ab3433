//! The exit codes of `acme-infra`, one per kind of outcome, so a pipeline can
//! tell "the county file is wrong" from "AWS said no" without parsing text.
//! This is the only table: the deployer's errors map onto it
//! ([`DeployError::exit`](crate::DeployError::exit)), the binary maps its own
//! errors onto it and prints [`Exit::help_table`] in `acme-infra --help`.
//!
//! When several stacks fail for different reasons, the process exits with the
//! highest code among them, so a credentials problem is never hidden behind
//! an ordinary stack failure.

use std::fmt::Write as _;

/// How `acme-infra` ended. The discriminant is the process exit code; the
/// variants are in ascending order, so `max` picks the most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exit {
    /// Success, or nothing to do.
    Ok = 0,
    /// Differences found: `diff --fail` (a stack differs from what is
    /// deployed, as `diff(1)` and `git diff --exit-code` say it),
    /// `migrate verify` (the legacy database and the tables differ) or
    /// `pipeline init` (a CI file differs from what it writes; kept without `--force`).
    DiffFound = 1,
    /// Bad command line or inputs (clap uses 2 for its own usage errors too).
    Usage = 2,
    /// A safety check refused the change; nothing was executed: a deploy
    /// check, or a gate of `migrate cutover`.
    Refused = 3,
    /// The change needed approval and did not get it; nothing was executed.
    NotApproved = 4,
    /// CloudFormation (or S3) failed: a stack rolled back, an API call failed.
    CloudFormation = 5,
    /// Credentials missing or invalid, or for another account or region.
    Credentials = 6,
    /// A county file (or `defaults.yaml`) is invalid.
    ConfigInvalid = 7,
    /// A synthesized stack breaks a CloudFormation limit.
    LimitExceeded = 8,
    /// `county add`: the county already exists.
    AlreadyExists = 9,
    /// An unexpected failure (I/O, a bug); the message says what.
    Failure = 10,
    /// `migrate`: the legacy database could not be read (unreachable,
    /// refused, or missing a table or column the migration reads).
    LegacyDatabase = 11,
    /// `migrate`: DynamoDB kept refusing writes; `--resume` continues.
    WritesRefused = 12,
    /// A pre-deploy check failed: `plan --fail-on-risk` (a partition or a
    /// provisioned maximum would be exceeded at peak) or `doctor` (a check
    /// failed, or warned under `--strict`).
    CheckFailed = 13,
    /// Ctrl-C: stopped at a safe point (128 + SIGINT).
    Interrupted = 130,
}

impl Exit {
    /// Every exit code, in ascending order.
    pub const ALL: [Exit; 15] = [
        Exit::Ok,
        Exit::DiffFound,
        Exit::Usage,
        Exit::Refused,
        Exit::NotApproved,
        Exit::CloudFormation,
        Exit::Credentials,
        Exit::ConfigInvalid,
        Exit::LimitExceeded,
        Exit::AlreadyExists,
        Exit::Failure,
        Exit::LegacyDatabase,
        Exit::WritesRefused,
        Exit::CheckFailed,
        Exit::Interrupted,
    ];

    /// The process exit code.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// One line for `--help`.
    pub const fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "success, or nothing to do",
            Exit::DiffFound => {
                "differences: `diff --fail`, `migrate verify`, `pipeline init` (an edited file kept)"
            }
            Exit::Usage => "bad command line or inputs",
            Exit::Refused => {
                "a safety check or a `migrate cutover` gate refused; nothing was executed"
            }
            Exit::NotApproved => "the change needed approval and did not get it",
            Exit::CloudFormation => "CloudFormation (or S3) failed",
            Exit::Credentials => "credentials missing, or for another account or region",
            Exit::ConfigInvalid => "a county file (or defaults.yaml) is invalid",
            Exit::LimitExceeded => "a synthesized stack breaks a CloudFormation limit",
            Exit::AlreadyExists => "`county add`: the county already exists",
            Exit::Failure => "an unexpected failure (I/O, a bug); the message says what",
            Exit::LegacyDatabase => "`migrate`: the legacy database could not be read",
            Exit::WritesRefused => "`migrate`: DynamoDB kept refusing writes; --resume continues",
            Exit::CheckFailed => {
                "`plan --fail-on-risk`: capacity exceeded at peak; `doctor`: a check failed"
            }
            Exit::Interrupted => "Ctrl-C: stopped at a safe point",
        }
    }

    /// The table of every code, as `acme-infra --help` shows it.
    pub fn help_table() -> String {
        let mut s = String::from("Exit codes:\n");
        for e in Exit::ALL {
            let _ = writeln!(s, "  {:>3}  {}", e.code(), e.meaning());
        }
        s
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    #[test]
    fn codes_are_distinct_ascending_and_the_documented_numbers() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 130]);
        assert!(Exit::ALL.windows(2).all(|w| w[0] < w[1]));
        assert!(Exit::help_table().contains("130  Ctrl-C"));
    }
}

//! Named process exit codes for every deployer command.
//!
//! The `acme-infra` binary exits with [`DeployError::exit_code`](crate::DeployError::exit_code)
//! so that pipelines can tell *why* a deploy stopped without parsing text:
//!
//! | code | constant          | meaning                                                                |
//! |-----:|-------------------|------------------------------------------------------------------------|
//! | 0    | [`OK`]            | everything requested was done (or there was nothing to do)             |
//! | 1    | [`DIFF_FOUND`]    | `diff --fail`: at least one stack differs from what is deployed        |
//! | 2    | [`USAGE`]         | bad arguments or inputs: unknown county, unreadable asset file, ...    |
//! | 3    | [`VALIDATION`]    | a safety check refused the change (stateful replacement, GSI limit, missing bootstrap); nothing was executed |
//! | 4    | [`APPROVAL`]      | the change needs approval and none was given (non-interactive or "no") |
//! | 5    | [`CLOUDFORMATION`]| CloudFormation (or S3) failed: a stack rolled back, an API call failed |
//! | 6    | [`CREDENTIALS`]   | no usable credentials, or they point at another account/region         |
//! | 130  | [`INTERRUPTED`]   | Ctrl-C: stopped at a safe point (see [`crate::interrupt`])             |
//!
//! When several stacks fail for different reasons, the process exits with the
//! highest code among them, so a credentials problem is never hidden behind
//! an ordinary stack failure.

/// Success, or nothing to do.
pub const OK: i32 = 0;
/// `diff --fail` found differences (mirrors `diff(1)` and `git diff --exit-code`).
pub const DIFF_FOUND: i32 = 1;
/// Bad command line or inputs (clap also uses 2 for its own usage errors).
pub const USAGE: i32 = 2;
/// A pre-execution safety check refused the change set; nothing was executed.
pub const VALIDATION: i32 = 3;
/// The change needed approval and did not get it; nothing was executed.
pub const APPROVAL: i32 = 4;
/// CloudFormation or S3 reported a failure (rolled-back stack, failed API call).
pub const CLOUDFORMATION: i32 = 5;
/// Credentials are missing or invalid, or they belong to another account/region.
pub const CREDENTIALS: i32 = 6;
/// Stopped by Ctrl-C at a safe point (128 + SIGINT).
pub const INTERRUPTED: i32 = crate::interrupt::EXIT_CODE;

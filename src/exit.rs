//! Exit codes of `acme-infra`, one per kind of outcome, so a pipeline can tell
//! "the county file is wrong" from "AWS said no" without parsing text.

/// Success.
pub const OK: i32 = 0;
/// An unexpected failure: I/O, a bug. The message says what.
pub const FAILURE: i32 = 1;
/// Bad command line (clap's own code for usage errors).
pub const USAGE: i32 = 2;
/// A county file (or `defaults.yaml`) is invalid.
pub const CONFIG_INVALID: i32 = 3;
/// A synthesized stack breaks a CloudFormation limit.
pub const LIMIT_EXCEEDED: i32 = 4;
/// `county add` refused: the county already exists.
pub const ALREADY_EXISTS: i32 = 5;

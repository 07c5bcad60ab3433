//! Exit codes of `acme-infra`, one per kind of outcome, so a pipeline can tell
//! "the county file is wrong" from "AWS said no" without parsing text. The
//! deployer's codes (1 to 6) come from `acme_deploy::exit`; the generator's
//! follow them.
//!
//! | code | meaning |
//! |---:|---|
//! | 0 | success, or nothing to do |
//! | 1 | `diff --fail`: a stack differs from what is deployed |
//! | 2 | bad command line or inputs |
//! | 3 | a deploy safety check refused the change; nothing was executed |
//! | 4 | the change needed approval and did not get it; nothing was executed |
//! | 5 | CloudFormation (or S3) failed |
//! | 6 | credentials missing, or for another account or region |
//! | 7 | a county file (or `defaults.yaml`) is invalid |
//! | 8 | a synthesized stack breaks a CloudFormation limit |
//! | 9 | `county add`: the county already exists |
//! | 10 | an unexpected failure (I/O, a bug); the message says what |
//! | 130 | Ctrl-C: stopped at a safe point (nothing half-executed is left behind) |

// The whole table is re-exported for readers and the test below, though not
// every code is named in the binary's own code.
#[allow(unused_imports)]
pub use acme_deploy::exit::{
    APPROVAL, CLOUDFORMATION, CREDENTIALS, DIFF_FOUND, INTERRUPTED, OK, USAGE,
    VALIDATION as REFUSED,
};

/// A county file (or `defaults.yaml`) is invalid.
pub const CONFIG_INVALID: i32 = 7;
/// A synthesized stack breaks a CloudFormation limit.
pub const LIMIT_EXCEEDED: i32 = 8;
/// `county add` refused: the county already exists.
pub const ALREADY_EXISTS: i32 = 9;
/// An unexpected failure: I/O, a bug. The message says what.
pub const FAILURE: i32 = 10;

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_distinct() {
        let mut all = [
            super::OK,
            super::DIFF_FOUND,
            super::USAGE,
            super::REFUSED,
            super::APPROVAL,
            super::CLOUDFORMATION,
            super::CREDENTIALS,
            super::CONFIG_INVALID,
            super::LIMIT_EXCEEDED,
            super::ALREADY_EXISTS,
            super::FAILURE,
        ];
        all.sort_unstable();
        assert_eq!(all.to_vec(), (0..=10).collect::<Vec<_>>());
        assert!(!all.contains(&super::INTERRUPTED));
    }
}

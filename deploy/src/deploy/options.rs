//! What the operator asks of a deploy.

use std::path::PathBuf;

use serde::Serialize;

/// When a change needs a human's "yes".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequireApproval {
    /// Never ask.
    Never,
    /// Ask when access may widen: IAM, security groups, policies, Lambda permissions.
    #[default]
    Broadening,
    /// Ask for every change.
    AnyChange,
}

/// Options for [`crate::Deployer::deploy`].
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Stateful resources that may be replaced or deleted:
    /// `<county>/<LogicalId>` for one county's stack, a bare `<LogicalId>`
    /// for every stack of this deploy (the CLI accepts the bare form only
    /// when one county is deployed).
    pub allow_replace: Vec<String>,
    /// When to ask for approval.
    pub require_approval: RequireApproval,
    /// Stacks deployed at once.
    pub concurrency: usize,
    /// Stop starting new stacks after the first failure.
    pub fail_fast: bool,
    /// Create a change set even when the deploy hash matches.
    pub force: bool,
    /// Write every county's outputs here (JSON keyed by county id).
    pub outputs_file: Option<PathBuf>,
    /// A whole-fleet run: a county whose account these credentials cannot
    /// reach (and whose file names no way in) is skipped with its reason,
    /// not a failure. Off when counties are named: a named county is deployed
    /// or the run fails.
    pub skip_unreachable: bool,
}

impl Default for DeployOptions {
    fn default() -> Self {
        Self {
            allow_replace: vec![],
            require_approval: RequireApproval::Broadening,
            concurrency: 1,
            fail_fast: false,
            force: false,
            outputs_file: None,
            skip_unreachable: false,
        }
    }
}

impl DeployOptions {
    /// The logical ids `--allow-replace` allows for `county`'s stack.
    pub fn allowed_for(&self, county: &str) -> Vec<String> {
        self.allow_replace
            .iter()
            .filter_map(|a| match a.split_once('/') {
                Some((c, id)) if c == county => Some(id.to_owned()),
                Some(_) => None,
                None => Some(a.clone()),
            })
            .collect()
    }
}

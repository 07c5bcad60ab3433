//! What a deploy reports: per stack, and for the fleet.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use crate::artifact::StackArtifact;

/// How one stack's deploy ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum Outcome {
    /// A new stack was created.
    Created {
        /// Resource changes executed.
        changes: usize,
    },
    /// An existing stack was updated.
    Updated {
        /// Resource changes executed.
        changes: usize,
    },
    /// Nothing to do.
    Unchanged {
        /// Why: deploy hash matched, or CloudFormation found no changes.
        reason: String,
    },
    /// Not attempted (`--fail-fast` after another stack failed).
    Skipped,
    /// Not attempted: a whole-fleet run whose credentials cannot reach the
    /// stack's account (another account, and no `access:` in the county file).
    Unreachable {
        /// Which account, and why it cannot be reached.
        reason: String,
    },
}

/// One stack's result.
#[derive(Debug, Clone, Serialize)]
pub struct StackReport {
    /// Stack name.
    pub stack: String,
    /// County id.
    pub county: String,
    /// What happened.
    pub outcome: Outcome,
    /// Wall time.
    pub seconds: f64,
    /// Stack outputs (possibly resolved from `ListStackResources`, see `outputs_note`).
    pub outputs: BTreeMap<String, String>,
    /// Set when outputs were not read from CloudFormation's `Outputs`.
    pub outputs_note: Option<String>,
}

/// A stack's outputs and, when they were not read from `Outputs`, how they
/// were found.
pub(crate) type Outputs = (BTreeMap<String, String>, Option<String>);

impl StackReport {
    /// The report for `artifact`'s stack, deployed since `started`.
    pub(crate) fn finished(
        artifact: &StackArtifact,
        outcome: Outcome,
        started: Instant,
        (outputs, outputs_note): Outputs,
    ) -> Self {
        Self {
            stack: artifact.stack_name.clone(),
            county: artifact.county_id.clone(),
            outcome,
            seconds: started.elapsed().as_secs_f64(),
            outputs,
            outputs_note,
        }
    }
}

/// What a fleet deploy did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeployReport {
    /// One entry per stack, in input order.
    pub stacks: Vec<StackReport>,
}

//! The deploy flow for one stack and for a fleet of county stacks.
//!
//! Per stack (`flow`): hash → [`plan`] (skip, create, update, recreate or
//! refuse, from the stack's status and deploy hash) → upload missing assets →
//! change set (`change_set`) → readable diff → safety checks and approval
//! (`gate`) → execute → watch events (`crate::watch`) → outputs. Any
//! refusal deletes the change set it created and executes nothing. Many
//! stacks at once: `fleet`.
//!
//! This module is the top of the crate's layers: it uses the AWS-facing
//! modules (`crate::deployer`, `crate::stack`, `crate::watch`,
//! `crate::assets`, `crate::bootstrap`) and none of them uses it.

mod change_set;
mod fleet;
mod flow;
mod gate;
mod options;
pub mod plan;
mod report;

pub use crate::bootstrap::BootstrapInfo;
pub use crate::deployer::{Deployer, Identity, StatsSnapshot};
pub use options::{DeployOptions, RequireApproval};
pub use report::{DeployReport, Outcome, StackReport};

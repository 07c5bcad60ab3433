//! `acme-deploy`: the deployer, the only part of acme-infra that talks to
//! CloudFormation.
//!
//! It takes generated [`StackArtifact`]s (one per county, stack `acme-<county>`)
//! and deploys them through change sets:
//!
//! 1. **Preflight**: `sts:GetCallerIdentity` must match every artifact's
//!    account/region; the account must be bootstrapped ([`Deployer::bootstrap`])
//!    at the current [`bootstrap::VERSION`].
//! 2. **Skip**: if the stack carries the same `acme:deploy-hash` tag (template +
//!    parameters + tags), nothing is uploaded and no change set is created.
//! 3. **Assets**: zips go to `assets/<sha256>.zip` (HEAD first); templates over
//!    51,200 bytes go to `templates/<sha256>.json` and are passed by URL.
//! 4. **Change set**: CREATE or UPDATE (explicitly), a `ROLLBACK_COMPLETE`
//!    stack is deleted and recreated, empty change sets are deleted and
//!    reported as "no changes".
//! 5. **Safety** ([`safety`]): no stateful resource replaced or deleted
//!    without `--allow-replace`, at most one GSI change per table, approval
//!    for broadening changes. A refusal deletes the change set; nothing runs.
//! 6. **Execute**, stream events with backoff, diagnose the first failure.
//!
//! The binary's entry points live in [`cli`]; the exit codes in [`exit`].
//!
//! # Wiring it into a binary
//!
//! ```no_run
//! # async fn demo(artifacts: Vec<acme_deploy::StackArtifact>) {
//! let deployer = acme_deploy::Deployer::from_env().await; // SDK clients, built once
//! let out = acme_deploy::cli::output(false);
//! let opts = acme_deploy::DeployOptions::default();
//! if let Err(e) = acme_deploy::cli::run_deploy(&deployer, &[], &opts, artifacts, &out).await {
//!     eprint!("{}", e.report());
//!     std::process::exit(e.exit_code());
//! }
//! # }
//! ```
//!
//! # Tests
//!
//! `scripts/with-moto.sh cargo test -p acme-deploy` runs three suites:
//! unit tests; `tests/moto.rs` (control flow over real HTTP against moto,
//! failing, never skipping, without `AWS_ENDPOINT_URL`); `tests/replay.rs`
//! (failure, rollback, throttling and refusal paths replayed through
//! `aws-smithy-mocks` with response bodies shaped like real CloudFormation);
//! and `tests/perf.rs` (figures printed with `--nocapture`).
//!
//! moto gaps this crate works around, each with a fallback that is also
//! correct on real AWS: no Outputs on change-set stacks (bucket and `Ref`
//! outputs come from `ListStackResources`, bootstrap version from a stack
//! tag), no replacement data in change sets (the template diff supplies it),
//! `ListChangeSets` ignoring its stack filter. Not emulated at all:
//! `UpdateTerminationProtection` (HTTP 500), so moto tests deploy with
//! termination protection off and the replay tests cover it.

// Layers, each using only those above it: errors, events and pure checks
// (`error`, `events`, `changes`, `template_diff`, `safety`, `artifact`,
// `output`, `interrupt`, `aws`); the `deployer` (clients, stats); the
// AWS-facing parts (`stack`, `watch`, `assets`, `bootstrap`, `commands`);
// the `deploy` flow; the `cli`.
pub mod artifact;
mod assets;
pub mod aws;
pub mod bootstrap;
pub mod changes;
pub mod cli;
mod commands;
pub mod deploy;
mod deployer;
pub mod doctor;
pub mod error;
pub mod events;
pub mod exit;
pub mod interrupt;
pub mod output;
pub mod reach;
pub mod safety;
mod stack;
pub mod template_diff;
mod watch;

pub use artifact::{FunctionAsset, StackArtifact};
pub use aws::{CallCounter, Clients, Pacing};
pub use bootstrap::{BootstrapInfo, BootstrapOptions};
pub use commands::{Retained, StackDiff, StackStatusRow};
pub use deploy::{DeployOptions, DeployReport, Outcome, RequireApproval, StackReport};
pub use deployer::{Deployer, Identity, StatsSnapshot};
pub use error::{DeployError, RefusalKind};
pub use interrupt::Interrupt;
pub use output::{Format, Output};
pub use reach::{Reach, Target};

//! `acme-local`: one county's order system on the local AWS emulator (moto),
//! built from the same stack definition CloudFormation deploys and running
//! the same handler code the Lambdas run.
//!
//! | module | what |
//! |---|---|
//! | [`stack`] | the county's typed table layouts and template, and what the runner reads from them |
//! | [`provision`] | tables (GSIs, streams, TTL) from their typed layouts; queues (redrive), bus and topics from the template's `Properties` |
//! | [`emulator`] | `AWS_ENDPOINT_URL`, or a moto server (the checkout's venv, else `PATH`) started and stopped here |
//! | [`api`] | HTTP → `ApiGatewayProxyRequest` → API function → HTTP, routed by the API's route table, behind a bearer token ([`auth`]) |
//! | [`queue`] | the worker's SQS event source: batches, partial batch failures, redelivery, DLQ |
//! | [`stream`] | the publisher's DynamoDB stream event source: per-shard order and checkpoints |
//! | [`functions`] | the event-source traits the runner invokes |
//! | [`metrics`] | emulator time versus our time per request |
//! | [`migration`] | a migrating county's cutover flag, shadow reads and legacy-sync, as its stack runs them |
//!
//! The runner writes a state file (see [`state`]) so `acme-infra inventory`
//! finds the tables of a running local county, and so a restart resumes them
//! (queue and stream position included) rather than stranding what was
//! accepted; against AWS the same commands read the table names from the
//! `acme-<county>` stack's outputs.
//!
//! ```text
//! acme-infra local --county travis-tx                # moto started here
//! acme-infra inventory load --county travis-tx stock.csv
//! acme-infra local load --county travis-tx --duration 20s --clients 16
//! scripts/with-moto.sh cargo test -p acme-local      # the integration tests
//! ```
//!
//! What moto forced on the runner (each explained where it's handled):
//! - its `TransactWriteItems` is not isolated from concurrent requests, so
//!   writes to it are serialized, and reads (the stream's too) wait for
//!   writes in flight ([`order_aws::emulator`], shared with the adapter
//!   tests);
//! - a cancelled transaction's rollback replaces the table's stream shard,
//!   stranding open shard iterators, so the stream poller makes a fresh
//!   iterator from its checkpoint on every poll ([`stream`]);
//! - the order queue's visibility timeout is sized for Lambda (minutes), so
//!   `--visibility-timeout` shortens it for redelivery on a laptop.
//!
//! EventBridge rules on the county bus do route to SQS targets in moto: the
//! event tests observe published events that way.

pub mod api;
pub mod auth;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod emulator;
pub mod error;
pub mod functions;
pub mod handlers;
pub mod inventory;
pub mod load;
pub mod metrics;
pub mod migration;
pub mod orders;
pub mod outputs;
pub mod provision;
pub mod queue;
pub mod runner;
pub mod stack;
pub mod state;
pub mod stream;

pub use error::{LocalError, Result};

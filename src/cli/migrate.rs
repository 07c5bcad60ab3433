//! `acme-infra migrate`: moving a county off the legacy order database.

use std::path::PathBuf;

use acme_migrate::read::Shard;
use clap::{Args, Subcommand};

use super::local::InventoryTargetArgs;

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Copy a county's inventory and order history from the legacy database.
    #[command(after_help = "\
Examples:
  export ACME_LEGACY_URL='postgres://migrator@legacy-db:5432/orders?sslmode=require'
  acme-infra migrate backfill --county travis-tx --max-wcu 400 --report backfill.json
  acme-infra migrate backfill --county travis-tx --resume          # after a stop
  acme-infra migrate backfill --county travis-tx --shard 2/4 ...   # one of 4 processes

The legacy database is read through one REPEATABLE READ snapshot, a page at a
time by primary key; each page is mapped (docs/migration.md has the rules),
written with BatchWriteItem within --max-wcu, and only then recorded in the
checkpoint. A run killed at any moment resumes with --resume and writes no
order twice (ids are derived from legacy numbers). Orders the rules cannot
hold are rejected with their reason in the report, never altered; they do not
stop the run. Writes go to the county's tables: a running `acme-infra local`,
or the deployed stack acme-<county> (see --target).")]
    Backfill(BackfillArgs),
    /// Compare every legacy order of a county with its items, both ways.
    #[command(after_help = "\
Example:
  acme-infra migrate verify --county travis-tx --report verify.json

Each legacy order is mapped as the backfill maps it and compared with its
OrderById record and Orders summary (SHA-256 of each item's canonical form;
attribute by attribute when they differ). Migrated orders in the tables that
the legacy county lacks are extra. Orders the mapping rejects are listed as
known rejects and do not fail verify. Exit 0 when clean, 1 on any difference.")]
    Verify(VerifyArgs),
}

/// The two sides every migration command joins, and where its report goes.
#[derive(Debug, Clone, Args)]
pub struct Sides {
    #[command(flatten)]
    pub target: InventoryTargetArgs,
    /// The legacy database (`postgres://user:password@host:port/db`,
    /// `?sslmode=require` for TLS, verified; `&sslrootcert=/path/ca.pem` or
    /// PGSSLROOTCERT to trust a private CA). The password is never printed.
    #[arg(
        long,
        value_name = "URL",
        env = "ACME_LEGACY_URL",
        hide_env_values = true
    )]
    pub from: Option<String>,
    /// Write the command's report (counts, warnings, rejects, differences)
    /// as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub sides: Sides,
}

#[derive(Debug, Clone, Args)]
pub struct BackfillArgs {
    #[command(flatten)]
    pub sides: Sides,
    /// Write units per second this backfill may spend, shared by all shards
    /// (each of N processes takes 1/N). Unlimited when absent.
    #[arg(long, value_name = "WCU", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_wcu: Option<u64>,
    /// Run as shard K of N processes sharing one backfill (keys mod N).
    #[arg(long, value_name = "K/N", default_value = "1/1")]
    pub shard: Shard,
    /// Continue the run the checkpoint records.
    #[arg(long)]
    pub resume: bool,
    /// Where checkpoints are kept (one file per county and shard).
    #[arg(long, value_name = "DIR", default_value = ".acme-migrate")]
    pub checkpoint_dir: PathBuf,
    /// Legacy rows read per page (and the most held in memory at once).
    #[arg(long, value_name = "N", default_value_t = 500,
          value_parser = clap::value_parser!(i64).range(1..=10_000))]
    pub page_size: i64,
}

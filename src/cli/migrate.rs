//! `acme-infra migrate`: moving a county off the legacy order database.

use std::path::PathBuf;

use acme_contract::migration::CutoverMode;
use acme_migrate::read::Shard;
use acme_migrate::sync::slot::SlotName;
use clap::{Args, Subcommand};

use super::local::InventoryTargetArgs;

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Copy a county's inventory, order history and customer profiles from the legacy database.
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
stop the run. The profiles of the customers with orders in the county go to
its Customers table only, values exactly as the legacy rows hold them. Writes
go to the county's tables: a running `acme-infra local`, or the deployed stack
acme-<county> (see --target), whose Customers key only the stack's MigrationRole
may use besides the order API: run as it (AWS_PROFILE with role_arn = the
MigrationRoleArn output; `migration:` in the county file, docs/migration.md).")]
    Backfill(BackfillArgs),
    /// Compare every legacy order of a county with its items, both ways.
    #[command(after_help = "\
Example:
  acme-infra migrate verify --county travis-tx --report verify.json

Each legacy order is mapped as the backfill maps it and compared with its
OrderById record and Orders summary (SHA-256 of each item's canonical form;
attribute by attribute when they differ). Migrated orders in the tables that
the legacy county lacks are extra. Orders the mapping rejects are listed as
known rejects and do not fail verify. Customers with orders in the county are
compared with their profiles (missing or different, by attribute name only:
the values are PII). Exit 0 when clean, 1 on any difference.")]
    Verify(VerifyArgs),
    /// Keep a county's tables in step with the legacy database (change data
    /// capture) until it is cut over.
    #[command(after_help = "\
Examples:
  export ACME_LEGACY_URL='postgres://migrator@legacy-db:5432/orders?sslmode=require'
  acme-infra migrate sync --county travis-tx --prepare     # 1. the slot, before the backfill
  acme-infra migrate backfill --county travis-tx           # 2. history
  acme-infra migrate sync --county travis-tx               # 3. runs until SIGTERM or Ctrl-C
  acme-infra migrate sync --county travis-tx --drop-slot   # once the county is retired

Reads the county's logical replication slot (plugin test_decoding; the
database needs wal_level=logical, on RDS rds.logical_replication=1, and the
user the REPLICATION attribute, on RDS the rds_replication role). Each batch
of changes is read again from the database, mapped by the backfill's rules and
written with one conditional put per item, guarded by the legacy updated_at;
only then does the slot move. Killed at any moment, it replays at most the
batch in hand, which writes the same items. A lost connection is retried with
backoff. A row the rules refuse is reported and skipped. SIGTERM or Ctrl-C:
the batch in hand is finished, the slot moved, exit 0. A status line (changes/s,
lag from commit to write, WAL not yet read) every --status-every seconds.

Exit codes: 2 no slot (run --prepare) or no stores in the county; 11 the
legacy database refused (unreachable, wal_level not logical, the slot in use by
another process, no REPLICATION privilege); 12 DynamoDB refused a write.")]
    Sync(SyncArgs),
    /// Compare the order API's sampled reads (mode shadow) with the legacy
    /// database and publish the mismatch metrics.
    #[command(after_help = "\
Examples:
  export ACME_LEGACY_URL='postgres://migrator@legacy-db:5432/orders?sslmode=require'
  export ACME_SHADOW_READS_QUEUE_URL=$(aws cloudformation describe-stacks --stack-name acme-travis-tx \\
    --query \"Stacks[0].Outputs[?OutputKey=='ShadowReadsQueueUrl'].OutputValue\" --output text)
  acme-infra migrate shadow --county travis-tx                 # runs until SIGTERM or Ctrl-C
  acme-infra migrate shadow --county travis-tx --until-empty --report shadow.json

In mode shadow the order API sends migration.shadow.sample_percent of its
answers (GET /orders/{id}, GET /orders/legacy/{n}) to the county's ShadowReads
queue. This long-polls the queue, reads each order's legacy row, maps it by the
backfill's rules and compares it field by field with the answer. A legacy row
updated after the item the API read is lag, counted as stale, not a mismatch.
Each batch's counts go to CloudWatch (namespace ACME/Migration, dimension
County: ShadowReads, ShadowMismatches, ShadowStaleReads) before its messages
are deleted, so a stop at any moment loses no comparison. Mismatches are
logged with the order id and the names of the differing fields, never values.
A message that is not a shadow read of this county is reported and deleted.

Exit codes: 2 no stores in the county, no queue URL; 11 the legacy database
refused; 1 SQS or CloudWatch refused.")]
    Shadow(ShadowArgs),
    /// Where a migrating county stands: cutover mode, CDC lag, legacy-sync
    /// lag, last verify, shadow mismatches.
    #[command(after_help = "\
Examples:
  acme-infra migrate status --county travis-tx
  acme-infra migrate status --county travis-tx --json | jq .cdc

Mode: the county's SSM parameter /acme/<county>/migration/mode. CDC lag: the
commit time of the oldest change still in the county's replication slot (0
when it holds none). legacy-sync lag: its progress row in the legacy database
(\"legacy-sync has not run\" without one). Last verify: what `migrate verify`
recorded. Shadow reads and mismatches, and legacy writes the sync flagged:
CloudWatch sums over the county file's migration.cutover.shadow_window_minutes.
Runs as the county's MigrationRole against a deployed county.

Exit codes: 2 bad input (a county without `migration:`, no URL); 7 a county
not in environments/; 10 SSM or CloudWatch refused; 11 the legacy database
could not be read.")]
    Status(StatusArgs),
    /// Move a migrating county one step (legacy → shadow → dynamo → retired)
    /// when the step's gates are met, or back one step with --rollback.
    #[command(after_help = "\
Examples:
  acme-infra migrate cutover --county travis-tx --to shadow
  acme-infra migrate cutover --county travis-tx --to dynamo
  acme-infra migrate cutover --county travis-tx --rollback     # dynamo → shadow

Gates (thresholds under migration.cutover: in the county file):
  to shadow   verify clean within verify_max_age_hours; CDC lag <= max_cdc_lag_seconds
  to dynamo   the same, and at least min_shadow_reads shadow reads with 0
              mismatches over the last shadow_window_minutes
  to retired  legacy-sync lag <= max_cdc_lag_seconds
Each gate is printed with its figure and threshold. --rollback has no gate:
it is the way back. The functions read the mode with a 15 s cache, so a
change is everywhere within 15 s.

Exit codes: 0 moved; 2 bad input (a mode not next to the current one, a
county without `migration:`, nothing to roll back to); 3 a gate is not met,
nothing changed; 10 SSM or CloudWatch refused; 11 the legacy database could
not be read.")]
    Cutover(CutoverArgs),
}

/// Where status and cutover read the county's figures.
#[derive(Debug, Clone, Args)]
pub struct CountySides {
    #[command(flatten)]
    pub target: InventoryTargetArgs,
    /// The legacy database (as for `migrate sync`).
    #[arg(
        long,
        value_name = "URL",
        env = "ACME_LEGACY_URL",
        hide_env_values = true
    )]
    pub from: Option<String>,
    /// The county's replication slot, if not `acme_cdc_<county>`.
    #[arg(long, value_name = "NAME", value_parser = SlotName::parse)]
    pub slot: Option<SlotName>,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub sides: CountySides,
    /// Print the figures as JSON (for tools) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
#[command(group = clap::ArgGroup::new("step").required(true).args(["to", "rollback"]))]
pub struct CutoverArgs {
    #[command(flatten)]
    pub sides: CountySides,
    /// The mode to move to: the one after the current mode.
    #[arg(long, value_name = "MODE", value_parser = parse_mode)]
    pub to: Option<CutoverMode>,
    /// Return to the mode before the current one.
    #[arg(long)]
    pub rollback: bool,
}

fn parse_mode(s: &str) -> Result<CutoverMode, String> {
    s.parse()
        .map_err(|e: acme_contract::migration::UnknownMode| e.to_string())
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
pub struct SyncArgs {
    #[command(flatten)]
    pub sides: Sides,
    /// Create the county's replication slot and exit: run it before the
    /// backfill, so the stream starts before the backfill's snapshot.
    #[arg(long, conflicts_with = "drop_slot")]
    pub prepare: bool,
    /// Drop the county's replication slot and exit (the county is retired,
    /// or starts over with a new backfill). The server then frees its WAL.
    #[arg(long)]
    pub drop_slot: bool,
    /// The slot's name, if not `acme_cdc_<county>` (`-` as `_`).
    #[arg(long, value_name = "NAME", value_parser = SlotName::parse)]
    pub slot: Option<SlotName>,
    /// Row changes read from the slot at a time (whole transactions).
    #[arg(long, value_name = "N", default_value_t = 500,
          value_parser = clap::value_parser!(i32).range(1..=100_000))]
    pub batch: i32,
    /// Milliseconds to wait when the slot holds nothing new.
    #[arg(long, value_name = "MS", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub poll_ms: u64,
    /// Item writes in flight at once.
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u64).range(1..=256))]
    pub concurrency: u64,
    /// Seconds between two status lines.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub status_every: u64,
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

#[derive(Debug, Clone, Args)]
pub struct ShadowArgs {
    #[command(flatten)]
    pub sides: Sides,
    /// The county's ShadowReads queue (the stack output ShadowReadsQueueUrl).
    #[arg(long, value_name = "URL", env = "ACME_SHADOW_READS_QUEUE_URL")]
    pub queue: String,
    /// Messages received at a time (SQS takes at most 10).
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(i32).range(1..=10))]
    pub batch: i32,
    /// Seconds a receive waits for messages (long polling; at most 20).
    #[arg(long, value_name = "SECS", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(0..=20))]
    pub wait: u64,
    /// Exit once a receive finds the queue empty, instead of running on.
    #[arg(long)]
    pub until_empty: bool,
}

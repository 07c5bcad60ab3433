//! `local` and `inventory`: the local runner's commands. Their flags become
//! `acme_local::cli`'s plain values here.

use std::path::PathBuf;
use std::time::Duration;

use acme_local::cli as local;
use clap::{Args, Subcommand, ValueEnum};

use super::EnvironmentsArg;
use jiff::Timestamp;

/// Run one county's order system on the local AWS emulator.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
#[command(after_help = "\
Examples:
  acme-infra local --county travis-tx
      # starts moto on a free port, provisions the county's tables and
      # queues from its template, serves the API on 127.0.0.1:3000
  ACME_LOCAL_TOKEN=dev acme-infra local --county king-wa --port 8080 \\
      --sale-clock 2026-05-06T17:00:00Z
  scripts/with-moto.sh acme-infra local --county travis-tx   # a moto you run
  AWS_ENDPOINT_URL=http://127.0.0.1:5000 acme-infra local --county travis-tx --fresh
      # new tables and queues, even if the last run's still exist
  acme-infra local load --county travis-tx --duration 20s --clients 16
  acme-infra local --county travis-tx --legacy-db postgres://sync@127.0.0.1:5432/orders
      # a migration rehearsal: the flag starts in `legacy` (writes get 409)
      # until `acme-infra migrate cutover --target local` (or --cutover-mode)
      # moves it to `dynamo`; legacy-sync writes the orders taken to the database

Then, in another shell:
  acme-infra inventory load --county travis-tx stock.csv
  curl -H 'Authorization: Bearer <token>' -d @order.json http://127.0.0.1:3000/orders

The token is printed at start unless ACME_LOCAL_TOKEN is set. Ctrl-C or
SIGTERM stops the pollers after their in-flight batches, then the server,
then moto (if started here), and exits 0.

A restart for the same county resumes its tables, queue and stream position
(recorded in $ACME_LOCAL_STATE_DIR/COUNTY.json, default $TMPDIR/acme-local)
when they still exist on the emulator, so orders accepted before a stop or a
crash are processed; with a moto it started itself, that moto's data ends
with the runner. While no runner holds the county (COUNTY.lock), inventory
and migrate refuse to write into its tables.")]
pub struct LocalArgs {
    #[command(subcommand)]
    pub command: Option<LocalCommand>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Create new tables and queues instead of resuming the ones the county's
    /// state file names (the old ones stay on the emulator, unprocessed).
    #[arg(long)]
    pub fresh: bool,
}

/// Settings shared by `local` and `local load`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// County id (environments/ID.yaml).
    #[arg(long, value_name = "ID")]
    pub county: Option<String>,
    #[command(flatten)]
    pub env: EnvironmentsArg,
    /// Port of the API on 127.0.0.1.
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
    /// Pin the time the county's sale-hour rules see (RFC 3339). Orders still
    /// get real timestamps.
    #[arg(long, value_name = "RFC3339")]
    pub sale_clock: Option<Timestamp>,
    /// Override the order queue's visibility timeout, seconds (the template's
    /// is sized for Lambda's timeout: minutes before a failed message returns).
    #[arg(long, value_name = "SECONDS")]
    pub visibility_timeout: Option<u32>,
    /// Concurrent queue pollers (capped by the mapping's maximum concurrency).
    #[arg(long, default_value_t = 4)]
    pub pollers: usize,
    /// A county with a `migration:` section: put its cutover flag (SSM on
    /// the emulator) in MODE at start, with no gate (legacy, shadow, dynamo,
    /// retired). Without it the flag keeps its mode, or is created in
    /// `legacy` as the stack creates it; `local load` defaults to `dynamo`.
    #[arg(long, value_name = "MODE", value_parser = parse_mode)]
    pub cutover_mode: Option<acme_contract::migration::CutoverMode>,
    /// A county with `migration.legacy_sync`: the legacy database legacy-sync
    /// writes the orders taken here to (`postgres://user:password@host:port/db`;
    /// the password is never printed). Without it legacy-sync does not run.
    #[arg(
        long,
        value_name = "URL",
        env = "ACME_LEGACY_URL",
        hide_env_values = true
    )]
    pub legacy_db: Option<String>,
}

fn parse_mode(s: &str) -> Result<acme_contract::migration::CutoverMode, String> {
    s.parse()
        .map_err(|e: acme_contract::migration::UnknownMode| e.to_string())
}

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Drive a local county with concurrent clients and report throughput,
    /// latency and where the time went.
    #[command(after_help = "\
Example:
  acme-infra local load --county travis-tx --duration 20s --clients 16

Starts the county in-process (on AWS_ENDPOINT_URL or a moto it starts),
loads stock, then each client places orders back to back for the duration.
Reports orders/s accepted and confirmed, p50/p99 accept latency, and the
share of each request spent in emulator calls versus our code.")]
    Load(LoadArgs),
}

#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// How long clients send orders (e.g. 20s, 1m).
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// How long to wait after the run for accepted orders to be confirmed.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub drain: Duration,
}

/// `20s`, `500ms`, `2m`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 20s, 500ms or 2m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("{s:?}: unit must be ms, s or m")),
    }
}

/// Manage stock levels and prices.
#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Load stock and prices from a CSV (store_id,sku,quantity,price_cents).
    #[command(after_help = "\
Example:
  acme-infra inventory load --county travis-tx stock.csv
  acme-infra inventory load --county travis-tx --target aws - < stock.csv

Each row says how many units are on the shelf. A SKU the store already
stocks gets that quantity less what its orders hold (reserved, or sold and
not yet collected), so loading the same file twice is harmless and a reload
never sells a unit twice; a new SKU gets the quantity as it is.

The file is read as it streams and every row is checked first; any bad row
means nothing is written (the first 20 are listed with file, line, column
and reason, the rest counted; exit code 2). Lines over 4096 bytes or files
over 1,000,000 rows are refused. New SKUs are written 25 at a time
(BatchWriteItem's limit), existing ones one at a time.")]
    Load(InventoryLoadArgs),
    /// Show a store's stock: available, reserved, sold and price per SKU.
    #[command(after_help = "\
Example:
  acme-infra inventory show --county travis-tx --store store-001")]
    Show(InventoryShowArgs),
}

/// Where the county's tables are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum TargetArg {
    /// The local runner's state file if there is one (refused if that
    /// runner is not running), else AWS.
    #[default]
    Auto,
    /// A running `acme-infra local` (its state file, $TMPDIR/acme-local/COUNTY.json).
    Local,
    /// The deployed stack `acme-<county>`: table names from DescribeStacks outputs.
    Aws,
}

#[derive(Debug, Clone, Args)]
pub struct InventoryTargetArgs {
    /// County id.
    #[arg(long, value_name = "ID")]
    pub county: String,
    /// Where to read and write.
    #[arg(long, value_enum, default_value_t = TargetArg::Auto)]
    pub target: TargetArg,
    #[command(flatten)]
    pub env: EnvironmentsArg,
}

#[derive(Debug, Clone, Args)]
pub struct InventoryLoadArgs {
    #[command(flatten)]
    pub target: InventoryTargetArgs,
    /// CSV file with columns store_id,sku,quantity,price_cents (`-`: stdin).
    pub file: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct InventoryShowArgs {
    #[command(flatten)]
    pub target: InventoryTargetArgs,
    /// Store id.
    #[arg(long = "store", value_name = "ID")]
    pub store: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Dead letters and stuck orders of a county.
#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// Move the order dead-letter queue's messages back to the order queue.
    #[command(after_help = "\
Examples:
  acme-infra orders redrive --county travis-tx --dry-run
  acme-infra orders redrive --county travis-tx
  acme-infra orders redrive --county travis-tx --target aws

Uses SQS's StartMessageMoveTask where the endpoint has it (AWS), and prints
the order ids seen in the DLQ before the move; elsewhere (the local
emulator) it moves message by message: receive, send to the order queue,
and delete from the DLQ only after the send succeeded, at most 10,000 per
run. Prints how many messages moved and their order ids. --dry-run lists
them and moves nothing. The worker is idempotent: a redriven order that is
already final is acknowledged and left as it is.

Exit codes: 0 done (nothing to move too); 2 bad flags, or the local runner
its state file names is stopped; 7 the county file is missing or invalid;
10 an SQS or CloudFormation call failed (the message names it).")]
    Redrive(OrdersRedriveArgs),
    /// List orders PENDING or RESERVED for longer than the county's
    /// `sweeper.stuck_after_minutes`.
    #[command(after_help = "\
Examples:
  acme-infra orders stuck --county travis-tx
  acme-infra orders stuck --county travis-tx --target aws --json

The threshold is the county file's sweeper.stuck_after_minutes (default 10).
The sweeper sends such PENDING orders to the worker again on its next run,
and releases RESERVED ones once their reservation has expired
(reservation_ttl_seconds, plus 15 minutes).

Exit codes: 0 listed (an empty list too); 2 bad flags, or the local runner
its state file names is stopped; 7 the county file is missing or invalid;
10 a DynamoDB or CloudFormation call failed (the message names it).")]
    Stuck(OrdersStuckArgs),
}

#[derive(Debug, Clone, Args)]
pub struct OrdersRedriveArgs {
    #[command(flatten)]
    pub target: InventoryTargetArgs,
    /// List what would move; move nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
pub struct OrdersStuckArgs {
    #[command(flatten)]
    pub target: InventoryTargetArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl From<&OrdersCommand> for local::OrdersCommand {
    fn from(c: &OrdersCommand) -> Self {
        match c {
            OrdersCommand::Redrive(a) => local::OrdersCommand::Redrive(local::OrdersRedriveArgs {
                target: (&a.target).into(),
                dry_run: a.dry_run,
            }),
            OrdersCommand::Stuck(a) => local::OrdersCommand::Stuck(local::OrdersStuckArgs {
                target: (&a.target).into(),
                json: a.json,
            }),
        }
    }
}

impl From<&LocalArgs> for local::LocalArgs {
    fn from(a: &LocalArgs) -> Self {
        local::LocalArgs {
            command: a.command.as_ref().map(|LocalCommand::Load(l)| {
                local::LocalCommand::Load(local::LoadArgs {
                    run: (&l.run).into(),
                    duration: l.duration,
                    clients: l.clients,
                    drain: l.drain,
                })
            }),
            run: (&a.run).into(),
            fresh: a.fresh,
        }
    }
}

impl From<&RunArgs> for local::RunArgs {
    fn from(r: &RunArgs) -> Self {
        local::RunArgs {
            county: r.county.clone(),
            environments: r.env.environments.clone(),
            port: r.port,
            sale_clock: r.sale_clock,
            visibility_timeout: r.visibility_timeout,
            pollers: r.pollers,
            cutover_mode: r.cutover_mode,
            legacy_db: r.legacy_db.clone(),
        }
    }
}

impl From<&InventoryCommand> for local::InventoryCommand {
    fn from(c: &InventoryCommand) -> Self {
        match c {
            InventoryCommand::Load(a) => local::InventoryCommand::Load(local::InventoryLoadArgs {
                target: (&a.target).into(),
                file: a.file.clone(),
            }),
            InventoryCommand::Show(a) => local::InventoryCommand::Show(local::InventoryShowArgs {
                target: (&a.target).into(),
                store: a.store.clone(),
                json: a.json,
            }),
        }
    }
}

impl From<&InventoryTargetArgs> for local::InventoryTargetArgs {
    fn from(t: &InventoryTargetArgs) -> Self {
        local::InventoryTargetArgs {
            county: t.county.clone(),
            target: match t.target {
                TargetArg::Auto => local::TargetArg::Auto,
                TargetArg::Local => local::TargetArg::Local,
                TargetArg::Aws => local::TargetArg::Aws,
            },
            environments: t.env.environments.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("2h").is_err());
        assert!(parse_duration("x").is_err());
    }
}

//! What `acme-infra local` and `acme-infra inventory` were asked to do, as
//! plain values: the binary owns the command line (clap) and fills these in.

use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;

/// Run one county's order system on the local AWS emulator.
#[derive(Debug, Clone)]
pub struct LocalArgs {
    pub command: Option<LocalCommand>,
    pub run: RunArgs,
    /// New tables and queues instead of resuming the last run's.
    pub fresh: bool,
}

/// Settings shared by `local` and `local load`.
#[derive(Debug, Clone)]
pub struct RunArgs {
    /// County id (environments/ID.yaml).
    pub county: Option<String>,
    /// Directory holding defaults.yaml and the county files.
    pub environments: PathBuf,
    /// Port of the API on 127.0.0.1.
    pub port: u16,
    /// Pin the time the county's sale-hour rules see (RFC 3339). Orders still
    /// get real timestamps.
    pub sale_clock: Option<Timestamp>,
    /// Override the order queue's visibility timeout, seconds (the template's
    /// is sized for Lambda's timeout: minutes before a failed message returns).
    pub visibility_timeout: Option<u32>,
    /// Concurrent queue pollers (capped by the mapping's maximum concurrency).
    pub pollers: usize,
    /// A migrating county: put its cutover flag in this mode at start.
    pub cutover_mode: Option<acme_contract::migration::CutoverMode>,
    /// A migrating county: the legacy database legacy-sync writes to.
    pub legacy_db: Option<String>,
}

#[derive(Debug, Clone)]
pub enum LocalCommand {
    /// Drive a local county with concurrent clients and report throughput,
    /// latency and where the time went.
    Load(LoadArgs),
}

#[derive(Debug, Clone)]
pub struct LoadArgs {
    pub run: RunArgs,
    /// How long clients send orders (e.g. 20s, 1m).
    pub duration: Duration,
    /// Concurrent clients.
    pub clients: usize,
    /// How long to wait after the run for accepted orders to be confirmed.
    pub drain: Duration,
}

/// Manage stock levels and prices.
#[derive(Debug, Clone)]
pub enum InventoryCommand {
    /// Load stock and prices from a CSV (store_id,sku,quantity,price_cents).
    Load(InventoryLoadArgs),
    /// Show a store's stock: available, reserved, sold and price per SKU.
    Show(InventoryShowArgs),
}

/// Where the county's tables are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

#[derive(Debug, Clone)]
pub struct InventoryTargetArgs {
    /// County id.
    pub county: String,
    /// Where to read and write.
    pub target: TargetArg,
    /// Directory holding defaults.yaml and the county files (for the region).
    pub environments: PathBuf,
}

#[derive(Debug, Clone)]
pub struct InventoryLoadArgs {
    pub target: InventoryTargetArgs,
    /// CSV file with columns store_id,sku,quantity,price_cents.
    pub file: PathBuf,
}

#[derive(Debug, Clone)]
pub struct InventoryShowArgs {
    pub target: InventoryTargetArgs,
    /// Store id.
    pub store: String,
    /// Print JSON instead of a table.
    pub json: bool,
}

/// Dead letters and stuck orders of a county.
#[derive(Debug, Clone)]
pub enum OrdersCommand {
    /// Move the order DLQ's messages back to the order queue.
    Redrive(OrdersRedriveArgs),
    /// List orders PENDING or RESERVED for longer than the county's
    /// `sweeper.stuck_after_minutes`.
    Stuck(OrdersStuckArgs),
}

#[derive(Debug, Clone)]
pub struct OrdersRedriveArgs {
    pub target: InventoryTargetArgs,
    /// List what would move; move nothing.
    pub dry_run: bool,
}

#[derive(Debug, Clone)]
pub struct OrdersStuckArgs {
    pub target: InventoryTargetArgs,
    /// Print JSON instead of a table.
    pub json: bool,
}

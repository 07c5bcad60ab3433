//! The typed, validated configuration of one county, as the generator and the
//! functions see it after `defaults.yaml` has been merged under the county file.
//!
//! Every value here has passed validation: ranges are checked and combinations
//! are consistent, so stack builders can use them without re-checking.

pub use acme_contract::payment::PaymentProvider;
/// Legal sale hours per weekday (Monday first; `None` = closed all day) and
/// one day's window in minutes after local midnight, `open < close <= 1440`
/// (written `"07:00-24:00"` style in YAML; a window may not cross midnight):
/// the shape the functions read in `ACME_COUNTY_RULES`.
pub use acme_contract::rules::{SaleHours, SaleWindow};
use serde::Serialize;

/// One county's environment, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountyConfig {
    /// County id: lowercase ASCII letters, digits and `-`, 2..=32 chars, starting
    /// with a letter (e.g. `travis-tx`). Used in stack names and resource names.
    pub id: String,
    /// Human-readable name, e.g. "Travis County".
    pub name: String,
    /// Two-letter US state code, upper case, e.g. "TX".
    pub state: String,
    /// 12-digit AWS account id.
    pub account: String,
    /// AWS region, e.g. "us-east-2".
    pub region: String,
    /// Whether sales are enabled at all in this county.
    pub sales_enabled: bool,
    /// IANA time zone the sale hours are in, e.g. "America/Chicago".
    pub timezone: String,
    /// Legal sale hours per weekday; a day missing from the file means no sales that day.
    pub sale_hours: SaleHours,
    /// Maximum total units (sum of quantities) in one order, 1..=10_000.
    pub max_units_per_order: u32,
    /// Maximum distinct line items in one order, 1..=49: reserving an order takes two
    /// transaction items per line plus two, and a DynamoDB transaction takes 100.
    pub max_line_items: u32,
    pub capacity: CapacityMode,
    /// How long a stock reservation lives before it is released, seconds, 60..=86_400,
    /// longer than the order queue's visibility timeout
    /// ([`order_queue_visibility_timeout`]) so a failed payment is tried again.
    pub reservation_ttl_seconds: u32,
    /// How long idempotency records are kept, hours, 1..=720.
    pub idempotency_ttl_hours: u32,
    /// Whole years a customer must have on the order date (in `timezone`),
    /// 18..=30; `environments/defaults.yaml` ships 21.
    pub legal_age: u32,
    /// The worker's fraud rules before payment: an order breaking one is
    /// HELD for staff review instead of charged.
    pub fraud: FraudConfig,
    /// Write shards for low-cardinality GSI keys (county id, status), 1..=64.
    pub gsi_write_shards: u32,
    /// DynamoDB streams on the tables whose changes become events.
    pub streams_enabled: bool,
    /// Point-in-time recovery on every table.
    pub point_in_time_recovery: bool,
    pub waf: WafConfig,
    pub queue: QueueConfig,
    pub functions: FunctionsConfig,
    /// Where alarms are sent.
    pub alarm_email: String,
    /// CloudWatch Logs retention in days; must be one of the values CloudWatch accepts
    /// (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
    /// 2557, 2922, 3288, 3653).
    pub log_retention_days: u32,
    /// Audit-log Object Lock retention, days, 1..=3650.
    pub audit_retention_days: u32,
    /// Extra tags applied to every taggable resource; keys sorted.
    pub tags: std::collections::BTreeMap<String, String>,
    /// Optional analytics add-ons. Order events always reach S3, Glue and
    /// Athena; these switch on extras.
    pub analytics: AnalyticsConfig,
    /// Order API stage throttling.
    pub api: ApiConfig,
    /// The scheduled order sweeper: how often it runs and when a PENDING
    /// order counts as stuck.
    pub sweeper: SweeperConfig,
    /// The payment provider the order API and the worker charge through.
    /// `None` (no `payment:` in the county file) deploys, but those functions
    /// refuse to start: no county takes orders on a provider nobody chose.
    pub payment: Option<PaymentConfig>,
    /// `migration:` of a county file: who may run `acme-infra migrate` against
    /// the deployed county. `None` (no section) = no migration resources.
    pub migration: Option<MigrationConfig>,
    /// `access:` of a county file: how a deploy reaches the county's account
    /// from the pipeline's credentials. `None`: those credentials must be the
    /// county account's own; a fleet run skips the county otherwise.
    pub access: Option<AccountAccess>,
    /// `load:` of a county file: the expected order traffic `acme-infra plan`
    /// sizes from. `None` (no section) = no estimate; the stack needs none.
    pub load: Option<LoadConfig>,
}

/// `access:` of a county file. Only in the county's own file, never in
/// `defaults.yaml` (a default role would be in one account only).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountAccess {
    /// `role_arn` (and `external_id`): a role in the county's account that
    /// the pipeline's credentials assume, as the CDK's `assumeRoleArn` does.
    Role {
        arn: String,
        external_id: Option<String>,
    },
    /// `profile`: a named profile of the machine's AWS configuration.
    Profile(String),
}

/// `load:` of a county file. Only in the county's own file, never in
/// `defaults.yaml`. Rates are spread over the county's open hours
/// (docs/plan.md, "The model").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadConfig {
    /// Orders on an ordinary open day, 1..=5,000,000.
    pub orders_per_day: u32,
    /// The busiest hour of an ordinary day over its average open hour,
    /// 1..=24.
    pub peak_hour_factor: f64,
    /// Friday night's busiest hour over an ordinary day's busiest hour,
    /// 1..=10.
    pub friday_night_multiplier: f64,
    /// Line items of a typical order, 1..=49 and at most `max_line_items`.
    pub lines_per_order: u32,
    /// Order reads (`GET /orders/{id}`, status polls) per order, 0..=100.
    pub reads_per_order: u32,
    /// Stores taking orders, 1..=10,000.
    pub stores: u32,
    /// Share of the county's orders the busiest store takes, percent; at
    /// least an even share (100 / `stores`).
    pub busiest_store_percent: f64,
}

/// `fraud:` of a county file (defaults in `environments/defaults.yaml`),
/// passed to the functions in `ACME_COUNTY_RULES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FraudConfig {
    /// Orders one customer may place in an hour (this one included), 1..=100.
    pub orders_per_customer_per_hour: u32,
    /// Units one customer may order in 24 hours, 1..=100_000, at least
    /// `max_units_per_order`.
    pub units_per_customer_per_day: u32,
    /// An order whose total is more than this many cents is held,
    /// 100..=100_000_000.
    pub order_total_over_cents: u32,
}

/// `migration:` of a county file. Only in the county's own file, never in
/// `defaults.yaml`. With it the stack has a `MigrationRole` the operators
/// assume to run `migrate backfill|verify|sync`. A struct (not a bare list)
/// so the legacy-sync function's settings (secret, subnets, security group)
/// can join it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationConfig {
    /// IAM role or user ARNs (or the account root) of the county's own
    /// account allowed to assume the migration role; 1..=10, no duplicates.
    pub operators: Vec<String>,
    /// `migration.legacy_sync`: where the legacy-sync function reaches the
    /// legacy database. Absent = no legacy-sync function.
    pub legacy_sync: Option<LegacySyncConfig>,
    /// `migration.shadow`: the comparison of the API's reads in mode `shadow`.
    pub shadow: ShadowConfig,
    /// `migration.cutover:`, the gates `acme-infra migrate cutover` checks.
    pub cutover: CutoverGates,
}

/// `migration.legacy_sync:` the legacy-sync function (OrderById stream →
/// legacy PostgreSQL tables) runs in these subnets with this security group
/// and reads the database connection from this secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegacySyncConfig {
    /// `arn:aws:secretsmanager:<county region>:<county account>:secret:<name>`:
    /// an RDS secret's JSON (username, password, host, port, dbname) or a
    /// libpq URL.
    pub database_secret_arn: String,
    /// VPC subnet ids (`subnet-` and 8 or 17 hex digits), 1..=16, no duplicates.
    pub subnet_ids: Vec<String>,
    /// A security group id (`sg-` and 8 or 17 hex digits) the database admits.
    pub security_group_id: String,
}

/// `migration.shadow` of a county file. Absent = [`ShadowConfig::default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ShadowConfig {
    /// Percent of the order API's reads (0..=100) sent to the ShadowReads
    /// queue for comparison with the legacy database in mode `shadow`.
    pub sample_percent: u32,
}

impl Default for ShadowConfig {
    /// 5%: at a few reads a second a day's sample holds thousands of orders,
    /// while the comparer's legacy reads stay a small share of the API's.
    fn default() -> Self {
        ShadowConfig { sample_percent: 5 }
    }
}

/// `migration.cutover:` of a county file: the thresholds each step of
/// `acme-infra migrate cutover` must meet. Every key is optional; absent
/// keys take [`CutoverGates::DEFAULT`]'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CutoverGates {
    /// The change capture may be at most this far behind the legacy database
    /// (seconds, 1..=3600) for a step to `shadow` or `dynamo`.
    pub max_cdc_lag_seconds: u32,
    /// Shadow reads are counted over the last this many minutes (5..=20160,
    /// the 14 days CloudWatch keeps one-minute data for).
    pub shadow_window_minutes: u32,
    /// At least this many shadow reads in the window, with no mismatch, for
    /// the step to `dynamo` (1..=100000000).
    pub min_shadow_reads: u32,
    /// `migrate verify` must have been clean within this many hours
    /// (1..=720) for a step to `shadow` or `dynamo`.
    pub verify_max_age_hours: u32,
}

impl CutoverGates {
    /// Safe defaults: lag well under the read comparison's tolerance, a
    /// day's shadow traffic, a fresh verify.
    pub const DEFAULT: CutoverGates = CutoverGates {
        max_cdc_lag_seconds: 30,
        shadow_window_minutes: 1440,
        min_shadow_reads: 1000,
        verify_max_age_hours: 24,
    };
}

/// `payment:` of a county file. Only in the county's own file, never in
/// `defaults.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentConfig {
    /// Passed to the functions as `ACME_PAYMENT_PROVIDER`.
    pub provider: PaymentProvider,
    /// `Some` exactly when `provider` is `card_api`.
    pub card_api: Option<CardApiConfig>,
}

/// The settings of provider `card_api` (flat in `payment:`), passed to the
/// order API and the worker as `ACME_PAYMENT_*`. Ranges and defaults:
/// `acme_contract::payment::card_api`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardApiConfig {
    /// `https://` only, not loopback.
    pub base_url: String,
    /// The complete ARN of the Secrets Manager secret whose string is the
    /// API key, in the county's account and region. The functions that
    /// charge or refund may read this secret and no other.
    pub api_key_secret_arn: String,
    /// The customer managed KMS key the secret is encrypted with, if not
    /// Secrets Manager's AWS managed key: the functions may decrypt with it
    /// through Secrets Manager only.
    pub api_key_kms_key_arn: Option<String>,
    pub connect_timeout_ms: u32,
    pub request_timeout_ms: u32,
    pub max_attempts: u32,
    /// At most the shorter of the order API's and the worker's timeouts
    /// less `FUNCTION_TIMEOUT_MARGIN_MS`.
    pub call_budget_ms: u32,
}

/// `api:` of a county file: stage-wide throttling of the order API, all
/// callers together (WAF's `rate_limit` is per client IP). Absent = the
/// values `environments/defaults.yaml` ships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiConfig {
    /// Steady requests per second, 1..=10_000 (API Gateway's default
    /// account-wide quota per region; a stage cannot exceed it).
    pub throttle_rate: u32,
    /// Burst (token-bucket size), 1..=5_000 (the account-wide burst quota).
    pub throttle_burst: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            throttle_rate: 200,
            throttle_burst: 400,
        }
    }
}

/// `sweeper:` of a county file. Absent = the values
/// `environments/defaults.yaml` ships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SweeperConfig {
    /// Minutes between two runs of the sweeper (an EventBridge
    /// `rate(N minutes)` schedule), 1..=60.
    pub rate_minutes: u32,
    /// Minutes after which an order still PENDING is sent to the worker
    /// again (and `acme-infra orders stuck` lists it), 1..=1440, at least the
    /// order queue's visibility timeout.
    pub stuck_after_minutes: u32,
}

impl Default for SweeperConfig {
    fn default() -> Self {
        SweeperConfig {
            rate_minutes: 5,
            stuck_after_minutes: 10,
        }
    }
}

/// `analytics:` of a county file. Absent = every switch off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AnalyticsConfig {
    /// A Redshift Serverless namespace and workgroup (encrypted with the
    /// county key, admin password in Secrets Manager, not publicly
    /// accessible) that reads the order events through Spectrum.
    pub redshift_serverless: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum CapacityMode {
    OnDemand,
    Provisioned(ProvisionedCapacity),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProvisionedCapacity {
    pub read: ScalingRange,
    pub write: ScalingRange,
}

/// Auto-scaling range for one dimension. `1 <= min <= max <= 40_000`,
/// `20 <= target_utilization <= 90` (percent; Application Auto Scaling's range).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScalingRange {
    pub min: u32,
    pub max: u32,
    pub target_utilization: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WafConfig {
    /// Requests per 5-minute window per client IP, 10..=2_000_000_000 (WAFv2's range).
    pub rate_limit: u32,
}

/// Days the order queue keeps a message: long enough to ride out a weekend
/// outage of the worker. The dead-letter queue must keep them longer.
pub const ORDER_QUEUE_RETENTION_DAYS: u32 = 4;

/// Lambda's guidance for SQS event sources: a visibility timeout of at least
/// six times the function timeout, so a batch being retried after throttling
/// is not redelivered while still in flight.
pub const VISIBILITY_TIMEOUT_FACTOR: u32 = 6;

/// SQS's longest visibility timeout (12 hours).
const MAX_VISIBILITY_TIMEOUT_SECONDS: u32 = 43_200;

/// The order queue's visibility timeout, seconds, for a worker timeout and
/// batching window: how long a message the worker did not finish waits
/// before SQS delivers it again. Always at least the worker's timeout, as an
/// SQS event source requires.
pub fn order_queue_visibility_timeout(
    worker_timeout_seconds: u32,
    batching_window_seconds: u32,
) -> u32 {
    (worker_timeout_seconds * VISIBILITY_TIMEOUT_FACTOR + batching_window_seconds)
        .min(MAX_VISIBILITY_TIMEOUT_SECONDS)
}

/// The longest `functions.api.timeout_seconds`: API Gateway's integration
/// timeout (29 s). A proxied function that ran longer would answer a client
/// that already received a 504.
pub const API_TIMEOUT_SECONDS_MAX: u32 = 29;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueConfig {
    /// Receives before a message goes to the dead-letter queue, 1..=1000.
    pub max_receive_count: u32,
    /// Days the DLQ keeps messages, 1..=14 and more than
    /// [`ORDER_QUEUE_RETENTION_DAYS`] (SQS ages a message from its first send).
    pub dlq_retention_days: u32,
    /// Worker batch size, 1..=10000 (over 10 requires a batching window > 0).
    /// With provider `card_api`, `batch_size` × (`call_budget_ms` +
    /// `FUNCTION_TIMEOUT_MARGIN_MS`) fits the worker's timeout.
    pub batch_size: u32,
    /// Batching window, seconds, 0..=300.
    pub batching_window_seconds: u32,
    /// Maximum concurrent worker invocations from the queue, 2..=1000, at
    /// most the worker's reserved concurrency when it has one.
    pub max_concurrency: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionsConfig {
    /// "arm64" or "x86_64".
    pub architecture: Architecture,
    pub api: FunctionSettings,
    pub worker: FunctionSettings,
    pub publisher: FunctionSettings,
    /// Absent = [`FunctionSettings::SWEEPER_DEFAULT`].
    pub sweeper: FunctionSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    Arm64,
    X86_64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionSettings {
    /// 128..=10240.
    pub memory_mb: u32,
    /// 1..=900 (the order API's 1..=[`API_TIMEOUT_SECONDS_MAX`]).
    pub timeout_seconds: u32,
    /// Reserved concurrency, if set: 0..=1000.
    pub reserved_concurrency: Option<u32>,
}

impl FunctionSettings {
    /// The sweeper's settings when the county file gives none: one run at a
    /// time (a run that outlasts the rate is not joined by the next; two
    /// runs would still be safe, only wasteful).
    pub const SWEEPER_DEFAULT: FunctionSettings = FunctionSettings {
        memory_mb: 256,
        timeout_seconds: 300,
        reserved_concurrency: Some(1),
    };
}

//! The county's stack definition as the local runner reads it: the tables'
//! typed layouts (`acme_stacks::county::tables::table_specs`, which the
//! template's tables are built from), and the same `acme_stacks::county::build`
//! template CloudFormation deploys, from which queues, the event bus, the
//! functions' county rules and the event source mappings' batching settings
//! are taken. Nothing here is a second copy of the stack: change the
//! generator and the local runner follows.

use std::path::Path;

use acme_stacks::county::tables::TableSpec;
use serde_json::Value;

use crate::error::{LocalError, Result};

/// Logical ids of the resources the runner provisions.
pub mod logical {
    pub const ORDERS_TABLE: &str = "OrdersTable";
    pub const ORDER_BY_ID_TABLE: &str = "OrderByIdTable";
    pub const INVENTORY_TABLE: &str = "InventoryTable";
    pub const IDEMPOTENCY_TABLE: &str = "IdempotencyTable";
    pub const CUSTOMERS_TABLE: &str = "CustomersTable";
    pub const ORDER_QUEUE: &str = "OrderQueue";
    pub const ORDER_DLQ: &str = "OrderDeadLetterQueue";
    pub const EVENT_BUS: &str = "OrderEventBus";
    pub const NOTIFICATIONS_TOPIC: &str = "CustomerNotificationsTopic";
    /// The stream's publisher (a county with `migration.legacy_sync` has a
    /// second mapping on the stream, legacy-sync's).
    pub const STREAM_PUBLISHER: &str = "StreamPublisherFunction";
    /// legacy-sync, in a county with `migration.legacy_sync`.
    pub const LEGACY_SYNC: &str = "LegacySyncFunction";
    /// The ShadowReads queue of a migrating county.
    pub const SHADOW_READS_QUEUE: &str = "ShadowReadsQueue";
}

/// How Lambda polls the order queue (`AWS::Lambda::EventSourceMapping` on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueMapping {
    pub batch_size: u32,
    pub batching_window_seconds: u32,
    pub max_concurrency: u32,
}

/// How Lambda polls the OrderById stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamMapping {
    pub batch_size: u32,
}

/// How EventBridge runs the order sweeper (`OrderSweeperSchedule`), and the
/// threshold the stack gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweeperSchedule {
    /// The rule's `rate(N minutes)`.
    pub every: std::time::Duration,
    pub settings: order_sweeper::Settings,
}

/// Logical ids of the sweeper's function and its schedule.
const SWEEPER_FUNCTION: &str = "OrderSweeperFunction";
const SWEEPER_SCHEDULE: &str = "OrderSweeperSchedule";

/// Minutes of an EventBridge `rate(N minute[s])` expression.
fn rate_minutes(expr: &str) -> Option<u64> {
    let inner = expr.strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.split_once(' ')?;
    let n: u64 = n.parse().ok()?;
    matches!((n, unit), (1, "minute") | (2.., "minutes")).then_some(n)
}

impl SweeperSchedule {
    fn from_template(template: &Value) -> Result<Self> {
        let missing = |what: &str| LocalError::MissingInTemplate {
            what: what.to_owned(),
            why: "run the order sweeper on the county's schedule",
        };
        let resources = template.get("Resources");
        let expr = resources
            .and_then(|r| {
                r.pointer(&format!(
                    "/{SWEEPER_SCHEDULE}/Properties/ScheduleExpression"
                ))
            })
            .and_then(Value::as_str)
            .ok_or_else(|| missing(&format!("{SWEEPER_SCHEDULE} with a ScheduleExpression")))?;
        let minutes = rate_minutes(expr)
            .ok_or_else(|| missing(&format!("a `rate(N minutes)` schedule (found {expr:?})")))?;
        let vars = resources
            .and_then(|r| {
                r.pointer(&format!(
                    "/{SWEEPER_FUNCTION}/Properties/Environment/Variables"
                ))
            })
            .ok_or_else(|| missing(&format!("{SWEEPER_FUNCTION} with an environment")))?;
        let settings = order_sweeper::Settings::from_lookup(|k| {
            vars.get(k).and_then(Value::as_str).map(str::to_owned)
        })
        .map_err(|e| LocalError::Invalid(format!("the sweeper's configuration: {e}")))?;
        Ok(SweeperSchedule {
            every: std::time::Duration::from_secs(minutes * 60),
            settings,
        })
    }
}

/// One county's template and what the runner reads from it.
#[derive(Debug, Clone)]
pub struct CountyStack {
    pub county_id: String,
    pub region: String,
    pub template: Value,
    /// The county's tables, as the template's are built.
    pub tables: Vec<TableSpec>,
    /// `ACME_COUNTY_RULES` exactly as the stack sets it on the functions.
    pub rules_json: String,
    pub queue_mapping: QueueMapping,
    pub stream_mapping: StreamMapping,
    /// legacy-sync's mapping on the same stream, if the county has it.
    pub legacy_sync_mapping: Option<StreamMapping>,
    pub sweeper: SweeperSchedule,
}

impl CountyStack {
    /// Loads `environments/<county>.yaml` and builds its template.
    pub fn load(environments: &Path, county: &str) -> Result<Self> {
        let envs = acme_stacks::config::Environments::open(environments)?;
        let cfg = envs.load(county)?;
        let template = acme_stacks::county::build(&cfg)
            .map_err(|e| LocalError::Template(e.to_string()))?
            .to_value();
        let tables = acme_stacks::county::tables::table_specs(&cfg);
        Self::from_template(cfg.id.clone(), cfg.region.clone(), template, tables)
    }

    /// Reads the runner's settings out of a built template.
    pub fn from_template(
        county_id: String,
        region: String,
        template: Value,
        tables: Vec<TableSpec>,
    ) -> Result<Self> {
        let rules_json = resources_of_type(&template, "AWS::Lambda::Function")
            .find_map(|(_, props)| {
                props
                    .pointer(&format!(
                        "/Environment/Variables/{}",
                        order_domain::schema::env::COUNTY_RULES
                    ))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .ok_or_else(|| LocalError::MissingInTemplate {
                what: format!(
                    "function with {} in its environment",
                    order_domain::schema::env::COUNTY_RULES
                ),
                why: "apply the county's sale rules",
            })?;
        let mut queue_mapping = None;
        let mut stream_mapping = None;
        let mut legacy_sync_mapping = None;
        for (_, props) in resources_of_type(&template, "AWS::Lambda::EventSourceMapping") {
            let source = props.get("EventSourceArn");
            let on = |logical: &str| {
                source
                    .and_then(|s| s.get("Fn::GetAtt"))
                    .and_then(|g| g.get(0))
                    .and_then(Value::as_str)
                    == Some(logical)
            };
            let num = |k: &str| {
                props
                    .get(k)
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
            };
            if on(logical::ORDER_QUEUE) {
                queue_mapping = Some(QueueMapping {
                    batch_size: num("BatchSize").unwrap_or(10),
                    batching_window_seconds: num("MaximumBatchingWindowInSeconds").unwrap_or(0),
                    max_concurrency: props
                        .pointer("/ScalingConfig/MaximumConcurrency")
                        .and_then(Value::as_u64)
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(2),
                });
            } else if on(logical::ORDER_BY_ID_TABLE) {
                let mapping = StreamMapping {
                    batch_size: num("BatchSize").unwrap_or(100),
                };
                match props.pointer("/FunctionName/Ref").and_then(Value::as_str) {
                    Some(logical::STREAM_PUBLISHER) => stream_mapping = Some(mapping),
                    Some(logical::LEGACY_SYNC) => legacy_sync_mapping = Some(mapping),
                    _ => {}
                }
            }
        }
        let queue_mapping = queue_mapping.ok_or_else(|| LocalError::MissingInTemplate {
            what: format!("event source mapping on {}", logical::ORDER_QUEUE),
            why: "batch worker messages the way Lambda does",
        })?;
        // Counties with streams off have no publisher mapping; Lambda's
        // default batch for streams is 100.
        let stream_mapping = stream_mapping.unwrap_or(StreamMapping { batch_size: 100 });
        let sweeper = SweeperSchedule::from_template(&template)?;
        Ok(Self {
            county_id,
            region,
            template,
            tables,
            rules_json,
            queue_mapping,
            stream_mapping,
            legacy_sync_mapping,
            sweeper,
        })
    }

    /// `Properties` of the resource `logical`, if it has that type.
    pub fn properties(&self, logical: &str, ty: &str) -> Option<&Value> {
        let r = self.template.get("Resources")?.get(logical)?;
        (r.get("Type")?.as_str()? == ty).then(|| r.get("Properties"))?
    }

    /// Logical ids of every resource of type `ty`, in template order.
    pub fn logical_ids(&self, ty: &str) -> Vec<String> {
        resources_of_type(&self.template, ty)
            .map(|(id, _)| id.to_owned())
            .collect()
    }
}

/// `(logical id, Properties)` of every resource of type `ty`.
pub fn resources_of_type<'a>(
    template: &'a Value,
    ty: &'a str,
) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
    template
        .get("Resources")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(move |(_, r)| r.get("Type").and_then(Value::as_str) == Some(ty))
        .map(|(id, r)| (id.as_str(), r.get("Properties").unwrap_or(&Value::Null)))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_runner_names_tables_as_their_layouts_do() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
        let stack = CountyStack::load(&dir, "travis-tx").unwrap();
        let ids: Vec<String> = stack
            .tables
            .iter()
            .map(|t| t.logical_id().to_string())
            .collect();
        assert_eq!(
            ids,
            [
                logical::ORDERS_TABLE,
                logical::ORDER_BY_ID_TABLE,
                logical::INVENTORY_TABLE,
                logical::IDEMPOTENCY_TABLE,
                logical::CUSTOMERS_TABLE,
            ]
        );
        let mut in_template = stack.logical_ids("AWS::DynamoDB::Table");
        let mut specified = ids.clone();
        in_template.sort();
        specified.sort();
        assert_eq!(in_template, specified);
    }

    #[test]
    fn the_sweeper_runs_at_the_rate_the_county_file_gives() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
        let cfg = acme_stacks::config::Environments::open(&dir)
            .unwrap()
            .load("travis-tx")
            .unwrap();
        let stack = CountyStack::load(&dir, "travis-tx").unwrap();
        assert_eq!(
            stack.sweeper.every.as_secs(),
            u64::from(cfg.sweeper.rate_minutes) * 60
        );
        assert_eq!(
            stack.sweeper.settings.stuck_after.as_secs(),
            i64::from(cfg.sweeper.stuck_after_minutes) * 60
        );
        assert_eq!(rate_minutes("rate(1 minute)"), Some(1));
        assert_eq!(rate_minutes("rate(15 minutes)"), Some(15));
        assert_eq!(rate_minutes("rate(1 minutes)"), None);
        assert_eq!(rate_minutes("cron(0 * * * ? *)"), None);
    }
}

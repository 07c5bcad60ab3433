//! The county file's schema: which keys exist, their types and ranges, and the
//! rules that tie several keys together. Decodes the merged tree into a
//! [`CountyConfig`], reporting every problem rather than the first.

use std::collections::BTreeMap;

// The ranges of the values the functions read back in `ACME_COUNTY_RULES`:
// they refuse what is outside them, so the file must too.
use acme_contract::rules::{
    GSI_WRITE_SHARDS_RANGE, IDEMPOTENCY_TTL_HOURS_RANGE, LEGAL_AGE_RANGE, MAX_LINE_ITEMS_RANGE,
    MAX_UNITS_PER_ORDER_RANGE, ORDER_TOTAL_OVER_CENTS_RANGE, ORDERS_PER_CUSTOMER_PER_HOUR_RANGE,
    RESERVATION_TTL_SECONDS_RANGE, UNITS_PER_CUSTOMER_PER_DAY_RANGE,
};

use super::COUNTY;
use super::cross;
use super::decode::{
    Decode, Decoder, Fields, Found, decode_f64_in, decode_u32_in, decode_u32_in_or, did_you_mean,
};
use super::model::{
    API_TIMEOUT_SECONDS_MAX, AccountAccess, AnalyticsConfig, ApiConfig, Architecture, CapacityMode,
    CardApiConfig, CountyConfig, CutoverGates, FraudConfig, FunctionSettings, FunctionsConfig,
    LegacySyncConfig, LoadConfig, MigrationConfig, ORDER_QUEUE_RETENTION_DAYS, PaymentConfig,
    PaymentProvider, ProvisionedCapacity, QueueConfig, SaleHours, SaleWindow, ScalingRange,
    ShadowConfig, SweeperConfig, WafConfig,
};
use super::rules::{self, Problem};
use super::tree::{Kind, Node, Pos};

/// Keys that say which county a file is. They belong in the county's own file
/// and never in `defaults.yaml`: a default id or account would let a county
/// file that forgot one deploy into somebody else's account.
pub(crate) const IDENTITY_KEYS: [&str; 5] = ["id", "name", "state", "account", "region"];

/// Keys besides the identity that only a county's own file may set, with the
/// reason an error in `defaults.yaml` gives: a default
/// payment provider would run every county that forgot one on the simulator,
/// and default migration operators would give every county a role to assume.
pub(crate) const COUNTY_ONLY_KEYS: [(&str, &str); 4] = [
    (
        "payment",
        "each county chooses its payment provider in its own file, so that none runs on the simulated gateway by default",
    ),
    (
        "migration",
        "each county names its own migration operators in its own file, so that no county gets a migration role it did not ask for",
    ),
    (
        "access",
        "each county says how its own account is reached in its own file: a default role would be in one account only",
    ),
    (
        "load",
        "each county estimates its own load in its own file, so that `acme-infra plan` never sizes a county by somebody else's figures",
    ),
];

/// Lambda's SQS event source: a batch larger than this needs a batching window.
const SQS_MAX_BATCH_WITHOUT_WINDOW: u32 = 10;

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Decodes the merged tree. `stem` is the county file's name without `.yaml`,
/// which the `id` must equal.
pub(crate) fn county(d: &mut Decoder<'_>, root: &Node, stem: Option<&str>) -> Option<CountyConfig> {
    let mut f = Fields::of(d, root, "")?.missing_hint(top_level_missing_hint);

    let id = f.req_with(d, "id", |d, node, path| {
        let id = checked_string(d, node, path, rules::county_id)?;
        match stem {
            Some(stem) if stem != id => {
                d.error(
                    node.pos,
                    path,
                    format!("`id` is `{id}` but the file is named `{stem}.yaml`"),
                    Some(format!(
                        "the id must equal the file name without `.yaml`: set `id: {stem}` or rename the file to `{id}.yaml`"
                    )),
                );
                None
            }
            _ => Some(id),
        }
    });
    let name = f.req_with(d, "name", |d, n, p| {
        checked_string(d, n, p, rules::county_name)
    });
    let state = f.req_with(d, "state", |d, n, p| checked_string(d, n, p, rules::state));
    let account = f.req_with(d, "account", account);
    let region = f.req_with(d, "region", |d, n, p| {
        checked_string(d, n, p, rules::region)
    });
    let sales_enabled = f.req::<bool>(d, "sales_enabled");
    let timezone = f.req_with(d, "timezone", |d, n, p| {
        checked_string(d, n, p, rules::timezone)
    });
    let sale_hours = f
        .opt_with(d, "sale_hours", sale_hours)
        .map(Option::unwrap_or_default);
    let max_units_per_order = f.req_in(d, "max_units_per_order", MAX_UNITS_PER_ORDER_RANGE);
    // Reserving an order writes two transaction items per line plus two, and a
    // DynamoDB transaction takes at most 100: the domain's own limit.
    let max_line_items = f.req_in(d, "max_line_items", MAX_LINE_ITEMS_RANGE);
    let capacity = f.req_with(d, "capacity", capacity);
    let reservation_ttl_seconds =
        f.req_in(d, "reservation_ttl_seconds", RESERVATION_TTL_SECONDS_RANGE);
    let idempotency_ttl_hours = f.req_in(d, "idempotency_ttl_hours", IDEMPOTENCY_TTL_HOURS_RANGE);
    let legal_age = f.req_in(d, "legal_age", LEGAL_AGE_RANGE);
    let fraud = f.req_with(d, "fraud", fraud);
    let gsi_write_shards = f.req_in(d, "gsi_write_shards", GSI_WRITE_SHARDS_RANGE);
    let streams_enabled = f.req::<bool>(d, "streams_enabled");
    let point_in_time_recovery = f.req::<bool>(d, "point_in_time_recovery");
    f.removed(
        d,
        "dax",
        "`dax` is no longer a setting: the stack does not create a DAX cluster, since nothing read through one",
        "delete the `dax:` block; for heavy read bursts see docs/read-bursts.md",
    );
    let waf = f.req_with(d, "waf", waf);
    let queue = f.req_with(d, "queue", queue);
    let functions = f.req_with(d, "functions", functions);
    let alarm_email = f.req_with(d, "alarm_email", |d, n, p| {
        checked_string(d, n, p, rules::email)
    });
    let log_retention_days = f.req_with(d, "log_retention_days", |d, node, path| {
        let days = u32::decode(d, node, path)?;
        check(d, node, path, rules::log_retention(days)).map(|()| days)
    });
    let audit_retention_days = f.req_in(d, "audit_retention_days", 1..=3650);
    let tags = f.opt_with(d, "tags", tags).map(Option::unwrap_or_default);
    // Optional as a whole, so configurations written before it existed
    // (and test fixtures with their own defaults) keep loading.
    let analytics = f
        .opt_with(d, "analytics", analytics)
        .map(Option::unwrap_or_default);
    // Optional as a whole for the same reason.
    let api = f.opt_with(d, "api", api).map(Option::unwrap_or_default);
    // Optional as a whole for the same reason.
    let sweeper = f
        .opt_with(d, "sweeper", sweeper)
        .map(Option::unwrap_or_default);
    // Absent = no provider chosen: the stack deploys, the order API and the
    // worker refuse to start. Never defaulted (see `COUNTY_ONLY_KEYS`).
    let timeouts = functions.as_ref().map(|f| FunctionTimeouts {
        api: f.api.timeout_seconds,
        worker: f.worker.timeout_seconds,
    });
    let payment = f.opt_with(d, "payment", |d, n, p| {
        payment(
            d,
            n,
            p,
            CountyPlace {
                region: region.as_deref(),
                account: account.as_deref(),
            },
            timeouts,
        )
    });
    // Absent = no migration role. Never defaulted (see `COUNTY_ONLY_KEYS`).
    let county_account = account.clone();
    let county_region = region.clone();
    let migration = f.opt_with(d, "migration", |d, n, p| {
        migration(d, n, p, county_account.as_deref(), county_region.as_deref())
    });
    // Absent = the pipeline's own credentials. Never defaulted.
    let access = f.opt_with(d, "access", |d, n, p| {
        access(d, n, p, county_account.as_deref())
    });
    // Absent = no estimate: the stack does not need one, `plan` refuses to
    // guess. Never defaulted (see `COUNTY_ONLY_KEYS`).
    let load = f.opt_with(d, "load", load);

    // Rules across keys, checked only when each side decoded on its own.
    if let (Some(items), Some(units)) = (max_line_items, max_units_per_order)
        && items > units
    {
        let (pos, path) = blame(&f, "max_line_items", "max_units_per_order");
        let message =
            format!("`max_line_items` ({items}) is larger than `max_units_per_order` ({units})");
        let hint = "every line item holds at least one unit, so the extra ones could never be used";
        d.error(pos, &path, message, Some(hint.to_owned()));
    }
    if let (Some(fraud), Some(units)) = (fraud, max_units_per_order)
        && fraud.units_per_customer_per_day < units
    {
        let path = "fraud.units_per_customer_per_day";
        let pos = f.value_pos("fraud");
        d.error(
            pos,
            path,
            format!(
                "`{path}` ({}) is smaller than `max_units_per_order` ({units})",
                fraud.units_per_customer_per_day
            ),
            Some("a single order the county allows would be held for review: raise the daily limit, or lower max_units_per_order".to_owned()),
        );
    }
    if let (Some(true), Some(hours)) = (sales_enabled, &sale_hours)
        && all_closed(hours)
    {
        let (pos, path) = blame(&f, "sale_hours", "sales_enabled");
        d.error(
            pos,
            &path,
            "`sales_enabled` is true but `sale_hours` has every day closed",
            Some("open at least one day, or set `sales_enabled: false`".to_owned()),
        );
    }
    if let (Some(Some(l)), Some(items)) = (&load, max_line_items)
        && l.lines_per_order > items
    {
        let path = "load.lines_per_order";
        let pos = root_child_pos(root, "load", "lines_per_order");
        let message = format!(
            "`{path}` ({}) is larger than `max_line_items` ({items})",
            l.lines_per_order
        );
        let hint = "the order API refuses an order with more lines than `max_line_items`: lower the estimate or raise the limit";
        d.error(pos, path, message, Some(hint.to_owned()));
    }
    let sections = cross::Sections {
        queue: queue.as_ref(),
        functions: functions.as_ref(),
        payment: payment.as_ref().and_then(Option::as_ref),
        reservation_ttl_seconds,
        sweeper: sweeper.as_ref(),
    };
    cross::check(d, root, &sections);
    f.finish(d);

    Some(CountyConfig {
        id: id?,
        name: name?,
        state: state?,
        account: account?,
        region: region?,
        sales_enabled: sales_enabled?,
        timezone: timezone?,
        sale_hours: sale_hours?,
        max_units_per_order: max_units_per_order?,
        max_line_items: max_line_items?,
        capacity: capacity?,
        reservation_ttl_seconds: reservation_ttl_seconds?,
        idempotency_ttl_hours: idempotency_ttl_hours?,
        legal_age: legal_age?,
        fraud: fraud?,
        gsi_write_shards: gsi_write_shards?,
        streams_enabled: streams_enabled?,
        point_in_time_recovery: point_in_time_recovery?,
        waf: waf?,
        queue: queue?,
        functions: functions?,
        alarm_email: alarm_email?,
        log_retention_days: log_retention_days?,
        audit_retention_days: audit_retention_days?,
        tags: tags?,
        analytics: analytics?,
        api: api?,
        sweeper: sweeper?,
        payment: payment?,
        migration: migration?,
        access: access?,
        load: load?,
    })
}

/// Where `parent.key` is written (the parent's own position if it is not).
fn root_child_pos(root: &Node, parent: &str, key: &str) -> Pos {
    cross::find(root, &format!("{parent}.{key}"))
        .or_else(|| cross::find(root, parent))
        .map_or(root.pos, |n| n.pos)
}

/// `load:`, the county's expected order traffic, which `acme-infra plan`
/// sizes capacity and cost from (docs/plan.md). Each range is wide enough for
/// any county we could open and narrow enough to catch a slipped digit.
fn load(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<LoadConfig> {
    let mut f = Fields::of(d, node, path)?;
    let orders_per_day = f.req_in(d, "orders_per_day", 1..=5_000_000);
    let peak_hour_factor = f.req_with(d, "peak_hour_factor", |d, n, p| {
        decode_f64_in(d, n, p, 1.0..=24.0)
    });
    let friday_night_multiplier = f.req_with(d, "friday_night_multiplier", |d, n, p| {
        decode_f64_in(d, n, p, 1.0..=10.0)
    });
    let lines_per_order = f.req_in_or(
        d,
        "lines_per_order",
        MAX_LINE_ITEMS_RANGE,
        "an order has 1 to 49 lines: reserving it is one DynamoDB transaction",
    );
    let reads_per_order = f.req_in(d, "reads_per_order", 0..=100);
    let stores = f.req_in(d, "stores", 1..=10_000);
    let busiest_store_percent = f.req_with(d, "busiest_store_percent", |d, n, p| {
        decode_f64_in(d, n, p, 0.01..=100.0)
    });
    if let (Some(stores), Some(share)) = (stores, busiest_store_percent)
        && share * f64::from(stores) < 100.0 - 1e-9
    {
        let (pos, path) = blame(&f, "busiest_store_percent", "stores");
        let even = 100.0 / f64::from(stores);
        d.error(
            pos,
            &path,
            format!(
                "`{path}` ({share}) is less than an even share of `{}` ({stores} stores: {even:.2})",
                f.child("stores")
            ),
            Some("the busiest store takes at least its even share of the orders".to_owned()),
        );
        f.finish(d);
        return None;
    }
    f.finish(d);
    Some(LoadConfig {
        orders_per_day: orders_per_day?,
        peak_hour_factor: peak_hour_factor?,
        friday_night_multiplier: friday_night_multiplier?,
        lines_per_order: lines_per_order?,
        reads_per_order: reads_per_order?,
        stores: stores?,
        busiest_store_percent: busiest_store_percent?,
    })
}

fn top_level_missing_hint(key: &str) -> Option<String> {
    if IDENTITY_KEYS.contains(&key) {
        return Some("every county file sets id, name, state, account and region".to_owned());
    }
    if key == "timezone" {
        return Some(
            "sale hours are local time: set the county's zone, e.g. `timezone: America/Chicago`"
                .to_owned(),
        );
    }
    Some(
        "environments/defaults.yaml normally provides it: restore it there or set it here"
            .to_owned(),
    )
}

/// Where to report a rule that ties two keys of one mapping together: at
/// `first`, unless only `second` is set in the county file. The county file is
/// the one being edited, and where an override fixes the problem.
fn blame(f: &Fields<'_>, first: &str, second: &str) -> (Pos, String) {
    let (a, b) = (f.value_pos(first), f.value_pos(second));
    if a.source != COUNTY && b.source == COUNTY {
        (b, f.child(second))
    } else {
        (a, f.child(first))
    }
}

/// Reports `result`'s problem at `node`.
fn check(d: &mut Decoder<'_>, node: &Node, path: &str, result: Result<(), Problem>) -> Option<()> {
    match result {
        Ok(()) => Some(()),
        Err((message, hint)) => {
            d.error(node.pos, path, message, hint);
            None
        }
    }
}

fn checked_string(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    rule: fn(&str) -> Result<(), Problem>,
) -> Option<String> {
    let value = String::decode(d, node, path)?;
    check(d, node, path, rule(&value)).map(|()| value)
}

/// `a`, `b`, `c`
fn backticked(words: &[&str]) -> String {
    words
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One of a fixed set of words, with a did-you-mean hint.
fn one_of(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    choices: &[&'static str],
) -> Option<&'static str> {
    let expected = format!("one of {}", backticked(choices));
    let Found::Str { text, .. } = Found::of(node) else {
        d.expected(node, path, &expected);
        return None;
    };
    if let Some(choice) = choices.iter().find(|c| **c == text) {
        return Some(choice);
    }
    let hint = did_you_mean(text, choices.iter().copied()).map(|c| format!("did you mean `{c}`?"));
    d.error(
        node.pos,
        path,
        format!("`{path}` must be {expected}, found `{text}`"),
        hint,
    );
    None
}

/// The account must be a quoted string: unquoted, YAML reads `012345678901`
/// as the integer 12345678901 and the leading zero is gone.
fn account(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<String> {
    if let Found::Int { text, .. } = Found::of(node) {
        d.error(
            node.pos,
            path,
            format!("`account` must be a quoted string of 12 digits, found the integer `{text}`"),
            Some(format!(
                "quote it: `account: \"{text}\"` (YAML reads an unquoted number as an integer, and leading zeros would be lost)"
            )),
        );
        return None;
    }
    checked_string(d, node, path, rules::account)
}

fn sale_hours(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<SaleHours> {
    let mut f = Fields::of(d, node, path)?;
    let mut days: [Option<Option<SaleWindow>>; 7] = [Some(None); 7];
    for (slot, day) in days.iter_mut().zip(WEEKDAYS) {
        let Some(entry) = f.take_raw(day) else {
            continue; // absent after merging = closed
        };
        *slot = sale_day(d, &entry.value, &f.child(day));
    }
    f.finish(d);
    let [
        monday,
        tuesday,
        wednesday,
        thursday,
        friday,
        saturday,
        sunday,
    ] = days;
    Some(SaleHours {
        monday: monday?,
        tuesday: tuesday?,
        wednesday: wednesday?,
        thursday: thursday?,
        friday: friday?,
        saturday: saturday?,
        sunday: sunday?,
    })
}

fn sale_day(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Option<SaleWindow>> {
    let text = match Found::of(node) {
        Found::Str { text, .. } => text,
        Found::Null => {
            // A null could mean "closed" or "I forgot": make the author say.
            d.error(
                node.pos,
                path,
                format!("`{path}` has no value"),
                Some("write `closed` or a window like \"10:00-21:00\"".to_owned()),
            );
            return None;
        }
        _ => {
            d.expected(node, path, "`closed` or a window like \"07:00-24:00\"");
            return None;
        }
    };
    if text == "closed" {
        return Some(None);
    }
    if text.eq_ignore_ascii_case("closed") {
        d.error(
            node.pos,
            path,
            format!("`{path}` must be `closed` or a window like \"07:00-24:00\", found `{text}`"),
            Some("write `closed` in lower case".to_owned()),
        );
        return None;
    }
    match rules::sale_window(text, path) {
        Ok(window) => Some(Some(window)),
        Err((message, hint)) => {
            d.error(node.pos, path, message, hint);
            None
        }
    }
}

fn all_closed(h: &SaleHours) -> bool {
    [
        h.monday,
        h.tuesday,
        h.wednesday,
        h.thursday,
        h.friday,
        h.saturday,
        h.sunday,
    ]
    .iter()
    .all(Option::is_none)
}

fn capacity(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<CapacityMode> {
    let mut f = Fields::of(d, node, path)?;
    let mode = f.req_with(d, "mode", |d, n, p| {
        one_of(d, n, p, &["on_demand", "provisioned"])
    });
    let result = match mode {
        Some("on_demand") => {
            // `take` treats null as absent: `read: null` is how a county
            // drops a default `read` when it switches to on_demand.
            for key in ["read", "write"] {
                if let Some(entry) = f.take(key) {
                    let path = f.child(key);
                    let message = format!(
                        "`{path}` is not allowed when `{}` is `on_demand`",
                        f.child("mode")
                    );
                    let hint = format!(
                        "remove it (or set `{key}: null` to drop a default), or set `mode: provisioned`"
                    );
                    d.error(entry.key_pos, &path, message, Some(hint));
                }
            }
            Some(CapacityMode::OnDemand)
        }
        Some(_) => {
            let read = f.req_with(d, "read", scaling_range);
            let write = f.req_with(d, "write", scaling_range);
            match (read, write) {
                (Some(read), Some(write)) => Some(CapacityMode::Provisioned(ProvisionedCapacity {
                    read,
                    write,
                })),
                _ => None,
            }
        }
        None => {
            // The mode is wrong; still accept read/write so they are not also
            // reported as unknown keys.
            f.take_raw("read");
            f.take_raw("write");
            None
        }
    };
    f.finish(d);
    result
}

fn scaling_range(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<ScalingRange> {
    let mut f = Fields::of(d, node, path)?;
    let min = f.req_in(d, "min", 1..=40_000);
    let max = f.req_in(d, "max", 1..=40_000);
    let target_utilization = f.req_with(d, "target_utilization", |d, n, p| {
        decode_f64_in(d, n, p, 20.0..=90.0)
    });
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        let (pos, path) = blame(&f, "min", "max");
        d.error(
            pos,
            &path,
            format!(
                "`{}` ({min}) is greater than `{}` ({max})",
                f.child("min"),
                f.child("max")
            ),
            None,
        );
    }
    f.finish(d);
    Some(ScalingRange {
        min: min.filter(|&m| max.is_some_and(|max| m <= max))?,
        max: max?,
        target_utilization: target_utilization?,
    })
}

fn waf(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<WafConfig> {
    let mut f = Fields::of(d, node, path)?;
    // WAFv2 rate-based rule limits, per client IP per 5 minutes.
    let rate_limit = f.req_in(d, "rate_limit", 10..=2_000_000_000);
    f.finish(d);
    Some(WafConfig {
        rate_limit: rate_limit?,
    })
}

fn queue(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<QueueConfig> {
    let mut f = Fields::of(d, node, path)?;
    let max_receive_count = f.req_in(d, "max_receive_count", 1..=1000);
    // SQS keeps a message at most 14 days.
    let dlq_retention_days = f.req_in(d, "dlq_retention_days", 1..=14);
    let batch_size = f.req_in_or(
        d,
        "batch_size",
        1..=10_000,
        "Lambda's SQS event source takes 1 to 10,000 messages per batch (over 10 only with a batching window)",
    );
    let batching_window_seconds = f.req_in(d, "batching_window_seconds", 0..=300);
    // Lambda's SQS maximum concurrency setting accepts 2..=1000.
    let max_concurrency = f.req_in(d, "max_concurrency", 2..=1000);
    let mut ok = dlq_retention_days.is_none_or(|days| dlq_outlives_queue(d, &f, days));
    if let (Some(size), Some(0)) = (batch_size, batching_window_seconds)
        && size > SQS_MAX_BATCH_WITHOUT_WINDOW
    {
        ok = false;
        let (pos, path) = blame(&f, "batch_size", "batching_window_seconds");
        d.error(
                pos,
                &path,
                format!(
                    "`{}` is {size}, but a batch size over {SQS_MAX_BATCH_WITHOUT_WINDOW} needs `{}` of at least 1",
                    f.child("batch_size"),
                    f.child("batching_window_seconds")
                ),
                Some(
                    "Lambda's SQS event source takes more than 10 messages per batch only with a \
                     batching window: set batching_window_seconds, or lower batch_size to 10"
                        .to_owned(),
                ),
            );
    }
    f.finish(d);
    let config = QueueConfig {
        max_receive_count: max_receive_count?,
        dlq_retention_days: dlq_retention_days?,
        batch_size: batch_size?,
        batching_window_seconds: batching_window_seconds?,
        max_concurrency: max_concurrency?,
    };
    ok.then_some(config)
}

/// SQS counts a message's age from its first send, in the dead-letter queue
/// too (standard queues): a DLQ that keeps messages no longer than the order
/// queue would drop, on arrival, an order that waited out the order queue
/// (a weekend outage of the worker). False, reported, if it would.
fn dlq_outlives_queue(d: &mut Decoder<'_>, f: &Fields<'_>, days: u32) -> bool {
    if days > ORDER_QUEUE_RETENTION_DAYS {
        return true;
    }
    let path = f.child("dlq_retention_days");
    d.error(
        f.value_pos("dlq_retention_days"),
        &path,
        format!(
            "`{path}` ({days}) is not longer than the order queue's retention ({ORDER_QUEUE_RETENTION_DAYS} days)"
        ),
        Some(format!(
            "SQS counts a message's age from its first send, in the dead-letter queue too: an order that waited out the order queue would expire on arriving there. Set it to at least {} (SQS keeps a message 14 days at most)",
            ORDER_QUEUE_RETENTION_DAYS + 1
        )),
    );
    false
}

fn functions(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<FunctionsConfig> {
    let mut f = Fields::of(d, node, path)?;
    let architecture = f.req_with(d, "architecture", |d, n, p| {
        one_of(d, n, p, &["arm64", "x86_64"]).map(|a| match a {
            "arm64" => Architecture::Arm64,
            _ => Architecture::X86_64,
        })
    });
    let api_why = format!(
        "API Gateway waits at most {API_TIMEOUT_SECONDS_MAX} s for the order API: a longer timeout would let it run on after the client got a 504"
    );
    let api = f.req_with(d, "api", |d, n, p| {
        function_with(d, n, p, API_TIMEOUT_SECONDS_MAX, Some(&api_why))
    });
    let worker = f.req_with(d, "worker", function);
    let publisher = f.req_with(d, "publisher", function);
    // Optional: configurations written before the sweeper existed load.
    let sweeper = f
        .opt_with(d, "sweeper", function)
        .map(|s| s.unwrap_or(FunctionSettings::SWEEPER_DEFAULT));
    f.finish(d);
    Some(FunctionsConfig {
        architecture: architecture?,
        api: api?,
        worker: worker?,
        publisher: publisher?,
        sweeper: sweeper?,
    })
}

/// Lambda's longest function timeout (15 minutes).
const LAMBDA_MAX_TIMEOUT_SECONDS: u32 = 900;

/// A function's settings, with any timeout Lambda accepts.
fn function(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<FunctionSettings> {
    function_with(d, node, path, LAMBDA_MAX_TIMEOUT_SECONDS, None)
}

/// A function's settings whose timeout is at most `max_timeout` seconds
/// (`why`: the reason, when shorter than Lambda's own limit).
fn function_with(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    max_timeout: u32,
    why: Option<&str>,
) -> Option<FunctionSettings> {
    let mut f = Fields::of(d, node, path)?;
    // Lambda's limits: 128 MB to 10 GB of memory, at most 15 minutes.
    let memory_mb = f.req_in_or(
        d,
        "memory_mb",
        128..=10_240,
        "Lambda gives a function 128 to 10,240 MB; CPU grows with memory (1,769 MB is one full vCPU)",
    );
    let timeout_seconds = f.req_with(d, "timeout_seconds", |d, n, p| {
        decode_u32_in_or(d, n, p, 1..=max_timeout, why)
    });
    let reserved_concurrency = f.opt_with(d, "reserved_concurrency", reserved_concurrency);
    f.finish(d);
    Some(FunctionSettings {
        memory_mb: memory_mb?,
        timeout_seconds: timeout_seconds?,
        reserved_concurrency: reserved_concurrency?,
    })
}

/// Concurrency reserved for a function, 1 to 1000. Zero is Lambda's way of
/// switching a function off (every invocation throttled): for the API that
/// is every order refused, so it is refused here with what to write instead.
fn reserved_concurrency(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<u32> {
    if matches!(Found::of(node), Found::Int { value: Some(0), .. }) {
        d.error(
            node.pos,
            path,
            format!("`{path}` must be an integer from 1 to 1000, found `0`, which throttles every invocation"),
            Some("leave the key out to share the account's unreserved concurrency, or reserve at least 1".to_owned()),
        );
        return None;
    }
    super::decode::decode_u32_in(d, node, path, 1..=1000)
}

fn tags(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<BTreeMap<String, String>> {
    let Some(entries) = node.entries() else {
        d.expected(node, path, "a mapping of tag names to values");
        return None;
    };
    let mut tags = BTreeMap::new();
    let mut ok = true;
    for entry in entries {
        let tag_path = format!("{path}.{}", entry.key);
        if let Err((message, hint)) = rules::tag_key(&entry.key) {
            d.error(entry.key_pos, &tag_path, message, hint);
            ok = false;
        }
        let value = match Found::of(&entry.value) {
            Found::Str { text, .. } => text,
            Found::Null => {
                d.error(
                    entry.value.pos,
                    &tag_path,
                    format!("tag `{}` has no value", entry.key),
                    Some("write `\"\"` for an empty tag value, or remove the tag".to_owned()),
                );
                ok = false;
                continue;
            }
            _ => {
                d.expected(&entry.value, &tag_path, "a string");
                ok = false;
                continue;
            }
        };
        if let Err((message, hint)) = rules::tag_value(&entry.key, value) {
            d.error(entry.value.pos, &tag_path, message, hint);
            ok = false;
        }
        tags.insert(entry.key.clone(), value.to_owned());
    }
    if entries.len() > rules::MAX_USER_TAGS {
        d.error(
            node.pos,
            path,
            format!(
                "`{path}` has {} tags; at most {} fit next to the generator's own",
                entries.len(),
                rules::MAX_USER_TAGS
            ),
            Some("AWS allows 50 tags per resource".to_owned()),
        );
        ok = false;
    }
    ok.then_some(tags)
}

fn api(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<ApiConfig> {
    let mut f = Fields::of(d, node, path)?;
    // API Gateway's default account-wide quotas per region: 10,000 requests
    // per second, burst 5,000. A stage setting above them has no effect.
    let throttle_rate = f.req_in(d, "throttle_rate", 1..=10_000);
    let throttle_burst = f.req_in(d, "throttle_burst", 1..=5_000);
    f.finish(d);
    Some(ApiConfig {
        throttle_rate: throttle_rate?,
        throttle_burst: throttle_burst?,
    })
}

fn fraud(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<FraudConfig> {
    let mut f = Fields::of(d, node, path)?;
    let per_hour = f.req_in(
        d,
        "orders_per_customer_per_hour",
        ORDERS_PER_CUSTOMER_PER_HOUR_RANGE,
    );
    let per_day = f.req_in(
        d,
        "units_per_customer_per_day",
        UNITS_PER_CUSTOMER_PER_DAY_RANGE,
    );
    let cents = ORDER_TOTAL_OVER_CENTS_RANGE;
    let narrow = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    let total = f.req_in(
        d,
        "order_total_over_cents",
        narrow(*cents.start())..=narrow(*cents.end()),
    );
    f.finish(d);
    Some(FraudConfig {
        orders_per_customer_per_hour: per_hour?,
        units_per_customer_per_day: per_day?,
        order_total_over_cents: total?,
    })
}

fn sweeper(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<SweeperConfig> {
    let mut f = Fields::of(d, node, path)?;
    let rate_minutes = f.req_in_or(
        d,
        "rate_minutes",
        1..=60,
        "the sweeper runs every 1 to 60 minutes; an expired reservation waits up to this long for its units to return",
    );
    let stuck_after_minutes = f.req_in_or(
        d,
        "stuck_after_minutes",
        1..=1440,
        "minutes a PENDING order waits before the sweeper sends it to the worker again (1 minute to 1 day)",
    );
    f.finish(d);
    Some(SweeperConfig {
        rate_minutes: rate_minutes?,
        stuck_after_minutes: stuck_after_minutes?,
    })
}

fn analytics(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<AnalyticsConfig> {
    let mut f = Fields::of(d, node, path)?;
    let redshift_serverless = f.req::<bool>(d, "redshift_serverless");
    f.finish(d);
    Some(AnalyticsConfig {
        redshift_serverless: redshift_serverless?,
    })
}

/// The county's account and region, where each decoded (an ARN in the
/// `payment:` section must be in both).
#[derive(Clone, Copy)]
struct CountyPlace<'a> {
    region: Option<&'a str>,
    account: Option<&'a str>,
}

/// The order API's and the worker's timeouts, seconds: a charge or refund
/// must fit in both.
#[derive(Clone, Copy)]
struct FunctionTimeouts {
    api: u32,
    worker: u32,
}

/// The keys of provider `card_api`, flat in `payment:`.
const CARD_API_KEYS: [&str; 7] = [
    "base_url",
    "api_key_secret_arn",
    "api_key_kms_key_arn",
    "connect_timeout_ms",
    "request_timeout_ms",
    "max_attempts",
    "call_budget_ms",
];

fn payment(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    place: CountyPlace<'_>,
    timeouts: Option<FunctionTimeouts>,
) -> Option<PaymentConfig> {
    let mut f = Fields::of(d, node, path)?;
    let provider = f.req_with(d, "provider", payment_provider);
    let card_api = match provider {
        Some(PaymentProvider::CardApi) => card_api(d, &mut f, node, place, timeouts).map(Some),
        Some(PaymentProvider::Simulator) => {
            not_for_the_simulator(d, &mut f);
            Some(None)
        }
        None => None,
    };
    f.finish(d);
    Some(PaymentConfig {
        provider: provider?,
        card_api: card_api?,
    })
}

/// The card API's settings are errors next to `provider: simulator`: a
/// county that meant to charge cards would otherwise run on the simulator.
fn not_for_the_simulator(d: &mut Decoder<'_>, f: &mut Fields<'_>) {
    for key in CARD_API_KEYS {
        if let Some(entry) = f.take(key) {
            d.error(
                entry.key_pos,
                &f.child(key),
                format!("`{}` applies to provider `card_api` only, and the provider is `simulator`", f.child(key)),
                Some("set `provider: card_api` to charge cards through the provider's API, or delete the key".to_owned()),
            );
        }
    }
}

fn card_api(
    d: &mut Decoder<'_>,
    f: &mut Fields<'_>,
    node: &Node,
    place: CountyPlace<'_>,
    timeouts: Option<FunctionTimeouts>,
) -> Option<CardApiConfig> {
    use acme_contract::payment::card_api as c;
    let base_url = f.opt_with(d, "base_url", |d, n, p| {
        checked_string(d, n, p, rules::card_api_base_url)
    });
    let secret = f.opt_with(d, "api_key_secret_arn", |d, n, p| {
        let arn = String::decode(d, n, p)?;
        let (Some(region), Some(account)) = (place.region, place.account) else {
            return Some(arn);
        };
        check(d, n, p, rules::secret_arn(&arn, region, account)).map(|()| arn)
    });
    let kms = f.opt_with(d, "api_key_kms_key_arn", |d, n, p| {
        let arn = String::decode(d, n, p)?;
        let (Some(region), Some(account)) = (place.region, place.account) else {
            return Some(arn);
        };
        check(d, n, p, rules::kms_key_arn(&arn, region, account)).map(|()| arn)
    });
    let mut ms = |d: &mut Decoder<'_>, key: &'static str, range, default| {
        f.opt_with(d, key, |d, n, p| decode_u32_in(d, n, p, range))
            .map(|v| v.unwrap_or(default))
    };
    let connect = ms(
        d,
        "connect_timeout_ms",
        c::CONNECT_TIMEOUT_MS_RANGE,
        c::CONNECT_TIMEOUT_MS_DEFAULT,
    );
    let request = ms(
        d,
        "request_timeout_ms",
        c::REQUEST_TIMEOUT_MS_RANGE,
        c::REQUEST_TIMEOUT_MS_DEFAULT,
    );
    let attempts = ms(
        d,
        "max_attempts",
        c::MAX_ATTEMPTS_RANGE,
        c::MAX_ATTEMPTS_DEFAULT,
    );
    let budget = ms(
        d,
        "call_budget_ms",
        c::CALL_BUDGET_MS_RANGE,
        c::CALL_BUDGET_MS_DEFAULT,
    );
    let required = |d: &mut Decoder<'_>, key: &str, value: &Option<Option<String>>, what: &str| {
        if let Some(None) = value {
            d.error(
                node.pos,
                &f.child(key),
                format!("`{}` is required with provider `card_api`", f.child(key)),
                Some(what.to_owned()),
            );
        }
    };
    required(
        d,
        "base_url",
        &base_url,
        "the provider's API URL, e.g. `base_url: https://api.<provider>.com`",
    );
    required(
        d,
        "api_key_secret_arn",
        &secret,
        "the complete ARN of the Secrets Manager secret whose text is the provider's API key",
    );
    let (connect, request, budget) = (connect?, request?, budget?);
    if request < connect {
        d.error(
            f.value_pos("request_timeout_ms"),
            &f.child("request_timeout_ms"),
            format!(
                "`{}` ({request}) is shorter than `connect_timeout_ms` ({connect})",
                f.child("request_timeout_ms")
            ),
            Some(
                "a request's timeout includes connecting: make it at least the connect timeout"
                    .to_owned(),
            ),
        );
        return None;
    }
    if budget < request {
        d.error(f.value_pos("call_budget_ms"), &f.child("call_budget_ms"),
            format!("`{}` ({budget}) is shorter than `request_timeout_ms` ({request})", f.child("call_budget_ms")),
            Some("the budget bounds all the requests of one charge: make it at least one request's timeout".to_owned()));
        return None;
    }
    if let Some(t) = timeouts {
        let (label, name, seconds) = if t.api <= t.worker {
            ("order API", "api", t.api)
        } else {
            ("worker", "worker", t.worker)
        };
        if u64::from(budget) + u64::from(c::FUNCTION_TIMEOUT_MARGIN_MS) > u64::from(seconds) * 1000
        {
            d.error(f.value_pos("call_budget_ms"), &f.child("call_budget_ms"),
                format!("`{}` ({budget} ms) does not fit the {label}'s timeout ({seconds} s) with {} ms to spare", f.child("call_budget_ms"), c::FUNCTION_TIMEOUT_MARGIN_MS),
                Some(format!("a cancel refunds within the order API's timeout and the worker charges within its own: lower `call_budget_ms`, or raise `functions.{name}.timeout_seconds`")));
            return None;
        }
    }
    Some(CardApiConfig {
        base_url: base_url??,
        api_key_secret_arn: secret??,
        api_key_kms_key_arn: kms?,
        connect_timeout_ms: connect,
        request_timeout_ms: request,
        max_attempts: attempts?,
        call_budget_ms: budget,
    })
}

/// `payment.provider`: a provider's name. The hint says what exists, since a
/// plausible name (`stripe`) is no typo of one.
fn payment_provider(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<PaymentProvider> {
    let choices = PaymentProvider::NAMES;
    let expected = format!("one of {}", backticked(choices));
    let Found::Str { text, .. } = Found::of(node) else {
        d.expected(node, path, &expected);
        return None;
    };
    if let Some(provider) = PaymentProvider::from_name(text) {
        return Some(provider);
    }
    let hint = did_you_mean(text, choices.iter().copied())
        .map(|c| format!("did you mean `{c}`?"))
        .unwrap_or_else(|| {
            "`card_api` charges cards through a card processor's HTTPS API (base_url and api_key_secret_arn with it); `simulator` runs the county on the simulated gateway (no money moves); without `payment:` the county deploys but its order API and worker do not start".to_owned()
        });
    d.error(
        node.pos,
        path,
        format!("`{path}` must be {expected}, found `{text}`"),
        Some(hint),
    );
    None
}

fn migration(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    account: Option<&str>,
    region: Option<&str>,
) -> Option<MigrationConfig> {
    let mut f = Fields::of(d, node, path)?;
    let operators = f.req_with(d, "operators", |d, n, p| operators(d, n, p, account));
    let legacy_sync = f.opt_with(d, "legacy_sync", |d, n, p| {
        legacy_sync(d, n, p, account, region)
    });
    let shadow = f.opt_with(d, "shadow", shadow);
    let cutover = f.opt_with(d, "cutover", cutover_gates);
    f.finish(d);
    Some(MigrationConfig {
        operators: operators?,
        legacy_sync: legacy_sync?,
        shadow: shadow?.unwrap_or_default(),
        cutover: cutover?.unwrap_or(CutoverGates::DEFAULT),
    })
}

/// `migration.shadow`: `sample_percent` of the API's reads compared in
/// mode `shadow` (0 turns sampling off; 100 compares every read).
fn shadow(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<ShadowConfig> {
    let mut f = Fields::of(d, node, path)?;
    let sample_percent = f.req_in_or(
        d,
        "sample_percent",
        0..=100,
        "a percent of the order API's reads: 0 (none) to 100 (every read)",
    );
    f.finish(d);
    Some(ShadowConfig {
        sample_percent: sample_percent?,
    })
}

/// `access:`: exactly one way to reach the county's account, a role in it
/// (`role_arn`, optionally `external_id`) or a named `profile`.
fn access(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    account: Option<&str>,
) -> Option<AccountAccess> {
    let mut f = Fields::of(d, node, path)?;
    let role = f.opt_with(d, "role_arn", |d, n, p| {
        let arn = checked_string(d, n, p, |arn| rules::access_role_arn(arn, None))?;
        match account {
            Some(account) => check(d, n, p, rules::access_role_arn(&arn, Some(account))),
            None => Some(()),
        }
        .map(|()| arn)
    });
    let external_id = f.opt_with(d, "external_id", |d, n, p| {
        checked_string(d, n, p, rules::external_id)
    });
    let profile = f.opt_with(d, "profile", |d, n, p| {
        checked_string(d, n, p, rules::profile_name)
    });
    f.finish(d);
    let one_way = "a county's account is reached one way: `role_arn` (a role in it the pipeline assumes) or `profile` (a named AWS profile on the machine)";
    let (problem, hint) = match (role?, external_id?, profile?) {
        (Some(arn), external_id, None) => return Some(AccountAccess::Role { arn, external_id }),
        (None, None, Some(profile)) => return Some(AccountAccess::Profile(profile)),
        (Some(_), _, Some(_)) => ("sets both `role_arn` and `profile`", one_way),
        (None, Some(_), _) => (
            "sets `external_id` without `role_arn`",
            "an external id goes with the role it is for: add `role_arn`, or remove `external_id`",
        ),
        (None, None, None) => ("is empty", one_way),
    };
    d.error(
        node.pos,
        path,
        format!("`{path}` {problem}"),
        Some(hint.to_owned()),
    );
    None
}

/// `migration.legacy_sync`: all three settings or none (the section absent).
fn legacy_sync(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    account: Option<&str>,
    region: Option<&str>,
) -> Option<LegacySyncConfig> {
    let mut f = Fields::of(d, node, path)?;
    let secret = f.req_with(d, "database_secret_arn", |d, n, p| {
        let arn = String::decode(d, n, p)?;
        // Without the county's own account and region (already reported),
        // there is nothing to hold the ARN against.
        let (Some(region), Some(account)) = (region, account) else {
            return Some(arn);
        };
        check(d, n, p, rules::secret_arn(&arn, region, account)).map(|()| arn)
    });
    let subnets = f.req_with(d, "subnet_ids", subnet_ids);
    let group = f.req_with(d, "security_group_id", |d, n, p| {
        checked_string(d, n, p, |g| rules::aws_id(g, "sg", "security group"))
    });
    f.finish(d);
    Some(LegacySyncConfig {
        database_secret_arn: secret?,
        subnet_ids: subnets?,
        security_group_id: group?,
    })
}

/// `migration.legacy_sync.subnet_ids`: each checked where it is written.
fn subnet_ids(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Vec<String>> {
    const SUBNETS: ListRule = ListRule {
        expected: "a list of VPC subnet ids (`subnet-0123456789abcdef0`)",
        count: rules::subnet_count,
        once: "list each subnet once",
    };
    unique_list(d, node, path, &SUBNETS, |d, n, p| {
        checked_string(d, n, p, |s| rules::aws_id(s, "subnet", "subnet"))
    })
}

/// What [`unique_list`] holds a list of ids to.
struct ListRule {
    /// What the list holds, for the error when it is not a list.
    expected: &'static str,
    /// Its length (the message names the limit's reason).
    count: fn(&str, usize) -> Result<(), Problem>,
    /// The hint when an id is listed twice.
    once: &'static str,
}

/// A list of ids: a list at all, a length `rule.count` accepts, each item
/// checked by `item` where it is written (`item` reports its own problem),
/// no id twice. Every bad item is reported, not only the first; the list
/// decodes only if none is bad.
fn unique_list(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    rule: &ListRule,
    item: impl Fn(&mut Decoder<'_>, &Node, &str) -> Option<String>,
) -> Option<Vec<String>> {
    let Kind::Seq(items) = &node.kind else {
        d.expected(node, path, rule.expected);
        return None;
    };
    if let Err((message, hint)) = (rule.count)(path, items.len()) {
        d.error(node.pos, path, message, hint);
        return None;
    }
    let mut ok = true;
    let mut seen: Vec<String> = Vec::with_capacity(items.len());
    for (i, node) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let Some(id) = item(d, node, &item_path) else {
            ok = false;
            continue;
        };
        if seen.contains(&id) {
            d.error(
                node.pos,
                &item_path,
                format!("`{id}` is listed twice in `{path}`"),
                Some(rule.once.to_owned()),
            );
            ok = false;
            continue;
        }
        seen.push(id);
    }
    ok.then_some(seen)
}

/// `migration.cutover`: each key optional, each within its range.
fn cutover_gates(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<CutoverGates> {
    let mut f = Fields::of(d, node, path)?;
    let dflt = CutoverGates::DEFAULT;
    let mut opt = |d: &mut Decoder<'_>, key, range, default| {
        f.opt_with(d, key, |d, n, p| {
            super::decode::decode_u32_in_or(d, n, p, range, Some(GATE_HINT))
        })
        .map(|v| v.unwrap_or(default))
    };
    let lag = opt(d, "max_cdc_lag_seconds", 1..=3600, dflt.max_cdc_lag_seconds);
    let window = opt(
        d,
        "shadow_window_minutes",
        5..=20_160,
        dflt.shadow_window_minutes,
    );
    let reads = opt(
        d,
        "min_shadow_reads",
        1..=100_000_000,
        dflt.min_shadow_reads,
    );
    let age = opt(
        d,
        "verify_max_age_hours",
        1..=720,
        dflt.verify_max_age_hours,
    );
    f.finish(d);
    Some(CutoverGates {
        max_cdc_lag_seconds: lag?,
        shadow_window_minutes: window?,
        min_shadow_reads: reads?,
        verify_max_age_hours: age?,
    })
}

const GATE_HINT: &str =
    "a gate of `acme-infra migrate cutover` (docs/migration.md); leave the key out for its default";

/// `migration.operators`: IAM principal ARNs of the county's account, each
/// checked where it is written. The account check is skipped when `account`
/// itself is wrong (that error is already reported).
fn operators(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    account: Option<&str>,
) -> Option<Vec<String>> {
    const OPERATORS: ListRule = ListRule {
        expected: "a list of IAM role or user ARNs",
        count: rules::operator_count,
        once: "list each operator once",
    };
    unique_list(d, node, path, &OPERATORS, |d, n, p| {
        let arn = checked_string(d, n, p, |arn| rules::operator_arn(arn, None))?;
        match account {
            Some(account) => check(d, n, p, rules::operator_arn(&arn, Some(account))),
            None => Some(()),
        }
        .map(|()| arn)
    })
}

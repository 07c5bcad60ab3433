//! `acme-infra plan`: what a county's expected load (`load:` in its county
//! file) asks of DynamoDB, and what the county costs a month.
//!
//! Nothing here prices a write by itself: a sample of orders shaped like the
//! county's traffic runs through the real flows and the write-unit meter
//! ([`crate::flows::simulate`]), and every figure is that sample scaled to the
//! county's order rate. docs/plan.md explains the model and its limits.
//!
//! | step | what |
//! |---|---|
//! | [`Rates`] | orders per second on average (over the open hours) and at the Friday-night peak |
//! | [`TargetPlan`] | per table and index: units per order, per second at average and peak, the hottest partition |
//! | [`ShardPlan`] | the smallest `gsi_write_shards` (of 1, 2, 4 … 64) that keeps every sharded partition under half its limit, spreading the sample's order ids with the domain's `shard_of` |
//! | [`CapacityChoice`] | on-demand against provisioned (with the county's auto-scaling bounds) |
//! | [`cost`] | the monthly bill per service from the price table |

pub mod cost;
pub mod prices;
mod render;

use std::collections::BTreeMap;

use acme_contract::limits::{PARTITION_MAX_RCU, PARTITION_MAX_WCU};
use acme_stacks::config::{CapacityMode, CountyConfig, LoadConfig, ScalingRange};
use order_domain::OrderId;
use order_domain::keys::shard_of;
use order_domain::store::Table;
use serde::Serialize;

use crate::flows::{FlowError, Measured, Sample, simulate};
use crate::meter::{Layout, Target, read_units};
pub use cost::{Cost, CostLine};
pub use prices::{Price, PriceError, PriceFile, Prices};

/// Orders the simulation runs: enough that every shard of 64 gets a few
/// dozen, few enough to run in well under a second.
pub const SAMPLE_ORDERS: usize = 1_000;
/// A partition is "at risk" above its limit and flagged above this share.
pub const SAFE_SHARE: f64 = 0.5;
/// AWS bills a month as 730 hours.
pub const HOURS_PER_MONTH: f64 = 730.0;
/// Weeks in a 730-hour month.
pub const WEEKS_PER_MONTH: f64 = HOURS_PER_MONTH / 168.0;
/// Shard counts tried for [`ShardPlan::recommended`].
pub const SHARD_CANDIDATES: [u32; 7] = [1, 2, 4, 8, 16, 32, 64];
/// Auto-scaling bounds assumed when an on-demand county is priced as if it
/// were provisioned (its file sets none).
pub const ASSUMED_BOUNDS: ScalingRange = ScalingRange {
    min: 1,
    max: 40_000,
    target_utilization: 70.0,
};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(
        "county `{0}` has no `load:` section, so there is nothing to plan from: add one to its county file (orders_per_day, peak_hour_factor, friday_night_multiplier, lines_per_order, reads_per_order, stores, busiest_store_percent; docs/plan.md)"
    )]
    NoLoad(String),
    #[error("county `{0}` has no open day in `sale_hours`: it takes no orders to plan for")]
    NeverOpen(String),
    #[error(transparent)]
    Flow(#[from] FlowError),
}

/// The whole plan, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub county: String,
    pub region: String,
    pub load: LoadConfig,
    pub rates: Rates,
    /// Orders the simulation ran.
    pub sample_orders: usize,
    /// Write and read units of one order's whole life, all tables and indexes.
    pub write_units_per_order: f64,
    pub read_units_per_order: f64,
    pub targets: Vec<TargetPlan>,
    pub shards: ShardPlan,
    pub capacity: CapacityChoice,
    /// `None` when no price table covers the region (see `notes`).
    pub cost: Option<Cost>,
    /// What would fail at peak: `--fail-on-risk` exits non-zero on any.
    pub risks: Vec<String>,
    /// Worth a look, not failing.
    pub warnings: Vec<String>,
}

/// Order rates, from `load:` and the sale hours.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rates {
    pub open_days_per_week: u32,
    /// Mean length of an open day's sale window.
    pub open_hours_per_day: f64,
    pub orders_per_month: f64,
    /// `orders_per_day` spread evenly over the open hours.
    pub average_orders_per_second: f64,
    /// average × `peak_hour_factor` × `friday_night_multiplier`.
    pub peak_orders_per_second: f64,
}

impl Rates {
    /// `None` when the county is never open.
    pub fn of(cfg: &CountyConfig, load: &LoadConfig) -> Option<Self> {
        let h = &cfg.sale_hours;
        let days = [
            h.monday,
            h.tuesday,
            h.wednesday,
            h.thursday,
            h.friday,
            h.saturday,
            h.sunday,
        ];
        let open: Vec<f64> = days
            .iter()
            .flatten()
            .map(|w| f64::from(w.close_minute - w.open_minute) / 60.0)
            .collect();
        if open.is_empty() {
            return None;
        }
        let open_hours_per_day = open.iter().sum::<f64>() / open.len() as f64;
        let per_day = f64::from(load.orders_per_day);
        let average = per_day / (open_hours_per_day * 3600.0);
        Some(Rates {
            open_days_per_week: open.len() as u32,
            open_hours_per_day,
            orders_per_month: per_day * open.len() as f64 * WEEKS_PER_MONTH,
            average_orders_per_second: average,
            peak_orders_per_second: average * load.peak_hour_factor * load.friday_night_multiplier,
        })
    }

    /// Open hours in a 730-hour month.
    pub fn open_hours_per_month(&self) -> f64 {
        f64::from(self.open_days_per_week) * self.open_hours_per_day * WEEKS_PER_MONTH
    }
}

/// Units per second on one table or index.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Units {
    pub write: f64,
    pub read: f64,
}

/// The partition that gets the most at peak.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hottest {
    /// Its partition key value in the sample (e.g. `travis-tx#3`, a store id).
    pub key: String,
    pub write_units_per_second: f64,
    pub read_units_per_second: f64,
    /// Of DynamoDB's 1,000 WCU and 3,000 RCU per partition.
    pub write_percent: f64,
    pub read_percent: f64,
}

impl Hottest {
    /// The larger of its write and read shares of the limits, 0..
    pub fn share(&self) -> f64 {
        (self.write_percent.max(self.read_percent)) / 100.0
    }
}

/// One table or index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetPlan {
    /// `Orders`, `Orders/by-county-time`, …
    pub name: String,
    pub partition_key: &'static str,
    pub write_units_per_order: f64,
    pub read_units_per_order: f64,
    pub average: Units,
    pub peak: Units,
    pub hottest: Hottest,
    #[serde(skip)]
    target: Target,
    /// Of a sharded index: the largest share of its writes one key
    /// component (county, status) takes, shards together.
    #[serde(skip)]
    hottest_component: f64,
}

/// The county's GSI write shards and the fewest that would do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShardPlan {
    pub current: u32,
    /// The hottest sharded partition (county or status index) at peak with
    /// the current shards, percent of its limit.
    pub hottest_percent: f64,
    /// The smallest of [`SHARD_CANDIDATES`] keeping every sharded partition
    /// under [`SAFE_SHARE`]; `None` if even 64 does not.
    pub recommended: Option<u32>,
}

/// On-demand against provisioned at this load, per month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityChoice {
    /// The county file's `capacity.mode`.
    pub configured: &'static str,
    pub on_demand_usd: Option<f64>,
    pub provisioned_usd: Option<f64>,
    /// `on_demand` or `provisioned`; `None` without prices.
    pub cheaper: Option<&'static str>,
    /// Provisioned WCU-hours and RCU-hours a month, all tables and indexes.
    pub provisioned_wcu_hours: f64,
    pub provisioned_rcu_hours: f64,
    /// The bounds priced: the county's, or [`ASSUMED_BOUNDS`].
    pub read_bounds: ScalingRange,
    pub write_bounds: ScalingRange,
}

/// Plans `cfg` with the prices of `prices` (the shipped table, normally).
pub async fn plan(cfg: &CountyConfig, prices: &PriceFile) -> Result<Plan, PlanError> {
    let load = cfg
        .load
        .as_ref()
        .ok_or_else(|| PlanError::NoLoad(cfg.id.clone()))?;
    let rates = Rates::of(cfg, load).ok_or_else(|| PlanError::NeverOpen(cfg.id.clone()))?;
    let measured = simulate(&sample(cfg, load), Layout::deployed()).await?;
    let targets = targets(&measured, load, &rates);
    let shards = shards(cfg, &measured, &targets);
    Ok(assemble(
        cfg, load, rates, &measured, targets, shards, prices,
    ))
}

fn sample(cfg: &CountyConfig, load: &LoadConfig) -> Sample {
    Sample {
        county: cfg.id.clone(),
        orders: SAMPLE_ORDERS,
        lines: load.lines_per_order as usize,
        stores: load.stores,
        busiest_store_share: load.busiest_store_percent / 100.0,
        gsi_write_shards: cfg.gsi_write_shards,
    }
}

/// The pure part: everything after the simulation.
fn assemble(
    cfg: &CountyConfig,
    load: &LoadConfig,
    rates: Rates,
    measured: &Measured,
    targets: Vec<TargetPlan>,
    shards: ShardPlan,
    prices: &PriceFile,
) -> Plan {
    let region_prices = prices.for_region(&cfg.region);
    let capacity = capacity_choice(cfg, &rates, &targets, region_prices);
    let cost =
        region_prices.map(|p| cost::monthly(cfg, load, &rates, measured, &capacity, p, prices));
    let (risks, warnings) = findings(cfg, load, &rates, &targets, &shards, prices);
    Plan {
        county: cfg.id.clone(),
        region: cfg.region.clone(),
        load: load.clone(),
        sample_orders: measured.orders,
        write_units_per_order: targets.iter().map(|t| t.write_units_per_order).sum(),
        read_units_per_order: targets.iter().map(|t| t.read_units_per_order).sum(),
        rates,
        targets,
        shards,
        capacity,
        cost,
        risks,
        warnings,
    }
}

/// Every table and index the flows write, in the layout's order. The
/// Customers table is left out: the order flows never write it and it is
/// always on-demand (stacks' `tables::customers`).
fn layout_targets() -> Vec<Target> {
    Table::ALL
        .iter()
        .filter(|t| **t != Table::Customers)
        .flat_map(|&t| {
            std::iter::once(Target::Table(t)).chain(t.indexes().iter().map(|&i| Target::Index(i)))
        })
        .collect()
}

fn partition_key(target: Target) -> &'static str {
    match target {
        Target::Table(t) => t.partition_key(),
        Target::Index(i) => i.partition_key(),
    }
}

/// Units per partition key value in the sample, writes and reads.
#[derive(Default)]
struct ByKey {
    write: BTreeMap<String, f64>,
    read: BTreeMap<String, f64>,
}

/// The client reads: `reads_per_order` strongly consistent `GetItem`s of
/// each order's OrderById record, at its largest size in the sample.
fn client_reads(measured: &Measured, load: &LoadConfig, by: &mut BTreeMap<Target, ByKey>) {
    let life = measured.lifecycle();
    let record = Target::Table(Table::OrderById);
    let mut sizes: BTreeMap<String, usize> = BTreeMap::new();
    for c in life.charges().filter(|c| c.target == record) {
        let key = c.partition.clone().unwrap_or_default();
        let size = sizes.entry(key).or_default();
        *size = (*size).max(c.bytes);
    }
    let keys = by.entry(record).or_default();
    for (key, bytes) in sizes {
        let units = f64::from(load.reads_per_order) * read_units(bytes) as f64;
        *keys.read.entry(key).or_default() += units;
    }
}

fn targets(measured: &Measured, load: &LoadConfig, rates: &Rates) -> Vec<TargetPlan> {
    let mut by: BTreeMap<Target, ByKey> = BTreeMap::new();
    for c in measured.lifecycle().charges() {
        let keys = by.entry(c.target).or_default();
        let key = c.partition.clone().unwrap_or_default();
        *keys.write.entry(key.clone()).or_default() += c.write_units as f64;
        if c.read_units > 0 {
            *keys.read.entry(key).or_default() += c.read_units as f64;
        }
    }
    client_reads(measured, load, &mut by);
    let orders = measured.orders.max(1) as f64;
    layout_targets()
        .into_iter()
        .map(|target| {
            let keys = by.remove(&target).unwrap_or_default();
            target_plan(target, &keys, orders, rates)
        })
        .collect()
}

/// The largest value in `map` and its key; `("", 0)` when empty.
fn max_of(map: &BTreeMap<String, f64>) -> (String, f64) {
    map.iter().fold((String::new(), 0.0), |(bk, bv), (k, v)| {
        if *v > bv { (k.clone(), *v) } else { (bk, bv) }
    })
}

fn target_plan(target: Target, keys: &ByKey, orders: f64, rates: &Rates) -> TargetPlan {
    // `fold`, not `sum`: an empty f64 sum is -0.0, which prints as "-0.00".
    let total_w = keys.write.values().fold(0.0, |a, b| a + b);
    let total_r = keys.read.values().fold(0.0, |a, b| a + b);
    let per_order = Units {
        write: total_w / orders,
        read: total_r / orders,
    };
    let per_second = |rate: f64| Units {
        write: per_order.write * rate,
        read: per_order.read * rate,
    };
    let peak = per_second(rates.peak_orders_per_second);
    let (wkey, wmax) = max_of(&keys.write);
    let (rkey, rmax) = max_of(&keys.read);
    // The hottest key's share of the target, scaled to the peak; never less
    // than one order's units on one key in one second (one customer's order,
    // one order id), which a sample larger than the peak rate would hide.
    let hot = |max: f64, total: f64, peak: f64, floor: f64| {
        if total > 0.0 {
            (peak * max / total).max(floor)
        } else {
            0.0
        }
    };
    let hot_w = hot(wmax, total_w, peak.write, per_order.write);
    let hot_r = hot(rmax, total_r, peak.read, per_order.read);
    let write_percent = 100.0 * hot_w / f64::from(PARTITION_MAX_WCU);
    let read_percent = 100.0 * hot_r / f64::from(PARTITION_MAX_RCU);
    TargetPlan {
        name: target.to_string(),
        partition_key: partition_key(target),
        write_units_per_order: per_order.write,
        read_units_per_order: per_order.read,
        average: per_second(rates.average_orders_per_second),
        peak,
        hottest: Hottest {
            key: if write_percent >= read_percent {
                wkey
            } else {
                rkey
            },
            write_units_per_second: hot_w,
            read_units_per_second: hot_r,
            write_percent,
            read_percent,
        },
        target,
        hottest_component: component_share(&keys.write, total_w),
    }
}

/// The largest share of `total` one `<component>#<shard>` component takes.
fn component_share(by_key: &BTreeMap<String, f64>, total: f64) -> f64 {
    let mut by: BTreeMap<&str, f64> = BTreeMap::new();
    for (k, v) in by_key {
        let component = k.rsplit_once('#').map_or(k.as_str(), |(c, _)| c);
        *by.entry(component).or_default() += v;
    }
    if total > 0.0 {
        by.values().copied().fold(0.0, f64::max) / total
    } else {
        0.0
    }
}

/// Whether `target`'s partition key holds a write shard.
fn is_sharded(target: Target) -> bool {
    use order_domain::store::Index;
    matches!(target, Target::Index(Index::CountyTime | Index::StatusTime))
}

fn sharded_share(targets: &[TargetPlan]) -> f64 {
    targets
        .iter()
        .filter(|t| is_sharded(t.target))
        .map(|t| t.hottest.share())
        .fold(0.0, f64::max)
}

/// Tries [`SHARD_CANDIDATES`] in order. An order's shard is the domain's
/// `shard_of` of its id, so each candidate spreads the sample's own order ids
/// (the OrderById keys) with it: every order of the sample has the same shape,
/// so a sharded key's units are its component's units per order (county, or
/// status) times the orders its shard gets.
fn shards(cfg: &CountyConfig, measured: &Measured, targets: &[TargetPlan]) -> ShardPlan {
    let record = Target::Table(Table::OrderById);
    let life = measured.lifecycle();
    let keys: std::collections::BTreeSet<&str> = life
        .charges()
        .filter(|c| c.target == record)
        .filter_map(|c| c.partition.as_deref())
        .collect();
    let ids: Vec<OrderId> = keys
        .into_iter()
        .filter_map(|k| OrderId::parse(k).ok())
        .collect();
    let recommended = SHARD_CANDIDATES
        .into_iter()
        .find(|&s| sharded_share_with(targets, &ids, s) < SAFE_SHARE);
    ShardPlan {
        current: cfg.gsi_write_shards,
        hottest_percent: 100.0 * sharded_share(targets),
        recommended,
    }
}

/// The hottest sharded partition's share of the write limit with `shards`.
fn sharded_share_with(targets: &[TargetPlan], ids: &[OrderId], shards: u32) -> f64 {
    let mut counts = vec![0usize; shards as usize];
    for id in ids {
        counts[shard_of(id, shards) as usize] += 1;
    }
    let busiest = counts.iter().copied().max().unwrap_or(0) as f64 / ids.len().max(1) as f64;
    targets
        .iter()
        .filter(|t| is_sharded(t.target))
        .map(|t| {
            let hot = (t.peak.write * t.hottest_component * busiest).max(t.write_units_per_order);
            hot / f64::from(PARTITION_MAX_WCU)
        })
        .fold(0.0, f64::max)
}

/// Capacity auto-scaling holds during an hour with `units` per second:
/// enough for the target utilisation, within the bounds.
pub fn scaled(units: f64, bounds: &ScalingRange) -> f64 {
    let want = (units / (bounds.target_utilization / 100.0)).ceil();
    want.clamp(f64::from(bounds.min), f64::from(bounds.max))
}

fn capacity_choice(
    cfg: &CountyConfig,
    rates: &Rates,
    targets: &[TargetPlan],
    prices: Option<&Prices>,
) -> CapacityChoice {
    let (configured, read_bounds, write_bounds) = match &cfg.capacity {
        CapacityMode::OnDemand => ("on_demand", ASSUMED_BOUNDS, ASSUMED_BOUNDS),
        CapacityMode::Provisioned(p) => ("provisioned", p.read.clone(), p.write.clone()),
    };
    let open = rates.open_hours_per_month();
    let closed = (HOURS_PER_MONTH - open).max(0.0);
    // Open hours at the average rate, closed hours at the minimum.
    let hours = |units: f64, b: &ScalingRange| scaled(units, b) * open + f64::from(b.min) * closed;
    let wcu_hours: f64 = targets
        .iter()
        .map(|t| hours(t.average.write, &write_bounds))
        .sum();
    let rcu_hours: f64 = targets
        .iter()
        .map(|t| hours(t.average.read, &read_bounds))
        .sum();
    let month = rates.orders_per_month;
    let on_demand = prices.map(|p| {
        let d = &p.dynamodb;
        let writes: f64 = targets.iter().map(|t| t.write_units_per_order).sum::<f64>() * month;
        let reads: f64 = targets.iter().map(|t| t.read_units_per_order).sum::<f64>() * month;
        writes / 1e6 * d.on_demand_write_per_million.usd
            + reads / 1e6 * d.on_demand_read_per_million.usd
    });
    let provisioned = prices.map(|p| {
        wcu_hours * p.dynamodb.provisioned_wcu_hour.usd
            + rcu_hours * p.dynamodb.provisioned_rcu_hour.usd
    });
    let cheaper = match (on_demand, provisioned) {
        (Some(o), Some(p)) => Some(if o <= p { "on_demand" } else { "provisioned" }),
        _ => None,
    };
    CapacityChoice {
        configured,
        on_demand_usd: on_demand,
        provisioned_usd: provisioned,
        cheaper,
        provisioned_wcu_hours: wcu_hours,
        provisioned_rcu_hours: rcu_hours,
        read_bounds,
        write_bounds,
    }
}

fn findings(
    cfg: &CountyConfig,
    load: &LoadConfig,
    rates: &Rates,
    targets: &[TargetPlan],
    shards: &ShardPlan,
    prices: &PriceFile,
) -> (Vec<String>, Vec<String>) {
    let mut risks = Vec::new();
    let mut warnings = Vec::new();
    for t in targets {
        let h = &t.hottest;
        for (what, units, percent) in [
            ("write", h.write_units_per_second, h.write_percent),
            ("read", h.read_units_per_second, h.read_percent),
        ] {
            let line = format!(
                "{}: partition `{}` takes {units:.1} {what} units/s at peak, {percent:.0}% of its limit",
                t.name, h.key
            );
            if percent > 100.0 {
                risks.push(line);
            } else if percent >= 100.0 * SAFE_SHARE {
                warnings.push(line);
            }
        }
        if let CapacityMode::Provisioned(p) = &cfg.capacity {
            for (what, units, max) in [
                ("write", t.peak.write, p.write.max),
                ("read", t.peak.read, p.read.max),
            ] {
                if units > f64::from(max) {
                    risks.push(format!(
                        "{}: {units:.1} {what} units/s at peak exceeds the provisioned maximum of {max} (capacity.{what}.max)",
                        t.name
                    ));
                }
            }
        }
    }
    if shards.recommended.is_some_and(|r| r > shards.current) {
        warnings.push(format!(
            "gsi_write_shards is {}; {} would keep every sharded partition under {:.0}% at peak",
            shards.current,
            shards.recommended.unwrap_or_default(),
            SAFE_SHARE * 100.0
        ));
    }
    if load.peak_hour_factor > rates.open_hours_per_day {
        warnings.push(format!(
            "peak_hour_factor {} puts more than a whole day's orders in one hour (open {:.1} hours a day)",
            load.peak_hour_factor, rates.open_hours_per_day
        ));
    }
    let requests = rates.peak_orders_per_second * f64::from(1 + load.reads_per_order);
    if requests > f64::from(cfg.api.throttle_rate) {
        warnings.push(format!(
            "the order API gets {requests:.1} requests/s at peak, over api.throttle_rate ({}): callers get 429s",
            cfg.api.throttle_rate
        ));
    }
    if prices.for_region(&cfg.region).is_none() {
        warnings.push(format!(
            "no prices are kept for region {} ({} covers {}): costs left out",
            cfg.region,
            prices::SHIPPED_PATH,
            prices.regions().join(", ")
        ));
    }
    (risks, warnings)
}

impl Plan {
    /// The table for people.
    pub fn render(&self) -> String {
        render::render(self)
    }
}

#[cfg(test)]
mod tests;

//! The plan as a table for people (`--json` prints the [`Plan`] itself).

use std::fmt::Write as _;

use super::{Cost, Plan, SAFE_SHARE};

pub(super) fn render(p: &Plan) -> String {
    let mut s = String::new();
    header(&mut s, p);
    targets(&mut s, p);
    shards(&mut s, p);
    capacity(&mut s, p);
    cost(&mut s, p);
    findings(&mut s, p);
    s
}

fn header(s: &mut String, p: &Plan) {
    let (l, r) = (&p.load, &p.rates);
    let _ = writeln!(s, "Capacity plan for {} ({})", p.county, p.region);
    let _ = writeln!(
        s,
        "  {} orders a day, {} days a week, {:.1} open hours a day: {:.0} orders a month",
        l.orders_per_day, r.open_days_per_week, r.open_hours_per_day, r.orders_per_month
    );
    let _ = writeln!(
        s,
        "  {:.3} orders/s on average, {:.3} at the Friday-night peak (x{} peak hour, x{} Friday night)",
        r.average_orders_per_second,
        r.peak_orders_per_second,
        l.peak_hour_factor,
        l.friday_night_multiplier
    );
    let _ = writeln!(
        s,
        "  one {}-line order with {} reads: {:.1} WCU, {:.1} RCU (the write-unit meter over {} simulated orders, {} stores)",
        l.lines_per_order,
        l.reads_per_order,
        p.write_units_per_order,
        p.read_units_per_order,
        p.sample_orders,
        l.stores
    );
    s.push('\n');
}

fn targets(s: &mut String, p: &Plan) {
    let _ = writeln!(
        s,
        "{:<22} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8}  {:<26} {:>8}",
        "TABLE OR INDEX",
        "WCU/ORDER",
        "RCU/ORDER",
        "AVG WCU",
        "AVG RCU",
        "PEAK WCU",
        "PEAK RCU",
        "HOTTEST PARTITION",
        "OF LIMIT"
    );
    for t in &p.targets {
        let h = &t.hottest;
        let _ = writeln!(
            s,
            "{:<22} {:>9.2} {:>9.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}  {:<26} {:>7.1}%",
            t.name,
            t.write_units_per_order,
            t.read_units_per_order,
            t.average.write,
            t.average.read,
            t.peak.write,
            t.peak.read,
            truncate(&h.key, 26),
            h.write_percent.max(h.read_percent)
        );
    }
    let _ = writeln!(
        s,
        "  per second unless marked per order; a partition serves 1,000 WCU and 3,000 RCU a second\n"
    );
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(n - 1).collect();
    t.push('…');
    t
}

fn shards(s: &mut String, p: &Plan) {
    let sh = &p.shards;
    let advice = match sh.recommended {
        Some(r) => format!(
            "{r} would keep every sharded partition under {:.0}%",
            SAFE_SHARE * 100.0
        ),
        None => format!(
            "not even 64 keeps every sharded partition under {:.0}%",
            SAFE_SHARE * 100.0
        ),
    };
    let _ = writeln!(
        s,
        "GSI write shards: {} (hottest county or status partition at peak: {:.1}% of its limit); {advice}\n",
        sh.current, sh.hottest_percent
    );
}

fn capacity(s: &mut String, p: &Plan) {
    let c = &p.capacity;
    let _ = writeln!(s, "Capacity mode: {} (county file)", c.configured);
    match (c.on_demand_usd, c.provisioned_usd, c.cheaper) {
        (Some(o), Some(pr), Some(cheaper)) => {
            let _ = writeln!(
                s,
                "  at this load: on-demand ${o:.2}/month, provisioned ${pr:.2}/month (writes {}-{} at {}%, reads {}-{} at {}%): {cheaper} is cheaper\n",
                c.write_bounds.min,
                c.write_bounds.max,
                c.write_bounds.target_utilization,
                c.read_bounds.min,
                c.read_bounds.max,
                c.read_bounds.target_utilization,
            );
        }
        _ => {
            let _ = writeln!(
                s,
                "  {:.0} WCU-hours and {:.0} RCU-hours a month if provisioned; no prices for the region\n",
                c.provisioned_wcu_hours, c.provisioned_rcu_hours
            );
        }
    }
}

fn cost(s: &mut String, p: &Plan) {
    let Some(c) = &p.cost else {
        return;
    };
    let _ = writeln!(
        s,
        "Monthly cost (list prices of {} as of {}, checked against AWS's pricing pages on {}, USD)",
        c.region, c.prices_as_of, c.prices_checked_on
    );
    for l in &c.lines {
        let mark = if l.unconfirmed_prices.is_empty() {
            ' '
        } else {
            '*'
        };
        let _ = writeln!(s, "  {:<12} {:>10.2}{mark} {}", l.service, l.usd, l.basis);
    }
    let _ = writeln!(s, "  {:<12} {:>10.2}", "total", c.total_usd);
    unconfirmed(s, c);
    s.push('\n');
}

/// The footnote to the lines marked `*`.
fn unconfirmed(s: &mut String, c: &Cost) {
    let keys: Vec<&str> = c
        .lines
        .iter()
        .flat_map(|l| l.unconfirmed_prices.iter().copied())
        .collect();
    if keys.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "  * uses a price that no AWS source confirmed for {} when checked on {}: {}\n    ({} records what was found)",
        c.region,
        c.prices_checked_on,
        keys.join(", "),
        super::prices::SHIPPED_PATH
    );
}

fn findings(s: &mut String, p: &Plan) {
    if p.risks.is_empty() {
        let _ = writeln!(s, "Risks at peak: none");
    } else {
        let _ = writeln!(s, "Risks at peak ({}):", p.risks.len());
        for r in &p.risks {
            let _ = writeln!(s, "  - {r}");
        }
    }
    for w in &p.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
}

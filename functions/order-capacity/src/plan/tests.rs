//! The planner's figures against hand-computed cases and against the
//! write-unit meter's own measurement of the same order.

use std::path::PathBuf;

use acme_stacks::config::{CountyConfig, Environments, SourceFile, parse_county};
use order_domain::store::{Index, Table};

use super::*;
use crate::flows::measure;

fn environments() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../environments")
}

/// A county over the real defaults: open 10:00-21:00 Monday to Saturday
/// (11 hours, 6 days), with `extra` appended to its file.
fn county(extra: &str) -> CountyConfig {
    let defaults = std::fs::read_to_string(environments().join("defaults.yaml")).expect("defaults");
    let text = format!(
        "id: pima-az\nname: Pima County\nstate: AZ\naccount: \"123456789012\"\nregion: us-west-2\ntimezone: America/Phoenix\n{extra}"
    );
    let defaults = SourceFile::new("environments/defaults.yaml", defaults);
    let file = SourceFile::new("environments/pima-az.yaml", text);
    parse_county(&defaults, &file).unwrap_or_else(|e| panic!("{e}"))
}

fn load(orders_per_day: u32, peak: f64, friday: f64, lines: u32, reads: u32) -> String {
    format!(
        "load:\n  orders_per_day: {orders_per_day}\n  peak_hour_factor: {peak}\n  friday_night_multiplier: {friday}\n  lines_per_order: {lines}\n  reads_per_order: {reads}\n  stores: 10\n  busiest_store_percent: 10\n"
    )
}

async fn plan_of(cfg: &CountyConfig) -> Plan {
    plan(cfg, &PriceFile::shipped().expect("prices"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn target(p: &Plan, t: Target) -> &TargetPlan {
    p.targets
        .iter()
        .find(|x| x.target == t)
        .unwrap_or_else(|| panic!("{t} in the plan"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[tokio::test]
async fn rates_are_the_day_spread_over_the_open_hours_then_scaled_to_the_peak() {
    let cfg = county(&load(7200, 2.5, 2.0, 3, 4));
    let p = plan_of(&cfg).await;
    let r = &p.rates;
    assert_eq!(r.open_days_per_week, 6);
    assert!(close(r.open_hours_per_day, 11.0));
    // 7,200 orders over 11 h x 3,600 s = 39,600 s.
    assert!(close(r.average_orders_per_second, 7200.0 / 39_600.0));
    // x 2.5 for the peak hour, x 2 for Friday night: 0.9090... orders/s.
    assert!(close(r.peak_orders_per_second, 7200.0 / 39_600.0 * 5.0));
    // 7,200 x 6 days x (730 / 168) weeks.
    assert!(close(r.orders_per_month, 7200.0 * 6.0 * 730.0 / 168.0));
}

#[tokio::test]
async fn an_order_costs_the_plan_what_it_costs_the_write_unit_meter() {
    let cfg = county(&load(7200, 2.5, 2.0, 3, 0));
    let p = plan_of(&cfg).await;
    let m = measure(3, Layout::deployed()).await.expect("measured");
    let life = m.lifecycle();
    // The write-unit report pins 43 WCU for a 3-line order.
    assert_eq!(life.write_units(), 43);
    assert!(close(p.write_units_per_order, 43.0));
    for t in &p.targets {
        let want = life.by_target().get(&t.target).map_or(0, |u| u.write_units);
        assert!(
            close(t.write_units_per_order, want as f64),
            "{}: plan {} meter {want}",
            t.name,
            t.write_units_per_order
        );
        // Without client reads, reads are the meter's condition checks.
        let reads = life.by_target().get(&t.target).map_or(0, |u| u.read_units);
        assert!(close(t.read_units_per_order, reads as f64), "{}", t.name);
    }
}

#[tokio::test]
async fn peak_units_and_the_hottest_store_follow_from_the_rates() {
    // 1,000,000 orders over 11 h: 25.25 orders/s; x 2.5 x 2 = 126.26/s.
    let cfg = county(&load(1_000_000, 2.5, 2.0, 3, 4));
    let p = plan_of(&cfg).await;
    let peak = 1_000_000.0 / 39_600.0 * 5.0;
    let inv = target(&p, Target::Table(Table::Inventory));
    // The meter: 18 WCU of stock and ledger writes per 3-line order.
    assert!(close(inv.write_units_per_order, 18.0));
    assert!(close(inv.peak.write, 18.0 * peak)); // 2,272.7 WCU/s
    // The busiest store takes 10% of the orders: 227.3 WCU/s, 22.7%.
    assert!(close(
        inv.hottest.write_units_per_second,
        18.0 * peak * 0.10
    ));
    assert!(close(inv.hottest.write_percent, 18.0 * peak * 0.10 / 10.0));
    assert_eq!(inv.hottest.key, "store-00000");
    // Client reads: 4 strongly consistent reads of a record under 4 KB, 1 RCU
    // each, per order id: spread over every order.
    let by_id = target(&p, Target::Table(Table::OrderById));
    assert!(by_id.read_units_per_order >= 4.0);
    // An order id takes one order's units at most: the floor.
    assert!(close(
        by_id.hottest.write_units_per_second,
        by_id.write_units_per_order
    ));
    assert!(p.risks.is_empty(), "{:?}", p.risks);
}

#[tokio::test]
async fn the_county_index_spreads_over_its_shards() {
    let cfg = county(&load(1_000_000, 2.5, 2.0, 3, 4));
    assert_eq!(cfg.gsi_write_shards, 4);
    let p = plan_of(&cfg).await;
    let by_county = target(&p, Target::Index(Index::CountyTime));
    let even = by_county.peak.write / 4.0;
    let hot = by_county.hottest.write_units_per_second;
    // FNV-1a of 1,000 sequential ids: within 15% of an even quarter.
    assert!(hot >= even && hot <= even * 1.15, "{hot} vs {even}");
    assert!(by_county.hottest.key.starts_with("pima-az#"));
}

#[tokio::test]
async fn one_shard_at_a_heavy_peak_is_a_risk_and_more_shards_are_recommended() {
    // 2,000,000 orders over 11 h = 50.5/s; x 4 x 2.5 = 505/s at the peak.
    let cfg = county(&format!(
        "gsi_write_shards: 1\napi:\n  throttle_rate: 10000\n  throttle_burst: 5000\n{}",
        load(2_000_000, 4.0, 2.5, 3, 1)
    ));
    let p = plan_of(&cfg).await;
    let by_county = target(&p, Target::Index(Index::CountyTime));
    // 3 WCU per order (1 on accept, 2 status changes) on one key: 1,515 WCU/s.
    let peak = 2_000_000.0 / 39_600.0 * 10.0;
    assert!(close(by_county.hottest.write_units_per_second, 3.0 * peak));
    assert!(
        p.risks
            .iter()
            .any(|r| r.contains("Orders/by-county-time") && r.contains("pima-az#0")),
        "{:?}",
        p.risks
    );
    // 1,515 / s < 500 for s = 4 (with the hash's unevenness, 4 or 8).
    let r = p.shards.recommended.expect("a shard count");
    assert!(r == 4 || r == 8, "{r}");
    assert!(
        p.warnings
            .iter()
            .any(|w| w.starts_with("gsi_write_shards is 1;"))
    );
}

#[tokio::test]
async fn a_provisioned_maximum_below_the_peak_is_a_risk() {
    let cfg = county(&format!(
        "capacity:\n  mode: provisioned\n  read: {{ min: 5, max: 100, target_utilization: 70 }}\n  write: {{ min: 5, max: 100, target_utilization: 70 }}\n{}",
        load(200_000, 2.5, 2.0, 3, 2)
    ));
    let p = plan_of(&cfg).await;
    // Inventory: 18 WCU x 25.25 orders/s = 454.5 WCU/s at peak > 100.
    assert!(
        p.risks
            .iter()
            .any(|r| r.starts_with("Inventory:") && r.contains("capacity.write.max")),
        "{:?}",
        p.risks
    );
}

#[tokio::test]
async fn the_bill_is_the_volumes_times_the_list_prices() {
    let cfg = county(&load(7200, 2.5, 2.0, 3, 4));
    let p = plan_of(&cfg).await;
    let cost = p.cost.as_ref().expect("us-west-2 is priced");
    let usd = |s: &str| cost.lines.iter().find(|l| l.service == s).expect(s).usd;
    let month = 7200.0 * 6.0 * 730.0 / 168.0; // 187,714.3 orders
    // 5 requests an order (1 POST, 4 GETs) at $3.50 a million.
    assert!(close(usd("API Gateway"), month * 5.0 * 3.50 / 1e6));
    // $5 the web ACL, 4 rules at $1, $0.60 a million requests.
    assert!(close(usd("WAF"), 5.0 + 4.0 + month * 5.0 * 0.60 / 1e6));
    // On-demand: 43 write request units at $0.625 a million, reads at $0.125.
    let reads = p.read_units_per_order;
    let dynamo = month * 43.0 * 0.625 / 1e6 + month * reads * 0.125 / 1e6;
    assert!(close(usd("DynamoDB"), dynamo));
    assert_eq!(p.capacity.on_demand_usd, Some(usd("DynamoDB")));
    let total: f64 = cost.lines.iter().map(|l| l.usd).sum();
    assert!(close(cost.total_usd, total));
    assert_eq!(cost.prices_as_of, "2025-06-01");
    assert_eq!(cost.prices_checked_on, "2026-12-06");
}

#[tokio::test]
async fn lambda_sqs_firehose_and_s3_are_their_volumes_times_the_list_prices() {
    let cfg = county(&load(7200, 2.5, 2.0, 3, 4));
    let p = plan_of(&cfg).await;
    let cost = p.cost.as_ref().expect("us-west-2 is priced");
    let usd = |s: &str| cost.lines.iter().find(|l| l.service == s).expect(s).usd;
    let m = 7200.0 * 6.0 * 730.0 / 168.0; // 187,714.29 orders a month
    // Three OrderById stream records an order (the order event count of the
    // Firehose line): accepted, then two status changes.
    let events = 3.0 * m; // 563,142.86
    assert!(
        cost.lines
            .iter()
            .any(|l| l.basis == "563143 order events, billed at 5 KB each")
    );
    // Lambda, arm64 (the defaults): 5 API calls at 50 ms and 512 MB, 1 worker
    // call at 300 ms and 512 MB, 3 publisher calls at 40 ms and 256 MB:
    // 0.125 + 0.15 + 0.03 = 0.305 GB-s an order = 57,252.86 GB-s x
    // $0.0000133334 = $0.7634; 9 invocations an order = 1,689,428.57 x $0.20
    // a million = $0.3379. $1.1013 in all.
    let gb_s = m * (5.0 * 0.05 * 0.5 + 0.3 * 0.5 + 3.0 * 0.04 * 0.25);
    assert!(close(
        usd("Lambda"),
        9.0 * m * 0.20 / 1e6 + gb_s * 0.0000133334
    ));
    // SQS: 3 requests an order (563,142.86) and 5 pollers x 730 h x 3,600 s
    // / 20 s = 657,000 long polls: 1,220,142.86 x $0.40 a million = $0.4881.
    assert!(close(usd("SQS"), (3.0 * m + 657_000.0) * 0.40 / 1e6));
    // Firehose: each event billed as 5 KB: 2.6853 GB x $0.029 = $0.0779.
    let gib = 1024.0 * 1024.0 * 1024.0;
    assert!(close(usd("Firehose"), events * 5120.0 / gib * 0.029));
    // S3: 1 KB an event, 0.5371 GB x $0.023 = $0.0124; 2 x 730 x 12 = 17,520
    // objects x $0.005 a thousand = $0.0876. $0.0999 in all.
    assert!(close(
        usd("S3"),
        events * 1024.0 / gib * 0.023 + 17.52 * 0.005
    ));
}

/// The shipped prices with every `confirmed_in` replaced by `to`.
fn prices_confirmed_in(to: &str) -> PriceFile {
    let text: String = prices::SHIPPED
        .lines()
        .map(|l| match l.split_once("confirmed_in:") {
            Some((indent, _)) => format!("{indent}confirmed_in: {to}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    PriceFile::parse("p.yaml", &text).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_line_names_the_prices_it_uses_that_no_source_confirmed_for_the_region() {
    let mut cfg = county(&load(7200, 2.5, 2.0, 3, 4));
    let unconfirmed = |p: &Plan| -> Vec<(&'static str, Vec<&'static str>)> {
        let cost = p.cost.as_ref().expect("priced");
        cost.lines
            .iter()
            .map(|l| (l.service, l.unconfirmed_prices.clone()))
            .collect()
    };
    // Nothing confirmed: every line names exactly the prices it uses, and
    // each is a key of the price file.
    let none = prices_confirmed_in("[]");
    let p = plan(&cfg, &none).await.expect("plan");
    let keys = none.tables[0].entries().map(|(k, _)| k);
    let want = vec![
        (
            "DynamoDB",
            vec![
                "dynamodb.on_demand_write_per_million",
                "dynamodb.on_demand_read_per_million",
            ],
        ),
        (
            "Lambda",
            vec!["lambda.requests_per_million", "lambda.gb_second_arm64"],
        ),
        ("SQS", vec!["sqs.requests_per_million"]),
        ("API Gateway", vec!["api_gateway.rest_requests_per_million"]),
        (
            "WAF",
            vec![
                "waf.web_acl_month",
                "waf.rule_month",
                "waf.requests_per_million",
            ],
        ),
        ("Firehose", vec!["firehose.ingested_gb"]),
        ("S3", vec!["s3.standard_gb_month", "s3.put_per_thousand"]),
        ("CloudTrail", vec!["cloudtrail.data_events_per_100k"]),
    ];
    assert_eq!(unconfirmed(&p), want);
    assert!(want.iter().flat_map(|(_, k)| k).all(|k| keys.contains(k)));
    assert!(
        p.render()
            .contains("  * uses a price that no AWS source confirmed for us-west-2")
    );

    // Everything confirmed everywhere: no line is marked, no footnote.
    let all = prices_confirmed_in("[us-east-1, us-east-2, us-west-2]");
    let p = plan(&cfg, &all).await.expect("plan");
    assert!(unconfirmed(&p).iter().all(|(_, k)| k.is_empty()));
    assert!(!p.render().contains('*'));

    // The shipped file: in us-east-1 AWS sources confirm on-demand DynamoDB,
    // Lambda and API Gateway; WAF's and CloudTrail's prices hold everywhere.
    cfg.region = "us-east-1".to_owned();
    let confirmed = |p: &Plan| -> Vec<&'static str> {
        unconfirmed(p)
            .into_iter()
            .filter(|(_, k)| k.is_empty())
            .map(|(s, _)| s)
            .collect()
    };
    let p = plan_of(&cfg).await;
    assert_eq!(
        confirmed(&p),
        ["DynamoDB", "Lambda", "API Gateway", "WAF", "CloudTrail"]
    );
    // In us-east-2 AWS's Ohio cost table confirms S3 instead.
    cfg.region = "us-east-2".to_owned();
    let p = plan_of(&cfg).await;
    assert_eq!(confirmed(&p), ["WAF", "S3", "CloudTrail"]);
}

#[tokio::test]
async fn provisioned_hours_follow_the_bounds() {
    let cfg = county(&load(7200, 2.5, 2.0, 3, 4));
    let p = plan_of(&cfg).await;
    // Open 6 days x 11 h x 730/168 weeks = 286.79 h a month; closed 443.21 h.
    let open = 6.0 * 11.0 * 730.0 / 168.0;
    let closed = 730.0 - open;
    // Inventory: 18 WCU x 0.1818 orders/s = 3.27 WCU/s on average; at a
    // 70% target auto-scaling holds ceil(3.27 / 0.7) = 5 WCU while open,
    // the minimum (1, assumed for an on-demand county) while closed.
    let inv = target(&p, Target::Table(Table::Inventory));
    assert_eq!(scaled(inv.average.write, &ASSUMED_BOUNDS), 5.0);
    let want: f64 = p
        .targets
        .iter()
        .map(|t| scaled(t.average.write, &ASSUMED_BOUNDS) * open + closed)
        .sum();
    assert!(close(p.capacity.provisioned_wcu_hours, want));
    assert_eq!(scaled(35.0, &ASSUMED_BOUNDS), 50.0); // 35 / 0.7
    assert_eq!(scaled(35.1, &ASSUMED_BOUNDS), 51.0);
    assert_eq!(scaled(0.0, &ASSUMED_BOUNDS), 1.0);
}

#[tokio::test]
async fn a_county_without_load_or_prices_is_told_so() {
    let cfg = county("");
    let e = plan(&cfg, &PriceFile::shipped().expect("prices"))
        .await
        .expect_err("no load");
    assert!(
        e.to_string()
            .starts_with("county `pima-az` has no `load:` section"),
        "{e}"
    );

    let mut cfg = county(&load(7200, 2.5, 2.0, 3, 4));
    cfg.region = "eu-west-1".to_owned();
    let p = plan_of(&cfg).await;
    assert!(p.cost.is_none());
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("no prices are kept for region eu-west-1"))
    );
}

#[tokio::test]
async fn the_sample_counties_plan_without_risk_and_travis_renders_as_pinned() {
    let envs = Environments::open(&environments()).expect("environments");
    for id in ["fulton-ga", "king-wa", "travis-tx"] {
        let cfg = envs.load(id).expect("loads");
        let p = plan_of(&cfg).await;
        assert!(p.risks.is_empty(), "{id}: {:?}", p.risks);
        assert!(p.cost.is_some(), "{id}");
    }
    let travis = plan_of(&envs.load("travis-tx").expect("loads")).await;
    insta::assert_snapshot!("travis_tx_plan", travis.render());
}

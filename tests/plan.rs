//! `acme-infra plan` through the binary: the sample counties plan without
//! risk, `--fail-on-risk` exits 13 for a county whose peak overruns a
//! partition, and a county without `load:` is told what to add (exit 7).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn plan(envs: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_acme-infra"))
        .arg("plan")
        .args(args)
        .arg("--environments")
        .arg(envs)
        .output()
        .expect("acme-infra runs")
}

fn said(o: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The shipped environments with travis-tx's `load:` replaced by `load`
/// (none when empty) and `extra` appended.
fn environments(dir: &Path, load: &str, extra: &str) -> PathBuf {
    let envs = dir.join("environments");
    std::fs::create_dir_all(&envs).expect("mkdir");
    for entry in std::fs::read_dir(root().join("environments")).expect("read") {
        let p = entry.expect("entry").path();
        let mut body = std::fs::read_to_string(&p).expect("read");
        if p.file_stem().is_some_and(|s| s == "travis-tx") {
            let start = body.find("load:\n").expect("travis-tx has load:");
            let end = start + body[start..].find("\n\n").expect("end of load:");
            body.replace_range(start..end, load);
            body.push_str(extra);
        }
        std::fs::write(envs.join(p.file_name().expect("name")), body).expect("write");
    }
    envs
}

#[test]
fn the_sample_county_plans_as_json_with_its_figures() {
    let o = plan(
        &root().join("environments"),
        &["--county", "travis-tx", "--json", "--fail-on-risk"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", said(&o));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(p["county"], "travis-tx");
    // The write-unit meter's 4-line order: 49 WCU over its life.
    assert_eq!(p["write_units_per_order"], 49.0);
    assert_eq!(p["targets"].as_array().expect("targets").len(), 7);
    assert_eq!(p["risks"].as_array().expect("risks").len(), 0);
    assert_eq!(p["cost"]["prices_as_of"], "2025-06-01");
    assert_eq!(p["cost"]["prices_checked_on"], "2026-12-06");
    // us-east-2: only CloudTrail's price is confirmed there by a stored AWS
    // page; each other line names the prices it uses that are not.
    let lines = p["cost"]["lines"].as_array().expect("cost lines");
    let cloudtrail = lines.iter().find(|l| l["service"] == "CloudTrail");
    assert_eq!(
        cloudtrail.expect("CloudTrail line")["unconfirmed_prices"],
        serde_json::json!([])
    );
    let sqs = lines.iter().find(|l| l["service"] == "SQS");
    assert_eq!(
        sqs.expect("SQS line")["unconfirmed_prices"],
        serde_json::json!(["sqs.requests_per_million"])
    );
}

#[test]
fn a_peak_over_a_partition_fails_with_fail_on_risk() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 2,000,000 orders a day at x4 x2.5 on one shard: the county index's one
    // partition gets about 1,400 WCU a second.
    let load = "load:\n  orders_per_day: 2000000\n  peak_hour_factor: 4\n  friday_night_multiplier: 2.5\n  lines_per_order: 3\n  reads_per_order: 1\n  stores: 70\n  busiest_store_percent: 4.5";
    let envs = environments(dir.path(), load, "gsi_write_shards: 1\n");
    let o = plan(&envs, &["--county", "travis-tx"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "without --fail-on-risk: {}",
        said(&o)
    );
    let o = plan(&envs, &["--county", "travis-tx", "--fail-on-risk"]);
    assert_eq!(o.status.code(), Some(13), "{}", said(&o));
    let out = said(&o);
    assert!(
        out.contains("Orders/by-county-time: partition `travis-tx#0`"),
        "{out}"
    );
    assert!(
        out.contains("exceeds the provisioned maximum of 400 (capacity.write.max)"),
        "{out}"
    );
}

#[test]
fn a_county_without_load_is_told_what_to_add() {
    let dir = tempfile::tempdir().expect("tempdir");
    let envs = environments(dir.path(), "", "");
    let o = plan(&envs, &["--county", "travis-tx"]);
    assert_eq!(o.status.code(), Some(7), "{}", said(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("county `travis-tx` has no `load:` section") && err.contains("docs/plan.md"),
        "{err}"
    );
}

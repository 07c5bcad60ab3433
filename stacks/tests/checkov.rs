//! checkov over every sample county's template, plus one county with every
//! optional feature switched on: zero failed checks, zero parsing errors, and
//! every skipped check justified by a comment in the template.

mod common;

use std::path::Path;

use acme_stacks::assembly;
use acme_stacks::synth::{Format, synthesize};
use serde_json::Value;

/// checkov's exit codes: 0 = every check passed, 1 = some check failed.
/// Anything else means checkov itself did not run properly.
const CHECKOV_PASSED: i32 = 0;
const CHECKOV_FAILED_CHECKS: i32 = 1;

#[test]
fn checkov_passes_every_sample_county_with_justified_skips_only() {
    let root = common::root();
    let checkov = common::tool("ACME_CHECKOV", &[root.join(".venv/bin/checkov")], "checkov");
    let dir = tempfile::tempdir().expect("tempdir");
    let counties = common::sample_counties();
    let stacks: Vec<_> = counties
        .iter()
        .map(|c| synthesize(c, Format::Json).expect("synth"))
        .collect();
    assembly::write(dir.path(), &stacks).expect("write");
    // Optional resources no sample county enables are scanned too.
    let mut all_on = common::with_card_api(counties[0].clone());
    all_on.analytics.redshift_serverless = true;
    let extra = synthesize(&all_on, Format::Json).expect("synth");
    std::fs::write(
        dir.path()
            .join(format!("{}-all-features.template.json", extra.stack_name)),
        &extra.body,
    )
    .expect("write");
    // And the per-account bootstrap stack.
    let bootstrap = acme_stacks::bootstrap::template().expect("bootstrap");
    std::fs::write(
        dir.path().join("acme-bootstrap.template.json"),
        bootstrap.to_json(),
    )
    .expect("write");

    // Not `--quiet`: it drops passed and skipped checks from the report, and
    // the skips are what this test audits.
    let out = std::process::Command::new(&checkov)
        .args([
            "--skip-download",
            "--framework",
            "cloudformation",
            "-o",
            "json",
            "-d",
        ])
        .arg(dir.path())
        .output()
        .expect("checkov runs");
    let code = out.status.code();
    assert!(
        matches!(code, Some(CHECKOV_PASSED | CHECKOV_FAILED_CHECKS)),
        "checkov did not run (exit {code:?}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov's output is not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    // One framework gives one report object; several give a list of them.
    let reports: Vec<&Value> = match &report {
        Value::Array(a) => a.iter().collect(),
        single => vec![single],
    };

    let mut failed = Vec::new();
    let mut unjustified = Vec::new();
    let mut parsing_errors = Vec::new();
    let mut resources = 0;
    let mut passed = 0;
    for r in &reports {
        let results = &r["results"];
        for f in list(&results["failed_checks"]) {
            failed.push(describe(f, dir.path()));
        }
        for s in list(&results["skipped_checks"]) {
            let comment = s["check_result"]["suppress_comment"]
                .as_str()
                .unwrap_or_default();
            if comment.trim().is_empty() {
                unjustified.push(describe(s, dir.path()));
            }
        }
        for p in list(&results["parsing_errors"]) {
            parsing_errors.push(p.to_string());
        }
        resources += r["summary"]["resource_count"].as_u64().unwrap_or(0);
        passed += r["summary"]["passed"].as_u64().unwrap_or(0);
    }
    assert!(
        failed.is_empty(),
        "checkov: {} failed checks:\n  {}",
        failed.len(),
        failed.join("\n  ")
    );
    assert!(
        parsing_errors.is_empty(),
        "checkov could not parse: {parsing_errors:?}"
    );
    assert!(
        unjustified.is_empty(),
        "skipped checks without a comment (add one to the resource's Metadata.checkov.skip):\n  {}",
        unjustified.join("\n  ")
    );
    // A scan that found nothing would pass all of the above: checkov must
    // have read every resource of every template.
    let expected: usize = stacks.iter().map(|s| s.resource_count).sum::<usize>()
        + extra.resource_count
        + bootstrap.resources().len();
    assert!(
        resources == expected as u64 && passed > 0,
        "checkov scanned {resources} of {expected} resources and passed {passed} checks"
    );
    assert_eq!(code, Some(CHECKOV_PASSED));
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// `CKV_AWS_18 AWS::S3::Bucket.AnalyticsBucket in acme-x.template.json: <name>`.
fn describe(check: &Value, dir: &Path) -> String {
    let file = check["file_path"].as_str().unwrap_or_default();
    let file = file
        .strip_prefix(dir.to_string_lossy().as_ref())
        .unwrap_or(file)
        .trim_start_matches('/');
    format!(
        "{} {} in {}: {}",
        check["check_id"].as_str().unwrap_or("?"),
        check["resource"].as_str().unwrap_or("?"),
        file,
        check["check_name"].as_str().unwrap_or_default()
    )
}

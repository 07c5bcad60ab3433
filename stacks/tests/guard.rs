//! cfn-guard with the AWS Guard Rules Registry's rules (vendored under
//! `tests/guard/registry/`, Apache-2.0, see its README) over every sample
//! county's template, one county with every optional feature on, and the
//! bootstrap stack: no rule fails, and every rule a resource suppresses
//! (`Metadata.guard.SuppressedRules`) has a written reason next to it
//! (`Metadata.guard.Reasons`). What each suppression is for: docs/guard.md.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use acme_stacks::assembly;
use acme_stacks::synth::{Format, synthesize};
use serde_json::Value;

/// cfn-guard's exit codes: 0 = every rule passed or was skipped, 19 = some
/// rule failed. Anything else means it did not run properly.
const GUARD_PASSED: i32 = 0;
const GUARD_FAILED_RULES: i32 = 19;

fn write_templates(dir: &Path) -> usize {
    let counties = common::sample_counties();
    let stacks: Vec<_> = counties
        .iter()
        .map(|c| synthesize(c, Format::Json).expect("synth"))
        .collect();
    assembly::write(dir, &stacks).expect("write");
    // The assembly's manifest and tree files are not templates.
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !name.ends_with(".template.json") {
            if path.is_dir() {
                std::fs::remove_dir_all(&path).expect("remove");
            } else {
                std::fs::remove_file(&path).expect("remove");
            }
        }
    }
    let mut all_on = counties[0].clone();
    all_on.analytics.redshift_serverless = true;
    let extra = synthesize(&all_on, Format::Json).expect("synth");
    std::fs::write(
        dir.join(format!("{}-all-features.template.json", extra.stack_name)),
        &extra.body,
    )
    .expect("write");
    let bootstrap = acme_stacks::bootstrap::template().expect("bootstrap");
    std::fs::write(
        dir.join("acme-bootstrap.template.json"),
        bootstrap.to_json(),
    )
    .expect("write");
    stacks.len() + 2
}

/// `RULE on Resource in file`, once per rule and resource (a rule over
/// several properties fails once per clause).
fn failures(report: &Value) -> Vec<String> {
    let file = report["name"].as_str().unwrap_or_default();
    let file = Path::new(file)
        .file_name()
        .map_or(file.into(), |n| n.to_string_lossy());
    let mut out = std::collections::BTreeSet::new();
    for rule in list(&report["not_compliant"]) {
        let name = rule["Rule"]["name"].as_str().unwrap_or("?");
        let mut ids = std::collections::BTreeSet::new();
        resource_ids(&rule["Rule"]["checks"], &mut ids);
        if ids.is_empty() {
            ids.insert("(whole template)".to_owned());
        }
        for id in ids {
            out.insert(format!("{name} on {id} in {file}"));
        }
    }
    out.into_iter().collect()
}

/// Logical ids named by `/Resources/<id>/...` paths anywhere in `v`.
fn resource_ids(v: &Value, ids: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::String(s) => {
            if let Some(rest) = s.strip_prefix("/Resources/") {
                ids.insert(rest.split('/').next().unwrap_or(rest).to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|i| resource_ids(i, ids)),
        Value::Object(map) => map.values().for_each(|i| resource_ids(i, ids)),
        _ => {}
    }
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

#[test]
fn guard_rules_registry_passes_every_sample_county_with_reasoned_suppressions_only() {
    let root = common::root();
    let guard = common::tool(
        "ACME_CFN_GUARD",
        &[root.join("tools/guard/cfn-guard")],
        "cfn-guard",
    );
    let rules = root.join("stacks/tests/guard/registry/rules");
    let dir = tempfile::tempdir().expect("tempdir");
    let templates = write_templates(dir.path());

    let out = std::process::Command::new(&guard)
        .args(["validate", "--structured", "-o", "json", "-S", "none", "-r"])
        .arg(&rules)
        .arg("-d")
        .arg(dir.path())
        .output()
        .expect("cfn-guard runs");
    let code = out.status.code();
    assert!(
        matches!(code, Some(GUARD_PASSED | GUARD_FAILED_RULES)),
        "cfn-guard did not run (exit {code:?}):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "cfn-guard's output is not a JSON list ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let failed: Vec<String> = reports.iter().flat_map(failures).collect();
    assert!(
        failed.is_empty(),
        "cfn-guard: {} failed clauses (fix the generator, or suppress on the resource with a reason and a line in docs/guard.md):\n  {}",
        failed.len(),
        failed.join("\n  ")
    );
    // Every template was read and rules were applied to it: an empty run
    // would pass the above.
    let dir_name = dir.path().to_string_lossy().into_owned();
    let seen: Vec<&str> = reports.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(seen.len(), templates, "{seen:?} under {dir_name}");
    assert!(rule_files(&rules) > 50, "the vendored rules are missing");
    for r in &reports {
        let compliant = list(&r["compliant"]).len();
        assert!(
            compliant > 20,
            "only {compliant} rules passed on {}",
            r["name"]
        );
    }
    assert_eq!(code, Some(GUARD_PASSED));

    assert_suppressions_have_reasons(dir.path());
}

fn rule_files(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("rules dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            n += rule_files(&path);
        } else if path.extension().is_some_and(|e| e == "guard") {
            n += 1;
        }
    }
    n
}

/// Each suppressed rule names its reason in `Metadata.guard.Reasons`.
fn assert_suppressions_have_reasons(dir: &Path) {
    let mut unreasoned = Vec::new();
    for entry in std::fs::read_dir(dir).expect("templates") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("template");
        let t: Value = serde_json::from_str(&text).expect("json");
        let resources = t["Resources"].as_object().cloned().unwrap_or_default();
        for (id, r) in resources {
            let guard = &r["Metadata"]["guard"];
            let reasons: BTreeMap<String, Value> = guard["Reasons"]
                .as_object()
                .map(|o| o.clone().into_iter().collect())
                .unwrap_or_default();
            for rule in list(&guard["SuppressedRules"]) {
                let rule = rule.as_str().unwrap_or_default();
                let reason = reasons.get(rule).and_then(Value::as_str).unwrap_or("");
                if reason.trim().is_empty() {
                    unreasoned.push(format!("{rule} on {id} in {}", path.display()));
                }
            }
        }
    }
    assert!(
        unreasoned.is_empty(),
        "suppressed without a reason in Metadata.guard.Reasons:\n  {}",
        unreasoned.join("\n  ")
    );
}

//! Golden tests for configuration error output.
//!
//! Each directory under `tests/fixtures/config/` is one case:
//!
//! * `county.yaml`: the county file, shown in messages as
//!   `environments/travis-tx.yaml`, or as the path in `display-path.txt`;
//! * `defaults.yaml` (optional): replaces the real `environments/defaults.yaml`;
//! * `load-id.txt` (instead of `county.yaml`): loads that id through
//!   `Environments` over the real `environments/` directory;
//! * `expected.txt`: the exact text `ConfigErrors` displays.
//!
//! Run with `UPDATE_GOLDENS=1` to rewrite the `expected.txt` files, then
//! review the diff.

use std::fs;
use std::path::{Path, PathBuf};

use acme_stacks::config::{ConfigErrors, Environments, SourceFile, parse_county};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn real_environments() -> PathBuf {
    manifest_dir().join("../environments")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn optional(path: &Path) -> Option<String> {
    path.exists().then(|| read(path))
}

/// Runs one case and returns what the user would see.
fn run_case(dir: &Path) -> String {
    if let Some(id) = optional(&dir.join("load-id.txt")) {
        let envs = Environments::open(&real_environments()).expect("real environments open");
        return match envs.load(id.trim()) {
            Ok(_) => "ok\n".to_owned(),
            // Show the directory the way a user in the repository root sees it.
            Err(e) => render(&e).replace(&envs.dir.display().to_string(), "environments"),
        };
    }
    let defaults_text = optional(&dir.join("defaults.yaml"))
        .unwrap_or_else(|| read(&real_environments().join("defaults.yaml")));
    let county_path = optional(&dir.join("display-path.txt")).map_or_else(
        || "environments/travis-tx.yaml".to_owned(),
        |p| p.trim().to_owned(),
    );
    let defaults = SourceFile::new("environments/defaults.yaml", defaults_text);
    let county = SourceFile::new(county_path, read(&dir.join("county.yaml")));
    match parse_county(&defaults, &county) {
        Ok(_) => "ok\n".to_owned(),
        Err(e) => render(&e),
    }
}

fn render(e: &ConfigErrors) -> String {
    format!("{e}\n")
}

#[test]
fn golden_error_output() {
    let root = manifest_dir().join("tests/fixtures/config");
    let update = std::env::var_os("UPDATE_GOLDENS").is_some();
    let mut cases: Vec<PathBuf> = fs::read_dir(&root)
        .expect("fixtures dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 13,
        "expected the full set of cases, found {}",
        cases.len()
    );

    let mut failures = Vec::new();
    for case in &cases {
        let actual = run_case(case);
        let expected_path = case.join("expected.txt");
        if update {
            fs::write(&expected_path, &actual).expect("write golden");
            continue;
        }
        let expected = optional(&expected_path).unwrap_or_default();
        if actual != expected {
            failures.push(format!(
                "--- {} (expected)\n{expected}\n+++ actual\n{actual}",
                case.file_name().unwrap_or_default().to_string_lossy()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden(s) differ; rerun with UPDATE_GOLDENS=1 and review the diff:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

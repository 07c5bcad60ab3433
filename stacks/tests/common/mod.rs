//! Helpers shared by the generator's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use acme_stacks::config::{CountyConfig, Environments};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("stacks/ has a parent")
        .to_owned()
}

/// Every sample county in `environments/`, validated.
pub fn sample_counties() -> Vec<CountyConfig> {
    let envs = Environments::open(&root().join("environments")).unwrap_or_else(|e| panic!("{e}"));
    let all = envs.load_all().unwrap_or_else(|e| panic!("{e}"));
    assert!(all.len() >= 3, "at least three sample counties ship");
    all
}

/// A tool the test command installs (`scripts/test.sh`): from the named
/// environment variable, else `.venv/bin` / `tools/node`, else PATH. Fails the
/// test with instructions when missing: a missing tool is never a skipped check.
pub fn tool(env_var: &str, candidates: &[PathBuf], name: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env_var) {
        return PathBuf::from(p);
    }
    for c in candidates {
        if c.is_file() {
            return c.clone();
        }
    }
    if let Some(p) = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
    {
        return p;
    }
    panic!(
        "{name} not found: run the tests with `make test` (it installs {name}), or set {env_var}"
    );
}

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

/// `cfg` charging cards through the card API, with every setting given
/// (the one fixture county the checkers read besides the samples).
pub fn with_card_api(mut cfg: CountyConfig) -> CountyConfig {
    use acme_stacks::config::{CardApiConfig, PaymentConfig, PaymentProvider};
    let place = format!("{}:{}", cfg.region, cfg.account);
    cfg.payment = Some(PaymentConfig {
        provider: PaymentProvider::CardApi,
        card_api: Some(CardApiConfig {
            base_url: "https://api.cards.example.com".to_owned(),
            api_key_secret_arn: format!(
                "arn:aws:secretsmanager:{place}:secret:acme/{}/card-api-key-AbC123",
                cfg.id
            ),
            api_key_kms_key_arn: Some(format!(
                "arn:aws:kms:{place}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            )),
            connect_timeout_ms: 1_000,
            request_timeout_ms: 4_000,
            max_attempts: 4,
            call_budget_ms: 8_000,
        }),
    });
    // As the county file must: 3 × (8 s + 2 s) fits the worker's 30 s.
    cfg.queue.batch_size = 3;
    cfg
}

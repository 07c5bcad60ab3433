//! One set of credentials over a fleet that spans accounts, through the
//! `acme-infra` binary against the local AWS emulator (moto, started by
//! `make test`): each sample county names a role in its account to assume,
//! and a county that names none, in another account, is skipped by
//! whole-fleet runs and refused when named.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL is not set: run the tests through `make test` or `scripts/with-moto.sh cargo test`, which start the emulator")
    })
}

/// The shipped environments, with `without_access` stripped of its `access:`.
fn environments(dir: &Path, without_access: &str) {
    let envs = dir.join("environments");
    std::fs::create_dir_all(&envs).expect("mkdir");
    for entry in std::fs::read_dir(root().join("environments")).expect("read") {
        let p = entry.expect("entry").path();
        let mut body = std::fs::read_to_string(&p).expect("read county");
        if p.file_stem().is_some_and(|s| s == without_access) {
            let at = body
                .find("\naccess:\n")
                .expect("the sample names its access");
            body.truncate(at + 1);
        }
        std::fs::write(envs.join(p.file_name().expect("name")), body).expect("write");
    }
}

/// Runs the binary in `dir` with moto's default credentials (its account
/// 123456789012, which is none of the counties').
fn acme(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_acme-infra"))
        .args(args)
        .current_dir(dir)
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("acme-infra runs")
}

fn said(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn one_job_reaches_every_county_that_names_its_way_in_and_skips_one_that_does_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    environments(dir.path(), "king-wa");

    // diff of the whole fleet: travis-tx and fulton-ga are reached through
    // their roles (nothing is deployed there yet); king-wa is not compared.
    let o = acme(dir.path(), &["diff"]);
    let text = said(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains("acme-travis-tx") && text.contains("not deployed"),
        "{text}"
    );
    assert!(
        text.contains("not compared: account 204918273645 cannot be reached: these credentials are for account 123456789012"),
        "{text}"
    );
    assert!(
        text.contains("2 differ, 0 unchanged, 1 not reachable from these credentials (not compared: acme-king-wa)"),
        "{text}"
    );

    // As a CI gate: the reachable counties differ, so exit 1, not 6.
    let o = acme(dir.path(), &["diff", "--fail"]);
    assert_eq!(o.status.code(), Some(1), "{}", said(&o));

    // Named, king-wa is refused with the credentials' exit code.
    let o = acme(dir.path(), &["diff", "--county", "king-wa"]);
    let text = said(&o);
    assert_eq!(o.status.code(), Some(6), "{text}");
    assert!(text.contains("access:"), "{text}");

    // status sees the two accounts it reaches and never calls king-wa absent.
    let o = acme(dir.path(), &["status", "--json"]);
    let text = said(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    let rows: serde_json::Value = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| {
            v.pointer("/data/stacks")
                .cloned()
                .or_else(|| v.get("stacks").cloned())
        })
        .unwrap_or_else(|| panic!("no rows: {text}"));
    let status = |county: &str| {
        rows.as_array()
            .and_then(|r| r.iter().find(|r| r["county"] == county))
            .map(|r| r["status"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|| panic!("{county}: {text}"))
    };
    assert_eq!(status("travis-tx"), "NOT_DEPLOYED");
    assert_eq!(status("fulton-ga"), "NOT_DEPLOYED");
    assert_eq!(status("king-wa"), "NOT_VISIBLE");

    // bootstrap --county reaches the county's account the same way.
    let o = acme(dir.path(), &["bootstrap", "--county", "fulton-ga"]);
    let text = said(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains("acme-assets-031415926535-us-east-1"),
        "{text}"
    );
    let o = acme(dir.path(), &["bootstrap", "--county", "king-wa"]);
    assert_eq!(o.status.code(), Some(6), "{}", said(&o));
}

/// Credentials of the role `acme-deploy` in a fresh account, as a pipeline job
/// that came in through OIDC holds them: `(account, key, secret, token)`.
async fn deploy_role_in_fresh_account() -> (String, String, String, String) {
    let account = common::fresh_account(0);
    let c = common::assume_role(&account).await;
    (account, c.key, c.secret, c.token)
}

/// A sample county moved to `account`, with `access` in place of its own.
fn moved(dir: &Path, sample: &str, id: &str, account: &str, access: &str) {
    let body = std::fs::read_to_string(root().join(format!("environments/{sample}.yaml")))
        .expect("read county");
    let at = body
        .find("\naccess:\n")
        .expect("the sample names its access");
    let (from, _) = body
        .split_once("account: \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .expect("the sample's account");
    let body = body[..=at]
        .replace(from, account)
        .replace(&format!("id: {sample}"), &format!("id: {id}"));
    std::fs::write(
        dir.join(format!("environments/{id}.yaml")),
        format!("{body}{access}"),
    )
    .expect("write county");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_in_a_county_account_uses_its_own_credentials_there_and_each_way_in_elsewhere() {
    let (home, key, secret, token) = deploy_role_in_fresh_account().await;
    let (away, p_key, p_secret, p_token) = deploy_role_in_fresh_account().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir_all(d.join("environments")).expect("mkdir");
    for f in ["defaults.yaml", "travis-tx.yaml"] {
        std::fs::copy(
            root().join("environments").join(f),
            d.join("environments").join(f),
        )
        .expect("copy");
    }
    // fulton-ga in the job's own account names a profile this machine does
    // not have: it must not be needed. king-wa is reached through a profile
    // although the job's keys are in its environment; travis-tx by assuming
    // its role; cobb-ga, in another account with no way in, is not reached.
    moved(
        d,
        "fulton-ga",
        "fulton-ga",
        &home,
        "access:\n  profile: acme-nobody-has-this\n",
    );
    moved(
        d,
        "king-wa",
        "king-wa",
        &away,
        "access:\n  profile: king-wa-deploy\n",
    );
    moved(d, "fulton-ga", "cobb-ga", "999999999999", "");
    let config = d.join("aws-config");
    std::fs::write(
        &config,
        format!(
            "[profile king-wa-deploy]\naws_access_key_id = {p_key}\naws_secret_access_key = {p_secret}\naws_session_token = {p_token}\n"
        ),
    )
    .expect("aws config");
    let job = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_acme-infra"))
            .args(args)
            .current_dir(d)
            .env("AWS_ENDPOINT_URL", endpoint())
            .env("AWS_ACCESS_KEY_ID", &key)
            .env("AWS_SECRET_ACCESS_KEY", &secret)
            .env("AWS_SESSION_TOKEN", &token)
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", d.join("no-credentials-file"))
            .env_remove("AWS_PROFILE")
            .env("AWS_REGION", "us-east-1")
            .output()
            .expect("acme-infra runs")
    };

    let o = job(&["diff"]);
    let text = said(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "not compared: account 999999999999 cannot be reached: these credentials are for account {home}"
        )),
        "{text}"
    );
    assert!(
        text.contains("3 differ, 0 unchanged, 1 not reachable from these credentials (not compared: acme-cobb-ga)"),
        "{text}"
    );

    // Each account is the one bootstrapped: the job's own, the profile's.
    for (county, bucket) in [
        ("fulton-ga", format!("acme-assets-{home}-us-east-1")),
        ("king-wa", format!("acme-assets-{away}-us-west-2")),
    ] {
        let o = job(&["bootstrap", "--county", county]);
        let text = said(&o);
        assert_eq!(o.status.code(), Some(0), "{text}");
        assert!(text.contains(&bucket), "{bucket}: {text}");
    }
    let o = job(&["bootstrap", "--county", "cobb-ga"]);
    let text = said(&o);
    assert_eq!(o.status.code(), Some(6), "{text}");
    assert!(
        text.contains("999999999999") && text.contains(&home),
        "{text}"
    );
}

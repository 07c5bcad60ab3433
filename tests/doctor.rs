//! `acme-infra doctor` against the local AWS emulator (moto), through the
//! binary: a fresh account (no bootstrap stack: a fail line, exit 13), the
//! same account after `acme-infra bootstrap` (the bootstrap line passes; the
//! quota lines warn, moto serving none of the quotas), the fallbacks the
//! quota and opt-in reads take on moto, and credentials for another account
//! than the county file's (a fail line).
//!
//! Each run assumes a role into a fresh account id of its own, so runs never
//! see each other's stacks on a shared emulator.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Creds, assume_role, fresh_account};

const COUNTY: &str = "travis-tx";
const REGION: &str = "us-east-2";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL is not set: run the tests through `make test` or `scripts/with-moto.sh cargo test`, which start the emulator")
    })
}

/// The shipped environments, with the sample county moved to `account`.
fn environments(dir: &Path, account: &str) {
    let envs = dir.join("environments");
    std::fs::create_dir_all(&envs).expect("mkdir");
    for entry in std::fs::read_dir(root().join("environments")).expect("read") {
        let p = entry.expect("entry").path();
        let mut body = std::fs::read_to_string(&p).expect("read county");
        if p.file_stem().is_some_and(|s| s == COUNTY) {
            body = body.replace("111111111111", account);
        }
        std::fs::write(envs.join(p.file_name().expect("name")), body).expect("write");
    }
}

fn acme(creds: &Creds, dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_acme-infra"))
        .args(args)
        .current_dir(dir)
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", &creds.key)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret)
        .env("AWS_SESSION_TOKEN", &creds.token)
        .env("AWS_REGION", REGION)
        .env("AWS_DEFAULT_REGION", REGION)
        .env_remove("AWS_PROFILE")
        .env_remove("ACME_LEGACY_URL")
        .output()
        .expect("acme-infra runs")
}

fn doctor(creds: &Creds, dir: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["doctor", "--county", COUNTY];
    args.extend_from_slice(extra);
    let o = acme(creds, dir, &args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code(), text)
}

/// The output with this run's account and names made stable.
fn redacted(text: &str, account: &str) -> String {
    text.lines()
        .map(|l| {
            let l = l.replace(account, "<account>");
            // The assumed role's session ARN and the bucket's name suffix vary.
            match l.find("arn:aws:sts::") {
                Some(i) => format!("{}<session arn>", &l[..i]),
                None => match l.find("assets bucket ") {
                    Some(i) => format!("{}assets bucket <bucket>", &l[..i]),
                    None => l,
                },
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn line<'t>(text: &'t str, name: &str) -> &'t str {
    text.lines()
        .find(|l| l.get(6..).is_some_and(|r| r.starts_with(name)))
        .unwrap_or_else(|| panic!("no `{name}` line in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_account_fails_on_bootstrap_and_passes_once_bootstrapped() {
    let account = fresh_account(0);
    let creds = assume_role(&account).await;
    let dir = tempfile::tempdir().expect("tempdir");
    environments(dir.path(), &account);

    let (code, before) = doctor(&creds, dir.path(), &[]);
    assert_eq!(code, Some(13), "{before}");
    assert!(line(&before, "bootstrap").starts_with("fail"), "{before}");
    assert!(line(&before, "account").starts_with("pass"), "{before}");
    insta::assert_snapshot!("doctor_fresh_account", redacted(&before, &account));

    let boot = acme(&creds, dir.path(), &["bootstrap"]);
    assert!(
        boot.status.success(),
        "{}",
        String::from_utf8_lossy(&boot.stderr)
    );

    let (code, after) = doctor(&creds, dir.path(), &[]);
    assert_eq!(code, Some(0), "{after}");
    assert!(line(&after, "bootstrap").starts_with("pass"), "{after}");
    // travis-tx migrates and no URL was given: a warning, which --strict fails.
    assert!(
        line(&after, "legacy database").starts_with("warn"),
        "{after}"
    );
    insta::assert_snapshot!("doctor_bootstrapped", redacted(&after, &account));
    let (code, strict) = doctor(&creds, dir.path(), &["--strict"]);
    assert_eq!(code, Some(13), "{strict}");
}

/// moto serves Service Quotas for service code `vpc` only (anything else
/// answers `NoSuchResourceException`) and not `GetAWSDefaultServiceQuota`
/// at all, nor the Account API's `GetRegionOptStatus`: each line reached
/// the emulator with the real call and says which fallback it took.
#[tokio::test(flavor = "multi_thread")]
async fn quota_and_opt_in_reads_reach_the_emulator_and_their_lines_say_how_they_fell_back() {
    let account = fresh_account(21);
    let creds = assume_role(&account).await;
    let dir = tempfile::tempdir().expect("tempdir");
    environments(dir.path(), &account);

    let (_, text) = doctor(&creds, dir.path(), &[]);
    let region = line(&text, "region");
    assert!(
        region.starts_with("pass")
            && region.contains("CloudFormation answers")
            && region.contains("opt-in status not read, GetRegionOptStatus: HTTP 404"),
        "{text}"
    );
    let fallback = "quota not read (GetServiceQuota: NoSuchResourceException, then GetAWSDefaultServiceQuota: HTTP 500)";
    for (name, quota, code) in [
        (
            "lambda concurrency",
            "Concurrent executions",
            "--service-code lambda --quota-code L-B99A9384",
        ),
        (
            "api gateway quota",
            "Throttle rate",
            "--service-code apigateway --quota-code L-8A5B8E43",
        ),
        (
            "dynamodb tables",
            "Maximum number of tables",
            "--service-code dynamodb --quota-code L-F98FE922",
        ),
    ] {
        let l = line(&text, name);
        assert!(
            l.starts_with("warn") && l.contains(&format!("{quota} {fallback}")) && l.contains(code),
            "{name}: {text}"
        );
    }
    // The county's figures stay in the line the quota could not be read for.
    assert!(
        line(&text, "lambda concurrency")
            .contains("the county needs 351: 201 reserved + 50 for the worker's queue"),
        "{text}"
    );
    // A fresh account: ListTables answers, no table yet.
    assert!(
        line(&text, "dynamodb tables")
            .contains("0 other tables in the account + the county's 5 = 5"),
        "{text}"
    );

    let (_, json) = doctor(&creds, dir.path(), &["--json"]);
    let json_end = json.rfind(']').expect("a JSON array") + 1;
    let checks: serde_json::Value = serde_json::from_str(&json[..json_end]).expect("JSON");
    for name in ["lambda concurrency", "api gateway quota", "dynamodb tables"] {
        let c = checks
            .as_array()
            .expect("array")
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {json}"));
        assert_eq!(c["outcome"], "warn", "{c}");
        assert!(
            c["detail"].as_str().is_some_and(|d| d.contains(fallback)),
            "{c}"
        );
    }
}

/// The account line of a `--json` report.
fn account_check(text: &str) -> serde_json::Value {
    let json_end = text.rfind(']').expect("a JSON array") + 1;
    let checks: serde_json::Value = serde_json::from_str(&text[..json_end]).expect("JSON");
    checks
        .as_array()
        .expect("array")
        .iter()
        .find(|c| c["name"] == "account")
        .expect("an account check")
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_for_another_account_with_no_way_in_fail_the_account_line() {
    let account = fresh_account(7);
    let creds = assume_role(&account).await;
    let dir = tempfile::tempdir().expect("tempdir");
    environments(dir.path(), "222222222222");
    let county = dir
        .path()
        .join("environments")
        .join(format!("{COUNTY}.yaml"));
    let body = std::fs::read_to_string(&county).expect("read county");
    let without_access = body
        .split("\naccess:\n")
        .next()
        .expect("text before access:")
        .to_owned();
    assert_ne!(without_access, body, "the sample county names its access");
    std::fs::write(&county, without_access + "\n").expect("write county");

    let (code, text) = doctor(&creds, dir.path(), &["--json"]);
    assert_eq!(code, Some(13), "{text}");
    let account_check = account_check(&text);
    assert_eq!(account_check["outcome"], "fail");
    let detail = account_check["detail"].as_str().expect("detail");
    assert!(
        detail.contains(&account) && detail.contains("222222222222") && detail.contains("access:"),
        "{detail}"
    );
}

/// A county in another account is checked where `deploy` would reach it:
/// through the role its `access:` names.
#[tokio::test(flavor = "multi_thread")]
async fn a_county_in_another_account_is_checked_through_its_access_role() {
    let account = fresh_account(9);
    let creds = assume_role(&account).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let county_account = fresh_account(11);
    environments(dir.path(), &county_account);

    let (_, text) = doctor(&creds, dir.path(), &[]);
    assert!(line(&text, "account").starts_with("pass"), "{text}");
    let credentials = line(&text, "credentials");
    assert!(
        credentials.starts_with("pass")
            && credentials.contains(&format!(
                "arn:aws:sts::{county_account}:assumed-role/acme-deploy/"
            )),
        "{text}"
    );
    // Checked in the county's account: a fresh one, not bootstrapped.
    assert!(line(&text, "bootstrap").starts_with("fail"), "{text}");
}

/// A fresh database `db` on the test PostgreSQL, with the legacy schema when
/// `schema`; its URL.
async fn database(db: &str, schema: bool) -> String {
    let server = std::env::var("ACME_TEST_LEGACY_URL").unwrap_or_else(|_| {
        panic!(
            "ACME_TEST_LEGACY_URL is not set: run through scripts/with-postgres.sh (make test does)"
        )
    });
    let (base, _) = server.rsplit_once('/').expect("URL");
    let (admin, conn) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    for sql in [
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        format!("CREATE DATABASE {db}"),
    ] {
        admin.simple_query(&sql).await.expect(&sql);
    }
    let url = format!("{base}/{db}");
    if schema {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        client
            .batch_execute(include_str!("../migrate/sql/legacy-schema.sql"))
            .await
            .expect("schema");
    }
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn the_legacy_database_is_checked_with_the_migrations_connection() {
    let account = fresh_account(13);
    let creds = assume_role(&account).await;
    let dir = tempfile::tempdir().expect("tempdir");
    environments(dir.path(), &account);

    let good = database("doctor_legacy", true).await;
    let (_, text) = doctor(&creds, dir.path(), &["--legacy-url", &good]);
    let l = line(&text, "legacy database");
    assert!(
        l.starts_with("pass") && l.contains("schema as expected"),
        "{text}"
    );

    // Reachable, but not the legacy schema: the migration would not run.
    let empty = database("doctor_empty", false).await;
    let (code, text) = doctor(&creds, dir.path(), &["--legacy-url", &empty]);
    assert_eq!(code, Some(13), "{text}");
    assert!(line(&text, "legacy database").starts_with("fail"), "{text}");
}

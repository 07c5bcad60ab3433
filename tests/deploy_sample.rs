//! A new user's first deploy, end to end through the `acme-infra` binary
//! against the local AWS emulator (moto, started by `make test`): bootstrap,
//! deploy a sample county (diff and progress on screen), redeploy with no
//! changes, and a clear refusal when a change would replace the Orders table.
//!
//! The county is the sample `travis-tx` as shipped, except for its account:
//! each run assumes a role into a fresh account id of its own, so runs never
//! see each other's stacks on a shared emulator.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use aws_sdk_cloudformation::types::StackStatus;
use common::{Creds, assume_role, fresh_account};

const COUNTY: &str = "travis-tx";
const STACK: &str = "acme-travis-tx";
const REGION: &str = "us-east-2";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL is not set: run the tests through `make test` or `scripts/with-moto.sh cargo test`, which start the emulator")
    })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn cfn(creds: &Creds) -> aws_sdk_cloudformation::Client {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            &creds.key,
            &creds.secret,
            Some(creds.token.clone()),
            None,
            "assumed-role",
        ))
        .load()
        .await;
    aws_sdk_cloudformation::Client::new(&conf)
}

/// Runs the binary in `dir` as the assumed role, and reports what it said.
fn acme(creds: &Creds, dir: &Path, args: &[&str]) -> (Output, f64) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_acme-infra"))
        .args(args)
        .current_dir(dir)
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", &creds.key)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret)
        .env("AWS_SESSION_TOKEN", &creds.token)
        .env("AWS_REGION", REGION)
        .env("AWS_DEFAULT_REGION", REGION)
        .env_remove("AWS_PROFILE")
        .output()
        .expect("acme-infra runs");
    (out, started.elapsed().as_secs_f64())
}

/// `acme-infra deploy --county <sample> --assets-dir <zips>`, plus `extra`.
fn deploy(creds: &Creds, dir: &Path, zips: &str, extra: &[&str]) -> (Output, f64) {
    let mut args = vec!["deploy", "--county", COUNTY, "--assets-dir", zips];
    args.extend_from_slice(extra);
    acme(creds, dir, &args)
}

fn said(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    )
}

/// A valid empty zip per function (the emulator stores code, never runs it).
fn prebuilt_zips(dir: &Path) -> PathBuf {
    let zips = dir.join("zips");
    std::fs::create_dir_all(&zips).expect("mkdir");
    for f in acme_stacks::county::functions::FUNCTION_CRATES {
        let mut bytes = b"PK\x05\x06".to_vec();
        bytes.extend_from_slice(&[0u8; 16]);
        bytes.extend_from_slice(&u16::try_from(f.len()).expect("short").to_le_bytes());
        bytes.extend_from_slice(f.as_bytes());
        std::fs::write(zips.join(format!("{f}.zip")), bytes).expect("write zip");
    }
    zips
}

/// The shipped environments, with the sample county moved to `account`.
fn environments(dir: &Path, account: &str) {
    let envs = dir.join("environments");
    std::fs::create_dir_all(&envs).expect("mkdir");
    for entry in std::fs::read_dir(root().join("environments")).expect("read") {
        let p = entry.expect("entry").path();
        let mut body = std::fs::read_to_string(&p).expect("read county");
        if p.file_stem().is_some_and(|s| s == COUNTY) {
            assert!(body.contains("account: \"111111111111\""), "{body}");
            body = body.replace("111111111111", account);
        }
        std::fs::write(envs.join(p.file_name().expect("name")), body).expect("write");
    }
}

/// Changes the Orders table's sort key in a synthesized template: a change
/// CloudFormation can only make by replacing the table.
fn replace_orders_sort_key(template: &Path) -> String {
    let mut t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(template).expect("read")).expect("json");
    let props = &mut t["Resources"]["OrdersTable"]["Properties"];
    let keys = props["KeySchema"].as_array_mut().expect("KeySchema");
    let range = keys
        .iter_mut()
        .find(|k| k["KeyType"] == "RANGE")
        .expect("a sort key");
    let old = range["AttributeName"].as_str().expect("name").to_owned();
    range["AttributeName"] = "placed_sk".into();
    props["AttributeDefinitions"]
        .as_array_mut()
        .expect("AttributeDefinitions")
        .push(serde_json::json!({"AttributeName": "placed_sk", "AttributeType": "S"}));
    std::fs::write(template, serde_json::to_string(&t).expect("json")).expect("write");
    old
}

/// Change sets of the county's stack: all of them, and those still
/// executable (what a refusal must never leave behind). The emulator lists
/// every stack's change sets, executed ones included, so both are filtered.
async fn change_sets(cfn: &aws_sdk_cloudformation::Client) -> (usize, usize) {
    let all = cfn
        .list_change_sets()
        .stack_name(STACK)
        .send()
        .await
        .expect("ListChangeSets");
    let ours: Vec<_> = all
        .summaries()
        .iter()
        .filter(|c| c.stack_name() == Some(STACK))
        .collect();
    let executable = ours
        .iter()
        .filter(|c| {
            c.execution_status()
                .is_some_and(|e| e.as_str() == "AVAILABLE")
        })
        .count();
    (ours.len(), executable)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_user_bootstraps_deploys_a_sample_county_and_is_kept_from_losing_orders() {
    let account = fresh_account(0);
    let creds = assume_role(&account).await;
    let cfn = cfn(&creds).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    environments(d, &account);
    let zips = prebuilt_zips(d);
    let zips = zips.to_str().expect("utf-8 path");

    // 1. Deploy before bootstrapping: told what to run.
    let (o, _) = deploy(&creds, d, zips, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", said(&o));
    assert!(
        text(&o.stderr).contains("acme-infra bootstrap"),
        "{}",
        said(&o)
    );

    // 2. Bootstrap the account and region.
    let (o, _) = acme(
        &creds,
        d,
        &["bootstrap", "--account", &account, "--region", REGION],
    );
    assert!(o.status.success(), "{}", said(&o));
    assert!(
        text(&o.stderr).contains(&format!("acme-assets-{account}-{REGION}")),
        "{}",
        said(&o)
    );

    // 3. Without a terminal, the default approval gate refuses a change that
    //    creates IAM roles, and leaves nothing behind.
    let (o, _) = deploy(&creds, d, zips, &[]);
    assert_eq!(o.status.code(), Some(4), "{}", said(&o));
    assert!(text(&o.stderr).contains("not approved"), "{}", said(&o));
    let left = cfn.describe_stacks().stack_name(STACK).send().await;
    assert!(
        left.is_err()
            || left.is_ok_and(|s| s
                .stacks()
                .iter()
                .all(|s| s.stack_status() == Some(&StackStatus::ReviewInProgress))),
        "a refused create leaves no stack with resources"
    );
    assert_eq!(
        change_sets(&cfn).await,
        (0, 0),
        "the change set was deleted"
    );

    // 4. Deploy: the change set is shown resource by resource, then the
    //    stack's progress, until CREATE_COMPLETE.
    let (o, first) = deploy(&creds, d, zips, &["--require-approval", "never"]);
    assert!(o.status.success(), "{}", said(&o));
    let err = text(&o.stderr);
    for want in [
        "create: ",
        "+ add     OrdersTable",
        "AWS::DynamoDB::Table",
        "CREATE_IN_PROGRESS",
        "CREATE_COMPLETE",
    ] {
        assert!(err.contains(want), "deploy output lacks {want:?}:\n{err}");
    }
    let stack = cfn
        .describe_stacks()
        .stack_name(STACK)
        .send()
        .await
        .expect("DescribeStacks");
    assert_eq!(
        stack.stacks()[0].stack_status(),
        Some(&StackStatus::CreateComplete)
    );
    let assembly = d.join("cdk.out");
    let assembly_arg = assembly.to_str().expect("utf-8 path");
    let (o, _) = acme(&creds, d, &["synth", "--out", assembly_arg]);
    assert!(o.status.success(), "{}", said(&o));
    let template_path = assembly.join(format!("{STACK}.template.json"));
    let template: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&template_path).expect("template"))
            .expect("JSON template");
    let declared = template["Resources"].as_object().expect("resources").len();
    let mut listed = Vec::new();
    let mut pages = cfn
        .list_stack_resources()
        .stack_name(STACK)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for r in page.expect("ListStackResources").stack_resource_summaries() {
            listed.push(r.logical_resource_id().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(
        listed.len(),
        declared,
        "every resource of the template is in the stack"
    );
    // The sample's `migration:` section: the role its operators assume.
    assert!(listed.iter().any(|id| id == "MigrationRole"), "{listed:?}");

    let after_first = change_sets(&cfn).await;
    assert_eq!(after_first.1, 0, "nothing executable is left");

    // 5. The diff against what is deployed is empty.
    let (o, _) = acme(&creds, d, &["diff", "--county", COUNTY, "--fail"]);
    assert!(o.status.success(), "{}", said(&o));

    // 6. Redeploy, nothing changed: no upload, no change set, one line.
    let (o, again) = deploy(&creds, d, zips, &["--require-approval", "never", "--json"]);
    assert!(o.status.success(), "{}", said(&o));
    let after_redeploy = change_sets(&cfn).await;
    let result = text(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["kind"] == "result")
        .unwrap_or_else(|| panic!("a result line: {}", said(&o)));
    assert_eq!(result["outcome"]["result"], "unchanged", "{result}");
    assert_eq!(after_redeploy, after_first, "no change set was created");
    eprintln!(
        "deploy walkthrough: first deploy {first:.2} s ({declared} resources), unchanged redeploy {again:.2} s (whole process)"
    );

    // 7. A change that would replace the Orders table (its sort key) is
    //    refused before anything runs, with the flag that would allow it.
    let old_key = replace_orders_sort_key(&template_path);
    let (o, _) = deploy(
        &creds,
        d,
        zips,
        &["--assembly", assembly_arg, "--require-approval", "never"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", said(&o));
    let err = text(&o.stderr);
    for want in [
        "refused",
        "OrdersTable (AWS::DynamoDB::Table)",
        &format!("--allow-replace {COUNTY}/OrdersTable"),
        "deleted the change set",
    ] {
        assert!(err.contains(want), "refusal lacks {want:?}:\n{err}");
    }
    assert_eq!(
        change_sets(&cfn).await,
        after_first,
        "the refused change set was deleted"
    );
    let deployed = cfn
        .get_template()
        .stack_name(STACK)
        .send()
        .await
        .expect("GetTemplate");
    let body = deployed.template_body().expect("template body");
    assert!(
        body.contains(&old_key) && !body.contains("placed_sk"),
        "the deployed Orders table is untouched"
    );

    // 8. A bare --allow-replace across several counties is a usage error,
    //    before any AWS call.
    let (o, _) = acme(
        &creds,
        d,
        &[
            "deploy",
            "--all",
            "--allow-replace",
            "OrdersTable",
            "--assets-dir",
            zips,
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", said(&o));
    assert!(
        text(&o.stderr).contains("<county>/OrdersTable"),
        "{}",
        said(&o)
    );
}

//! Deploy control flow against moto over real HTTP (the same code path as
//! production: only `AWS_ENDPOINT_URL` differs). Run with
//! `scripts/with-moto.sh cargo test -p acme-deploy`; without it these tests
//! fail with instructions (they never skip).

mod common;

use std::time::Instant;

use acme_deploy::{
    DeployError, DeployOptions, Format, Outcome, Output, RefusalKind, RequireApproval, exit::Exit,
};
use common::*;

fn never_ask() -> DeployOptions {
    DeployOptions {
        require_approval: RequireApproval::Never,
        ..DeployOptions::default()
    }
}

#[tokio::test]
async fn bootstrap_then_deploy_creates_the_stack_and_an_unchanged_redeploy_skips_cloudformation() {
    let d = deployer().await;
    ensure_bootstrapped().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let county = unique("f");
    let zip = write_zip(dir.path(), "order-api.zip", county.as_bytes());
    let a = with_asset(artifact(&county, &function_template()), zip);
    let outputs_file = dir.path().join("outputs.json");

    let (out, text) = Output::capture(Format::Human);
    let opts = DeployOptions {
        outputs_file: Some(outputs_file.clone()),
        ..never_ask()
    };
    let report = d
        .deploy(vec![a.clone()], &opts, &out)
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text.text()));
    assert_eq!(
        report.stacks[0].outcome,
        Outcome::Created { changes: 5 },
        "{}",
        text.text()
    );
    assert_eq!(
        stack_status(&d, &a.stack_name).await.as_deref(),
        Some("CREATE_COMPLETE")
    );
    let s = d.stats();
    assert_eq!(
        (s.uploads, s.change_sets_created, s.change_sets_executed),
        (1, 1, 1),
        "{s:?}"
    );
    assert!(text.text().contains("+ add     Orders"), "{}", text.text());
    // moto returns no Outputs for change-set stacks: Ref outputs are resolved
    // from ListStackResources and the report says so.
    let r = &report.stacks[0];
    assert!(r.outputs.contains_key("OrdersTableName"), "{r:?}");
    assert!(
        r.outputs_note
            .as_deref()
            .is_some_and(|n| n.contains("ListStackResources") && n.contains("OrdersTableArn")),
        "{r:?}"
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&outputs_file).expect("outputs file"))
            .expect("json");
    assert!(
        written[&county]["OrderEventsQueueUrl"].is_string(),
        "{written}"
    );

    // Same template, parameters and tags: no upload, no change set, no HEAD.
    let d2 = deployer().await;
    let (out2, text2) = Output::capture(Format::Human);
    let t0 = Instant::now();
    let report = d2
        .deploy(vec![a.clone()], &never_ask(), &out2)
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text2.text()));
    let elapsed = t0.elapsed();
    assert!(
        matches!(report.stacks[0].outcome, Outcome::Unchanged { .. }),
        "{:?}",
        report.stacks[0]
    );
    let s = d2.stats();
    assert_eq!((s.uploads, s.change_sets_created), (0, 0), "{s:?}");
    assert_eq!(d2.counter().count("CloudFormation.CreateChangeSet"), 0);
    assert_eq!(
        d2.counter().count("S3.HeadObject") + d2.counter().count("S3.PutObject"),
        0
    );
    eprintln!(
        "PERF no-op redeploy: {elapsed:?}, {} API calls {:?}",
        s.total_calls(),
        s.api_calls
    );

    // --force goes to CloudFormation, which finds nothing: the empty change
    // set is deleted and the deploy reports "no changes". The zip is already
    // in the bucket, so only a HEAD is spent on it.
    let d3 = deployer().await;
    let (out3, text3) = Output::capture(Format::Human);
    let report = d3
        .deploy(
            vec![a.clone()],
            &DeployOptions {
                force: true,
                ..never_ask()
            },
            &out3,
        )
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text3.text()));
    assert_eq!(
        report.stacks[0].outcome,
        Outcome::Unchanged {
            reason: "CloudFormation found no changes".into()
        },
        "{}",
        text3.text()
    );
    assert_eq!(d3.stats().uploads, 0);
    assert_eq!(d3.counter().count("S3.HeadObject"), 1);
    assert_eq!(d3.counter().count("CloudFormation.ExecuteChangeSet"), 0);
    assert_eq!(
        change_set_count(&d3, &a.stack_name).await,
        0,
        "the empty change set is deleted"
    );
}

#[tokio::test]
async fn a_modified_template_produces_an_update_change_set_and_a_diff() {
    let d = deployer().await;
    ensure_bootstrapped().await;
    let county = unique("u");
    let v1 = artifact(&county, &data_template("pk", 30, &[]));
    let (out, text) = Output::capture(Format::Human);
    d.deploy(vec![v1.clone()], &never_ask(), &out)
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text.text()));

    let mut t2 = data_template("pk", 120, &["byCustomer"]);
    t2["Resources"]["DeadLetters"] = serde_json::json!({"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1_209_600}});
    let v2 = artifact(&county, &t2);

    // `diff` first: read-only, property paths, and --fail gives its own exit code.
    let (dout, dtext) = Output::capture(Format::Human);
    let e = d
        .diff(std::slice::from_ref(&v2), true, false, &dout)
        .await
        .expect_err("differs");
    assert_eq!(e.exit(), Exit::DiffFound);
    let shown = dtext.text();
    assert!(
        shown.contains("~ OrderEvents (AWS::SQS::Queue)")
            && shown.contains("Properties.VisibilityTimeout: 30 → 120"),
        "{shown}"
    );
    assert!(shown.contains("+ DeadLetters (AWS::SQS::Queue)"), "{shown}");
    assert!(
        shown.contains("Properties.GlobalSecondaryIndexes"),
        "{shown}"
    );
    assert!(
        d.diff(std::slice::from_ref(&v1), true, false, &dout)
            .await
            .is_ok(),
        "no diff against itself"
    );

    let (out2, text2) = Output::capture(Format::Human);
    let report = d
        .deploy(vec![v2], &never_ask(), &out2)
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text2.text()));
    assert_eq!(
        report.stacks[0].outcome,
        Outcome::Updated { changes: 3 },
        "{}",
        text2.text()
    );
    let shown = text2.text();
    assert!(shown.contains("update: 3 change(s)"), "{shown}");
    assert!(
        shown.contains("~ modify  OrderEvents") && shown.contains("Properties.VisibilityTimeout"),
        "{shown}"
    );
    assert!(shown.contains("+ add     DeadLetters"), "{shown}");
    assert_eq!(
        stack_status(&d, &v1.stack_name).await.as_deref(),
        Some("UPDATE_COMPLETE")
    );
    // `status` shows it, with the deploy hash it carries.
    let (sout, stext) = Output::capture(Format::Human);
    let rows = d
        .status(std::slice::from_ref(&v1), &sout)
        .await
        .expect("status");
    assert_eq!(rows[0].status, "UPDATE_COMPLETE");
    assert!(
        rows[0].deploy_hash.as_ref().is_some_and(|h| h.len() == 12),
        "{rows:?}"
    );
    assert!(
        stext.text().contains("COUNTY") && stext.text().contains("UPDATE_COMPLETE"),
        "{}",
        stext.text()
    );
    // Exactly one stack by that name: the UPDATE did not create a second one.
    let stacks = d
        .clients()
        .cfn
        .describe_stacks()
        .send()
        .await
        .expect("list");
    assert_eq!(
        stacks
            .stacks()
            .iter()
            .filter(|s| s.stack_name() == Some(v1.stack_name.as_str()))
            .count(),
        1
    );

    // Back to v1. The emulator's update left v1's hash in the stack's tags,
    // so the tag alone would call this "no changes"; the template says no.
    let (out3, text3) = Output::capture(Format::Human);
    let back = DeployOptions {
        allow_replace: vec!["DeadLetters".into()],
        ..never_ask()
    };
    let report = d
        .deploy(vec![v1.clone()], &back, &out3)
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text3.text()));
    assert!(
        matches!(report.stacks[0].outcome, Outcome::Updated { .. }),
        "{:?}\n{}",
        report.stacks[0].outcome,
        text3.text()
    );
    let (dout, dtext) = Output::capture(Format::Human);
    assert!(
        d.diff(std::slice::from_ref(&v1), true, false, &dout)
            .await
            .is_ok(),
        "deployed is what was asked: {}",
        dtext.text()
    );
    // And now the same again is a no-op, confirmed by the template.
    let (out4, text4) = Output::capture(Format::Human);
    let report = d
        .deploy(vec![v1], &back, &out4)
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text4.text()));
    assert!(
        matches!(report.stacks[0].outcome, Outcome::Unchanged { .. }),
        "{:?}\n{}",
        report.stacks[0].outcome,
        text4.text()
    );
}

#[tokio::test]
async fn replacing_a_table_is_refused_unless_allow_replace_names_it() {
    let d = deployer().await;
    ensure_bootstrapped().await;
    let county = unique("r");
    let v1 = artifact(&county, &data_template("pk", 30, &[]));
    let (out, text) = Output::capture(Format::Human);
    d.deploy(vec![v1.clone()], &never_ask(), &out)
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text.text()));

    // Changing the key schema replaces the table: its data would be gone.
    let v2 = artifact(&county, &data_template("orderId", 30, &[]));
    let d2 = deployer().await;
    let (out2, text2) = Output::capture(Format::Human);
    let e = d2
        .deploy(vec![v2.clone()], &never_ask(), &out2)
        .await
        .expect_err("refused");
    assert!(
        matches!(
            e,
            DeployError::Refused {
                kind: RefusalKind::StatefulResource,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.exit(), Exit::Refused);
    assert!(
        e.to_string().contains("Orders (AWS::DynamoDB::Table)")
            && e.to_string().contains("Properties.KeySchema"),
        "{e}"
    );
    assert!(
        e.fix()
            .is_some_and(|f| f.contains(&format!("--allow-replace {county}/Orders"))),
        "{:?}",
        e.fix()
    );
    assert!(
        text2.text().contains("deleted the change set"),
        "{}",
        text2.text()
    );
    assert_eq!(d2.counter().count("CloudFormation.ExecuteChangeSet"), 0);
    assert_eq!(change_set_count(&d2, &v1.stack_name).await, 0);
    let deployed = d2
        .clients()
        .cfn
        .get_template()
        .stack_name(&v1.stack_name)
        .send()
        .await
        .expect("template");
    assert!(
        deployed
            .template_body()
            .is_some_and(|b| b.contains("\"pk\"")),
        "the deployed table is untouched"
    );

    // Named explicitly: it goes ahead.
    let opts = DeployOptions {
        allow_replace: vec!["Orders".into()],
        ..never_ask()
    };
    let (out3, text3) = Output::capture(Format::Human);
    let report = d2
        .deploy(vec![v2], &opts, &out3)
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text3.text()));
    assert!(matches!(report.stacks[0].outcome, Outcome::Updated { .. }));
}

#[tokio::test]
async fn two_new_gsis_in_one_update_are_refused_with_a_staging_plan() {
    let d = deployer().await;
    ensure_bootstrapped().await;
    let county = unique("g");
    let (out, text) = Output::capture(Format::Human);
    d.deploy(
        vec![artifact(&county, &data_template("pk", 30, &[]))],
        &never_ask(),
        &out,
    )
    .await
    .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text.text()));
    let d2 = deployer().await;
    let e = d2
        .deploy(
            vec![artifact(
                &county,
                &data_template("pk", 30, &["byCustomer", "byStore"]),
            )],
            &never_ask(),
            &out,
        )
        .await
        .expect_err("refused");
    assert!(
        matches!(
            e,
            DeployError::Refused {
                kind: RefusalKind::GsiLimit,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.fix()
            .is_some_and(|f| f.contains("1) add byCustomer, 2) add byStore")),
        "{:?}",
        e.fix()
    );
    assert_eq!(d2.counter().count("CloudFormation.ExecuteChangeSet"), 0);
    // One at a time is fine.
    d2.deploy(
        vec![artifact(&county, &data_template("pk", 30, &["byCustomer"]))],
        &never_ask(),
        &out,
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.report()));
}

#[tokio::test]
async fn broadening_changes_need_approval_and_a_pipeline_cannot_give_it() {
    let d = deployer().await;
    ensure_bootstrapped().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let county = unique("a");
    let a = with_asset(
        artifact(&county, &function_template()),
        write_zip(dir.path(), "api.zip", county.as_bytes()),
    );
    let (out, text) = Output::capture(Format::Human);
    let e = d
        .deploy(vec![a.clone()], &DeployOptions::default(), &out)
        .await
        .expect_err("not approved");
    assert!(matches!(e, DeployError::NotApproved { .. }), "{e:?}");
    assert_eq!(e.exit(), Exit::NotApproved);
    assert!(
        e.to_string().contains("OrderApiRole (AWS::IAM::Role)"),
        "{e}"
    );
    assert_eq!(d.counter().count("CloudFormation.ExecuteChangeSet"), 0);
    let said = text.text();
    assert!(
        said.contains("deleted the change set (it was not approved)"),
        "{said}"
    );
    assert!(!said.contains("safety check"), "{said}");
    // The refused CREATE leaves neither a change set nor an empty stack behind.
    assert_eq!(
        stack_status(&d, &a.stack_name).await,
        None,
        "{}",
        text.text()
    );

    // An operator who says yes on a terminal gets the deploy.
    let (out, text) = Output::capture(Format::Human);
    let out = out.with_prompt(|q| q.contains("access may widen"));
    let report = d
        .deploy(vec![a], &DeployOptions::default(), &out)
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text.text()));
    assert!(matches!(report.stacks[0].outcome, Outcome::Created { .. }));
}

#[tokio::test]
async fn an_account_that_was_never_bootstrapped_is_told_how_to_fix_it() {
    let d = deployer_in("eu-north-1").await;
    let mut a = artifact(&unique("b"), &data_template("pk", 30, &[]));
    a.region = "eu-north-1".into();
    let (out, _) = Output::capture(Format::Human);
    let e = d
        .deploy(vec![a], &never_ask(), &out)
        .await
        .expect_err("not bootstrapped");
    assert!(
        matches!(
            e,
            DeployError::Refused {
                kind: RefusalKind::Bootstrap,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.fix().is_some_and(
            |f| f.contains("acme-infra bootstrap --account 123456789012 --region eu-north-1")
        ),
        "{:?}",
        e.fix()
    );
    assert_eq!(d.stats().change_sets_created, 0);
}

#[tokio::test]
async fn the_wrong_account_is_refused_before_anything_is_touched() {
    let d = deployer().await;
    let mut a = artifact(&unique("w"), &data_template("pk", 30, &[]));
    a.account = "999999999999".into();
    let (out, _) = Output::capture(Format::Human);
    let e = d
        .deploy(vec![a], &never_ask(), &out)
        .await
        .expect_err("wrong account");
    assert_eq!(e.exit(), Exit::Credentials);
    assert!(e.to_string().contains("999999999999"), "{e}");
    let calls = d.counter().snapshot();
    assert_eq!(
        calls.keys().collect::<Vec<_>>(),
        ["STS.GetCallerIdentity"],
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_template_over_51200_bytes_goes_through_s3() {
    let d = deployer().await;
    ensure_bootstrapped().await;
    let county = unique("l");
    let mut t = data_template("pk", 30, &[]);
    t["Metadata"] = serde_json::json!({"Padding": "x".repeat(60_000)});
    let a = artifact(&county, &t);
    assert!(a.template_body.len() > 51_200);
    let (out, text) = Output::capture(Format::Human);
    d.deploy(vec![a.clone()], &never_ask(), &out)
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text.text()));
    assert_eq!(d.stats().uploads, 1);
    assert_eq!(
        stack_status(&d, &a.stack_name).await.as_deref(),
        Some("CREATE_COMPLETE")
    );
}

#[tokio::test]
async fn destroy_asks_then_deletes_and_lists_what_was_retained() {
    let d = deployer().await;
    ensure_bootstrapped().await;
    let county = unique("d");
    let a = artifact(&county, &data_template("pk", 30, &[]));
    let (out, text) = Output::capture(Format::Human);
    d.deploy(vec![a.clone()], &never_ask(), &out)
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text.text()));

    // No terminal and no --yes: refused, the stack stays.
    let e = d
        .destroy(std::slice::from_ref(&a), false, &out)
        .await
        .expect_err("needs --yes");
    assert_eq!(e.exit(), Exit::NotApproved);
    assert_eq!(
        stack_status(&d, &a.stack_name).await.as_deref(),
        Some("CREATE_COMPLETE")
    );

    // A terminal operator is shown what survives and what does not.
    let asked = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let seen = asked.clone();
    let (out, text) = Output::capture(Format::Human);
    let out = out.with_prompt(move |q| {
        if let Ok(mut s) = seen.lock() {
            s.push_str(q);
        }
        true
    });
    let retained = d
        .destroy(std::slice::from_ref(&a), false, &out)
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text.text()));
    let q = asked.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(
        q.contains("DATA WILL BE DELETED") && q.contains("OrderEvents"),
        "{q}"
    );
    assert!(q.contains("Kept (DeletionPolicy Retain)"), "{q}");
    let ids: Vec<&str> = retained.iter().map(|r| r.logical_id.as_str()).collect();
    assert_eq!(ids, ["DataKey", "Orders"]);
    assert!(
        text.text().contains("AWS::DynamoDB::Table"),
        "{}",
        text.text()
    );
    assert_eq!(stack_status(&d, &a.stack_name).await, None);

    // status now says so.
    let (out, text) = Output::capture(Format::Human);
    let rows = d
        .status(std::slice::from_ref(&a), &out)
        .await
        .expect("status");
    assert_eq!(rows[0].status, "NOT_DEPLOYED", "{}", text.text());
}

#[tokio::test]
async fn status_of_a_stack_in_another_account_says_it_cannot_be_seen() {
    let d = deployer().await;
    let mut elsewhere = artifact(&unique("elsewhere"), &data_template("pk", 30, &[]));
    elsewhere.account = "222222222222".into();
    let (out, text) = Output::capture(Format::Human);
    let rows = d
        .status(std::slice::from_ref(&elsewhere), &out)
        .await
        .expect("status");
    assert_eq!(rows[0].status, "NOT_VISIBLE", "{}", text.text());
    let reason = rows[0].reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("222222222222") && reason.contains(ACCOUNT),
        "{reason}"
    );
    assert!(!text.text().contains("NOT_DEPLOYED"), "{}", text.text());
}

#[tokio::test]
async fn a_fleet_keeps_going_past_a_refusal_and_reports_every_county() {
    let d = deployer().await;
    ensure_bootstrapped().await;
    let counties: Vec<String> = (0..3).map(|_| unique("m")).collect();
    let mut artifacts: Vec<_> = counties
        .iter()
        .map(|c| artifact(c, &data_template("pk", 30, &[])))
        .collect();
    // One county's artifact names a parameter its template does not declare.
    artifacts[1].assets.push(acme_deploy::FunctionAsset {
        parameter: "Missing".into(),
        zip_path: write_zip(&std::env::temp_dir(), &format!("{}.zip", counties[1]), b"x"),
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let outputs = dir.path().join("o.json");
    let (out, text) = Output::capture(Format::Json);
    let opts = DeployOptions {
        concurrency: 2,
        outputs_file: Some(outputs.clone()),
        ..never_ask()
    };
    let e = d
        .deploy(artifacts, &opts, &out)
        .await
        .expect_err("one fails");
    match &e {
        DeployError::Fleet { total, failures } => {
            assert_eq!((*total, failures.len()), (3, 1));
            assert_eq!(failures[0].0, format!("acme-{}", counties[1]));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.exit(), Exit::Refused);
    let lines: Vec<serde_json::Value> = text
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let summary = lines
        .iter()
        .find(|l| l["kind"] == "summary")
        .expect("summary");
    assert_eq!(summary["stacks"].as_array().map(Vec::len), Some(3));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&outputs).expect("outputs")).expect("json");
    assert!(
        written[&counties[0]]["OrdersTableName"].is_string()
            && written[&counties[2]]["OrdersTableName"].is_string(),
        "{written}"
    );
    assert_eq!(
        stack_status(&d, &format!("acme-{}", counties[2]))
            .await
            .as_deref(),
        Some("CREATE_COMPLETE")
    );
}

/// An account id no other test (or earlier run against the same moto) uses:
/// moto keeps each assumed role's account apart.
fn fresh_account() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("7{:011}", (nanos / 1000) % 100_000_000_000)
}

/// The deployer of `account` reached through a role there, bootstrapped.
async fn bootstrapped_through_role(
    d: &acme_deploy::Deployer,
    account: &str,
) -> acme_deploy::Deployer {
    let target = acme_deploy::Target {
        account: account.into(),
        region: "us-east-1".into(),
        access: Some(role_in(account)),
    };
    let acme_deploy::Reach::Reached { deployer, identity } =
        d.reach(&target).await.expect("the role is assumed")
    else {
        panic!("{account} is reached through its role");
    };
    assert_eq!(identity.account, account);
    let opts = acme_deploy::BootstrapOptions {
        termination_protection: false,
        allow_replace: vec![],
        template_override: Some(for_moto(&acme_stacks::bootstrap::template_json())),
    };
    let (out, text) = Output::capture(Format::Human);
    deployer
        .bootstrap(account, "us-east-1", &opts, &out)
        .await
        .unwrap_or_else(|e| panic!("bootstrap failed: {}\n{}", e.report(), text.text()));
    deployer
}

fn role_in(account: &str) -> acme_stacks::config::AccountAccess {
    acme_stacks::config::AccountAccess::Role {
        arn: format!("arn:aws:iam::{account}:role/acme-deploy"),
        external_id: None,
    }
}

#[tokio::test]
async fn a_fleet_run_reaches_each_account_as_its_county_says_and_skips_the_unreachable() {
    let d = deployer().await;
    ensure_bootstrapped().await;
    let other = fresh_account();
    let reached = bootstrapped_through_role(&d, &other).await;

    let here = artifact(&unique("h"), &data_template("pk", 30, &[]));
    let mut there = artifact(&unique("t"), &data_template("pk", 30, &[]));
    there.account = other.clone();
    there.access = Some(role_in(&other));
    let mut nowhere = artifact(&unique("n"), &data_template("pk", 30, &[]));
    nowhere.account = "999999999999".into();

    let fleet = DeployOptions {
        skip_unreachable: true,
        ..never_ask()
    };
    let (out, text) = Output::capture(Format::Human);
    let report = d
        .deploy(
            vec![here.clone(), there.clone(), nowhere.clone()],
            &fleet,
            &out,
        )
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text.text()));
    let outcome = |name: &str| {
        report
            .stacks
            .iter()
            .find(|r| r.stack == name)
            .map(|r| r.outcome.clone())
            .expect("reported")
    };
    assert!(matches!(outcome(&here.stack_name), Outcome::Created { .. }));
    assert!(matches!(
        outcome(&there.stack_name),
        Outcome::Created { .. }
    ));
    let Outcome::Unreachable { reason } = outcome(&nowhere.stack_name) else {
        panic!("{}", text.text());
    };
    assert!(
        reason.contains("999999999999") && reason.contains(ACCOUNT) && reason.contains("access:"),
        "{reason}"
    );
    let said = text.text();
    assert!(
        said.contains("2 ok, 0 failed, 1 not reachable from these credentials (skipped)"),
        "{said}"
    );
    // Each stack is in its own account, and only there.
    assert_eq!(
        stack_status(&reached, &there.stack_name).await.as_deref(),
        Some("CREATE_COMPLETE")
    );
    assert_eq!(stack_status(&d, &there.stack_name).await, None);
    assert_eq!(stack_status(&reached, &here.stack_name).await, None);

    // Status sees both accounts and never calls the third absent.
    let (out, _) = Output::capture(Format::Human);
    let rows = d
        .status(&[here.clone(), there.clone(), nowhere.clone()], &out)
        .await
        .expect("status");
    let status: Vec<&str> = rows.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(
        status,
        ["CREATE_COMPLETE", "CREATE_COMPLETE", "NOT_VISIBLE"]
    );

    // A whole-fleet diff compares what it can reach and says what it could not.
    let (out, text) = Output::capture(Format::Human);
    let diffs = d
        .diff(
            &[here.clone(), there.clone(), nowhere.clone()],
            true,
            true,
            &out,
        )
        .await
        .expect("nothing differs where it was compared");
    assert_eq!(diffs.len(), 2);
    assert!(
        text.text()
            .contains("0 differ, 2 unchanged, 1 not reachable from these credentials"),
        "{}",
        text.text()
    );

    // Named, the unreachable county fails the run before anything is touched.
    let (out, _) = Output::capture(Format::Human);
    let e = d
        .deploy(vec![nowhere.clone()], &never_ask(), &out)
        .await
        .expect_err("named and unreachable");
    assert_eq!(e.exit(), Exit::Credentials);
    assert!(e.to_string().contains("999999999999"), "{e}");
}

#[tokio::test]
async fn a_way_in_that_leads_to_another_account_fails_its_county_only() {
    let d = deployer().await;
    ensure_bootstrapped().await;
    let here = artifact(&unique("h"), &data_template("pk", 30, &[]));
    let mut astray = artifact(&unique("a"), &data_template("pk", 30, &[]));
    astray.account = fresh_account();
    // A role in yet another account: the county file's checks forbid it,
    // an edited assembly could still say it.
    astray.access = Some(role_in("888888888888"));
    let fleet = DeployOptions {
        skip_unreachable: true,
        ..never_ask()
    };
    let (out, text) = Output::capture(Format::Human);
    let e = d
        .deploy(vec![here.clone(), astray.clone()], &fleet, &out)
        .await
        .expect_err("one county failed");
    assert_eq!(e.exit(), Exit::Credentials, "{}", text.text());
    let said = text.text();
    assert!(
        said.contains("assuming arn:aws:iam::888888888888:role/acme-deploy failed: it leads to account 888888888888"),
        "{said}"
    );
    assert_eq!(
        stack_status(&d, &here.stack_name).await.as_deref(),
        Some("CREATE_COMPLETE"),
        "the reachable county is deployed all the same"
    );
}

/// A pipeline job that arrives as a county account's deploy role (as through
/// OIDC) deploys that account's counties with its own credentials, whatever
/// their `access:` names, asks who it is once for the whole fleet, and still
/// assumes the role of a county in another account.
#[tokio::test]
async fn a_job_already_in_a_county_account_uses_its_own_credentials_and_assumes_elsewhere() {
    let d = deployer().await;
    let home = fresh_account();
    let job = bootstrapped_through_role(&d, &home).await;
    let away = fresh_account();
    let other = bootstrapped_through_role(&d, &away).await;
    let job_arn = job.identity().await.expect("who the job is").arn;
    assert!(
        job_arn.starts_with(&format!("arn:aws:sts::{home}:assumed-role/acme-deploy/")),
        "{job_arn}"
    );

    // Ways in the job must not take: a role it would show in its ARN had it
    // assumed it, and a profile this machine does not have.
    let admin = acme_stacks::config::AccountAccess::Role {
        arn: format!("arn:aws:iam::{home}:role/county-admin"),
        external_id: None,
    };
    let no_profile = acme_stacks::config::AccountAccess::Profile("acme-no-such-profile".into());
    let mut by_role = artifact(&unique("r"), &data_template("pk", 30, &[]));
    by_role.account = home.clone();
    by_role.access = Some(admin.clone());
    let mut by_profile = artifact(&unique("p"), &data_template("pk", 30, &[]));
    by_profile.account = home.clone();
    by_profile.access = Some(no_profile.clone());
    let mut there = artifact(&unique("t"), &data_template("pk", 30, &[]));
    there.account = away.clone();
    there.access = Some(role_in(&away));
    let mut nowhere = artifact(&unique("n"), &data_template("pk", 30, &[]));
    nowhere.account = "999999999999".into();
    let asked = job.counter().count("STS.GetCallerIdentity");
    let fleet = DeployOptions {
        skip_unreachable: true,
        ..never_ask()
    };
    let (out, text) = Output::capture(Format::Human);
    let report = job
        .deploy(
            vec![
                by_role.clone(),
                by_profile.clone(),
                there.clone(),
                nowhere.clone(),
            ],
            &fleet,
            &out,
        )
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text.text()));
    let outcome = |name: &str| {
        report
            .stacks
            .iter()
            .find(|r| r.stack == name)
            .map(|r| r.outcome.clone())
            .expect("reported")
    };
    for a in [&by_role, &by_profile, &there] {
        assert!(
            matches!(outcome(&a.stack_name), Outcome::Created { .. }),
            "{}: {}",
            a.stack_name,
            text.text()
        );
    }
    let Outcome::Unreachable { reason } = outcome(&nowhere.stack_name) else {
        panic!("{}", text.text());
    };
    assert!(
        reason.contains("999999999999") && reason.contains(&home),
        "{reason}"
    );
    // Four counties in four targets, one question of who the job is.
    assert_eq!(
        job.counter().count("STS.GetCallerIdentity") - asked,
        1,
        "{:?}",
        job.counter().snapshot()
    );
    assert_eq!(
        stack_status(&job, &by_profile.stack_name).await.as_deref(),
        Some("CREATE_COMPLETE")
    );
    assert_eq!(
        stack_status(&other, &there.stack_name).await.as_deref(),
        Some("CREATE_COMPLETE")
    );
    assert_eq!(stack_status(&job, &there.stack_name).await, None);

    // Reached directly, the job's own credentials, in any region.
    for (region, access) in [
        ("us-east-1", &admin),
        ("us-east-1", &no_profile),
        ("us-west-2", &admin),
    ] {
        let target = acme_deploy::Target {
            account: home.clone(),
            region: region.into(),
            access: Some(access.clone()),
        };
        let acme_deploy::Reach::Reached { deployer, identity } =
            job.reach(&target).await.expect("reached as it is")
        else {
            panic!("{target:?} is the job's own account");
        };
        let actual = deployer.identity().await.expect("the reached credentials");
        assert_eq!(
            (identity.arn.as_str(), identity.region.as_str()),
            (job_arn.as_str(), region)
        );
        assert_eq!(
            (actual.arn.as_str(), actual.region.as_str()),
            (job_arn.as_str(), region),
            "{access:?}"
        );
    }
}

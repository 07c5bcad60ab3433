//! Failure, rollback, throttling and refusal paths, replayed through the SDK
//! with `aws-smithy-mocks`. Every response body below has the shape real
//! CloudFormation/STS send (query protocol XML), so the SDK's real
//! deserializers run, error codes included. Every refusal test proves
//! `ExecuteChangeSet` was never called.

use acme_deploy::{
    CallCounter, Clients, DeployError, DeployOptions, Deployer, Format, Interrupt, Outcome, Output,
    Pacing, RefusalKind, RequireApproval, StackArtifact, exit::Exit,
};
use aws_sdk_cloudformation::Client as Cfn;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use serde_json::json;

const NS: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";
const ACCOUNT: &str = "123456789012";
const STACK: &str = "acme-06001";
const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/acme-06001/5f1a2b30-d4c1-11ef-9a61-0affd2b1c3e5";
const CS_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/acme-0123456789ab-1737000000000/8c2d4e1f-13b5-4d8e-9a0c-7f5e3a2b1c0d";

fn ok(op: &str, result: &str) -> String {
    format!(
        "<{op}Response xmlns=\"{NS}\"><{op}Result>{result}</{op}Result><ResponseMetadata><RequestId>b9b4b2a1-3c1d-4e5f-8a9b-0c1d2e3f4a5b</RequestId></ResponseMetadata></{op}Response>"
    )
}

fn error(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>0d1f8c2e-6a3b-4c5d-9e8f-1a2b3c4d5e6f</RequestId></ErrorResponse>"
    )
}

fn stack_xml(name: &str, id: &str, status: &str, extra: &str) -> String {
    format!(
        "<member><StackId>{id}</StackId><StackName>{name}</StackName><CreationTime>2026-01-05T10:00:00.123Z</CreationTime><LastUpdatedTime>2026-01-06T09:30:00.456Z</LastUpdatedTime><StackStatus>{status}</StackStatus><DisableRollback>false</DisableRollback><EnableTerminationProtection>false</EnableTerminationProtection><DriftInformation><StackDriftStatus>NOT_CHECKED</StackDriftStatus></DriftInformation>{extra}</member>"
    )
}

fn bootstrap_stack() -> String {
    ok(
        "DescribeStacks",
        &format!(
            "<Stacks>{}</Stacks>",
            stack_xml(
                "acme-bootstrap",
                "arn:aws:cloudformation:us-east-1:123456789012:stack/acme-bootstrap/0a1b2c3d-0000-11ef-9a61-0affd2b1c3e5",
                "UPDATE_COMPLETE",
                &format!(
                    "<Outputs><member><OutputKey>AssetsBucketName</OutputKey><OutputValue>acme-bootstrap-assetsbucket-1x2y3z4w5v6u</OutputValue></member><member><OutputKey>BootstrapVersion</OutputKey><OutputValue>{}</OutputValue></member></Outputs>",
                    acme_deploy::bootstrap::VERSION
                )
            )
        ),
    )
}

fn county_stack(status: &str, hash: &str) -> String {
    ok(
        "DescribeStacks",
        &format!(
            "<Stacks>{}</Stacks>",
            stack_xml(
                STACK,
                STACK_ID,
                status,
                &format!(
                    "<Tags><member><Key>acme:deploy-hash</Key><Value>{hash}</Value></member></Tags><Outputs><member><OutputKey>OrdersTableName</OutputKey><OutputValue>acme-06001-Orders-1AB2CD3EF4GH</OutputValue></member></Outputs>"
                )
            )
        ),
    )
}

fn missing_stack() -> String {
    error(
        "ValidationError",
        &format!("Stack with id {STACK} does not exist"),
    )
}

fn event(id: &str, secs: &str, logical: &str, ty: &str, status: &str, reason: &str) -> String {
    let reason = if reason.is_empty() {
        String::new()
    } else {
        format!("<ResourceStatusReason>{reason}</ResourceStatusReason>")
    };
    format!(
        "<member><StackId>{STACK_ID}</StackId><EventId>{id}</EventId><StackName>{STACK}</StackName><LogicalResourceId>{logical}</LogicalResourceId><PhysicalResourceId>{STACK_ID}</PhysicalResourceId><ResourceType>{ty}</ResourceType><Timestamp>2026-01-06T10:{secs}.000Z</Timestamp><ResourceStatus>{status}</ResourceStatus>{reason}</member>"
    )
}

/// The event a CREATE change set leaves: the stack in REVIEW_IN_PROGRESS.
fn review_event() -> String {
    event(
        "review-1",
        "00:00",
        STACK,
        "AWS::CloudFormation::Stack",
        "REVIEW_IN_PROGRESS",
        "User Initiated",
    )
}

/// Before execution, then after a create that completed.
fn created_events() -> Vec<String> {
    vec![
        events(&[review_event()]),
        events(&[
            event(
                "c2",
                "00:30",
                STACK,
                "AWS::CloudFormation::Stack",
                "CREATE_COMPLETE",
                "",
            ),
            review_event(),
        ]),
    ]
}

fn events(members: &[String]) -> String {
    ok(
        "DescribeStackEvents",
        &format!("<StackEvents>{}</StackEvents>", members.join("")),
    )
}

fn change_set(status: &str, reason: &str, changes: &str) -> String {
    let reason = if reason.is_empty() {
        String::new()
    } else {
        format!("<StatusReason>{reason}</StatusReason>")
    };
    let exec = if status == "CREATE_COMPLETE" {
        "AVAILABLE"
    } else {
        "UNAVAILABLE"
    };
    ok(
        "DescribeChangeSet",
        &format!(
            "<ChangeSetName>acme-0123456789ab-1737000000000</ChangeSetName><ChangeSetId>{CS_ID}</ChangeSetId><StackId>{STACK_ID}</StackId><StackName>{STACK}</StackName><CreationTime>2026-01-06T10:00:01.000Z</CreationTime><ExecutionStatus>{exec}</ExecutionStatus><Status>{status}</Status>{reason}<Capabilities><member>CAPABILITY_IAM</member><member>CAPABILITY_NAMED_IAM</member></Capabilities><Changes>{changes}</Changes><IncludeNestedStacks>false</IncludeNestedStacks>"
        ),
    )
}

fn resource_change(
    action: &str,
    logical: &str,
    ty: &str,
    replacement: &str,
    details: &str,
) -> String {
    let repl = if replacement.is_empty() {
        String::new()
    } else {
        format!("<Replacement>{replacement}</Replacement>")
    };
    format!(
        "<member><Type>Resource</Type><HookInvocationCount>0</HookInvocationCount><ResourceChange><Action>{action}</Action><LogicalResourceId>{logical}</LogicalResourceId><ResourceType>{ty}</ResourceType>{repl}<Scope><member>Properties</member></Scope><Details>{details}</Details></ResourceChange></member>"
    )
}

fn detail(name: &str, recreation: &str) -> String {
    format!(
        "<member><Target><Attribute>Properties</Attribute><Name>{name}</Name><RequiresRecreation>{recreation}</RequiresRecreation></Target><Evaluation>Static</Evaluation><ChangeSource>DirectModification</ChangeSource></member>"
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn get_template(template: &serde_json::Value) -> String {
    ok(
        "GetTemplate",
        &format!(
            "<TemplateBody>{}</TemplateBody><StagesAvailable><member>Original</member><member>Processed</member></StagesAvailable>",
            xml_escape(&template.to_string())
        ),
    )
}

fn identity(account: &str) -> String {
    format!(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:sts::{account}:assumed-role/acme-deploy/ci</Arn><UserId>AROAEXAMPLEID:ci</UserId><Account>{account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
    )
}

fn template(key: &str, extra_gsis: &[&str]) -> serde_json::Value {
    let gsis: Vec<_> = extra_gsis.iter().map(|g| json!({"IndexName": g, "KeySchema": [{"AttributeName": g, "KeyType": "HASH"}], "Projection": {"ProjectionType": "KEYS_ONLY"}})).collect();
    let mut t = json!({"Resources": {
        "Orders": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "Properties": {"BillingMode": "PAY_PER_REQUEST", "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}], "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"}]}},
        "OrderEvents": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}}
    }, "Outputs": {"OrdersTableName": {"Value": {"Ref": "Orders"}}}});
    if !gsis.is_empty() {
        t["Resources"]["Orders"]["Properties"]["GlobalSecondaryIndexes"] = json!(gsis);
    }
    t
}

fn artifact(t: &serde_json::Value) -> StackArtifact {
    StackArtifact {
        stack_name: STACK.into(),
        county_id: "06001".into(),
        account: ACCOUNT.into(),
        region: "us-east-1".into(),
        access: None,
        template_body: t.to_string(),
        tags: Default::default(),
        termination_protection: false,
        assets: vec![],
    }
}

/// The scenario's rules and the deployer over them.
struct Replay {
    deployer: Deployer,
    execute: Rule,
    delete_change_set: Rule,
    counter: CallCounter,
}

struct Script {
    account: String,
    /// Responses to `DescribeStacks` for the county stack, in order (last repeats).
    county: Vec<(u16, String)>,
    /// Responses to `DescribeStacks` for the bootstrap stack, in order (last repeats).
    bootstrap: Vec<(u16, String)>,
    create_change_set: (u16, String),
    describe_change_set: String,
    /// Responses to `DescribeStackEvents`, in order (last repeats).
    events: Vec<String>,
    deployed_template: Option<serde_json::Value>,
    /// Response to `UpdateTerminationProtection`.
    termination_protection: (u16, String),
}

impl Default for Script {
    fn default() -> Self {
        Self {
            account: ACCOUNT.into(),
            county: vec![(400, missing_stack())],
            bootstrap: vec![(200, bootstrap_stack())],
            create_change_set: (
                200,
                ok(
                    "CreateChangeSet",
                    &format!("<Id>{CS_ID}</Id><StackId>{STACK_ID}</StackId>"),
                ),
            ),
            describe_change_set: change_set("CREATE_COMPLETE", "", ""),
            events: vec![events(&[review_event()])],
            deployed_template: None,
            termination_protection: (
                200,
                ok(
                    "UpdateTerminationProtection",
                    &format!("<StackId>{STACK_ID}</StackId>"),
                ),
            ),
        }
    }
}

fn seq<I, O, E>(b: aws_smithy_mocks::RuleBuilder<I, O, E>, responses: &[(u16, String)]) -> Rule
where
    I: Send + Sync + std::fmt::Debug + 'static,
    O: Send + Sync + std::fmt::Debug + 'static,
    E: Send + Sync + std::fmt::Debug + std::error::Error + 'static,
{
    let mut s = b
        .sequence()
        .http_status(responses[0].0, Some(responses[0].1.clone()));
    for (status, body) in &responses[1..] {
        s = s.http_status(*status, Some(body.clone()));
    }
    s.repeatedly().build()
}

fn replay(script: Script) -> Replay {
    let counter = CallCounter::default();
    let describe_county = seq(
        mock!(Cfn::describe_stacks)
            .match_requests(|r| r.stack_name().is_some_and(|n| n.contains(STACK))),
        &script.county,
    );
    let describe_boot = seq(
        mock!(Cfn::describe_stacks).match_requests(|r| r.stack_name() == Some("acme-bootstrap")),
        &script.bootstrap,
    );
    let create = seq(
        mock!(Cfn::create_change_set),
        std::slice::from_ref(&script.create_change_set),
    );
    let describe_cs = seq(
        mock!(Cfn::describe_change_set),
        &[(200, script.describe_change_set.clone())],
    );
    let evs: Vec<(u16, String)> = script.events.iter().map(|e| (200, e.clone())).collect();
    let describe_events = seq(mock!(Cfn::describe_stack_events), &evs);
    let execute = seq(
        mock!(Cfn::execute_change_set),
        &[(200, ok("ExecuteChangeSet", ""))],
    );
    let delete_change_set = seq(
        mock!(Cfn::delete_change_set),
        &[(200, ok("DeleteChangeSet", ""))],
    );
    let delete_stack = seq(
        mock!(Cfn::delete_stack),
        &[(
            200,
            format!(
                "<DeleteStackResponse xmlns=\"{NS}\"><ResponseMetadata><RequestId>x</RequestId></ResponseMetadata></DeleteStackResponse>"
            ),
        )],
    );
    let tp = seq(
        mock!(Cfn::update_termination_protection),
        std::slice::from_ref(&script.termination_protection),
    );
    let tpl = seq(
        mock!(Cfn::get_template),
        &[(
            200,
            get_template(
                script
                    .deployed_template
                    .as_ref()
                    .unwrap_or(&serde_json::Value::Null),
            ),
        )],
    );
    let rules = [
        &describe_county,
        &describe_boot,
        &create,
        &describe_cs,
        &describe_events,
        &execute,
        &delete_change_set,
        &delete_stack,
        &tp,
        &tpl,
    ];
    let c = counter.clone();
    // The SDK's own standard retry stays on (as in production); only its
    // backoff is shortened so throttling tests take milliseconds.
    let retry = aws_sdk_cloudformation::config::retry::RetryConfig::standard()
        .with_initial_backoff(std::time::Duration::from_millis(1));
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        rules,
        move |b| b.interceptor(c.clone()).retry_config(retry.clone())
    );
    let sts_rule = seq(
        mock!(aws_sdk_sts::Client::get_caller_identity),
        &[(200, identity(&script.account))],
    );
    let c = counter.clone();
    let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, [&sts_rule], move |b| b
        .interceptor(c.clone()));
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, Vec::<&Rule>::new());
    let clients = Clients::from_parts(cfn, s3, sts, Some("us-east-1".into()), counter.clone());
    Replay {
        deployer: Deployer::new(clients, Pacing::fast()),
        execute,
        delete_change_set,
        counter,
    }
}

fn never_ask() -> DeployOptions {
    DeployOptions {
        require_approval: RequireApproval::Never,
        ..DeployOptions::default()
    }
}

#[tokio::test]
async fn a_failed_create_names_the_first_failing_resource_and_a_fix() {
    let adds = [
        resource_change("Add", "Orders", "AWS::DynamoDB::Table", "", ""),
        resource_change("Add", "OrderEvents", "AWS::SQS::Queue", "", ""),
    ]
    .join("");
    let review = review_event();
    // Newest first, as DescribeStackEvents returns them.
    let after = events(&[
        event(
            "e7",
            "00:41",
            STACK,
            "AWS::CloudFormation::Stack",
            "ROLLBACK_COMPLETE",
            "",
        ),
        event(
            "e6",
            "00:40",
            "OrderEvents",
            "AWS::SQS::Queue",
            "DELETE_COMPLETE",
            "",
        ),
        event(
            "e5",
            "00:20",
            STACK,
            "AWS::CloudFormation::Stack",
            "ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to create: [OrderEvents, Orders]. Rollback requested by user.",
        ),
        event(
            "e4",
            "00:19",
            "OrderEvents",
            "AWS::SQS::Queue",
            "CREATE_FAILED",
            "Resource creation cancelled",
        ),
        event(
            "e3",
            "00:18",
            "Orders",
            "AWS::DynamoDB::Table",
            "CREATE_FAILED",
            "Resource handler returned message: \"Table already exists: acme-06001-orders (Service: DynamoDb, Status Code: 400, Request ID: 8Q9R...)\" (RequestToken: 1a2b, HandlerErrorCode: AlreadyExists)",
        ),
        event(
            "e2",
            "00:05",
            "OrderEvents",
            "AWS::SQS::Queue",
            "CREATE_IN_PROGRESS",
            "",
        ),
        event(
            "e1",
            "00:04",
            "Orders",
            "AWS::DynamoDB::Table",
            "CREATE_IN_PROGRESS",
            "",
        ),
        event(
            "e0",
            "00:03",
            STACK,
            "AWS::CloudFormation::Stack",
            "CREATE_IN_PROGRESS",
            "User Initiated",
        ),
        review.clone(),
    ]);
    let r = replay(Script {
        county: vec![
            (400, missing_stack()),
            (200, county_stack("ROLLBACK_COMPLETE", "old")),
        ],
        describe_change_set: change_set("CREATE_COMPLETE", "", &adds),
        events: vec![events(std::slice::from_ref(&review)), after],
        ..Script::default()
    });
    let (out, text) = Output::capture(Format::Human);
    let e = r
        .deployer
        .deploy(vec![artifact(&template("pk", &[]))], &never_ask(), &out)
        .await
        .expect_err("rolled back");
    assert_eq!(e.exit(), Exit::CloudFormation);
    let DeployError::StackFailed {
        status,
        diagnosis: Some(d),
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(status, "ROLLBACK_COMPLETE");
    assert_eq!(
        (
            d.logical_id.as_str(),
            d.resource_type.as_str(),
            d.status.as_str()
        ),
        ("Orders", "AWS::DynamoDB::Table", "CREATE_FAILED")
    );
    assert!(d.fix.starts_with("name collision"), "{}", d.fix);
    let report = e.report();
    assert!(
        report.contains("first failure: Orders (AWS::DynamoDB::Table)")
            && report.contains("Table already exists"),
        "{report}"
    );
    assert!(
        report.lines().count() <= 24,
        "fits on one screen:\n{report}"
    );
    // Plain (non-TTY) output streams every event as a line.
    assert!(
        text.text()
            .contains("CREATE_FAILED        Orders (AWS::DynamoDB::Table)"),
        "{}",
        text.text()
    );
    assert_eq!(r.execute.num_calls(), 1);
}

#[tokio::test]
async fn a_rollback_complete_stack_is_deleted_and_created_again() {
    let review = review_event();
    let r = replay(Script {
        county: vec![
            (200, county_stack("ROLLBACK_COMPLETE", "old")), // the first look
            (200, county_stack("DELETE_COMPLETE", "old")),   // after DeleteStack
            (200, county_stack("CREATE_COMPLETE", "new")),   // after ExecuteChangeSet
        ],
        describe_change_set: change_set(
            "CREATE_COMPLETE",
            "",
            &resource_change("Add", "Orders", "AWS::DynamoDB::Table", "", ""),
        ),
        events: vec![
            events(&[event(
                "old-9",
                "00:00",
                STACK,
                "AWS::CloudFormation::Stack",
                "ROLLBACK_COMPLETE",
                "",
            )]),
            events(&[event(
                "del-1",
                "00:10",
                STACK,
                "AWS::CloudFormation::Stack",
                "DELETE_COMPLETE",
                "",
            )]),
            events(std::slice::from_ref(&review)),
            events(&[
                event(
                    "c2",
                    "00:30",
                    STACK,
                    "AWS::CloudFormation::Stack",
                    "CREATE_COMPLETE",
                    "",
                ),
                event(
                    "c1",
                    "00:29",
                    "Orders",
                    "AWS::DynamoDB::Table",
                    "CREATE_COMPLETE",
                    "",
                ),
                review.clone(),
            ]),
        ],
        ..Script::default()
    });
    let (out, text) = Output::capture(Format::Human);
    let report = r
        .deployer
        .deploy(vec![artifact(&template("pk", &[]))], &never_ask(), &out)
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.report(), text.text()));
    assert_eq!(report.stacks[0].outcome, Outcome::Created { changes: 1 });
    assert!(
        text.text().contains("is in ROLLBACK_COMPLETE")
            && text.text().contains("deleting it and creating it again"),
        "{}",
        text.text()
    );
    assert_eq!(r.counter.count("CloudFormation.DeleteStack"), 1);
}

#[tokio::test]
async fn a_replaced_table_is_refused_and_execute_is_never_called() {
    let old = template("pk", &[]);
    // The template diff sees only a BillingMode change; CloudFormation's own
    // verdict (Replacement: True) is what must stop this deploy.
    let mut new = old.clone();
    new["Resources"]["Orders"]["Properties"]["TableClass"] = json!("STANDARD_INFREQUENT_ACCESS");
    let change = resource_change(
        "Modify",
        "Orders",
        "AWS::DynamoDB::Table",
        "True",
        &(detail("KeySchema", "Always") + &detail("TableClass", "Never")),
    );
    let r = replay(Script {
        county: vec![(200, county_stack("UPDATE_COMPLETE", "old"))],
        describe_change_set: change_set("CREATE_COMPLETE", "", &change),
        deployed_template: Some(old),
        ..Script::default()
    });
    let (out, text) = Output::capture(Format::Human);
    let e = r
        .deployer
        .deploy(vec![artifact(&new)], &never_ask(), &out)
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
        e.to_string()
            .contains("Replacement True: Properties.KeySchema (recreation: Always)"),
        "{e}"
    );
    let shown = text.text();
    assert!(
        shown.contains("! REPLACE Orders  AWS::DynamoDB::Table")
            && shown.contains("Properties.KeySchema (recreation: Always)"),
        "{shown}"
    );
    assert_eq!(r.execute.num_calls(), 0);
    assert_eq!(r.counter.count("CloudFormation.ExecuteChangeSet"), 0);
    assert_eq!(
        r.delete_change_set.num_calls(),
        1,
        "the refused change set is deleted"
    );
}

#[tokio::test]
async fn two_gsi_additions_are_refused_and_execute_is_never_called() {
    let old = template("pk", &[]);
    let new = template("pk", &["byCustomer", "byStore"]);
    let r = replay(Script {
        county: vec![(200, county_stack("UPDATE_COMPLETE", "old"))],
        describe_change_set: change_set(
            "CREATE_COMPLETE",
            "",
            &resource_change(
                "Modify",
                "Orders",
                "AWS::DynamoDB::Table",
                "False",
                &detail("GlobalSecondaryIndexes", "Never"),
            ),
        ),
        deployed_template: Some(old),
        ..Script::default()
    });
    let (out, _) = Output::capture(Format::Human);
    let e = r
        .deployer
        .deploy(vec![artifact(&new)], &never_ask(), &out)
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
    assert_eq!(r.execute.num_calls(), 0);
    assert_eq!(r.delete_change_set.num_calls(), 1);
}

#[tokio::test]
async fn broadening_without_a_terminal_or_with_a_no_is_refused_and_execute_is_never_called() {
    for answer in [None, Some(false)] {
        let mut new = template("pk", &[]);
        new["Resources"]["ReaderRole"] =
            json!({"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}});
        let r = replay(Script {
            county: vec![(200, county_stack("UPDATE_COMPLETE", "old"))],
            describe_change_set: change_set(
                "CREATE_COMPLETE",
                "",
                &resource_change("Add", "ReaderRole", "AWS::IAM::Role", "", ""),
            ),
            deployed_template: Some(template("pk", &[])),
            ..Script::default()
        });
        let (out, _) = Output::capture(Format::Human);
        let out = match answer {
            Some(a) => out.with_prompt(move |_| a),
            None => out,
        };
        let e = r
            .deployer
            .deploy(vec![artifact(&new)], &DeployOptions::default(), &out)
            .await
            .expect_err("not approved");
        assert_eq!(e.exit(), Exit::NotApproved, "{e:?}");
        assert!(e.to_string().contains("ReaderRole (AWS::IAM::Role)"), "{e}");
        assert_eq!(r.execute.num_calls(), 0);
        assert_eq!(r.delete_change_set.num_calls(), 1);
    }
}

#[tokio::test]
async fn any_change_approval_asks_even_for_a_harmless_change() {
    let mut new = template("pk", &[]);
    new["Resources"]["OrderEvents"]["Properties"]["VisibilityTimeout"] = json!(60);
    let r = replay(Script {
        county: vec![(200, county_stack("UPDATE_COMPLETE", "old"))],
        describe_change_set: change_set(
            "CREATE_COMPLETE",
            "",
            &resource_change(
                "Modify",
                "OrderEvents",
                "AWS::SQS::Queue",
                "False",
                &detail("VisibilityTimeout", "Never"),
            ),
        ),
        deployed_template: Some(template("pk", &[])),
        ..Script::default()
    });
    let (out, _) = Output::capture(Format::Human);
    let opts = DeployOptions {
        require_approval: RequireApproval::AnyChange,
        ..DeployOptions::default()
    };
    let e = r
        .deployer
        .deploy(vec![artifact(&new)], &opts, &out)
        .await
        .expect_err("not approved");
    assert!(matches!(e, DeployError::NotApproved { .. }));
    assert_eq!(r.execute.num_calls(), 0);
}

#[tokio::test]
async fn an_empty_change_set_in_real_cloudformation_is_deleted_and_reported_as_no_changes() {
    let r = replay(Script {
        county: vec![(200, county_stack("UPDATE_COMPLETE", "stale-hash"))],
        describe_change_set: change_set(
            "FAILED",
            "The submitted information didn't contain changes. Submit different information to create a change set.",
            "",
        ),
        deployed_template: Some(template("pk", &[])),
        ..Script::default()
    });
    let (out, _) = Output::capture(Format::Human);
    let report = r
        .deployer
        .deploy(vec![artifact(&template("pk", &[]))], &never_ask(), &out)
        .await
        .unwrap_or_else(|e| panic!("{}", e.report()));
    assert_eq!(
        report.stacks[0].outcome,
        Outcome::Unchanged {
            reason: "CloudFormation found no changes".into()
        }
    );
    assert_eq!(r.delete_change_set.num_calls(), 1);
    assert_eq!(r.execute.num_calls(), 0);
}

#[tokio::test]
async fn no_updates_to_be_performed_at_create_time_is_no_changes() {
    let r = replay(Script {
        county: vec![(200, county_stack("UPDATE_COMPLETE", "stale-hash"))],
        create_change_set: (
            400,
            error("ValidationError", "No updates are to be performed."),
        ),
        deployed_template: Some(template("pk", &[])),
        ..Script::default()
    });
    let (out, _) = Output::capture(Format::Human);
    let report = r
        .deployer
        .deploy(vec![artifact(&template("pk", &[]))], &never_ask(), &out)
        .await
        .unwrap_or_else(|e| panic!("{}", e.report()));
    assert!(matches!(
        report.stacks[0].outcome,
        Outcome::Unchanged { .. }
    ));
    assert_eq!(r.execute.num_calls(), 0);
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_until_it_succeeds() {
    let throttled = (400, error("Throttling", "Rate exceeded"));
    let r = replay(Script {
        // Five throttles in a row: more than the SDK's own three attempts.
        bootstrap: vec![
            throttled.clone(),
            throttled.clone(),
            throttled.clone(),
            throttled.clone(),
            throttled,
            (200, bootstrap_stack()),
        ],
        county: vec![(200, county_stack("UPDATE_COMPLETE", "will-not-match"))],
        describe_change_set: change_set("FAILED", "No updates are to be performed.", ""),
        deployed_template: Some(template("pk", &[])),
        ..Script::default()
    });
    let (out, _) = Output::capture(Format::Human);
    let report = r
        .deployer
        .deploy(vec![artifact(&template("pk", &[]))], &never_ask(), &out)
        .await
        .unwrap_or_else(|e| panic!("{}", e.report()));
    assert!(matches!(
        report.stacks[0].outcome,
        Outcome::Unchanged { .. }
    ));
    // 5 throttled attempts + 1 success for the bootstrap stack, +1 for the county.
    assert!(
        r.counter.count("CloudFormation.DescribeStacks") >= 7,
        "{:?}",
        r.counter.snapshot()
    );
}

#[tokio::test]
async fn throttling_that_never_ends_gives_up_with_the_aws_error() {
    let r = replay(Script {
        bootstrap: vec![(400, error("Throttling", "Rate exceeded"))],
        ..Script::default()
    });
    let (out, _) = Output::capture(Format::Human);
    let e = r
        .deployer
        .deploy(vec![artifact(&template("pk", &[]))], &never_ask(), &out)
        .await
        .expect_err("gives up");
    assert!(
        matches!(&e, DeployError::Aws { code: Some(c), .. } if c == "Throttling"),
        "{e:?}"
    );
    assert_eq!(e.exit(), Exit::CloudFormation);
    assert!(e.fix().is_some_and(|f| f.contains("--concurrency")));
}

#[tokio::test]
async fn another_account_is_refused_before_any_cloudformation_call() {
    let r = replay(Script {
        account: "210987654321".into(),
        ..Script::default()
    });
    let (out, _) = Output::capture(Format::Human);
    let e = r
        .deployer
        .deploy(vec![artifact(&template("pk", &[]))], &never_ask(), &out)
        .await
        .expect_err("wrong account");
    assert_eq!(e.exit(), Exit::Credentials);
    assert!(
        e.to_string().contains("account 210987654321")
            && e.to_string()
                .contains("acme-06001 wants 123456789012/us-east-1"),
        "{e}"
    );
    assert_eq!(
        r.counter.snapshot().keys().collect::<Vec<_>>(),
        ["STS.GetCallerIdentity"]
    );
}

#[tokio::test]
async fn an_outdated_bootstrap_is_refused_with_the_upgrade_command() {
    let old_boot = ok(
        "DescribeStacks",
        &format!(
            "<Stacks>{}</Stacks>",
            stack_xml(
                "acme-bootstrap",
                "arn:aws:cloudformation:us-east-1:123456789012:stack/acme-bootstrap/1",
                "CREATE_COMPLETE",
                "<Outputs><member><OutputKey>AssetsBucketName</OutputKey><OutputValue>b</OutputValue></member><member><OutputKey>BootstrapVersion</OutputKey><OutputValue>0</OutputValue></member></Outputs>"
            )
        ),
    );
    let r = replay(Script {
        bootstrap: vec![(200, old_boot)],
        ..Script::default()
    });
    let (out, _) = Output::capture(Format::Human);
    let e = r
        .deployer
        .deploy(vec![artifact(&template("pk", &[]))], &never_ask(), &out)
        .await
        .expect_err("old bootstrap");
    assert!(matches!(
        e,
        DeployError::Refused {
            kind: RefusalKind::Bootstrap,
            ..
        }
    ));
    assert!(e.to_string().contains("bootstrap version 0"), "{e}");
    assert!(e.fix().is_some_and(|f| {
        f.contains("acme-infra bootstrap --account 123456789012 --region us-east-1")
    }));
}

#[tokio::test]
async fn termination_protection_is_turned_on_after_a_create() {
    let r = replay(Script {
        county: vec![
            (400, missing_stack()),
            (200, county_stack("CREATE_COMPLETE", "x")),
        ],
        describe_change_set: change_set(
            "CREATE_COMPLETE",
            "",
            &resource_change("Add", "Orders", "AWS::DynamoDB::Table", "", ""),
        ),
        events: created_events(),
        ..Script::default()
    });
    let mut a = artifact(&template("pk", &[]));
    a.termination_protection = true;
    let (out, _) = Output::capture(Format::Json);
    let report = r
        .deployer
        .deploy(vec![a], &never_ask(), &out)
        .await
        .unwrap_or_else(|e| panic!("{}", e.report()));
    assert_eq!(report.stacks[0].outcome, Outcome::Created { changes: 1 });
    assert_eq!(
        r.counter
            .count("CloudFormation.UpdateTerminationProtection"),
        1
    );
    assert_eq!(
        report.stacks[0]
            .outputs
            .get("OrdersTableName")
            .map(String::as_str),
        Some("acme-06001-Orders-1AB2CD3EF4GH")
    );
}

/// Ctrl-C while CloudFormation creates the stack: the deployer stops waiting,
/// says the operation goes on and how to follow or cancel it, and neither
/// deletes nor cancels anything itself.
#[tokio::test]
async fn ctrl_c_while_the_stack_is_changing_stops_waiting_and_leaves_it_to_cloudformation() {
    let review = review_event();
    let creating = event(
        "c1",
        "00:01",
        "Orders",
        "AWS::DynamoDB::Table",
        "CREATE_IN_PROGRESS",
        "",
    );
    let r = replay(Script {
        county: vec![
            (400, missing_stack()),
            (200, county_stack("CREATE_IN_PROGRESS", "x")),
        ],
        describe_change_set: change_set(
            "CREATE_COMPLETE",
            "",
            &resource_change("Add", "Orders", "AWS::DynamoDB::Table", "", ""),
        ),
        // The stack never settles.
        events: vec![
            events(std::slice::from_ref(&review)),
            events(&[creating, review.clone()]),
        ],
        ..Script::default()
    });
    let interrupt = Interrupt::new();
    let d = r.deployer.clone().with_interrupt(interrupt.clone());
    let counter = r.counter.clone();
    // Press Ctrl-C once the deployer is polling an executing stack.
    let presser = tokio::spawn(async move {
        while counter.count("CloudFormation.DescribeStackEvents") < 4 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        interrupt.raise();
    });
    let (out, text) = Output::capture(Format::Human);
    let e = d
        .deploy(vec![artifact(&template("pk", &[]))], &never_ask(), &out)
        .await
        .expect_err("interrupted");
    // Had the deploy ended before polling, the presser would wait forever.
    let pressed = presser.is_finished();
    presser.abort();
    assert!(pressed, "the deploy ended before polling: {e:?}");
    assert!(matches!(e, DeployError::Interrupted { .. }), "{e:?}");
    assert_eq!(e.exit(), Exit::Interrupted);
    let report = e.report();
    assert!(
        report.contains("CREATE_IN_PROGRESS")
            && report.contains("carries on")
            && report.contains(&format!("cancel-update-stack --stack-name {STACK}")),
        "{report}\n{}",
        text.text()
    );
    assert_eq!(r.counter.count("CloudFormation.ExecuteChangeSet"), 1);
    for untouched in [
        "CloudFormation.DeleteChangeSet",
        "CloudFormation.DeleteStack",
        "CloudFormation.CancelUpdateStack",
    ] {
        assert_eq!(r.counter.count(untouched), 0, "{untouched}");
    }
}

/// Ctrl-C before a change set runs (here: while its approval is asked):
/// the change set and the empty stack are deleted, nothing is executed.
#[tokio::test]
async fn ctrl_c_before_execution_deletes_the_change_set_and_executes_nothing() {
    let r = replay(Script {
        describe_change_set: change_set(
            "CREATE_COMPLETE",
            "",
            &resource_change("Add", "Orders", "AWS::DynamoDB::Table", "", ""),
        ),
        ..Script::default()
    });
    let interrupt = Interrupt::new();
    let d = r.deployer.clone().with_interrupt(interrupt.clone());
    // The operator presses Ctrl-C at the question, and the terminal then
    // answers "yes": the interrupt still wins.
    let (out, text) = Output::capture(Format::Human);
    let out = out.with_prompt(move |_| {
        interrupt.raise();
        true
    });
    let opts = DeployOptions {
        require_approval: RequireApproval::AnyChange,
        ..DeployOptions::default()
    };
    let e = d
        .deploy(vec![artifact(&template("pk", &[]))], &opts, &out)
        .await
        .expect_err("interrupted");
    assert!(matches!(e, DeployError::Interrupted { .. }), "{e:?}");
    assert_eq!(e.exit(), Exit::Interrupted);
    assert!(e.to_string().contains("nothing was executed"), "{e}");
    assert_eq!(r.counter.count("CloudFormation.ExecuteChangeSet"), 0);
    assert_eq!(r.counter.count("CloudFormation.DeleteChangeSet"), 1);
    assert!(
        text.text()
            .contains("deleted the change set (the deploy was interrupted)"),
        "{}",
        text.text()
    );
}

/// Counties not yet started when Ctrl-C comes are not started at all, and
/// the run still ends with the interrupt's exit code.
#[tokio::test]
async fn ctrl_c_before_a_county_starts_means_it_never_starts() {
    let r = replay(Script::default());
    let interrupt = Interrupt::new();
    interrupt.raise();
    let d = r.deployer.clone().with_interrupt(interrupt);
    let (out, _) = Output::capture(Format::Human);
    let e = d
        .deploy(vec![artifact(&template("pk", &[]))], &never_ask(), &out)
        .await
        .expect_err("interrupted");
    assert_eq!(e.exit(), Exit::Interrupted, "{e:?}");
    assert!(e.to_string().contains("not started"), "{e}");
    assert_eq!(r.counter.count("CloudFormation.CreateChangeSet"), 0);
}

/// An endpoint that cannot set termination protection (the local emulator
/// answers an HTML error page) does not turn a finished deploy into a
/// failure: the deploy succeeds, warns once, and gives the command to run.
#[tokio::test]
async fn termination_protection_that_cannot_be_set_is_a_warning_with_the_fix() {
    let r = replay(Script {
        county: vec![
            (400, missing_stack()),
            (200, county_stack("CREATE_COMPLETE", "x")),
        ],
        describe_change_set: change_set(
            "CREATE_COMPLETE",
            "",
            &resource_change("Add", "Orders", "AWS::DynamoDB::Table", "", ""),
        ),
        events: created_events(),
        termination_protection: (
            500,
            "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n".into(),
        ),
        ..Script::default()
    });
    let mut a = artifact(&template("pk", &[]));
    a.termination_protection = true;
    let (out, text) = Output::capture(Format::Human);
    let report = r
        .deployer
        .deploy(vec![a], &never_ask(), &out)
        .await
        .unwrap_or_else(|e| panic!("{}", e.report()));
    assert_eq!(report.stacks[0].outcome, Outcome::Created { changes: 1 });
    let t = text.text();
    assert!(
        t.contains("termination protection could not be turned on")
            && t.contains("HTTP 500 with no AWS error")
            && t.contains(&format!(
                "update-termination-protection --enable-termination-protection --stack-name {STACK}"
            )),
        "{t}"
    );
    assert!(!t.contains("<!doctype"), "no raw response dump: {t}");
    assert_eq!(
        r.counter
            .count("CloudFormation.UpdateTerminationProtection"),
        1,
        "one attempt: the next deploy tries again"
    );
}

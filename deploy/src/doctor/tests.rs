//! Doctor's verdicts as pure functions, and its reads through the real SDK
//! clients with HTTP answers replayed by the SDK's `StaticReplayClient`.
//! The bodies have the shapes the Service Quotas (JSON 1.1), Account
//! (REST JSON) and DynamoDB (JSON 1.0) API references document, so the
//! SDK's own deserializers and error parsing run.

use std::path::Path;

use acme_stacks::config::{CountyConfig, Environments};
use aws_sdk_account::types::RegionOptStatus;
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use super::quotas::{self, LambdaNeed, Quota, Source};
use super::{Outcome, opt_in_verdict};

fn travis() -> CountyConfig {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
    Environments::open(&dir)
        .expect("environments")
        .load("travis-tx")
        .expect("travis-tx")
}

fn answer(status: u16, content_type: &str, body: &str) -> ReplayEvent {
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::from(body.to_owned()),
    );
    response
        .headers_mut()
        .insert("content-type", content_type.to_owned());
    response.headers_mut().insert(
        "x-amzn-requestid",
        "4f2c1a7e-9b3d-4e8a-b6c5-2d1e0f9a8b7c".to_owned(),
    );
    ReplayEvent::new(HttpRequest::new(SdkBody::empty()), response)
}

const JSON11: &str = "application/x-amz-json-1.1";

/// `GetServiceQuota` / `GetAWSDefaultServiceQuota`'s answer (the default's
/// ARN has no account).
fn quota_body(service: &str, code: &str, name: &str, value: f64, account: &str) -> String {
    format!(
        r#"{{"Quota":{{"ServiceCode":"{service}","ServiceName":"{service}","QuotaArn":"arn:aws:servicequotas:us-east-2:{account}:{service}/{code}","QuotaCode":"{code}","QuotaName":"{name}","Value":{value:.1},"Unit":"None","Adjustable":true,"GlobalQuota":false,"QuotaAppliedAtLevel":"ACCOUNT"}}}}"#
    )
}

fn error_body(code: &str, message: &str) -> String {
    format!(r#"{{"__type":"{code}","Message":"{message}"}}"#)
}

/// The SDK configuration every replayed client is built from: region,
/// static credentials and the replay as its HTTP client.
fn replay_sdk(http: &StaticReplayClient) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-2"))
        .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
            aws_sdk_sts::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "replay"),
        ))
        .http_client(http.clone())
        .build()
}

fn quotas_client(http: &StaticReplayClient) -> aws_sdk_servicequotas::Client {
    aws_sdk_servicequotas::Client::new(&replay_sdk(http))
}

/// The `X-Amz-Target` operations the client sent, and each body.
fn sent(http: &StaticReplayClient) -> Vec<(String, String)> {
    http.actual_requests()
        .map(|r| {
            let target = r.headers().get("x-amz-target").unwrap_or("").to_owned();
            let body = r
                .body()
                .bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            (target, body)
        })
        .collect()
}

#[tokio::test]
async fn an_applied_lambda_quota_is_read_and_passes_with_its_figures() {
    let http = StaticReplayClient::new(vec![answer(
        200,
        JSON11,
        &quota_body(
            "lambda",
            "L-B99A9384",
            "Concurrent executions",
            1000.0,
            "123456789012",
        ),
    )]);
    let quota = quotas::read(&quotas_client(&http), quotas::LAMBDA_CONCURRENCY).await;
    assert_eq!(
        quota,
        Ok(Quota {
            value: 1000.0,
            source: Source::Applied
        })
    );
    let requests = sent(&http);
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].0, "ServiceQuotasV20190624.GetServiceQuota");
    let body: serde_json::Value = serde_json::from_str(&requests[0].1).expect("JSON body");
    assert_eq!(body["ServiceCode"], "lambda");
    assert_eq!(body["QuotaCode"], "L-B99A9384");

    let check = quotas::lambda_verdict(LambdaNeed::of(&travis()), quota, "us-east-2");
    assert_eq!(check.outcome, Outcome::Pass, "{check}");
    assert_eq!(
        check.detail,
        "quota 1000 (applied), the county needs 351: 201 reserved + 50 for the worker's queue + the 100 Lambda keeps unreserved"
    );
}

#[tokio::test]
async fn no_applied_value_falls_back_to_the_default_and_a_low_default_warns() {
    let http = StaticReplayClient::new(vec![
        answer(
            400,
            JSON11,
            &error_body(
                "NoSuchResourceException",
                "The request failed because the specified resource does not exist.",
            ),
        ),
        answer(
            200,
            JSON11,
            &quota_body("apigateway", "L-8A5B8E43", "Throttle rate", 2500.0, ""),
        ),
    ]);
    let quota = quotas::read(&quotas_client(&http), quotas::API_THROTTLE).await;
    assert_eq!(
        quota,
        Ok(Quota {
            value: 2500.0,
            source: Source::Default
        })
    );
    let targets: Vec<String> = sent(&http).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        targets,
        [
            "ServiceQuotasV20190624.GetServiceQuota",
            "ServiceQuotasV20190624.GetAWSDefaultServiceQuota"
        ]
    );
    // af-south-1 and a few other regions default to 2,500 requests/s.
    let check = quotas::api_verdict(5000, 2000, quota, "af-south-1");
    assert_eq!(check.outcome, Outcome::Warn, "{check}");
    assert!(
        check.detail.starts_with(
            "account throttle 2500 requests/s (AWS default, no applied value), shared by every API in af-south-1; the stage asks for 5000 requests/s (burst 2000): the account throttles first"
        ),
        "{check}"
    );
    assert!(
        check
            .detail
            .contains("--quota-code L-8A5B8E43 --desired-value 5000"),
        "{check}"
    );
}

#[tokio::test]
async fn a_new_accounts_lambda_quota_fails_the_deploy_it_would_break() {
    // New accounts start with a reduced concurrency quota.
    let http = StaticReplayClient::new(vec![answer(
        200,
        JSON11,
        &quota_body(
            "lambda",
            "L-B99A9384",
            "Concurrent executions",
            10.0,
            "123456789012",
        ),
    )]);
    let quota = quotas::read(&quotas_client(&http), quotas::LAMBDA_CONCURRENCY).await;
    let check = quotas::lambda_verdict(LambdaNeed::of(&travis()), quota, "us-east-2");
    assert_eq!(check.outcome, Outcome::Fail, "{check}");
    assert!(
        check
            .detail
            .starts_with("quota 10 (applied), the county needs 351")
            && check.detail.contains("the deploy would fail")
            && check.detail.contains("--desired-value 351"),
        "{check}"
    );
}

#[tokio::test]
async fn a_refused_read_is_a_warning_naming_the_permission_and_no_default_is_taken() {
    let http = StaticReplayClient::new(vec![answer(
        400,
        JSON11,
        &error_body(
            "AccessDeniedException",
            "User: arn:aws:sts::123456789012:assumed-role/acme-deploy/ci is not authorized to perform: servicequotas:GetServiceQuota",
        ),
    )]);
    let quota = quotas::read(&quotas_client(&http), quotas::DYNAMODB_TABLES).await;
    assert_eq!(
        quota,
        Err("GetServiceQuota: AccessDeniedException, HTTP 400".to_owned())
    );
    // The default is not the account's value when the applied one exists
    // but was refused: no second call.
    assert_eq!(sent(&http).len(), 1);
    let check = quotas::tables_verdict(5, Ok(3), quota, "us-east-2");
    assert_eq!(check.outcome, Outcome::Warn, "{check}");
    assert_eq!(
        check.detail,
        "Maximum number of tables quota not read (GetServiceQuota: AccessDeniedException, HTTP 400); 3 other tables in the account + the county's 5 = 8: allow servicequotas:GetServiceQuota and servicequotas:GetAWSDefaultServiceQuota, or check by hand: `aws service-quotas get-service-quota --service-code dynamodb --quota-code L-F98FE922 --region us-east-2`"
    );
}

#[tokio::test]
async fn tables_already_in_the_account_are_counted_across_pages_without_the_countys_own() {
    let http = StaticReplayClient::new(vec![
        answer(
            200,
            "application/x-amz-json-1.0",
            r#"{"LastEvaluatedTableName":"acme-travis-tx-OrdersTable-1X2Y3Z","TableNames":["acme-bootstrap-locks","acme-travis-tx-OrdersTable-1X2Y3Z"]}"#,
        ),
        answer(
            200,
            "application/x-amz-json-1.0",
            r#"{"TableNames":["acme-williamson-tx-OrdersTable-9Q8W7E","acme-travis-tx-CustomersTable-4R5T6Y"]}"#,
        ),
    ]);
    let client = aws_sdk_dynamodb::Client::new(&replay_sdk(&http));
    let others = quotas::other_tables(&client, &travis()).await;
    assert_eq!(others, Ok(2));
    assert_eq!(http.actual_requests().count(), 2);
}

fn applied(value: f64) -> Result<Quota, String> {
    Ok(Quota {
        value,
        source: Source::Applied,
    })
}

#[test]
fn the_lambda_need_counts_reservations_and_an_unreserved_worker_once() {
    let mut cfg = travis();
    // api 200 + the sweeper's default 1; the worker runs unreserved.
    assert_eq!(
        LambdaNeed::of(&cfg),
        LambdaNeed {
            reserved: 201,
            worker: 50
        }
    );
    cfg.functions.worker.reserved_concurrency = Some(40);
    let need = LambdaNeed::of(&cfg);
    assert_eq!(
        need,
        LambdaNeed {
            reserved: 241,
            worker: 0
        }
    );
    assert_eq!((need.deployable(), need.total()), (341, 341));
}

#[test]
fn lambda_verdicts_at_the_edges() {
    let need = LambdaNeed {
        reserved: 201,
        worker: 50,
    };
    let at = |v| quotas::lambda_verdict(need, applied(v), "us-east-2").outcome;
    assert_eq!(at(351.0), Outcome::Pass);
    assert_eq!(at(350.0), Outcome::Warn);
    assert_eq!(at(301.0), Outcome::Warn);
    assert_eq!(at(300.0), Outcome::Fail);
    let unread =
        quotas::lambda_verdict(need, Err("GetServiceQuota: timed out".into()), "us-east-2");
    assert_eq!(unread.outcome, Outcome::Warn);
    assert!(
        unread
            .detail
            .contains("--service-code lambda --quota-code L-B99A9384 --region us-east-2"),
        "{unread}"
    );
}

#[test]
fn api_and_table_verdicts_at_the_edges() {
    assert_eq!(
        quotas::api_verdict(10_000, 5_000, applied(10_000.0), "us-east-2").outcome,
        Outcome::Pass
    );
    assert_eq!(
        quotas::api_verdict(10_001, 5_000, applied(10_000.0), "us-east-2").outcome,
        Outcome::Warn
    );

    let tables = |others, quota| quotas::tables_verdict(5, others, applied(quota), "us-east-2");
    assert_eq!(tables(Ok(2495), 2500.0).outcome, Outcome::Pass);
    let full = tables(Ok(2496), 2500.0);
    assert_eq!(full.outcome, Outcome::Fail);
    assert!(full.detail.starts_with("quota 2500 (applied); 2496 other tables in the account + the county's 5 = 2501: CreateTable would fail"), "{full}");
    // Without ListTables the county's own tables still fit, but only a warning can say so.
    let uncounted = tables(
        Err("ListTables: AccessDeniedException, HTTP 400".into()),
        2500.0,
    );
    assert_eq!(uncounted.outcome, Outcome::Warn);
    assert!(
        uncounted.detail.contains("allow dynamodb:ListTables"),
        "{uncounted}"
    );
    assert_eq!(
        tables(Err("ListTables: timed out".into()), 4.0).outcome,
        Outcome::Fail
    );
}

#[test]
fn opt_in_statuses() {
    let verdict = |s: RegionOptStatus| opt_in_verdict("ap-east-1", Some(&s)).outcome;
    assert_eq!(verdict(RegionOptStatus::Enabled), Outcome::Pass);
    assert_eq!(verdict(RegionOptStatus::EnabledByDefault), Outcome::Pass);
    assert_eq!(verdict(RegionOptStatus::Enabling), Outcome::Warn);
    assert_eq!(verdict(RegionOptStatus::Disabling), Outcome::Fail);
    assert_eq!(verdict(RegionOptStatus::Disabled), Outcome::Fail);
    assert_eq!(
        verdict(RegionOptStatus::from("SOMETHING_NEW")),
        Outcome::Warn
    );
    assert_eq!(opt_in_verdict("ap-east-1", None).outcome, Outcome::Warn);
}

#[tokio::test]
async fn a_disabled_opt_in_region_is_read_through_the_account_api_and_fails() {
    let http = StaticReplayClient::new(vec![answer(
        200,
        "application/json",
        r#"{"RegionName":"ap-east-1","RegionOptStatus":"DISABLED"}"#,
    )]);
    let status = super::opt_in_status(
        &aws_sdk_account::Client::new(&replay_sdk(&http)),
        "ap-east-1",
    )
    .await;
    assert_eq!(status, Ok(Some(RegionOptStatus::Disabled)));
    let request = http.actual_requests().next().expect("one request");
    assert!(
        request.uri().ends_with("/getRegionOptStatus"),
        "{}",
        request.uri()
    );
    let check = opt_in_verdict("ap-east-1", status.expect("read").as_ref());
    assert_eq!(check.outcome, Outcome::Fail);
    assert_eq!(
        check.detail,
        "ap-east-1: opt-in status DISABLED: not enabled for the account: `aws account enable-region --region-name ap-east-1`, then wait for ENABLED"
    );
}

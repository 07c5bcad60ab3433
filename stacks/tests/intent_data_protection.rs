//! Data-protection intent, read from the generated templates of every sample
//! county: what a security reviewer would check by hand, checked every build.
//!
//! * every bucket refuses plain HTTP and blocks all public access;
//! * every table and queue is encrypted with the county key (the Customers
//!   table with its own PII key);
//! * the audit bucket (the trail's destination) is under Object Lock in
//!   COMPLIANCE mode for the county's `audit_retention_days`;
//! * every trail validates its log files;
//! * every alarm notifies the operations topic, on ALARM and on OK;
//! * the dashboard body is valid JSON once CloudFormation has substituted it.

mod common;

use acme_stacks::config::CountyConfig;
use acme_stacks::synth::{Format, synthesize};
use serde_json::{Value, json};

/// The county's customer-managed key and the separate key of customer PII.
const COUNTY_KEY: &str = "CountyKey";
const PII_KEY: &str = "CustomersKey";
const PII_TABLE: &str = "CustomersTable";

/// Each sample county with its template, plus one with every optional
/// feature on, so resources no sample enables are held to the same rules.
fn templates() -> Vec<(CountyConfig, Value)> {
    let mut counties = common::sample_counties();
    let mut all_on = counties[0].clone();
    all_on.analytics.redshift_serverless = true;
    counties.push(all_on);
    counties
        .into_iter()
        .map(|c| {
            let s = synthesize(&c, Format::Json).expect("synth");
            let t = serde_json::from_str(&s.body).expect("template is JSON");
            (c, t)
        })
        .collect()
}

fn of_type<'a>(t: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    t["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id, &r["Properties"]))
        .collect()
}

fn arn_of(id: &str) -> Value {
    json!({"Fn::GetAtt": [id, "Arn"]})
}

#[test]
fn every_bucket_is_tls_only_and_not_public() {
    for (c, t) in templates() {
        let buckets = of_type(&t, "AWS::S3::Bucket");
        assert!(
            buckets.len() >= 3,
            "{}: analytics, audit and log buckets",
            c.id
        );
        let policies = of_type(&t, "AWS::S3::BucketPolicy");
        for (id, b) in buckets {
            let block = &b["PublicAccessBlockConfiguration"];
            for switch in [
                "BlockPublicAcls",
                "BlockPublicPolicy",
                "IgnorePublicAcls",
                "RestrictPublicBuckets",
            ] {
                assert_eq!(block[switch], true, "{}: {id}.{switch}", c.id);
            }
            let policy = policies
                .iter()
                .find(|(_, p)| p["Bucket"] == json!({"Ref": id}))
                .unwrap_or_else(|| panic!("{}: bucket {id} has no bucket policy", c.id));
            let objects = json!({"Fn::Sub": format!("${{{id}.Arn}}/*")});
            let tls_only = policy.1["PolicyDocument"]["Statement"]
                .as_array()
                .expect("statements")
                .iter()
                .any(|s| {
                    s["Effect"] == "Deny"
                        && s["Principal"] == "*"
                        && s["Action"] == json!(["s3:*"])
                        && s["Condition"]["Bool"]["aws:SecureTransport"] == false
                        && s["Resource"]
                            .as_array()
                            .is_some_and(|r| r.contains(&arn_of(id)) && r.contains(&objects))
                });
            assert!(tls_only, "{}: {id} does not deny insecure transport", c.id);
        }
    }
}

#[test]
fn every_table_and_queue_is_on_the_county_key_or_the_pii_key() {
    for (c, t) in templates() {
        let tables = of_type(&t, "AWS::DynamoDB::Table");
        assert!(tables.iter().any(|(id, _)| *id == PII_TABLE), "{}", c.id);
        for (id, p) in tables {
            let want = if id == PII_TABLE { PII_KEY } else { COUNTY_KEY };
            let sse = &p["SSESpecification"];
            assert_eq!(sse["SSEEnabled"], true, "{}: {id}", c.id);
            assert_eq!(sse["SSEType"], "KMS", "{}: {id}", c.id);
            assert_eq!(sse["KMSMasterKeyId"], arn_of(want), "{}: {id}", c.id);
        }
        let queues = of_type(&t, "AWS::SQS::Queue");
        assert!(!queues.is_empty());
        for (id, p) in queues {
            assert_eq!(p["KmsMasterKeyId"], arn_of(COUNTY_KEY), "{}: {id}", c.id);
        }
    }
}

#[test]
fn the_audit_bucket_is_locked_in_compliance_mode_for_the_county_retention() {
    for (c, t) in templates() {
        let trails = of_type(&t, "AWS::CloudTrail::Trail");
        assert_eq!(trails.len(), 1, "{}: one trail", c.id);
        for (id, trail) in trails {
            assert_eq!(trail["EnableLogFileValidation"], true, "{}: {id}", c.id);
            assert_eq!(trail["IsLogging"], true, "{}: {id}", c.id);
            assert_eq!(trail["KMSKeyId"], arn_of(COUNTY_KEY), "{}: {id}", c.id);
            let bucket_id = trail["S3BucketName"]["Ref"]
                .as_str()
                .expect("the trail names a bucket of the stack");
            let bucket = &t["Resources"][bucket_id];
            assert_eq!(bucket["DeletionPolicy"], "Retain", "{}", c.id);
            assert_eq!(bucket["UpdateReplacePolicy"], "Retain", "{}", c.id);
            let p = &bucket["Properties"];
            assert_eq!(p["ObjectLockEnabled"], true, "{}", c.id);
            assert_eq!(
                p["ObjectLockConfiguration"],
                json!({
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": c.audit_retention_days}}
                }),
                "{}",
                c.id
            );
            assert_eq!(p["VersioningConfiguration"]["Status"], "Enabled");
            assert_eq!(
                p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
                    ["KMSMasterKeyID"],
                arn_of(COUNTY_KEY)
            );
        }
    }
}

#[test]
fn every_alarm_notifies_the_operations_topic() {
    for (c, t) in templates() {
        // The operations topic is the one the county's alarm e-mail subscribes to.
        let subscriptions = of_type(&t, "AWS::SNS::Subscription");
        let topic = subscriptions
            .iter()
            .find(|(_, s)| s["Endpoint"] == c.alarm_email.as_str())
            .map(|(_, s)| s["TopicArn"].clone())
            .expect("the alarm e-mail is subscribed to a topic");
        let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
        assert!(alarms.len() >= 10, "{}: {} alarms", c.id, alarms.len());
        for (id, a) in alarms {
            assert_eq!(a["AlarmActions"], json!([topic]), "{}: {id}", c.id);
            assert_eq!(a["OKActions"], json!([topic]), "{}: {id}", c.id);
            assert!(
                ["breaching", "notBreaching", "ignore", "missing"]
                    .contains(&a["TreatMissingData"].as_str().unwrap_or_default()),
                "{}: {id} must choose TreatMissingData",
                c.id
            );
        }
    }
}

#[test]
fn the_dashboard_body_is_json_after_substitution() {
    for (c, t) in templates() {
        let dashboards = of_type(&t, "AWS::CloudWatch::Dashboard");
        assert_eq!(dashboards.len(), 1, "{}", c.id);
        let (id, d) = dashboards[0];
        let body = match &d["DashboardBody"]["Fn::Sub"] {
            Value::String(s) => s.clone(),
            Value::Array(a) => a[0].as_str().expect("Fn::Sub template").to_owned(),
            other => panic!("{}: {id} body is not an Fn::Sub: {other}", c.id),
        };
        let (text, names) = substitute(&body);
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("{}: {id} body is not JSON after Fn::Sub: {e}\n{text}", c.id)
        });
        assert!(
            v["widgets"].as_array().is_some_and(|w| w.len() >= 8),
            "{}",
            c.id
        );
        // Every placeholder names a resource of the stack or a pseudo parameter.
        for name in names {
            let resource = name.split('.').next().unwrap_or_default();
            assert!(
                name.starts_with("AWS::") || t["Resources"].get(resource).is_some(),
                "{}: {id} refers to `{name}`",
                c.id
            );
        }
    }
}

/// What CloudFormation does to an `Fn::Sub` string: `${Name}` becomes a value,
/// `${!Literal}` becomes `${Literal}`. Returns the text and the names.
fn substitute(template: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(template.len());
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').expect("closed placeholder");
        let inner = &after[..end];
        match inner.strip_prefix('!') {
            Some(literal) => {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            }
            None => {
                out.push_str("resolved-value");
                names.push(inner.to_owned());
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    (out, names)
}

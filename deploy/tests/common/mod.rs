//! Shared helpers for the moto-backed integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use acme_deploy::{
    BootstrapOptions, Clients, Deployer, Format, FunctionAsset, Output, Pacing, StackArtifact,
};
use serde_json::{Value, json};

pub const ACCOUNT: &str = "123456789012";

/// Panics (never skips) when the moto endpoint is missing.
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!(
            "these tests need the local AWS emulator: AWS_ENDPOINT_URL is unset.\n\
             Run them with: scripts/with-moto.sh cargo test -p acme-deploy (scripts/test.sh does)"
        )
    })
}

pub async fn deployer_in(region: &str) -> Deployer {
    endpoint();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .load()
        .await;
    Deployer::new(Clients::from_sdk_config(&sdk), Pacing::fast())
}

pub async fn deployer() -> Deployer {
    deployer_in("us-east-1").await
}

/// A name no other test (or earlier run against the same moto) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}{}{}x{}",
        std::process::id() % 10_000,
        nanos % 100_000,
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A local equivalent of the bootstrap template, used while acme-stacks
/// still ships its "{}" placeholder.
pub fn bootstrap_template() -> String {
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "acme-infra bootstrap: assets bucket",
        "Resources": {
            "AssetsKey": {"Type": "AWS::KMS::Key", "DeletionPolicy": "Retain", "Properties": {"EnableKeyRotation": true, "KeyPolicy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}}, "Action": "kms:*", "Resource": "*"}]}}},
            "AssetsBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "Properties": {
                "VersioningConfiguration": {"Status": "Enabled"},
                "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Ref": "AssetsKey"}}, "BucketKeyEnabled": true}]},
                "PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true},
                "LifecycleConfiguration": {"Rules": [{"Id": "old-assets", "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}]}
            }},
            "AssetsBucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "AssetsBucket"}, "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [{"Fn::Sub": "arn:aws:s3:::${AssetsBucket}"}, {"Fn::Sub": "arn:aws:s3:::${AssetsBucket}/*"}], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}}
        },
        "Outputs": {
            "AssetsBucketName": {"Value": {"Ref": "AssetsBucket"}},
            "BootstrapVersion": {"Value": acme_deploy::bootstrap::VERSION.to_string()}
        }
    })
    .to_string()
}

/// The real bootstrap template minus what moto cannot create: moto 5.2.5
/// reads `AWS::KMS::Key` `Tags` as KMS-API `TagKey`/`TagValue` pairs and
/// fails on CloudFormation's `Key`/`Value` (a moto bug, not a template one).
pub fn for_moto(template: &str) -> String {
    let mut t: Value = serde_json::from_str(template).expect("bootstrap template is JSON");
    if let Some(resources) = t.get_mut("Resources").and_then(Value::as_object_mut) {
        for r in resources.values_mut() {
            if r["Type"] == "AWS::KMS::Key"
                && let Some(p) = r.get_mut("Properties").and_then(Value::as_object_mut)
            {
                p.remove("Tags");
            }
        }
    }
    t.to_string()
}

/// Bootstraps us-east-1 once per moto (tests run in parallel; the bootstrap
/// stack name is fixed, so they take turns). Uses its own deployer so the
/// caller's counters only see the caller's work, whichever test runs first.
pub async fn ensure_bootstrapped() {
    let d = deployer().await;
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _g = LOCK.lock().await;
    if d.bootstrap_info(ACCOUNT, "us-east-1").await.is_ok() {
        return;
    }
    let real = acme_stacks::bootstrap::template_json();
    let template_override = Some(if real.trim() == "{}" {
        bootstrap_template()
    } else {
        for_moto(&real)
    });
    let opts = BootstrapOptions {
        termination_protection: false,
        allow_replace: vec![],
        template_override,
    };
    let (out, text) = Output::capture(Format::Human);
    d.bootstrap(ACCOUNT, "us-east-1", &opts, &out)
        .await
        .unwrap_or_else(|e| panic!("bootstrap failed: {}\n{}", e.report(), text.text()));
}

/// A data-layer county template: KMS key, a retained orders table, a queue.
pub fn data_template(key: &str, visibility: u32, gsis: &[&str]) -> Value {
    let mut attrs = vec![json!({"AttributeName": key, "AttributeType": "S"})];
    let mut indexes = vec![];
    for g in gsis {
        attrs.push(json!({"AttributeName": g, "AttributeType": "S"}));
        indexes.push(json!({"IndexName": g, "KeySchema": [{"AttributeName": g, "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}));
    }
    let mut table = json!({"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": {
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": attrs,
        "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
        "SSESpecification": {"SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "DataKey"}},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true}
    }});
    if !indexes.is_empty() {
        table["Properties"]["GlobalSecondaryIndexes"] = json!(indexes);
    }
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "ACME county data layer",
        "Resources": {
            "DataKey": {"Type": "AWS::KMS::Key", "DeletionPolicy": "Retain", "Properties": {"EnableKeyRotation": true, "KeyPolicy": {"Version": "2012-10-17", "Statement": [{"Sid": "AccountAdministersKeyThroughIam", "Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}, "Action": "kms:*", "Resource": "*"}]}}},
            "Orders": table,
            "OrderEvents": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": visibility, "KmsMasterKeyId": {"Ref": "DataKey"}}}
        },
        "Outputs": {
            "OrdersTableName": {"Value": {"Ref": "Orders"}},
            "OrderEventsQueueUrl": {"Value": {"Ref": "OrderEvents"}},
            "OrdersTableArn": {"Value": {"Fn::GetAtt": ["Orders", "Arn"]}}
        }
    })
}

/// A county template with one function: `AssetBucket` + `OrderApiCodeKey`.
pub fn function_template() -> Value {
    let mut t = data_template("pk", 30, &[]);
    t["Parameters"] =
        json!({"AssetBucket": {"Type": "String"}, "OrderApiCodeKey": {"Type": "String"}});
    let r = t["Resources"].as_object_mut().expect("resources");
    r.insert("OrderApiRole".into(), json!({"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]}}));
    r.insert("OrderApi".into(), json!({"Type": "AWS::Lambda::Function", "Properties": {
        "Runtime": "provided.al2023", "Handler": "bootstrap", "Architectures": ["arm64"], "MemorySize": 256, "Timeout": 10,
        "Role": {"Fn::GetAtt": ["OrderApiRole", "Arn"]},
        "Code": {"S3Bucket": {"Ref": "AssetBucket"}, "S3Key": {"Ref": "OrderApiCodeKey"}},
        "Environment": {"Variables": {"ORDERS_TABLE": {"Ref": "Orders"}}}}}));
    t
}

pub fn artifact(county: &str, template: &Value) -> StackArtifact {
    StackArtifact {
        stack_name: format!("acme-{county}"),
        county_id: county.to_string(),
        account: ACCOUNT.to_string(),
        region: "us-east-1".to_string(),
        access: None,
        template_body: template.to_string(),
        tags: BTreeMap::from([
            ("acme:county".to_string(), county.to_string()),
            ("acme:app".to_string(), "orders".to_string()),
        ]),
        termination_protection: false,
        assets: vec![],
    }
}

/// Writes a valid, empty zip archive whose comment is `comment` (so each
/// test's bundle hashes differently).
pub fn write_zip(dir: &std::path::Path, name: &str, comment: &[u8]) -> PathBuf {
    // End-of-central-directory record: signature, 16 bytes of zero counts and
    // offsets, the comment length, the comment.
    let mut bytes = b"PK\x05\x06".to_vec();
    bytes.extend_from_slice(&[0u8; 16]);
    bytes.extend_from_slice(
        &u16::try_from(comment.len())
            .expect("short comment")
            .to_le_bytes(),
    );
    bytes.extend_from_slice(comment);
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write zip");
    p
}

pub fn with_asset(mut a: StackArtifact, zip: PathBuf) -> StackArtifact {
    a.assets.push(FunctionAsset {
        parameter: "OrderApiCodeKey".into(),
        zip_path: zip,
    });
    a
}

pub async fn stack_status(d: &Deployer, name: &str) -> Option<String> {
    match d
        .clients()
        .cfn
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
    {
        Ok(o) => o
            .stacks()
            .first()
            .and_then(|s| s.stack_status())
            .map(|s| s.as_str().to_string()),
        Err(_) => None,
    }
}

/// Change sets of this stack that were not executed (left behind). moto's
/// ListChangeSets ignores its StackName filter and keeps executed change
/// sets, so both are filtered here.
pub async fn change_set_count(d: &Deployer, name: &str) -> usize {
    let out = d
        .clients()
        .cfn
        .list_change_sets()
        .stack_name(name)
        .send()
        .await
        .expect("ListChangeSets");
    out.summaries()
        .iter()
        .filter(|s| s.stack_name() == Some(name))
        .filter(|s| s.execution_status().map(|e| e.as_str()) != Some("EXECUTE_COMPLETE"))
        .count()
}

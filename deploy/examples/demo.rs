//! Deploys one demo county stack to whatever `AWS_ENDPOINT_URL` points at
//! (moto in practice), with the real terminal output: progress bars, the
//! change-set diff and the approval prompt. For trying the UX by hand:
//!
//! ```sh
//! scripts/with-moto.sh cargo run -p acme-deploy --example demo -- [--json]
//! ```

use std::collections::BTreeMap;

use acme_deploy::{BootstrapOptions, DeployOptions, Deployer, StackArtifact, cli};
use serde_json::json;

#[tokio::main]
async fn main() {
    let json_mode = std::env::args().any(|a| a == "--json");
    let out = cli::output(json_mode);
    let d = Deployer::from_env().await;
    let me = match d.check_identity(&[]).await {
        Ok(me) => me,
        Err(e) => {
            eprint!("{}", e.report());
            std::process::exit(e.exit_code());
        }
    };
    if d.bootstrap_info(&me.account, &me.region).await.is_err() {
        // moto 5.2.5 cannot create an AWS::KMS::Key with CloudFormation-style
        // Tags (it expects KMS-API TagKey/TagValue); drop them for the demo.
        let mut t: serde_json::Value =
            serde_json::from_str(&acme_stacks::bootstrap::template_json()).unwrap_or_default();
        if let Some(rs) = t.get_mut("Resources").and_then(|r| r.as_object_mut()) {
            for r in rs.values_mut().filter(|r| r["Type"] == "AWS::KMS::Key") {
                if let Some(p) = r.get_mut("Properties").and_then(|p| p.as_object_mut()) {
                    p.remove("Tags");
                }
            }
        }
        let opts = BootstrapOptions {
            termination_protection: false,
            template_override: Some(t.to_string()),
            ..BootstrapOptions::default()
        };
        if let Err(e) = d.bootstrap(&me.account, &me.region, &opts, &out).await {
            eprint!("{}", e.report());
            std::process::exit(e.exit_code());
        }
    }
    let template = json!({"Resources": {
        "Orders": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "Properties": {"BillingMode": "PAY_PER_REQUEST", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}},
        "ReaderRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}}
    }});
    let artifact = StackArtifact {
        stack_name: "acme-demo".into(),
        county_id: "demo".into(),
        account: me.account.clone(),
        region: me.region.clone(),
        access: None,
        template_body: template.to_string(),
        tags: BTreeMap::new(),
        termination_protection: false,
        assets: vec![],
    };
    match d
        .deploy(vec![artifact], &DeployOptions::default(), &out)
        .await
    {
        Ok(r) => eprintln!(
            "done: {:?}; {} API calls",
            r.stacks[0].outcome,
            d.stats().total_calls()
        ),
        Err(e) => {
            eprint!("{}", e.report());
            std::process::exit(e.exit_code());
        }
    }
}

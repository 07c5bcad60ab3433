//! The legacy-sync Lambda's entry point: read the environment and the
//! database secret once, serve invocations.

use std::path::PathBuf;
use std::sync::Arc;

use acme_contract::schema::env;
use aws_lambda_events::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use legacy_sync::{LegacySync, SqsRejects, secret};
use order_aws::{init_json_logs, load_sdk_config};

fn var(name: &'static str) -> Result<String, Error> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            tracing::error!(var = name, "bad configuration: not set");
            format!("{name} is not set").into()
        })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_json_logs();
    let county = var(env::COUNTY_ID)?;
    let secret_arn = var(env::LEGACY_DB_SECRET_ARN)?;
    let dlq_url = var(env::LEGACY_SYNC_DLQ_URL)?;
    let ca_file = std::env::var(env::LEGACY_DB_CA_FILE)
        .ok()
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let sdk = load_sdk_config().await;
    let target = secret::read(
        &aws_sdk_secretsmanager::Client::new(&sdk),
        &secret_arn,
        ca_file,
    )
    .await
    .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let rejects = SqsRejects::new(aws_sdk_sqs::Client::new(&sdk), dlq_url);
    let mut sync = LegacySync::new(county, target, rejects);
    if let Some(flag) = order_aws::CutoverFlag::from_env(&sdk)
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?
    {
        sync = sync.with_cutover(flag);
    }
    let sync = Arc::new(sync);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| {
        let sync = Arc::clone(&sync);
        async move { Ok::<_, Error>(sync.handle(event.payload).await) }
    }))
    .await
}

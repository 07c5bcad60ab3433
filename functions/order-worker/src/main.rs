//! The order worker Lambda's entry point: read the environment, build the
//! clients once, serve invocations.

use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use order_aws::{Adapters, Config, Payment, init_json_logs, load_sdk_config};
use order_domain::clock::SystemClock;
use order_worker::Worker;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_json_logs();
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    // The worker charges through the county's chosen provider; none chosen,
    // no start.
    let payment =
        Payment::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    tracing::warn!(provider = %payment.provider, "payment gateway: simulated, as the county file chose");
    let sdk = load_sdk_config().await;
    let store = Adapters::new(&sdk, &config).store;
    let worker = Arc::new(Worker::new(
        store,
        payment.gateway(),
        config.rules,
        SystemClock,
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let worker = Arc::clone(&worker);
        async move { Ok::<_, Error>(worker.handle(event.payload).await) }
    }))
    .await
}

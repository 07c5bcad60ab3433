//! The order worker Lambda's entry point: read the environment, build the
//! clients once, serve invocations.

use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use order_aws::{Adapters, Config, init_json_logs, load_sdk_config};
use order_domain::clock::SystemClock;
use order_domain::payment::SimulatedGateway;
use order_worker::Worker;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_json_logs();
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let sdk = load_sdk_config().await;
    let store = Adapters::new(&sdk, &config).store;
    // No real payment provider is integrated yet.
    tracing::warn!("payment gateway: simulated");
    let worker = Arc::new(Worker::new(
        store,
        SimulatedGateway::new(),
        config.rules,
        SystemClock,
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let worker = Arc::clone(&worker);
        async move { Ok::<_, Error>(worker.handle(event.payload).await) }
    }))
    .await
}

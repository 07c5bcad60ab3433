//! The order worker Lambda's entry point: read the environment, build the
//! clients once, serve invocations.

use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use order_aws::{Adapters, Startup};
use order_domain::clock::SystemClock;
use order_worker::Worker;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // The worker charges through the county's chosen provider; none chosen,
    // no start.
    let startup = Startup::read().await?;
    let store = Adapters::new(&startup.sdk, &startup.config).store;
    let worker = Arc::new(Worker::new(
        store,
        startup.gateway,
        startup.config.rules,
        SystemClock,
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let worker = Arc::clone(&worker);
        async move { Ok::<_, Error>(worker.handle(event.payload).await) }
    }))
    .await
}

//! The stream publisher Lambda's entry point: read the environment, build
//! the clients once, serve invocations.

use std::sync::Arc;

use aws_lambda_events::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use order_aws::{Adapters, Config, init_json_logs, load_sdk_config};
use stream_publisher::Publisher;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_json_logs();
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let sdk = load_sdk_config().await;
    let adapters = Adapters::new(&sdk, &config);
    let publisher = Arc::new(Publisher::new(adapters.sink, adapters.enqueuer));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| {
        let publisher = Arc::clone(&publisher);
        async move { Ok::<_, Error>(publisher.handle(event.payload).await) }
    }))
    .await
}

//! The order API Lambda's entry point: read the environment, build the
//! clients once, serve invocations.

// The API future nests every service's future; its layout needs more than
// the default 128 levels of query depth.
#![recursion_limit = "256"]

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use order_api::Api;
use order_aws::{Adapters, Config, init_json_logs, load_sdk_config};
use order_domain::clock::{SystemClock, UlidGenerator};
use order_domain::payment::SimulatedGateway;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_json_logs();
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let sdk = load_sdk_config().await;
    let adapters = Adapters::new(&sdk, &config);
    // No real payment provider is integrated yet; cancel's refunds go to the
    // simulated gateway (see the crate README / report).
    tracing::warn!("payment gateway: simulated");
    let api = Arc::new(Api::new(
        adapters.store,
        adapters.enqueuer,
        SimulatedGateway::new(),
        config.rules,
        SystemClock,
        UlidGenerator::new(),
    ));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayProxyRequest>| {
            let api = Arc::clone(&api);
            async move { Ok::<_, Error>(api.handle(event.payload).await) }
        },
    ))
    .await
}

//! The order API Lambda's entry point: read the environment, build the
//! clients once, serve invocations.

// The API future nests every service's future; its layout needs more than
// the default 128 levels of query depth.
#![recursion_limit = "256"]

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use order_api::Api;
use order_aws::{Adapters, Config, Payment, init_json_logs, load_sdk_config};
use order_domain::clock::{SystemClock, UlidGenerator};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_json_logs();
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    // Cancel refunds through the county's chosen provider; none chosen, no start.
    let payment =
        Payment::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    tracing::warn!(provider = %payment.provider, "payment gateway: simulated, as the county file chose");
    let sdk = load_sdk_config().await;
    let adapters = Adapters::new(&sdk, &config);
    let api = Arc::new(Api::new(
        adapters.store,
        adapters.enqueuer,
        payment.gateway(),
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

//! The order API Lambda's entry point: read the environment, build the
//! clients once, serve invocations.

// The API future nests every service's future; its layout needs more than
// the default 128 levels of query depth.
#![recursion_limit = "256"]

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use order_api::Api;
use order_aws::{Adapters, Startup};
use order_domain::clock::{SystemClock, UlidGenerator};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Cancel refunds through the county's chosen provider; none chosen, no start.
    let startup = Startup::read().await?;
    let adapters = Adapters::new(&startup.sdk, &startup.config);
    let api = Arc::new(Api::new(
        adapters.store,
        adapters.enqueuer,
        startup.payment.gateway(),
        startup.config.rules,
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

//! The order sweeper Lambda's entry point: read the environment, build the
//! clients once, sweep on every scheduled invocation.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use order_aws::{Adapters, Startup};
use order_domain::clock::SystemClock;
use order_sweeper::{Settings, SweeperFn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // The sweeper refunds before it releases an expired reservation, so it
    // starts like the worker: through the county's chosen payment provider.
    let startup = Startup::read().await?;
    let settings =
        Settings::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let adapters = Adapters::new(&startup.sdk, &startup.config);
    let sweeper = Arc::new(SweeperFn::new(
        adapters.store,
        adapters.enqueuer,
        startup.gateway,
        startup.config.rules,
        SystemClock,
        settings,
    ));
    // The EventBridge scheduled event carries nothing the sweep needs.
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
        let sweeper = Arc::clone(&sweeper);
        async move { sweeper.handle().await.map_err(Error::from) }
    }))
    .await
}

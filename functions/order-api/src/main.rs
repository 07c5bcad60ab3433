//! The order API Lambda's entry point: read the environment, build the
//! clients once, serve invocations.

// The API future nests every service's future; its layout needs more than
// the default 128 levels of query depth.
#![recursion_limit = "256"]

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use order_api::Api;
use order_aws::{Adapters, ApiMigration, Startup};
use order_domain::clock::{SystemClock, UlidGenerator};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Cancel refunds through the county's chosen provider; none chosen, no start.
    let startup = Startup::read().await?;
    // Profiles live in the Customers table, which the stack gives this
    // function alone; without it every profile request would fail.
    if startup.config.tables.customers.is_none() {
        let e = format!(
            "environment variable {} is not set (the county stack sets it on the order API)",
            order_domain::schema::env::CUSTOMERS_TABLE
        );
        tracing::error!(error = %e, "bad configuration");
        return Err(e.into());
    }
    let adapters = Adapters::new(&startup.sdk, &startup.config);
    // A migrating county's writes follow its cutover mode (SSM, cached), and
    // its reads are sampled to the ShadowReads queue in mode `shadow`.
    let migration = ApiMigration::from_env(&startup.sdk)
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let api = Api::new(
        adapters.store,
        adapters.enqueuer,
        startup.gateway,
        startup.config.rules,
        SystemClock,
        UlidGenerator::new(),
    )
    .with_migration(migration);
    let api = Arc::new(api);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayProxyRequest>| {
            let api = Arc::clone(&api);
            async move { Ok::<_, Error>(api.handle(event.payload).await) }
        },
    ))
    .await
}

//! Binds the three handler crates to the runner's event sources: the same
//! `Api::handle`, `Worker::handle` and `Publisher::handle` the Lambdas'
//! `main.rs` call, over the same adapters (`order_aws`), pointed at the
//! emulator.
//!
//! Local differences, all at the edges:
//! - the API's store and enqueuer are wrapped in [`TimedStore`] and
//!   [`TimedEnqueuer`], which only measure;
//! - every store is an [`IsolatedStore`]: moto's transactions need the
//!   isolation DynamoDB gives (see [`crate::isolation`]);
//! - `--sale-clock`: the API's services read one clock for order timestamps
//!   and the sale-hour check. To pin only the latter, the runner keeps the
//!   real clock and hands the API the rules' *verdict* at the pinned time:
//!   open all day if the county is open then, closed all day if not
//!   ([`pin_sale_hours`]). Sales disabled stays disabled.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::streams::DynamoDbEventResponse;
use jiff::Timestamp;
use order_aws::{Adapters, AwsEventSink, DynamoStore, SqsEnqueuer};
use order_domain::clock::{SystemClock, UlidGenerator};
use order_domain::payment::SimulatedGateway;
use order_domain::rules::{CountyRules, SaleHours, SaleWindow};

use crate::functions::{ApiFunction, FunctionError, QueueFunction, StreamFunction};
use crate::isolation::IsolatedStore;
use crate::metrics::{TimedEnqueuer, TimedStore};

/// What the functions are built from.
pub struct Wiring {
    pub sdk: SdkConfig,
    pub config: order_aws::Config,
    pub sale_clock: Option<Timestamp>,
    pub gateway: Arc<SimulatedGateway>,
}

/// The API function as the runner builds it.
pub type LocalApi = order_api::Api<
    TimedStore<IsolatedStore<DynamoStore>>,
    TimedEnqueuer<SqsEnqueuer>,
    Arc<SimulatedGateway>,
    SystemClock,
    UlidGenerator,
>;
/// The worker function.
pub type LocalWorker =
    order_worker::Worker<IsolatedStore<DynamoStore>, Arc<SimulatedGateway>, SystemClock>;
/// The stream publisher function.
pub type LocalPublisher = stream_publisher::Publisher<AwsEventSink, SqsEnqueuer>;

/// The three functions.
#[derive(Clone)]
pub struct Handlers {
    pub api: Arc<LocalApi>,
    pub worker: Arc<LocalWorker>,
    pub publisher: Arc<LocalPublisher>,
}

/// The county's rules with every day's sale window replaced by the verdict
/// at `at`: open all day if sales are open then, closed all day if not.
pub fn pin_sale_hours(rules: &CountyRules, at: Timestamp) -> CountyRules {
    let mut pinned = rules.clone();
    if rules.sales_enabled {
        pinned.sale_hours = match rules.check_open(at) {
            Ok(()) => SaleHours::every_day(SaleWindow {
                open_minute: 0,
                close_minute: SaleWindow::MINUTES_PER_DAY,
            }),
            Err(_) => SaleHours::default(),
        };
    }
    pinned
}

/// Builds the functions once, as each Lambda's `main` does.
pub fn build(w: Wiring) -> Handlers {
    let adapters = Adapters::new(&w.sdk, &w.config);
    let api_rules = match w.sale_clock {
        Some(at) => pin_sale_hours(&w.config.rules, at),
        None => w.config.rules.clone(),
    };
    let api = order_api::Api::new(
        TimedStore(IsolatedStore(adapters.store.clone())),
        TimedEnqueuer(adapters.enqueuer.clone()),
        w.gateway.clone(),
        api_rules,
        SystemClock,
        UlidGenerator::new(),
    );
    let worker = order_worker::Worker::new(
        IsolatedStore(adapters.store.clone()),
        w.gateway,
        w.config.rules.clone(),
        SystemClock,
    );
    let publisher = stream_publisher::Publisher::new(adapters.sink, adapters.enqueuer);
    Handlers {
        api: Arc::new(api),
        worker: Arc::new(worker),
        publisher: Arc::new(publisher),
    }
}

impl ApiFunction for LocalApi {
    async fn call(
        &self,
        request: ApiGatewayProxyRequest,
    ) -> Result<ApiGatewayProxyResponse, FunctionError> {
        Ok(self.handle(request).await)
    }
}

impl QueueFunction for LocalWorker {
    async fn call(&self, event: SqsEvent) -> Result<SqsBatchResponse, FunctionError> {
        Ok(self.handle(event).await)
    }
}

impl StreamFunction for LocalPublisher {
    async fn call(&self, event: DynamoDbEvent) -> Result<DynamoDbEventResponse, FunctionError> {
        Ok(self.handle(event).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_sale_hours_follow_the_verdict_at_the_pinned_time() {
        let rules = CountyRules::from_json(
            r#"{"county_id": "travis-tx", "sales_enabled": true, "timezone": "America/Chicago",
                "sale_hours": {"wednesday": {"open_minute": 420, "close_minute": 1440}},
                "max_units_per_order": 48, "max_line_items": 20, "gsi_write_shards": 8,
                "reservation_ttl_seconds": 900, "idempotency_ttl_hours": 24}"#,
        )
        .unwrap();
        let open: Timestamp = "2026-05-06T18:00:00Z".parse().unwrap();
        let closed: Timestamp = "2026-05-07T18:00:00Z".parse().unwrap();
        let now: Timestamp = "2026-05-10T08:00:00Z".parse().unwrap();
        assert!(pin_sale_hours(&rules, open).check_open(now).is_ok());
        assert!(pin_sale_hours(&rules, closed).check_open(open).is_err());
    }
}

//! Binds the four handler crates to the runner's event sources: the same
//! `Api::handle`, `Worker::handle`, `Publisher::handle` and
//! `SweeperFn::handle` the Lambdas' `main.rs` call, over the same adapters
//! (`order_aws`), pointed at the emulator.
//!
//! Local differences, all at the edges:
//! - the API's store reports each call's time and its enqueuer is wrapped
//!   in [`TimedEnqueuer`], which only measure (see [`crate::metrics`]);
//! - every store is an [`IsolatedStore`]: moto's transactions need the
//!   isolation DynamoDB gives (see [`order_aws::emulator`]);
//! - `--sale-clock`: the API checks sale hours (and quotes the time in a
//!   "closed" answer) against a clock pinned at that instant; order
//!   timestamps, ids and TTLs stay on the real clock.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::streams::DynamoDbEventResponse;
use jiff::Timestamp;
use order_aws::emulator::IsolatedStore;
use order_aws::{Adapters, AwsEventSink, DynamoStore, Enqueuer, EventSink, SqsEnqueuer};
use order_domain::clock::{ManualClock, SystemClock, UlidGenerator};
use order_domain::payment::SimulatedGateway;

use crate::functions::{ApiFunction, FunctionError, QueueFunction, StreamFunction};
use crate::metrics::TimedEnqueuer;

/// What the functions are built from.
pub struct Wiring {
    pub sdk: SdkConfig,
    pub config: order_aws::Config,
    pub sale_clock: Option<Timestamp>,
    pub gateway: Arc<SimulatedGateway>,
    /// The sweeper's threshold, as the stack sets it on the sweeper.
    pub sweeper: order_sweeper::Settings,
    /// A migrating county's cutover flag and shadow-read sampler (nothing
    /// for other counties), as the order API's `main` reads them.
    pub migration: order_aws::ApiMigration,
}

/// The API function as the runner builds it.
pub type LocalApi = order_api::Api<
    IsolatedStore<DynamoStore>,
    TimedEnqueuer<SqsEnqueuer>,
    Arc<SimulatedGateway>,
    SystemClock,
    UlidGenerator,
>;
/// The worker function.
pub type LocalWorker =
    order_worker::Worker<IsolatedStore<DynamoStore>, Arc<SimulatedGateway>, SystemClock>;
/// The order sweeper function.
pub type LocalSweeper = order_sweeper::SweeperFn<
    IsolatedStore<DynamoStore>,
    SqsEnqueuer,
    Arc<SimulatedGateway>,
    SystemClock,
>;
/// The stream publisher function.
pub type LocalPublisher = stream_publisher::Publisher<AwsEventSink, SqsEnqueuer>;

/// The API and worker functions, and the adapters they were built over (the
/// stream publisher is built from them by [`publisher`], or by the caller of
/// [`crate::runner::LocalCounty::start_with_publisher`]).
#[derive(Clone)]
pub struct Handlers {
    pub api: Arc<LocalApi>,
    pub worker: Arc<LocalWorker>,
    pub sweeper: Arc<LocalSweeper>,
    pub adapters: Adapters,
}

/// The stream publisher as its Lambda's `main` builds it.
pub fn publisher(adapters: &Adapters) -> LocalPublisher {
    stream_publisher::Publisher::new(adapters.sink.clone(), adapters.enqueuer.clone())
}

/// A store isolated for the emulator, its calls' times reported with the
/// request's timings (within a request).
pub fn isolated(store: DynamoStore) -> IsolatedStore<DynamoStore> {
    IsolatedStore::new(store).on_call(crate::metrics::record_call)
}

/// Builds the functions once, as each Lambda's `main` does.
pub fn build(w: Wiring) -> Handlers {
    let adapters = Adapters::new(&w.sdk, &w.config);
    let mut api = order_api::Api::new(
        isolated(adapters.store.clone()),
        TimedEnqueuer(adapters.enqueuer.clone()),
        w.gateway.clone(),
        w.config.rules.clone(),
        SystemClock,
        UlidGenerator::new(),
    )
    .with_migration(w.migration);
    if let Some(at) = w.sale_clock {
        api = api.with_sale_clock(ManualClock::new(at));
    }
    let worker = order_worker::Worker::new(
        isolated(adapters.store.clone()),
        w.gateway.clone(),
        w.config.rules.clone(),
        SystemClock,
    );
    let sweeper = order_sweeper::SweeperFn::new(
        isolated(adapters.store.clone()),
        adapters.enqueuer.clone(),
        w.gateway,
        w.config.rules.clone(),
        SystemClock,
        w.sweeper,
    );
    Handlers {
        api: Arc::new(api),
        worker: Arc::new(worker),
        sweeper: Arc::new(sweeper),
        adapters,
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

impl<E, Q> StreamFunction for stream_publisher::Publisher<E, Q>
where
    E: EventSink + 'static,
    Q: Enqueuer + 'static,
{
    async fn call(&self, event: DynamoDbEvent) -> Result<DynamoDbEventResponse, FunctionError> {
        Ok(self.handle(event).await)
    }
}

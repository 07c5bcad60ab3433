//! AWS adapters for the order functions. The domain (`order-domain`) defines
//! what is stored and sent; this crate is the only code that calls AWS:
//!
//! | type | implements | AWS calls |
//! |---|---|---|
//! | [`DynamoStore`] | [`order_domain::store::Store`] | `TransactWriteItems`, `GetItem` (consistent when asked), `Query`, `PutItem`, `UpdateItem`, `DeleteItem`, `BatchWriteItem` |
//! | [`SqsEnqueuer`] | [`Enqueuer`] | `SendMessage` (`{"order_id": ...}`) |
//! | [`AwsEventSink`] | [`EventSink`] | EventBridge `PutEvents` (source `acme.orders`), SNS `Publish` |
//! | [`ShadowSampler`] | | `SendMessage` of a sample of answered orders to the ShadowReads queue (mode `shadow`) |
//! | [`Config`] | | reads `order_domain::schema::env::*` |
//! | [`Payment`] | | reads `ACME_PAYMENT_PROVIDER` (and `ACME_PAYMENT_API_*` for `card_api`): which payment provider the county chose |
//! | [`CardApiGateway`] | [`order_domain::payment::PaymentGateway`] | the card provider's HTTPS API (reqwest); Secrets Manager `GetSecretValue` once at start-up for its key |
//! | [`CountyGateway`] | [`order_domain::payment::PaymentGateway`] | the simulator or the card API, as the county file chose |
//! | [`CutoverFlag`] | | SSM `GetParameter`: a migrating county's cutover mode, cached 15 s |
//!
//! The ports [`Enqueuer`] and [`EventSink`] are SDK-free traits.
//!
//! Feature `test-support` (dev-dependencies and the local runner; no Lambda
//! enables it) adds `emulator::IsolatedStore`, which serializes another
//! store's calls for the local emulator, the in-memory `MemoryQueue` and
//! `MemorySink` for handler tests, the fake card provider
//! `testing::FakeCardApi`, and `card_api::ProviderUrl::plain_http_loopback`,
//! the only way to point the card API adapter at plain HTTP.
//!
//! A `main.rs` builds everything once per process:
//!
//! ```no_run
//! # async fn f() -> Result<(), order_aws::ConfigError> {
//! let config = order_aws::Config::from_env()?;
//! let sdk = order_aws::load_sdk_config().await;
//! let adapters = order_aws::Adapters::new(&sdk, &config);
//! # let _ = adapters; Ok(()) }
//! ```

mod bus;
pub mod card_api;
mod clients;
mod config;
pub mod convert;
mod cutover;
mod dynamo;
#[cfg(any(test, feature = "test-support"))]
pub mod emulator;
mod logs;
#[cfg(any(test, feature = "test-support"))]
mod memory;
mod payment;
pub mod ports;
mod shadow;
mod sqs;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use acme_contract::payment::PaymentProvider;
pub use bus::{AwsEventSink, PUT_EVENTS_MAX};
pub use card_api::CardApiGateway;
pub use clients::{Adapters, Startup, load_sdk_config};
pub use config::{Config, ConfigError};
pub use cutover::{ApiMigration, CutoverFlag, FlagError, MigrationConfigError};
pub use dynamo::DynamoStore;
pub use logs::init_json_logs;
#[cfg(any(test, feature = "test-support"))]
pub use memory::{MemoryQueue, MemorySink};
pub use payment::{CardApiSettings, CountyGateway, Payment, PaymentConfigError};
pub use ports::{CustomerNotification, Enqueuer, EventSink, PublishError, SendError};
#[cfg(any(test, feature = "test-support"))]
pub use shadow::MemoryShadowQueue;
pub use shadow::{
    SEND_TIMEOUT as SHADOW_SEND_TIMEOUT, ShadowCounts, ShadowQueue, ShadowSampler, ShadowSettings,
    SqsShadowQueue,
};
pub use sqs::SqsEnqueuer;

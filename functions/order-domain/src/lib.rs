//! The order domain shared by every ACME order function: order model, status
//! machine, county rules, key encoding, storage plans and the services the
//! Lambdas call. No Lambda or AWS SDK types live here: handlers translate
//! events into calls on this crate, and a DynamoDB adapter implements
//! [`store::Store`] by rendering [`store::WriteOp`]s and [`store::Query`]s
//! 1:1 into SDK requests.
//!
//! | module | what |
//! |---|---|
//! | [`ids`], [`money`], [`order`] | validated ids, integer cents, orders and the status machine |
//! | [`rules`] | county rules from `ACME_COUNTY_RULES`, sale hours in local time |
//! | [`keys`], [`cursor`] | injection-proof composite keys, opaque page cursors |
//! | [`store`] | DynamoDB-shaped values, plans, the `Store` trait (and, with `test-support`, the in-memory store) |
//! | [`codec`] | items of each table |
//! | [`customer`] | customer profiles (PII): the Customers item, validation of `PUT /customers/{id}`, masking for display |
//! | [`legacy`] | ids of records migrated from the legacy database |
//! | [`service`] | accept, worker, cancel, queries, sweeper |
//! | [`events`] | events and outbox decisions from stream images |
//! | [`payment`] | the payment port and the simulated gateway a county selects explicitly |
//! | [`shadow`] | shadow reads: the message the API samples for comparison with the legacy database, the sample rate and the draw |
//! | [`clock`] | injected time (the wall clock and the sale clock) and ids |
//!
//! Feature `test-support` adds the test doubles: `store::MemoryStore` (with
//! fault injection), `ManualClock` and `SequentialIds`, and the builders in
//! `testing` (a migrated order, an adult's profile). Only dev-dependencies
//! and the local runner enable it; no Lambda does, so none of it is compiled
//! into a function (`cargo tree -p order-api -e features -i order-domain`).
//! | [`error`] | HTTP status and retryability of every error |
//! | [`schema`] | table, attribute and index names shared with the stack generator |

pub mod clock;
pub mod codec;
pub mod cursor;
pub mod customer;
pub mod error;
pub mod events;
pub mod ids;
pub mod keys;
pub mod legacy;
pub mod money;
pub mod order;
pub mod payment;
pub mod rules;
pub mod service;
pub mod shadow;
pub mod store;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
mod util;

pub use clock::{Clock, IdGenerator, SystemClock, UlidGenerator};
#[cfg(any(test, feature = "test-support"))]
pub use clock::{ManualClock, SequentialIds};
pub use error::{DomainError, ErrorBody, ValidationError, ValidationErrors};
pub use ids::{ClientRequestId, CountyId, CustomerId, IdError, OrderId, Sku, StoreId};
pub use money::Money;
pub use order::{FailureReason, InvalidTransition, LineItem, Order, OrderStatus, transition};
pub use rules::CountyRules;

/// The table layout and environment variables, defined once in `acme-contract`.
pub use acme_contract::schema;

//! `acme-migrate`: bringing a county's history over from ACME's legacy
//! PostgreSQL order database.
//!
//! This crate holds the mapping rules, each a pure function from a legacy
//! value to the order domain's value or a reason it cannot be mapped. The
//! rules are the contract `migrate backfill`, `migrate verify` and the change
//! capture share, so each lives here once (see `docs/migration.md`).
//!
//! | module | rule |
//! |---|---|
//! | [`map::money`] | `numeric` text to integer cents, exactly; never through a float |
//! | [`map::time`] | a store's local wall clock to UTC: the earlier instant in a fold, shifted forward by the gap in a gap (RFC 9557 "compatible") |
//! | [`map::key`] | a legacy SKU or request id the new id alphabet cannot hold: a reversible, collision-free escape, or a reject |
//! | [`map::status`] | legacy statuses, each mapped explicitly; unknown ones are rejects |
//! | [`map::order_id`] | the new order id, derived from the legacy number and reversible (the rule is `order_domain::legacy`, shared with the API) |
//! | [`customer`] | a legacy customer to its profile in the Customers table, values copied exactly, on the customer id its orders carry |
//!
//! [`source`] connects to the legacy database and takes one snapshot for a
//! run; [`read`] pages through a county's rows in it by primary key;
//! [`write`](mod@write) puts mapped items in batches within the [`limit`] budget;
//! [`checkpoint`] keeps the position durably so a killed run resumes;
//! [`order`] turns a legacy order into the items the API would have written;
//! [`progress`] counts what a run has left;
//! [`backfill`] runs it all for a county; [`verify`] compares the two
//! sides order by order; [`sync`] keeps the tables in step with the legacy
//! database afterwards (change data capture), under the [`guard`];
//! [`shadow`] compares the API's sampled reads with the legacy database
//! (mode `shadow`) and publishes the mismatch metrics.
//! [`cutover`] reads where a migrating county stands and gates its steps.

mod ahead;
pub mod backfill;
pub mod checkpoint;
pub mod customer;
pub mod cutover;
pub mod guard;
pub mod limit;
pub mod map;
pub mod order;
pub mod progress;
pub mod read;
pub mod shadow;
pub mod source;
pub mod sync;
pub use legacy_schema::tls;
pub mod verify;
pub mod write;

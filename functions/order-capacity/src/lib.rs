//! `order-capacity`: what the order flows cost in DynamoDB capacity, measured
//! by running them rather than worked out by hand.
//!
//! | module | what |
//! |---|---|
//! | [`meter`] | [`MeteredStore`]: wraps any [`order_domain::store::Store`] and prices each write in write units, by table and index |
//! | [`flows`] | the real accept and worker flows run over the in-memory store through the meter: one order, or a sample shaped like a county's traffic |
//! | [`plan`] | `acme-infra plan`: capacity per table and index, the hottest partition, on-demand against provisioned, and the monthly cost, from a county's `load:` |
//!
//! `cargo run -p order-capacity --example write-units` prints the units of a
//! typical order (accept, reserve, charge, confirm); its tests pin the totals.
//!
//! A crate of its own so that no Lambda compiles the meter: the functions
//! depend on `order-domain`, never on this crate; the command line (and the
//! capacity planner) can.

pub mod flows;
pub mod meter;
pub mod plan;

pub use meter::{Layout, MeteredStore, Usage};

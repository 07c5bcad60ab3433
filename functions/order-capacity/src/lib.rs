//! `order-capacity`: what the order flows cost in DynamoDB capacity, measured
//! by running them rather than worked out by hand.
//!
//! | module | what |
//! |---|---|
//! | [`meter`] | [`MeteredStore`]: wraps any [`order_domain::store::Store`] and prices each write in write units, by table and index |
//!
//! `cargo run -p order-capacity --example write-units` prints the units of a
//! typical order (accept, reserve, charge, confirm); its tests pin the totals.
//!
//! A crate of its own so that no Lambda compiles the meter: the functions
//! depend on `order-domain`, never on this crate; the command line (and the
//! capacity planner) can.

pub mod meter;

pub use meter::{Layout, MeteredStore, Usage};

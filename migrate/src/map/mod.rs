//! Legacy value → order domain value. Every function here is total: it
//! returns the mapped value, the mapped value with a warning, or a reject
//! saying which rule refused what. The rules both directions share (keys,
//! money, statuses) live in `legacy-schema`, with their inverses.

pub use legacy_schema::{key, money, status};
pub mod order_id;
pub mod time;

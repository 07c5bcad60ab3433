//! Legacy value → order domain value. Every function here is total: it
//! returns the mapped value, the mapped value with a warning, or a reject
//! saying which rule refused what.

pub mod key;
pub mod money;
pub mod order_id;
pub mod status;
pub mod time;

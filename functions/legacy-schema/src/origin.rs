//! Where a change came from, so neither sync writes back what the other
//! wrote (see `docs/migration.md`, "No loops").
//!
//! - **DynamoDB side.** Every OrderById record the migration writes (the
//!   backfill and the change capture) carries [`ORIGIN`] = [`FROM_LEGACY`].
//!   The new system's writers (the API, the worker) put whole records built
//!   by `order_domain::codec::order_to_item`, which never holds the
//!   attribute, so a record the new system changed — a migrated order too —
//!   has none. legacy-sync skips exactly the records whose new image carries
//!   it. (Not `legacy_updated_us`: the worker keeps that on a migrated order
//!   it changes, and that change must reach the legacy tables.)
//! - **PostgreSQL side.** Every transaction legacy-sync commits writes its
//!   guard row in [`MARKER_TABLE`] first. The change capture drops every
//!   transaction that has a change to that table (test_decoding prints a
//!   transaction's changes in the order they were made, so the marker comes
//!   before the legacy rows), and any change to an order numbered at or
//!   above [`crate::outbound::NEW_SYSTEM_NUMBERS`] (the new system's orders:
//!   the legacy side does not own them).

/// The OrderById attribute naming the writer of the record's current state.
pub const ORIGIN: &str = "origin";

/// [`ORIGIN`]'s value on records the migration wrote from the legacy database.
pub const FROM_LEGACY: &str = "legacy";

/// The legacy-sync function's own schema in the legacy database.
pub const SYNC_SCHEMA: &str = "acme_sync";

/// The table whose row legacy-sync writes first in each of its transactions
/// (the order's number and version: the guard), as test_decoding names it.
pub const MARKER_TABLE: &str = "acme_sync.orders";

//! `legacy-schema`: ACME's legacy PostgreSQL order database as both
//! directions of a county's move see it — the migration (`acme-migrate`:
//! backfill, verify, change capture, legacy → new) and the legacy-sync
//! function (new → legacy). One definition of each rule, so the two
//! directions are inverses of each other.
//!
//! | module | |
//! |---|---|
//! | [`rows`] | the legacy rows (`migrate/sql/legacy-schema.sql`) |
//! | [`key`] | SKUs, store ids, request ids ↔ the id alphabet (a reversible escape) |
//! | [`money`] | `numeric` text ↔ integer cents, exactly |
//! | [`status`] | legacy status text ↔ order status |
//! | [`outbound`] | an order of the new system → its legacy rows |
//! | [`tls`] | the verified TLS of every connection to the legacy database |
//! | [`origin`] | how each sync recognises what the other wrote (no loops) |

pub mod key;
pub mod money;
pub mod origin;
pub mod outbound;
pub mod rows;
pub mod status;
pub mod tls;

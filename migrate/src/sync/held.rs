//! The legacy orders the change capture holds back while the new system
//! owns the county's orders (mode `dynamo`), kept in the legacy database
//! ([`held_back::TABLE`](acme_contract::migration::held_back::TABLE), in the `acme_sync` schema legacy-sync also uses).
//!
//! A held order's row is written **before** the slot moves past the change
//! that held it: a sync that dies in between reads the change again and
//! holds it again (the row is keyed by county and order, so it is one row
//! still), and a restarted sync reads the rows back. After a rollback the
//! orders are read again and applied — the guarded puts refuse anything
//! stale, so applying twice changes nothing — and only then are their rows
//! deleted. The sync's own writes to the table reach its slot too; the
//! decoder drops those transactions ([`super::decode`]).

use std::collections::BTreeSet;
use std::sync::LazyLock;

use acme_contract::migration::held_back as t;
use legacy_schema::origin::SYNC_SCHEMA;
use tokio_postgres::Client;

use crate::source::{Legacy, SourceError};

/// Created if missing, under the advisory lock legacy-sync takes for the
/// same schema (concurrent `IF NOT EXISTS` creates are not safe).
static CREATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT pg_advisory_xact_lock(hashtext('{SYNC_SCHEMA}'));
         CREATE SCHEMA IF NOT EXISTS {SYNC_SCHEMA};
         CREATE TABLE IF NOT EXISTS {} (
             {c}  text        NOT NULL,
             {n}  bigint      NOT NULL,
             {f}  timestamptz NOT NULL,
             {l}  timestamptz NOT NULL,
             PRIMARY KEY ({c}, {n}));",
        t::TABLE,
        c = t::COUNTY,
        n = t::LEGACY_NUMBER,
        f = t::FIRST_HELD_AT,
        l = t::LAST_HELD_AT,
    )
});

/// `$1` the county, `$2` the order numbers.
static RECORD: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO {} AS h ({c}, {n}, {f}, {l})
         SELECT $1, n, now(), now() FROM unnest($2::bigint[]) AS u(n)
         ON CONFLICT ({c}, {n}) DO UPDATE SET {l} = EXCLUDED.{l}",
        t::TABLE,
        c = t::COUNTY,
        n = t::LEGACY_NUMBER,
        f = t::FIRST_HELD_AT,
        l = t::LAST_HELD_AT,
    )
});

static LIST: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {n} FROM {} WHERE {c} = $1 ORDER BY {n}",
        t::TABLE,
        c = t::COUNTY,
        n = t::LEGACY_NUMBER,
    )
});

static RELEASE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "DELETE FROM {} WHERE {c} = $1 AND {n} = ANY($2::bigint[])",
        t::TABLE,
        c = t::COUNTY,
        n = t::LEGACY_NUMBER,
    )
});

static COUNT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT count(*) FROM {} WHERE {c} = $1",
        t::TABLE,
        c = t::COUNTY
    )
});

/// A statement on the table failed, in the server's words.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{action} {}: {message}", t::TABLE)]
pub struct HeldError {
    pub action: &'static str,
    pub message: String,
    /// SQLSTATE, when the server answered (none: the connection is lost).
    pub code: Option<String>,
}

fn failed(action: &'static str) -> impl FnOnce(tokio_postgres::Error) -> HeldError {
    move |e| {
        let (message, code) = match e.as_db_error() {
            Some(db) => (db.message().to_owned(), Some(db.code().code().to_owned())),
            None => (e.to_string(), None),
        };
        HeldError {
            action,
            message,
            code,
        }
    }
}

pub(crate) async fn create(client: &Client) -> Result<(), HeldError> {
    client
        .batch_execute(&CREATE)
        .await
        .map_err(failed("creating"))
}

/// Records `orders` as held back for `county`; a row already there keeps
/// its `first_held_at`.
pub(crate) async fn record(client: &Client, county: &str, orders: &[i64]) -> Result<(), HeldError> {
    if orders.is_empty() {
        return Ok(());
    }
    client
        .execute(RECORD.as_str(), &[&county, &orders])
        .await
        .map(drop)
        .map_err(failed("recording held orders in"))
}

pub(crate) async fn list(client: &Client, county: &str) -> Result<BTreeSet<i64>, HeldError> {
    let rows = client
        .query(LIST.as_str(), &[&county])
        .await
        .map_err(failed("reading"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Deletes the rows of `orders` (applied); how many there were.
pub(crate) async fn release(
    client: &Client,
    county: &str,
    orders: &[i64],
) -> Result<u64, HeldError> {
    client
        .execute(RELEASE.as_str(), &[&county, &orders])
        .await
        .map_err(failed("deleting applied orders from"))
}

/// How many orders are held back for `county` (`migrate status`); no table
/// means the sync never ran in this database: none.
pub async fn count(legacy: &Legacy, county: &str) -> Result<u64, SourceError> {
    let client = legacy.client();
    let exists: Option<String> = client
        .query_one("SELECT to_regclass($1)::text", &[&t::TABLE])
        .await
        .map_err(SourceError::query(t::TABLE))?
        .get(0);
    if exists.is_none() {
        return Ok(0);
    }
    let n: i64 = client
        .query_one(COUNT.as_str(), &[&county])
        .await
        .map_err(SourceError::query(t::TABLE))?
        .get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_the_sync_schema() {
        let (schema, _) = t::TABLE.split_once('.').expect("qualified");
        assert_eq!(schema, SYNC_SCHEMA);
        assert!(CREATE.contains("PRIMARY KEY (county_id, legacy_number)"));
        assert!(RECORD.contains("ON CONFLICT (county_id, legacy_number) DO UPDATE"));
    }
}

//! The county's logical replication slot, through PostgreSQL's SQL functions
//! (`pg_create_logical_replication_slot`, `pg_logical_slot_peek_changes`,
//! `pg_replication_slot_advance`), so the sync needs the one client the
//! backfill uses and no replication connection.
//!
//! The slot is the durable position: it moves only after a batch's writes
//! have succeeded. Between two SQL calls the slot is free, so a session
//! advisory lock, held for the life of the connection, keeps a second sync
//! of the same county out.

use tokio_postgres::Client;

use order_domain::CountyId;

use super::decode::{Lsn, Row};

/// The output plugin shipped with PostgreSQL (contrib), available on RDS.
pub const PLUGIN: &str = "test_decoding";

/// The advisory lock class the sync's locks live in (`"ACDC"`).
const LOCK_CLASS: i32 = 0x4143_4443;

/// `acme_cdc_<county>` (a county id's `-` become `_`; slot names allow only
/// `a-z 0-9 _`, and county ids only `a-z 0-9 -`, so no two counties meet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotName(String);

impl SlotName {
    pub fn for_county(county: &CountyId) -> Self {
        SlotName(format!("acme_cdc_{}", county.as_str().replace('-', "_")))
    }

    /// A name the DBA chose (`--slot`): PostgreSQL allows `a-z 0-9 _`, up to 63.
    pub fn parse(name: &str) -> Result<Self, String> {
        let ok = !name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(SlotName(name.to_owned()))
        } else {
            Err(format!(
                "`{name}` is not a replication slot name: 1 to 63 of a-z, 0-9 and _"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SlotName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A PostgreSQL error on a slot call, with the server's own words.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{action}: {message}")]
pub struct SlotError {
    pub action: &'static str,
    pub message: String,
    /// SQLSTATE, when the server answered.
    pub code: Option<String>,
}

impl SlotError {
    fn from(action: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Self {
        move |e| {
            let (message, code) = match e.as_db_error() {
                Some(db) => (db.message().to_owned(), Some(db.code().code().to_owned())),
                None => (e.to_string(), None),
            };
            SlotError {
                action,
                message,
                code,
            }
        }
    }

    /// `55006`: the slot is being read by another session.
    pub fn in_use(&self) -> bool {
        self.code.as_deref() == Some("55006")
    }
}

/// What `pg_replication_slots` says of the slot.
#[derive(Debug, Clone)]
pub struct SlotInfo {
    pub plugin: String,
    /// Slots are the server's, not one database's.
    pub database: String,
    /// In the database this session is connected to.
    pub here: bool,
    /// Everything before this is applied.
    pub confirmed: Lsn,
    /// WAL the server keeps for the slot, from its restart position.
    pub retained_bytes: i64,
}

pub async fn wal_level(client: &Client) -> Result<String, SlotError> {
    let row = client
        .query_one("SELECT current_setting('wal_level')", &[])
        .await
        .map_err(SlotError::from("reading wal_level"))?;
    Ok(row.get(0))
}

/// Sets the session up so commit times read in UTC.
pub async fn session(client: &Client) -> Result<(), SlotError> {
    client
        .batch_execute("SET TIME ZONE 'UTC'; SET DateStyle = 'ISO, YMD'")
        .await
        .map_err(SlotError::from("setting the session up"))
}

pub async fn info(client: &Client, slot: &SlotName) -> Result<Option<SlotInfo>, SlotError> {
    let row = client
        .query_opt(
            "SELECT plugin::text, confirmed_flush_lsn::text, \
                 pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, database::text, \
                 coalesce(database = current_database(), false) \
             FROM pg_replication_slots WHERE slot_name::text = $1",
            &[&slot.as_str()],
        )
        .await
        .map_err(SlotError::from("reading the slot"))?;
    let Some(row) = row else { return Ok(None) };
    let confirmed: Option<String> = row.get(1);
    Ok(Some(SlotInfo {
        plugin: row.get::<_, Option<String>>(0).unwrap_or_default(),
        confirmed: confirmed.and_then(|c| c.parse().ok()).unwrap_or_default(),
        retained_bytes: row.get::<_, Option<i64>>(2).unwrap_or(0),
        database: row.get::<_, Option<String>>(3).unwrap_or_default(),
        here: row.get(4),
    }))
}

/// Creates the slot; its position is where the stream starts.
pub async fn create(client: &Client, slot: &SlotName) -> Result<Lsn, SlotError> {
    let row = client
        .query_one(
            "SELECT lsn::text FROM pg_create_logical_replication_slot($1, $2)",
            &[&slot.as_str(), &PLUGIN],
        )
        .await
        .map_err(SlotError::from("creating the replication slot"))?;
    row.get::<_, String>(0).parse().map_err(|e| SlotError {
        action: "creating the replication slot",
        message: e,
        code: None,
    })
}

pub async fn drop(client: &Client, slot: &SlotName) -> Result<(), SlotError> {
    client
        .execute("SELECT pg_drop_replication_slot($1)", &[&slot.as_str()])
        .await
        .map_err(SlotError::from("dropping the replication slot"))?;
    Ok(())
}

/// Takes the county's sync lock for this session; `false` if another
/// session holds it.
pub async fn lock(client: &Client, slot: &SlotName) -> Result<bool, SlotError> {
    let row = client
        .query_one(
            "SELECT pg_try_advisory_lock($1, hashtext($2))",
            &[&LOCK_CLASS, &slot.as_str()],
        )
        .await
        .map_err(SlotError::from("taking the sync lock"))?;
    Ok(row.get(0))
}

/// Who holds the county's sync lock (or reads its slot): `pid 123 from
/// 10.0.0.5 (acme-infra migrate)`.
pub async fn holders(client: &Client, slot: &SlotName) -> Result<Vec<String>, SlotError> {
    let rows = client
        .query(
            "SELECT a.pid, coalesce(host(a.client_addr), 'local socket'), a.application_name \
             FROM pg_stat_activity a WHERE a.pid IN ( \
                 SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted \
                   AND l.classid = $1::int4::oid AND l.objid = hashtext($2::text)::oid AND l.objsubid = 2 \
                 UNION SELECT s.active_pid FROM pg_replication_slots s \
                   WHERE s.slot_name::text = $2::text AND s.active_pid IS NOT NULL) \
               AND a.pid <> pg_backend_pid()",
            &[&LOCK_CLASS, &slot.as_str()],
        )
        .await
        .map_err(SlotError::from("finding who holds the slot"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let pid: i32 = r.get(0);
            let from: String = r.get(1);
            let app: String = r.get(2);
            format!("pid {pid} from {from} ({app})")
        })
        .collect())
}

/// Up to about `changes` rows from the slot's position (whole transactions:
/// PostgreSQL stops at the first commit past the limit), without moving it.
pub async fn peek(client: &Client, slot: &SlotName, changes: i32) -> Result<Vec<Row>, SlotError> {
    let rows = client
        .query(
            "SELECT lsn::text, xid::text, data FROM pg_logical_slot_peek_changes( \
                 $1, NULL, $2, 'include-xids', '1', 'include-timestamp', '1', \
                 'skip-empty-xacts', '1', 'only-local', '1')",
            &[&slot.as_str(), &changes],
        )
        .await
        .map_err(SlotError::from("reading the replication slot"))?;
    rows.iter()
        .map(|r| {
            let bad = |m: String| SlotError {
                action: "reading the replication slot",
                message: m,
                code: None,
            };
            Ok(Row {
                lsn: r.get::<_, String>(0).parse().map_err(bad)?,
                xid: r
                    .get::<_, String>(1)
                    .parse()
                    .map_err(|_| bad("a transaction id that is not a number".into()))?,
                data: r.get(2),
            })
        })
        .collect()
}

/// Moves the slot to `to`: everything before it is applied, and the server
/// may recycle the WAL that held it.
pub async fn advance(client: &Client, slot: &SlotName, to: Lsn) -> Result<(), SlotError> {
    client
        .query_one(
            "SELECT end_lsn FROM pg_replication_slot_advance($1, $2::text::pg_lsn)",
            &[&slot.as_str(), &to.to_string()],
        )
        .await
        .map_err(SlotError::from("moving the replication slot"))?;
    Ok(())
}

/// How far the server's WAL is flushed (as far as a peek can decode).
pub async fn flushed(client: &Client) -> Result<Lsn, SlotError> {
    let row = client
        .query_one("SELECT pg_current_wal_flush_lsn()::text", &[])
        .await
        .map_err(SlotError::from("reading the WAL position"))?;
    row.get::<_, String>(0).parse().map_err(|e| SlotError {
        action: "reading the WAL position",
        message: e,
        code: None,
    })
}

/// Bytes of WAL written since the slot's position: how far behind it is.
pub async fn behind(client: &Client, slot: &SlotName) -> Result<i64, SlotError> {
    let row = client
        .query_opt(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint \
             FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot.as_str()],
        )
        .await
        .map_err(SlotError::from("reading the slot's lag"))?;
    Ok(row.and_then(|r| r.get::<_, Option<i64>>(0)).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_names_follow_the_county() {
        let c = CountyId::parse("travis-tx").expect("county");
        assert_eq!(SlotName::for_county(&c).as_str(), "acme_cdc_travis_tx");
        assert!(SlotName::parse("orders_cdc_1").is_ok());
        for bad in ["", "Has-Caps", "a-b", &"x".repeat(64)] {
            assert!(SlotName::parse(bad).is_err(), "{bad}");
        }
    }
}

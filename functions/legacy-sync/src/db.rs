//! The legacy database, written: one transaction per order change, guarded
//! by the order's version, and the function's own schema (`acme_sync`).
//!
//! Every transaction writes its guard row in `acme_sync.orders` **first**:
//! the change capture recognises a legacy-sync transaction by it and drops
//! it, so nothing written here comes back to DynamoDB (see
//! `legacy_schema::origin`).

use std::path::PathBuf;
use std::sync::LazyLock;

use acme_contract::migration::legacy_sync_progress as progress;

use legacy_schema::outbound::{Customer, NEW_SYSTEM_NUMBERS, Number, OutboundOrder, PlacedAt};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, Statement, Transaction};

/// Where and how to connect: the secret's connection, and the CA file the
/// server's certificate chains to (none: the system's roots).
#[derive(Clone)]
pub struct Target {
    pub config: Config,
    pub root_cert: Option<PathBuf>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        let host = match self.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            _ => String::new(),
        };
        write!(
            f,
            "postgres://{}@{host}:{}/{}",
            self.config.get_user().unwrap_or(""),
            self.config.get_ports().first().copied().unwrap_or(5432),
            self.config.get_dbname().unwrap_or("")
        )
    }
}

/// A write that did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database refused these rows and will again (a constraint, a
    /// value out of range, a store it does not have): the failure queue.
    #[error("the legacy database refused the order: {0}")]
    Refused(String),
    /// Anything else (connection lost, a timeout, a deadlock): retried.
    #[error("legacy database: {0}")]
    Unavailable(String),
}

fn classify(e: &tokio_postgres::Error) -> DbError {
    let text = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    };
    match e.code() {
        // Class 22 (data exception) and 23 (integrity constraint violation).
        Some(c) if c.code().starts_with("22") || c.code().starts_with("23") => {
            DbError::Refused(text)
        }
        Some(c) if *c == SqlState::UNDEFINED_TABLE || *c == SqlState::UNDEFINED_COLUMN => {
            DbError::Refused(text)
        }
        _ => DbError::Unavailable(text),
    }
}

/// What one order change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Written; the legacy order number.
    Written(i64),
    /// The legacy tables already hold this version or a later one (a replay,
    /// or a record arriving after a later one): nothing written.
    Stale,
}

/// `acme_sync`, created if missing. Serialised by an advisory lock, because
/// several function instances may start at once and `IF NOT EXISTS` is not
/// safe against a concurrent create. The progress table's names are the
/// ones `migrate status` reads ([`progress`]).
static SCHEMA: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT pg_advisory_xact_lock(hashtext('acme_sync'));
         CREATE SCHEMA IF NOT EXISTS acme_sync;
         CREATE SEQUENCE IF NOT EXISTS acme_sync.order_numbers
             MINVALUE {NEW_SYSTEM_NUMBERS} START {NEW_SYSTEM_NUMBERS};
         CREATE SEQUENCE IF NOT EXISTS acme_sync.customer_numbers
             MINVALUE {NEW_SYSTEM_NUMBERS} START {NEW_SYSTEM_NUMBERS};
         CREATE TABLE IF NOT EXISTS acme_sync.orders (
             order_id         text        PRIMARY KEY,
             legacy_order_id  bigint      NOT NULL UNIQUE,
             version          bigint      NOT NULL,
             applied_at       timestamptz NOT NULL);
         CREATE TABLE IF NOT EXISTS acme_sync.customers (
             customer_id         text   PRIMARY KEY,
             legacy_customer_id  bigint NOT NULL UNIQUE);
         CREATE TABLE IF NOT EXISTS {t} (
             {c}  text        PRIMARY KEY,
             {r}  timestamptz NOT NULL,
             {a}  timestamptz NOT NULL,
             {s}  text        NOT NULL);",
        t = progress::TABLE,
        c = progress::COUNTY,
        r = progress::LAST_RECORD_AT,
        a = progress::APPLIED_AT,
        s = progress::SEQUENCE_NUMBER,
    )
});

const US: &str = "(timestamptz 'epoch' + $1::bigint * interval '1 microsecond')";

const GUARD: &str =
    "INSERT INTO acme_sync.orders AS g (order_id, legacy_order_id, version, applied_at)
     VALUES ($1, COALESCE($2, nextval('acme_sync.order_numbers')), $3, clock_timestamp())
     ON CONFLICT (order_id) DO UPDATE
         SET version = EXCLUDED.version, applied_at = EXCLUDED.applied_at
         WHERE g.version < EXCLUDED.version
     RETURNING g.legacy_order_id";
const STORE: &str = "SELECT timezone, county_code FROM stores WHERE store_id = $1";
const NEW_CUSTOMER: &str = "WITH ins AS (
         INSERT INTO acme_sync.customers (customer_id, legacy_customer_id)
         VALUES ($1, nextval('acme_sync.customer_numbers'))
         ON CONFLICT (customer_id) DO NOTHING RETURNING legacy_customer_id)
     SELECT legacy_customer_id FROM ins
     UNION ALL SELECT legacy_customer_id FROM acme_sync.customers WHERE customer_id = $1";
const LINES: &str = "INSERT INTO order_lines AS l (order_id, line_no, sku, quantity, unit_price)
     SELECT $1, n, s, q, p::numeric FROM unnest($2::int4[], $3::text[], $4::int4[], $5::text[]) AS u(n, s, q, p)
     ON CONFLICT (order_id, line_no) DO UPDATE
         SET sku = EXCLUDED.sku, quantity = EXCLUDED.quantity, unit_price = EXCLUDED.unit_price
         WHERE (l.sku, l.quantity, l.unit_price)
             IS DISTINCT FROM (EXCLUDED.sku, EXCLUDED.quantity, EXCLUDED.unit_price)";
const EXTRA_LINES: &str = "DELETE FROM order_lines WHERE order_id = $1 AND line_no > $2";

fn customer_sql() -> String {
    format!(
        "INSERT INTO customers (customer_id, created_at) VALUES ($2, {})
         ON CONFLICT (customer_id) DO NOTHING",
        US
    )
}

fn order_sql() -> String {
    let at = |n: u8| US.replace("$1", &format!("${n}"));
    format!(
        "INSERT INTO orders AS o (order_id, client_request_id, customer_id, store_id, status,
             total, currency, payment_ref, placed_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6::text::numeric, $7, $8,
             COALESCE($9::text::timestamp, {} AT TIME ZONE $11::text), {})
         ON CONFLICT (order_id) DO UPDATE
             SET status = EXCLUDED.status, total = EXCLUDED.total,
                 payment_ref = EXCLUDED.payment_ref, updated_at = EXCLUDED.updated_at
             WHERE o.updated_at < EXCLUDED.updated_at",
        at(10),
        at(12)
    )
}

/// `$1` the record's time (µs), `$2` the county, `$3` its sequence number.
static POSITION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO {t} ({c}, {r}, {a}, {s})
         VALUES ($2, {US}, clock_timestamp(), $3)
         ON CONFLICT ({c}) DO UPDATE
             SET {r} = EXCLUDED.{r}, {a} = EXCLUDED.{a}, {s} = EXCLUDED.{s}",
        t = progress::TABLE,
        c = progress::COUNTY,
        r = progress::LAST_RECORD_AT,
        a = progress::APPLIED_AT,
        s = progress::SEQUENCE_NUMBER,
    )
});

/// The statements, prepared once per connection.
struct Prepared {
    guard: Statement,
    store: Statement,
    new_customer: Statement,
    customer: Statement,
    order: Statement,
    lines: Statement,
    extra_lines: Statement,
    position: Statement,
}

/// One open connection to the legacy database.
pub struct LegacyDb {
    client: Client,
    prepared: Prepared,
}

impl LegacyDb {
    /// Connects (TLS verified as `legacy_schema::tls` does it), creates
    /// `acme_sync` if missing and prepares the statements.
    pub async fn connect(target: &Target) -> Result<Self, DbError> {
        let tls = legacy_schema::tls::connector(target.root_cert.as_deref())
            .map_err(DbError::Unavailable)?;
        let (client, connection) = target.config.connect(tls).await.map_err(|e| {
            DbError::Unavailable(format!(
                "connecting to {target:?}: {}",
                legacy_schema::tls::with_hint(e.to_string())
            ))
        })?;
        // Ends when the client is dropped; an error surfaces on the next query.
        tokio::spawn(connection);
        client
            .batch_execute(&SCHEMA)
            .await
            .map_err(|e| classify(&e))?;
        let p = |sql: String| {
            let client = &client;
            async move { client.prepare(&sql).await.map_err(|e| classify(&e)) }
        };
        let prepared = Prepared {
            guard: p(GUARD.into()).await?,
            store: p(STORE.into()).await?,
            new_customer: p(NEW_CUSTOMER.into()).await?,
            customer: p(customer_sql()).await?,
            order: p(order_sql()).await?,
            lines: p(LINES.into()).await?,
            extra_lines: p(EXTRA_LINES.into()).await?,
            position: p(POSITION.clone()).await?,
        };
        Ok(LegacyDb { client, prepared })
    }

    /// Whether the connection is gone (a new one is needed).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Writes one order change in one transaction.
    pub async fn apply(&mut self, county: &str, o: &OutboundOrder) -> Result<Applied, DbError> {
        let tx = self.client.transaction().await.map_err(|e| classify(&e))?;
        let result = write(&tx, &self.prepared, county, o).await;
        match result {
            Ok(Applied::Written(n)) => {
                tx.commit().await.map_err(|e| classify(&e))?;
                Ok(Applied::Written(n))
            }
            // A rollback of a refused or stale write leaves nothing behind.
            other => other,
        }
    }

    /// [`progress::TABLE`] for `county`: the stream record last applied
    /// (its time in the stream, µs) and now.
    pub async fn record_position(
        &self,
        county: &str,
        record_at_us: i64,
        sequence_number: &str,
    ) -> Result<(), DbError> {
        self.client
            .execute(
                &self.prepared.position,
                &[&record_at_us, &county, &sequence_number],
            )
            .await
            .map(drop)
            .map_err(|e| classify(&e))
    }
}

async fn write(
    tx: &Transaction<'_>,
    p: &Prepared,
    county: &str,
    o: &OutboundOrder,
) -> Result<Applied, DbError> {
    let db = |e: tokio_postgres::Error| classify(&e);
    let order_id = o.order_id.to_string();
    let number = match o.number {
        Number::Legacy(n) => Some(n),
        Number::Allocate => None,
    };
    let version = i64::try_from(o.version)
        .map_err(|_| DbError::Refused(format!("version {} is out of range", o.version)))?;
    // The guard row first: it marks the transaction as legacy-sync's.
    let Some(row) = tx
        .query_opt(&p.guard, &[&order_id, &number, &version])
        .await
        .map_err(db)?
    else {
        return Ok(Applied::Stale);
    };
    let number: i64 = row.get(0);
    let Some(store) = tx.query_opt(&p.store, &[&o.store_id]).await.map_err(db)? else {
        return Err(DbError::Refused(format!(
            "store `{}` is not in the legacy database",
            o.store_id
        )));
    };
    let (timezone, store_county): (String, String) = (store.get(0), store.get(1));
    if store_county != county {
        return Err(DbError::Refused(format!(
            "store `{}` is in county `{store_county}` in the legacy database, not `{county}`",
            o.store_id
        )));
    }
    let customer = match &o.customer {
        Customer::Legacy(n) => *n,
        Customer::New(id) => tx
            .query_one(&p.new_customer, &[id])
            .await
            .map_err(db)?
            .get(0),
    };
    let created_us = match o.placed_at {
        PlacedAt::Utc(us) => us,
        PlacedAt::Local(_) => o.updated_at_us,
    };
    tx.execute(&p.customer, &[&created_us, &customer])
        .await
        .map_err(db)?;
    let (local, utc) = match &o.placed_at {
        PlacedAt::Local(l) => (Some(l.as_str()), None::<i64>),
        PlacedAt::Utc(us) => (None, Some(*us)),
    };
    let written = tx
        .execute(
            &p.order,
            &[
                &number,
                &o.client_request_id,
                &customer,
                &o.store_id,
                &o.status,
                &o.total,
                &o.currency,
                &o.payment_ref,
                &local,
                &utc,
                &timezone,
                &o.updated_at_us,
            ],
        )
        .await
        .map_err(db)?;
    if written == 0 {
        // The legacy row is newer (changed there after this version).
        return Ok(Applied::Stale);
    }
    let (mut nos, mut skus, mut qty, mut prices) = (vec![], vec![], vec![], vec![]);
    for l in &o.lines {
        nos.push(l.line_no);
        skus.push(l.sku.as_str());
        qty.push(l.quantity);
        prices.push(l.unit_price.as_str());
    }
    tx.execute(&p.lines, &[&number, &nos, &skus, &qty, &prices])
        .await
        .map_err(db)?;
    let last = i32::try_from(o.lines.len()).unwrap_or(i32::MAX);
    tx.execute(&p.extra_lines, &[&number, &last])
        .await
        .map_err(db)?;
    Ok(Applied::Written(number))
}

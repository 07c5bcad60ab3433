//! The legacy PostgreSQL order database, read-only: connecting (TLS when the
//! URL asks for it, the password never shown), checking that the schema has
//! what the migration reads, and one `REPEATABLE READ` snapshot for a run.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config, IsolationLevel, Transaction};

use legacy_schema::tls;

/// Environment variable holding the connection string when `--from` is not given.
pub const URL_ENV: &str = "ACME_LEGACY_URL";

/// libpq's variable for the CA certificates to trust, used when the URL has
/// no `sslrootcert`.
pub const ROOT_CERT_ENV: &str = "PGSSLROOTCERT";

/// The columns the migration reads, per table: checked before anything is
/// read so a renamed column is one clear error, not a failure mid-run.
pub const EXPECTED_COLUMNS: &[(&str, &[&str])] = &[
    ("stores", &["store_id", "county_code", "name", "timezone"]),
    (
        "customers",
        &[
            "customer_id",
            "email",
            "full_name",
            "phone",
            "birth_date",
            "created_at",
        ],
    ),
    (
        "orders",
        &[
            "order_id",
            "client_request_id",
            "customer_id",
            "store_id",
            "status",
            "total",
            "currency",
            "payment_ref",
            "placed_at",
            "updated_at",
        ],
    ),
    (
        "order_lines",
        &["order_id", "line_no", "sku", "quantity", "unit_price"],
    ),
    (
        "inventory",
        &[
            "store_id",
            "sku",
            "on_hand",
            "reserved",
            "price",
            "updated_at",
        ],
    ),
];

/// Everything that can go wrong on the legacy side.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("no legacy database given: pass --from postgres://… or set {URL_ENV}")]
    NoUrl,
    #[error("the legacy database URL is not valid: {0}")]
    BadUrl(String),
    #[error("cannot connect to the legacy database at {target}: {cause}")]
    Connect { target: String, cause: String },
    #[error(
        "the legacy database at {target} lacks what the migration reads:\n{}",
        missing.iter().map(|m| format!("  - {m}")).collect::<Vec<_>>().join("\n")
    )]
    Schema {
        target: String,
        missing: Vec<String>,
    },
    #[error("reading {what} from the legacy database failed: {cause}")]
    Query { what: &'static str, cause: String },
}

impl SourceError {
    pub(crate) fn query(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Self {
        move |e| SourceError::Query {
            what,
            cause: describe(&e),
        }
    }
}

/// The server's own message when there is one (it names the table or
/// column), otherwise the client's.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
    }
}

/// A parsed connection string. `Display` never shows the password.
#[derive(Clone)]
pub struct LegacyUrl {
    config: Config,
    /// libpq's `sslrootcert`: a PEM file of the CAs to trust instead of the
    /// system's (`system`, or none: the system's).
    root_cert: Option<PathBuf>,
}

impl LegacyUrl {
    /// `--from`, else [`URL_ENV`].
    pub fn from_flag_or_env(flag: Option<&str>) -> Result<Self, SourceError> {
        let env = std::env::var(URL_ENV).ok().filter(|v| !v.is_empty());
        let text = flag.map(str::to_owned).or(env).ok_or(SourceError::NoUrl)?;
        text.parse()
    }

    /// Whether the connection will insist on TLS (`sslmode=require`).
    pub fn requires_tls(&self) -> bool {
        self.config.get_ssl_mode() == SslMode::Require
    }

    /// The CA file the server's certificate must chain to, if not the
    /// system's roots.
    pub fn root_cert(&self) -> Option<&Path> {
        self.root_cert.as_deref()
    }

    /// `text`, with `env_root_cert` standing for [`ROOT_CERT_ENV`].
    pub fn parse_with(text: &str, env_root_cert: Option<&str>) -> Result<Self, SourceError> {
        let (rest, tls) = tls::split_params(text).map_err(SourceError::BadUrl)?;
        let mut config = Config::from_str(&rest).map_err(|e| SourceError::BadUrl(e.to_string()))?;
        if tls.verify_mode {
            config.ssl_mode(SslMode::Require);
        }
        let root_cert = match tls.root_cert.as_deref().or(env_root_cert) {
            None | Some("" | "system") => None,
            Some(path) => Some(PathBuf::from(path)),
        };
        if config.get_hosts().is_empty() {
            return Err(SourceError::BadUrl("it names no host".into()));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("acme-infra migrate");
        Ok(LegacyUrl { config, root_cert })
    }
}

impl FromStr for LegacyUrl {
    type Err = SourceError;

    /// A libpq connection string (URL or `key=value` form); `sslrootcert`
    /// falls back to [`ROOT_CERT_ENV`].
    fn from_str(text: &str) -> Result<Self, SourceError> {
        let env = std::env::var(ROOT_CERT_ENV).ok();
        Self::parse_with(text, env.as_deref())
    }
}

impl fmt::Display for LegacyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => String::new(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let user = self.config.get_user().unwrap_or("");
        let db = self.config.get_dbname().unwrap_or(user);
        write!(f, "postgres://{user}@{host}:{port}/{db}")
    }
}

impl fmt::Debug for LegacyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LegacyUrl({self})")
    }
}

fn tls(root_cert: Option<&Path>) -> Result<tokio_postgres_rustls::MakeRustlsConnect, SourceError> {
    tls::connector(root_cert).map_err(SourceError::BadUrl)
}

/// An open connection to the legacy database.
pub struct Legacy {
    client: Client,
    url: LegacyUrl,
}

impl Legacy {
    /// Connects (TLS as `sslmode` says: `disable`, `prefer` (the default), or
    /// `require`) and checks the schema.
    pub async fn connect(url: &LegacyUrl) -> Result<Self, SourceError> {
        let (client, connection) =
            url.config
                .connect(tls(url.root_cert())?)
                .await
                .map_err(|e| SourceError::Connect {
                    target: url.to_string(),
                    cause: tls::with_hint(describe(&e)),
                })?;
        // The connection task ends when the client is dropped; an error it
        // meets surfaces on the client's next query.
        tokio::spawn(connection);
        let legacy = Legacy {
            client,
            url: url.clone(),
        };
        legacy.check_schema().await?;
        Ok(legacy)
    }

    pub fn url(&self) -> &LegacyUrl {
        &self.url
    }

    /// The connection itself, for the change capture's slot functions.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Every table and column in [`EXPECTED_COLUMNS`] exists, or one error
    /// listing every one that does not.
    async fn check_schema(&self) -> Result<(), SourceError> {
        let rows = self
            .client
            .query(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema()",
                &[],
            )
            .await
            .map_err(SourceError::query("the schema"))?;
        let present: std::collections::BTreeSet<(String, String)> =
            rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let mut missing = Vec::new();
        for (table, columns) in EXPECTED_COLUMNS {
            if !present.iter().any(|(t, _)| t == table) {
                missing.push(format!("table `{table}`"));
                continue;
            }
            for column in *columns {
                if !present.contains(&(table.to_string(), column.to_string())) {
                    missing.push(format!("column `{table}.{column}`"));
                }
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(SourceError::Schema {
                target: self.url.to_string(),
                missing,
            })
        }
    }

    /// One read-only `REPEATABLE READ` transaction: every page of the run
    /// reads the database as it was when this began. Times are read in UTC.
    pub async fn snapshot(&mut self) -> Result<Snapshot<'_>, SourceError> {
        let tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(SourceError::query("a snapshot"))?;
        tx.batch_execute("SET LOCAL TIME ZONE 'UTC'")
            .await
            .map_err(SourceError::query("a snapshot"))?;
        // PostgreSQL takes a REPEATABLE READ snapshot at the transaction's
        // first query, not at BEGIN: this query pins it now.
        let row = tx
            .query_one("SELECT pg_current_snapshot()::text", &[])
            .await
            .map_err(SourceError::query("a snapshot"))?;
        Ok(Snapshot { id: row.get(0), tx })
    }
}

/// The database as of one instant; see [`crate::read`] for what is read.
pub struct Snapshot<'a> {
    /// `pg_current_snapshot()`: which transactions this run sees (`xmin:xmax:xip`).
    pub id: String,
    pub(crate) tx: Transaction<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_never_shown() {
        let url: LegacyUrl = "postgres://acme:s3cret@db.internal:6432/orders?sslmode=require"
            .parse()
            .expect("valid");
        assert_eq!(url.to_string(), "postgres://acme@db.internal:6432/orders");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert!(url.requires_tls());
    }

    #[test]
    fn the_ca_comes_from_the_url_else_pgsslrootcert() {
        let url = LegacyUrl::parse_with(
            "postgres://acme:s3cret@db:5432/orders?sslmode=verify-full&sslrootcert=/etc/acme/ca.pem",
            Some("/env/ca.pem"),
        )
        .expect("valid");
        assert_eq!(url.root_cert(), Some(Path::new("/etc/acme/ca.pem")));
        assert!(url.requires_tls(), "verify-full is TLS, verified");
        assert_eq!(url.to_string(), "postgres://acme@db:5432/orders");
        let url =
            LegacyUrl::parse_with("postgres://db/orders?sslmode=require", Some("/env/ca.pem"))
                .expect("valid");
        assert_eq!(url.root_cert(), Some(Path::new("/env/ca.pem")));
        let url = LegacyUrl::parse_with(
            "postgres://db/orders?sslrootcert=system",
            Some("/env/ca.pem"),
        )
        .expect("valid");
        assert_eq!(url.root_cert(), None);
    }

    #[test]
    fn a_url_that_is_not_one_is_refused() {
        let err = "mysql://x"
            .parse::<LegacyUrl>()
            .map(|_| ())
            .expect_err("bad");
        assert!(
            err.to_string()
                .starts_with("the legacy database URL is not valid"),
            "{err}"
        );
        let err = "postgres:///orders"
            .parse::<LegacyUrl>()
            .map(|_| ())
            .expect_err("bad");
        assert_eq!(
            err.to_string(),
            "the legacy database URL is not valid: it names no host"
        );
    }
}

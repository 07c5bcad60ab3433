//! The legacy database's connection, from its Secrets Manager secret: read
//! once per cold start, never logged (errors name the secret's fields, not
//! their values).

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::Config;
use tokio_postgres::config::SslMode;

use crate::db::Target;

/// Why the secret gives no connection.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("reading secret {arn}: {reason}")]
    Read { arn: String, reason: String },
    #[error("secret {arn}: {reason}")]
    Invalid { arn: String, reason: String },
}

/// The RDS secret's JSON (`username`, `password`, `host`, `port`, `dbname`),
/// the form RDS and Secrets Manager's rotation write.
#[derive(serde::Deserialize)]
struct RdsSecret {
    username: String,
    password: String,
    host: String,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    dbname: Option<String>,
}

/// Parses the secret's text: an RDS secret's JSON (TLS required and
/// verified), or a libpq connection string (TLS as its `sslmode` says).
/// `ca_file` is the CA bundle to verify against, when not the system's.
pub fn parse(text: &str, ca_file: Option<PathBuf>) -> Result<Target, String> {
    let trimmed = text.trim_start();
    let (mut config, root_cert) = if trimmed.starts_with('{') {
        let s: RdsSecret = serde_json::from_str(trimmed).map_err(|e| {
            // serde's message may quote a value: only its position is kept.
            format!(
                "not an RDS secret (username, password, host, port, dbname) at line {} column {}",
                e.line(),
                e.column()
            )
        })?;
        let mut c = Config::new();
        c.user(&s.username)
            .password(&s.password)
            .host(&s.host)
            .port(s.port.unwrap_or(5432))
            .dbname(s.dbname.as_deref().unwrap_or("postgres"))
            .ssl_mode(SslMode::Require);
        (c, ca_file)
    } else {
        let (rest, tls) = legacy_schema::tls::split_params(trimmed)?;
        let mut c = Config::from_str(&rest)
            .map_err(|_| "not a postgres:// URL nor an RDS secret's JSON".to_owned())?;
        if tls.verify_mode {
            c.ssl_mode(SslMode::Require);
        }
        let root = tls.root_cert.map(PathBuf::from).or(ca_file);
        (c, root)
    };
    if config.get_hosts().is_empty() {
        return Err("it names no host".into());
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    config.application_name("acme legacy-sync");
    Ok(Target { config, root_cert })
}

/// Reads the secret `arn` and parses it.
pub async fn read(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
    ca_file: Option<PathBuf>,
) -> Result<Target, SecretError> {
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| SecretError::Read {
            arn: arn.to_owned(),
            reason: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
        })?;
    let text = out.secret_string().ok_or_else(|| SecretError::Invalid {
        arn: arn.to_owned(),
        reason: "holds no SecretString".into(),
    })?;
    parse(text, ca_file).map_err(|reason| SecretError::Invalid {
        arn: arn.to_owned(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_rds_secret_requires_tls_and_no_message_quotes_the_password() {
        let t = parse(
            r#"{"username":"sync","password":"hunter2","host":"db.internal","port":5433,"dbname":"orders","engine":"postgres"}"#,
            None,
        )
        .expect("parses");
        assert_eq!(t.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(format!("{t:?}"), "postgres://sync@db.internal:5433/orders");
        let e = parse(r#"{"username":"sync","password":"hunter2"}"#, None).expect_err("no host");
        assert!(!e.contains("hunter2"), "{e}");
        let e = parse("mysql://sync:hunter2@db", None).expect_err("not postgres");
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn a_url_keeps_its_own_tls_settings() {
        let t = parse(
            "postgres://sync:pw@db:5432/orders?sslmode=verify-full&sslrootcert=%2Fopt%2Frds.pem",
            Some("/other.pem".into()),
        )
        .expect("parses");
        assert_eq!(t.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(t.root_cert, Some(PathBuf::from("/opt/rds.pem")));
    }
}

//! The parts of libpq's TLS settings that `tokio-postgres` does not parse:
//! `sslrootcert` (a private CA) and the `verify-ca` / `verify-full` modes.
//! They are taken out of the connection string before the rest is handed
//! over, and the CA file is read into rustls' root store.

use std::path::Path;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// What [`split_params`] took out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TlsParams {
    /// `sslrootcert`, decoded.
    pub root_cert: Option<String>,
    /// `sslmode=verify-ca` or `verify-full`: TLS required (and verified,
    /// which every TLS connection here is).
    pub verify_mode: bool,
}

/// Splits `sslrootcert` and the verify modes out of a connection string in
/// URL form (`postgres://…?sslrootcert=/etc/ca.pem`) or `key=value` form
/// (`host=db sslrootcert=/etc/ca.pem`); the rest is returned unchanged.
pub fn split_params(text: &str) -> Result<(String, TlsParams), String> {
    let mut params = TlsParams::default();
    let mut take = |key: &str, value: &str| -> Result<bool, String> {
        match (key, value) {
            ("sslrootcert", v) => params.root_cert = Some(decode(v)?),
            ("sslmode", "verify-ca" | "verify-full") => params.verify_mode = true,
            _ => return Ok(false),
        }
        Ok(true)
    };
    let rest = if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        let Some((base, query)) = text.split_once('?') else {
            return Ok((text.to_owned(), params));
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(k, v)? {
                kept.push(pair);
            }
        }
        match kept.is_empty() {
            true => base.to_owned(),
            false => format!("{base}?{}", kept.join("&")),
        }
    } else {
        let mut kept = Vec::new();
        for word in text.split_whitespace() {
            let (k, v) = word.split_once('=').unwrap_or((word, ""));
            if !take(k.trim(), v.trim_matches('\''))? {
                kept.push(word);
            }
        }
        kept.join(" ")
    };
    Ok((rest, params))
}

/// `%XX` escapes of a URL query value.
fn decode(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("sslrootcert `{value}`: a bad %-escape"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("sslrootcert `{value}` is not UTF-8"))
}

/// The certificates of a PEM file, as the only roots to trust.
pub fn private_roots(path: &Path) -> Result<rustls::RootCertStore, String> {
    let name = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("sslrootcert {name}: cannot read it: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("sslrootcert {name}: not a PEM certificate file: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!(
            "sslrootcert {name}: no CA certificate in it (a PEM file of `BEGIN CERTIFICATE` blocks)"
        ));
    }
    Ok(roots)
}

/// A connection error with what to do about it when TLS is the cause.
pub fn with_hint(cause: String) -> String {
    let hint = if cause.contains("not valid for name") {
        Some("the server's TLS certificate is for another name: connect by a name it holds")
    } else if cause.contains("certificate") {
        Some(
            "the server's TLS certificate is not trusted: give its CA with \
             sslrootcert=/path/to/ca.pem in the URL or PGSSLROOTCERT",
        )
    } else if cause.contains("no encryption") {
        Some("the server accepts this connection only over TLS: add sslmode=require to the URL")
    } else if cause.contains("server does not support TLS") {
        Some("the URL asks for TLS (sslmode=require) and the server offers none")
    } else {
        None
    };
    match hint {
        Some(h) => format!("{cause}\n  hint: {h}"),
        None => cause,
    }
}

/// A TLS connector that verifies the server's certificate chain to the CAs
/// in `root_cert` (a PEM file), or to the system's roots without one, and the
/// URL's host name (or IP address) against the certificate: libpq's
/// `verify-full`. The one TLS set-up of every connection to the legacy
/// database (the migration's and the legacy-sync function's).
pub fn connector(
    root_cert: Option<&Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let roots = match root_cert {
        Some(path) => private_roots(path)?,
        None => {
            let mut roots = rustls::RootCertStore::empty();
            // Unreadable system certificates only matter when TLS is used;
            // the handshake then fails naming the server.
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            roots
        }
    };
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslrootcert_and_verify_modes_are_taken_out_of_either_form() {
        let (rest, p) = split_params(
            "postgres://u:pw@db:5432/orders?sslmode=verify-full&sslrootcert=%2Fetc%2Fmy%20ca.pem&connect_timeout=5",
        )
        .expect("parsed");
        assert_eq!(rest, "postgres://u:pw@db:5432/orders?connect_timeout=5");
        assert_eq!(
            p,
            TlsParams {
                root_cert: Some("/etc/my ca.pem".into()),
                verify_mode: true
            }
        );
        let (rest, p) = split_params("postgres://db/orders?sslrootcert=/ca.pem").expect("parsed");
        assert_eq!(
            (rest.as_str(), p.root_cert.as_deref()),
            ("postgres://db/orders", Some("/ca.pem"))
        );
        let (rest, p) =
            split_params("host=db sslmode=require sslrootcert='/ca.pem' user=u").expect("parsed");
        assert_eq!(rest, "host=db sslmode=require user=u");
        assert_eq!(
            (p.root_cert.as_deref(), p.verify_mode),
            (Some("/ca.pem"), false)
        );
        assert!(split_params("postgres://db/o?sslrootcert=%zz").is_err());
    }

    #[test]
    fn a_ca_file_that_is_missing_or_holds_no_certificate_is_named() {
        let err = private_roots(Path::new("/nonexistent/ca.pem")).expect_err("missing");
        assert!(
            err.starts_with("sslrootcert /nonexistent/ca.pem: cannot read it"),
            "{err}"
        );
        let dir = std::env::temp_dir().join(format!("acme-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let err = private_roots(&empty).expect_err("empty");
        assert!(err.contains("no CA certificate in it"), "{err}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn tls_failures_carry_a_hint() {
        let h = with_hint(
            "error performing TLS handshake: invalid peer certificate: UnknownIssuer".into(),
        );
        assert!(h.contains("sslrootcert=/path/to/ca.pem"), "{h}");
        let h = with_hint("invalid peer certificate: certificate not valid for name \"db\"".into());
        assert!(h.ends_with("connect by a name it holds"), "{h}");
        let h = with_hint("no pg_hba.conf entry for host \"127.0.0.1\", user \"u\", database \"d\", no encryption (28000)".into());
        assert!(h.ends_with("add sslmode=require to the URL"), "{h}");
        assert_eq!(
            with_hint("password authentication failed".into()),
            "password authentication failed"
        );
    }
}

//! TLS to the legacy database against a real PostgreSQL 15 that accepts
//! TCP connections only over TLS (`hostssl` in pg_hba.conf), with a
//! certificate from a private CA made for the test: the CA given by
//! `sslrootcert` connects and reads; without it, with a name the certificate
//! does not hold, or without TLS, the connection fails saying why.
//!
//! The server is this test's own (started from the binaries
//! `scripts/with-postgres.sh` exports as `ACME_TEST_PG_BINDIR`), so the
//! shared server the other tests use stays plain.

use std::path::{Path, PathBuf};
use std::process::Command;

use acme_migrate::source::{Legacy, LegacyUrl, SourceError};

struct TlsServer {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl TlsServer {
    fn start() -> Self {
        let bindir = PathBuf::from(std::env::var("ACME_TEST_PG_BINDIR").unwrap_or_else(|_| {
            panic!("ACME_TEST_PG_BINDIR is not set: run through `scripts/with-postgres.sh`")
        }));
        let dir = tempfile::tempdir().expect("tmp");
        let as_postgres = run(Command::new("id").arg("-u")).trim() == "0";
        let server = TlsServer {
            port: free_port(),
            dir,
            bindir,
            as_postgres,
        };
        make_certificates(server.dir.path());
        if as_postgres {
            // initdb refuses root; the server's key must be its own.
            run(Command::new("chown")
                .args(["-R", "postgres"])
                .arg(server.dir.path()));
        }
        server.pg(
            "initdb",
            &[
                "--no-sync",
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "-D",
            ],
        );
        server.configure();
        let log = server.dir.path().join("server.log");
        let log = log.to_str().expect("utf-8 path");
        server.pg("pg_ctl", &["-w", "-l", log, "start", "-D"]);
        server.load_schema();
        server
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `bindir/tool args… <data dir>`, as the server's owner.
    fn pg(&self, tool: &str, args: &[&str]) -> String {
        let tool = self.bindir.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(tool);
            c
        } else {
            Command::new(tool)
        };
        run(cmd.args(args).arg(self.data()))
    }

    /// TLS on with the test CA's server certificate; TCP only over TLS.
    fn configure(&self) {
        let d = self.dir.path().display();
        let conf = format!(
            "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{d}'\n\
             fsync = off\nssl = on\nssl_cert_file = '{d}/server.pem'\nssl_key_file = '{d}/server.key'\n",
            self.port
        );
        append(&self.data().join("postgresql.conf"), &conf);
        std::fs::write(
            self.data().join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .expect("write pg_hba.conf");
    }

    fn load_schema(&self) {
        let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/legacy-schema.sql");
        let psql = |args: &[&str]| {
            run(Command::new(self.bindir.join("psql"))
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-h"])
                .arg(self.dir.path())
                .args(["-p", &self.port.to_string()])
                .args(args))
        };
        psql(&["-f", schema.to_str().expect("utf-8 path")]);
        psql(&[
            "-c",
            "INSERT INTO stores VALUES ('AUS-1', 'travis-tx', 'Austin', 'America/Chicago')",
        ]);
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn url(&self, host: &str, params: &str) -> LegacyUrl {
        format!(
            "postgres://postgres:s3cret@{host}:{}/postgres?{params}",
            self.port
        )
        .parse()
        .expect("url")
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        // Best effort: the directory goes with the TempDir either way.
        let _ = self.pg("pg_ctl", &["-m", "immediate", "stop", "-D"]);
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn append(path: &Path, text: &str) {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("append to the server's configuration");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A CA, and a server certificate it signs for the address 127.0.0.1 only
/// (no DNS name: connecting as `localhost` must fail the name check).
fn make_certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(Command::new("openssl")
        .current_dir(dir)
        .args(["req", "-x509"])
        .args(ec)
        .args(["-days", "2", "-subj", "/CN=acme test CA"])
        .args(["-keyout", "ca.key", "-out", "ca.pem"]));
    run(Command::new("openssl")
        .current_dir(dir)
        .arg("req")
        .args(ec)
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]));
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n\
         keyUsage = digitalSignature\nextendedKeyUsage = serverAuth\n",
    )
    .expect("write the extensions");
    run(Command::new("openssl").current_dir(dir).args([
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]));
    run(Command::new("chmod")
        .args(["600"])
        .arg(dir.join("server.key")));
}

async fn connect_error(url: &LegacyUrl) -> String {
    match Legacy::connect(url).await {
        Ok(_) => panic!("{url} connected"),
        Err(e @ SourceError::Connect { .. }) => e.to_string(),
        Err(e) => panic!("{url}: not a connection error: {e}"),
    }
}

#[tokio::test]
async fn tls_is_verified_against_the_ca_given_and_refused_without_it() {
    let server = TlsServer::start();
    let ca = server.ca();
    let ca = ca.to_str().expect("utf-8 path");

    let with_ca = server.url("127.0.0.1", &format!("sslmode=require&sslrootcert={ca}"));
    let mut legacy = Legacy::connect(&with_ca).await.expect("connects over TLS");
    let snap = legacy.snapshot().await.expect("snapshot");
    let stores = snap.stores("travis-tx").await.expect("reads");
    assert_eq!(stores.len(), 1);
    drop(snap);

    // The system's roots do not hold the test CA.
    let err = connect_error(&server.url("127.0.0.1", "sslmode=require")).await;
    assert!(
        err.contains("TLS handshake") && err.contains("certificate"),
        "{err}"
    );
    assert!(
        err.contains("hint: the server's TLS certificate is not trusted"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");

    // The right CA, a name the certificate does not hold.
    let err = connect_error(&server.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await;
    assert!(err.contains("not valid for name \"localhost\""), "{err}");
    assert!(
        err.contains("hint: the server's TLS certificate is for another name"),
        "{err}"
    );

    // The server takes TCP connections only over TLS.
    let err = connect_error(&server.url("127.0.0.1", "sslmode=disable")).await;
    assert!(err.contains("no encryption"), "{err}");
    assert!(
        err.contains("hint: the server accepts this connection only over TLS"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
}

//! The local AWS API: the endpoint in `AWS_ENDPOINT_URL`, or a moto server
//! this process starts on a free loopback port and stops when dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::error::{LocalError, Result};

/// moto is ready in about a second; allow for a cold Python start on a busy machine.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running emulator endpoint.
#[derive(Debug)]
pub struct Emulator {
    url: String,
    child: Option<Child>,
}

impl Emulator {
    /// An emulator someone else runs (e.g. `scripts/with-moto.sh`).
    pub fn external(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            child: None,
        }
    }

    /// `AWS_ENDPOINT_URL` if set, else a moto server started here.
    pub async fn from_env_or_start(repo_root: &Path) -> Result<Self> {
        match std::env::var("AWS_ENDPOINT_URL") {
            Ok(url) if !url.is_empty() => Ok(Self::external(url)),
            _ => Self::start(repo_root).await,
        }
    }

    /// Starts `moto_server` from the repository's Python venv, bound to
    /// 127.0.0.1 only (moto has no authentication).
    pub async fn start(repo_root: &Path) -> Result<Self> {
        let bin = moto_bin_dir(repo_root).await?;
        let port = free_port()?;
        let log = std::env::temp_dir().join(format!("acme-local-moto-{port}.log"));
        let log_file = std::fs::File::create(&log)?;
        let child = Command::new(bin.join("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| LocalError::Emulator(format!("spawning {}: {e}", bin.display())))?;
        let url = format!("http://127.0.0.1:{port}");
        let mut me = Self {
            url,
            child: Some(child),
        };
        let started = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                tracing::info!(url = %me.url, log = %log.display(), "moto server started");
                return Ok(me);
            }
            if let Some(c) = me.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                return Err(LocalError::Emulator(format!(
                    "moto_server exited with {status}; see {}",
                    log.display()
                )));
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                return Err(LocalError::Emulator(format!(
                    "moto_server did not listen on port {port} within {STARTUP_TIMEOUT:?}; see {}",
                    log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this process started the server (and so stops it).
    pub fn is_owned(&self) -> bool {
        self.child.is_some()
    }

    /// Stops the server if this process started it.
    pub async fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Err(e) = c.kill().await {
                tracing::warn!(error = %e, "stopping moto server");
            } else {
                tracing::info!("moto server stopped");
            }
        }
    }
}

/// A port the OS says is free now. Another process could take it before moto
/// binds; moto then fails to start and says so.
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

/// Runs `scripts/py-tools.sh`, which installs the pinned tools once and prints
/// the venv's bin directory.
async fn moto_bin_dir(repo_root: &Path) -> Result<PathBuf> {
    let script = repo_root.join("scripts/py-tools.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .await
        .map_err(|e| LocalError::Emulator(format!("running {}: {e}", script.display())))?;
    if !out.status.success() {
        return Err(LocalError::Emulator(format!(
            "{} exited with {}",
            script.display(),
            out.status
        )));
    }
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok(PathBuf::from(dir))
}

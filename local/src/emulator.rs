//! The local AWS API: the endpoint in `AWS_ENDPOINT_URL`, or a moto server
//! this process starts on a free loopback port and stops when dropped.
//!
//! `moto_server` is found where the command runs, never where the binary was
//! built: in the pinned venv of the acme-infra checkout that holds the
//! current directory (its `scripts/py-tools.sh` installs the pins on first
//! use), else on `PATH`. An installed binary thus works from any directory.

use std::ffi::OsStr;
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
    pub async fn from_env_or_start() -> Result<Self> {
        match std::env::var("AWS_ENDPOINT_URL") {
            Ok(url) if !url.is_empty() => Ok(Self::external(url)),
            _ => Self::start().await,
        }
    }

    /// Starts `moto_server` (see the module doc for where it is found), bound
    /// to 127.0.0.1 only (moto has no authentication).
    pub async fn start() -> Result<Self> {
        let server = moto_server().await?;
        let port = free_port()?;
        let log = std::env::temp_dir().join(format!("acme-local-moto-{port}.log"));
        let log_file = std::fs::File::create(&log)?;
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| LocalError::Emulator(format!("spawning {}: {e}", server.display())))?;
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

/// The script of an acme-infra checkout that installs the pinned Python
/// tools and prints the venv's bin directory.
const PY_TOOLS: &str = "scripts/py-tools.sh";
const MOTO_SERVER: &str = "moto_server";

/// `moto_server` from the checkout holding the current directory, else from
/// `PATH`.
async fn moto_server() -> Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    if let Some(root) = checkout_root(&cwd) {
        return Ok(venv_bin_dir(&root).await?.join(MOTO_SERVER));
    }
    on_path(MOTO_SERVER, std::env::var_os("PATH").as_deref()).ok_or_else(|| {
        LocalError::Emulator(format!(
            "{} is not inside an acme-infra checkout and {MOTO_SERVER} is not on PATH",
            cwd.display()
        ))
    })
}

/// The nearest directory at or above `dir` with `scripts/py-tools.sh`.
pub fn checkout_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|d| d.join(PY_TOOLS).is_file())
        .map(Path::to_path_buf)
}

/// The first `name` file in the directories of `path` (a `PATH` value).
pub fn on_path(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Runs the checkout's `scripts/py-tools.sh`, which installs the pinned
/// tools once and prints the venv's bin directory.
async fn venv_bin_dir(root: &Path) -> Result<PathBuf> {
    let script = root.join(PY_TOOLS);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkout_is_found_from_any_directory_inside_it() {
        let root = tempfile::tempdir().unwrap();
        let scripts = root.path().join("scripts");
        std::fs::create_dir_all(scripts.join("deep/er")).unwrap();
        std::fs::write(scripts.join("py-tools.sh"), "").unwrap();
        let inside = scripts.join("deep/er");
        assert_eq!(checkout_root(&inside).as_deref(), Some(root.path()));
        let outside = tempfile::tempdir().unwrap();
        assert_eq!(checkout_root(outside.path()), None);
    }

    #[test]
    fn moto_server_is_looked_up_on_path() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::write(b.path().join(MOTO_SERVER), "").unwrap();
        let path = std::env::join_paths([a.path(), b.path()]).unwrap();
        assert_eq!(
            on_path(MOTO_SERVER, Some(&path)),
            Some(b.path().join(MOTO_SERVER))
        );
        assert_eq!(on_path(MOTO_SERVER, None), None);
        let path = std::env::join_paths([a.path()]).unwrap();
        assert_eq!(on_path(MOTO_SERVER, Some(&path)), None);
    }
}

//! The runner's state file: where a running local county's tables and queues
//! are, so other commands (`acme-infra inventory ... --target local`) reach
//! them without flags.
//!
//! Path: `$ACME_LOCAL_STATE_DIR/<county>.json`, default
//! `<temp dir>/acme-local/<county>.json` (outside the work tree, and the
//! same from any directory: one local runner per county per machine, as the
//! default port already implies). Written once the resources exist. It holds
//! no secrets: not the bearer token, and the emulator takes dummy
//! credentials.
//!
//! The file outlives its runner on purpose: the next start for the county
//! resumes the tables and queue it names (what was accepted gets processed),
//! and a command that would write into them meanwhile is refused. Whether a
//! runner is alive is not read from the file's pid (reused, and a `kill -9`
//! leaves it) but from `<county>.lock`, which a running runner holds with
//! `flock`: the kernel releases it however the process ends. Only when the
//! runner started the emulator itself, and so took its data with it, is the
//! file removed at stop.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{LocalError, Result};
use crate::provision::Resources;

/// Overrides the state directory.
pub const STATE_DIR_ENV: &str = "ACME_LOCAL_STATE_DIR";

/// What a running local county publishes about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalState {
    /// The emulator endpoint (`AWS_ENDPOINT_URL` for other tools).
    pub endpoint: String,
    /// `http://127.0.0.1:<port>` of the API.
    pub api_url: String,
    pub pid: u32,
    pub resources: Resources,
}

/// The state directory.
pub fn state_dir() -> PathBuf {
    std::env::var_os(STATE_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("acme-local"))
}

/// The state file of `county` in `dir`.
pub fn state_path(dir: &Path, county: &str) -> PathBuf {
    dir.join(format!("{county}.json"))
}

/// The lock file next to `state` (`<county>.lock`).
pub fn lock_path(state: &Path) -> PathBuf {
    state.with_extension("lock")
}

/// The stream checkpoints file next to `state` (`<county>.stream.json`).
pub fn checkpoints_path(state: &Path) -> PathBuf {
    state.with_extension("stream.json")
}

/// legacy-sync's stream checkpoints next to `state`
/// (`<county>.legacy-sync.stream.json`): its own mapping, its own position.
pub fn legacy_sync_checkpoints_path(state: &Path) -> PathBuf {
    state.with_extension("legacy-sync.stream.json")
}

/// Held by a running runner; dropping it (or the process ending in any way)
/// releases the county.
#[derive(Debug)]
pub struct RunnerLock {
    _file: std::fs::File,
}

/// The lock of the state file `state`, held by this process if it was free
/// (no runner alive); `None` if a runner holds it.
fn try_lock(state: &Path) -> Result<Option<std::fs::File>> {
    let path = lock_path(state);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| LocalError::File {
            path: path.clone(),
            message: e.to_string(),
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(LocalError::File {
            path,
            message: format!("locking: {e}"),
        }),
    }
}

impl RunnerLock {
    /// Takes the county's lock for this process, or says which runner holds
    /// it.
    pub fn acquire(state: &Path, county: &str) -> Result<Self> {
        match try_lock(state)? {
            Some(file) => Ok(Self { _file: file }),
            None => Err(LocalError::AlreadyRunning {
                county: county.to_owned(),
                path: state.to_owned(),
                api_url: LocalState::read(state)
                    .ok()
                    .flatten()
                    .map_or_else(|| "?".to_owned(), |s| s.api_url),
            }),
        }
    }
}

/// Whether a runner holds the lock of the state file `state` now.
pub fn runner_alive(state: &Path) -> Result<bool> {
    Ok(try_lock(state)?.is_none())
}

impl LocalState {
    /// Writes the file atomically (temp file, then rename), so a reader never
    /// sees half of it.
    pub fn write(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| LocalError::Invalid(format!("serializing the state: {e}")))?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// Reads a state file; `Ok(None)` if there is none.
    pub fn read(path: &Path) -> Result<Option<Self>> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| LocalError::File {
                    path: path.to_owned(),
                    message: format!("not a local runner state file: {e}"),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LocalError::File {
                path: path.to_owned(),
                message: e.to_string(),
            }),
        }
    }
}

//! The runner's state file: where a running local county's tables and queues
//! are, so other commands (`acme-infra inventory ... --target local`) reach
//! them without flags.
//!
//! Path: `$ACME_LOCAL_STATE_DIR/<county>.json`, default
//! `<temp dir>/acme-local/<county>.json` (outside the work tree, and the
//! same from any directory: one local runner per county per machine, as the
//! default port already implies). Written once the
//! resources exist, removed when the runner stops cleanly. It holds no
//! secrets: not the bearer token, and the emulator takes dummy credentials.

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

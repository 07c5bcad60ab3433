//! The durable position of a backfill: which phase it is in and the last
//! key written in it, per county and shard.
//!
//! A checkpoint is saved only after the page it names has been written to
//! DynamoDB, so a run killed at any moment (kill -9 included) resumes at or
//! before the first page not written: pages are written again, never
//! skipped, and writing a page again puts the same items (the ids are
//! derived from legacy keys), so nothing is doubled. It is replaced
//! atomically (write a temporary file, fsync, rename, fsync the directory),
//! so a crash leaves the old checkpoint or the new one, never half of one.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::read::Shard;

/// Where the backfill is. Phases run in this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Position {
    Inventory {
        after: Option<(String, String)>,
    },
    Orders {
        after: Option<i64>,
    },
    /// Profiles of the customers with orders in the county, by legacy id.
    Customers {
        after: Option<i64>,
    },
    Done,
}

/// The saved state of one shard's run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub county: String,
    /// `K/N`.
    pub shard: String,
    pub position: Position,
    /// Rows written so far, per table, over every run.
    pub written: Counts,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub inventory: u64,
    pub orders: u64,
    /// Absent from checkpoints saved before profiles were copied.
    #[serde(default)]
    pub customers: u64,
    pub rejects: u64,
}

/// Why a checkpoint could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("cannot {action} the checkpoint {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the checkpoint {} is not one this tool wrote ({reason}); move it aside to start over", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("the checkpoint {} is for {found}, not {wanted}", path.display())]
    Mismatch {
        path: PathBuf,
        found: String,
        wanted: String,
    },
    #[error(
        "a checkpoint exists at {}: pass --resume to continue that run, or remove it to start over",
        path.display()
    )]
    Exists { path: PathBuf },
}

/// The file for `county` and `shard` in `dir`.
pub fn path_for(dir: &Path, county: &str, shard: Shard) -> PathBuf {
    dir.join(format!(
        "backfill-{county}-{}-of-{}.json",
        shard.index, shard.count
    ))
}

impl Checkpoint {
    pub fn new(county: &str, shard: Shard) -> Self {
        Checkpoint {
            county: county.to_owned(),
            shard: shard.to_string(),
            position: Position::Inventory { after: None },
            written: Counts::default(),
        }
    }

    /// The checkpoint to start from: a new one, or with `resume` the saved
    /// one (a new one if none is saved). Without `resume`, an existing
    /// checkpoint is an error rather than silently overwritten.
    pub fn open(
        path: &Path,
        county: &str,
        shard: Shard,
        resume: bool,
    ) -> Result<Self, CheckpointError> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Checkpoint::new(county, shard));
            }
            Err(source) => {
                return Err(CheckpointError::Io {
                    action: "read",
                    path: path.to_owned(),
                    source,
                });
            }
        };
        if !resume {
            return Err(CheckpointError::Exists {
                path: path.to_owned(),
            });
        }
        let saved: Checkpoint =
            serde_json::from_str(&text).map_err(|e| CheckpointError::Corrupt {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        let wanted = format!("county {county}, shard {shard}");
        let found = format!("county {}, shard {}", saved.county, saved.shard);
        if found != wanted {
            return Err(CheckpointError::Mismatch {
                path: path.to_owned(),
                found,
                wanted,
            });
        }
        Ok(saved)
    }

    /// Replaces the file at `path` with this checkpoint, durably.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let io = |action: &'static str| {
            let path = path.to_owned();
            move |source| CheckpointError::Io {
                action,
                path,
                source,
            }
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io("create the directory of"))?;
        let tmp = path.with_extension("json.tmp");
        let body = serde_json::to_vec_pretty(self).map_err(|e| CheckpointError::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let mut file = fs::File::create(&tmp).map_err(io("write"))?;
        file.write_all(&body).map_err(io("write"))?;
        file.sync_all().map_err(io("sync"))?;
        fs::rename(&tmp, path).map_err(io("replace"))?;
        // The rename is durable once the directory is.
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("sync the directory of"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard() -> Shard {
        Shard { index: 2, count: 4 }
    }

    #[test]
    fn a_saved_checkpoint_reads_back_only_with_resume() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = path_for(dir.path(), "travis-tx", shard());
        assert!(path.ends_with("backfill-travis-tx-2-of-4.json"));
        let mut cp = Checkpoint::new("travis-tx", shard());
        cp.position = Position::Orders { after: Some(-7) };
        cp.written.orders = 500;
        cp.save(&path).expect("save");

        let back = Checkpoint::open(&path, "travis-tx", shard(), true).expect("resume");
        assert_eq!(back, cp);
        let err = Checkpoint::open(&path, "travis-tx", shard(), false).expect_err("exists");
        assert!(err.to_string().contains("pass --resume"), "{err}");
        let err = Checkpoint::open(&path, "king-wa", shard(), true).expect_err("other county");
        assert!(
            err.to_string()
                .ends_with("is for county travis-tx, shard 2/4, not county king-wa, shard 2/4"),
            "{err}"
        );
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[test]
    fn no_checkpoint_starts_at_the_beginning_and_a_broken_one_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = path_for(dir.path(), "travis-tx", shard());
        let fresh = Checkpoint::open(&path, "travis-tx", shard(), true).expect("fresh");
        assert_eq!(fresh.position, Position::Inventory { after: None });
        fs::write(&path, "{\"county\": ").expect("write");
        let err = Checkpoint::open(&path, "travis-tx", shard(), true).expect_err("corrupt");
        assert!(
            err.to_string().contains("is not one this tool wrote"),
            "{err}"
        );
    }
}

//! A migrating county's cutover mode: which system owns its orders while it
//! moves off the legacy database. The mode is a runtime flag (one SSM
//! parameter per county, named by [`mode_parameter`]); the functions read it
//! with a short cache, `acme-infra migrate cutover` changes it one step at a
//! time, and `acme-infra migrate status` shows it. A county without a
//! `migration:` section has no parameter and no mode: it was born on the new
//! system.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a migrating county stands. The modes form one line,
/// `legacy → shadow → dynamo → retired`; a cutover moves one step forward and
/// a rollback one step back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CutoverMode {
    /// The legacy database owns orders; change data capture fills DynamoDB.
    Legacy,
    /// The legacy database still owns orders; the new API's reads answer from
    /// DynamoDB and a sample of them is compared with the legacy database.
    Shadow,
    /// The new system owns orders; legacy-sync keeps the legacy tables
    /// current, and legacy writes for the county are flagged.
    Dynamo,
    /// The legacy database is out of order taking; no sync in either direction.
    Retired,
}

impl CutoverMode {
    /// Every mode, in cutover order.
    pub const ALL: [CutoverMode; 4] = [
        CutoverMode::Legacy,
        CutoverMode::Shadow,
        CutoverMode::Dynamo,
        CutoverMode::Retired,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            CutoverMode::Legacy => "legacy",
            CutoverMode::Shadow => "shadow",
            CutoverMode::Dynamo => "dynamo",
            CutoverMode::Retired => "retired",
        }
    }

    /// The mode a cutover moves to, if any.
    pub fn next(self) -> Option<CutoverMode> {
        let i = self as usize;
        Self::ALL.get(i + 1).copied()
    }

    /// The mode a rollback returns to, if any.
    pub fn previous(self) -> Option<CutoverMode> {
        (self as usize).checked_sub(1).map(|i| Self::ALL[i])
    }

    /// Whether the new system takes and processes this county's orders.
    pub const fn new_system_owns_orders(self) -> bool {
        matches!(self, CutoverMode::Dynamo | CutoverMode::Retired)
    }
}

impl fmt::Display for CutoverMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A mode name that is not one of [`CutoverMode::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMode(pub String);

impl fmt::Display for UnknownMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a cutover mode (one of legacy, shadow, dynamo, retired)",
            self.0
        )
    }
}

impl std::error::Error for UnknownMode {}

impl FromStr for CutoverMode {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownMode(s.to_owned()))
    }
}

/// The SSM parameter that holds `county`'s cutover mode (a plain
/// [`CutoverMode::name`]).
pub fn mode_parameter(county: &str) -> String {
    format!("{}mode", parameter_path(county))
}

/// The SSM path under which all of `county`'s migration parameters are
/// (the migration role may read and put exactly these).
pub fn parameter_path(county: &str) -> String {
    format!("/acme/{county}/migration/")
}

/// How long the functions keep a mode they read before asking SSM again
/// (seconds): a change of mode reaches every function instance within it.
/// Why 15: `functions/order-aws/src/cutover.rs`.
pub const MODE_CACHE_SECONDS: u64 = 15;

/// The SSM parameter holding `county`'s last `migrate verify` outcome (JSON:
/// `finished_at`, `clean`, `checked`, `differences`), which `migrate status`
/// shows and `migrate cutover` gates on. Written by `migrate verify`, never
/// by the stack (a deploy must not reset it).
pub fn verify_parameter(county: &str) -> String {
    format!("{}verify", parameter_path(county))
}

/// The table legacy-sync keeps its progress in, in the legacy database: one
/// row per county, updated with every applied batch. `migrate status` shows
/// its lag and the step to `retired` requires it caught up; no table (or no
/// row) means legacy-sync has not run.
pub mod legacy_sync_progress {
    /// Schema-qualified table name.
    pub const TABLE: &str = "acme_sync.position";
    /// `text`, primary key: the county id.
    pub const COUNTY: &str = "county_id";
    /// `timestamptz`: the stream record last applied
    /// (`ApproximateCreationDateTime`).
    pub const LAST_RECORD_AT: &str = "record_at";
    /// `timestamptz`: when it was written to the legacy tables.
    pub const APPLIED_AT: &str = "applied_at";
    /// `text`: the stream record's sequence number.
    pub const SEQUENCE_NUMBER: &str = "sequence_number";
}

/// The table the change capture (`migrate sync`) keeps the legacy orders it
/// held back in mode `dynamo` in, in the legacy database: one row per order,
/// written before the replication slot moves past the change, so a restart
/// (or a crash) of the sync forgets none. After a rollback out of `dynamo`
/// the sync applies them and deletes their rows; `migrate status` counts
/// the county's.
pub mod held_back {
    /// Schema-qualified table name.
    pub const TABLE: &str = "acme_sync.held_back";
    /// `text`: the county id.
    pub const COUNTY: &str = "county_id";
    /// `bigint`: the legacy order number. Primary key with [`COUNTY`].
    pub const LEGACY_NUMBER: &str = "legacy_number";
    /// `timestamptz`: when a change of the order was first held back.
    pub const FIRST_HELD_AT: &str = "first_held_at";
    /// `timestamptz`: when the latest change of it was held back.
    pub const LAST_HELD_AT: &str = "last_held_at";
}

/// Legacy writes the change capture flagged in mode `dynamo` (count), in
/// [`shadow_metrics::NAMESPACE`] with the same County dimension.
pub const LEGACY_WRITES_FLAGGED: &str = "LegacyWritesFlagged";

/// CloudWatch metrics of shadow reads (mode [`CutoverMode::Shadow`]): the
/// comparer publishes them, the cutover gate and `migrate status` read them.
pub mod shadow_metrics {
    pub const NAMESPACE: &str = "ACME/Migration";
    /// Dimension naming the county (its id).
    pub const COUNTY_DIMENSION: &str = "County";
    /// Sampled reads compared with the legacy database (count).
    pub const READS: &str = "ShadowReads";
    /// Compared reads whose answer differed from the legacy database (count).
    pub const MISMATCHES: &str = "ShadowMismatches";
    /// Compared reads whose legacy row had changed after the item the API
    /// read (lag the change capture had not applied yet; not mismatches,
    /// counted in [`READS`]).
    pub const STALE: &str = "ShadowStaleReads";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_form_one_line() {
        assert_eq!(CutoverMode::Legacy.previous(), None);
        assert_eq!(CutoverMode::Legacy.next(), Some(CutoverMode::Shadow));
        assert_eq!(CutoverMode::Shadow.next(), Some(CutoverMode::Dynamo));
        assert_eq!(CutoverMode::Dynamo.previous(), Some(CutoverMode::Shadow));
        assert_eq!(CutoverMode::Dynamo.next(), Some(CutoverMode::Retired));
        assert_eq!(CutoverMode::Retired.next(), None);
    }

    #[test]
    fn names_round_trip() {
        for m in CutoverMode::ALL {
            assert_eq!(m.name().parse::<CutoverMode>(), Ok(m));
            assert_eq!(m.to_string(), m.name());
        }
        let err = "Dynamo".parse::<CutoverMode>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("`Dynamo` is not a cutover mode (one of legacy, shadow, dynamo, retired)")
        );
    }

    #[test]
    fn parameter_is_per_county() {
        assert_eq!(
            mode_parameter("travis-tx"),
            "/acme/travis-tx/migration/mode"
        );
    }
}

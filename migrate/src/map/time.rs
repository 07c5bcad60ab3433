//! A store's local wall clock (`orders.placed_at`, `timestamp WITHOUT time
//! zone`) → an instant in UTC.
//!
//! The rule is RFC 9557's / Temporal's "compatible" disambiguation: a local
//! time that occurs twice (the repeated hour when clocks go back) takes the
//! **earlier** instant; a local time that never occurred (the hour skipped
//! when clocks go forward) is moved forward by the length of the gap. Each
//! such row carries a [`TimeNote`] so the report lists it.
//!
//! PostgreSQL's `AT TIME ZONE` picks the *later* instant in a fold, so the
//! conversion happens here, from the zone database bundled into the binary,
//! never in SQL.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};

/// A local time that needed a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeNote {
    /// The local time occurred twice; the earlier instant (`chosen`) was
    /// taken over the later one (`other`).
    Fold { chosen: Offset, other: Offset },
    /// The local time never occurred; it was moved forward by `gap_seconds`.
    Gap { gap_seconds: i32 },
}

impl std::fmt::Display for TimeNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TimeNote::Fold { chosen, other } => write!(
                f,
                "local time is ambiguous (clocks went back); took the earlier instant ({chosen}), not {other}"
            ),
            TimeNote::Gap { gap_seconds } => write!(
                f,
                "local time did not exist (clocks went forward); moved forward by {} minutes",
                gap_seconds / 60
            ),
        }
    }
}

/// Why a local time cannot be placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("unknown time zone `{0}` (not an IANA zone name)")]
    UnknownZone(String),
    #[error("{local} in {zone} is outside the range the order system can hold")]
    OutOfRange { local: DateTime, zone: String },
}

/// A store's zone, looked up once per store.
#[derive(Debug, Clone)]
pub struct StoreZone {
    name: String,
    tz: TimeZone,
}

impl StoreZone {
    pub fn get(name: &str) -> Result<Self, TimeError> {
        let tz = TimeZone::get(name).map_err(|_| TimeError::UnknownZone(name.to_owned()))?;
        Ok(StoreZone {
            name: name.to_owned(),
            tz,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `local` as an instant, with a note when the rule had to decide.
    pub fn to_utc(&self, local: DateTime) -> Result<(Timestamp, Option<TimeNote>), TimeError> {
        let ambiguous = self.tz.to_ambiguous_timestamp(local);
        let note = match ambiguous.offset() {
            AmbiguousOffset::Unambiguous { .. } => None,
            AmbiguousOffset::Fold { before, after } => Some(TimeNote::Fold {
                chosen: before,
                other: after,
            }),
            AmbiguousOffset::Gap { before, after } => Some(TimeNote::Gap {
                gap_seconds: after.seconds() - before.seconds(),
            }),
        };
        let out_of_range = || TimeError::OutOfRange {
            local,
            zone: self.name.clone(),
        };
        let utc = ambiguous.compatible().map_err(|_| out_of_range())?;
        Ok((utc, note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn chicago() -> StoreZone {
        StoreZone::get("America/Chicago").expect("bundled zone")
    }

    fn utc(zone: &StoreZone, local: DateTime) -> (String, Option<TimeNote>) {
        let (ts, note) = zone.to_utc(local).expect("in range");
        (ts.to_string(), note)
    }

    #[test]
    fn an_ordinary_local_time_converts_without_a_note() {
        let (ts, note) = utc(&chicago(), date(2024, 7, 4).at(18, 15, 0, 0));
        assert_eq!(ts, "2024-07-04T23:15:00Z");
        assert_eq!(note, None);
    }

    #[test]
    fn the_repeated_hour_takes_the_earlier_instant() {
        // 2024-11-03 01:30 happened at 06:30Z (CDT) and again at 07:30Z (CST).
        let (ts, note) = utc(&chicago(), date(2024, 11, 3).at(1, 30, 0, 0));
        assert_eq!(ts, "2024-11-03T06:30:00Z");
        let Some(TimeNote::Fold { chosen, other }) = note else {
            panic!("expected a fold note, got {note:?}");
        };
        assert_eq!((chosen.seconds(), other.seconds()), (-5 * 3600, -6 * 3600));
    }

    #[test]
    fn the_skipped_hour_moves_forward_by_the_gap() {
        // 2024-03-10 02:30 never happened in Chicago: clocks went 02:00 → 03:00.
        let (ts, note) = utc(&chicago(), date(2024, 3, 10).at(2, 30, 0, 0));
        assert_eq!(ts, "2024-03-10T08:30:00Z"); // 03:30 CDT
        assert_eq!(note, Some(TimeNote::Gap { gap_seconds: 3600 }));
    }

    #[test]
    fn a_zone_without_daylight_saving_never_needs_a_note() {
        let phoenix = StoreZone::get("America/Phoenix").expect("bundled zone");
        let (ts, note) = utc(&phoenix, date(2024, 3, 10).at(2, 30, 0, 0));
        assert_eq!(ts, "2024-03-10T09:30:00Z");
        assert_eq!(note, None);
    }

    #[test]
    fn an_unknown_zone_is_refused_by_name() {
        let err = StoreZone::get("America/Atlantis").map(|z| z.name().to_owned());
        assert_eq!(err, Err(TimeError::UnknownZone("America/Atlantis".into())));
    }
}

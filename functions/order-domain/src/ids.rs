//! Validated identifiers.
//!
//! Every id that ends up inside a DynamoDB key is a newtype that can only be
//! built through validation, so a key builder never sees an empty string (DynamoDB
//! rejects empty key attributes) or a string long enough to push a key past its
//! limit (2048 bytes for a partition key, 1024 for a sort key).

use std::fmt;
use std::str::FromStr;

// The charset every free-form id shares (`[A-Za-z0-9_.-]`), defined beside
// the API request model's pattern.
use acme_contract::ids::{ID_CHARSET, is_id_char};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;
use ulid::Ulid;

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters (got {len})")]
    TooLong { max: usize, len: usize },
    #[error("must be at least {min} characters (got {len})")]
    TooShort { min: usize, len: usize },
    #[error("invalid character {ch:?} at position {at}; allowed: {allowed}")]
    BadChar {
        ch: char,
        at: usize,
        allowed: &'static str,
    },
    #[error("must be a 26-character ULID in Crockford base32 ({0})")]
    NotUlid(&'static str),
    #[error("{0}")]
    Other(&'static str),
}

fn check_id(s: &str, max: usize) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    // Check characters before length: the charset is ASCII, so once it passes,
    // `len()` counts characters.
    if let Some((at, ch)) = s.char_indices().find(|&(_, c)| !is_id_char(c)) {
        return Err(IdError::BadChar {
            ch,
            at,
            allowed: ID_CHARSET,
        });
    }
    if s.len() > max {
        return Err(IdError::TooLong { max, len: s.len() });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, max = $max:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Longest accepted value, in characters.
            pub const MAX_LEN: usize = $max;

            /// Validates `s`: `[A-Za-z0-9_.-]`, 1 to `MAX_LEN` characters.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                check_id(s, Self::MAX_LEN)?;
                Ok(Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                check_id(&s, Self::MAX_LEN)?;
                Ok(Self(s))
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::try_from(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// The customer placing an order (the Orders table's partition key).
    CustomerId,
    max = acme_contract::ids::CUSTOMER_ID_MAX_LEN
);
impl CustomerId {
    /// A legacy customer's id: the decimal text of its number (see
    /// [`crate::legacy`]). At most 20 characters of `[0-9-]`: always valid.
    pub(crate) fn from_legacy(number: i64) -> Self {
        Self(number.to_string())
    }
}

string_id!(
    /// A store (the Inventory table's partition key, and the by-store GSI's).
    StoreId,
    max = acme_contract::ids::STORE_ID_MAX_LEN
);
string_id!(
    /// A stock-keeping unit, unique within a store.
    Sku,
    max = acme_contract::ids::SKU_MAX_LEN
);
string_id!(
    /// The client's idempotency token for `POST /orders`, unique per customer.
    ClientRequestId,
    max = acme_contract::ids::CLIENT_REQUEST_ID_MAX_LEN
);

/// A county id as the stack generator validates it: lowercase ASCII letters,
/// digits and `-`, 2..=32 characters, starting with a letter (e.g. `travis-tx`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountyId(String);

impl CountyId {
    pub const MIN_LEN: usize = acme_contract::ids::COUNTY_ID_MIN_LEN;
    pub const MAX_LEN: usize = acme_contract::ids::COUNTY_ID_MAX_LEN;

    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if let Some((at, ch)) = s
            .char_indices()
            .find(|&(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        {
            return Err(IdError::BadChar {
                ch,
                at,
                allowed: "a-z 0-9 -",
            });
        }
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(IdError::Other("must start with a lowercase letter"));
        }
        if s.len() < Self::MIN_LEN {
            return Err(IdError::TooShort {
                min: Self::MIN_LEN,
                len: s.len(),
            });
        }
        if s.len() > Self::MAX_LEN {
            return Err(IdError::TooLong {
                max: Self::MAX_LEN,
                len: s.len(),
            });
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CountyId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl fmt::Display for CountyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for CountyId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CountyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An order id: a ULID, so ids sort by creation time and carry no coordination.
///
/// The canonical form is 26 upper-case Crockford base32 characters. Parsing
/// accepts lower case (Crockford decoding is case-insensitive) and normalises;
/// it rejects values over 128 bits (a first character above `7`), which the
/// `ulid` crate would otherwise truncate silently, so every accepted string
/// maps to exactly one id and back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderId(Ulid);

impl OrderId {
    pub const LEN: usize = ulid::ULID_LEN;

    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.len() != Self::LEN {
            return Err(IdError::NotUlid("wrong length"));
        }
        if !matches!(s.as_bytes()[0], b'0'..=b'7') {
            return Err(IdError::NotUlid("first character must be 0-7"));
        }
        Ulid::from_string(s)
            .map(Self)
            .map_err(|_| IdError::NotUlid("invalid character"))
    }

    pub const fn from_ulid(ulid: Ulid) -> Self {
        Self(ulid)
    }

    pub const fn ulid(&self) -> Ulid {
        self.0
    }

    /// Milliseconds since the Unix epoch encoded in the id.
    pub const fn timestamp_ms(&self) -> u64 {
        self.0.timestamp_ms()
    }

    /// Writes the canonical 26-character form without allocating.
    pub fn encode<'b>(&self, buf: &'b mut [u8; ulid::ULID_LEN]) -> &'b str {
        self.0.array_to_str(buf)
    }
}

impl FromStr for OrderId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; ulid::ULID_LEN];
        f.write_str(self.encode(&mut buf))
    }
}

impl Serialize for OrderId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; ulid::ULID_LEN];
        s.serialize_str(self.encode(&mut buf))
    }
}

impl<'de> Deserialize<'de> for OrderId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_ids_validate_charset_and_length() {
        assert!(CustomerId::parse("cust_01.A-b").is_ok());
        assert_eq!(CustomerId::parse(""), Err(IdError::Empty));
        assert!(matches!(
            CustomerId::parse("a#b"),
            Err(IdError::BadChar { ch: '#', at: 1, .. })
        ));
        assert!(matches!(
            CustomerId::parse("a b"),
            Err(IdError::BadChar { ch: ' ', .. })
        ));
        assert!(matches!(
            CustomerId::parse("é"),
            Err(IdError::BadChar { ch: 'é', .. })
        ));
        assert!(CustomerId::parse(&"x".repeat(64)).is_ok());
        assert_eq!(
            CustomerId::parse(&"x".repeat(65)),
            Err(IdError::TooLong { max: 64, len: 65 })
        );
        assert!(Sku::parse(&"S".repeat(32)).is_ok());
        assert!(Sku::parse(&"S".repeat(33)).is_err());
        assert!(StoreId::parse("%25").is_err());
    }

    #[test]
    fn string_ids_deserialize_with_validation() {
        let ok: Sku = serde_json::from_str("\"WINE-1\"").unwrap();
        assert_eq!(ok.as_str(), "WINE-1");
        assert!(serde_json::from_str::<Sku>("\"WINE#1\"").is_err());
        assert!(serde_json::from_str::<Sku>("12").is_err());
    }

    #[test]
    fn county_ids() {
        assert!(CountyId::parse("travis-tx").is_ok());
        assert!(CountyId::parse("Travis").is_err());
        assert!(CountyId::parse("1abc").is_err());
        assert!(CountyId::parse("a").is_err());
        assert!(CountyId::parse(&"a".repeat(33)).is_err());
    }

    #[test]
    fn order_ids_round_trip_and_reject_overflow() {
        let s = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
        let id = OrderId::parse(s).unwrap();
        assert_eq!(id.to_string(), s);
        assert_eq!(OrderId::parse(&s.to_lowercase()).unwrap(), id);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{s}\""));
        assert!(OrderId::parse("81ARZ3NDEKTSV4RRFFQ69G5FAV").is_err());
        assert!(OrderId::parse("01ARZ3NDEKTSV4RRFFQ69G5FA").is_err());
        assert!(OrderId::parse("01ARZ3NDEKTSV4RRFFQ69G5FAU").is_err()); // U is not Crockford
        assert!(OrderId::parse("01ARZ3NDEKTSV4RRFFQ69G5FA\u{e9}").is_err());
        let max = OrderId::parse("7ZZZZZZZZZZZZZZZZZZZZZZZZZ").unwrap();
        assert_eq!(max.to_string(), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
    }
}

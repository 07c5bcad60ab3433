//! A DynamoDB-shaped value model with no SDK types: [`AttrValue`] and [`Item`].
//!
//! Serde uses DynamoDB's own JSON form (`{"S": "x"}`, `{"N": "12"}`,
//! `{"NULL": true}`, ...), the form stream records and `LastEvaluatedKey`s have
//! in Lambda events, so a handler can deserialize an image straight into an
//! [`Item`]. Only the types this domain writes are modelled: no sets or binary.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::Deserializer;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One attribute value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AttrValue {
    /// String. Empty strings are allowed except in key attributes.
    S(String),
    /// Number, kept as its decimal text the way DynamoDB's wire format does,
    /// so no precision is lost between here and the table.
    N(String),
    Bool(bool),
    Null,
    L(Vec<AttrValue>),
    M(BTreeMap<String, AttrValue>),
}

/// An item: attribute name to value. A `BTreeMap` so iteration (and anything
/// derived from it, like rendered expressions and cursors) is deterministic.
pub type Item = BTreeMap<String, AttrValue>;

impl AttrValue {
    pub fn s(v: impl Into<String>) -> Self {
        AttrValue::S(v.into())
    }

    /// A number from any integer.
    pub fn n<T: Into<i128>>(v: T) -> Self {
        let v: i128 = v.into();
        // The same text either way; 64-bit formatting is the cheaper one and
        // fits every count, price and epoch this domain writes.
        AttrValue::N(match i64::try_from(v) {
            Ok(small) => small.to_string(),
            Err(_) => v.to_string(),
        })
    }

    pub fn as_s(&self) -> Option<&str> {
        match self {
            AttrValue::S(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_n(&self) -> Option<&str> {
        match self {
            AttrValue::N(n) => Some(n),
            _ => None,
        }
    }

    /// The number as an integer, if this is an `N` holding one.
    pub fn as_i128(&self) -> Option<i128> {
        self.as_n().and_then(parse_integer)
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            AttrValue::S(_) => "S",
            AttrValue::N(_) => "N",
            AttrValue::Bool(_) => "BOOL",
            AttrValue::Null => "NULL",
            AttrValue::L(_) => "L",
            AttrValue::M(_) => "M",
        }
    }
}

impl AttrValue {
    /// Plain JSON to DynamoDB types: strings `S`, numbers `N` (exact text),
    /// booleans `BOOL`, null `NULL`, arrays `L`, objects `M`.
    pub fn from_json(v: &serde_json::Value) -> AttrValue {
        use serde_json::Value;
        match v {
            Value::Null => AttrValue::Null,
            Value::Bool(b) => AttrValue::Bool(*b),
            Value::Number(n) => AttrValue::N(n.to_string()),
            Value::String(s) => AttrValue::S(s.clone()),
            Value::Array(a) => AttrValue::L(a.iter().map(AttrValue::from_json).collect()),
            Value::Object(o) => AttrValue::M(
                o.iter()
                    .map(|(k, v)| (k.clone(), AttrValue::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The inverse of [`AttrValue::from_json`]; `None` if a number is not valid
    /// JSON number text.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        use serde_json::Value;
        Some(match self {
            AttrValue::Null => Value::Null,
            AttrValue::Bool(b) => Value::Bool(*b),
            AttrValue::N(n) => Value::Number(n.parse().ok()?),
            AttrValue::S(s) => Value::String(s.clone()),
            AttrValue::L(l) => {
                Value::Array(l.iter().map(AttrValue::to_json).collect::<Option<_>>()?)
            }
            AttrValue::M(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| Some((k.clone(), v.to_json()?)))
                    .collect::<Option<_>>()?,
            ),
        })
    }
}

/// Parses DynamoDB number text that holds an integer: optional `-`, digits,
/// optionally a fraction of zeros (`"5.0"`), as DynamoDB normalises those.
pub(crate) fn parse_integer(s: &str) -> Option<i128> {
    let (int_part, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if let Some(f) = frac
        && (f.is_empty() || !f.bytes().all(|b| b == b'0'))
    {
        return None;
    }
    let digits = int_part.strip_prefix('-').unwrap_or(int_part);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 38 {
        return None;
    }
    int_part.parse().ok()
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_string(self) {
            Ok(s) => f.write_str(&s),
            Err(_) => f.write_str("<unprintable>"),
        }
    }
}

impl Serialize for AttrValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        match self {
            AttrValue::S(v) => map.serialize_entry("S", v)?,
            AttrValue::N(v) => map.serialize_entry("N", v)?,
            AttrValue::Bool(v) => map.serialize_entry("BOOL", v)?,
            AttrValue::Null => map.serialize_entry("NULL", &true)?,
            AttrValue::L(v) => map.serialize_entry("L", v)?,
            AttrValue::M(v) => map.serialize_entry("M", v)?,
        }
        map.end()
    }
}

#[derive(Deserialize)]
enum Wire {
    S(String),
    N(String),
    #[serde(rename = "BOOL")]
    Bool(bool),
    /// DynamoDB writes `{"NULL": true}`; the flag carries no information.
    #[serde(rename = "NULL")]
    Null(serde::de::IgnoredAny),
    L(Vec<AttrValue>),
    M(BTreeMap<String, AttrValue>),
}

impl<'de> Deserialize<'de> for AttrValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Wire::deserialize(d)? {
            Wire::S(v) => AttrValue::S(v),
            Wire::N(v) => AttrValue::N(v),
            Wire::Bool(v) => AttrValue::Bool(v),
            Wire::Null(_) => AttrValue::Null,
            Wire::L(v) => AttrValue::L(v),
            Wire::M(v) => AttrValue::M(v),
        })
    }
}

/// An item attribute is missing or has the wrong shape.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("attribute `{attr}`: {problem}")]
pub struct AttrError {
    pub attr: String,
    pub problem: String,
}

impl AttrError {
    pub fn new(attr: &str, problem: impl Into<String>) -> Self {
        Self {
            attr: attr.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Typed accessors on an [`Item`] that say which attribute was wrong.
pub trait ItemExt {
    fn attr(&self, name: &str) -> Result<&AttrValue, AttrError>;
    fn get_s(&self, name: &str) -> Result<&str, AttrError>;
    fn get_opt_s(&self, name: &str) -> Result<Option<&str>, AttrError>;
    fn get_u64(&self, name: &str) -> Result<u64, AttrError>;
    fn get_i64(&self, name: &str) -> Result<i64, AttrError>;
    /// Parses an `S` attribute with `FromStr`.
    fn parse_s<T>(&self, name: &str) -> Result<T, AttrError>
    where
        T: std::str::FromStr,
        T::Err: fmt::Display;
}

impl ItemExt for Item {
    fn attr(&self, name: &str) -> Result<&AttrValue, AttrError> {
        self.get(name)
            .ok_or_else(|| AttrError::new(name, "missing"))
    }

    fn get_s(&self, name: &str) -> Result<&str, AttrError> {
        let v = self.attr(name)?;
        v.as_s()
            .ok_or_else(|| AttrError::new(name, format!("expected S, found {}", v.type_name())))
    }

    fn get_opt_s(&self, name: &str) -> Result<Option<&str>, AttrError> {
        match self.get(name) {
            None | Some(AttrValue::Null) => Ok(None),
            Some(_) => self.get_s(name).map(Some),
        }
    }

    fn get_u64(&self, name: &str) -> Result<u64, AttrError> {
        let v = self.attr(name)?;
        v.as_i128()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| {
                AttrError::new(
                    name,
                    format!("expected a non-negative integer N, found {v}"),
                )
            })
    }

    fn get_i64(&self, name: &str) -> Result<i64, AttrError> {
        let v = self.attr(name)?;
        v.as_i128()
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(|| AttrError::new(name, format!("expected an integer N, found {v}")))
    }

    fn parse_s<T>(&self, name: &str) -> Result<T, AttrError>
    where
        T: std::str::FromStr,
        T::Err: fmt::Display,
    {
        let s = self.get_s(name)?;
        s.parse()
            .map_err(|e: T::Err| AttrError::new(name, format!("{s:?}: {e}")))
    }
}

/// The size DynamoDB gives an item: attribute names plus values (Amazon
/// DynamoDB Developer Guide, "DynamoDB item sizes and formats"). Items over
/// 400 KB are refused; the write-unit meter prices writes by it.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// The size of one attribute value (without its name).
pub fn value_size(v: &AttrValue) -> usize {
    // An element of a list or map costs one byte besides its own size.
    const ELEMENT: usize = 1;
    // A list or map costs three bytes whatever it holds.
    const CONTAINER: usize = 3;
    match v {
        AttrValue::S(s) => s.len(),
        AttrValue::N(n) => number_size(n),
        AttrValue::Bool(_) | AttrValue::Null => 1,
        AttrValue::L(l) => CONTAINER + l.iter().map(|x| ELEMENT + value_size(x)).sum::<usize>(),
        AttrValue::M(m) => {
            CONTAINER
                + m.iter()
                    .map(|(k, x)| ELEMENT + k.len() + value_size(x))
                    .sum::<usize>()
        }
    }
}

/// A number's size: one byte per two significant digits, plus one. Leading
/// and trailing zeros are not significant (`1000` and `0.001` have one).
fn number_size(text: &str) -> usize {
    let digits = || text.bytes().filter(u8::is_ascii_digit);
    let total = digits().count();
    let leading = digits().take_while(|&d| d == b'0').count();
    let trailing = digits().rev().take_while(|&d| d == b'0').count();
    // Zero still takes a digit.
    let significant = total.saturating_sub(leading + trailing).max(1);
    significant.div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamodb_json_round_trip() {
        let json = r#"{"a":{"S":"x"},"b":{"N":"-12"},"c":{"BOOL":true},"d":{"NULL":true},
                       "e":{"L":[{"S":"y"},{"N":"1"}]},"f":{"M":{"g":{"S":"h"}}}}"#;
        let item: Item = serde_json::from_str(json).unwrap();
        assert_eq!(item["a"], AttrValue::s("x"));
        assert_eq!(item["b"].as_i128(), Some(-12));
        assert_eq!(item["d"], AttrValue::Null);
        let back = serde_json::to_string(&item).unwrap();
        let again: Item = serde_json::from_str(&back).unwrap();
        assert_eq!(item, again);
        assert!(serde_json::from_str::<AttrValue>(r#"{"SS":["a"]}"#).is_err());
        assert!(serde_json::from_str::<AttrValue>(r#"{"S":"a","N":"1"}"#).is_err());
    }

    #[test]
    fn json_bridge_round_trips() {
        let v =
            serde_json::json!({"a": [1, "x", true, null, {"b": -2}], "c": 12345678901234567890u64});
        let attr = AttrValue::from_json(&v);
        assert_eq!(attr.to_json().unwrap(), v);
        assert!(AttrValue::N("x".into()).to_json().is_none());
    }

    #[test]
    fn numbers_print_the_same_in_every_range() {
        for v in [0, 7, -7, 1999, i128::from(i64::MAX), i128::from(i64::MIN)] {
            assert_eq!(AttrValue::n(v), AttrValue::N(format!("{v}")));
        }
        for v in [
            i128::from(i64::MAX) + 1,
            i128::from(i64::MIN) - 1,
            i128::MAX,
            i128::MIN,
        ] {
            assert_eq!(AttrValue::n(v), AttrValue::N(format!("{v}")));
        }
        assert_eq!(AttrValue::n(u64::MAX), AttrValue::N(u64::MAX.to_string()));
    }

    #[test]
    fn integers() {
        assert_eq!(parse_integer("0"), Some(0));
        assert_eq!(parse_integer("-5"), Some(-5));
        assert_eq!(parse_integer("5.00"), Some(5));
        assert_eq!(parse_integer("5.5"), None);
        assert_eq!(parse_integer("5."), None);
        assert_eq!(parse_integer(""), None);
        assert_eq!(parse_integer("-"), None);
        assert_eq!(parse_integer("1e3"), None);
        assert_eq!(parse_integer("+1"), None);
    }

    #[test]
    fn accessors_name_the_attribute() {
        let mut item = Item::new();
        item.insert("n".into(), AttrValue::s("x"));
        let err = item.get_u64("n").unwrap_err();
        assert_eq!(err.attr, "n");
        assert!(
            item.get_s("missing")
                .unwrap_err()
                .to_string()
                .contains("missing")
        );
    }
}

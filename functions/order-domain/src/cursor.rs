//! Opaque pagination cursors.
//!
//! A cursor is a DynamoDB `LastEvaluatedKey` (a small [`Item`]) serialized as
//! `[version byte] ++ DynamoDB-JSON`, then URL-safe base64 without padding, so
//! it can sit in a query string as is. Clients must treat it as opaque.
//!
//! Cursors are not secret and not signed: a client can forge one, so decoding
//! is strict and never panics (length cap, base64, version, JSON, then the
//! caller checks the key's shape with [`expect_page_key`], including that its
//! partition is the one being queried and its sort key within the query's
//! range). The worst a forged but well-formed cursor can do is start a page
//! of the caller's own range at another position, which the caller could do
//! anyway.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use thiserror::Error;

use crate::store::{AttrValue, Item, Query};

/// Format version. Bump when the payload changes; old cursors then fail with
/// [`CursorError::Version`] (the client restarts from the first page).
pub const CURSOR_VERSION: u8 = 1;

/// Longest accepted cursor text. Our keys are a few hundred bytes at most;
/// the cap bounds the work a hostile cursor can cause.
pub const MAX_CURSOR_LEN: usize = 4096;

/// Why a cursor was refused. All map to HTTP 400.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CursorError {
    #[error("cursor is too long")]
    TooLong,
    #[error("cursor is not valid URL-safe base64")]
    Encoding,
    #[error("cursor has an unsupported version")]
    Version,
    #[error("cursor payload is malformed")]
    Payload,
    #[error("cursor does not belong to this query")]
    Mismatch,
    /// The position lies outside the query's key range (e.g. before
    /// `since`): DynamoDB refuses such an `ExclusiveStartKey` with a
    /// `ValidationException`.
    #[error(
        "cursor points outside this listing's range (before `since`?): request the first page again without it"
    )]
    OutOfRange,
}

/// Encodes a page key (or any small item) as an opaque cursor.
pub fn encode(key: &Item) -> String {
    let mut bytes = vec![CURSOR_VERSION];
    // Serializing a BTreeMap of strings cannot fail; fall back to an empty
    // payload rather than panic, which decodes as an error, never as data.
    if let Ok(json) = serde_json::to_vec(key) {
        bytes.extend_from_slice(&json);
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a cursor back into the item it carries.
pub fn decode(cursor: &str) -> Result<Item, CursorError> {
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(CursorError::TooLong);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| CursorError::Encoding)?;
    let (&version, payload) = bytes.split_first().ok_or(CursorError::Payload)?;
    if version != CURSOR_VERSION {
        return Err(CursorError::Version);
    }
    serde_json::from_slice(payload).map_err(|_| CursorError::Payload)
}

/// Checks that `key` is a valid `ExclusiveStartKey` for `query`: exactly the
/// attributes its `LastEvaluatedKey` would have, all non-empty strings, and
/// the query's own partition. Otherwise DynamoDB would answer with a
/// `ValidationException` (a 500) or, worse, a page of another partition.
pub fn expect_page_key(key: &Item, query: &Query) -> Result<(), CursorError> {
    let attrs = query.page_key_attrs();
    if key.len() != attrs.len() {
        return Err(CursorError::Mismatch);
    }
    for a in attrs {
        match key.get(a) {
            Some(AttrValue::S(s)) if !s.is_empty() && s.len() <= 1024 => {}
            _ => return Err(CursorError::Mismatch),
        }
    }
    if key
        .get(query.partition_key_attr())
        .and_then(AttrValue::as_s)
        != Some(&query.partition)
    {
        return Err(CursorError::Mismatch);
    }
    // DynamoDB answers "The provided starting key is outside query
    // boundaries based on provided conditions" for a start key its sort
    // condition excludes: refuse it here, as a bad request.
    if let (Some(sort), Some(attr)) = (&query.sort, query.sort_key_attr())
        && !key
            .get(attr)
            .and_then(AttrValue::as_s)
            .is_some_and(|sk| sort.matches(sk))
    {
        return Err(CursorError::OutOfRange);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Index, Table};

    fn key() -> Item {
        [
            ("customer_id".to_owned(), AttrValue::s("c-1")),
            (
                "order_sk".to_owned(),
                AttrValue::s("001772956740123#01HZY3M4T7X8Q9R0S1T2V3W4X5"),
            ),
        ]
        .into()
    }

    #[test]
    fn round_trip_and_url_safe() {
        let c = encode(&key());
        assert!(
            c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(decode(&c).unwrap(), key());
        expect_page_key(&key(), &Query::table(Table::Orders, "c-1")).unwrap();
    }

    #[test]
    fn tampering_is_an_error_never_a_panic() {
        let c = encode(&key());
        // Every single-character substitution either fails to decode or
        // decodes to something that is checked before use.
        let alphabet = b"ABCxyz019-_=+/ \0";
        for i in 0..c.len() {
            for &ch in alphabet {
                let mut t = c.clone().into_bytes();
                t[i] = ch;
                let Ok(t) = String::from_utf8(t) else {
                    continue;
                };
                if let Ok(item) = decode(&t) {
                    let _ = expect_page_key(&item, &Query::table(Table::Orders, "c-1"));
                }
            }
        }
        // Truncations.
        for n in 0..c.len() {
            let _ = decode(&c[..n]);
        }
        assert_eq!(decode(""), Err(CursorError::Payload));
        assert_eq!(decode("!!!"), Err(CursorError::Encoding));
        assert_eq!(decode(&"A".repeat(5000)), Err(CursorError::TooLong));
        let v2 = URL_SAFE_NO_PAD.encode([2u8, b'{', b'}']);
        assert_eq!(decode(&v2), Err(CursorError::Version));
        let junk = URL_SAFE_NO_PAD.encode([1u8, b'{', b'x']);
        assert_eq!(decode(&junk), Err(CursorError::Payload));
        let wrong_type = URL_SAFE_NO_PAD.encode(b"\x01{\"customer_id\":{\"N\":\"1\"}}");
        let item = decode(&wrong_type).unwrap();
        assert_eq!(
            expect_page_key(&item, &Query::table(Table::Orders, "c-1")),
            Err(CursorError::Mismatch)
        );
    }

    #[test]
    fn a_cursor_outside_the_sort_range_is_refused() {
        use crate::store::SortCondition;
        let mut q = Query::table(Table::Orders, "c-1");
        q.sort = Some(SortCondition::Ge("001772956740123".into()));
        assert_eq!(expect_page_key(&key(), &q), Ok(()));
        q.sort = Some(SortCondition::Ge("001772956740124".into()));
        assert_eq!(expect_page_key(&key(), &q), Err(CursorError::OutOfRange));
        q.sort = Some(SortCondition::Between("0".into(), "001".into()));
        assert_eq!(expect_page_key(&key(), &q), Err(CursorError::OutOfRange));
    }

    #[test]
    fn a_cursor_from_another_partition_or_index_is_refused() {
        let k = key();
        assert_eq!(
            expect_page_key(&k, &Query::table(Table::Orders, "c-2")),
            Err(CursorError::Mismatch)
        );
        assert_eq!(
            expect_page_key(&k, &Query::index(Index::StoreTime, "s1")),
            Err(CursorError::Mismatch)
        );
        let mut extra = k.clone();
        extra.insert("admin".into(), AttrValue::Bool(true));
        assert_eq!(
            expect_page_key(&extra, &Query::table(Table::Orders, "c-1")),
            Err(CursorError::Mismatch)
        );
    }
}

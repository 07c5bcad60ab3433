//! Key encoding for every table and index.
//!
//! Composite keys join components with `#`. Every component is escaped first
//! (`%` → `%25`, `#` → `%23`), so an escaped component never contains `#` and
//! the encoding is injective: two different component tuples can never produce
//! the same key, even if a future id type admits `#` or `%`. The validated id
//! charsets exclude both today, so in practice escaping is a no-op and costs a
//! scan of the bytes.
//!
//! | key | format |
//! |---|---|
//! | Orders SK (and every GSI's SK) | `<created_at UTC millis, 15 digits>#<order_id>` |
//! | county shard (GSI HASH) | `<county_id>#<shard>` |
//! | status shard (GSI HASH) | `<STATUS>#<shard>` |
//! | stock record | `STOCK#<sku>` |
//! | reservation | `RES#<sku>#<order_id>` |
//! | idempotency | `<customer_id>#<client_request_id>` |
//!
//! The shard of an order is FNV-1a (64-bit) of its id modulo the county's
//! `gsi_write_shards`: a fixed function, so every function and every release
//! agree on it (std's `DefaultHasher` is randomly seeded per process).

use jiff::Timestamp;
use thiserror::Error;

use crate::ids::{ClientRequestId, CountyId, CustomerId, OrderId, Sku};
use crate::order::OrderStatus;
use crate::schema;

/// Separates key components.
pub const SEP: char = '#';
const ESC: char = '%';

/// Width of the time component of order sort keys: 15 digits of milliseconds
/// covers every instant up to year 9999 (jiff's range) and keeps
/// lexicographic order equal to time order.
pub const MILLIS_WIDTH: usize = 15;

/// A key that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("malformed key {key:?}: {reason}")]
pub struct KeyError {
    pub key: String,
    pub reason: &'static str,
}

fn key_err(key: &str, reason: &'static str) -> KeyError {
    KeyError {
        key: key.to_owned(),
        reason,
    }
}

/// Appends `component` to `out`, escaped.
pub fn escape_into(component: &str, out: &mut String) {
    // Fast path: validated ids never need escaping.
    if !component.contains([SEP, ESC]) {
        out.push_str(component);
        return;
    }
    for c in component.chars() {
        match c {
            '%' => out.push_str("%25"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
}

/// Reverses [`escape_into`] for one component.
pub fn unescape(component: &str) -> Result<String, KeyError> {
    if !component.contains(ESC) {
        if component.contains(SEP) {
            return Err(key_err(component, "unescaped separator in a component"));
        }
        return Ok(component.to_owned());
    }
    let mut out = String::with_capacity(component.len());
    let mut rest = component;
    while let Some(pos) = rest.find([ESC, SEP]) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if tail.starts_with("%25") {
            out.push('%');
        } else if tail.starts_with("%23") {
            out.push('#');
        } else {
            return Err(key_err(component, "bad escape sequence"));
        }
        rest = &tail[3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Joins escaped components with `#`.
pub fn compose(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(SEP);
        }
        escape_into(p, &mut out);
    }
    out
}

/// Splits a composed key back into its unescaped components.
pub fn decompose(key: &str) -> Result<Vec<String>, KeyError> {
    key.split(SEP).map(unescape).collect()
}

/// Appends `n` in decimal, zero-padded to at least `width` digits. Digits
/// never need escaping, so this is [`escape_into`] of the number's text.
fn push_decimal(out: &mut String, mut n: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    loop {
        // `n % 10` < 10: the cast is exact.
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for _ in len..width {
        out.push('0');
    }
    for &d in digits[..len].iter().rev() {
        out.push(char::from(d));
    }
}

/// Milliseconds since the epoch, zero-padded to [`MILLIS_WIDTH`]. Instants
/// before 1970 (which no order has) clamp to 0.
pub fn millis_component(t: Timestamp) -> String {
    let mut out = String::with_capacity(MILLIS_WIDTH);
    push_millis(&mut out, t);
    out
}

fn push_millis(out: &mut String, t: Timestamp) {
    // Clamped to 0 and below i64::MAX: the conversion holds.
    let ms = u64::try_from(t.as_millisecond().max(0)).unwrap_or(0);
    push_decimal(out, ms, MILLIS_WIDTH);
}

/// Orders table sort key: `<millis>#<order_id>`. Sorts by creation time, and
/// two orders in one millisecond stay distinct (and ordered by id).
pub fn order_sk(created_at: Timestamp, order_id: &OrderId) -> String {
    let mut buf = [0u8; OrderId::LEN];
    let id = order_id.encode(&mut buf);
    // compose(&[millis, id]) built in place: one allocation, no temporaries.
    let mut out = String::with_capacity(MILLIS_WIDTH + 1 + id.len());
    push_millis(&mut out, created_at);
    out.push(SEP);
    escape_into(id, &mut out);
    out
}

/// Decodes an Orders sort key into (millis, order id).
pub fn parse_order_sk(sk: &str) -> Result<(i64, OrderId), KeyError> {
    let parts = decompose(sk)?;
    let [millis, id] = parts.as_slice() else {
        return Err(key_err(sk, "expected <millis>#<order_id>"));
    };
    if millis.len() != MILLIS_WIDTH || !millis.bytes().all(|b| b.is_ascii_digit()) {
        return Err(key_err(sk, "bad time component"));
    }
    let ms = millis
        .parse()
        .map_err(|_| key_err(sk, "bad time component"))?;
    let id = OrderId::parse(id).map_err(|_| key_err(sk, "bad order id"))?;
    Ok((ms, id))
}

/// The lower bound of order sort keys at or after `t` (`order_sk >= this`),
/// and the upper bound of those strictly before it (`order_sk < this`): the
/// bare time component sorts before every `<same millis>#...` key.
pub fn order_sk_bound(t: Timestamp) -> String {
    millis_component(t)
}

/// 64-bit FNV-1a. Fixed constants: stable across processes, releases and
/// languages (the stack or a script can compute the same shard).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

/// The write shard of an order: FNV-1a of the canonical id, modulo `shards`
/// (treated as 1 if 0).
pub fn shard_of(order_id: &OrderId, shards: u32) -> u32 {
    let mut buf = [0u8; OrderId::LEN];
    let h = fnv1a64(order_id.encode(&mut buf).as_bytes());
    // The remainder is < shards <= u32::MAX, so it fits.
    (h % u64::from(shards.max(1))) as u32
}

/// `<component>#<shard>`, as `compose` would make it, in one allocation.
fn shard_key(component: &str, shard: u32) -> String {
    let mut out = String::with_capacity(component.len() + 11);
    escape_into(component, &mut out);
    out.push(SEP);
    push_decimal(&mut out, u64::from(shard), 1);
    out
}

/// `by-county-time` partition key: `<county_id>#<shard>`.
pub fn county_shard_key(county: &CountyId, shard: u32) -> String {
    shard_key(county.as_str(), shard)
}

/// `by-status-time` partition key: `<STATUS>#<shard>`.
pub fn status_shard_key(status: OrderStatus, shard: u32) -> String {
    shard_key(status.as_str(), shard)
}

/// Inventory sort key of a stock record: `STOCK#<sku>`.
pub fn stock_key(sku: &Sku) -> String {
    compose(&[schema::inventory::STOCK_PREFIX, sku.as_str()])
}

/// Inventory sort key of a reservation: `RES#<sku>#<order_id>`.
pub fn reservation_key(sku: &Sku, order_id: &OrderId) -> String {
    let mut buf = [0u8; OrderId::LEN];
    compose(&[
        schema::inventory::RESERVATION_PREFIX,
        sku.as_str(),
        order_id.encode(&mut buf),
    ])
}

/// The sort-key prefix of every reservation of `sku`: `RES#<sku>#` (the
/// trailing separator keeps `SKU-1` from matching `SKU-10`'s entries).
pub fn reservation_prefix(sku: &Sku) -> String {
    let mut key = compose(&[schema::inventory::RESERVATION_PREFIX, sku.as_str()]);
    key.push(SEP);
    key
}

/// Idempotency table key: `<customer_id>#<client_request_id>`. Scoped by
/// customer so one customer's token can never replay another's order.
pub fn idempotency_key(customer: &CustomerId, request: &ClientRequestId) -> String {
    compose(&[customer.as_str(), request.as_str()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Every string of length 0..=3 over an alphabet built to collide: the
    /// separator, the escape character and the characters of escape sequences.
    fn tricky_strings() -> Vec<String> {
        let alphabet = ['#', '%', '2', '3', '5', 'a'];
        let mut out = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..3 {
            let mut next = Vec::new();
            for s in &frontier {
                for c in alphabet {
                    let mut t = s.clone();
                    t.push(c);
                    next.push(t);
                }
            }
            out.extend(next.iter().cloned());
            frontier = next;
        }
        out.extend(
            [
                "%23", "%25", "%2", "%%", "##", "a#b", "#%23#", "%2523", "é#ü",
            ]
            .map(String::from),
        );
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn escape_round_trips() {
        for s in tricky_strings() {
            let mut e = String::new();
            escape_into(&s, &mut e);
            assert!(!e.contains('#'), "{s:?} escaped to {e:?}");
            assert_eq!(unescape(&e).unwrap(), s);
        }
    }

    #[test]
    fn composition_is_injective_for_pairs() {
        let strings = tricky_strings();
        let mut seen: HashMap<String, (String, String)> = HashMap::new();
        for a in &strings {
            for b in &strings {
                let key = compose(&[a, b]);
                if let Some(prev) = seen.insert(key.clone(), (a.clone(), b.clone())) {
                    panic!("{key:?} from both {prev:?} and {:?}", (a, b));
                }
                assert_eq!(decompose(&key).unwrap(), vec![a.clone(), b.clone()]);
            }
        }
        assert_eq!(seen.len(), strings.len() * strings.len());
    }

    #[test]
    fn composition_is_injective_across_arities() {
        // Pseudo-random tuples of 1..=4 components (a fixed LCG: reproducible).
        let strings = tricky_strings();
        let mut seen: HashMap<String, Vec<String>> = HashMap::new();
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) as usize) % n
        };
        for _ in 0..100_000 {
            let arity = 1 + next(4);
            let tuple: Vec<String> = (0..arity)
                .map(|_| strings[next(strings.len())].clone())
                .collect();
            let refs: Vec<&str> = tuple.iter().map(String::as_str).collect();
            let key = compose(&refs);
            if let Some(prev) = seen.insert(key.clone(), tuple.clone()) {
                assert_eq!(prev, tuple, "collision on {key:?}");
            }
            assert_eq!(decompose(&key).unwrap(), tuple);
        }
    }

    #[test]
    fn malformed_components_are_rejected() {
        assert!(unescape("%2").is_err());
        assert!(unescape("%41").is_err());
        assert!(unescape("a#b").is_err());
        assert!(decompose("a#%zz").is_err());
    }

    fn oid(s: &str) -> OrderId {
        OrderId::parse(s).unwrap()
    }

    #[test]
    fn typed_keys() {
        let id = oid("01HZY3M4T7X8Q9R0S1T2V3W4X5");
        let sku = Sku::parse("WINE-750").unwrap();
        assert_eq!(stock_key(&sku), "STOCK#WINE-750");
        assert_eq!(
            reservation_key(&sku, &id),
            "RES#WINE-750#01HZY3M4T7X8Q9R0S1T2V3W4X5"
        );
        assert_eq!(
            idempotency_key(
                &CustomerId::parse("c-1").unwrap(),
                &ClientRequestId::parse("r.1").unwrap()
            ),
            "c-1#r.1"
        );
        assert_eq!(
            county_shard_key(&CountyId::parse("travis-tx").unwrap(), 7),
            "travis-tx#7"
        );
        assert_eq!(status_shard_key(OrderStatus::Pending, 0), "PENDING#0");
        // A stock key and a reservation key can't collide: different arity
        // and prefix, and the SKU can't smuggle a separator in.
        assert_ne!(
            decompose(&stock_key(&sku)).unwrap().len(),
            decompose(&reservation_key(&sku, &id)).unwrap().len()
        );
    }

    #[test]
    fn order_sk_sorts_by_time_and_round_trips() {
        let id = oid("01HZY3M4T7X8Q9R0S1T2V3W4X5");
        let t1: Timestamp = "2026-03-08T07:59:00.123Z".parse().unwrap();
        let t2: Timestamp = "2026-03-08T07:59:00.124Z".parse().unwrap();
        let sk1 = order_sk(t1, &id);
        assert_eq!(sk1, "000001772956740123#01HZY3M4T7X8Q9R0S1T2V3W4X5"[3..]);
        assert!(sk1 < order_sk(t2, &id));
        assert_eq!(parse_order_sk(&sk1).unwrap(), (t1.as_millisecond(), id));
        // Bounds: an order at exactly `t` is >= bound(t) and not < bound(t).
        assert!(sk1.as_str() >= order_sk_bound(t1).as_str());
        assert!(sk1.as_str() < order_sk_bound(t2).as_str());
        assert!(parse_order_sk("123#01HZY3M4T7X8Q9R0S1T2V3W4X5").is_err());
        assert!(parse_order_sk("000001772956740123").is_err());
        assert_eq!(millis_component(Timestamp::MAX).len(), MILLIS_WIDTH);
        assert_eq!(millis_component(Timestamp::MIN), "0".repeat(MILLIS_WIDTH));
    }

    #[test]
    fn in_place_keys_match_compose() {
        let id = oid("01HZY3M4T7X8Q9R0S1T2V3W4X5");
        let times = [
            "1970-01-01T00:00:00Z",
            "2026-03-08T07:59:00.123Z",
            "1960-01-01T00:00:00Z",
        ]
        .map(|t| t.parse::<Timestamp>().unwrap());
        for t in times.into_iter().chain([Timestamp::MIN, Timestamp::MAX]) {
            let millis = format!("{:015}", t.as_millisecond().max(0));
            assert_eq!(millis_component(t), millis);
            assert_eq!(order_sk(t, &id), compose(&[&millis, &id.to_string()]));
        }
        for shard in [0, 7, 10, 63, u32::MAX] {
            let county = CountyId::parse("travis-tx").unwrap();
            assert_eq!(
                county_shard_key(&county, shard),
                compose(&["travis-tx", &shard.to_string()])
            );
            assert_eq!(
                status_shard_key(OrderStatus::Confirmed, shard),
                format!("CONFIRMED#{shard}")
            );
        }
    }

    #[test]
    fn shards_are_stable_and_spread() {
        // FNV-1a reference values.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        let id = oid("01HZY3M4T7X8Q9R0S1T2V3W4X5");
        assert_eq!(shard_of(&id, 1), 0);
        assert_eq!(shard_of(&id, 0), 0);
        assert_eq!(
            shard_of(&id, 16),
            (fnv1a64(id.to_string().as_bytes()) % 16) as u32
        );
        let mut counts = [0u32; 8];
        for i in 0..8000u128 {
            let id = OrderId::from_ulid(ulid::Ulid::from_parts(1_700_000_000_000, i * 7919));
            counts[shard_of(&id, 8) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }
}

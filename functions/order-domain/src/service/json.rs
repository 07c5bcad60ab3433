//! The accept path's two JSON texts, written directly: the canonical request
//! (hashed for idempotency) and the 202 answer (stored and replayed). Both
//! are byte for byte what `serde_json` makes of the same values — the tests
//! hold them to that — but every string in them is a validated id (whose
//! charsets leave out everything JSON escapes: the tests pin that too) or a
//! timestamp, so the general serializer's escaping scan and its growing
//! buffer are wasted on the API's hot path.

use sha2::{Digest, Sha256};

use crate::ids::{ClientRequestId, CustomerId, OrderId, Sku, StoreId};
use crate::service::accept::{Accepted, response_capacity};

/// Where JSON text goes.
pub(crate) trait Out {
    fn put(&mut self, text: &str);
}

impl Out for String {
    fn put(&mut self, text: &str) {
        self.push_str(text);
    }
}

impl Out for Sha256 {
    fn put(&mut self, text: &str) {
        self.update(text.as_bytes());
    }
}

/// Whether `s` is written as is between quotes: `serde_json` escapes only
/// control characters, `"` and `\`.
fn plain(s: &str) -> bool {
    !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\')
}

fn string(out: &mut impl Out, s: &str) {
    out.put("\"");
    out.put(s);
    out.put("\"");
}

/// An unsigned integer in decimal, as `serde_json` writes it.
fn uint(out: &mut impl Out, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        // `n % 10` < 10: the cast is exact.
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits are UTF-8.
    if let Ok(text) = std::str::from_utf8(&digits[start..]) {
        out.put(text);
    }
}

/// `{"v":1,"client_request_id":..,"customer_id":..,"store_id":..,
/// "items":[[sku,quantity],..]}` into `out`.
pub(crate) fn canonical_request(
    out: &mut impl Out,
    client_request_id: &ClientRequestId,
    customer_id: &CustomerId,
    store_id: &StoreId,
    items: &[(&Sku, u32)],
) {
    out.put(r#"{"v":1,"client_request_id":"#);
    string(out, client_request_id.as_str());
    out.put(r#","customer_id":"#);
    string(out, customer_id.as_str());
    out.put(r#","store_id":"#);
    string(out, store_id.as_str());
    out.put(r#","items":["#);
    for (i, (sku, quantity)) in items.iter().enumerate() {
        out.put(if i == 0 { "[" } else { ",[" });
        string(out, sku.as_str());
        out.put(",");
        uint(out, u64::from(*quantity));
        out.put("]");
    }
    out.put("]}");
}

/// `accepted` as JSON in one allocation, given `created_at`, the text of
/// `accepted.created_at`; `None` if that text would need escaping (it is
/// the caller's; the ids are escape-free by type).
pub(crate) fn accepted(accepted: &Accepted, created_at: &str) -> Option<String> {
    if !plain(created_at) {
        return None;
    }
    let mut id = [0u8; OrderId::LEN];
    let order_id = accepted.order_id.encode(&mut id);
    let mut out = String::with_capacity(response_capacity(accepted, created_at.len()));
    out.put(r#"{"order_id":"#);
    string(&mut out, order_id);
    out.put(r#","status":"#);
    string(&mut out, accepted.status.as_str());
    out.put(r#","customer_id":"#);
    string(&mut out, accepted.customer_id.as_str());
    out.put(r#","store_id":"#);
    string(&mut out, accepted.store_id.as_str());
    out.put(r#","county_id":"#);
    string(&mut out, accepted.county_id.as_str());
    out.put(r#","client_request_id":"#);
    string(&mut out, accepted.client_request_id.as_str());
    out.put(r#","items":["#);
    for (i, line) in accepted.items.iter().enumerate() {
        out.put(if i == 0 { r#"{"sku":"# } else { r#",{"sku":"# });
        string(&mut out, line.sku.as_str());
        out.put(r#","quantity":"#);
        uint(&mut out, u64::from(line.quantity));
        out.put(r#","unit_price_cents":"#);
        uint(&mut out, line.unit_price_cents.cents());
        out.put("}");
    }
    out.put(r#"],"total_cents":"#);
    uint(&mut out, accepted.total_cents.cents());
    out.put(r#","created_at":"#);
    string(&mut out, created_at);
    out.put("}");
    Some(out)
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use serde::Serialize;

    use super::*;
    use crate::ids::{ClientRequestId, CountyId, CustomerId, Sku, StoreId};
    use crate::money::Money;
    use crate::order::{LineItem, OrderStatus};

    #[derive(Serialize)]
    struct Canonical<'a> {
        v: u8,
        client_request_id: &'a str,
        customer_id: &'a str,
        store_id: &'a str,
        items: Vec<(&'a str, u32)>,
    }

    #[test]
    fn ids_never_hold_what_json_escapes() {
        // The writers above put ids between quotes as they are.
        for bad in ["a\"b", "a\\b", "a\nb", "a\u{1}b", "a\u{7f}b"] {
            assert!(ClientRequestId::parse(bad).is_err(), "{bad:?}");
            assert!(CustomerId::parse(bad).is_err(), "{bad:?}");
            assert!(StoreId::parse(bad).is_err(), "{bad:?}");
            assert!(Sku::parse(bad).is_err(), "{bad:?}");
            assert!(CountyId::parse(bad).is_err(), "{bad:?}");
        }
        let id = OrderId::parse("01HZY3M4T7X8Q9R0S1T2V3W4X5").unwrap();
        assert!(plain(&id.to_string()));
    }

    #[test]
    fn canonical_request_is_what_serde_json_writes() {
        let cases: [&[(&str, u32)]; 4] = [
            &[],
            &[("A", 1)],
            &[("A", 0), ("B-2.x_y", u32::MAX), ("C", 10)],
            &[("WINE-CAB-750", 2), ("BEER-IPA-6PK", 1), ("GIN", 7)],
        ];
        let (r, c, s) = (
            ClientRequestId::parse("r-1").unwrap(),
            CustomerId::parse("c_1").unwrap(),
            StoreId::parse("s.1").unwrap(),
        );
        for items in cases {
            let skus: Vec<(Sku, u32)> = items
                .iter()
                .map(|(k, q)| (Sku::parse(k).unwrap(), *q))
                .collect();
            let typed: Vec<(&Sku, u32)> = skus.iter().map(|(k, q)| (k, *q)).collect();
            let mut ours = String::new();
            canonical_request(&mut ours, &r, &c, &s, &typed);
            let theirs = serde_json::to_string(&Canonical {
                v: 1,
                client_request_id: "r-1",
                customer_id: "c_1",
                store_id: "s.1",
                items: items.to_vec(),
            })
            .unwrap();
            assert_eq!(ours, theirs);
            // The hash sees the same bytes either way.
            let mut hasher = Sha256::new();
            canonical_request(&mut hasher, &r, &c, &s, &typed);
            assert_eq!(hasher.finalize(), Sha256::digest(theirs.as_bytes()));
        }
    }

    fn sample(lines: usize, created_at: &str) -> Accepted {
        Accepted {
            order_id: OrderId::parse("01HZY3M4T7X8Q9R0S1T2V3W4X5").unwrap(),
            status: OrderStatus::Pending,
            customer_id: CustomerId::parse("cust_0001234567").unwrap(),
            store_id: StoreId::parse("store-austin-042").unwrap(),
            county_id: CountyId::parse("travis-tx").unwrap(),
            client_request_id: ClientRequestId::parse("3f1c9a7e-5b2d-4e8f").unwrap(),
            items: (0..lines)
                .map(|i| LineItem {
                    sku: Sku::parse(&format!("SKU-{i}")).unwrap(),
                    quantity: u32::try_from(i).unwrap() * 1000 + 1,
                    unit_price_cents: Money::from_cents(10u64.pow(i as u32 % 16)).unwrap(),
                })
                .collect(),
            total_cents: Money::MAX,
            created_at: created_at.parse().unwrap(),
        }
    }

    #[test]
    fn the_answer_is_what_serde_json_writes() {
        for (lines, at) in [
            (0, "2026-03-09T20:00:00Z"),
            (1, "2026-03-09T20:00:00.5Z"),
            (5, "2026-03-09T15:00:00.123456789Z"),
            (49, "1970-01-01T00:00:00Z"),
        ] {
            let mut a = sample(lines, at);
            for status in OrderStatus::ALL {
                a.status = status;
                let text = a.created_at.to_string();
                let ours = accepted(&a, &text).unwrap();
                assert_eq!(ours, serde_json::to_string(&a).unwrap(), "{lines} lines");
                assert!(ours.capacity() >= ours.len());
                // And it reads back.
                assert_eq!(serde_json::from_str::<Accepted>(&ours).unwrap(), a);
            }
        }
        let t: Timestamp = "2026-03-09T20:00:00Z".parse().unwrap();
        assert_eq!(t.to_string(), "2026-03-09T20:00:00Z");
        assert!(accepted(&sample(1, "2026-03-09T20:00:00Z"), "a\"b").is_none());
    }
}

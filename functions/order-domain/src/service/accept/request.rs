//! The `POST /orders` body: one deserialization, then every field checked,
//! every problem reported with its path (not just the first).

use serde::Serialize;
use std::borrow::Cow;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use sha2::{Digest, Sha256};

use crate::error::{ValidationError, ValidationErrors};
use crate::ids::{ClientRequestId, CustomerId, IdError, Sku, StoreId};
use crate::keys;
use crate::rules::CountyRules;

/// API Gateway and Lambda take far more; orders don't need it. Larger bodies
/// are refused before parsing.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// One requested line after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedLine {
    pub sku: Sku,
    pub quantity: u32,
}

/// A request that passed every check that needs no I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedRequest {
    pub client_request_id: ClientRequestId,
    pub customer_id: CustomerId,
    pub store_id: StoreId,
    pub lines: Vec<RequestedLine>,
    /// SHA-256 (hex) of the canonical request: ids and lines sorted by SKU, so
    /// the same order with its lines in another order or other JSON spacing is
    /// the same request.
    pub request_hash: String,
}

impl ValidatedRequest {
    fn new(
        client_request_id: ClientRequestId,
        customer_id: CustomerId,
        store_id: StoreId,
        lines: Vec<RequestedLine>,
    ) -> Self {
        let request_hash = canonical_hash(&client_request_id, &customer_id, &store_id, &lines);
        Self {
            client_request_id,
            customer_id,
            store_id,
            lines,
            request_hash,
        }
    }

    pub fn idempotency_key(&self) -> String {
        keys::idempotency_key(&self.customer_id, &self.client_request_id)
    }
}

/// What the request hash is taken of. The hashes already stored in
/// idempotency records were made from exactly this text: a change to it would
/// turn retries into conflicts (a test pins it).
#[derive(Serialize)]
struct Canonical<'a> {
    v: u8,
    client_request_id: &'a ClientRequestId,
    customer_id: &'a CustomerId,
    store_id: &'a StoreId,
    /// `[sku, quantity]` pairs sorted by SKU text, then quantity.
    items: Vec<(&'a Sku, u32)>,
}

fn canonical_hash(
    client_request_id: &ClientRequestId,
    customer_id: &CustomerId,
    store_id: &StoreId,
    lines: &[RequestedLine],
) -> String {
    let mut items: Vec<(&Sku, u32)> = lines.iter().map(|l| (&l.sku, l.quantity)).collect();
    // `Sku` orders as its text does.
    items.sort_unstable();
    let canonical = Canonical {
        v: 1,
        client_request_id,
        customer_id,
        store_id,
        items,
    };
    let mut hasher = HashWriter(Sha256::new());
    // Writing ids, SKUs and integers into a hash cannot fail.
    let _ = serde_json::to_writer(&mut hasher, &canonical);
    hex::encode(hasher.0.finalize())
}

/// Hashes what is written to it: the canonical text is never stored.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Parses and validates a `POST /orders` body against the county's limits,
/// reporting every problem found.
pub fn parse_request(
    body: &[u8],
    rules: &CountyRules,
) -> Result<ValidatedRequest, ValidationErrors> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ValidationErrors::single(
            "body",
            format!("is {} bytes; the limit is {MAX_BODY_BYTES}", body.len()),
        ));
    }
    let json: Json = serde_json::from_slice(body)
        .map_err(|e| ValidationErrors::single("body", format!("is not valid JSON: {e}")))?;
    let mut problems = Problems::default();
    match read_body(&json, rules, &mut problems) {
        Some(request) if problems.is_empty() => Ok(request),
        _ => Err(problems.into_errors()),
    }
}

/// A JSON value as sent. Unlike `serde_json::Value`, an object keeps every
/// key, a repeated one too, so a repeated field is reported rather than
/// silently replaced by its last value. Strings without escapes borrow from
/// the body.
enum Json<'a> {
    Object(Vec<(Text<'a>, Json<'a>)>),
    Array(Vec<Json<'a>>),
    String(Text<'a>),
    /// An integer that fits `i64`.
    Integer(i64),
    /// `null`, a boolean, a fraction or a larger number: no field takes one.
    Other,
}

/// A string of the body: borrowed unless it had escapes.
type Text<'a> = Cow<'a, str>;

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

/// An object key, borrowed like any other string.
struct Key<'a>(Text<'a>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match d.deserialize_str(JsonVisitor)? {
            Json::String(text) => Ok(Key(text)),
            _ => Err(de::Error::custom("object keys are strings")),
        }
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Json::Other)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Json::Other)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Json::Other)
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Json::Integer(n))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(n).map_or(Json::Other, Json::Integer))
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(s.to_owned())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut values = Vec::new();
        while let Some(v) = seq.next_element()? {
            values.push(v);
        }
        Ok(Json::Array(values))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some((Key(key), value)) = map.next_entry()? {
            entries.push((key, value));
        }
        Ok(Json::Object(entries))
    }
}

/// Where a problem is; rendered only when there is one, so a valid body
/// formats no paths.
#[derive(Clone, Copy)]
enum Path<'a> {
    /// A top-level field, or `body` for the whole.
    Field(&'a str),
    /// `items[n]`.
    Line(usize),
    /// `items[n].field`.
    LineField(usize, &'a str),
}

impl<'a> Path<'a> {
    /// `field` of line `line`, or of the body if `None`.
    fn of(line: Option<usize>, field: &'a str) -> Self {
        match line {
            None => Path::Field(field),
            Some(n) => Path::LineField(n, field),
        }
    }
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Field(field) => f.write_str(field),
            Path::Line(n) => write!(f, "items[{n}]"),
            Path::LineField(n, field) => write!(f, "items[{n}].{field}"),
        }
    }
}

/// Problems listed in an answer. A 16 KB body of one-character mistakes
/// holds thousands; listing them all made a 690 KB answer (and as long a
/// log line). The first ones are enough to fix the request, and the count of
/// the rest says how far off it is.
pub const MAX_LISTED_PROBLEMS: usize = 20;

/// Longest field path or reason echoed back: a path can carry a key the
/// client sent, which may be most of the body.
const MAX_ECHOED_CHARS: usize = 120;

/// The problems found so far: the first [`MAX_LISTED_PROBLEMS`], and how
/// many more there were.
#[derive(Default)]
struct Problems {
    listed: Vec<ValidationError>,
    unlisted: usize,
}

impl Problems {
    fn add(&mut self, at: Path<'_>, reason: impl Into<String>) {
        if self.listed.len() < MAX_LISTED_PROBLEMS {
            let field = clip(at.to_string());
            self.listed
                .push(ValidationError::new(field, clip(reason.into())));
        } else {
            self.unlisted += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// The listed problems, then one entry counting the rest, if any.
    fn into_errors(mut self) -> ValidationErrors {
        if self.unlisted > 0 {
            let n = self.unlisted;
            let s = if n == 1 { "" } else { "s" };
            self.listed.push(ValidationError::new(
                "body",
                format!("{n} more problem{s} not listed (the first {MAX_LISTED_PROBLEMS} are)"),
            ));
        }
        ValidationErrors(self.listed)
    }
}

/// `text` cut to [`MAX_ECHOED_CHARS`] characters, marked with `…` if cut.
fn clip(text: String) -> String {
    match text.char_indices().nth(MAX_ECHOED_CHARS) {
        None => text,
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

const BODY_FIELDS: [&str; 4] = ["client_request_id", "customer_id", "store_id", "items"];
const LINE_FIELDS: [&str; 2] = ["sku", "quantity"];
const BODY: Path<'static> = Path::Field("body");
const ITEMS: Path<'static> = Path::Field("items");

fn read_body(json: &Json<'_>, rules: &CountyRules, p: &mut Problems) -> Option<ValidatedRequest> {
    let Json::Object(entries) = json else {
        p.add(BODY, "must be a JSON object");
        return None;
    };
    let [request, customer, store, items] = read_object(entries, BODY_FIELDS, None, p);
    let at = Path::Field;
    let request = request.and_then(|v| id(v, at("client_request_id"), ClientRequestId::parse, p));
    let customer = customer.and_then(|v| id(v, at("customer_id"), CustomerId::parse, p));
    let store = store.and_then(|v| id(v, at("store_id"), StoreId::parse, p));
    let lines = items.and_then(|v| read_items(v, rules, p));
    Some(ValidatedRequest::new(request?, customer?, store?, lines?))
}

/// The values of an object's `N` fields, in `fields` order; the object is the
/// body, or line `line`. An unknown key, a repeated key or a missing field is
/// a problem.
fn read_object<'j, 'a, const N: usize>(
    entries: &'j [(Text<'a>, Json<'a>)],
    fields: [&str; N],
    line: Option<usize>,
    p: &mut Problems,
) -> [Option<&'j Json<'a>>; N] {
    let mut values = [None; N];
    for (key, value) in entries {
        match fields.iter().position(|f| f == key) {
            None => p.add(Path::of(line, key), "unknown field"),
            Some(i) if values[i].is_some() => {
                let at = Path::of(line, key);
                p.add(BODY, format!("duplicate field `{at}`"));
            }
            Some(i) => values[i] = Some(value),
        }
    }
    for (field, value) in fields.iter().zip(&values) {
        if value.is_none() {
            p.add(Path::of(line, field), "is required");
        }
    }
    values
}

fn string<'j>(value: &'j Json<'_>, at: Path<'_>, p: &mut Problems) -> Option<&'j str> {
    match value {
        Json::String(s) => Some(s),
        _ => {
            p.add(at, "must be a string");
            None
        }
    }
}

fn id<T>(
    value: &Json<'_>,
    at: Path<'_>,
    parse: fn(&str) -> Result<T, IdError>,
    p: &mut Problems,
) -> Option<T> {
    parse(string(value, at, p)?)
        .map_err(|e| p.add(at, e.to_string()))
        .ok()
}

/// The lines, if every one is valid; the county's limits on lines and units
/// are checked even if some are not.
fn read_items(
    value: &Json<'_>,
    rules: &CountyRules,
    p: &mut Problems,
) -> Option<Vec<RequestedLine>> {
    let Json::Array(items) = value else {
        p.add(ITEMS, "must be an array");
        return None;
    };
    let (max_lines, max_units) = (rules.max_line_items as usize, rules.max_units_per_order);
    if items.is_empty() {
        p.add(ITEMS, "must contain at least 1 item");
    } else if items.len() > max_lines {
        let got = items.len();
        p.add(
            ITEMS,
            format!("must contain at most {max_lines} items (got {got})"),
        );
    }
    let mut lines: Vec<(Option<Sku>, Option<u32>)> = Vec::with_capacity(items.len());
    for (n, item) in items.iter().enumerate() {
        let (sku, quantity) = read_line(n, item, max_units, p);
        // Line counts are bounded by the body size: a linear scan will do.
        if let Some(sku) = &sku
            && let Some(first) = lines.iter().position(|(s, _)| s.as_ref() == Some(sku))
        {
            p.add(
                Path::LineField(n, "sku"),
                format!("duplicates items[{first}].sku; combine the quantities"),
            );
        }
        lines.push((sku, quantity));
    }
    let total_units: u64 = lines.iter().filter_map(|(_, q)| *q).map(u64::from).sum();
    if total_units > u64::from(max_units) {
        p.add(
            ITEMS,
            format!(
                "total quantity {total_units} exceeds the county limit of {max_units} units per order"
            ),
        );
    }
    lines
        .into_iter()
        .map(|(sku, quantity)| {
            Some(RequestedLine {
                sku: sku?,
                quantity: quantity?,
            })
        })
        .collect()
}

/// Line `n`'s SKU and quantity, each if valid.
fn read_line(
    n: usize,
    item: &Json<'_>,
    max_units: u32,
    p: &mut Problems,
) -> (Option<Sku>, Option<u32>) {
    let Json::Object(entries) = item else {
        p.add(Path::Line(n), "must be an object");
        return (None, None);
    };
    let [sku, quantity] = read_object(entries, LINE_FIELDS, Some(n), p);
    let sku = sku.and_then(|v| id(v, Path::LineField(n, "sku"), Sku::parse, p));
    let at = Path::LineField(n, "quantity");
    let quantity = quantity.and_then(|v| read_quantity(v, at, max_units, p));
    (sku, quantity)
}

fn read_quantity(value: &Json<'_>, at: Path<'_>, max_units: u32, p: &mut Problems) -> Option<u32> {
    let Json::Integer(q) = *value else {
        p.add(at, "must be an integer");
        return None;
    };
    if q < 1 {
        p.add(at, "must be at least 1");
        None
    } else if q > i64::from(max_units) {
        p.add(at, format!("must be at most {max_units}"));
        None
    } else {
        // In 1..=max_units <= u32::MAX, so the conversion holds.
        u32::try_from(q).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::accept::test_rules as rules;

    fn errors(body: &str) -> Vec<(String, String)> {
        match parse_request(body.as_bytes(), &rules()) {
            Ok(_) => vec![],
            Err(e) => e.0.into_iter().map(|e| (e.field, e.reason)).collect(),
        }
    }

    fn fields(body: &str) -> Vec<String> {
        errors(body).into_iter().map(|(f, _)| f).collect()
    }

    const OK: &str = r#"{"client_request_id":"r1","customer_id":"c1","store_id":"s1",
        "items":[{"sku":"A","quantity":2},{"sku":"B","quantity":1}]}"#;

    #[test]
    fn the_problem_list_is_capped_with_a_count_of_the_rest() {
        // About 2,000 lines of one unknown key each: three problems per line.
        let line = r#"{"x":1},"#;
        let n = (MAX_BODY_BYTES - 64) / line.len();
        let body = format!(r#"{{"items":[{}{{"x":1}}]}}"#, line.repeat(n - 1));
        assert!(body.len() <= MAX_BODY_BYTES);
        let errs = errors(&body);
        assert_eq!(errs.len(), MAX_LISTED_PROBLEMS + 1);
        let (field, reason) = errs.last().unwrap();
        assert_eq!(field, "body");
        let unlisted: usize = reason.split(' ').next().unwrap().parse().unwrap();
        // 3 client_request_id/customer_id/store_id + the line count + 3 per line.
        assert_eq!(MAX_LISTED_PROBLEMS + unlisted, 3 + 1 + 3 * n, "{reason}");

        // A key the client sent is echoed back cut short.
        let long_key = "k".repeat(10_000);
        let errs = errors(&format!(r#"{{"{long_key}":1}}"#));
        assert!(
            errs.iter()
                .all(|(f, r)| f.chars().count() <= 121 && r.len() <= 130)
        );
        assert!(errs[0].0.ends_with('…'), "{errs:?}");
        // Under the cap nothing is added.
        assert!(fields(r#"{"items":[]}"#).iter().all(|f| f != "body"));
    }

    #[test]
    fn valid_body() {
        let v = parse_request(OK.as_bytes(), &rules()).unwrap();
        assert_eq!(v.lines.len(), 2);
        assert_eq!(v.idempotency_key(), "c1#r1");
        assert_eq!(v.request_hash.len(), 64);
    }

    #[test]
    fn hash_ignores_line_order_and_whitespace_but_not_content() {
        let a = parse_request(OK.as_bytes(), &rules()).unwrap();
        let b = parse_request(
            br#"{"items":[{"quantity":1,"sku":"B"},{"sku":"A","quantity":2}],
                 "store_id":"s1","customer_id":"c1","client_request_id":"r1"}"#,
            &rules(),
        )
        .unwrap();
        assert_eq!(a.request_hash, b.request_hash);
        let c = parse_request(
            OK.replace("\"quantity\":2", "\"quantity\":3").as_bytes(),
            &rules(),
        )
        .unwrap();
        assert_ne!(a.request_hash, c.request_hash);
    }

    #[test]
    fn the_request_hash_is_sha256_of_the_canonical_json() {
        // The hashes stored in idempotency records were made this way: a
        // change to the canonical form would turn retries into conflicts.
        let v = parse_request(OK.as_bytes(), &rules()).unwrap();
        let canonical = r#"{"v":1,"client_request_id":"r1","customer_id":"c1","store_id":"s1","items":[["A",2],["B",1]]}"#;
        assert_eq!(v.request_hash, hex::encode(Sha256::digest(canonical)));
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let body = r#"{"client_request_id":"","customer_id":"c#1","store_id":7,"colour":"red",
            "items":[{"sku":"A","quantity":0},{"sku":"A","quantity":1},
                     {"sku":"B","quantity":1.5},{"sku":"C","qty":1},"x",
                     {"sku":"this-sku-is-far-too-long-to-be-valid","quantity":-3}]}"#;
        let f = fields(body);
        for expected in [
            "client_request_id",
            "customer_id",
            "store_id",
            "colour",
            "items[0].quantity",
            "items[1].sku",
            "items[2].quantity",
            "items[3].qty",
            "items[3].quantity",
            "items[4]",
            "items[5].sku",
            "items[5].quantity",
            "items",
        ] {
            assert!(
                f.contains(&expected.to_owned()),
                "missing {expected} in {f:?}"
            );
        }
        let errs = errors(body);
        let dup = errs.iter().find(|(f, _)| f == "items[1].sku").unwrap();
        assert!(dup.1.contains("items[0]"), "{dup:?}");
        let unknown = errs.iter().find(|(f, _)| f == "colour").unwrap();
        assert_eq!(unknown.1, "unknown field");
    }

    #[test]
    fn the_messages_are_pinned() {
        let body = r#"{"customer_id":1,"store_id":"s","extra":null,
            "items":[{"sku":"A","quantity":"2"},{"sku":"A","quantity":1},7,{"sku":"B"}]}"#;
        let got = errors(body);
        let has = |field: &str, reason: &str| {
            assert!(
                got.contains(&(field.to_owned(), reason.to_owned())),
                "{field}: {reason} not in {got:?}"
            )
        };
        has("extra", "unknown field");
        has("client_request_id", "is required");
        has("customer_id", "must be a string");
        has("items[0].quantity", "must be an integer");
        has(
            "items[1].sku",
            "duplicates items[0].sku; combine the quantities",
        );
        has("items[2]", "must be an object");
        has("items[3].quantity", "is required");
        assert_eq!(
            errors(r#"{"client_request_id":"r","customer_id":"c","store_id":"s","items":{}}"#),
            [("items".to_owned(), "must be an array".to_owned())]
        );
        assert_eq!(
            errors("[]"),
            [("body".to_owned(), "must be a JSON object".to_owned())]
        );
        assert!(errors("{")[0].1.starts_with("is not valid JSON: "));
    }

    #[test]
    fn limits() {
        assert_eq!(
            fields(&OK.replace("\"quantity\":2", "\"quantity\":24")),
            ["items"]
        );
        assert_eq!(
            fields(&OK.replace("\"quantity\":2", "\"quantity\":25")),
            ["items[0].quantity"]
        );
        assert_eq!(
            fields(&OK.replace("\"quantity\":2", "\"quantity\":99999999999999999999")),
            ["items[0].quantity"]
        );
        assert_eq!(
            fields(&OK.replace("\"quantity\":2", "\"quantity\":10000000000000000000")),
            ["items[0].quantity"]
        );
        let empty = r#"{"client_request_id":"r","customer_id":"c","store_id":"s","items":[]}"#;
        assert_eq!(
            errors(empty),
            [(
                "items".to_owned(),
                "must contain at least 1 item".to_owned()
            )]
        );
        let six: Vec<String> = (0..6)
            .map(|i| format!(r#"{{"sku":"S{i}","quantity":1}}"#))
            .collect();
        let many = format!(
            r#"{{"client_request_id":"r","customer_id":"c","store_id":"s","items":[{}]}}"#,
            six.join(",")
        );
        assert_eq!(fields(&many), ["items"]);
        let huge = format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        assert_eq!(fields(&huge), ["body"]);
        assert_eq!(fields("{"), ["body"]);
        assert_eq!(fields("[]"), ["body"]);
        let missing = r#"{"customer_id":"c","store_id":"s"}"#;
        assert_eq!(fields(missing), ["client_request_id", "items"]);
        let long_id = OK.replace("\"r1\"", &format!("\"{}\"", "r".repeat(65)));
        assert_eq!(fields(&long_id), ["client_request_id"]);
        let dup_key = r#"{"client_request_id":"r","client_request_id":"r","customer_id":"c","store_id":"s","items":[{"sku":"A","quantity":1}]}"#;
        assert_eq!(fields(dup_key), ["body"]);
    }

    #[test]
    fn a_repeated_key_is_refused_wherever_it_is() {
        // `serde_json::Value` would keep the last value silently.
        let in_line = r#"{"client_request_id":"r","customer_id":"c","store_id":"s","items":[{"sku":"A","sku":"B","quantity":1}]}"#;
        assert_eq!(
            errors(in_line),
            [(
                "body".to_owned(),
                "duplicate field `items[0].sku`".to_owned()
            )]
        );
        let with_others = r#"{"client_request_id":"r","client_request_id":"r","customer_id":"","store_id":"s","items":[{"sku":"A","quantity":1}]}"#;
        assert_eq!(fields(with_others), ["body", "customer_id"]);
    }

    #[test]
    fn escaped_strings_parse() {
        let body = OK.replace("\"c1\"", "\"c\\u0031\"");
        let v = parse_request(body.as_bytes(), &rules()).unwrap();
        assert_eq!(v.customer_id.as_str(), "c1");
        // Keys too.
        let body = OK.replace("\"store_id\"", "\"store\\u005fid\"");
        let w = parse_request(body.as_bytes(), &rules()).unwrap();
        assert_eq!(w.store_id.as_str(), "s1");
    }
}

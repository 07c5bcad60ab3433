//! A small hand-written decoder over the positioned YAML tree.
//!
//! Serde's derive stops at the first error; a person fixing a county file wants
//! all of them at once. So decoding functions here never return early with an
//! error: they push a [`Diagnostic`] onto the [`Decoder`] and return `None`,
//! and the caller carries on with the next key.
//!
//! Scalars follow the YAML 1.2 core schema, read strictly: a quoted or block
//! scalar is always a string; a plain one is null, a boolean, an integer or a
//! float when it looks like one, and a string otherwise.

use std::ops::RangeInclusive;

use super::SourceFile;
use super::diagnostic::Diagnostic;
use super::tree::{Entry, Kind, Node, Pos};

/// Collects diagnostics; knows which file each source index refers to.
pub(crate) struct Decoder<'a> {
    files: &'a [&'a SourceFile],
    pub diagnostics: Vec<Diagnostic>,
}

impl<'a> Decoder<'a> {
    pub fn new(files: &'a [&'a SourceFile]) -> Self {
        Self {
            files,
            diagnostics: Vec::new(),
        }
    }

    pub fn path_of(&self, source: usize) -> std::path::PathBuf {
        self.files
            .get(source)
            .map(|f| f.path.clone())
            .unwrap_or_default()
    }

    pub fn error(
        &mut self,
        pos: Pos,
        key_path: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.diagnostics.push(Diagnostic {
            file: self.path_of(pos.source),
            line: pos.line,
            column: pos.column,
            key_path: key_path.to_owned(),
            message: message.into(),
            hint,
        });
    }

    /// Reports `` `path` must be {expected}, found {what node is} `` with a hint
    /// chosen for the usual mistakes (quoted numbers, `yes`/`no`, floats).
    pub fn expected(&mut self, node: &Node, path: &str, expected: &str) {
        self.expected_or(node, path, expected, None);
    }

    /// [`Self::expected`], with `why` as the hint when the value itself
    /// suggests none (a quoted number does: "remove the quotes").
    pub fn expected_or(&mut self, node: &Node, path: &str, expected: &str, why: Option<&str>) {
        let found = Found::of(node);
        let hint = found.hint_towards(expected).or(why.map(str::to_owned));
        self.error(
            node.pos,
            path,
            format!("`{path}` must be {expected}, found {}", found.describe()),
            hint,
        );
    }
}

/// What a node is, for decoding and for error messages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Found<'n> {
    Null,
    Bool(bool, &'n str),
    /// The text as written; `value` is `None` when it does not fit an `i128`.
    Int {
        text: &'n str,
        value: Option<i128>,
    },
    Float {
        text: &'n str,
        value: f64,
    },
    Str {
        text: &'n str,
        quoted: bool,
    },
    Map,
    Seq,
}

impl<'n> Found<'n> {
    pub fn of(node: &'n Node) -> Self {
        match &node.kind {
            Kind::Map(_) => Found::Map,
            Kind::Seq(_) => Found::Seq,
            Kind::Scalar { text, plain: false } => Found::Str { text, quoted: true },
            Kind::Scalar { text, plain: true } => classify_plain(text),
        }
    }

    fn describe(&self) -> String {
        match self {
            Found::Null => "no value".to_owned(),
            Found::Bool(_, text) => format!("a boolean `{text}`"),
            Found::Int { text, .. } => format!("an integer `{text}`"),
            Found::Float { text, .. } => format!("a fractional number `{text}`"),
            Found::Str { text, quoted: true } => format!("a string `{:?}`", excerpt(text)),
            Found::Str {
                text,
                quoted: false,
            } => format!("a string `{}`", excerpt(text)),
            Found::Map => "a mapping".to_owned(),
            Found::Seq => "a list".to_owned(),
        }
    }

    fn hint_towards(&self, expected: &str) -> Option<String> {
        let wants_int = expected.contains("integer");
        let wants_bool = expected.contains("boolean");
        let wants_str = expected.contains("string");
        match *self {
            Found::Str { text, quoted: true }
                if wants_int && text.trim().parse::<i128>().is_ok() =>
            {
                Some("remove the quotes: a quoted number is a string".to_owned())
            }
            Found::Str { text, quoted: true } if wants_bool && matches!(text, "true" | "false") => {
                Some("remove the quotes: a quoted `true`/`false` is a string".to_owned())
            }
            Found::Str {
                text,
                quoted: false,
            } if wants_bool
                && matches!(
                    text.to_ascii_lowercase().as_str(),
                    "yes" | "no" | "on" | "off" | "y" | "n"
                ) =>
            {
                Some(
                    "write `true` or `false` (YAML 1.2 reads `yes`/`no`/`on`/`off` as strings)"
                        .to_owned(),
                )
            }
            Found::Str {
                text,
                quoted: false,
            } if wants_bool => {
                did_you_mean(text, ["true", "false"]).map(|b| format!("did you mean `{b}`?"))
            }
            Found::Float { .. } if wants_int => Some("use a whole number".to_owned()),
            Found::Int { text, .. } | Found::Float { text, .. } | Found::Bool(_, text)
                if wants_str =>
            {
                Some(format!("quote it: \"{text}\""))
            }
            Found::Null => Some("give a value or remove the key".to_owned()),
            _ => None,
        }
    }
}

/// A long value (say, a block scalar pasted in the wrong place) cut to a
/// length that still fits a message line.
fn excerpt(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

fn classify_plain(text: &str) -> Found<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Found::Null,
        "true" | "True" | "TRUE" => return Found::Bool(true, text),
        "false" | "False" | "FALSE" => return Found::Bool(false, text),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Found::Float {
                text,
                value: f64::INFINITY,
            };
        }
        "-.inf" | "-.Inf" | "-.INF" => {
            return Found::Float {
                text,
                value: f64::NEG_INFINITY,
            };
        }
        ".nan" | ".NaN" | ".NAN" => {
            return Found::Float {
                text,
                value: f64::NAN,
            };
        }
        _ => {}
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    if digits(unsigned, 10) {
        let value = text.strip_prefix('+').unwrap_or(text).parse::<i128>().ok();
        return Found::Int { text, value };
    }
    if let Some(hex) = text.strip_prefix("0x").filter(|h| digits(h, 16)) {
        return Found::Int {
            text,
            value: i128::from_str_radix(hex, 16).ok(),
        };
    }
    if let Some(oct) = text.strip_prefix("0o").filter(|o| digits(o, 8)) {
        return Found::Int {
            text,
            value: i128::from_str_radix(oct, 8).ok(),
        };
    }
    if looks_like_float(unsigned)
        && let Ok(value) = text.parse::<f64>()
    {
        return Found::Float { text, value };
    }
    Found::Str {
        text,
        quoted: false,
    }
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the core-schema float.
fn looks_like_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int_part, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(f) => all_digits(int_part) && all_digits(f) && !(int_part.is_empty() && f.is_empty()),
        None => !int_part.is_empty() && all_digits(int_part),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok && (frac.is_some() || exponent.is_some())
}

/// A value that can be read from one node.
pub(crate) trait Decode: Sized {
    /// What the user should have written, e.g. "a boolean".
    const EXPECTED: &'static str;
    /// Decodes `node`, or reports why not and returns `None`.
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Self>;
}

impl Decode for bool {
    const EXPECTED: &'static str = "a boolean (`true` or `false`)";
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Self> {
        match Found::of(node) {
            Found::Bool(b, _) => Some(b),
            _ => {
                d.expected(node, path, Self::EXPECTED);
                None
            }
        }
    }
}

impl Decode for u32 {
    const EXPECTED: &'static str = "a non-negative integer";
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Self> {
        decode_u32_in(d, node, path, 0..=u32::MAX)
    }
}

impl Decode for String {
    const EXPECTED: &'static str = "a string";
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Self> {
        match Found::of(node) {
            Found::Str { text, .. } => Some(text.to_owned()),
            _ => {
                d.expected(node, path, Self::EXPECTED);
                None
            }
        }
    }
}

impl<T: Decode> Decode for Vec<T> {
    const EXPECTED: &'static str = "a list";
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Self> {
        let Kind::Seq(items) = &node.kind else {
            d.expected(node, path, Self::EXPECTED);
            return None;
        };
        // Decode every item so each bad one is reported, then fail if any was.
        let decoded: Vec<Option<T>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| T::decode(d, item, &format!("{path}[{i}]")))
            .collect();
        decoded.into_iter().collect()
    }
}

/// An integer within `range`; the message names the range.
pub(crate) fn decode_u32_in(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    range: RangeInclusive<u32>,
) -> Option<u32> {
    decode_u32_in_or(d, node, path, range, None)
}

/// [`decode_u32_in`] with a hint saying where the range comes from.
pub(crate) fn decode_u32_in_or(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    range: RangeInclusive<u32>,
    why: Option<&str>,
) -> Option<u32> {
    let expected = describe_range(&range);
    match Found::of(node) {
        Found::Int { value: Some(v), .. } if u32::try_from(v).is_ok_and(|v| range.contains(&v)) => {
            u32::try_from(v).ok()
        }
        _ => {
            d.expected_or(node, path, &expected, why);
            None
        }
    }
}

/// A number (integer or fraction) within `range`.
pub(crate) fn decode_f64_in(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    range: RangeInclusive<f64>,
) -> Option<f64> {
    let value = match Found::of(node) {
        Found::Int { value: Some(v), .. } => i32::try_from(v).ok().map(f64::from),
        Found::Float { value, .. } => Some(value),
        _ => None,
    };
    // `contains` is false for NaN, so `.nan` is rejected here too.
    match value.filter(|v| range.contains(v)) {
        Some(v) => Some(v),
        None => {
            let expected = format!("a number from {} to {}", range.start(), range.end());
            d.expected(node, path, &expected);
            None
        }
    }
}

pub(crate) fn describe_range(range: &RangeInclusive<u32>) -> String {
    if *range.end() == u32::MAX {
        if *range.start() == 0 {
            "a non-negative integer".to_owned()
        } else {
            format!("an integer of at least {}", range.start())
        }
    } else {
        format!("an integer from {} to {}", range.start(), range.end())
    }
}

/// The keys of one mapping, consumed one by one; [`Fields::finish`] reports
/// whatever was not asked for as an unknown key, with a did-you-mean hint.
pub(crate) struct Fields<'n> {
    entries: &'n [Entry],
    used: Vec<bool>,
    known: Vec<&'static str>,
    /// Dotted path of this mapping; empty at the top level.
    path: String,
    /// Where a missing key is reported: the key that introduced this mapping,
    /// or the file as a whole at the top level.
    at: Pos,
    missing_hint: fn(&str) -> Option<String>,
    /// Required keys that were asked for and not found.
    missing: Vec<&'static str>,
}

impl<'n> Fields<'n> {
    /// Starts decoding `node` as a mapping, or reports that it is not one.
    pub fn of(d: &mut Decoder<'_>, node: &'n Node, path: &str) -> Option<Self> {
        match node.entries() {
            Some(entries) => Some(Self {
                entries,
                used: vec![false; entries.len()],
                known: Vec::new(),
                path: path.to_owned(),
                at: node.pos,
                missing_hint: |_| None,
                missing: Vec::new(),
            }),
            None => {
                d.expected(node, path, "a mapping of `key: value` pairs");
                None
            }
        }
    }

    /// Sets the hint given with "missing required key" errors.
    pub fn missing_hint(self, missing_hint: fn(&str) -> Option<String>) -> Self {
        Self {
            missing_hint,
            ..self
        }
    }

    pub fn child(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The entry for `key`, marking it used. A null value counts as absent.
    pub fn take(&mut self, key: &'static str) -> Option<&'n Entry> {
        self.known.push(key);
        let i = self.entries.iter().position(|e| e.key == key)?;
        self.used[i] = true;
        let entry = &self.entries[i];
        (Found::of(&entry.value) != Found::Null).then_some(entry)
    }

    /// The entry for `key` even if its value is null; marks it used.
    pub fn take_raw(&mut self, key: &'static str) -> Option<&'n Entry> {
        self.known.push(key);
        let i = self.entries.iter().position(|e| e.key == key)?;
        self.used[i] = true;
        Some(&self.entries[i])
    }

    /// A key that was once a setting and is no longer one. Any value but null
    /// is an error with `message` and `hint` at the key; null is accepted,
    /// since it always meant "none". The key is not offered as a did-you-mean
    /// suggestion for other unknown keys.
    pub fn removed(&mut self, d: &mut Decoder<'_>, key: &str, message: &str, hint: &str) {
        let Some(i) = self.entries.iter().position(|e| e.key == key) else {
            return;
        };
        self.used[i] = true;
        let entry = &self.entries[i];
        if Found::of(&entry.value) != Found::Null {
            d.error(
                entry.key_pos,
                &self.child(key),
                message.to_owned(),
                Some(hint.to_owned()),
            );
        }
    }

    /// Position of `key`'s value, for checks that span several keys.
    pub fn value_pos(&self, key: &str) -> Pos {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map_or(self.at, |e| e.value.pos)
    }

    /// A required key decoded with `f`.
    pub fn req_with<T>(
        &mut self,
        d: &mut Decoder<'_>,
        key: &'static str,
        f: impl FnOnce(&mut Decoder<'_>, &'n Node, &str) -> Option<T>,
    ) -> Option<T> {
        // A required key written with no value (`key:` or `key: null`) is
        // present: `f` reports "found no value" at that key, which is more
        // useful than "missing" pointing at the top of the file.
        match self.take_raw(key) {
            Some(entry) => f(d, &entry.value, &self.child(key)),
            None => {
                // Reported by `finish`, which can tell a missing key from a
                // misspelt one.
                self.missing.push(key);
                None
            }
        }
    }

    /// An optional key decoded with `f`: `Some(None)` when absent or null,
    /// `None` when present but invalid (already reported).
    pub fn opt_with<T>(
        &mut self,
        d: &mut Decoder<'_>,
        key: &'static str,
        f: impl FnOnce(&mut Decoder<'_>, &'n Node, &str) -> Option<T>,
    ) -> Option<Option<T>> {
        match self.take(key) {
            Some(entry) => f(d, &entry.value, &self.child(key)).map(Some),
            None => Some(None),
        }
    }

    pub fn req<T: Decode>(&mut self, d: &mut Decoder<'_>, key: &'static str) -> Option<T> {
        self.req_with(d, key, T::decode)
    }

    /// A required integer within `range`.
    pub fn req_in(
        &mut self,
        d: &mut Decoder<'_>,
        key: &'static str,
        range: RangeInclusive<u32>,
    ) -> Option<u32> {
        self.req_with(d, key, |d, node, path| decode_u32_in(d, node, path, range))
    }

    /// A required integer within `range`; `why` (the limit's source) is the
    /// hint when the value is out of it.
    pub fn req_in_or(
        &mut self,
        d: &mut Decoder<'_>,
        key: &'static str,
        range: RangeInclusive<u32>,
        why: &'static str,
    ) -> Option<u32> {
        self.req_with(d, key, |d, node, path| {
            decode_u32_in_or(d, node, path, range, Some(why))
        })
    }

    /// Reports every key that nobody asked for, and every required key that
    /// is missing, except one that an unknown key is a likely misspelling of
    /// (`rate_limt` is reported once, as a typo, not also as `rate_limit` missing).
    pub fn finish(self, d: &mut Decoder<'_>) {
        let mut explained = Vec::new();
        for (entry, used) in self.entries.iter().zip(&self.used) {
            if *used {
                continue;
            }
            let message = if self.path.is_empty() {
                format!("unknown key `{}`", entry.key)
            } else {
                format!("unknown key `{}` at {}", entry.key, self.path)
            };
            let suggestion = did_you_mean(&entry.key, self.known.iter().copied());
            explained.extend(suggestion);
            let hint = suggestion
                .map(|k| format!("did you mean `{k}`?"))
                .or_else(|| {
                    // Listing the choices helps in small mappings; at the top
                    // level the list would be longer than the file's comments.
                    (self.known.len() <= 8)
                        .then(|| format!("expected one of: {}", self.known.join(", ")))
                });
            d.error(entry.key_pos, &self.child(&entry.key), message, hint);
        }
        for key in self.missing.iter().filter(|k| !explained.contains(k)) {
            let message = if self.path.is_empty() {
                format!("missing required key `{key}`")
            } else {
                format!("missing required key `{key}` at {}", self.path)
            };
            d.error(self.at, &self.child(key), message, (self.missing_hint)(key));
        }
    }
}

/// The candidate closest to `input`, if it is close enough to be a plausible
/// typo: an edit distance of at most a third of the input's length (at least 1),
/// ignoring ASCII case, or a Jaro-Winkler similarity of 0.9 for longer names
/// where a transposition or a dropped word separator moves the distance a lot.
pub(crate) fn did_you_mean<'c>(
    input: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let input_lower = input.to_ascii_lowercase();
    let max_distance = (input.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter_map(|c| {
            let lower = c.to_ascii_lowercase();
            let distance = strsim::damerau_levenshtein(&input_lower, &lower);
            let close = distance <= max_distance
                || (input.len() >= 6 && strsim::jaro_winkler(&input_lower, &lower) >= 0.9);
            close.then_some((distance, c))
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_plain_scalars_like_yaml_1_2() {
        assert_eq!(classify_plain(""), Found::Null);
        assert_eq!(classify_plain("~"), Found::Null);
        assert!(matches!(classify_plain("true"), Found::Bool(true, _)));
        assert!(matches!(classify_plain("yes"), Found::Str { .. }));
        assert!(matches!(
            classify_plain("012"),
            Found::Int {
                value: Some(12),
                ..
            }
        ));
        assert!(matches!(
            classify_plain("-5"),
            Found::Int {
                value: Some(-5),
                ..
            }
        ));
        assert!(matches!(
            classify_plain("0x1f"),
            Found::Int {
                value: Some(31),
                ..
            }
        ));
        assert!(matches!(classify_plain("1.5"), Found::Float { .. }));
        assert!(matches!(classify_plain("1e3"), Found::Float { .. }));
        assert!(matches!(classify_plain(".5"), Found::Float { .. }));
        assert!(matches!(classify_plain(".nan"), Found::Float { .. }));
        assert!(matches!(classify_plain("1.2.3"), Found::Str { .. }));
        assert!(matches!(classify_plain("07:00-24:00"), Found::Str { .. }));
        assert!(matches!(classify_plain("us-east-2"), Found::Str { .. }));
        assert!(matches!(
            classify_plain("99999999999999999999999999999999999999999"),
            Found::Int { value: None, .. }
        ));
    }

    #[test]
    fn did_you_mean_finds_typos_only() {
        let keys = ["memory_mb", "timeout_seconds", "reserved_concurrency"];
        assert_eq!(did_you_mean("memroy_mb", keys), Some("memory_mb"));
        assert_eq!(did_you_mean("timeout", keys), None);
        assert_eq!(
            did_you_mean("timout_seconds", keys),
            Some("timeout_seconds")
        );
        assert_eq!(did_you_mean("colour", keys), None);
        assert_eq!(did_you_mean("Memory_MB", keys), Some("memory_mb"));
    }
}

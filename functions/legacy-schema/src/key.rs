//! Legacy strings that become parts of keys (SKUs, store ids, client request
//! ids) → the order system's id alphabet `[A-Za-z0-9_.-]`.
//!
//! The rule, collision-free and reversible:
//! - a value already in the alphabet **and without `_`** is kept as it is;
//! - any other value is escaped: every byte of its UTF-8 outside
//!   `[A-Za-z0-9.-]` (so `_` itself too) becomes `_` and two upper-case hex
//!   digits. `"RED WINE #2"` → `"RED_20WINE_20_232"`, `"CAFÉ"` → `"CAF_C3_89"`.
//!
//! Kept values contain no `_`; escaped values always contain one (the input
//! had a byte outside the alphabet or a `_`), so the two sets never meet, and
//! the escape is a bijection on what it covers: two different legacy values
//! never become one. Case is kept, so SKUs that differ only by case stay
//! apart. A value whose escaped form is longer than the id allows is a
//! reject, never truncated.

/// Why a legacy key value cannot be held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("is empty")]
    Empty,
    #[error("`{raw}` needs {len} characters once escaped (`{escaped}`); at most {max} fit")]
    TooLong {
        raw: String,
        escaped: String,
        len: usize,
        max: usize,
    },
}

/// A legacy value in the new alphabet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// What the order system stores.
    pub value: String,
    /// `true` when the legacy value was escaped (reported as a warning).
    pub escaped: bool,
}

fn kept_as_is(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
}

/// Maps `raw` to at most `max` characters of the id alphabet.
pub fn encode(raw: &str, max: usize) -> Result<Mapped, KeyError> {
    if raw.is_empty() {
        return Err(KeyError::Empty);
    }
    let escaped = !raw.bytes().all(kept_as_is);
    let value = if escaped {
        let mut out = String::with_capacity(raw.len() * 3);
        for b in raw.bytes() {
            if kept_as_is(b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("_{b:02X}"));
            }
        }
        out
    } else {
        raw.to_owned()
    };
    if value.len() > max {
        return Err(KeyError::TooLong {
            raw: raw.to_owned(),
            len: value.len(),
            escaped: value,
            max,
        });
    }
    Ok(Mapped { value, escaped })
}

/// The legacy value `encode` was given, or `None` if `value` is not an
/// escape `encode` could have written.
pub fn decode(value: &str) -> Option<String> {
    if !value.contains('_') {
        return Some(value.to_owned());
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'_' {
            let hex = value.get(i + 1..i + 3)?;
            let b = u8::from_str_radix(hex, 16).ok()?;
            if kept_as_is(b) || hex.bytes().any(|h| h.is_ascii_lowercase()) {
                return None; // `encode` never escapes these, nor writes lower-case hex
            }
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(raw: &str) -> String {
        encode(raw, 64)
            .map(|m| m.value)
            .unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn values_in_the_alphabet_without_underscore_are_kept() {
        assert_eq!(
            encode("CAB-750", 32),
            Ok(Mapped {
                value: "CAB-750".into(),
                escaped: false
            })
        );
        assert_eq!(enc("cab-750"), "cab-750");
        assert_eq!(enc("v1.2"), "v1.2");
    }

    #[test]
    fn everything_else_is_escaped_byte_by_byte() {
        assert_eq!(enc("RED WINE #2"), "RED_20WINE_20_232");
        assert_eq!(enc("O'Doul's"), "O_27Doul_27s");
        assert_eq!(enc("CAFÉ"), "CAF_C3_89");
        assert_eq!(enc("A_B"), "A_5FB");
        assert_eq!(enc("%"), "_25");
    }

    #[test]
    fn different_legacy_values_never_meet() {
        let tricky = [
            "A_B",
            "A_5FB",
            "A B",
            "A_20B",
            "a b",
            "A b",
            "ab",
            "AB",
            "Ab",
            "_",
            "__",
            "_5F",
            "5F",
            "CAFÉ",
            "CAFE\u{301}",
            "x#y",
            "x_23y",
        ];
        let mut seen = std::collections::BTreeMap::new();
        for raw in tricky {
            let m = encode(raw, 64).expect("fits");
            if let Some(prev) = seen.insert(m.value.clone(), raw) {
                panic!("{prev:?} and {raw:?} both map to {:?}", m.value);
            }
            assert_eq!(
                decode(&m.value).as_deref(),
                Some(raw),
                "round trip of {raw:?}"
            );
        }
    }

    #[test]
    fn a_value_too_long_once_escaped_is_refused_not_cut() {
        let raw = "BOURBON WHISKEY 750ML #12";
        let err = encode(raw, 32).expect_err("too long");
        assert_eq!(
            err.to_string(),
            "`BOURBON WHISKEY 750ML #12` needs 33 characters once escaped \
             (`BOURBON_20WHISKEY_20750ML_20_2312`); at most 32 fit"
        );
        assert_eq!(encode("", 32), Err(KeyError::Empty));
    }

    #[test]
    fn strings_encode_never_writes_do_not_decode() {
        assert_eq!(decode("A_2"), None);
        assert_eq!(decode("A_41"), None); // `A` is never escaped
        assert_eq!(decode("A_2f"), None); // lower-case hex is never written
        assert_eq!(decode("_C3"), None); // half a UTF-8 character
    }
}

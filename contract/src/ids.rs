//! The ids that appear in requests, keys and the API's request models: their
//! characters and lengths. The domain validates ids with them; the generator
//! writes the same limits into the API Gateway request model.

/// Characters of every free-form id (customer, store, SKU, client request):
/// `[A-Za-z0-9_.-]`. It leaves out `#` (the key separator), `%` (the key
/// escape character), whitespace and anything a URL path would need to escape.
pub const ID_CHARSET: &str = "A-Z a-z 0-9 _ . -";
/// [`ID_CHARSET`] as a JSON-schema / ECMAScript pattern for a whole id.
pub const ID_PATTERN: &str = "^[A-Za-z0-9_.-]+$";

/// Whether `c` may appear in a free-form id ([`ID_CHARSET`]).
pub fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Longest customer id, in characters.
pub const CUSTOMER_ID_MAX_LEN: usize = 64;
/// Longest store id.
pub const STORE_ID_MAX_LEN: usize = 64;
/// Longest SKU.
pub const SKU_MAX_LEN: usize = 32;
/// Longest client request id (the idempotency token of `POST /orders`).
pub const CLIENT_REQUEST_ID_MAX_LEN: usize = 64;
/// County ids: lowercase ASCII letters, digits and `-`, starting with a
/// letter, this long. They name stacks, functions and tables.
pub const COUNTY_ID_MIN_LEN: usize = 2;
pub const COUNTY_ID_MAX_LEN: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    /// The characters `ID_PATTERN`'s class admits, read from the pattern.
    fn pattern_admits(c: char) -> bool {
        let class: Vec<char> = ID_PATTERN
            .strip_prefix("^[")
            .and_then(|p| p.strip_suffix("]+$"))
            .expect("a single character class")
            .chars()
            .collect();
        let mut i = 0;
        while i < class.len() {
            if i + 2 < class.len() && class[i + 1] == '-' {
                if (class[i]..=class[i + 2]).contains(&c) {
                    return true;
                }
                i += 3;
            } else {
                if class[i] == c {
                    return true;
                }
                i += 1;
            }
        }
        false
    }

    #[test]
    fn the_pattern_and_the_check_admit_the_same_characters() {
        for c in (0u8..=127).map(char::from).chain(['é', '#', '%']) {
            assert_eq!(pattern_admits(c), is_id_char(c), "{c:?}");
        }
    }
}

//! Legacy `numeric(p,2)` amounts → [`Money`] in integer cents.
//!
//! The reader asks PostgreSQL for the value's text (`total::text`), so the
//! digits arrive exactly as stored and no floating point ever touches them.

use order_domain::Money;

/// Why a legacy amount cannot become [`Money`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not a decimal amount")]
    NotDecimal(String),
    #[error("`{0}` has more than 2 decimal places; cents would be lost")]
    SubCent(String),
    #[error("`{0}` is negative; amounts are never below zero in the order system")]
    Negative(String),
    #[error("`{0}` is larger than the order system can hold")]
    TooLarge(String),
}

/// Parses PostgreSQL's text form of a `numeric` (`"12.30"`, `"7"`, `"0.5"`).
/// `"-0.00"` is zero; `NaN`, exponents and signs other than a leading `-` are
/// refused.
pub fn parse_cents(text: &str) -> Result<Money, MoneyError> {
    let not_decimal = || MoneyError::NotDecimal(text.to_owned());
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(frac) {
        return Err(not_decimal());
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > 2 {
        return Err(MoneyError::SubCent(text.to_owned()));
    }
    let too_large = || MoneyError::TooLarge(text.to_owned());
    let whole: u64 = whole.parse().map_err(|_| too_large())?;
    let frac_cents: u64 = format!("{frac:0<2}").parse().map_err(|_| not_decimal())?;
    let cents = whole
        .checked_mul(100)
        .and_then(|c| c.checked_add(frac_cents))
        .ok_or_else(too_large)?;
    if negative && cents != 0 {
        return Err(MoneyError::Negative(text.to_owned()));
    }
    Money::from_cents(cents).ok_or_else(too_large)
}

/// [`Money`] as `numeric(p,2)` text (`1234` cents → `"12.34"`): the inverse
/// of [`parse_cents`].
pub fn format_cents(m: Money) -> String {
    let c = m.cents();
    format!("{}.{:02}", c / 100, c % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cents(s: &str) -> u64 {
        parse_cents(s).map(Money::cents).unwrap_or(u64::MAX)
    }

    #[test]
    fn formatting_is_the_inverse_of_parsing() {
        for text in ["0.00", "0.05", "12.30", "1234567.89"] {
            assert_eq!(parse_cents(text).map(format_cents), Ok(text.to_owned()));
        }
    }

    #[test]
    fn exact_cents_from_postgres_text() {
        assert_eq!(cents("12.30"), 1230);
        assert_eq!(cents("0.07"), 7);
        assert_eq!(cents("7"), 700);
        assert_eq!(cents("0.5"), 50);
        assert_eq!(cents("-0.00"), 0);
        assert_eq!(cents("9999999999.99"), 999_999_999_999);
        // 0.1 + 0.2 style inputs stay exact: no float ever holds them.
        assert_eq!(cents("0.29"), 29);
        assert_eq!(cents("1.10"), 110);
    }

    #[test]
    fn what_cannot_be_cents_is_refused_with_the_value() {
        assert_eq!(
            parse_cents("NaN"),
            Err(MoneyError::NotDecimal("NaN".into()))
        );
        assert_eq!(parse_cents(""), Err(MoneyError::NotDecimal("".into())));
        assert_eq!(parse_cents(".5"), Err(MoneyError::NotDecimal(".5".into())));
        assert_eq!(
            parse_cents("1e3"),
            Err(MoneyError::NotDecimal("1e3".into()))
        );
        assert_eq!(parse_cents("+1"), Err(MoneyError::NotDecimal("+1".into())));
        assert_eq!(
            parse_cents("1.005"),
            Err(MoneyError::SubCent("1.005".into()))
        );
        assert_eq!(
            parse_cents("-3.00"),
            Err(MoneyError::Negative("-3.00".into()))
        );
        assert!(matches!(
            parse_cents("99999999999999999999"),
            Err(MoneyError::TooLarge(_))
        ));
        // Trailing zeros past the cents are harmless.
        assert_eq!(cents("1.2000"), 120);
    }
}

//! Customer profiles: the only place customer PII (e-mail, name, phone,
//! date of birth) lives. One definition of the profile, its Customers item,
//! the `PUT /customers/{customer_id}` body and the masked view `GET` answers.
//!
//! PII stays out of logs: [`Customer`]'s `Debug` masks it, and no error here
//! quotes a value (a validation error names the field and the rule only; a
//! corrupt item names the attribute only).

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::codec::CorruptItem;
use crate::error::{ValidationError, ValidationErrors};
use crate::ids::CustomerId;
use crate::schema::customers as attr;
use crate::store::{AttrError, AttrValue, Item, ItemExt, Table};

/// A customer's profile. Every PII field is optional: profiles the API takes
/// have e-mail, name and birth date, but a migrated customer keeps the legacy
/// database's NULLs as absent values.
#[derive(Clone, PartialEq, Eq)]
pub struct Customer {
    pub customer_id: CustomerId,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub phone: Option<String>,
    pub birth_date: Option<Date>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Set on customers copied from the legacy database.
    pub legacy: Option<LegacyCustomer>,
}

/// What a migrated customer keeps of the legacy database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyCustomer {
    /// `customers.customer_id` there.
    pub number: i64,
}

impl fmt::Debug for Customer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let view = self.masked();
        f.debug_struct("Customer")
            .field("customer_id", &self.customer_id)
            .field("email", &view.email)
            .field("full_name", &self.full_name.as_ref().map(|_| "<redacted>"))
            .field("phone", &view.phone)
            .field("birth_date", &self.birth_date.map(|_| "<redacted>"))
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("legacy", &self.legacy)
            .finish()
    }
}

/// Whole years lived from `birth` to `on`. A birthday counts from its own
/// day; someone born on February 29 comes of age on March 1 in a year without
/// one (the years are not complete until February 28 has ended), the reading
/// that never sells early.
pub fn age_on(birth: Date, on: Date) -> i32 {
    let years = i32::from(on.year()) - i32::from(birth.year());
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years - 1
    } else {
        years
    }
}

/// Key of a customer's Customers item.
pub fn customer_key(id: &CustomerId) -> Item {
    [(attr::PK.to_owned(), AttrValue::s(id.as_str()))].into()
}

impl Customer {
    /// The Customers item. Absent fields are absent attributes.
    pub fn to_item(&self) -> Item {
        let mut item = customer_key(&self.customer_id);
        let opt = [
            (attr::EMAIL, self.email.clone()),
            (attr::FULL_NAME, self.full_name.clone()),
            (attr::PHONE, self.phone.clone()),
            (attr::BIRTH_DATE, self.birth_date.map(|d| d.to_string())),
        ];
        for (name, value) in opt {
            if let Some(v) = value {
                item.insert(name.to_owned(), AttrValue::S(v));
            }
        }
        item.insert(
            attr::CREATED_AT.to_owned(),
            AttrValue::S(self.created_at.to_string()),
        );
        item.insert(
            attr::UPDATED_AT.to_owned(),
            AttrValue::S(self.updated_at.to_string()),
        );
        if let Some(l) = &self.legacy {
            item.insert(
                attr::LEGACY_CUSTOMER_ID.to_owned(),
                AttrValue::N(l.number.to_string()),
            );
        }
        item
    }

    /// Decodes a Customers item.
    pub fn from_item(item: &Item) -> Result<Self, CorruptItem> {
        decode(item).map_err(|e| CorruptItem::new(Table::Customers, e))
    }

    /// The profile as the API shows it: e-mail and phone masked.
    pub fn masked(&self) -> MaskedCustomer {
        MaskedCustomer {
            customer_id: self.customer_id.clone(),
            email: self.email.as_deref().map(mask_email),
            full_name: self.full_name.clone(),
            phone: self.phone.as_deref().map(mask_phone),
            birth_date: self.birth_date,
            created_at: self.created_at,
            updated_at: self.updated_at,
            legacy_customer_id: self.legacy.as_ref().map(|l| l.number),
        }
    }
}

/// A PII attribute's text, the error naming the attribute but never quoting
/// the value.
fn opt_text(item: &Item, name: &str) -> Result<Option<String>, AttrError> {
    match item.get(name) {
        None | Some(AttrValue::Null) => Ok(None),
        Some(AttrValue::S(s)) => Ok(Some(s.clone())),
        Some(other) => Err(AttrError::new(
            name,
            format!("expected S, found {}", other.type_name()),
        )),
    }
}

fn decode(item: &Item) -> Result<Customer, AttrError> {
    let birth_date = opt_text(item, attr::BIRTH_DATE)?
        .map(|s| {
            s.parse::<Date>()
                .map_err(|_| AttrError::new(attr::BIRTH_DATE, "is not a YYYY-MM-DD date"))
        })
        .transpose()?;
    let legacy = item
        .get(attr::LEGACY_CUSTOMER_ID)
        .map(|_| item.get_i64(attr::LEGACY_CUSTOMER_ID))
        .transpose()?
        .map(|number| LegacyCustomer { number });
    Ok(Customer {
        customer_id: item.parse_s(attr::PK)?,
        email: opt_text(item, attr::EMAIL)?,
        full_name: opt_text(item, attr::FULL_NAME)?,
        phone: opt_text(item, attr::PHONE)?,
        birth_date,
        created_at: item.parse_s(attr::CREATED_AT)?,
        updated_at: item.parse_s(attr::UPDATED_AT)?,
        legacy,
    })
}

/// A profile for display: what `GET /customers/{customer_id}` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaskedCustomer {
    pub customer_id: CustomerId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<Date>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy_customer_id: Option<i64>,
}

/// `jane@example.com` → `j***@example.com`: the local part's first character,
/// then `***`, then the domain. Text without a usable `@` (a legacy value)
/// shows as `***`.
pub fn mask_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) if !domain.is_empty() => match local.chars().next() {
            Some(first) => format!("{first}***@{domain}"),
            None => "***".to_owned(),
        },
        _ => "***".to_owned(),
    }
}

/// `+1 (512) 555-0142` → `***0142`: the last four digits only. Fewer than
/// five digits show nothing.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() <= 4 {
        return "***".to_owned();
    }
    let last: String = digits[digits.len() - 4..].iter().collect();
    format!("***{last}")
}

/// A `PUT /customers/{customer_id}` body that passed every check.
#[derive(Clone, PartialEq, Eq)]
pub struct ProfileRequest {
    pub email: String,
    pub full_name: String,
    pub phone: Option<String>,
    pub birth_date: Date,
}

impl fmt::Debug for ProfileRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProfileRequest { <redacted> }")
    }
}

/// Longest e-mail address (RFC 5321's path limit).
pub const EMAIL_MAX_LEN: usize = 254;
/// Longest full name, in characters.
pub const FULL_NAME_MAX_LEN: usize = 200;
/// A phone number's digits (E.164 allows 15; 7 is the shortest local number).
pub const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 7..=15;
/// Earliest birth date taken.
const BIRTH_DATE_MIN: Date = Date::constant(1900, 1, 1);

const FIELDS: [&str; 4] = ["email", "full_name", "phone", "birth_date"];

/// Parses and validates a profile body, reporting every problem found.
/// `today` bounds the birth date (no one is born in the future). No message
/// quotes a submitted value.
pub fn parse_profile(body: &[u8], today: Date) -> Result<ProfileRequest, ValidationErrors> {
    let json: Value = serde_json::from_slice(body).map_err(|e| {
        ValidationErrors::single(
            "body",
            format!(
                "is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let Value::Object(map) = json else {
        return Err(ValidationErrors::single("body", "must be a JSON object"));
    };
    let mut problems = Vec::new();
    for key in map.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        problems.push(ValidationError::new(
            "body",
            format!(
                "unknown field `{}`; expected {}",
                key.chars().take(64).collect::<String>(),
                FIELDS.join(", ")
            ),
        ));
    }
    let email =
        required_text(&map, "email", &mut problems).and_then(|s| check_email(s, &mut problems));
    let full_name =
        required_text(&map, "full_name", &mut problems).and_then(|s| check_name(s, &mut problems));
    let phone = match map.get("phone") {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) => check_phone(s, &mut problems).map(Some),
        Some(_) => {
            problems.push(ValidationError::new("phone", "must be a string or null"));
            None
        }
    };
    let birth_date = required_text(&map, "birth_date", &mut problems)
        .and_then(|s| check_birth_date(s, today, &mut problems));
    match (email, full_name, phone, birth_date) {
        (Some(email), Some(full_name), Some(phone), Some(birth_date)) if problems.is_empty() => {
            Ok(ProfileRequest {
                email,
                full_name,
                phone,
                birth_date,
            })
        }
        _ => Err(ValidationErrors(problems)),
    }
}

fn required_text<'a>(
    map: &'a Map<String, Value>,
    field: &str,
    problems: &mut Vec<ValidationError>,
) -> Option<&'a str> {
    match map.get(field) {
        Some(Value::String(s)) => Some(s),
        None | Some(Value::Null) => {
            problems.push(ValidationError::new(field, "is required"));
            None
        }
        Some(_) => {
            problems.push(ValidationError::new(field, "must be a string"));
            None
        }
    }
}

fn check_email(s: &str, problems: &mut Vec<ValidationError>) -> Option<String> {
    let bad = |reason: &str, problems: &mut Vec<ValidationError>| {
        problems.push(ValidationError::new("email", reason));
        None
    };
    if s.len() > EMAIL_MAX_LEN {
        return bad("must be at most 254 bytes", problems);
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("must not contain spaces or control characters", problems);
    }
    match s.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Some(s.to_owned())
        }
        _ => bad(
            "must be an e-mail address: one `@` between a local part and a domain with a dot",
            problems,
        ),
    }
}

fn check_name(s: &str, problems: &mut Vec<ValidationError>) -> Option<String> {
    let reason = if s.trim().is_empty() {
        "must not be empty"
    } else if s.chars().count() > FULL_NAME_MAX_LEN {
        "must be at most 200 characters"
    } else if s.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Some(s.to_owned());
    };
    problems.push(ValidationError::new("full_name", reason));
    None
}

fn check_phone(s: &str, problems: &mut Vec<ValidationError>) -> Option<String> {
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.');
    let rest = s.strip_prefix('+').unwrap_or(s);
    let digits = rest.chars().filter(char::is_ascii_digit).count();
    if !rest.chars().all(allowed) || !PHONE_DIGITS.contains(&digits) {
        problems.push(ValidationError::new(
            "phone",
            "must be a phone number: 7 to 15 digits, optionally after `+`, with spaces, `-`, `.` or parentheses between them",
        ));
        return None;
    }
    Some(s.to_owned())
}

fn check_birth_date(s: &str, today: Date, problems: &mut Vec<ValidationError>) -> Option<Date> {
    let shaped = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let reason = match shaped.then(|| s.parse::<Date>().ok()).flatten() {
        None => "must be a calendar date YYYY-MM-DD",
        Some(d) if d > today => "must not be in the future",
        Some(d) if d < BIRTH_DATE_MIN => "must be 1900-01-01 or later",
        Some(d) => return Some(d),
    };
    problems.push(ValidationError::new("birth_date", reason));
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn sample() -> Customer {
        Customer {
            customer_id: CustomerId::parse("cust-1").unwrap(),
            email: Some("jane@example.com".into()),
            full_name: Some("Jane O'Hara-Ñúñez".into()),
            phone: Some("+1 (512) 555-0142".into()),
            birth_date: Some(Date::constant(1990, 2, 28)),
            created_at: t("2026-03-09T15:04:05Z"),
            updated_at: t("2026-03-10T08:00:00.5Z"),
            legacy: None,
        }
    }

    #[test]
    fn the_item_round_trips_with_its_attribute_names() {
        let c = sample();
        let item = c.to_item();
        let names: Vec<&str> = item.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "birth_date",
                "created_at",
                "customer_id",
                "email",
                "full_name",
                "phone",
                "updated_at"
            ]
        );
        assert_eq!(item[attr::BIRTH_DATE], AttrValue::s("1990-02-28"));
        assert_eq!(
            item[attr::UPDATED_AT],
            AttrValue::s("2026-03-10T08:00:00.5Z")
        );
        assert_eq!(Customer::from_item(&item).unwrap(), c);
    }

    #[test]
    fn absent_fields_are_absent_attributes_and_legacy_numbers_round_trip() {
        let c = Customer {
            email: None,
            full_name: Some("Robert'); DROP TABLE customers;--\u{202e}".into()),
            phone: None,
            birth_date: None,
            legacy: Some(LegacyCustomer { number: -42 }),
            ..sample()
        };
        let item = c.to_item();
        assert!(!item.contains_key(attr::EMAIL));
        assert!(!item.contains_key(attr::PHONE));
        assert!(!item.contains_key(attr::BIRTH_DATE));
        assert_eq!(item[attr::LEGACY_CUSTOMER_ID], AttrValue::N("-42".into()));
        assert_eq!(Customer::from_item(&item).unwrap(), c);
    }

    #[test]
    fn a_corrupt_item_names_the_attribute_but_not_the_value() {
        let mut item = sample().to_item();
        item.insert(attr::BIRTH_DATE.into(), AttrValue::s("1990-02-31"));
        let e = Customer::from_item(&item).unwrap_err();
        assert_eq!(e.table, Table::Customers);
        assert!(e.reason.contains("birth_date"), "{e}");
        assert!(!e.reason.contains("1990"), "{e}");
        item.insert(attr::EMAIL.into(), AttrValue::n(3));
        assert!(Customer::from_item(&item).is_err());
    }

    #[test]
    fn masking_keeps_the_first_letter_and_the_last_four_digits() {
        assert_eq!(mask_email("jane@example.com"), "j***@example.com");
        assert_eq!(mask_email("élodie+x@exämple.fr"), "é***@exämple.fr");
        assert_eq!(mask_email("a\"@b\"@host.org"), "a***@host.org");
        for odd in ["", "no-at-sign", "@example.com", "jane@"] {
            assert_eq!(mask_email(odd), "***", "{odd:?}");
        }
        assert_eq!(mask_phone("+1 (512) 555-0142"), "***0142");
        assert_eq!(mask_phone("5125550199"), "***0199");
        assert_eq!(mask_phone("1234"), "***");
        assert_eq!(mask_phone("call me"), "***");
    }

    #[test]
    fn debug_output_never_shows_pii() {
        let text = format!("{:?}", sample());
        for pii in ["jane@", "Jane", "555-0142", "1990"] {
            assert!(!text.contains(pii), "{pii} in {text}");
        }
        assert!(text.contains("j***@example.com"), "{text}");
    }

    #[test]
    fn the_masked_view_serializes_without_absent_fields() {
        let c = Customer {
            phone: None,
            ..sample()
        };
        let json = serde_json::to_value(c.masked()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "customer_id": "cust-1",
                "email": "j***@example.com",
                "full_name": "Jane O'Hara-Ñúñez",
                "birth_date": "1990-02-28",
                "created_at": "2026-03-09T15:04:05Z",
                "updated_at": "2026-03-10T08:00:00.5Z"
            })
        );
    }

    const TODAY: Date = Date::constant(2026, 3, 9);

    #[test]
    fn age_counts_whole_years_and_feb_29_comes_of_age_on_march_1() {
        let d = |y, m, d| Date::constant(y, m, d);
        assert_eq!(age_on(d(2005, 3, 9), d(2026, 3, 9)), 21);
        assert_eq!(age_on(d(2005, 3, 10), d(2026, 3, 9)), 20);
        assert_eq!(age_on(d(2005, 3, 8), d(2026, 3, 9)), 21);
        // Born on a leap day: 21 on 2025-03-01, not on 2025-02-28.
        assert_eq!(age_on(d(2004, 2, 29), d(2025, 2, 28)), 20);
        assert_eq!(age_on(d(2004, 2, 29), d(2025, 3, 1)), 21);
        // In a leap year the birthday itself exists.
        assert_eq!(age_on(d(2003, 2, 29 - 1), d(2024, 2, 28)), 21);
        assert_eq!(age_on(d(2000, 2, 29), d(2024, 2, 29)), 24);
        assert_eq!(age_on(d(2000, 2, 29), d(2024, 2, 28)), 23);
    }

    fn fields(e: &ValidationErrors) -> Vec<&str> {
        e.0.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_valid_profile_parses() {
        let body = br#"{"email":"jane@example.com","full_name":"Jane Doe","phone":"+1 512 555 0142","birth_date":"1990-02-28"}"#;
        let r = parse_profile(body, TODAY).unwrap();
        assert_eq!(r.email, "jane@example.com");
        assert_eq!(r.phone.as_deref(), Some("+1 512 555 0142"));
        assert_eq!(r.birth_date, Date::constant(1990, 2, 28));
        let r = parse_profile(
            br#"{"email":"j@x.io","full_name":"J","phone":null,"birth_date":"2026-03-09"}"#,
            TODAY,
        )
        .unwrap();
        assert_eq!(r.phone, None);
    }

    #[test]
    fn every_problem_is_reported_by_field_without_its_value() {
        let body = br#"{"email":"jane at example","full_name":"  ","phone":"12ab","birth_date":"1990-02-30","age":3}"#;
        let e = parse_profile(body, TODAY).unwrap_err();
        assert_eq!(
            fields(&e),
            ["body", "email", "full_name", "phone", "birth_date"]
        );
        let text = e.to_string();
        for value in ["jane at example", "12ab", "1990-02-30"] {
            assert!(!text.contains(value), "{value} in {text}");
        }
        let e = parse_profile(br#"{"phone":5}"#, TODAY).unwrap_err();
        assert_eq!(fields(&e), ["email", "full_name", "phone", "birth_date"]);
        let e = parse_profile(
            br#"{"email":"j@x.io","full_name":"J","birth_date":"2026-03-10"}"#,
            TODAY,
        )
        .unwrap_err();
        assert_eq!(e.0[0].reason, "must not be in the future");
        let e = parse_profile(
            br#"{"email":"j@x.io","full_name":"J","birth_date":"1990-2-28"}"#,
            TODAY,
        )
        .unwrap_err();
        assert_eq!(e.0[0].reason, "must be a calendar date YYYY-MM-DD");
        assert_eq!(fields(&parse_profile(b"[1]", TODAY).unwrap_err()), ["body"]);
        assert_eq!(fields(&parse_profile(b"{", TODAY).unwrap_err()), ["body"]);
    }
}

//! A legacy customer row → the order domain's [`Customer`] profile and its
//! Customers item ([`order_domain::customer`]): on the customer's own key,
//! the same id the customer's orders carry ([`order_domain::legacy`]).
//!
//! Values are copied exactly: a NULL stays absent, text (unicode, markup,
//! SQL fragments) is kept byte for byte and never judged by today's profile
//! rules, which apply to new profiles only. Nothing of a customer but the
//! id goes into Orders or OrderById items. No reject or warning quotes a
//! PII value: reports are shared more widely than the Customers table.

use jiff::Timestamp;
use jiff::civil::Date;
use order_domain::customer::{Customer, LegacyCustomer as LegacyLink};
use order_domain::store::Table;

use crate::order::priced;
use crate::read::LegacyCustomer;
use crate::write::Pending;

/// The profile of legacy customer `c`, or why it cannot be held.
pub fn map_customer(c: &LegacyCustomer) -> Result<Customer, String> {
    let created_at = Timestamp::from_microsecond(c.created_at_us)
        .map_err(|_| "created_at is outside the instants a profile can hold".to_owned())?;
    let birth_date = c
        .birth_date
        .as_deref()
        .map(|d| {
            d.parse::<Date>().map_err(|_| {
                "birth_date is not a YYYY-MM-DD date the profile can hold (years 1 to 9999)"
                    .to_owned()
            })
        })
        .transpose()?;
    Ok(Customer {
        customer_id: order_domain::legacy::customer_id(c.customer_id),
        email: c.email.clone(),
        full_name: c.full_name.clone(),
        phone: c.phone.clone(),
        birth_date,
        created_at,
        // The legacy table keeps no update time: the profile was last
        // changed, as far as anyone knows, when it was made.
        updated_at: created_at,
        legacy: Some(LegacyLink {
            number: c.customer_id,
        }),
    })
}

/// The Customers item of `customer`, priced like every other write.
pub fn item(customer: &Customer) -> Pending {
    priced(Table::Customers, customer.to_item())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> LegacyCustomer {
        LegacyCustomer {
            customer_id: 3,
            email: Some("zoe@example.com".into()),
            full_name: Some("Zoë Ñúñez 山田".into()),
            phone: None,
            birth_date: Some("2001-12-31".into()),
            created_at_us: 1_546_300_800_000_000,
        }
    }

    #[test]
    fn values_are_copied_exactly_and_nulls_stay_absent() {
        let c = map_customer(&row()).expect("maps");
        assert_eq!(c.customer_id.as_str(), "3");
        assert_eq!(c.full_name.as_deref(), Some("Zoë Ñúñez 山田"));
        assert_eq!(c.phone, None);
        assert_eq!(c.birth_date, Some(Date::constant(2001, 12, 31)));
        assert_eq!(c.created_at.to_string(), "2019-01-01T00:00:00Z");
        assert_eq!(c.legacy, Some(LegacyLink { number: 3 }));
        let item = item(&c);
        assert_eq!(item.table, Table::Customers);
        assert!(!item.item.contains_key("phone"));
    }

    #[test]
    fn a_date_the_profile_cannot_hold_is_a_reject_that_does_not_quote_it() {
        let mut r = row();
        r.birth_date = Some("0044-03-15 BC".into());
        let e = map_customer(&r).expect_err("a reject");
        assert!(e.starts_with("birth_date"), "{e}");
        assert!(!e.contains("0044"), "{e}");
    }
}

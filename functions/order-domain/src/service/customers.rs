//! Customer profiles: `PUT /customers/{customer_id}` (an idempotent upsert)
//! and `GET /customers/{customer_id}` (masked). Order acceptance does not
//! read profiles (yet).
//!
//! A write is conditional on the item as it was read (absent, or its
//! `updated_at`), so two concurrent writes cannot lose `created_at` or the
//! legacy number: the loser reloads and tries again. Writing the profile a
//! customer already has writes nothing, so a retried PUT changes nothing,
//! not even `updated_at`.

use thiserror::Error;

use crate::clock::Clock;
use crate::codec::CorruptItem;
use crate::customer::{Customer, ProfileRequest, customer_key, parse_profile};
use crate::error::{DomainError, ValidationError, ValidationErrors, store_code, store_status};
use crate::ids::CustomerId;
use crate::rules::CountyRules;
use crate::schema::customers as attr;
use crate::service::MAX_ATTEMPTS;
use crate::store::{AttrValue, Condition, Put, Store, StoreError, Table};

/// Why a profile read or write failed. No variant carries PII.
#[derive(Debug, Error)]
pub enum CustomerError {
    #[error("invalid profile: {0}")]
    BadRequest(ValidationErrors),
    #[error("customer {0} has no profile")]
    NotFound(CustomerId),
    #[error("the profile of customer {0} kept changing; retry")]
    Contention(CustomerId),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Corrupt(#[from] CorruptItem),
}

impl DomainError for CustomerError {
    fn http_status(&self) -> u16 {
        match self {
            CustomerError::BadRequest(_) => 400,
            CustomerError::NotFound(_) => 404,
            CustomerError::Contention(_) => 503,
            CustomerError::Store(e) => store_status(e),
            CustomerError::Corrupt(_) => 500,
        }
    }

    fn is_retryable(&self) -> bool {
        match self {
            CustomerError::Contention(_) => true,
            CustomerError::Store(e) => e.is_retryable(),
            _ => false,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            CustomerError::BadRequest(_) => "validation_failed",
            CustomerError::NotFound(_) => "not_found",
            CustomerError::Contention(_) => "contention",
            CustomerError::Store(e) => store_code(e),
            CustomerError::Corrupt(_) => "internal",
        }
    }

    fn field_errors(&self) -> &[ValidationError] {
        match self {
            CustomerError::BadRequest(e) => &e.0,
            _ => &[],
        }
    }
}

/// Whether a PUT created the profile, changed it, or found it as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Created,
    Updated,
    Unchanged,
}

/// Reads and writes customer profiles.
pub struct CustomerService<S, C> {
    store: S,
    rules: CountyRules,
    clock: C,
}

impl<S: Store, C: Clock> CustomerService<S, C> {
    pub fn new(store: S, rules: CountyRules, clock: C) -> Self {
        Self {
            store,
            rules,
            clock,
        }
    }

    /// The profile of `id`.
    pub async fn get(&self, id: &CustomerId) -> Result<Customer, CustomerError> {
        self.load(id)
            .await?
            .ok_or_else(|| CustomerError::NotFound(id.clone()))
    }

    /// Validates `body` and makes it `id`'s profile.
    pub async fn put(
        &self,
        id: &CustomerId,
        body: &[u8],
    ) -> Result<(Customer, Upsert), CustomerError> {
        let today = self
            .clock
            .now()
            .to_zoned_datetime(self.rules.timezone.tz().clone())
            .date();
        let request = parse_profile(body, today).map_err(CustomerError::BadRequest)?;
        for _ in 0..MAX_ATTEMPTS {
            let current = self.load(id).await?;
            let (next, outcome) = self.apply(id, current.as_ref(), &request);
            if outcome == Upsert::Unchanged {
                return Ok((next, outcome));
            }
            let condition = match &current {
                None => Condition::AttributeNotExists(attr::PK.to_owned()),
                Some(c) => Condition::Equals(
                    attr::UPDATED_AT.to_owned(),
                    AttrValue::S(c.updated_at.to_string()),
                ),
            };
            let put = Put {
                table: Table::Customers,
                item: next.to_item(),
                condition: Some(condition),
            };
            match self.store.put(put).await {
                Ok(()) => return Ok((next, outcome)),
                Err(StoreError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CustomerError::Contention(id.clone()))
    }

    /// The profile after `request`, keeping what a PUT does not set.
    fn apply(
        &self,
        id: &CustomerId,
        current: Option<&Customer>,
        request: &ProfileRequest,
    ) -> (Customer, Upsert) {
        let now = self.clock.now();
        let fields = |c: &Customer| Customer {
            email: Some(request.email.clone()),
            full_name: Some(request.full_name.clone()),
            phone: request.phone.clone(),
            birth_date: Some(request.birth_date),
            ..c.clone()
        };
        match current {
            None => {
                let blank = Customer {
                    customer_id: id.clone(),
                    email: None,
                    full_name: None,
                    phone: None,
                    birth_date: None,
                    created_at: now,
                    updated_at: now,
                    legacy: None,
                };
                (fields(&blank), Upsert::Created)
            }
            Some(c) if fields(c) == *c => (c.clone(), Upsert::Unchanged),
            Some(c) => {
                // `updated_at` guards the next write: it must move even
                // within one clock tick.
                let updated_at = if now > c.updated_at {
                    now
                } else {
                    c.updated_at + jiff::SignedDuration::from_millis(1)
                };
                (
                    Customer {
                        updated_at,
                        ..fields(c)
                    },
                    Upsert::Updated,
                )
            }
        }
    }

    async fn load(&self, id: &CustomerId) -> Result<Option<Customer>, CustomerError> {
        let item = self
            .store
            .get(Table::Customers, customer_key(id), true)
            .await?;
        Ok(item.as_ref().map(Customer::from_item).transpose()?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::store::MemoryStore;

    fn rules() -> CountyRules {
        CountyRules::from_json(
            r#"{"county_id":"travis-tx","sales_enabled":true,"timezone":"America/Chicago","max_units_per_order":24,"max_line_items":5,"gsi_write_shards":4,"reservation_ttl_seconds":900,"idempotency_ttl_hours":24}"#,
        )
        .unwrap()
    }

    type Service = CustomerService<Arc<MemoryStore>, Arc<ManualClock>>;

    fn service() -> (Service, Arc<MemoryStore>, Arc<ManualClock>) {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new("2026-03-09T15:00:00Z".parse().unwrap()));
        (
            CustomerService::new(store.clone(), rules(), clock.clone()),
            store,
            clock,
        )
    }

    const BODY: &[u8] =
        br#"{"email":"jane@example.com","full_name":"Jane Doe","phone":"5125550142","birth_date":"1990-02-28"}"#;

    #[tokio::test]
    async fn put_creates_then_is_idempotent_then_updates_keeping_created_at() {
        let (svc, store, clock) = service();
        let id = CustomerId::parse("cust-1").unwrap();
        let (c, o) = svc.put(&id, BODY).await.unwrap();
        assert_eq!(o, Upsert::Created);
        assert_eq!(c.created_at, c.updated_at);
        assert_eq!(svc.get(&id).await.unwrap(), c);
        clock.advance(jiff::SignedDuration::from_secs(60));
        let (again, o) = svc.put(&id, BODY).await.unwrap();
        assert_eq!((again.clone(), o), (c.clone(), Upsert::Unchanged));
        let changed =
            br#"{"email":"jd@example.org","full_name":"Jane Doe","birth_date":"1990-02-28"}"#;
        let (u, o) = svc.put(&id, changed).await.unwrap();
        assert_eq!(o, Upsert::Updated);
        assert_eq!(u.created_at, c.created_at);
        assert_eq!(u.phone, None);
        assert!(u.updated_at > c.updated_at);
        assert_eq!(store.items(Table::Customers), vec![u.to_item()]);
    }

    #[tokio::test]
    async fn a_migrated_profile_keeps_its_legacy_number_when_written() {
        let (svc, store, _) = service();
        let id = crate::legacy::customer_id(1001);
        let migrated = Customer {
            customer_id: id.clone(),
            email: None,
            full_name: None,
            phone: None,
            birth_date: None,
            created_at: "2019-01-01T00:00:00Z".parse().unwrap(),
            updated_at: "2019-01-01T00:00:00Z".parse().unwrap(),
            legacy: Some(crate::customer::LegacyCustomer { number: 1001 }),
        };
        store
            .put(Put {
                table: Table::Customers,
                item: migrated.to_item(),
                condition: None,
            })
            .await
            .unwrap();
        let (c, o) = svc.put(&id, BODY).await.unwrap();
        assert_eq!(o, Upsert::Updated);
        assert_eq!(c.legacy, migrated.legacy);
        assert_eq!(c.created_at, migrated.created_at);
    }

    #[tokio::test]
    async fn absent_profiles_and_bad_bodies_are_refused_with_nothing_written() {
        let (svc, store, _) = service();
        let id = CustomerId::parse("cust-2").unwrap();
        let e = svc.get(&id).await.unwrap_err();
        assert_eq!(e.http_status(), 404);
        let e = svc.put(&id, br#"{"email":"x"}"#).await.unwrap_err();
        assert_eq!(e.http_status(), 400);
        assert_eq!(e.field_errors().len(), 3);
        assert!(store.items(Table::Customers).is_empty());
    }
}

//! The functions' configuration: the `ACME_*` environment variables the
//! county stack sets on every function (`order_domain::schema::env`), read
//! and checked once at cold start so a bad deployment fails with the
//! variable's name instead of on the first request.

use order_domain::ids::CountyId;
use order_domain::rules::CountyRules;
use order_domain::schema::env;
use order_domain::store::TableNames;
use thiserror::Error;

/// A variable is missing or unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set (the county stack sets it on every function)")]
    Missing(&'static str),
    #[error("environment variable {var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
}

/// Everything the functions read from their environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `ACME_COUNTY_ID`; must equal the rules' `county_id`.
    pub county_id: CountyId,
    /// `ACME_ORDERS_TABLE`, `ACME_ORDER_BY_ID_TABLE`, `ACME_INVENTORY_TABLE`,
    /// `ACME_IDEMPOTENCY_TABLE`, and `ACME_CUSTOMERS_TABLE` where the stack
    /// sets it (the order API only: the worker and the publisher start
    /// without it).
    pub tables: TableNames,
    /// `ACME_ORDER_QUEUE_URL`.
    pub order_queue_url: String,
    /// `ACME_EVENT_BUS_NAME`.
    pub event_bus_name: String,
    /// `ACME_NOTIFICATIONS_TOPIC_ARN`.
    pub notifications_topic_arn: String,
    /// `ACME_COUNTY_RULES` (JSON); its `gsi_write_shards` must equal
    /// `ACME_GSI_WRITE_SHARDS`.
    pub rules: CountyRules,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads through `lookup` (a test passes a map; the runner its own values).
    /// An empty value counts as missing: CloudFormation sets `""` for an
    /// unresolved optional reference.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &'static str| {
            lookup(k)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(k))
        };
        let county_id = get(env::COUNTY_ID)?;
        let county_id = CountyId::parse(&county_id).map_err(|e| ConfigError::Invalid {
            var: env::COUNTY_ID,
            reason: format!("{county_id:?}: {e}"),
        })?;
        let tables = TableNames::from_lookup(|k| lookup(k).filter(|v| !v.trim().is_empty()))
            .map_err(|e| ConfigError::Missing(e.0))?;
        let order_queue_url = get(env::ORDER_QUEUE_URL)?;
        if !order_queue_url.starts_with("https://") && !order_queue_url.starts_with("http://") {
            return Err(ConfigError::Invalid {
                var: env::ORDER_QUEUE_URL,
                reason: format!("{order_queue_url:?} is not a queue URL (expected https://...)"),
            });
        }
        let event_bus_name = get(env::EVENT_BUS_NAME)?;
        let notifications_topic_arn = get(env::NOTIFICATIONS_TOPIC_ARN)?;
        if !notifications_topic_arn.starts_with("arn:") {
            return Err(ConfigError::Invalid {
                var: env::NOTIFICATIONS_TOPIC_ARN,
                reason: format!("{notifications_topic_arn:?} is not an ARN"),
            });
        }
        let rules =
            CountyRules::from_json(&get(env::COUNTY_RULES)?).map_err(|e| ConfigError::Invalid {
                var: env::COUNTY_RULES,
                reason: e.to_string(),
            })?;
        if rules.county_id != county_id {
            return Err(ConfigError::Invalid {
                var: env::COUNTY_ID,
                reason: format!(
                    "{:?} differs from county_id {:?} in {}",
                    county_id.as_str(),
                    rules.county_id.as_str(),
                    env::COUNTY_RULES
                ),
            });
        }
        let shards = get(env::GSI_WRITE_SHARDS)?;
        let shards: u32 = shards.parse().map_err(|_| ConfigError::Invalid {
            var: env::GSI_WRITE_SHARDS,
            reason: format!("{shards:?} is not a positive integer"),
        })?;
        // The services shard by the rules' value; a different env value means
        // the stack and the rules disagree, and reads would miss shards.
        if shards != rules.gsi_write_shards {
            return Err(ConfigError::Invalid {
                var: env::GSI_WRITE_SHARDS,
                reason: format!(
                    "{shards} differs from gsi_write_shards = {} in {}",
                    rules.gsi_write_shards,
                    env::COUNTY_RULES
                ),
            });
        }
        Ok(Self {
            county_id,
            tables,
            order_queue_url,
            event_bus_name,
            notifications_topic_arn,
            rules,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn vars() -> HashMap<&'static str, String> {
        crate::testing::function_env().into_iter().collect()
    }

    fn load(v: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(|k| v.get(k).cloned())
    }

    #[test]
    fn reads_every_variable() {
        let c = load(&vars()).unwrap();
        assert_eq!(c.tables.order_by_id, "order-by-id");
        assert_eq!(c.rules.gsi_write_shards, 4);
        assert_eq!(c.event_bus_name, "acme-travis-tx");
    }

    #[test]
    fn the_customers_table_is_optional_as_only_the_api_has_it() {
        // The worker's and the publisher's environment: no Customers table.
        let c = load(&vars()).unwrap();
        assert_eq!(c.tables.customers, None);
        let mut v = vars();
        v.insert(env::CUSTOMERS_TABLE, "customers".to_owned());
        assert_eq!(
            load(&v).unwrap().tables.customers.as_deref(),
            Some("customers")
        );
        v.insert(env::CUSTOMERS_TABLE, " ".to_owned());
        assert_eq!(load(&v).unwrap().tables.customers, None);
    }

    #[test]
    fn errors_name_the_variable() {
        for var in [
            env::COUNTY_ID,
            env::ORDERS_TABLE,
            env::IDEMPOTENCY_TABLE,
            env::ORDER_QUEUE_URL,
            env::EVENT_BUS_NAME,
            env::NOTIFICATIONS_TOPIC_ARN,
            env::COUNTY_RULES,
            env::GSI_WRITE_SHARDS,
        ] {
            let mut v = vars();
            v.remove(var);
            assert_eq!(load(&v), Err(ConfigError::Missing(var)), "{var}");
            let mut v = vars();
            v.insert(var, "  ".into());
            assert_eq!(load(&v), Err(ConfigError::Missing(var)), "{var} blank");
        }
        let bad = |var: &'static str, value: &str| {
            let mut v = vars();
            v.insert(var, value.to_owned());
            match load(&v) {
                Err(ConfigError::Invalid { var: got, reason }) => {
                    assert_eq!(got, var);
                    reason
                }
                other => panic!("{var}={value}: {other:?}"),
            }
        };
        assert!(bad(env::GSI_WRITE_SHARDS, "8").contains("gsi_write_shards = 4"));
        assert!(bad(env::GSI_WRITE_SHARDS, "x").contains("positive integer"));
        assert!(bad(env::COUNTY_RULES, "{").contains("JSON"));
        assert!(bad(env::COUNTY_ID, "other-county").contains("travis-tx"));
        bad(env::ORDER_QUEUE_URL, "orders");
        bad(env::NOTIFICATIONS_TOPIC_ARN, "notify");
        let msg = ConfigError::Missing(env::ORDERS_TABLE).to_string();
        assert!(msg.contains("ACME_ORDERS_TABLE"), "{msg}");
    }
}

//! The price table the planner costs with: data in the repository
//! (`prices/aws-list-prices.yaml`), with the date it was transcribed and the
//! regions each table serves, compiled into the binary so a plan never
//! depends on the network.

use serde::{Deserialize, Serialize};

/// The shipped price file.
pub const SHIPPED: &str = include_str!("../../prices/aws-list-prices.yaml");
/// Where it lives, for messages.
pub const SHIPPED_PATH: &str = "functions/order-capacity/prices/aws-list-prices.yaml";

/// The whole price file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PriceFile {
    /// When the prices were transcribed (`YYYY-MM-DD`).
    pub as_of: String,
    pub currency: String,
    pub tables: Vec<Prices>,
}

/// One region set's list prices, USD.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub regions: Vec<String>,
    pub dynamodb: DynamoDb,
    pub lambda: Lambda,
    pub sqs: PerMillion,
    pub api_gateway: ApiGateway,
    pub waf: Waf,
    pub firehose: Firehose,
    pub s3: S3,
    pub cloudtrail: CloudTrail,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DynamoDb {
    pub on_demand_write_per_million: f64,
    pub on_demand_read_per_million: f64,
    pub provisioned_wcu_hour: f64,
    pub provisioned_rcu_hour: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lambda {
    pub requests_per_million: f64,
    pub gb_second_arm64: f64,
    pub gb_second_x86_64: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PerMillion {
    pub requests_per_million: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiGateway {
    pub rest_requests_per_million: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Waf {
    pub web_acl_month: f64,
    pub rule_month: f64,
    pub requests_per_million: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Firehose {
    pub ingested_gb: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct S3 {
    pub standard_gb_month: f64,
    pub put_per_thousand: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CloudTrail {
    pub data_events_per_100k: f64,
}

/// A price file that does not parse, or says something impossible.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PriceError {
    pub path: String,
    pub message: String,
}

impl PriceFile {
    /// The prices compiled into the binary.
    pub fn shipped() -> Result<Self, PriceError> {
        Self::parse(SHIPPED_PATH, SHIPPED)
    }

    /// Parses and checks a price file: a real date, no region listed twice,
    /// no negative or non-finite price.
    pub fn parse(path: &str, text: &str) -> Result<Self, PriceError> {
        let err = |message: String| PriceError {
            path: path.to_owned(),
            message,
        };
        let file: PriceFile = serde_saphyr::from_str(text).map_err(|e| err(e.to_string()))?;
        if file.as_of.parse::<jiff::civil::Date>().is_err() {
            return Err(err(format!(
                "`as_of` must be a date YYYY-MM-DD, found `{}`",
                file.as_of
            )));
        }
        let mut seen: Vec<&str> = Vec::new();
        for (i, t) in file.tables.iter().enumerate() {
            for r in &t.regions {
                if seen.contains(&r.as_str()) {
                    return Err(err(format!("region `{r}` is listed twice (tables[{i}])")));
                }
                seen.push(r);
            }
            if let Some(bad) = t.all().into_iter().find(|p| !p.is_finite() || *p < 0.0) {
                return Err(err(format!("tables[{i}] has a price of {bad}")));
            }
        }
        Ok(file)
    }

    /// The prices of `region`, if a table lists it.
    pub fn for_region(&self, region: &str) -> Option<&Prices> {
        self.tables
            .iter()
            .find(|t| t.regions.iter().any(|r| r == region))
    }

    /// Every region some table covers.
    pub fn regions(&self) -> Vec<&str> {
        self.tables
            .iter()
            .flat_map(|t| t.regions.iter().map(String::as_str))
            .collect()
    }
}

impl Prices {
    fn all(&self) -> [f64; 16] {
        let (d, l, w) = (&self.dynamodb, &self.lambda, &self.waf);
        [
            d.on_demand_write_per_million,
            d.on_demand_read_per_million,
            d.provisioned_wcu_hour,
            d.provisioned_rcu_hour,
            l.requests_per_million,
            l.gb_second_arm64,
            l.gb_second_x86_64,
            self.sqs.requests_per_million,
            self.api_gateway.rest_requests_per_million,
            w.web_acl_month,
            w.rule_month,
            w.requests_per_million,
            self.firehose.ingested_gb,
            self.s3.standard_gb_month,
            self.s3.put_per_thousand,
            self.cloudtrail.data_events_per_100k,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_prices_parse_and_cover_the_sample_counties_regions() {
        let file = PriceFile::shipped().expect("shipped prices");
        for region in ["us-east-1", "us-east-2", "us-west-2"] {
            assert!(file.for_region(region).is_some(), "{region}");
        }
        assert!(file.for_region("eu-west-1").is_none());
        assert_eq!(file.currency, "USD");
    }

    #[test]
    fn a_bad_price_file_names_the_problem() {
        let text = SHIPPED.replace("as_of: 2025-06-01", "as_of: June");
        let e = PriceFile::parse("p.yaml", &text).expect_err("bad date");
        assert!(e.to_string().contains("`as_of` must be a date"), "{e}");
        let text = SHIPPED.replace("rule_month: 1.00", "rule_month: -1");
        let e = PriceFile::parse("p.yaml", &text).expect_err("negative");
        assert!(e.to_string().contains("price of -1"), "{e}");
        let text = SHIPPED.replace("rule_month:", "rules_month:");
        let e = PriceFile::parse("p.yaml", &text).expect_err("unknown key");
        assert!(e.to_string().starts_with("p.yaml: "), "{e}");
    }
}

//! The price table the planner costs with: data in the repository
//! (`prices/aws-list-prices.yaml`), with the date it was transcribed, the date
//! it was checked against AWS's pricing pages, the regions each table serves
//! and, per price, its source and the regions a stored AWS source confirms it
//! for; compiled into the binary so a plan never depends on the network.

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
    /// When they were last checked against AWS's pricing pages.
    pub checked_on: String,
    pub currency: String,
    pub tables: Vec<Prices>,
}

/// One list price and what vouches for it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub usd: f64,
    /// The AWS pricing page the figure belongs to.
    pub source: String,
    /// Regions of its table for which a stored AWS page or document states
    /// this figure; elsewhere the figure is unconfirmed.
    pub confirmed_in: Vec<String>,
    /// What the sources said when the figure was checked.
    pub found: String,
}

impl Price {
    pub fn confirmed_for(&self, region: &str) -> bool {
        self.confirmed_in.iter().any(|r| r == region)
    }
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
    pub on_demand_write_per_million: Price,
    pub on_demand_read_per_million: Price,
    pub provisioned_wcu_hour: Price,
    pub provisioned_rcu_hour: Price,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lambda {
    pub requests_per_million: Price,
    pub gb_second_arm64: Price,
    pub gb_second_x86_64: Price,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PerMillion {
    pub requests_per_million: Price,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiGateway {
    pub rest_requests_per_million: Price,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Waf {
    pub web_acl_month: Price,
    pub rule_month: Price,
    pub requests_per_million: Price,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Firehose {
    pub ingested_gb: Price,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct S3 {
    pub standard_gb_month: Price,
    pub put_per_thousand: Price,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CloudTrail {
    pub data_events_per_100k: Price,
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

    /// Parses and checks a price file: real dates, no region listed twice,
    /// and every price finite, not negative, with an https source, its
    /// findings, and confirmations only for its own table's regions.
    pub fn parse(path: &str, text: &str) -> Result<Self, PriceError> {
        let err = |message: String| PriceError {
            path: path.to_owned(),
            message,
        };
        let file: PriceFile = serde_saphyr::from_str(text).map_err(|e| err(e.to_string()))?;
        file.check_dates().map_err(err)?;
        let mut seen: Vec<&str> = Vec::new();
        for (i, t) in file.tables.iter().enumerate() {
            for r in &t.regions {
                if seen.contains(&r.as_str()) {
                    return Err(err(format!("region `{r}` is listed twice (tables[{i}])")));
                }
                seen.push(r);
            }
            for (key, price) in t.entries() {
                check_price(price, &t.regions)
                    .map_err(|m| err(format!("tables[{i}].{key}.{m}")))?;
            }
        }
        Ok(file)
    }

    fn check_dates(&self) -> Result<(), String> {
        let date = |key: &str, value: &str| {
            value
                .parse::<jiff::civil::Date>()
                .map_err(|_| format!("`{key}` must be a date YYYY-MM-DD, found `{value}`"))
        };
        let as_of = date("as_of", &self.as_of)?;
        let checked = date("checked_on", &self.checked_on)?;
        if checked < as_of {
            return Err(format!(
                "`checked_on` ({checked}) is before `as_of` ({as_of}): prices cannot be checked before they are written down"
            ));
        }
        Ok(())
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

/// One price's problem, as `<field>: <what>` after its key.
fn check_price(p: &Price, regions: &[String]) -> Result<(), String> {
    if !p.usd.is_finite() || p.usd < 0.0 {
        return Err(format!("usd: a price of {} is not a price", p.usd));
    }
    if !p.source.starts_with("https://") {
        return Err(format!(
            "source: `{}` is not an https address of the AWS page the figure comes from",
            p.source
        ));
    }
    if p.found.trim().is_empty() {
        return Err("found: say what the sources gave when the figure was checked".to_owned());
    }
    if let Some(r) = p.confirmed_in.iter().find(|r| !regions.contains(r)) {
        return Err(format!(
            "confirmed_in: `{r}` is not one of this table's regions ({})",
            regions.join(", ")
        ));
    }
    Ok(())
}

impl Prices {
    /// Every price with its key (`service.item`), in file order.
    pub fn entries(&self) -> [(&'static str, &Price); 16] {
        let (d, l, w) = (&self.dynamodb, &self.lambda, &self.waf);
        [
            (
                "dynamodb.on_demand_write_per_million",
                &d.on_demand_write_per_million,
            ),
            (
                "dynamodb.on_demand_read_per_million",
                &d.on_demand_read_per_million,
            ),
            ("dynamodb.provisioned_wcu_hour", &d.provisioned_wcu_hour),
            ("dynamodb.provisioned_rcu_hour", &d.provisioned_rcu_hour),
            ("lambda.requests_per_million", &l.requests_per_million),
            ("lambda.gb_second_arm64", &l.gb_second_arm64),
            ("lambda.gb_second_x86_64", &l.gb_second_x86_64),
            ("sqs.requests_per_million", &self.sqs.requests_per_million),
            (
                "api_gateway.rest_requests_per_million",
                &self.api_gateway.rest_requests_per_million,
            ),
            ("waf.web_acl_month", &w.web_acl_month),
            ("waf.rule_month", &w.rule_month),
            ("waf.requests_per_million", &w.requests_per_million),
            ("firehose.ingested_gb", &self.firehose.ingested_gb),
            ("s3.standard_gb_month", &self.s3.standard_gb_month),
            ("s3.put_per_thousand", &self.s3.put_per_thousand),
            (
                "cloudtrail.data_events_per_100k",
                &self.cloudtrail.data_events_per_100k,
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A well-formed `waf.rule_month` entry.
    const RULE: &str = "      rule_month:
        usd: 1.00
        source: https://aws.amazon.com/waf/pricing/
        confirmed_in: [us-east-1, us-east-2, us-west-2]
        found: what the sources said
";

    /// The shipped file with its `waf.rule_month` entry replaced by `rule`.
    fn with_rule(rule: &str) -> String {
        let start = SHIPPED.find("      rule_month:\n").expect("waf.rule_month");
        let len = SHIPPED[start..]
            .find("      requests_per_million:\n")
            .expect("the entry after it");
        let mut text = SHIPPED.to_owned();
        text.replace_range(start..start + len, rule);
        text
    }

    fn error_of(text: &str) -> String {
        PriceFile::parse("p.yaml", text)
            .expect_err("a bad price file")
            .to_string()
    }

    #[test]
    fn the_shipped_prices_parse_and_cover_the_sample_counties_regions() {
        let file = PriceFile::shipped().expect("shipped prices");
        for region in ["us-east-1", "us-east-2", "us-west-2"] {
            assert!(file.for_region(region).is_some(), "{region}");
        }
        assert!(file.for_region("eu-west-1").is_none());
        assert_eq!(file.currency, "USD");
        assert_eq!(file.checked_on, "2026-12-06");
        for t in &file.tables {
            for (key, p) in t.entries() {
                assert!(p.source.starts_with("https://aws.amazon.com/"), "{key}");
            }
        }
        // The replacement the tests below make parses when well formed.
        PriceFile::parse("p.yaml", &with_rule(RULE)).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn a_bad_date_names_its_key() {
        assert!(SHIPPED.contains("as_of: 2025-06-01\nchecked_on: 2026-12-06\n"));
        let e = error_of(&SHIPPED.replace("as_of: 2025-06-01", "as_of: June"));
        assert_eq!(e, "p.yaml: `as_of` must be a date YYYY-MM-DD, found `June`");
        let e = error_of(&SHIPPED.replace("checked_on: 2026-12-06", "checked_on: 2025-05-31"));
        assert!(
            e.starts_with("p.yaml: `checked_on` (2025-05-31) is before `as_of` (2025-06-01)"),
            "{e}"
        );
    }

    #[test]
    fn a_bad_price_entry_names_the_file_and_its_key() {
        let bad = |from: &str, to: &str| error_of(&with_rule(&RULE.replace(from, to)));
        assert_eq!(
            bad("usd: 1.00", "usd: -1"),
            "p.yaml: tables[0].waf.rule_month.usd: a price of -1 is not a price"
        );
        assert_eq!(
            bad("https://aws", "http://aws"),
            "p.yaml: tables[0].waf.rule_month.source: `http://aws.amazon.com/waf/pricing/` is not an https address of the AWS page the figure comes from"
        );
        assert_eq!(
            bad("us-east-2, us-west-2]", "eu-west-1]"),
            "p.yaml: tables[0].waf.rule_month.confirmed_in: `eu-west-1` is not one of this table's regions (us-east-1, us-east-2, us-west-2)"
        );
        assert_eq!(
            bad("what the sources said", "\"  \""),
            "p.yaml: tables[0].waf.rule_month.found: say what the sources gave when the figure was checked"
        );
        // Without `source`, or with a misspelt key, the parser names the key.
        let e = bad("        source: https://aws.amazon.com/waf/pricing/\n", "");
        assert!(e.starts_with("p.yaml: ") && e.contains("source"), "{e}");
        let e = bad("usd:", "price:");
        assert!(e.starts_with("p.yaml: ") && e.contains("price"), "{e}");
    }
}

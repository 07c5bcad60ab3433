//! `AWS::CloudWatch::Alarm` and `::Dashboard`, and `AWS::Logs::LogStream`.

use serde::Serialize;

use super::resource;
use crate::cfn::Expr;

/// A metric alarm: either one metric (`metric`) or metric math (`metrics`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Alarm {
    pub alarm_name: String,
    pub alarm_description: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub metric: Option<SingleMetric>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricDataQuery>,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub threshold: f64,
    pub comparison_operator: &'static str,
    /// `breaching`, `notBreaching`, `ignore` or `missing`.
    pub treat_missing_data: &'static str,
    pub alarm_actions: Vec<Expr>,
    #[serde(rename = "OKActions")]
    pub ok_actions: Vec<Expr>,
}
resource!(Alarm, "AWS::CloudWatch::Alarm");

/// The single-metric properties of an alarm (flattened into it).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SingleMetric {
    pub namespace: &'static str,
    pub metric_name: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<Dimension>,
    /// `Sum`, `Average`, `Maximum`, ...; `None` with `extended_statistic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<&'static str>,
    /// A percentile such as `p99`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_statistic: Option<&'static str>,
    pub period: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    pub name: &'static str,
    pub value: Expr,
}

impl Dimension {
    pub fn new(name: &'static str, value: impl Into<Expr>) -> Self {
        Dimension {
            name,
            value: value.into(),
        }
    }
}

/// One entry of a metric-math alarm: a metric or an expression over them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDataQuery {
    pub id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_stat: Option<MetricStat>,
    /// Exactly one query of an alarm returns data: the one compared.
    pub return_data: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricStat {
    pub metric: Metric,
    pub period: u32,
    pub stat: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metric {
    pub namespace: &'static str,
    pub metric_name: &'static str,
    pub dimensions: Vec<Dimension>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dashboard {
    pub dashboard_name: String,
    /// The dashboard's JSON as a string (usually `Fn::Sub`, for names known
    /// only at deploy time).
    pub dashboard_body: Expr,
}
resource!(Dashboard, "AWS::CloudWatch::Dashboard");

/// `AWS::Logs::LogStream`: services that log to a stream they do not create
/// themselves (Firehose) need it to exist.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogStream {
    pub log_group_name: Expr,
    pub log_stream_name: String,
}
resource!(LogStream, "AWS::Logs::LogStream");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_single_metric_alarm_flattens_its_metric() {
        let a = Alarm {
            alarm_name: "a".into(),
            alarm_description: "d".into(),
            metric: Some(SingleMetric {
                namespace: "AWS/SQS",
                metric_name: "ApproximateNumberOfMessagesVisible",
                dimensions: vec![Dimension::new("QueueName", "q")],
                statistic: Some("Maximum"),
                extended_statistic: None,
                period: 60,
            }),
            metrics: vec![],
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            threshold: 0.0,
            comparison_operator: "GreaterThanThreshold",
            treat_missing_data: "notBreaching",
            alarm_actions: vec!["t".into()],
            ok_actions: vec!["t".into()],
        };
        let v = serde_json::to_value(&a).expect("json");
        assert_eq!(v["Namespace"], "AWS/SQS");
        assert_eq!(
            v["Dimensions"],
            json!([{"Name": "QueueName", "Value": "q"}])
        );
        assert_eq!(v["OKActions"], json!(["t"]));
        assert!(v.get("Metrics").is_none() && v.get("ExtendedStatistic").is_none());
    }
}

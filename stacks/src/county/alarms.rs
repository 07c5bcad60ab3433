//! Alarms and the county dashboard.
//!
//! Every alarm notifies the operations topic (which mails `alarm_email`) on
//! ALARM and again on OK, so the person paged also learns when it is over.
//! `TreatMissingData` is chosen per alarm: most of these metrics are emitted
//! only when something happens (an error, a throttle, a blocked request), so
//! "no data" means "nothing bad happened" (`notBreaching`); the stream's
//! iterator age is emitted only while the publisher runs, so there "no data"
//! keeps the last state (`ignore`) — a publisher that stopped while falling
//! behind stays in ALARM instead of turning OK.
//!
//! The dashboard body is rendered from `templates/dashboard.json.j2` (see
//! [`render_dashboard`]).

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::cfn::resources::cloudwatch::{
    Alarm, Dashboard, Dimension, Metric, MetricDataQuery, MetricStat, SingleMetric,
};
use crate::cfn::{Expr, LogicalId, Res, TemplateError};

use super::{Ctx, Refs};

/// Path of the dashboard template, as error messages name it.
pub const DASHBOARD_TEMPLATE_NAME: &str = "templates/dashboard.json.j2";
const DASHBOARD_TEMPLATE: &str = include_str!("../../../templates/dashboard.json.j2");

/// p99 latency of the API above which the API alarm fires, milliseconds. The
/// functions answer in tens of milliseconds warm; a sustained p99 over one
/// second means DynamoDB throttling, cold-start storms or a stuck dependency.
pub const API_P99_LATENCY_MS: f64 = 1000.0;
/// Share of API requests answered with a 5XX above which the API alarm fires.
pub const API_5XX_RATE: f64 = 0.01;
/// Blocked requests per five minutes that count as a spike. One client over
/// the rate limit is blocked for the rest of the window; several hundred
/// blocks in five minutes is a scraper or an attack, not a clumsy client.
pub const WAF_BLOCKED_PER_5_MINUTES: f64 = 500.0;
/// Age of the oldest unprocessed stream record above which order events are
/// late, milliseconds. Customers wait for the confirmation e-mail behind it.
pub const ITERATOR_AGE_MS: f64 = 60_000.0;
/// Age of the oldest record Firehose still holds above which analytics
/// delivery counts as failing, seconds: three buffer intervals (300 s each).
pub const FIREHOSE_FRESHNESS_SECONDS: f64 = 900.0;

/// The alarms and the dashboard.
#[derive(Debug, Clone)]
pub struct Monitoring {
    /// Every alarm, in the order added.
    pub alarms: Vec<LogicalId>,
    /// `OrderDashboard` (`Ref` = dashboard name).
    pub dashboard: LogicalId,
}

/// Name of a county's dashboard.
pub fn dashboard_name(county: &str) -> String {
    format!("acme-orders-{county}")
}

/// Name of one of a county's alarms: `acme-<county>-<what>`. Every alarm of
/// the county is named so, which is what `alarm_arn_pattern` relies on.
pub fn alarm_name(county: &str, what: &str) -> String {
    format!("acme-{county}-{what}")
}

/// `arn:<partition>:cloudwatch:<region>:<account>:alarm:acme-<county>-*`:
/// the `aws:SourceArn` of every alarm of the county, for the key and topic
/// policies that let CloudWatch notify through the encrypted topic.
pub(crate) fn alarm_arn_pattern(county: &str) -> Expr {
    Expr::sub(format!(
        "arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:{}",
        alarm_name(county, "*")
    ))
}

struct AlarmSpec {
    id: String,
    name: String,
    description: String,
    metric: Source,
    evaluation_periods: u32,
    datapoints_to_alarm: u32,
    threshold: f64,
    comparison: &'static str,
    missing: &'static str,
}

enum Source {
    Single(SingleMetric),
    /// Metric math: the sum of these metrics (same statistic and period).
    Sum(Vec<Metric>, &'static str, u32),
}

pub(crate) fn add(cx: &mut Ctx<'_>, r: &Refs) -> Result<Monitoring, TemplateError> {
    let county = cx.cfg.id.clone();
    let alarm_name = |what: &str| alarm_name(&county, what);
    let mut specs = Vec::new();

    // Dead-letter queues: each message is an order (or an event, or a failed
    // invocation) that nobody processed. One is enough to page.
    let mut dlqs = vec![(
        &r.order_dlq,
        "OrderDlqDepthAlarm",
        "order-dlq-depth",
        "Orders in the order dead-letter queue: the worker gave up on them. Inspect, fix, then redrive to the order queue.",
    )];
    dlqs.push((
        &r.functions.dead_letter_queue,
        "FunctionDlqDepthAlarm",
        "function-dlq-depth",
        "Failed asynchronous function invocations in the function dead-letter queue.",
    ));
    if let Some(q) = &r.functions.publisher_failure_queue {
        dlqs.push((
            q,
            "PublisherFailureDepthAlarm",
            "publisher-failures",
            "Stream batches the publisher gave up on: order events were not published. Replay them from the failure records.",
        ));
    }
    if let Some(q) = &r.functions.legacy_sync_failure_queue {
        dlqs.push((
            q,
            "LegacySyncFailureDepthAlarm",
            "legacy-sync-failures",
            "Orders legacy-sync could not write to the legacy database (each message names the order and the reason), or batches it gave up on: legacy reports miss them. Fix, then replay.",
        ));
    }
    for (queue, id, what, description) in dlqs {
        specs.push(AlarmSpec {
            id: id.into(),
            name: alarm_name(what),
            description: description.into(),
            metric: Source::Single(SingleMetric {
                namespace: "AWS/SQS",
                metric_name: "ApproximateNumberOfMessagesVisible",
                dimensions: vec![Dimension::new("QueueName", queue.att("QueueName"))],
                statistic: Some("Maximum"),
                extended_statistic: None,
                period: 60,
            }),
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            threshold: 0.0,
            comparison: "GreaterThanThreshold",
            // SQS stops reporting a queue that is empty and idle: no data
            // means no messages.
            missing: "notBreaching",
        });
    }

    // Errors and throttles of the asynchronous functions. The API
    // function's errors surface as API 5XX below, with the customer's view.
    let retried = "failed batches are retried, but repeated {what} end in a dead-letter queue.";
    // The sweeper fails a run that left an order unsettled (after settling
    // the rest): a stuck order or held stock stays until a run succeeds.
    let swept = "orders stay stuck or stock stays held until a run succeeds; see its log group.";
    let mut consumers = vec![
        (&r.functions.worker.function, "OrderWorker", retried),
        (&r.functions.publisher.function, "StreamPublisher", retried),
        (&r.functions.sweeper.function, "OrderSweeper", swept),
    ];
    consumers.extend(
        r.functions
            .legacy_sync
            .as_ref()
            .map(|f| (&f.function, "LegacySync", retried)),
    );
    for (f, label, consequence) in consumers {
        for (metric, what) in [("Errors", "errors"), ("Throttles", "throttles")] {
            specs.push(AlarmSpec {
                id: format!("{label}{metric}Alarm"),
                name: alarm_name(&format!("{}-{what}", kebab(label))),
                description: format!(
                    "{label} function {what} in the last 5 minutes: {}",
                    consequence.replace("{what}", what)
                ),
                metric: Source::Single(SingleMetric {
                    namespace: "AWS/Lambda",
                    metric_name: metric,
                    dimensions: vec![Dimension::new("FunctionName", f.r#ref())],
                    statistic: Some("Sum"),
                    extended_statistic: None,
                    period: 300,
                }),
                evaluation_periods: 1,
                datapoints_to_alarm: 1,
                threshold: 0.0,
                comparison: "GreaterThanThreshold",
                // Emitted only while the function is invoked: an idle
                // function has no errors.
                missing: "notBreaching",
            });
        }
    }

    if cx.cfg.streams_enabled {
        specs.push(AlarmSpec {
            id: "StreamPublisherIteratorAgeAlarm".into(),
            name: alarm_name("stream-publisher-iterator-age"),
            description: "The publisher is more than a minute behind the OrderById stream: order events and notifications are late.".into(),
            metric: Source::Single(SingleMetric {
                namespace: "AWS/Lambda",
                metric_name: "IteratorAge",
                dimensions: vec![Dimension::new(
                    "FunctionName",
                    r.functions.publisher.function.r#ref(),
                )],
                statistic: Some("Maximum"),
                extended_statistic: None,
                period: 60,
            }),
            evaluation_periods: 5,
            datapoints_to_alarm: 5,
            threshold: ITERATOR_AGE_MS,
            comparison: "GreaterThanThreshold",
            missing: "ignore",
        });
    }

    if let Some(f) = &r.functions.legacy_sync {
        specs.push(AlarmSpec {
            id: "LegacySyncIteratorAgeAlarm".into(),
            name: alarm_name("legacy-sync-iterator-age"),
            description: "legacy-sync is more than a minute behind the OrderById stream: the legacy tables (reports, fulfilment) are late; is the legacy database reachable?".into(),
            metric: Source::Single(SingleMetric {
                namespace: "AWS/Lambda",
                metric_name: "IteratorAge",
                dimensions: vec![Dimension::new("FunctionName", f.function.r#ref())],
                statistic: Some("Maximum"),
                extended_statistic: None,
                period: 60,
            }),
            evaluation_periods: 5,
            datapoints_to_alarm: 5,
            threshold: ITERATOR_AGE_MS,
            comparison: "GreaterThanThreshold",
            missing: "ignore",
        });
    }

    // The API as customers see it. Dimensions: ApiName + Stage (REST APIs
    // have no ApiId dimension), so the name is read from the RestApi itself.
    let api_name = super::api::api_name(&county);
    let api_dims = || {
        vec![
            Dimension::new("ApiName", api_name.clone()),
            Dimension::new("Stage", r.front_door.stage_name),
        ]
    };
    specs.push(AlarmSpec {
        id: "OrderApi5xxAlarm".into(),
        name: alarm_name("api-5xx"),
        description: format!(
            "More than {}% of order API requests failed with a 5XX in two of the last three 5-minute periods.",
            API_5XX_RATE * 100.0
        ),
        metric: Source::Single(SingleMetric {
            namespace: "AWS/ApiGateway",
            metric_name: "5XXError",
            dimensions: api_dims(),
            // The average of a 0/1 metric is the error rate.
            statistic: Some("Average"),
            extended_statistic: None,
            period: 300,
        }),
        evaluation_periods: 3,
        datapoints_to_alarm: 2,
        threshold: API_5XX_RATE,
        comparison: "GreaterThanThreshold",
        // No requests, no errors.
        missing: "notBreaching",
    });
    specs.push(AlarmSpec {
        id: "OrderApiLatencyAlarm".into(),
        name: alarm_name("api-p99-latency"),
        description: format!("Order API p99 latency over {API_P99_LATENCY_MS} ms for 15 minutes."),
        metric: Source::Single(SingleMetric {
            namespace: "AWS/ApiGateway",
            metric_name: "Latency",
            dimensions: api_dims(),
            statistic: None,
            extended_statistic: Some("p99"),
            period: 300,
        }),
        evaluation_periods: 3,
        datapoints_to_alarm: 3,
        threshold: API_P99_LATENCY_MS,
        comparison: "GreaterThanThreshold",
        missing: "notBreaching",
    });

    // Throttled reads plus writes per table, one alarm each: DynamoDB
    // reports these only when a request was throttled.
    for table in [
        &r.orders,
        &r.order_by_id,
        &r.inventory,
        &r.idempotency,
        &r.pii.table,
    ] {
        let metric = |name| Metric {
            namespace: "AWS/DynamoDB",
            metric_name: name,
            dimensions: vec![Dimension::new("TableName", table.r#ref())],
        };
        specs.push(AlarmSpec {
            id: format!("{table}ThrottleAlarm"),
            name: alarm_name(&format!("{}-throttles", kebab(table.as_str()))),
            description: format!(
                "Requests to {table} were throttled in the last 5 minutes: raise capacity (provisioned) or check for a hot key."
            ),
            metric: Source::Sum(
                vec![metric("ReadThrottleEvents"), metric("WriteThrottleEvents")],
                "Sum",
                300,
            ),
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            threshold: 0.0,
            comparison: "GreaterThanThreshold",
            missing: "notBreaching",
        });
    }

    specs.push(AlarmSpec {
        id: "OrderApiWafBlockedAlarm".into(),
        name: alarm_name("waf-blocked-spike"),
        description: format!(
            "WAF blocked more than {WAF_BLOCKED_PER_5_MINUTES} requests to the order API in 5 minutes: a scraper or an attack. Check the WAF log group."
        ),
        metric: Source::Single(SingleMetric {
            namespace: "AWS/WAFV2",
            metric_name: "BlockedRequests",
            dimensions: vec![
                Dimension::new("WebACL", super::api::WEB_ACL_METRIC),
                Dimension::new("Rule", "ALL"),
                Dimension::new("Region", Expr::region()),
            ],
            statistic: Some("Sum"),
            extended_statistic: None,
            period: 300,
        }),
        evaluation_periods: 1,
        datapoints_to_alarm: 1,
        threshold: WAF_BLOCKED_PER_5_MINUTES,
        comparison: "GreaterThanThreshold",
        // WAF emits BlockedRequests only when it blocks something.
        missing: "notBreaching",
    });

    // Analytics falling behind: Firehose cannot write (key, role or bucket
    // policy broken). EventBridge retries for a day, then only the bus
    // archive still has the events, so this must be noticed within hours.
    specs.push(AlarmSpec {
        id: "AnalyticsDeliveryFreshnessAlarm".into(),
        name: alarm_name("analytics-delivery-freshness"),
        description: format!(
            "The oldest order event waiting in Firehose is over {} minutes old: delivery to the analytics bucket is failing. Check the delivery log group.",
            FIREHOSE_FRESHNESS_SECONDS / 60.0
        ),
        metric: Source::Single(SingleMetric {
            namespace: "AWS/Firehose",
            metric_name: "DeliveryToS3.DataFreshness",
            dimensions: vec![Dimension::new(
                "DeliveryStreamName",
                r.analytics.delivery_stream.r#ref(),
            )],
            statistic: Some("Maximum"),
            extended_statistic: None,
            period: 300,
        }),
        evaluation_periods: 3,
        datapoints_to_alarm: 3,
        threshold: FIREHOSE_FRESHNESS_SECONDS,
        comparison: "GreaterThanThreshold",
        // Emitted only while records flow; a stalled stream that still
        // receives records keeps reporting ever older data.
        missing: "notBreaching",
    });

    // Dangerous events in the county's trail (`audit_alarms.rs`): one
    // matching event in five minutes pages.
    for m in super::audit_alarms::monitors() {
        specs.push(AlarmSpec {
            id: format!("Audit{}Alarm", m.id),
            name: alarm_name(&format!("audit-{}", m.what)),
            description: m.description.into(),
            metric: Source::Single(SingleMetric {
                namespace: super::audit_alarms::METRIC_NAMESPACE,
                metric_name: m.metric,
                dimensions: vec![],
                statistic: Some("Sum"),
                extended_statistic: None,
                period: 300,
            }),
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            threshold: 1.0,
            comparison: "GreaterThanOrEqualToThreshold",
            // The metric exists only once an event matched: no data is
            // nothing dangerous happened.
            missing: "notBreaching",
        });
    }

    let topic = r.events.operations.r#ref();
    let mut alarms = Vec::with_capacity(specs.len());
    let mut alarm_names = Vec::with_capacity(specs.len());
    for s in specs {
        let id = LogicalId::new(s.id);
        let (metric, metrics) = match s.metric {
            Source::Single(m) => (Some(m), vec![]),
            Source::Sum(parts, stat, period) => {
                let ids = ["m1", "m2", "m3", "m4"];
                let mut queries: Vec<MetricDataQuery> = parts
                    .into_iter()
                    .zip(ids)
                    .map(|(metric, id)| MetricDataQuery {
                        id,
                        expression: None,
                        label: Some(metric.metric_name.to_owned()),
                        metric_stat: Some(MetricStat {
                            metric,
                            period,
                            stat,
                        }),
                        return_data: false,
                    })
                    .collect();
                let expression = queries.iter().map(|q| q.id).collect::<Vec<_>>().join(" + ");
                queries.push(MetricDataQuery {
                    id: "total",
                    expression: Some(expression),
                    label: Some("Total".into()),
                    metric_stat: None,
                    return_data: true,
                });
                (None, queries)
            }
        };
        alarm_names.push(s.name.clone());
        cx.t.add_resource(
            &id,
            Alarm {
                alarm_name: s.name,
                alarm_description: s.description,
                metric,
                metrics,
                evaluation_periods: s.evaluation_periods,
                datapoints_to_alarm: s.datapoints_to_alarm,
                threshold: s.threshold,
                comparison_operator: s.comparison,
                treat_missing_data: s.missing,
                alarm_actions: vec![topic.clone()],
                ok_actions: vec![topic.clone()],
            },
        )?;
        alarms.push(id);
    }

    let dashboard = LogicalId::new("OrderDashboard");
    let body =
        render_dashboard(&dashboard_context(cx, r, &api_name, &alarm_names)).map_err(|e| {
            TemplateError::Serialize {
                id: dashboard.to_string(),
                message: e.to_string(),
            }
        })?;
    let mut res = Res::new(
        &dashboard,
        Dashboard {
            dashboard_name: dashboard_name(&cx.cfg.id),
            dashboard_body: Expr::sub(body),
        },
    )?;
    for a in &alarms {
        res = res.depends_on(a);
    }
    cx.t.add(res)?;
    Ok(Monitoring { alarms, dashboard })
}

/// `OrderWorker` → `order-worker`.
fn kebab(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

// ---- the dashboard ----------------------------------------------------------
//
// Function, table and queue names are generated by CloudFormation, so they are
// unknown when the body is rendered. The template is therefore rendered with
// `Fn::Sub` placeholders instead of names — `${OrderWorkerFunction}`,
// `${OrderQueue.QueueName}`, `${AWS::Region}` — and the whole body becomes one
// `Fn::Sub`, which CloudFormation resolves at deploy time. Literal text that
// could contain `${` (the county's name) is escaped to `${!` so Fn::Sub leaves
// it alone. The rendered text is parsed back as JSON before it is used, so a
// template that renders invalid JSON fails the synth, not the deploy.

/// What the dashboard template sees.
#[derive(Debug, Clone, Serialize)]
pub struct DashboardContext {
    pub county_id: String,
    pub county_name: String,
    pub region: String,
    pub api_name: String,
    pub stage: String,
    pub web_acl_metric: String,
    pub functions: Vec<Named>,
    /// Stream consumer, for the iterator age widget; absent when streams are off.
    pub publisher: Option<String>,
    pub tables: Vec<Named>,
    pub order_queue: String,
    pub dead_letter_queues: Vec<Named>,
    pub delivery_stream: String,
    pub workgroup: String,
    pub alarm_arns: Vec<String>,
}

/// A label and a (placeholder) name.
#[derive(Debug, Clone, Serialize)]
pub struct Named {
    pub label: String,
    pub name: String,
}

/// `${Id}`: the resource's `Ref`, for Fn::Sub.
fn placeholder(id: &LogicalId) -> String {
    format!("${{{id}}}")
}

/// `${Id.Attr}`: a `Fn::GetAtt`, for Fn::Sub.
fn placeholder_att(id: &LogicalId, attr: &str) -> String {
    format!("${{{id}.{attr}}}")
}

/// Literal text made safe for Fn::Sub.
fn sub_literal(s: &str) -> String {
    s.replace("${", "${!")
}

fn dashboard_context(
    cx: &Ctx<'_>,
    r: &Refs,
    api_name: &str,
    alarm_names: &[String],
) -> DashboardContext {
    let named = |label: &str, name: String| Named {
        label: sub_literal(label),
        name,
    };
    let f = &r.functions;
    let mut dlqs = vec![
        named("Order DLQ", placeholder_att(&r.order_dlq, "QueueName")),
        named(
            "Function DLQ",
            placeholder_att(&f.dead_letter_queue, "QueueName"),
        ),
    ];
    if let Some(q) = &f.publisher_failure_queue {
        dlqs.push(named("Publisher failures", placeholder_att(q, "QueueName")));
    }
    DashboardContext {
        county_id: sub_literal(&cx.cfg.id),
        county_name: sub_literal(&cx.cfg.name),
        region: "${AWS::Region}".into(),
        api_name: sub_literal(api_name),
        stage: sub_literal(r.front_door.stage_name),
        web_acl_metric: sub_literal(super::api::WEB_ACL_METRIC),
        functions: vec![
            named("order-api", placeholder(&f.api.function)),
            named("order-worker", placeholder(&f.worker.function)),
            named("stream-publisher", placeholder(&f.publisher.function)),
            named("order-sweeper", placeholder(&f.sweeper.function)),
        ],
        publisher: cx
            .cfg
            .streams_enabled
            .then(|| placeholder(&f.publisher.function)),
        tables: [
            (&r.orders, "Orders"),
            (&r.order_by_id, "OrderById"),
            (&r.inventory, "Inventory"),
            (&r.idempotency, "Idempotency"),
            (&r.pii.table, "Customers"),
        ]
        .into_iter()
        .map(|(t, label)| named(label, placeholder(t)))
        .collect(),
        order_queue: placeholder_att(&r.order_queue, "QueueName"),
        dead_letter_queues: dlqs,
        delivery_stream: sub_literal(&super::analytics::stream_name(&cx.cfg.id)),
        workgroup: placeholder(&r.analytics.workgroup),
        // Alarm ARNs follow from the names we give the alarms; spelled out
        // rather than taken with `Fn::GetAtt`, which the local emulator cannot
        // resolve for alarms. The dashboard depends on every alarm instead.
        alarm_arns: alarm_names
            .iter()
            .map(|name| {
                format!(
                    "arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:{}",
                    sub_literal(name)
                )
            })
            .collect(),
    }
}

/// Why a dashboard body could not be produced. Both variants name the
/// template and a line.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("{name}:{line}: {message}")]
    Render {
        name: String,
        line: usize,
        message: String,
    },
    #[error(
        "{name} rendered invalid JSON at line {line}, column {column} of its output: {message}\n  {line} | {text}"
    )]
    Json {
        name: String,
        line: usize,
        column: usize,
        message: String,
        text: String,
    },
}

/// Renders the dashboard template and returns the body as compact JSON text.
pub fn render_dashboard(ctx: &DashboardContext) -> Result<String, DashboardError> {
    render_json(DASHBOARD_TEMPLATE_NAME, DASHBOARD_TEMPLATE, ctx)
}

/// Renders a `.json.j2` template strictly and parses the result back.
pub(crate) fn render_json<S: Serialize>(
    name: &str,
    source: &str,
    ctx: &S,
) -> Result<String, DashboardError> {
    let render_error = |e: minijinja::Error| DashboardError::Render {
        name: e.name().unwrap_or(name).to_owned(),
        line: e.line().unwrap_or(0),
        message: e
            .detail()
            .map_or_else(|| e.kind().to_string(), str::to_owned),
    };
    let context = serde_json::to_value(ctx).unwrap_or_default();
    let mut env = Environment::new();
    // A misspelt variable must fail the synth, not render as an empty string.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_template(name, source).map_err(render_error)?;
    let text = env
        .get_template(name)
        .and_then(|t| t.render(to_template_value(&context)))
        .map_err(render_error)?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| DashboardError::Json {
            name: name.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
            text: text
                .lines()
                .nth(e.line().saturating_sub(1))
                .unwrap_or_default()
                .to_owned(),
        })?;
    // Compact: the body counts against the template size limit.
    Ok(serde_json::to_string(&value).unwrap_or_default())
}

/// The JSON form of a context as a template value (the workspace builds
/// minijinja without its `serde` feature).
fn to_template_value(v: &serde_json::Value) -> minijinja::Value {
    use minijinja::Value;
    match v {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(f)) => Value::from(f),
            (None, None) => Value::from(n.to_string()),
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(a) => a.iter().map(to_template_value).collect(),
        serde_json::Value::Object(m) => {
            Value::from_pairs(m.iter().map(|(k, v)| (k.as_str(), to_template_value(v))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab_case_of_logical_ids() {
        assert_eq!(kebab("OrderWorker"), "order-worker");
        assert_eq!(kebab("OrderByIdTable"), "order-by-id-table");
    }

    #[test]
    fn a_template_that_renders_invalid_json_names_template_and_line() {
        let err = render_json(
            "t.json.j2",
            "{\n  \"a\": {{ x }},\n  \"b\": }\n",
            &serde_json::json!({"x": 1}),
        )
        .expect_err("invalid JSON");
        let msg = err.to_string();
        assert!(
            msg.starts_with("t.json.j2 rendered invalid JSON at line 3"),
            "{msg}"
        );
        assert!(msg.contains("3 |   \"b\": }"), "{msg}");
    }

    #[test]
    fn an_undefined_variable_is_an_error_with_the_line() {
        let err = render_json(
            "t.json.j2",
            "{\n\"a\": {{ missing.name }}\n}",
            &serde_json::json!({}),
        )
        .expect_err("strict undefined");
        let msg = err.to_string();
        assert!(msg.starts_with("t.json.j2:2: "), "{msg}");
    }

    #[test]
    fn values_are_json_escaped_and_output_is_compact() {
        let out = render_json(
            "t.json.j2",
            "{ \"title\": {{ name }} }",
            &serde_json::json!({"name": "A \"quoted\" name"}),
        )
        .expect("renders");
        assert_eq!(out, r#"{"title":"A \"quoted\" name"}"#);
        assert_eq!(sub_literal("${x}"), "${!x}");
    }
}

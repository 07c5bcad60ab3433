//! The front door: a REGIONAL REST API (`OrderApi`, stage `live`) proxying
//! every route to the order API function, behind a WAF web ACL.
//!
//! **Authorization is `AWS_IAM` on every method.** The API's only callers
//! are ACME's storefront services, which sign each request with SigV4 using
//! their own IAM roles; API Gateway verifies the signature and the caller's
//! `execute-api:Invoke` permission before the function runs. No keys or
//! tokens to issue, rotate or leak, and an unsigned request never reaches
//! Lambda. (End customers authenticate with the storefront, not with this API.)
//!
//! The routes are `acme_contract::routes::ROUTES`, the table the function's
//! router is built from too. Request validation happens where API Gateway
//! can do it: required query and path parameters on every method (as that
//! table says), and a JSON-schema model for the
//! `POST /orders` body (required fields, id patterns, `maxItems` from the
//! county's `max_line_items`). The function still validates everything —
//! including the 16 KB body limit — and reports all problems at once.
//!
//! **Bootstrap note.** Stage access and execution logging need the
//! account-wide API Gateway CloudWatch role (`AWS::ApiGateway::Account`). It
//! is a per-account, per-region singleton, so no county stack may own it (two
//! counties in one account would fight over it, and deleting one stack would
//! break the other's logging): it is set once per account and region, before
//! the first county deploys.
//!
//! WAF: a per-IP rate limit (`waf.rate_limit` requests per 5 minutes), then
//! AWS's IP reputation, known-bad-inputs and common rule groups, logged to a
//! KMS-encrypted `aws-waf-logs-` log group with the `Authorization` header
//! redacted.
//!
//! Body size: the common rule set's `SizeRestrictions_BODY` blocks bodies over
//! 8 KB, below the function's own 16 KB limit. A largest valid order (49
//! lines of 32-character SKUs) is about 3 KB, so the WAF limit binds first
//! only for bodies the function would refuse as malformed anyway.

use std::collections::BTreeMap;

use acme_contract::ids::{
    CLIENT_REQUEST_ID_MAX_LEN, CUSTOMER_ID_MAX_LEN, ID_PATTERN, SKU_MAX_LEN, STORE_ID_MAX_LEN,
};
use acme_contract::routes::{ROUTES, Route, Segment};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::cfn::resources::apigateway::{
    AccessLogSetting, Deployment, EndpointConfiguration, Integration, Method, MethodSetting, Model,
    RequestValidator, Resource, RestApi, Stage,
};
use crate::cfn::resources::lambda::Permission;
use crate::cfn::resources::logs::LogGroup;
use crate::cfn::resources::wafv2::{
    LoggingConfiguration, Rule, VisibilityConfig, WebAcl, WebAclAssociation,
};
use crate::cfn::{Expr, LogicalId, Res, TemplateError};

use super::{Ctx, FrontDoor, Functions};

/// The API's only stage.
/// The REST API's name: CloudWatch's API Gateway metrics are keyed by it.
pub fn api_name(county: &str) -> String {
    format!("acme-{county}-orders")
}

pub const STAGE_NAME: &str = "live";
/// CloudWatch metric name of the web ACL (WAF `AWS/WAFV2`, dimension `WebACL`).
pub const WEB_ACL_METRIC: &str = "OrderApiWebAcl";
/// CloudWatch metric name of the per-IP rate-based rule (dimension `Rule`).
pub const RATE_LIMIT_METRIC: &str = "RateLimit";
/// WAF sends logs only to CloudWatch log groups whose name starts with this.
pub const WAF_LOG_GROUP_PREFIX: &str = "aws-waf-logs-";
/// AWS managed rule groups on the web ACL, in priority order after the rate
/// rule. Web ACL capacity: 25 + 200 + 700 + 2 (rate rule) = 927 WCU, under
/// the 1,500 WCU a web ACL gets without extra charge.
pub const MANAGED_RULE_GROUPS: &[&str] = &[
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesCommonRuleSet",
];
/// API Gateway's integration timeout ceiling, which the county file's
/// `functions.api.timeout_seconds` may not pass either.
const MAX_INTEGRATION_TIMEOUT_MS: u32 = crate::config::API_TIMEOUT_SECONDS_MAX * 1000;
/// Compress responses of 1 KB or more (order lists) for clients that accept it.
const MINIMUM_COMPRESSION_BYTES: u32 = 1024;

/// The routes as `METHOD /path`, for tests and documentation.
pub fn routes() -> Vec<String> {
    ROUTES.iter().map(Route::describe).collect()
}

/// API Gateway's `RequestParameters` of a route: every path parameter
/// (required), and each query parameter with whether it is required.
pub fn request_parameters(route: &Route) -> BTreeMap<String, bool> {
    let path = route
        .path_params()
        .map(|name| (format!("method.request.path.{name}"), true));
    let query = route
        .query
        .iter()
        .map(|q| (format!("method.request.querystring.{}", q.name), q.required));
    path.chain(query).collect()
}

pub(crate) fn add(
    cx: &mut Ctx<'_>,
    key: &LogicalId,
    f: &Functions,
) -> Result<FrontDoor, TemplateError> {
    let api = LogicalId::new("OrderApi");
    cx.t.add_resource(
        &api,
        RestApi {
            name: api_name(&cx.cfg.id),
            description: format!("ACME order API of county {}", cx.cfg.id),
            // REGIONAL: the storefront services call from AWS regions, and a
            // regional endpoint is what a REGIONAL web ACL can protect.
            endpoint_configuration: EndpointConfiguration {
                types: vec!["REGIONAL"],
            },
            minimum_compression_size: Some(MINIMUM_COMPRESSION_BYTES),
            tags: cx.tags.clone(),
        },
    )?;

    let validator = LogicalId::new("OrderApiRequestValidator");
    cx.t.add_resource(
        &validator,
        RequestValidator {
            rest_api_id: api.r#ref(),
            name: "body-and-parameters".into(),
            validate_request_body: true,
            validate_request_parameters: true,
        },
    )?;
    let model = LogicalId::new("OrderApiPlaceOrderModel");
    let model_props = Model {
        rest_api_id: api.r#ref(),
        name: "PlaceOrder".into(),
        description: "Body of POST /orders".into(),
        content_type: "application/json",
        schema: place_order_schema(cx.cfg.max_line_items, cx.cfg.max_units_per_order),
    };
    // What a deployment serves: every method and the model. Hashing it into
    // the deployment's logical id makes CloudFormation create a new
    // deployment when the API changes; an unchanged id would keep serving
    // the old routes.
    let mut fingerprint = Sha256::new();
    fingerprint.update(serde_json::to_vec(&model_props).unwrap_or_default());
    cx.t.add_resource(&model, model_props)?;

    let function_arn = f.api.function.arn();
    let invoke_uri = Expr::sub_with(
        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn}/invocations",
        vec![("Fn", function_arn)],
    );
    let timeout_ms = (cx.cfg.functions.api.timeout_seconds * 1000).min(MAX_INTEGRATION_TIMEOUT_MS);

    let mut resources: BTreeMap<String, LogicalId> = BTreeMap::new();
    let mut methods = Vec::new();
    for route in ROUTES {
        let resource = ensure_resource(cx, &api, &mut resources, route)?;
        let method = Method {
            rest_api_id: api.r#ref(),
            resource_id: resource,
            http_method: route.method.as_str(),
            // SigV4 from the storefront services' IAM roles (module doc).
            authorization_type: "AWS_IAM",
            operation_name: route.operation.name().to_owned(),
            request_validator_id: validator.r#ref(),
            request_parameters: request_parameters(route),
            request_models: if route.body_model {
                BTreeMap::from([("application/json", model.r#ref())])
            } else {
                BTreeMap::new()
            },
            integration: Integration {
                kind: "AWS_PROXY",
                integration_http_method: "POST",
                uri: invoke_uri.clone(),
                timeout_in_millis: timeout_ms,
            },
        };
        fingerprint.update(serde_json::to_vec(&method).unwrap_or_default());
        let id = LogicalId::new(format!("OrderApi{}Method", route.operation.name()));
        cx.t.add_resource(&id, method)?;
        methods.push(id);
    }

    let digest = hex::encode(fingerprint.finalize());
    let deployment = LogicalId::new(format!("OrderApiDeployment{}", &digest[..12]));
    let mut res = Res::new(
        &deployment,
        Deployment {
            rest_api_id: api.r#ref(),
            description: format!("Order API routes {}", &digest[..12]),
        },
    )?;
    // A deployment snapshots the methods that exist when it is created.
    for m in &methods {
        res = res.depends_on(m);
    }
    cx.t.add(res)?;

    let access_logs = LogicalId::new("OrderApiAccessLogGroup");
    let execution_logs = LogicalId::new("OrderApiExecutionLogGroup");
    for (id, name) in [
        (
            &access_logs,
            Expr::lit(format!("/acme/{}/order-api-access", cx.cfg.id)),
        ),
        // API Gateway writes execution logs to this fixed name and would
        // create the group itself — unencrypted and kept forever — if it
        // did not exist first.
        (
            &execution_logs,
            Expr::sub_with(
                "API-Gateway-Execution-Logs_${Api}/${Stage}",
                vec![("Api", api.r#ref()), ("Stage", Expr::lit(STAGE_NAME))],
            ),
        ),
    ] {
        cx.t.add(
            Res::new(
                id,
                LogGroup {
                    log_group_name: name,
                    retention_in_days: cx.cfg.log_retention_days,
                    kms_key_id: key.arn(),
                    tags: cx.tags.clone(),
                },
            )?
            .retain(),
        )?;
    }

    let (rate, burst) = throttle(cx);
    let stage = LogicalId::new("OrderApiStage");
    cx.t.add(
        Res::new(
            &stage,
            Stage {
                rest_api_id: api.r#ref(),
                deployment_id: deployment.r#ref(),
                stage_name: STAGE_NAME,
                description: format!("Live order API of county {}", cx.cfg.id),
                tracing_enabled: true,
                access_log_setting: AccessLogSetting {
                    destination_arn: access_logs.arn(),
                    format: access_log_format(),
                },
                method_settings: vec![MethodSetting {
                    resource_path: "/*",
                    http_method: "*",
                    metrics_enabled: true,
                    // Full request/response logging would copy order bodies
                    // (customer ids, addresses via errors) into the logs.
                    data_trace_enabled: false,
                    logging_level: "ERROR",
                    throttling_rate_limit: rate,
                    throttling_burst_limit: burst,
                    caching_enabled: false,
                }],
                tags: cx.tags.clone(),
            },
        )?
        .depends_on(&execution_logs)
        .metadata(
            "checkov",
            json!({"skip": [
                {"id": "CKV_AWS_120", "comment": "No response cache: order status changes within seconds and every response is per caller"}
            ]}),
        ),
    )?;
    cx.t.guard_suppress(
        &stage,
        &crate::cfn::guard::Suppression {
            rule: "API_GW_CACHE_ENABLED_AND_ENCRYPTED",
            reason: "No response cache: order status changes within seconds and every response is per caller (docs/read-bursts.md says when a county would want one)",
        },
    )?;

    cx.t.add_resource(
        &LogicalId::new("OrderApiInvokePermission"),
        Permission {
            action: "lambda:InvokeFunction",
            function_name: f.api.function.arn(),
            principal: "apigateway.amazonaws.com",
            // Only this API's live stage, any method and path.
            source_arn: Expr::sub_with(
                "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/${Stage}/*",
                vec![("Api", api.r#ref()), ("Stage", Expr::lit(STAGE_NAME))],
            ),
            source_account: None,
        },
    )?;

    let (web_acl, waf_log_group) = add_waf(cx, key, &api, &stage)?;
    Ok(FrontDoor {
        rest_api: api,
        stage,
        stage_name: STAGE_NAME,
        access_log_group: access_logs,
        web_acl,
        waf_log_group,
    })
}

/// Creates (once) the API resources along the route's path and returns the
/// last one's id.
fn ensure_resource(
    cx: &mut Ctx<'_>,
    api: &LogicalId,
    known: &mut BTreeMap<String, LogicalId>,
    route: &Route,
) -> Result<Expr, TemplateError> {
    let mut parent = api.att("RootResourceId");
    let mut name = String::new();
    for seg in route.segments() {
        name.push_str(&pascal(seg));
        let id = match known.get(&name) {
            Some(id) => id.clone(),
            None => {
                let id = LogicalId::new(format!("OrderApi{name}Resource"));
                cx.t.add_resource(
                    &id,
                    Resource {
                        rest_api_id: api.r#ref(),
                        parent_id: parent.clone(),
                        path_part: seg.as_template(),
                    },
                )?;
                known.insert(name.clone(), id.clone());
                id
            }
        };
        parent = id.r#ref();
    }
    Ok(parent)
}

/// `orders` → `Orders`, `{order_id}` → `OrderId`.
fn pascal(seg: Segment) -> String {
    let (Segment::Literal(word) | Segment::Param(word)) = seg;
    word.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The `POST /orders` body (draft 4, API Gateway's dialect). Mirrors
/// `order_domain::service::accept`'s `PlaceOrderBody`, which denies unknown
/// fields.
pub fn place_order_schema(max_line_items: u32, max_units: u32) -> Value {
    let id = |max: usize| json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": ID_PATTERN});
    json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "PlaceOrder",
        "type": "object",
        "additionalProperties": false,
        "required": ["client_request_id", "customer_id", "store_id", "items"],
        "properties": {
            "client_request_id": id(CLIENT_REQUEST_ID_MAX_LEN),
            "customer_id": id(CUSTOMER_ID_MAX_LEN),
            "store_id": id(STORE_ID_MAX_LEN),
            "items": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_line_items,
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["sku", "quantity"],
                    "properties": {
                        "sku": id(SKU_MAX_LEN),
                        "quantity": {"type": "integer", "minimum": 1, "maximum": max_units}
                    }
                }
            }
        }
    })
}

/// One JSON object per request.
fn access_log_format() -> String {
    let fields = [
        ("requestId", "$context.requestId"),
        ("extendedRequestId", "$context.extendedRequestId"),
        ("ip", "$context.identity.sourceIp"),
        ("caller", "$context.identity.caller"),
        ("userArn", "$context.identity.userArn"),
        ("requestTime", "$context.requestTimeEpoch"),
        ("httpMethod", "$context.httpMethod"),
        ("resourcePath", "$context.resourcePath"),
        ("path", "$context.path"),
        ("protocol", "$context.protocol"),
        ("status", "$context.status"),
        ("responseLength", "$context.responseLength"),
        ("latency", "$context.responseLatency"),
        ("integrationLatency", "$context.integration.latency"),
        ("integrationStatus", "$context.integration.status"),
        ("wafStatus", "$context.waf.status"),
        ("errorMessage", "$context.error.message"),
        ("xrayTraceId", "$context.xrayTraceId"),
    ];
    let m: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    Value::Object(m).to_string()
}

/// Stage-wide throttling (all callers together): requests per second and
/// burst, from the county's `api` settings.
fn throttle(cx: &Ctx<'_>) -> (f64, u32) {
    (
        f64::from(cx.cfg.api.throttle_rate),
        cx.cfg.api.throttle_burst,
    )
}

fn add_waf(
    cx: &mut Ctx<'_>,
    key: &LogicalId,
    api: &LogicalId,
    stage: &LogicalId,
) -> Result<(LogicalId, LogicalId), TemplateError> {
    let mut rules = vec![Rule {
        name: RATE_LIMIT_METRIC.into(),
        priority: 0,
        action: Some(json!({"Block": {}})),
        override_action: None,
        statement: json!({"RateBasedStatement": {
            "Limit": cx.cfg.waf.rate_limit,
            "AggregateKeyType": "IP",
            "EvaluationWindowSec": 300
        }}),
        visibility_config: VisibilityConfig::metric(RATE_LIMIT_METRIC),
    }];
    for (i, group) in MANAGED_RULE_GROUPS.iter().enumerate() {
        rules.push(Rule {
            name: (*group).to_owned(),
            priority: u32::try_from(i + 1).unwrap_or(u32::MAX),
            action: None,
            // Keep the group's own actions (block).
            override_action: Some(json!({"None": {}})),
            statement: json!({"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": group}}),
            visibility_config: VisibilityConfig::metric(group),
        });
    }
    let acl = LogicalId::new("OrderApiWebAcl");
    cx.t.add_resource(
        &acl,
        WebAcl {
            name: format!("acme-{}-order-api", cx.cfg.id),
            description: format!("Protects the order API of county {}", cx.cfg.id),
            scope: "REGIONAL",
            default_action: json!({"Allow": {}}),
            rules,
            visibility_config: VisibilityConfig::metric(WEB_ACL_METRIC),
            tags: cx.tags.clone(),
        },
    )?;
    cx.t.add(Res::new(
        &LogicalId::new("OrderApiWebAclAssociation"),
        WebAclAssociation {
            resource_arn: Expr::sub_with(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/${Stage}",
                // The stage's `Ref` (its name) also orders the
                // association after the stage, which WAF needs.
                vec![("Api", api.r#ref()), ("Stage", stage.r#ref())],
            ),
            web_acl_arn: acl.arn(),
        },
    )?)?;

    let log_group = LogicalId::new("OrderApiWafLogGroup");
    let log_group_name = format!("{WAF_LOG_GROUP_PREFIX}acme-{}-order-api", cx.cfg.id);
    cx.t.add(
        Res::new(
            &log_group,
            LogGroup {
                log_group_name: Expr::lit(log_group_name.clone()),
                retention_in_days: cx.cfg.log_retention_days,
                kms_key_id: key.arn(),
                tags: cx.tags.clone(),
            },
        )?
        .retain(),
    )?;
    cx.t.add(
        Res::new(
            &LogicalId::new("OrderApiWafLogging"),
            LoggingConfiguration {
                resource_arn: acl.arn(),
                // WAF wants the log group ARN without the `:*` suffix that
                // the log group's `Arn` attribute carries.
                log_destination_configs: vec![Expr::sub(format!(
                    "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{log_group_name}"
                ))],
                // SigV4 signatures and credentials scopes stay out of the logs.
                redacted_fields: vec![json!({"SingleHeader": {"Name": "authorization"}})],
            },
        )?
        .depends_on(&log_group),
    )?;
    Ok((acl, log_group))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_become_logical_id_parts() {
        assert_eq!(pascal(Segment::Literal("orders")), "Orders");
        assert_eq!(pascal(Segment::Param("order_id")), "OrderId");
        assert_eq!(pascal(Segment::Param("customer_id")), "CustomerId");
    }

    #[test]
    fn access_log_lines_are_one_json_object() {
        let v: Value = serde_json::from_str(&access_log_format()).expect("JSON");
        assert_eq!(v["requestId"], "$context.requestId");
        assert_eq!(v["ip"], "$context.identity.sourceIp");
        assert_eq!(v["latency"], "$context.responseLatency");
    }

    #[test]
    fn the_body_model_bounds_lines_and_units() {
        let s = place_order_schema(25, 48);
        assert_eq!(s["properties"]["items"]["maxItems"], json!(25));
        assert_eq!(
            s["properties"]["items"]["items"]["properties"]["quantity"]["maximum"],
            json!(48)
        );
        assert_eq!(
            s["properties"]["customer_id"]["maxLength"],
            json!(CUSTOMER_ID_MAX_LEN)
        );
        assert_eq!(
            s["required"],
            json!(["client_request_id", "customer_id", "store_id", "items"])
        );
    }
}

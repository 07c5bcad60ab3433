//! Intent tests of the front door, the functions and the PII table, read from
//! the generated template of every sample county: what a reviewer would check
//! by hand, pinned so a later edit cannot quietly undo it.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use acme_contract::schema::env;
use acme_stacks::config::CountyConfig;
use acme_stacks::county::{api, functions, pii};
use acme_stacks::synth::{Format, synthesize};
use order_domain::rules::CountyRules;
use serde_json::{Value, json};

/// Each sample county with its generated template.
fn templates() -> Vec<(CountyConfig, Value)> {
    common::sample_counties()
        .into_iter()
        .map(|cfg| {
            let s = synthesize(&cfg, Format::Json).expect("synthesizes");
            let v: Value = serde_json::from_str(&s.body).expect("template is JSON");
            (cfg, v)
        })
        .collect()
}

fn resources<'a>(t: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    t["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => vec![],
        other => vec![other.clone()],
    }
}

fn get_att(id: &str, attr: &str) -> Value {
    json!({"Fn::GetAtt": [id, attr]})
}

const FUNCTIONS: [&str; 4] = ["OrderApi", "OrderWorker", "StreamPublisher", "OrderSweeper"];

/// The only actions each role may hold (the functions' code paths, see
/// `stacks/src/county/functions.rs`).
fn allowed_actions(prefix: &str) -> BTreeSet<&'static str> {
    let common = [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "sqs:SendMessage",
    ];
    let own: &[&str] = match prefix {
        "OrderApi" => &[
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
            "kms:Encrypt",
            // A migrating county's cutover mode (its one SSM parameter).
            "ssm:GetParameter",
        ],
        "OrderWorker" => &[
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ChangeMessageVisibility",
        ],
        "StreamPublisher" => &[
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:DescribeStream",
            "dynamodb:ListStreams",
            "events:PutEvents",
            "sns:Publish",
        ],
        // Releases (no reservation, no ConditionCheck) and re-enqueues.
        "OrderSweeper" => &[
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
        ],
        other => panic!("unknown function {other}"),
    };
    common.iter().chain(own).copied().collect()
}

/// Every identity-policy statement attached to a role: its inline policies
/// and any `AWS::IAM::RolePolicy` naming it.
fn role_statements(t: &Value, role: &str) -> Vec<Value> {
    let r = &t["Resources"][role];
    assert_eq!(r["Type"], "AWS::IAM::Role", "{role}");
    let mut out: Vec<Value> = as_list(&r["Properties"]["Policies"])
        .iter()
        .flat_map(|p| as_list(&p["PolicyDocument"]["Statement"]))
        .collect();
    for (_, p) in resources(t, "AWS::IAM::RolePolicy") {
        if p["Properties"]["RoleName"] == json!({"Ref": role}) {
            out.extend(as_list(&p["Properties"]["PolicyDocument"]["Statement"]));
        }
    }
    for (_, p) in resources(t, "AWS::IAM::Policy") {
        if as_list(&p["Properties"]["Roles"]).contains(&json!({"Ref": role})) {
            out.extend(as_list(&p["Properties"]["PolicyDocument"]["Statement"]));
        }
    }
    assert!(
        r["Properties"]["ManagedPolicyArns"].is_null(),
        "{role}: managed policies grant more than the function uses"
    );
    out
}

#[test]
fn every_method_is_signed_with_sigv4_and_every_route_exists() {
    for (cfg, t) in templates() {
        // Rebuild each method's path from the resource tree.
        let res: BTreeMap<&String, &Value> = resources(&t, "AWS::ApiGateway::Resource")
            .into_iter()
            .collect();
        let path_of = |r: &Value| -> String {
            let mut parts = Vec::new();
            let mut cur = r.clone();
            loop {
                match cur.get("Ref").and_then(Value::as_str) {
                    Some(id) => {
                        let node = res
                            .get(&id.to_owned())
                            .unwrap_or_else(|| panic!("{id} is a resource"));
                        parts.push(node["Properties"]["PathPart"].as_str().expect("part"));
                        cur = node["Properties"]["ParentId"].clone();
                    }
                    None => {
                        assert_eq!(cur, get_att("OrderApi", "RootResourceId"));
                        break;
                    }
                }
            }
            parts.reverse();
            format!("/{}", parts.join("/"))
        };
        let mut routes = BTreeSet::new();
        for (id, m) in resources(&t, "AWS::ApiGateway::Method") {
            let p = &m["Properties"];
            assert_eq!(p["AuthorizationType"], "AWS_IAM", "{}: {id}", cfg.id);
            assert_eq!(p["Integration"]["Type"], "AWS_PROXY", "{id}");
            let uri = serde_json::to_string(&p["Integration"]["Uri"]).expect("json");
            assert!(
                uri.contains("OrderApiFunction"),
                "{id} proxies the API function"
            );
            assert_eq!(
                p["RequestValidatorId"],
                json!({"Ref": "OrderApiRequestValidator"}),
                "{id}"
            );
            routes.insert(format!(
                "{} {}",
                p["HttpMethod"].as_str().expect("method"),
                path_of(&p["ResourceId"])
            ));
        }
        let expected: BTreeSet<String> = [
            "POST /orders",
            "GET /orders",
            "GET /orders/{order_id}",
            "POST /orders/{order_id}/cancel",
            "GET /customers/{customer_id}/orders",
            "GET /stores/{store_id}/orders",
            "GET /county/orders",
            "GET /orders/legacy/{legacy_order_id}",
            "PUT /customers/{customer_id}",
            "GET /customers/{customer_id}",
            "POST /orders/{order_id}/release",
            "POST /orders/{order_id}/reject",
            "POST /orders/{order_id}/fulfill",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        assert_eq!(routes, expected, "{}", cfg.id);
        assert_eq!(api::routes().into_iter().collect::<BTreeSet<_>>(), expected);

        // The body model bounds line items by the county's limit.
        let model = &t["Resources"]["OrderApiPlaceOrderModel"]["Properties"]["Schema"];
        assert_eq!(model["properties"]["items"]["maxItems"], cfg.max_line_items);
        assert_eq!(model["additionalProperties"], false);

        // The order API may be invoked by this API's live stage only (the
        // other permission lets the sweeper's schedule invoke the sweeper).
        let perms: Vec<_> = resources(&t, "AWS::Lambda::Permission")
            .into_iter()
            .filter(|(_, p)| p["Properties"]["Principal"] == "apigateway.amazonaws.com")
            .collect();
        assert_eq!(perms.len(), 1, "{}", cfg.id);
        let src = serde_json::to_string(&perms[0].1["Properties"]["SourceArn"]).expect("json");
        assert!(
            src.contains(":execute-api:") && src.contains("OrderApi"),
            "{src}"
        );

        let stage = &t["Resources"]["OrderApiStage"]["Properties"];
        assert_eq!(stage["StageName"], api::STAGE_NAME);
        assert_eq!(stage["TracingEnabled"], true);
        let ms = &stage["MethodSettings"][0];
        assert_eq!(ms["MetricsEnabled"], true);
        assert_eq!(ms["DataTraceEnabled"], false, "bodies stay out of logs");
        assert_eq!(
            ms["ThrottlingRateLimit"].as_f64(),
            Some(f64::from(cfg.api.throttle_rate))
        );
        assert_eq!(ms["ThrottlingBurstLimit"], cfg.api.throttle_burst);
        let format: Value = serde_json::from_str(
            stage["AccessLogSetting"]["Format"]
                .as_str()
                .expect("format"),
        )
        .expect("access log format is JSON");
        for k in ["requestId", "ip", "status", "latency"] {
            assert!(format.get(k).is_some(), "access log has {k}");
        }
    }
}

#[test]
fn the_web_acl_guards_the_stage_and_logs_to_an_aws_waf_logs_group() {
    for (cfg, t) in templates() {
        let acl = &t["Resources"]["OrderApiWebAcl"];
        assert_eq!(acl["Type"], "AWS::WAFv2::WebACL");
        let p = &acl["Properties"];
        assert_eq!(p["Scope"], "REGIONAL");
        assert_eq!(p["VisibilityConfig"]["MetricName"], api::WEB_ACL_METRIC);
        let rules = p["Rules"].as_array().expect("rules");
        let rate = rules
            .iter()
            .find(|r| r["Statement"].get("RateBasedStatement").is_some())
            .expect("a rate-based rule");
        assert_eq!(
            rate["VisibilityConfig"]["MetricName"],
            api::RATE_LIMIT_METRIC
        );
        assert_eq!(
            rate["Statement"]["RateBasedStatement"]["Limit"],
            cfg.waf.rate_limit
        );
        assert_eq!(
            rate["Statement"]["RateBasedStatement"]["AggregateKeyType"],
            "IP"
        );
        let groups: BTreeSet<&str> = rules
            .iter()
            .filter_map(|r| r["Statement"]["ManagedRuleGroupStatement"]["Name"].as_str())
            .collect();
        for g in api::MANAGED_RULE_GROUPS {
            assert!(groups.contains(g), "{}: {g}", cfg.id);
        }

        let assoc = resources(&t, "AWS::WAFv2::WebACLAssociation");
        assert_eq!(assoc.len(), 1);
        let a = assoc[0].1;
        assert_eq!(
            a["Properties"]["WebACLArn"],
            get_att("OrderApiWebAcl", "Arn")
        );
        let arn = &a["Properties"]["ResourceArn"]["Fn::Sub"];
        assert!(
            arn[0]
                .as_str()
                .expect("template")
                .contains("/restapis/${Api}/stages/${Stage}"),
            "{arn}"
        );
        assert_eq!(arn[1]["Api"], json!({"Ref": "OrderApi"}));
        assert_eq!(arn[1]["Stage"], json!({"Ref": "OrderApiStage"}));

        let logging = resources(&t, "AWS::WAFv2::LoggingConfiguration");
        assert_eq!(logging.len(), 1);
        let group = &t["Resources"]["OrderApiWafLogGroup"]["Properties"];
        let name = group["LogGroupName"].as_str().expect("literal name");
        assert!(name.starts_with(api::WAF_LOG_GROUP_PREFIX), "{name}");
        let dest = serde_json::to_string(&logging[0].1["Properties"]["LogDestinationConfigs"])
            .expect("json");
        assert!(dest.contains(name), "{dest}");
    }
}

#[test]
fn every_role_holds_only_its_functions_actions_on_named_resources() {
    for (cfg, t) in templates() {
        for prefix in FUNCTIONS {
            let role = format!("{prefix}Role");
            let allowed = allowed_actions(prefix);
            let own_logs = get_att(&format!("{prefix}LogGroup"), "Arn");
            let statements = role_statements(&t, &role);
            assert!(!statements.is_empty(), "{}: {role}", cfg.id);
            for s in &statements {
                assert_eq!(s["Effect"], "Allow", "{role}: {s}");
                let actions: Vec<String> = as_list(&s["Action"])
                    .iter()
                    .map(|a| a.as_str().expect("literal action").to_owned())
                    .collect();
                for a in &actions {
                    assert!(
                        !a.contains('*'),
                        "{}: {role} has wildcard action {a}",
                        cfg.id
                    );
                    assert!(
                        allowed.contains(a.as_str()),
                        "{}: {role} may not hold {a}",
                        cfg.id
                    );
                }
                let res = as_list(&s["Resource"]);
                assert!(!res.is_empty(), "{role}: {s}");
                if res.contains(&json!("*")) {
                    assert!(
                        actions
                            .iter()
                            .all(|a| functions::UNSCOPED_ACTIONS.contains(&a.as_str())),
                        "{}: {role} uses `*` for {actions:?}",
                        cfg.id
                    );
                }
                if actions.iter().any(|a| a.starts_with("logs:")) {
                    assert_eq!(
                        res,
                        vec![own_logs.clone()],
                        "{role}: logs only on its own group"
                    );
                }
                // The CloudFormation logical ids any resource refers to.
                let text = serde_json::to_string(&res).expect("json");
                if text.contains("CustomersKey") || text.contains("CustomersTable") {
                    assert_eq!(
                        prefix, "OrderApi",
                        "{}: {role} reaches customer PII",
                        cfg.id
                    );
                }
            }
        }
        // The worker can consume its queue, the publisher its stream.
        let worker = role_statements(&t, "OrderWorkerRole");
        assert!(worker.iter().any(
            |s| as_list(&s["Action"]).contains(&json!("sqs:ReceiveMessage"))
                && as_list(&s["Resource"]) == vec![get_att("OrderQueue", "Arn")]
        ));
        let publisher = role_statements(&t, "StreamPublisherRole");
        let reads_stream = publisher
            .iter()
            .any(|s| as_list(&s["Resource"]) == vec![get_att("OrderByIdTable", "StreamArn")]);
        assert_eq!(reads_stream, cfg.streams_enabled, "{}", cfg.id);
    }
}

#[test]
fn function_log_groups_keep_the_county_retention_on_the_county_key() {
    for (cfg, t) in templates() {
        for prefix in FUNCTIONS {
            let f = &t["Resources"][format!("{prefix}Function")];
            assert_eq!(f["Type"], "AWS::Lambda::Function");
            let group_id = format!("{prefix}LogGroup");
            assert_eq!(
                f["Properties"]["LoggingConfig"]["LogGroup"],
                json!({"Ref": group_id})
            );
            let g = &t["Resources"][&group_id];
            assert_eq!(g["Type"], "AWS::Logs::LogGroup");
            assert_eq!(g["Properties"]["RetentionInDays"], cfg.log_retention_days);
            assert_eq!(g["Properties"]["KmsKeyId"], get_att("CountyKey", "Arn"));
        }
        // So do the API's and WAF's groups: every log group of the stack but
        // the trail's copy, which is kept as long as the audit log itself.
        for (id, g) in resources(&t, "AWS::Logs::LogGroup") {
            let days = if id == "AuditTrailLogGroup" {
                acme_stacks::county::audit_alarms::retention_days(cfg.audit_retention_days)
            } else {
                cfg.log_retention_days
            };
            assert_eq!(g["Properties"]["RetentionInDays"], days, "{id}");
            assert!(
                g["Properties"]["KmsKeyId"].is_object(),
                "{id} is KMS-encrypted"
            );
        }
    }
}

#[test]
fn only_the_order_api_role_and_a_migration_role_may_use_the_customers_key() {
    let crypto = |a: &str| {
        [
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncrypt",
            "kms:GenerateDataKey",
        ]
        .iter()
        .any(|p| a.starts_with(p))
            || a == "kms:*"
    };
    for (cfg, t) in templates() {
        let key = &t["Resources"]["CustomersKey"];
        assert_eq!(key["Type"], "AWS::KMS::Key");
        assert_eq!(key["DeletionPolicy"], "Retain");
        assert_eq!(key["Properties"]["EnableKeyRotation"], true);
        let mut users = BTreeSet::new();
        for s in as_list(&key["Properties"]["KeyPolicy"]["Statement"]) {
            let actions: Vec<String> = as_list(&s["Action"])
                .iter()
                .map(|a| a.as_str().expect("action").to_owned())
                .collect();
            assert!(!actions.iter().any(|a| a == "kms:*"), "{}: {s}", cfg.id);
            if actions.iter().any(|a| crypto(a)) {
                users.insert(serde_json::to_string(&s["Principal"]).expect("json"));
                assert!(
                    s["Condition"]["StringEquals"]["kms:ViaService"].is_object(),
                    "use only through DynamoDB: {s}"
                );
            }
            if actions.iter().any(|a| a == "kms:CreateGrant") {
                assert_eq!(
                    s["Condition"]["Bool"]["kms:GrantIsForAWSResource"], true,
                    "grants only for AWS services: {s}"
                );
            }
        }
        // The order API, and the migration role only when the county file
        // asks for one (`migration:`).
        let user = |role: &str| {
            serde_json::to_string(&json!({"AWS": [get_att(role, "Arn")]})).expect("json")
        };
        let mut expected = BTreeSet::from([user("OrderApiRole")]);
        if cfg.migration.is_some() {
            expected.insert(user("MigrationRole"));
        }
        assert_eq!(users, expected, "{}", cfg.id);
        for a in pii::USE_ACTIONS {
            assert!(crypto(a));
        }

        let table = &t["Resources"]["CustomersTable"];
        let p = &table["Properties"];
        assert_eq!(table["DeletionPolicy"], "Retain");
        assert_eq!(
            p["SSESpecification"]["KMSMasterKeyId"],
            get_att("CustomersKey", "Arn")
        );
        assert_eq!(
            p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
            true
        );
        assert_eq!(p["DeletionProtectionEnabled"], true);
        assert_eq!(
            p["KeySchema"],
            json!([{"AttributeName": acme_contract::schema::customers::PK, "KeyType": "HASH"}])
        );
        // Only the order API knows where the PII is.
        for prefix in FUNCTIONS {
            let vars = &t["Resources"][format!("{prefix}Function")]["Properties"]["Environment"]["Variables"];
            assert_eq!(
                vars.get(env::CUSTOMERS_TABLE).is_some(),
                prefix == "OrderApi",
                "{}: {prefix}",
                cfg.id
            );
        }
    }
}

#[test]
fn functions_get_the_rules_the_domain_parses_and_code_from_hashed_assets() {
    for (cfg, t) in templates() {
        let assets = &t["Metadata"][functions::ASSETS_METADATA_KEY];
        let arch = match cfg.functions.architecture {
            acme_stacks::config::Architecture::Arm64 => "arm64",
            acme_stacks::config::Architecture::X86_64 => "x86_64",
        };
        for (prefix, crate_name) in [
            ("OrderApi", "order-api"),
            ("OrderWorker", "order-worker"),
            ("StreamPublisher", "stream-publisher"),
            ("OrderSweeper", "order-sweeper"),
        ] {
            let p = &t["Resources"][format!("{prefix}Function")]["Properties"];
            assert_eq!(p["Runtime"], "provided.al2023");
            assert_eq!(p["Handler"], "bootstrap");
            assert_eq!(p["Architectures"], json!([arch]));
            assert_eq!(p["TracingConfig"]["Mode"], "Active");
            assert_eq!(p["KmsKeyArn"], get_att("CountyKey", "Arn"));
            assert!(p["DeadLetterConfig"]["TargetArn"].is_object(), "{prefix}");
            let param = format!("{prefix}CodeKey");
            assert_eq!(
                p["Code"],
                json!({"S3Bucket": {"Ref": "AssetBucket"}, "S3Key": {"Ref": param}})
            );
            assert_eq!(
                t["Parameters"][&param]["AllowedPattern"],
                functions::ASSET_KEY_PATTERN
            );
            assert_eq!(
                assets[&param],
                json!({"function": crate_name, "architecture": arch})
            );
            let vars = &p["Environment"]["Variables"];
            for v in [
                env::COUNTY_ID,
                env::ORDERS_TABLE,
                env::ORDER_BY_ID_TABLE,
                env::INVENTORY_TABLE,
                env::IDEMPOTENCY_TABLE,
                env::ORDER_QUEUE_URL,
                env::EVENT_BUS_NAME,
                env::NOTIFICATIONS_TOPIC_ARN,
                env::COUNTY_RULES,
                env::GSI_WRITE_SHARDS,
            ] {
                assert!(vars.get(v).is_some(), "{}: {prefix} lacks {v}", cfg.id);
            }
            let rules = CountyRules::from_json(vars[env::COUNTY_RULES].as_str().expect("literal"))
                .unwrap_or_else(|e| panic!("{}: {e}", cfg.id));
            assert_eq!(rules.county_id.as_str(), cfg.id);
            assert_eq!(rules.max_line_items, cfg.max_line_items);
            assert_eq!(rules.max_units_per_order, cfg.max_units_per_order);
            assert_eq!(rules.gsi_write_shards, cfg.gsi_write_shards);
            assert_eq!(
                vars[env::GSI_WRITE_SHARDS],
                json!(cfg.gsi_write_shards.to_string())
            );
            assert_eq!(
                rules.sale_hours.monday.map(|w| w.open_minute),
                cfg.sale_hours.monday.map(|w| w.open_minute)
            );
        }
        // legacy-sync's bundle only where the county configures it.
        let legacy_sync = t["Resources"].get("LegacySyncFunction").is_some();
        assert_eq!(
            legacy_sync,
            cfg.migration
                .as_ref()
                .is_some_and(|m| m.legacy_sync.is_some()),
            "{}",
            cfg.id
        );
        if legacy_sync {
            assert_eq!(
                assets["LegacySyncCodeKey"],
                json!({"function": "legacy-sync", "architecture": arch})
            );
        }
        assert_eq!(
            assets.as_object().expect("assets").len(),
            functions::FUNCTION_CRATES.len() - 1 + usize::from(legacy_sync)
        );
    }
}

#[test]
fn event_sources_report_item_failures_and_keep_stream_order() {
    for (cfg, t) in templates() {
        let esms = resources(&t, "AWS::Lambda::EventSourceMapping");
        let worker = esms
            .iter()
            .find(|(_, m)| m["Properties"]["FunctionName"] == json!({"Ref": "OrderWorkerFunction"}))
            .expect("worker mapping")
            .1;
        let w = &worker["Properties"];
        assert_eq!(w["EventSourceArn"], get_att("OrderQueue", "Arn"));
        assert_eq!(w["BatchSize"], cfg.queue.batch_size);
        assert_eq!(
            w["FunctionResponseTypes"],
            json!(["ReportBatchItemFailures"])
        );
        assert_eq!(
            w["ScalingConfig"]["MaximumConcurrency"],
            cfg.queue.max_concurrency
        );

        let publisher = esms.iter().find(|(_, m)| {
            m["Properties"]["FunctionName"] == json!({"Ref": "StreamPublisherFunction"})
        });
        assert_eq!(publisher.is_some(), cfg.streams_enabled, "{}", cfg.id);
        if let Some((_, m)) = publisher {
            let p = &m["Properties"];
            assert_eq!(p["EventSourceArn"], get_att("OrderByIdTable", "StreamArn"));
            assert_eq!(p["StartingPosition"], "TRIM_HORIZON");
            assert_eq!(p["ParallelizationFactor"], 1);
            assert_eq!(p["BisectBatchOnFunctionError"], true);
            assert_eq!(
                p["FunctionResponseTypes"],
                json!(["ReportBatchItemFailures"])
            );
            assert_eq!(
                p["DestinationConfig"]["OnFailure"]["Destination"],
                get_att("PublisherFailureQueue", "Arn")
            );
            let q = &t["Resources"]["PublisherFailureQueue"]["Properties"];
            assert_eq!(q["KmsMasterKeyId"], get_att("CountyKey", "Arn"));
        }
    }
}

/// The sweeper runs on the county's schedule, only its rule may invoke it,
/// it learns the stuck threshold, and its role can release stock and
/// re-enqueue but not reserve, charge or read anything else.
#[test]
fn the_sweeper_runs_on_the_countys_schedule_with_a_least_privilege_role() {
    for (cfg, t) in templates() {
        let rule = &t["Resources"]["OrderSweeperSchedule"]["Properties"];
        let rate = cfg.sweeper.rate_minutes;
        let want = if rate == 1 {
            "rate(1 minute)".to_owned()
        } else {
            format!("rate({rate} minutes)")
        };
        assert_eq!(rule["ScheduleExpression"], want.as_str(), "{}", cfg.id);
        assert_eq!(rule["State"], "ENABLED");
        assert_eq!(
            rule["Targets"][0]["Arn"],
            get_att("OrderSweeperFunction", "Arn")
        );
        let perm = &t["Resources"]["OrderSweeperSchedulePermission"]["Properties"];
        assert_eq!(perm["Principal"], "events.amazonaws.com");
        assert_eq!(perm["SourceArn"], get_att("OrderSweeperSchedule", "Arn"));
        let vars =
            &t["Resources"]["OrderSweeperFunction"]["Properties"]["Environment"]["Variables"];
        assert_eq!(
            vars[env::STUCK_AFTER_SECONDS],
            json!((cfg.sweeper.stuck_after_minutes * 60).to_string())
        );
        let policy = &t["Resources"]["OrderSweeperRole"]["Properties"]["Policies"][0];
        let actions: BTreeSet<String> = policy["PolicyDocument"]["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .flat_map(|s| as_list(&s["Action"]))
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        for denied in ["sqs:ReceiveMessage", "dynamodb:Scan", "events:PutEvents"] {
            assert!(!actions.contains(denied), "{}: {denied}", cfg.id);
        }
        for needed in [
            "dynamodb:Query",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "sqs:SendMessage",
        ] {
            assert!(actions.contains(needed), "{}: {needed}", cfg.id);
        }
        for alarm in ["OrderSweeperErrorsAlarm", "OrderSweeperThrottlesAlarm"] {
            assert!(t["Resources"].get(alarm).is_some(), "{}: {alarm}", cfg.id);
        }
    }
}

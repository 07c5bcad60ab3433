//! The migration role (`migration:` in the county file): what
//! `acme-infra migrate backfill|verify|sync` runs as against a deployed
//! county. The operators named in the county file assume it; it may write and
//! read the four tables the migration touches (never Idempotency, which
//! legacy orders have no record in) and use both keys through DynamoDB.
//! Without the section none of this exists.
//!
//! The trust policy does not require MFA (`aws:MultiFactorAuthPresent`): a
//! backfill or sync often runs from CI or a container whose role session has
//! no MFA. Trust is narrowed instead to the exact principals listed, all in
//! the county's account (the config rejects others).

use acme_contract::migration::{CutoverMode, mode_parameter, parameter_path, shadow_metrics};

use crate::cfn::resources::iam::{InlinePolicy, Role};
use crate::cfn::resources::iam_policy::RolePolicy;
use crate::cfn::resources::ssm::Parameter;
use crate::cfn::{Expr, LogicalId, PolicyDocument, Principal, Statement, TemplateError, guard};
use crate::config::MigrationConfig;

use super::tables::Tables;
use super::{Ctx, Pii};

/// Logical id of the role (`Fn::GetAtt` Arn in the `MigrationRoleArn` output).
pub const ROLE: &str = "MigrationRole";

/// `dynamodb:BatchWriteItem` is the backfill (`migrate/src/write.rs`);
/// `GetItem` and `Query` (Orders' county index) are verify and the sync's
/// version checks; `PutItem` and `DeleteItem` are the sync's conditional
/// writes (`migrate/src/sync/apply.rs`).
const ORDER_TABLE_ACTIONS: &[&str] = &[
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
];

/// The Customers table: backfill writes profiles, verify reads them back,
/// the sync puts a changed customer's profile.
const CUSTOMERS_ACTIONS: &[&str] = &[
    "dynamodb:BatchWriteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
];

/// The role's logical id, when the county has a `migration:` section.
pub(crate) fn role(cfg: &crate::config::CountyConfig) -> Option<LogicalId> {
    cfg.migration.as_ref().map(|_| LogicalId::new(ROLE))
}

pub(crate) fn add(
    cx: &mut Ctx<'_>,
    m: &MigrationConfig,
    key: &LogicalId,
    t: &Tables,
    pii: &Pii,
) -> Result<LogicalId, TemplateError> {
    let role = LogicalId::new(ROLE);
    let operators = m.operators.iter().map(Expr::lit).collect();
    let tables = vec![t.orders.arn(), t.order_by_id.arn(), t.inventory.arn()];
    let statements = vec![
        Statement::allow(ORDER_TABLE_ACTIONS, tables).sid("OrderTables"),
        Statement::allow(
            &["dynamodb:Query"],
            vec![Expr::sub(format!("${{{}.Arn}}/index/*", t.orders))],
        )
        .sid("OrdersCountyIndex"),
        Statement::allow(&["kms:Decrypt", "kms:GenerateDataKey"], vec![key.arn()]).sid("CountyKey"),
        // `migrate` finds the table names in the county stack's outputs.
        Statement::allow(
            &["cloudformation:DescribeStacks"],
            vec![Expr::sub(format!(
                "arn:${{AWS::Partition}}:cloudformation:${{AWS::Region}}:${{AWS::AccountId}}:stack/{}/*",
                super::stack_name(&cx.cfg.id)
            ))],
        )
        .sid("ReadCountyStackOutputs"),
    ];
    cx.t.add_resource(
        &role,
        Role {
            description: format!(
                "Runs acme-infra migrate (backfill, verify, sync) for county {}",
                cx.cfg.id
            ),
            assume_role_policy_document: PolicyDocument::new(vec![
                Statement::assume_role(Principal::aws(operators)).sid("MigrationOperators"),
            ]),
            managed_policy_arns: vec![],
            policies: vec![InlinePolicy {
                policy_name: "Migration".into(),
                policy_document: PolicyDocument::new(statements),
            }],
            tags: cx.tags.clone(),
        },
    )?;
    cx.t.guard_suppress(&role, &guard::IAM_INLINE_POLICY)?;
    // Customer PII in a policy of its own: the Customers key policy names
    // this role, so a grant inside the role would be a dependency cycle.
    cx.t.add_resource(
        &LogicalId::new("MigrationCustomersPolicy"),
        RolePolicy {
            policy_name: "CustomersPii".into(),
            policy_document: PolicyDocument::new(vec![
                Statement::allow(CUSTOMERS_ACTIONS, vec![pii.table.arn()]).sid("CustomersTable"),
                Statement::allow(super::pii::USE_ACTIONS, vec![pii.key.arn()]).sid("CustomersKey"),
            ]),
            role_name: role.r#ref(),
        },
    )?;
    add_cutover_flag(cx, &role)?;
    Ok(role)
}

/// Logical id of the county's cutover flag (`AWS::SSM::Parameter`).
pub const MODE_PARAMETER: &str = "CutoverModeParameter";

/// The order API's share of the cutover flag (`functions.rs`): the env var
/// naming the parameter (`Ref`, so the function waits for it) and leave to
/// read that one parameter. `None` without a `migration:` section.
pub(crate) fn cutover_flag_reader(cfg: &crate::config::CountyConfig) -> Option<(Expr, Statement)> {
    cfg.migration.as_ref()?;
    let read = Statement::allow(&["ssm:GetParameter"], vec![parameter_arn(&cfg.id)])
        .sid("ReadCutoverMode");
    Some((LogicalId::new(MODE_PARAMETER).r#ref(), read))
}

/// `arn:…:parameter/acme/<county>/migration/mode` (the name's leading `/`
/// is the ARN's separator).
fn parameter_arn(county: &str) -> Expr {
    ssm_arn(&mode_parameter(county))
}

fn ssm_arn(name: &str) -> Expr {
    Expr::sub(format!(
        "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{name}"
    ))
}

/// The cutover flag, created in mode `legacy`, and the migration role's
/// policy for the cutover (`MigrationCutoverPolicy`, its own resource so
/// the role's inline policy stays free of wildcards): read and change the
/// county's migration parameters
/// (the mode: `migrate status|cutover`; the last verify's record:
/// `migrate verify`), read the shadow-read metrics the gate to `dynamo`
/// counts (`GetMetricStatistics` has no resource-level permissions), and
/// publish the sync's flagged legacy writes in the migration namespace only.
///
/// CloudFormation sets `Value` only when it creates the parameter or when a
/// property of it changes; its properties are fixed here (no tags either:
/// the county's tags change) so that a later deploy never puts a cut-over
/// county back to `legacy`.
fn add_cutover_flag(cx: &mut Ctx<'_>, role: &LogicalId) -> Result<(), TemplateError> {
    let cfg = cx.cfg;
    let names: Vec<&str> = CutoverMode::ALL.iter().map(|m| m.name()).collect();
    cx.t.add_resource(
        &LogicalId::new(MODE_PARAMETER),
        Parameter {
            name: mode_parameter(&cfg.id),
            kind: "String",
            value: CutoverMode::Legacy.name().into(),
            description: format!(
                "Cutover mode of county {}: changed by acme-infra migrate cutover only",
                cfg.id
            ),
            allowed_pattern: format!("^({})$", names.join("|")),
            tier: "Standard",
        },
    )?;
    let statements = vec![
        Statement::allow(
            &["ssm:GetParameter", "ssm:PutParameter"],
            vec![ssm_arn(&format!("{}*", parameter_path(&cfg.id)))],
        )
        .sid("CutoverModeAndVerifyRecord"),
        Statement::allow(&["cloudwatch:GetMetricStatistics"], vec![Expr::lit("*")])
            .sid("ShadowReadMetrics"),
        Statement::allow(&["cloudwatch:PutMetricData"], vec![Expr::lit("*")])
            .sid("FlaggedLegacyWrites")
            .when(
                "StringEquals",
                "cloudwatch:namespace",
                shadow_metrics::NAMESPACE,
            ),
    ];
    cx.t.add_resource(
        &LogicalId::new(CUTOVER_POLICY),
        RolePolicy {
            policy_name: "Cutover".into(),
            policy_document: PolicyDocument::new(statements),
            role_name: role.r#ref(),
        },
    )?;
    Ok(())
}

/// Logical id of the migration role's cutover policy.
pub const CUTOVER_POLICY: &str = "MigrationCutoverPolicy";

#[cfg(test)]
mod tests {
    #[test]
    fn the_flag_starts_legacy_and_only_the_api_and_the_role_reach_it() {
        let t = template(&travis());
        let r = &t["Resources"];
        let p = &r["CutoverModeParameter"]["Properties"];
        assert_eq!(r["CutoverModeParameter"]["Type"], "AWS::SSM::Parameter");
        assert_eq!(p["Name"], "/acme/travis-tx/migration/mode");
        assert_eq!(p["Value"], "legacy");
        assert_eq!(p["AllowedPattern"], "^(legacy|shadow|dynamo|retired)$");
        let api = &r["OrderApiFunction"]["Properties"]["Environment"]["Variables"];
        assert_eq!(
            api["ACME_CUTOVER_MODE_PARAMETER"],
            json!({"Ref": "CutoverModeParameter"})
        );
        let arn = json!({"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/acme/travis-tx/migration/mode"});
        let api_policy = r["OrderApiRole"]["Properties"]["Policies"].to_string();
        assert!(api_policy.contains("ReadCutoverMode"), "{api_policy}");
        assert!(api_policy.contains(&arn.to_string()), "{api_policy}");
        for f in ["OrderWorkerFunction", "StreamPublisherFunction"] {
            let vars = &r[f]["Properties"]["Environment"]["Variables"];
            assert!(vars.get("ACME_CUTOVER_MODE_PARAMETER").is_none(), "{f}");
        }
        let cutover = &r["MigrationCutoverPolicy"]["Properties"];
        assert_eq!(cutover["RoleName"], json!({"Ref": "MigrationRole"}));
        let s = cutover["PolicyDocument"]["Statement"]
            .as_array()
            .expect("statements");
        assert_eq!(
            sid(s, "CutoverModeAndVerifyRecord")["Resource"],
            json!([{"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/acme/travis-tx/migration/*"}])
        );
        assert_eq!(
            sid(s, "FlaggedLegacyWrites")["Condition"],
            json!({"StringEquals": {"cloudwatch:namespace": "ACME/Migration"}})
        );
    }

    use serde_json::{Value, json};

    use crate::config::{CountyConfig, Environments};

    fn travis() -> CountyConfig {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
        let envs = Environments::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        envs.load("travis-tx").unwrap_or_else(|e| panic!("{e}"))
    }

    fn template(cfg: &CountyConfig) -> Value {
        super::super::build(cfg).expect("builds").to_value()
    }

    fn key_statements(t: &Value) -> Vec<Value> {
        t["Resources"]["CustomersKey"]["Properties"]["KeyPolicy"]["Statement"]
            .as_array()
            .expect("statements")
            .clone()
    }

    fn sid<'a>(statements: &'a [Value], sid: &str) -> &'a Value {
        statements
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no statement {sid}"))
    }

    fn role_arn() -> Value {
        json!({"Fn::GetAtt": ["MigrationRole", "Arn"]})
    }

    #[test]
    fn the_migration_role_may_use_the_customers_key_on_the_order_apis_terms() {
        let cfg = travis();
        let operators = &cfg
            .migration
            .as_ref()
            .expect("travis-tx migrates")
            .operators;
        let t = template(&cfg);
        let r = &t["Resources"];

        // Trust: exactly the operators of the county file, AssumeRole only.
        let trust = &r["MigrationRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"];
        assert_eq!(trust.as_array().map(Vec::len), Some(1));
        assert_eq!(trust[0]["Action"], json!(["sts:AssumeRole"]));
        assert_eq!(trust[0]["Principal"]["AWS"], json!(operators));

        // Key policy: the role gets what OrderApiRole gets, with the same conditions.
        let key = key_statements(&t);
        let api = sid(&key, "OrderApiUsesKeyThroughDynamoDb");
        let migration = sid(&key, "MigrationUsesKeyThroughDynamoDb");
        assert_eq!(migration["Principal"]["AWS"], json!([role_arn()]));
        for field in ["Effect", "Action", "Resource", "Condition"] {
            assert_eq!(migration[field], api[field], "{field}");
        }
        assert_eq!(
            migration["Condition"]["StringEquals"]["kms:ViaService"]["Fn::Sub"],
            "dynamodb.${AWS::Region}.amazonaws.com"
        );

        // IAM side: the Customers table and key, attached to the role.
        let pii = &r["MigrationCustomersPolicy"]["Properties"];
        assert_eq!(pii["RoleName"], json!({"Ref": "MigrationRole"}));
        let pii = pii["PolicyDocument"]["Statement"]
            .as_array()
            .expect("statements");
        assert_eq!(
            sid(pii, "CustomersKey")["Resource"],
            json!([{"Fn::GetAtt": ["CustomersKey", "Arn"]}])
        );
        assert_eq!(
            sid(pii, "CustomersTable")["Action"],
            json!([
                "dynamodb:BatchWriteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem"
            ])
        );
        assert_eq!(t["Outputs"]["MigrationRoleArn"]["Value"], role_arn());
    }

    #[test]
    fn the_migration_role_names_its_tables_and_never_idempotency_or_a_wildcard() {
        let t = template(&travis());
        let inline = &t["Resources"]["MigrationRole"]["Properties"]["Policies"][0];
        let text = inline.to_string();
        assert!(!text.contains("IdempotencyTable"), "{text}");
        for s in inline["PolicyDocument"]["Statement"]
            .as_array()
            .expect("statements")
        {
            for resource in s["Resource"].as_array().expect("resources") {
                assert_ne!(resource, "*", "{s}");
            }
            for action in s["Action"].as_array().expect("actions") {
                assert!(!action.as_str().expect("action").contains('*'), "{s}");
            }
        }
    }

    #[test]
    fn without_the_section_there_is_no_role_and_the_key_policy_is_as_before() {
        let mut with = travis();
        // legacy-sync's own resources are the next test's.
        if let Some(m) = with.migration.as_mut() {
            m.legacy_sync = None;
        }
        let mut without = with.clone();
        without.migration = None;
        let (t_with, t_without) = (template(&with), template(&without));
        for id in ["MigrationRole", "MigrationCustomersPolicy"] {
            assert!(t_without["Resources"].get(id).is_none(), "{id}");
        }
        assert!(t_without["Outputs"].get("MigrationRoleArn").is_none());
        assert!(!t_without.to_string().contains("Migration"));

        let before = key_statements(&t_without);
        let sids: Vec<&str> = before.iter().filter_map(|s| s["Sid"].as_str()).collect();
        assert_eq!(
            sids,
            [
                "AccountAdministersKey",
                "DynamoDbGrantsForTheTable",
                "OrderApiUsesKeyThroughDynamoDb",
                "DynamoDbDescribesKey",
            ]
        );
        let mut after = key_statements(&t_with);
        after.retain(|s| s["Sid"] != "MigrationUsesKeyThroughDynamoDb");
        assert_eq!(after, before);
        // Nothing else differs between the two templates but the migration
        // parts: the role, its two policies and the cutover flag.
        let resources = |t: &Value| t["Resources"].as_object().expect("resources").len();
        // + the ShadowReads queues, their policy and alarms, and who may use them
        // (`shadow.rs`); + the cutover flag and the role's cutover policy.
        assert_eq!(resources(&t_with), resources(&t_without) + 2 + 7 + 2);
        assert!(t_without["Resources"].get("CutoverModeParameter").is_none());
        let api = &t_without["Resources"]["OrderApiFunction"]["Properties"];
        assert!(
            api["Environment"]["Variables"]
                .get("ACME_CUTOVER_MODE_PARAMETER")
                .is_none()
        );
    }

    #[test]
    fn legacy_sync_is_in_the_vpc_with_least_privilege_and_only_when_configured() {
        let with = travis();
        let ls = with
            .migration
            .as_ref()
            .and_then(|m| m.legacy_sync.clone())
            .expect("travis-tx has legacy_sync");
        let mut without = with.clone();
        if let Some(m) = without.migration.as_mut() {
            m.legacy_sync = None;
        }
        let (t_with, t_without) = (template(&with), template(&without));
        let ids = |t: &Value| -> Vec<String> {
            t["Resources"]
                .as_object()
                .expect("resources")
                .keys()
                .cloned()
                .collect()
        };
        let before = ids(&t_without);
        let mut added: Vec<String> = ids(&t_with)
            .into_iter()
            .filter(|id| !before.contains(id))
            .collect();
        added.sort();
        assert_eq!(
            added,
            [
                "LegacySyncErrorsAlarm",
                "LegacySyncFailureDepthAlarm",
                "LegacySyncFailureQueue",
                "LegacySyncFunction",
                "LegacySyncIteratorAgeAlarm",
                "LegacySyncLogGroup",
                "LegacySyncRole",
                "LegacySyncStreamSource",
                "LegacySyncThrottlesAlarm",
            ]
        );
        assert!(t_without["Parameters"].get("LegacySyncCodeKey").is_none());
        assert!(t_with["Parameters"].get("LegacySyncCodeKey").is_some());

        let r = &t_with["Resources"];
        let vpc = &r["LegacySyncFunction"]["Properties"]["VpcConfig"];
        assert_eq!(vpc["SubnetIds"], json!(ls.subnet_ids));
        assert_eq!(vpc["SecurityGroupIds"], json!([ls.security_group_id]));
        let role = &r["LegacySyncRole"]["Properties"];
        assert_eq!(
            role["ManagedPolicyArns"],
            json!([{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"}])
        );
        let statements = role["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .expect("statements")
            .clone();
        assert_eq!(
            sid(&statements, "LegacyDatabaseSecret")["Resource"],
            json!([ls.database_secret_arn])
        );
        assert_eq!(
            sid(&statements, "ReadOrderStream")["Resource"],
            json!([{"Fn::GetAtt": ["OrderByIdTable", "StreamArn"]}])
        );
        assert_eq!(
            sid(&statements, "FailureQueue")["Resource"],
            json!([{"Fn::GetAtt": ["LegacySyncFailureQueue", "Arn"]}])
        );
        // Nothing of the order tables, the bus or the topic.
        let text = serde_json::to_string(&statements).expect("json");
        for other in [
            "OrdersTable",
            "InventoryTable",
            "events:",
            "sns:",
            "dynamodb:PutItem",
        ] {
            assert!(!text.contains(other), "{other} in {text}");
        }
        let esm = &r["LegacySyncStreamSource"]["Properties"];
        assert_eq!(esm["BisectBatchOnFunctionError"], json!(true));
        assert_eq!(
            esm["FunctionResponseTypes"],
            json!(["ReportBatchItemFailures"])
        );
        assert_eq!(
            esm["DestinationConfig"]["OnFailure"]["Destination"],
            json!({"Fn::GetAtt": ["LegacySyncFailureQueue", "Arn"]})
        );
    }
}

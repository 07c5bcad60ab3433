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

use crate::cfn::resources::iam::{InlinePolicy, Role};
use crate::cfn::resources::iam_policy::RolePolicy;
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

/// The Customers table: backfill writes profiles, verify reads them back.
const CUSTOMERS_ACTIONS: &[&str] = &["dynamodb:BatchWriteItem", "dynamodb:GetItem"];

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
    Ok(role)
}

//! Customer PII — name, address, date of birth — lives only in the Customers
//! table; orders carry just the customer id. The table is on its own KMS key,
//! `CustomersKey`, whose key policy is the only place use of the key is
//! granted: to `OrderApiRole` (and, with a `migration:` section, to
//! `MigrationRole`, see migration.rs), through DynamoDB. The account root keeps
//! administration (so the key can never become unmanageable) but not use, so
//! no IAM policy in the account — not even an administrator's — can decrypt
//! the table by itself; granting that takes a key-policy change, which
//! CloudTrail records.

use crate::cfn::resources::dynamodb::SseSpecification;
use crate::cfn::resources::kms::{Alias, Key};
use crate::cfn::{Expr, LogicalId, PolicyDocument, Principal, Res, Statement, TemplateError};

use super::{Ctx, Pii};

/// Key administration without cryptographic use: no `Encrypt`, `Decrypt`,
/// `ReEncrypt*`, `GenerateDataKey*` or `CreateGrant` (a grant would hand out
/// use). KMS requires the key policy to let the account manage the key
/// (`PutKeyPolicy`), or key creation fails its lockout safety check.
pub const ADMIN_ACTIONS: &[&str] = &[
    "kms:CancelKeyDeletion",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
];

/// What the order API may do with the key, through DynamoDB only.
pub const USE_ACTIONS: &[&str] = &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"];

pub(crate) fn add(
    cx: &mut Ctx<'_>,
    api_role: &LogicalId,
    migration_role: Option<&LogicalId>,
) -> Result<Pii, TemplateError> {
    let key = LogicalId::new("CustomersKey");
    let spec = super::tables::customers();
    let table = spec.logical_id();
    let via_dynamodb = Expr::sub("dynamodb.${AWS::Region}.amazonaws.com");
    let account_root = Expr::sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root");
    let mut statements = vec![
        Statement::allow(ADMIN_ACTIONS, vec![Expr::lit("*")])
            .sid("AccountAdministersKey")
            .principal(Principal::aws(vec![account_root.clone()])),
        // Whoever deploys the stack creates the table; DynamoDB then creates
        // the grants it needs for background work (backups, PITR, TTL) as
        // that principal. Only grants DynamoDB itself asks for.
        Statement::allow(&["kms:CreateGrant"], vec![Expr::lit("*")])
            .sid("DynamoDbGrantsForTheTable")
            .principal(Principal::aws(vec![account_root]))
            .when("StringEquals", "kms:ViaService", via_dynamodb.clone())
            .when("Bool", "kms:GrantIsForAWSResource", true),
        // The only use of the key: the order API reading and writing customer
        // records, and only through DynamoDB.
        Statement::allow(USE_ACTIONS, vec![Expr::lit("*")])
            .sid("OrderApiUsesKeyThroughDynamoDb")
            .principal(Principal::aws(vec![api_role.arn()]))
            .when("StringEquals", "kms:ViaService", via_dynamodb.clone())
            .when("StringEquals", "kms:CallerAccount", Expr::account_id()),
        // DynamoDB reads the key's metadata (state, rotation) to report the
        // table's encryption status — metadata only, no cryptographic use,
        // as in the key policy AWS gives its own DynamoDB key.
        Statement::allow(&["kms:DescribeKey"], vec![Expr::lit("*")])
            .sid("DynamoDbDescribesKey")
            .principal(Principal::service("dynamodb.amazonaws.com")),
    ];
    // A migration writes and verifies the county's customer profiles: the
    // same use, on the same terms, for as long as the section is there.
    if let Some(role) = migration_role {
        statements.push(
            Statement::allow(USE_ACTIONS, vec![Expr::lit("*")])
                .sid("MigrationUsesKeyThroughDynamoDb")
                .principal(Principal::aws(vec![role.arn()]))
                .when("StringEquals", "kms:ViaService", via_dynamodb)
                .when("StringEquals", "kms:CallerAccount", Expr::account_id()),
        );
    }
    let policy = PolicyDocument::new(statements);
    cx.t.add(
        Res::new(
            &key,
            Key {
                description: format!("ACME customer PII for county {}", cx.cfg.id),
                enable_key_rotation: true,
                pending_window_in_days: 30,
                key_policy: policy,
                // Tagged through the stack's tags, like the county key (see keys.rs).
                tags: Vec::new(),
            },
        )?
        .retain(),
    )?;
    cx.t.add_resource(
        &LogicalId::new("CustomersKeyAlias"),
        Alias {
            alias_name: format!("alias/acme/{}/customers", cx.cfg.id),
            target_key_id: key.r#ref(),
        },
    )?;
    cx.t.add(
        Res::new(
            &table,
            // PII is restored with the rest of the county's data, whatever
            // the county's switch for the order tables says.
            spec.to_table(true, SseSpecification::kms(key.arn()), cx.tags.clone()),
        )?
        .retain(),
    )?;
    Ok(Pii { key, table })
}

//! The county's customer-managed KMS key: every table, queue and log group of
//! the county is encrypted with it, so revoking it (or auditing its use in
//! CloudTrail) covers the county's whole order data.

use crate::cfn::resources::kms::{Alias, Key};
use crate::cfn::{Expr, LogicalId, PolicyDocument, Principal, Res, Statement};

use super::Ctx;

pub(crate) fn add(cx: &mut Ctx<'_>) -> Result<LogicalId, crate::cfn::TemplateError> {
    let id = LogicalId::new("CountyKey");
    let account_root = Expr::sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root");
    let policy = PolicyDocument::new(vec![
        // The key policy delegates to IAM within the county's own account only: no
        // other account can be granted use of the key by an IAM policy alone.
        Statement::allow(&["kms:*"], vec![Expr::lit("*")])
            .sid("AccountAdministersKeyThroughIam")
            .principal(Principal::aws(vec![account_root])),
        // CloudWatch Logs encrypts the county's log groups with this key; it acts
        // as a service principal, so it needs its own grant, limited to log groups
        // of this account and region.
        Statement::allow(
            &[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            vec![Expr::lit("*")],
        )
        .sid("CloudWatchLogsUseKey")
        .principal(Principal::Typed(std::collections::BTreeMap::from([(
            "Service",
            vec![Expr::sub("logs.${AWS::Region}.amazonaws.com")],
        )])))
        .when(
            "ArnLike",
            "kms:EncryptionContext:aws:logs:arn",
            Expr::sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"),
        ),
        // Services that write to the county's encrypted resources on the
        // account's behalf: CloudWatch alarms publishing to the encrypted
        // operations topic, EventBridge encrypting events on the county bus.
        // Without this grant an alarm fires but its notification is silently
        // dropped. Limited to requests made for this account.
        Statement::allow(
            &["kms:Decrypt", "kms:GenerateDataKey*"],
            vec![Expr::lit("*")],
        )
        .sid("AwsServicesEncryptForThisAccount")
        .principal(Principal::Typed(std::collections::BTreeMap::from([(
            "Service",
            vec![
                Expr::lit("cloudwatch.amazonaws.com"),
                Expr::lit("events.amazonaws.com"),
            ],
        )])))
        .when("StringEquals", "aws:SourceAccount", Expr::account_id()),
        // The county's trail encrypts its log files with this key. CloudTrail
        // checks this grant when the trail is created; it is limited to that
        // one trail (`aws:SourceArn`) and to encryption contexts of this
        // account's trails. Reading the logs stays an IAM decision (above).
        Statement::allow(&["kms:GenerateDataKey*"], vec![Expr::lit("*")])
            .sid("CloudTrailEncryptLogs")
            .principal(Principal::service("cloudtrail.amazonaws.com"))
            .when(
                "StringEquals",
                "aws:SourceArn",
                super::audit::trail_arn(&cx.cfg.id),
            )
            .when("StringEquals", "aws:SourceAccount", Expr::account_id())
            .when(
                "StringLike",
                "kms:EncryptionContext:aws:cloudtrail:arn",
                Expr::sub("arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*"),
            ),
        Statement::allow(&["kms:DescribeKey"], vec![Expr::lit("*")])
            .sid("CloudTrailDescribeKey")
            .principal(Principal::service("cloudtrail.amazonaws.com"))
            .when(
                "StringEquals",
                "aws:SourceArn",
                super::audit::trail_arn(&cx.cfg.id),
            )
            .when("StringEquals", "aws:SourceAccount", Expr::account_id()),
    ]);
    cx.t.add(
        Res::new(
            &id,
            Key {
                description: format!("ACME order data for county {}", cx.cfg.id),
                enable_key_rotation: true,
                pending_window_in_days: 30,
                key_policy: policy,
                // Keys take their tags from the stack's tags, which CloudFormation
                // propagates to every taggable resource: the local emulator cannot
                // create a key with resource-level Tags, and the tags are the same.
                tags: Vec::new(),
            },
        )?
        .retain(),
    )?;
    cx.t.add_resource(
        &LogicalId::new("CountyKeyAlias"),
        Alias {
            alias_name: format!("alias/acme/{}", cx.cfg.id),
            target_key_id: id.r#ref(),
        },
    )?;
    Ok(id)
}

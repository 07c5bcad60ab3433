//! The optional DAX cluster in front of the county's tables: a subnet group, a
//! parameter group, a role DAX assumes to reach the tables, and the cluster.

use std::collections::BTreeMap;

use crate::cfn::resources::dax::{Cluster, ClusterSse, ParameterGroup, SubnetGroup};
use crate::cfn::resources::iam::{InlinePolicy, Role};
use crate::cfn::{Expr, LogicalId, PolicyDocument, Principal, Statement, TemplateError};
use crate::config::DaxConfig;

use super::Ctx;
use super::tables::Tables;

pub(crate) fn add(
    cx: &mut Ctx<'_>,
    d: &DaxConfig,
    tables: &Tables,
) -> Result<LogicalId, TemplateError> {
    let subnets = LogicalId::new("DaxSubnetGroup");
    cx.t.add_resource(
        &subnets,
        SubnetGroup {
            description: format!("DAX subnets for county {}", cx.cfg.id),
            subnet_ids: d.subnet_ids.clone(),
        },
    )?;
    let params = LogicalId::new("DaxParameterGroup");
    cx.t.add_resource(
        &params,
        ParameterGroup {
            description: format!("DAX cache settings for county {}", cx.cfg.id),
            // Order reads must see a status change quickly; stock reads go to the
            // table directly (transactions bypass DAX), so short TTLs cost little.
            parameter_name_values: BTreeMap::from([
                ("query-ttl-millis".to_owned(), "60000".to_owned()),
                ("record-ttl-millis".to_owned(), "60000".to_owned()),
            ]),
        },
    )?;
    let table_arns: Vec<Expr> = [&tables.orders, &tables.order_by_id, &tables.inventory]
        .into_iter()
        .flat_map(|t| [t.arn(), Expr::sub(format!("${{{t}.Arn}}/index/*"))])
        .collect();
    let role = LogicalId::new("DaxRole");
    cx.t.add_resource(
        &role,
        Role {
            description: format!(
                "Lets DAX read and write the order tables of county {}",
                cx.cfg.id
            ),
            assume_role_policy_document: PolicyDocument::new(vec![Statement::assume_role(
                Principal::service("dax.amazonaws.com"),
            )]),
            managed_policy_arns: vec![],
            policies: vec![InlinePolicy {
                policy_name: "OrderTables".into(),
                policy_document: PolicyDocument::new(vec![Statement::allow(
                    &[
                        "dynamodb:BatchGetItem",
                        "dynamodb:ConditionCheckItem",
                        "dynamodb:DescribeTable",
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:Query",
                        "dynamodb:UpdateItem",
                    ],
                    table_arns,
                )]),
            }],
            tags: cx.tags.clone(),
        },
    )?;
    let cluster = LogicalId::new("DaxCluster");
    cx.t.add_resource(
        &cluster,
        Cluster {
            description: format!("Read cache for county {}", cx.cfg.id),
            node_type: d.node_type.clone(),
            replication_factor: d.node_count,
            iam_role_arn: role.arn(),
            subnet_group_name: subnets.r#ref(),
            parameter_group_name: params.r#ref(),
            security_group_ids: d.security_group_ids.clone(),
            sse_specification: ClusterSse { sse_enabled: true },
            cluster_endpoint_encryption_type: "TLS",
            tags: cx
                .tags
                .iter()
                .map(|t| {
                    (
                        t.key.clone(),
                        t.value.as_lit().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
        },
    )?;
    Ok(cluster)
}

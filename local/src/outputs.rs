//! Table names of a deployed county, from its stack's outputs.

use order_domain::store::TableNames;

use crate::error::{LocalError, Result};

/// The county stack's name (`acme-<county>`, as the deployer names it).
pub fn stack_name(county: &str) -> String {
    format!("acme-{county}")
}

/// `DescribeStacks` on `acme-<county>`: the `<Logical>TableName` outputs.
pub async fn table_names(cfn: &aws_sdk_cloudformation::Client, county: &str) -> Result<TableNames> {
    let get = outputs(cfn, county).await?;
    Ok(TableNames {
        orders: get("OrdersTableName")?,
        order_by_id: get("OrderByIdTableName")?,
        inventory: get("InventoryTableName")?,
        idempotency: get("IdempotencyTableName")?,
        customers: Some(get("CustomersTableName")?),
    })
}

/// The stack's outputs, as a lookup that names a missing one.
pub async fn outputs(
    cfn: &aws_sdk_cloudformation::Client,
    county: &str,
) -> Result<impl Fn(&str) -> Result<String> + use<>> {
    let name = stack_name(county);
    let out = cfn
        .describe_stacks()
        .stack_name(&name)
        .send()
        .await
        .map_err(|e| LocalError::aws("cloudformation", "DescribeStacks", e))?;
    let mut outputs: Vec<(String, String)> = out
        .stacks
        .unwrap_or_default()
        .into_iter()
        .next()
        .and_then(|s| s.outputs)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|o| Some((o.output_key?, o.output_value?)))
        .collect();
    if outputs.is_empty() {
        outputs = from_resources(cfn, &name).await?;
    }
    let get = move |key: &str| {
        outputs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| {
                LocalError::Invalid(format!(
                    "stack {name} has no output {key}: is it deployed, and with this release's template?"
                ))
            })
    };
    Ok(get)
}

/// The `<Logical>TableName` outputs (each a plain `Ref`, the table's physical id) from
/// `ListStackResources`, for a stack whose `DescribeStacks` has no Outputs: the local
/// emulator omits them for stacks created through change sets, as the deployer notes too.
async fn from_resources(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
) -> Result<Vec<(String, String)>> {
    use crate::stack::logical;
    let tables = [
        logical::ORDERS_TABLE,
        logical::ORDER_BY_ID_TABLE,
        logical::INVENTORY_TABLE,
        logical::IDEMPOTENCY_TABLE,
        logical::CUSTOMERS_TABLE,
    ];
    let mut found = Vec::new();
    let mut pages = cfn
        .list_stack_resources()
        .stack_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| LocalError::aws("cloudformation", "ListStackResources", e))?;
        for r in page.stack_resource_summaries.unwrap_or_default() {
            if let (Some(id), Some(physical)) = (r.logical_resource_id, r.physical_resource_id)
                && tables.contains(&id.as_str())
            {
                found.push((format!("{id}Name"), physical));
            }
        }
    }
    tracing::info!(
        stack = name,
        "no stack Outputs: table names from ListStackResources"
    );
    Ok(found)
}

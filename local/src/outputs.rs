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
    let outputs = out
        .stacks
        .unwrap_or_default()
        .into_iter()
        .next()
        .and_then(|s| s.outputs)
        .unwrap_or_default();
    let get = move |key: &str| {
        outputs
            .iter()
            .find(|o| o.output_key.as_deref() == Some(key))
            .and_then(|o| o.output_value.clone())
            .ok_or_else(|| {
                LocalError::Invalid(format!(
                    "stack {name} has no output {key}: is it deployed, and with this release's template?"
                ))
            })
    };
    Ok(get)
}

//! Stack outputs: every name and ARN a function, a pipeline or an operator needs.

use crate::cfn::{Expr, LogicalId, Output, TemplateError};

use super::{Ctx, Refs};

pub(crate) fn add(cx: &mut Ctx<'_>, r: &Refs) -> Result<(), TemplateError> {
    let mut out = |name: &str, description: &str, value: Expr| {
        cx.t.add_output(
            name,
            Output {
                description: description.to_owned(),
                value,
                export: None,
                condition: None,
            },
        )
    };
    out("CountyKeyArn", "ARN of the county's KMS key", r.key.arn())?;
    for (id, label) in [
        (&r.orders, "Orders"),
        (&r.order_by_id, "OrderById"),
        (&r.inventory, "Inventory"),
        (&r.idempotency, "Idempotency"),
    ] {
        out(
            &format!("{label}TableName"),
            &format!("Name of the {label} table"),
            id.r#ref(),
        )?;
        out(
            &format!("{label}TableArn"),
            &format!("ARN of the {label} table"),
            id.arn(),
        )?;
    }
    if cx.cfg.streams_enabled {
        out(
            "OrderByIdStreamArn",
            "ARN of the OrderById stream (order events)",
            r.order_by_id.att("StreamArn"),
        )?;
    }
    queue_outputs(&mut out, &r.order_queue, "OrderQueue", "order queue")?;
    queue_outputs(
        &mut out,
        &r.order_dlq,
        "OrderDeadLetterQueue",
        "order dead-letter queue",
    )?;
    if let Some(dax) = &r.dax {
        out("DaxClusterArn", "ARN of the DAX cluster", dax.arn())?;
        out(
            "DaxEndpoint",
            "DAX cluster discovery endpoint (TLS)",
            dax.att("ClusterDiscoveryEndpointURL"),
        )?;
    }
    Ok(())
}

fn queue_outputs(
    out: &mut impl FnMut(&str, &str, Expr) -> Result<(), TemplateError>,
    id: &LogicalId,
    name: &str,
    label: &str,
) -> Result<(), TemplateError> {
    out(
        &format!("{name}Url"),
        &format!("URL of the {label}"),
        id.r#ref(),
    )?;
    out(
        &format!("{name}Arn"),
        &format!("ARN of the {label}"),
        id.arn(),
    )
}

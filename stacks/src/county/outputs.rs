//! Stack outputs: every name and ARN a function, a pipeline or an operator needs.

use crate::cfn::{Expr, LogicalId, Output, TemplateError};

use super::{Ctx, Refs};

// Outputs use `Fn::GetAtt` only on types the local emulator creates: an ARN
// that follows from a name we set (the trail's) is spelled out, and the web
// ACL's ARN, which does not, is left to `aws wafv2 list-web-acls`.
pub(crate) fn add(cx: &mut Ctx<'_>, r: &Refs) -> Result<(), TemplateError> {
    let county = cx.cfg.id.clone();
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
    let a = &r.analytics;
    out(
        "AnalyticsBucketName",
        "Bucket holding order events (orders/) and Athena results",
        a.bucket.r#ref(),
    )?;
    out(
        "AnalyticsDatabaseName",
        "Glue database of the order events table",
        a.database.r#ref(),
    )?;
    out(
        "AthenaWorkGroupName",
        "Athena workgroup for order analytics (results encrypted with the county key)",
        a.workgroup.r#ref(),
    )?;
    if let Some(redshift) = &a.redshift {
        out(
            "RedshiftWorkgroupName",
            "Redshift Serverless workgroup reading the order events",
            redshift.r#ref(),
        )?;
    }
    out(
        "AuditTrailArn",
        "ARN of the county's CloudTrail trail",
        super::audit::trail_arn(&county),
    )?;
    out(
        "AuditBucketName",
        "Object Lock (COMPLIANCE) bucket holding the CloudTrail logs",
        r.audit.bucket.r#ref(),
    )?;
    if let Some(role) = &r.migration {
        out(
            "MigrationRoleArn",
            "Role the migration operators assume to run acme-infra migrate",
            role.arn(),
        )?;
    }
    front_door_outputs(&mut out, r)?;
    Ok(())
}

/// Outputs of `alarms.rs`.
pub(crate) fn add_monitoring(
    cx: &mut Ctx<'_>,
    m: &super::alarms::Monitoring,
) -> Result<(), TemplateError> {
    cx.t.add_output(
        "DashboardName",
        Output {
            description: "CloudWatch dashboard of the county".to_owned(),
            value: m.dashboard.r#ref(),
            export: None,
            condition: None,
        },
    )
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

/// Outputs of `api.rs`, `functions.rs` and `pii.rs`.
fn front_door_outputs(
    out: &mut impl FnMut(&str, &str, Expr) -> Result<(), TemplateError>,
    r: &Refs,
) -> Result<(), TemplateError> {
    let fd = &r.front_door;
    out(
        "OrderApiUrl",
        "Invoke URL of the order API's live stage (requests are SigV4-signed)",
        Expr::sub_with(
            "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}",
            vec![("Api", fd.rest_api.r#ref()), ("Stage", fd.stage.r#ref())],
        ),
    )?;
    out(
        "OrderApiId",
        "Id of the order REST API",
        fd.rest_api.r#ref(),
    )?;
    out(
        "OrderApiStageName",
        "Stage of the order API",
        fd.stage.r#ref(),
    )?;
    let f = &r.functions;
    for (ids, label) in [
        (&f.api, "OrderApi"),
        (&f.worker, "OrderWorker"),
        (&f.publisher, "StreamPublisher"),
    ] {
        out(
            &format!("{label}FunctionName"),
            &format!("Name of the {label} function"),
            ids.function.r#ref(),
        )?;
        out(
            &format!("{label}FunctionArn"),
            &format!("ARN of the {label} function"),
            ids.function.arn(),
        )?;
    }
    out(
        "CustomersTableName",
        "Name of the Customers (PII) table",
        r.pii.table.r#ref(),
    )
}

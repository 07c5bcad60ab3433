//! The order queue (accepted orders waiting for the worker) and its dead-letter
//! queue. Both are on the county key and refuse plain-HTTP access.

use crate::cfn::resources::sqs::{Queue, QueuePolicy, RedrivePolicy};
use crate::cfn::{LogicalId, PolicyDocument, Res, Statement, TemplateError};

use super::Ctx;
use crate::config::{ORDER_QUEUE_RETENTION_DAYS, order_queue_visibility_timeout};

pub(crate) fn add(
    cx: &mut Ctx<'_>,
    key: &LogicalId,
) -> Result<(LogicalId, LogicalId), TemplateError> {
    let q = &cx.cfg.queue;
    let dlq = LogicalId::new("OrderDeadLetterQueue");
    let queue = LogicalId::new("OrderQueue");
    cx.t.add(
        Res::new(
            &dlq,
            Queue {
                kms_master_key_id: key.arn(),
                kms_data_key_reuse_period_seconds: 300,
                visibility_timeout: 300,
                message_retention_period: q.dlq_retention_days * 86_400,
                receive_message_wait_time_seconds: Some(20),
                redrive_policy: None,
                redrive_allow_policy: None,
                tags: cx.tags.clone(),
            },
        )?
        // A message in the DLQ is an order nobody has processed yet.
        .retain(),
    )?;
    cx.t.add(
        Res::new(
            &queue,
            Queue {
                kms_master_key_id: key.arn(),
                kms_data_key_reuse_period_seconds: 300,
                visibility_timeout: order_queue_visibility_timeout(
                    cx.cfg.functions.worker.timeout_seconds,
                    q.batching_window_seconds,
                ),
                message_retention_period: ORDER_QUEUE_RETENTION_DAYS * 86_400,
                receive_message_wait_time_seconds: Some(20),
                redrive_policy: Some(RedrivePolicy {
                    dead_letter_target_arn: dlq.arn(),
                    max_receive_count: q.max_receive_count,
                }),
                redrive_allow_policy: None,
                tags: cx.tags.clone(),
            },
        )?
        .retain(),
    )?;
    cx.t.add_resource(
        &LogicalId::new("OrderQueuesPolicy"),
        QueuePolicy {
            queues: vec![queue.r#ref(), dlq.r#ref()],
            policy_document: PolicyDocument::new(vec![Statement::deny_insecure_transport(
                &["sqs:*"],
                vec![queue.arn(), dlq.arn()],
            )]),
        },
    )?;
    Ok((queue, dlq))
}

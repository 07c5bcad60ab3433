//! The county's three functions with least-privilege roles.

use crate::cfn::{LogicalId, TemplateError};

use super::{Ctx, FunctionIds, Functions};

pub(crate) fn add(_cx: &mut Ctx<'_>) -> Result<Functions, TemplateError> {
    let ids = |name: &str| FunctionIds {
        function: LogicalId::new(format!("{name}Function")),
        role: LogicalId::new(format!("{name}Role")),
        log_group: LogicalId::new(format!("{name}LogGroup")),
    };
    Ok(Functions {
        api: ids("OrderApi"),
        worker: ids("OrderWorker"),
        publisher: ids("StreamPublisher"),
        dead_letter_queue: LogicalId::new("FunctionDeadLetterQueue"),
        publisher_failure_queue: None,
    })
}

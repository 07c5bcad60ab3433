//! The front door: REST API, stage and WAF.

use crate::cfn::{LogicalId, TemplateError};

use super::{Ctx, FrontDoor, Functions};

pub(crate) fn add(_cx: &mut Ctx<'_>, _f: &Functions) -> Result<FrontDoor, TemplateError> {
    Ok(FrontDoor {
        rest_api: LogicalId::new("OrderApi"),
        stage: LogicalId::new("OrderApiStage"),
        stage_name: STAGE_NAME,
        access_log_group: LogicalId::new("OrderApiAccessLogGroup"),
        web_acl: LogicalId::new("OrderApiWebAcl"),
        waf_log_group: LogicalId::new("OrderApiWafLogGroup"),
    })
}

/// The API's only stage.
pub const STAGE_NAME: &str = "live";
/// CloudWatch metric name of the web ACL (WAF `AWS/WAFV2`, dimension `WebACL`).
pub const WEB_ACL_METRIC: &str = "OrderApiWebAcl";
/// CloudWatch metric name of the per-IP rate-based rule (dimension `Rule`).
pub const RATE_LIMIT_METRIC: &str = "RateLimit";

//! `AWS::IAM::RolePolicy`: an inline policy as its own resource. Needed when a
//! role's policy names a resource whose own policy names the role (the
//! Customers key policy grants `OrderApiRole`): inline in the role, that is a
//! dependency cycle CloudFormation refuses.

use serde::Serialize;

use super::resource;
use crate::cfn::{Expr, PolicyDocument};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RolePolicy {
    pub policy_name: String,
    pub policy_document: PolicyDocument,
    /// The role's name (its `Ref`).
    pub role_name: Expr,
}
resource!(RolePolicy, "AWS::IAM::RolePolicy");

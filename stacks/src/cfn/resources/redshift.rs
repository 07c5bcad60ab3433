//! `AWS::RedshiftServerless::Namespace` and `::Workgroup`.

use serde::Serialize;

use super::resource;
use crate::cfn::{Expr, Tag};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Namespace {
    pub namespace_name: String,
    pub db_name: String,
    pub admin_username: String,
    /// Secrets Manager creates and rotates the admin password: no password
    /// ever appears in the template, a parameter or a log.
    pub manage_admin_password: bool,
    /// Encrypts that secret.
    pub admin_password_secret_kms_key_id: Expr,
    /// Encrypts the namespace's data.
    pub kms_key_id: Expr,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub iam_roles: Vec<Expr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_iam_role_arn: Option<Expr>,
    /// `userlog`, `connectionlog`, `useractivitylog`.
    pub log_exports: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(Namespace, "AWS::RedshiftServerless::Namespace");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Workgroup {
    pub workgroup_name: String,
    pub namespace_name: Expr,
    /// Redshift processing units, 8..=512 in steps of 8.
    pub base_capacity: u32,
    pub publicly_accessible: bool,
    /// Traffic to S3 (COPY, UNLOAD, Spectrum) goes through the VPC.
    pub enhanced_vpc_routing: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(Workgroup, "AWS::RedshiftServerless::Workgroup");

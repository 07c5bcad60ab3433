//! `AWS::KMS::Key` and `AWS::KMS::Alias`.

use serde::Serialize;

use super::resource;
use crate::cfn::{Expr, PolicyDocument, Tag};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Key {
    pub description: String,
    pub enable_key_rotation: bool,
    /// Days between a deletion request and the key's deletion (7..=30): the
    /// window in which an accidental delete can still be cancelled.
    pub pending_window_in_days: u32,
    pub key_policy: PolicyDocument,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(Key, "AWS::KMS::Key");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Alias {
    /// Must start with `alias/`.
    pub alias_name: String,
    pub target_key_id: Expr,
}
resource!(Alias, "AWS::KMS::Alias");

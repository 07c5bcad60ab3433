//! `AWS::SSM::Parameter`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::resource;

/// A plain `String` parameter in the Standard tier (free, 4 KB).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    pub name: String,
    /// Always `String`: CloudFormation cannot create `SecureString`.
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub value: String,
    pub description: String,
    /// A value outside the pattern is refused by SSM itself.
    pub allowed_pattern: String,
    pub tier: &'static str,
    /// SSM tags are a map, not the usual list of `Key`/`Value`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}
resource!(Parameter, "AWS::SSM::Parameter");

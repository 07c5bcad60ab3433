//! `AWS::SSM::Parameter`.

use serde::Serialize;

use super::resource;

/// A plain `String` parameter in the Standard tier (free, 4 KB). No `Tags`:
/// the one parameter emitted must keep fixed properties (see
/// `county::migration`).
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
}
resource!(Parameter, "AWS::SSM::Parameter");

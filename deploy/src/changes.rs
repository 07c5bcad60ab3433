//! The change set as the deployer reasons about it: one row per resource,
//! with the replacement verdict and the properties that cause it, rendered as
//! a readable add / modify / replace / remove diff.

use std::fmt::Write as _;

use aws_sdk_cloudformation::types::Change;
use serde::Serialize;

use crate::template_diff::TemplateDiff;

/// What a change does to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A new resource.
    Add,
    /// Updated in place.
    Modify,
    /// Replaced: a new physical resource is created and the old one deleted.
    Replace,
    /// Deleted (or, with `DeletionPolicy: Retain`, orphaned).
    Remove,
    /// Imported, dynamic or anything else CloudFormation reports.
    Other,
}

/// One resource row of a change set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceChange {
    /// Add / modify / replace / remove.
    pub kind: ChangeKind,
    /// Logical id in the template.
    pub logical_id: String,
    /// Resource type, e.g. `AWS::DynamoDB::Table`.
    pub resource_type: String,
    /// CloudFormation's verdict: `True` (always replaced) or `Conditional`
    /// (replaced depending on a value only known at execution).
    pub replacement: Option<String>,
    /// Why: property paths with their recreation requirement, e.g.
    /// `Properties.KeySchema (recreation: Always)`.
    pub causes: Vec<String>,
}

impl ResourceChange {
    /// Builds a row from CloudFormation's `Change`.
    pub fn from_sdk(change: &Change) -> Option<Self> {
        let rc = change.resource_change()?;
        let replacement = rc.replacement().map(|r| r.as_str().to_string());
        let replaced = matches!(replacement.as_deref(), Some("True" | "Conditional"));
        let kind = match rc.action().map(|a| a.as_str()) {
            Some("Add") => ChangeKind::Add,
            Some("Modify") if replaced => ChangeKind::Replace,
            Some("Modify") => ChangeKind::Modify,
            Some("Remove") => ChangeKind::Remove,
            _ => ChangeKind::Other,
        };
        let mut causes = Vec::new();
        for d in rc.details() {
            let Some(t) = d.target() else { continue };
            let attr = t.attribute().map(|a| a.as_str()).unwrap_or("");
            let what = match (attr, t.name()) {
                ("Properties", Some(name)) => format!("Properties.{name}"),
                (attr, Some(name)) => format!("{attr}.{name}"),
                (attr, None) => attr.to_string(),
            };
            let recreation = t
                .requires_recreation()
                .map(|r| r.as_str())
                .unwrap_or("Never");
            let entity = d
                .causing_entity()
                .map(|e| format!(" via {e}"))
                .unwrap_or_default();
            let cause = if recreation == "Never" {
                format!("{what}{entity}")
            } else {
                format!("{what} (recreation: {recreation}){entity}")
            };
            if !causes.contains(&cause) {
                causes.push(cause);
            }
        }
        Some(Self {
            kind,
            logical_id: rc.logical_resource_id().unwrap_or("?").to_string(),
            resource_type: rc.resource_type().unwrap_or("?").to_string(),
            replacement,
            causes,
        })
    }
}

/// Renders the change rows for a terminal. Rows without CloudFormation
/// details (moto never sends any) get the property paths from the template
/// diff instead, so the reader always sees *what* changes.
pub fn render(changes: &[ResourceChange], template_diff: Option<&TemplateDiff>) -> String {
    let mut s = String::new();
    let width = changes
        .iter()
        .map(|c| c.logical_id.len())
        .max()
        .unwrap_or(0);
    for c in changes {
        let (sign, word) = match c.kind {
            ChangeKind::Add => ('+', "add"),
            ChangeKind::Modify => ('~', "modify"),
            ChangeKind::Replace => ('!', "REPLACE"),
            ChangeKind::Remove => ('-', "remove"),
            ChangeKind::Other => ('?', "change"),
        };
        let _ = write!(
            s,
            "  {sign} {word:<7} {:<width$}  {}",
            c.logical_id, c.resource_type
        );
        if c.kind == ChangeKind::Replace && c.replacement.as_deref() == Some("Conditional") {
            s.push_str("  (replacement: Conditional)");
        }
        s.push('\n');
        let mut causes = c.causes.clone();
        if causes.is_empty()
            && let Some(r) = template_diff.and_then(|d| d.resource(&c.logical_id))
        {
            causes = r.changes.iter().map(|p| p.path.clone()).collect();
        }
        for cause in causes {
            let _ = writeln!(s, "      {cause}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::{
        ChangeAction, ChangeType, Replacement, RequiresRecreation, ResourceAttribute,
        ResourceChangeDetail, ResourceTargetDefinition,
    };

    fn replace_table() -> Change {
        Change::builder()
            .r#type(ChangeType::Resource)
            .resource_change(
                aws_sdk_cloudformation::types::ResourceChange::builder()
                    .action(ChangeAction::Modify)
                    .logical_resource_id("OrdersTable")
                    .resource_type("AWS::DynamoDB::Table")
                    .replacement(Replacement::True)
                    .details(
                        ResourceChangeDetail::builder()
                            .target(
                                ResourceTargetDefinition::builder()
                                    .attribute(ResourceAttribute::Properties)
                                    .name("KeySchema")
                                    .requires_recreation(RequiresRecreation::Always)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    #[test]
    fn replacement_shows_reason_and_property() {
        let row = ResourceChange::from_sdk(&replace_table()).expect("row");
        assert_eq!(row.kind, ChangeKind::Replace);
        assert_eq!(row.causes, ["Properties.KeySchema (recreation: Always)"]);
        let text = render(&[row], None);
        assert!(
            text.contains("! REPLACE OrdersTable  AWS::DynamoDB::Table"),
            "{text}"
        );
        assert!(
            text.contains("Properties.KeySchema (recreation: Always)"),
            "{text}"
        );
    }
}

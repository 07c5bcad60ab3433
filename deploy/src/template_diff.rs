//! Template-to-template diff: resource level plus property paths.
//!
//! Used by `diff` (deployed template from `GetTemplate` vs the generated one),
//! by the safety checks (GSI changes, replacement-causing properties: moto's
//! change sets carry no replacement details, and a second opinion on real
//! CloudFormation costs nothing), and to annotate change-set rows.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Map, Value};

/// How a resource (or output) differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffKind {
    /// Only in the new template.
    Added,
    /// Only in the deployed template.
    Removed,
    /// In both, different.
    Modified,
}

/// One changed value inside a resource, e.g. `Properties.KeySchema[0].AttributeName`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathChange {
    /// Dotted path from the resource's root.
    pub path: String,
    /// Deployed value (`None`: added).
    pub old: Option<Value>,
    /// New value (`None`: removed).
    pub new: Option<Value>,
}

/// One resource that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceDiff {
    /// Logical id.
    pub logical_id: String,
    /// Resource type (the new one when it changed).
    pub resource_type: String,
    /// Added, removed or modified.
    pub kind: DiffKind,
    /// Changed paths (empty for added/removed resources).
    pub changes: Vec<PathChange>,
}

/// The difference between two templates.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TemplateDiff {
    /// Resources that differ, by logical id.
    pub resources: Vec<ResourceDiff>,
    /// Other top-level sections that differ (`Outputs.X`, `Parameters.Y`, `Conditions`...).
    pub other: Vec<PathChange>,
}

impl TemplateDiff {
    /// True when the templates are equivalent.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.other.is_empty()
    }

    /// The diff for one resource, if it differs.
    pub fn resource(&self, logical_id: &str) -> Option<&ResourceDiff> {
        self.resources.iter().find(|r| r.logical_id == logical_id)
    }

    /// Renders for a terminal: `+` added, `-` removed, `~` modified, one
    /// indented line per changed path with old → new (values cut at 80 chars).
    pub fn render(&self) -> String {
        let mut s = String::new();
        for r in &self.resources {
            let sign = match r.kind {
                DiffKind::Added => '+',
                DiffKind::Removed => '-',
                DiffKind::Modified => '~',
            };
            let _ = writeln!(s, "  {sign} {} ({})", r.logical_id, r.resource_type);
            for c in &r.changes {
                let _ = writeln!(
                    s,
                    "      {}: {} → {}",
                    c.path,
                    short(c.old.as_ref()),
                    short(c.new.as_ref())
                );
            }
        }
        for c in &self.other {
            let _ = writeln!(
                s,
                "  ~ {}: {} → {}",
                c.path,
                short(c.old.as_ref()),
                short(c.new.as_ref())
            );
        }
        s
    }
}

fn short(v: Option<&Value>) -> String {
    match v {
        None => "(none)".to_string(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 80 {
                format!("{}…", s.chars().take(79).collect::<String>())
            } else {
                s
            }
        }
    }
}

fn resources(t: &Value) -> Map<String, Value> {
    t.get("Resources")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn type_of(r: &Value) -> String {
    r.get("Type")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string()
}

/// Diffs two templates. `old` is `Value::Null` when the stack does not exist.
pub fn diff_templates(old: &Value, new: &Value) -> TemplateDiff {
    let (old_r, new_r) = (resources(old), resources(new));
    let ids: BTreeSet<&String> = old_r.keys().chain(new_r.keys()).collect();
    let mut out = TemplateDiff::default();
    for id in ids {
        match (old_r.get(id), new_r.get(id)) {
            (None, Some(n)) => out.resources.push(ResourceDiff {
                logical_id: id.clone(),
                resource_type: type_of(n),
                kind: DiffKind::Added,
                changes: vec![],
            }),
            (Some(o), None) => out.resources.push(ResourceDiff {
                logical_id: id.clone(),
                resource_type: type_of(o),
                kind: DiffKind::Removed,
                changes: vec![],
            }),
            (Some(o), Some(n)) if o != n => {
                let mut changes = vec![];
                diff_values("", o, n, &mut changes);
                out.resources.push(ResourceDiff {
                    logical_id: id.clone(),
                    resource_type: type_of(n),
                    kind: DiffKind::Modified,
                    changes,
                });
            }
            _ => {}
        }
    }
    let empty = Map::new();
    let old_top = old.as_object().unwrap_or(&empty);
    let new_top = new.as_object().unwrap_or(&empty);
    let sections: BTreeSet<&String> = old_top
        .keys()
        .chain(new_top.keys())
        .filter(|k| *k != "Resources")
        .collect();
    for k in sections {
        match (old_top.get(k), new_top.get(k)) {
            (o, n) if o == n => {}
            (Some(o), Some(n)) => diff_values(k, o, n, &mut out.other),
            (o, n) => out.other.push(PathChange {
                path: k.clone(),
                old: o.cloned(),
                new: n.cloned(),
            }),
        }
    }
    out
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn diff_values(path: &str, old: &Value, new: &Value, out: &mut Vec<PathChange>) {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
            for k in keys {
                let p = join(path, k);
                match (o.get(k), n.get(k)) {
                    (Some(a), Some(b)) if a != b => diff_values(&p, a, b, out),
                    (Some(_), Some(_)) => {}
                    (a, b) => out.push(PathChange {
                        path: p,
                        old: a.cloned(),
                        new: b.cloned(),
                    }),
                }
            }
        }
        (Value::Array(o), Value::Array(n)) if o.len() == n.len() => {
            for (i, (a, b)) in o.iter().zip(n).enumerate() {
                if a != b {
                    diff_values(&format!("{path}[{i}]"), a, b, out);
                }
            }
        }
        _ if old != new => out.push(PathChange {
            path: path.to_string(),
            old: Some(old.clone()),
            new: Some(new.clone()),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_resources_and_property_paths() {
        let old = json!({"Resources": {
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}},
            "Gone": {"Type": "AWS::SQS::Queue"}
        }, "Outputs": {"A": {"Value": "1"}}});
        let new = json!({"Resources": {
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}},
            "New": {"Type": "AWS::KMS::Key"}
        }, "Outputs": {"A": {"Value": "2"}}});
        let d = diff_templates(&old, &new);
        let kinds: Vec<_> = d
            .resources
            .iter()
            .map(|r| (r.logical_id.as_str(), r.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("Gone", DiffKind::Removed),
                ("New", DiffKind::Added),
                ("Table", DiffKind::Modified)
            ]
        );
        assert_eq!(
            d.resource("Table").map(|r| r.changes[0].path.as_str()),
            Some("Properties.KeySchema[0].AttributeName")
        );
        assert_eq!(d.other[0].path, "Outputs.A.Value");
        let text = d.render();
        assert!(text.contains("~ Table (AWS::DynamoDB::Table)"), "{text}");
        assert!(
            text.contains("Properties.KeySchema[0].AttributeName: \"pk\" → \"id\""),
            "{text}"
        );
        assert!(diff_templates(&new, &new).is_empty());
    }

    #[test]
    fn new_stack_is_all_additions() {
        let new = json!({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}});
        let d = diff_templates(&Value::Null, &new);
        assert_eq!(d.resources.len(), 1);
        assert_eq!(d.resources[0].kind, DiffKind::Added);
    }
}

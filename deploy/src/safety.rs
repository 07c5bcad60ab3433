//! Checks run on a change set *before* it is executed. Each returns a refusal
//! (the caller deletes the change set and executes nothing) or lets it pass.
//!
//! The stateful check looks at two sources, because either alone can miss:
//! CloudFormation's own verdict (`Replacement: True|Conditional`, `Remove`)
//! and the template diff (a changed replacement-causing property such as a
//! table's `KeySchema`; moto's change sets carry no replacement data at all).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::changes::{ChangeKind, ResourceChange};
use crate::error::{DeployError, RefusalKind};
use crate::template_diff::{DiffKind, ResourceDiff, TemplateDiff};

/// Resource types that hold data: replacing or deleting one loses it.
pub const STATEFUL_TYPES: &[&str] = &[
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::GlobalTable",
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::SQS::Queue",
    "AWS::Logs::LogGroup",
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBInstance",
    "AWS::EFS::FileSystem",
    "AWS::Kinesis::Stream",
    "AWS::SecretsManager::Secret",
    "AWS::Cognito::UserPool",
];

/// Properties whose change replaces the resource, per the CloudFormation
/// resource reference ("Update requires: Replacement").
const REPLACING_PROPERTIES: &[(&str, &[&str])] = &[
    ("AWS::DynamoDB::Table", &["TableName", "KeySchema"]),
    ("AWS::DynamoDB::GlobalTable", &["TableName", "KeySchema"]),
    ("AWS::S3::Bucket", &["BucketName"]),
    ("AWS::KMS::Key", &["KeySpec", "KeyUsage", "MultiRegion"]),
    ("AWS::SQS::Queue", &["QueueName", "FifoQueue"]),
    ("AWS::Logs::LogGroup", &["LogGroupName"]),
    ("AWS::Kinesis::Stream", &["Name"]),
    (
        "AWS::EFS::FileSystem",
        &["Encrypted", "KmsKeyId", "PerformanceMode"],
    ),
];

/// Is this type stateful?
pub fn is_stateful(resource_type: &str) -> bool {
    STATEFUL_TYPES.contains(&resource_type)
}

/// One stateful resource the change would destroy, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destruction {
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// "replaced (...)" or "removed from the stack".
    pub why: String,
}

/// Every stateful resource this change would replace or remove.
pub fn destructive_changes(
    changes: &[ResourceChange],
    diff: Option<&TemplateDiff>,
) -> Vec<Destruction> {
    let mut out: BTreeMap<String, Destruction> = BTreeMap::new();
    for c in changes.iter().filter(|c| is_stateful(&c.resource_type)) {
        if let Some(why) = change_set_destruction(c) {
            out.insert(
                c.logical_id.clone(),
                Destruction {
                    logical_id: c.logical_id.clone(),
                    resource_type: c.resource_type.clone(),
                    why,
                },
            );
        }
    }
    // The template diff catches what a change set leaves out (moto gives no
    // replacement data); CloudFormation's own verdict wins where it has one.
    for r in diff.map(|d| d.resources.as_slice()).unwrap_or_default() {
        if out.contains_key(&r.logical_id) {
            continue;
        }
        if let Some(why) = diff_destruction(r) {
            out.insert(
                r.logical_id.clone(),
                Destruction {
                    logical_id: r.logical_id.clone(),
                    resource_type: r.resource_type.clone(),
                    why,
                },
            );
        }
    }
    out.into_values().collect()
}

/// Why a change-set row destroys its resource, if it does.
fn change_set_destruction(c: &ResourceChange) -> Option<String> {
    match c.kind {
        ChangeKind::Replace => {
            let causes = if c.causes.is_empty() {
                String::new()
            } else {
                format!(": {}", c.causes.join(", "))
            };
            Some(format!(
                "replaced (CloudFormation: Replacement {}{causes})",
                c.replacement.as_deref().unwrap_or("True")
            ))
        }
        ChangeKind::Remove => Some("removed from the stack".to_string()),
        _ => None,
    }
}

/// Why a template-diff entry destroys a stateful resource, if it does: it is
/// removed, its type changes, or a property that forces replacement changes.
fn diff_destruction(r: &ResourceDiff) -> Option<String> {
    match r.kind {
        DiffKind::Removed if is_stateful(&r.resource_type) => {
            Some("removed from the stack".to_string())
        }
        DiffKind::Modified => {
            if let Some(p) = r.changes.iter().find(|p| p.path == "Type") {
                let old_type = p.old.as_ref().and_then(Value::as_str).unwrap_or("?");
                return (is_stateful(old_type) || is_stateful(&r.resource_type))
                    .then(|| format!("replaced: its type changes from {old_type}"));
            }
            let props = REPLACING_PROPERTIES
                .iter()
                .find(|(t, _)| *t == r.resource_type)
                .map(|(_, p)| *p)
                .unwrap_or_default();
            let hits: Vec<&str> = r
                .changes
                .iter()
                .filter(|p| {
                    props.iter().any(|name| {
                        p.path == format!("Properties.{name}")
                            || p.path.starts_with(&format!("Properties.{name}["))
                            || p.path.starts_with(&format!("Properties.{name}."))
                    })
                })
                .map(|p| p.path.as_str())
                .collect();
            (!hits.is_empty())
                .then(|| format!("replaced: {} requires replacement", hits.join(", ")))
        }
        _ => None,
    }
}

/// Refuses destruction of any stateful resource `allow_replace` does not name.
/// `county` scopes the suggested flag (`--allow-replace <county>/<id>`), so
/// the fix stays right when several counties are deployed at once.
pub fn check_stateful(
    stack: &str,
    county: Option<&str>,
    changes: &[ResourceChange],
    diff: Option<&TemplateDiff>,
    allow_replace: &[String],
) -> Result<(), DeployError> {
    let blocked: Vec<Destruction> = destructive_changes(changes, diff)
        .into_iter()
        .filter(|d| !allow_replace.iter().any(|a| a == &d.logical_id))
        .collect();
    if blocked.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = blocked
        .iter()
        .map(|d| format!("{} ({}) would be {}", d.logical_id, d.resource_type, d.why))
        .collect();
    let flags: Vec<String> = blocked
        .iter()
        .map(|d| match county {
            Some(c) => format!("--allow-replace {c}/{}", d.logical_id),
            None => format!("--allow-replace {}", d.logical_id),
        })
        .collect();
    Err(DeployError::refused(
        stack,
        RefusalKind::StatefulResource,
        format!(
            "stateful resource(s) would lose their data: {}",
            lines.join("; ")
        ),
        format!(
            "if losing the data is intended, deploy again with {}; otherwise keep the replacing property as deployed \
             (a table's key schema or name cannot change in place: create a new table, migrate, then remove the old one)",
            flags.join(" ")
        ),
    ))
}

fn gsis(resource: Option<&Value>) -> BTreeMap<String, Value> {
    resource
        .and_then(|r| r.pointer("/Properties/GlobalSecondaryIndexes"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|g| {
                    let name = g.get("IndexName")?.as_str()?.to_string();
                    // Only key schema and projection force delete+create;
                    // throughput or contributor-insights changes update in place.
                    let shape = serde_json::json!([g.get("KeySchema"), g.get("Projection")]);
                    Some((name, shape))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// DynamoDB creates or deletes one GSI per `UpdateTable`; CloudFormation
/// fails the update (`Cannot perform more than one GSI creation or deletion
/// in a single update`) and rolls back after minutes. Refuse up front.
pub fn check_gsi_limit(stack: &str, old: &Value, new: &Value) -> Result<(), DeployError> {
    let Some(new_resources) = new.get("Resources").and_then(Value::as_object) else {
        return Ok(());
    };
    for (id, r) in new_resources {
        let ty = r.get("Type").and_then(Value::as_str).unwrap_or("");
        if ty != "AWS::DynamoDB::Table" && ty != "AWS::DynamoDB::GlobalTable" {
            continue;
        }
        let Some(old_r) = old.pointer(&format!("/Resources/{id}")) else {
            continue;
        };
        let (before, after) = (gsis(Some(old_r)), gsis(Some(r)));
        let added: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
        let removed: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
        let recreated: Vec<&String> = after
            .iter()
            .filter(|(k, v)| before.get(*k).is_some_and(|b| b != *v))
            .map(|(k, _)| k)
            .collect();
        let ops = added.len() + removed.len() + 2 * recreated.len();
        if ops > 1 {
            let mut steps = Vec::new();
            for n in &removed {
                steps.push(format!("remove {n}"));
            }
            for n in &recreated {
                steps.push(format!("remove {n} (its key schema/projection changes)"));
                steps.push(format!("add {n} with the new definition"));
            }
            for n in &added {
                steps.push(format!("add {n}"));
            }
            let plan: Vec<String> = steps
                .iter()
                .enumerate()
                .map(|(i, s)| format!("{}) {s}", i + 1))
                .collect();
            return Err(DeployError::refused(
                stack,
                RefusalKind::GsiLimit,
                format!(
                    "table {id} would change {ops} global secondary indexes in one update (added: {added:?}, removed: {removed:?}, redefined: {recreated:?}); DynamoDB allows one index creation or deletion per update"
                ),
                format!(
                    "stage it: deploy one index change at a time, waiting for each to finish: {}",
                    plan.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Types named like policies that grant no one anything: a scaling policy
/// says how capacity follows load. Everything else named `*Policy` is
/// treated as access (fail closed).
const GRANTS_NOTHING: &[&str] = &[
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::AutoScaling::ScalingPolicy",
];

/// Why a change set needs approval under `broadening` (empty: it does not).
/// Broadening = anything that can widen access: IAM resources, security
/// groups and their rules, resource policies and Lambda permissions, added or
/// modified (removals only narrow).
pub fn broadening_changes(changes: &[ResourceChange]) -> Vec<String> {
    changes
        .iter()
        .filter(|c| {
            matches!(
                c.kind,
                ChangeKind::Add | ChangeKind::Modify | ChangeKind::Replace | ChangeKind::Other
            )
        })
        .filter(|c| !GRANTS_NOTHING.contains(&c.resource_type.as_str()))
        .filter(|c| {
            let t = c.resource_type.as_str();
            t.starts_with("AWS::IAM::")
                || t.starts_with("AWS::EC2::SecurityGroup")
                || t.ends_with("Policy")
                || t == "AWS::Lambda::Permission"
                || t == "AWS::Lambda::Url"
                || c.causes
                    .iter()
                    .any(|p| p.contains("Policy") || p.contains("Policies"))
        })
        .map(|c| format!("{} ({})", c.logical_id, c.resource_type))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template_diff::diff_templates;
    use serde_json::json;

    fn table(key: &str, gsis: &[&str]) -> Value {
        let g: Vec<Value> = gsis
            .iter()
            .map(|n| json!({"IndexName": n, "KeySchema": [{"AttributeName": n, "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}))
            .collect();
        json!({"Resources": {"Orders": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "Properties": {
            "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}], "GlobalSecondaryIndexes": g}}}})
    }

    #[test]
    fn key_schema_change_is_a_replacement_even_without_cloudformation_details() {
        let (old, new) = (table("pk", &[]), table("id", &[]));
        let d = diff_templates(&old, &new);
        let modify = ResourceChange {
            kind: ChangeKind::Modify,
            logical_id: "Orders".into(),
            resource_type: "AWS::DynamoDB::Table".into(),
            replacement: None,
            causes: vec![],
        };
        let e = check_stateful("s", None, std::slice::from_ref(&modify), Some(&d), &[])
            .expect_err("refused");
        assert!(matches!(
            e,
            DeployError::Refused {
                kind: RefusalKind::StatefulResource,
                ..
            }
        ));
        assert!(e.to_string().contains("Properties.KeySchema"), "{e}");
        assert!(
            e.fix()
                .is_some_and(|f| f.contains("--allow-replace Orders"))
        );
        check_stateful("s", None, &[modify], Some(&d), &["Orders".into()]).expect("allowed");
    }

    #[test]
    fn removal_of_a_queue_is_refused_and_of_a_function_is_not() {
        let rm = |t: &str| ResourceChange {
            kind: ChangeKind::Remove,
            logical_id: "X".into(),
            resource_type: t.into(),
            replacement: None,
            causes: vec![],
        };
        assert!(check_stateful("s", None, &[rm("AWS::SQS::Queue")], None, &[]).is_err());
        assert!(check_stateful("s", None, &[rm("AWS::Lambda::Function")], None, &[]).is_ok());
    }

    #[test]
    fn gsi_limit() {
        check_gsi_limit("s", &table("pk", &[]), &table("pk", &["byCustomer"]))
            .expect("one add is fine");
        let e = check_gsi_limit(
            "s",
            &table("pk", &[]),
            &table("pk", &["byCustomer", "byStore"]),
        )
        .expect_err("two adds");
        assert!(
            e.fix()
                .is_some_and(|f| f.contains("1) add byCustomer, 2) add byStore")),
            "{:?}",
            e.fix()
        );
        assert!(
            check_gsi_limit("s", &table("pk", &["a"]), &table("pk", &["b"])).is_err(),
            "swap = remove + add"
        );
        check_gsi_limit("s", &Value::Null, &table("pk", &["a", "b"]))
            .expect("new tables may start with many");
    }

    #[test]
    fn broadening() {
        let add = |t: &str| ResourceChange {
            kind: ChangeKind::Add,
            logical_id: "X".into(),
            resource_type: t.into(),
            replacement: None,
            causes: vec![],
        };
        assert_eq!(broadening_changes(&[add("AWS::IAM::Role")]).len(), 1);
        assert_eq!(broadening_changes(&[add("AWS::SQS::QueuePolicy")]).len(), 1);
        assert_eq!(
            broadening_changes(&[add("AWS::EC2::SecurityGroupIngress")]).len(),
            1
        );
        assert!(broadening_changes(&[add("AWS::SQS::Queue")]).is_empty());
        let scaling = ResourceChange {
            kind: ChangeKind::Modify,
            causes: vec!["Properties.TargetTrackingScalingPolicyConfiguration".into()],
            ..add("AWS::ApplicationAutoScaling::ScalingPolicy")
        };
        assert!(broadening_changes(&[scaling]).is_empty(), "grants nothing");
        assert_eq!(broadening_changes(&[add("AWS::S3::BucketPolicy")]).len(), 1);
        let rm = ResourceChange {
            kind: ChangeKind::Remove,
            ..add("AWS::IAM::Role")
        };
        assert!(broadening_changes(&[rm]).is_empty());
    }
}

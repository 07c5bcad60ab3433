//! A CloudFormation template built from Rust values. Resources are kept in a
//! `BTreeMap` keyed by logical id so the output order never depends on the
//! order the builders ran in; properties are serialized once, when added, in the
//! field order of their Rust struct. The same configuration therefore always
//! gives the same bytes.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Condition, Expr, LogicalId, Resource, TemplateError};

/// What CloudFormation does with a resource's physical resource when the resource
/// is removed from the template (`DeletionPolicy`) or replaced (`UpdateReplacePolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Policy {
    Delete,
    Retain,
    RetainExceptOnCreate,
    Snapshot,
}

/// A template parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint_description: Option<String>,
}

impl Parameter {
    /// A `String` parameter.
    pub fn string(description: &str) -> Self {
        Parameter {
            kind: "String".into(),
            description: Some(description.into()),
            default: None,
            allowed_pattern: None,
            min_length: None,
            max_length: None,
            constraint_description: None,
        }
    }
}

/// A template output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    pub description: String,
    pub value: Expr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<Export>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

/// An output's cross-stack export.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Export {
    pub name: Expr,
}

/// One resource as it stands in the template.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceEntry {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<Policy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_replace_policy: Option<Policy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    pub properties: Value,
}

/// A resource on its way into a template: its properties plus the resource
/// attributes (`DependsOn`, `Condition`, policies, metadata).
#[derive(Debug, Clone)]
pub struct Res {
    id: LogicalId,
    entry: ResourceEntry,
}

impl Res {
    /// A resource with the given logical id and properties.
    pub fn new<R: Resource>(id: &LogicalId, properties: R) -> Result<Self, TemplateError> {
        let properties =
            serde_json::to_value(&properties).map_err(|e| TemplateError::Serialize {
                id: id.to_string(),
                message: e.to_string(),
            })?;
        Ok(Res {
            id: id.clone(),
            entry: ResourceEntry {
                kind: R::TYPE,
                condition: None,
                depends_on: Vec::new(),
                deletion_policy: None,
                update_replace_policy: None,
                metadata: None,
                properties,
            },
        })
    }

    /// `DeletionPolicy` and `UpdateReplacePolicy` both `Retain`: for anything that
    /// holds data, so neither removing it from the template nor a replacement
    /// ever deletes the data.
    pub fn retain(mut self) -> Self {
        self.entry.deletion_policy = Some(Policy::Retain);
        self.entry.update_replace_policy = Some(Policy::Retain);
        self
    }

    /// Sets both policies explicitly.
    pub fn policies(mut self, deletion: Policy, update_replace: Policy) -> Self {
        self.entry.deletion_policy = Some(deletion);
        self.entry.update_replace_policy = Some(update_replace);
        self
    }

    /// Adds a `DependsOn` entry (kept sorted and unique).
    pub fn depends_on(mut self, other: &LogicalId) -> Self {
        let s = other.to_string();
        if let Err(pos) = self.entry.depends_on.binary_search(&s) {
            self.entry.depends_on.insert(pos, s);
        }
        self
    }

    /// Creates the resource only when `condition` holds.
    pub fn condition(mut self, condition: &str) -> Self {
        self.entry.condition = Some(condition.to_owned());
        self
    }

    /// Sets a metadata key (e.g. `checkov` or `cfn-lint` suppressions with their reason).
    pub fn metadata(mut self, key: &str, value: Value) -> Self {
        let meta = self
            .entry
            .metadata
            .get_or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = meta {
            m.insert(key.to_owned(), value);
        }
        self
    }

    /// Suppresses an AWS Guard Rules Registry rule on this resource
    /// (`Metadata.guard.SuppressedRules`, which the registry's rules read),
    /// with the reason beside it in `Metadata.guard.Reasons` (which the guard
    /// test requires and docs/guard.md summarizes).
    pub fn guard_suppress(mut self, s: &super::guard::Suppression) -> Self {
        add_guard_suppression(&mut self.entry.metadata, s);
        self
    }

    /// The logical id.
    pub fn id(&self) -> &LogicalId {
        &self.id
    }
}

/// A CloudFormation template.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Template {
    description: Option<String>,
    metadata: BTreeMap<String, Value>,
    parameters: BTreeMap<String, Parameter>,
    conditions: BTreeMap<String, Condition>,
    resources: BTreeMap<String, ResourceEntry>,
    outputs: BTreeMap<String, Output>,
}

const PSEUDO_PARAMETERS: &[&str] = &[
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

impl Serialize for Template {
    /// CloudFormation's section order; empty optional sections are left out.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("AWSTemplateFormatVersion", "2010-09-09")?;
        if let Some(d) = &self.description {
            m.serialize_entry("Description", d)?;
        }
        if !self.metadata.is_empty() {
            m.serialize_entry("Metadata", &self.metadata)?;
        }
        if !self.parameters.is_empty() {
            m.serialize_entry("Parameters", &self.parameters)?;
        }
        if !self.conditions.is_empty() {
            m.serialize_entry("Conditions", &self.conditions)?;
        }
        m.serialize_entry("Resources", &self.resources)?;
        if !self.outputs.is_empty() {
            m.serialize_entry("Outputs", &self.outputs)?;
        }
        m.end()
    }
}

impl Template {
    /// An empty template with a description.
    pub fn new(description: impl Into<String>) -> Self {
        Template {
            description: Some(description.into()),
            ..Default::default()
        }
    }

    /// Adds a resource. A logical id already used by a resource, parameter,
    /// condition or output is refused: CloudFormation would reject the template,
    /// and silently overwriting one would drop a resource.
    pub fn add(&mut self, res: Res) -> Result<LogicalId, TemplateError> {
        let key = LogicalId::parse(res.id.as_str())?.to_string();
        self.ensure_unused(&key)?;
        self.resources.insert(key, res.entry);
        Ok(res.id)
    }

    /// Adds a resource with no attributes: shorthand for `add(Res::new(id, props)?)`.
    pub fn add_resource<R: Resource>(
        &mut self,
        id: &LogicalId,
        properties: R,
    ) -> Result<LogicalId, TemplateError> {
        self.add(Res::new(id, properties)?)
    }

    /// Adds a parameter.
    pub fn add_parameter(&mut self, name: &str, p: Parameter) -> Result<(), TemplateError> {
        LogicalId::parse(name)?;
        self.ensure_unused(name)?;
        self.parameters.insert(name.to_owned(), p);
        Ok(())
    }

    /// Adds a condition.
    pub fn add_condition(&mut self, name: &str, c: Condition) -> Result<(), TemplateError> {
        LogicalId::parse(name)?;
        if self.conditions.contains_key(name) {
            return Err(TemplateError::DuplicateId(name.to_owned()));
        }
        self.conditions.insert(name.to_owned(), c);
        Ok(())
    }

    /// Adds an output.
    pub fn add_output(&mut self, name: &str, o: Output) -> Result<(), TemplateError> {
        LogicalId::parse(name)?;
        if self.outputs.contains_key(name) {
            return Err(TemplateError::DuplicateId(name.to_owned()));
        }
        self.outputs.insert(name.to_owned(), o);
        Ok(())
    }

    /// Sets a template-level metadata key.
    pub fn set_metadata(&mut self, key: &str, value: Value) {
        self.metadata.insert(key.to_owned(), value);
    }

    fn ensure_unused(&self, name: &str) -> Result<(), TemplateError> {
        if self.resources.contains_key(name) || self.parameters.contains_key(name) {
            return Err(TemplateError::DuplicateId(name.to_owned()));
        }
        Ok(())
    }

    /// [`Res::guard_suppress`] for a resource already in the template.
    pub fn guard_suppress(
        &mut self,
        id: &LogicalId,
        s: &super::guard::Suppression,
    ) -> Result<(), TemplateError> {
        let entry = self.resources.get_mut(id.as_str()).ok_or_else(|| {
            TemplateError::DanglingReferences(vec![format!(
                "guard suppression {} on missing resource {id}",
                s.rule
            )])
        })?;
        add_guard_suppression(&mut entry.metadata, s);
        Ok(())
    }

    /// The resources, by logical id.
    pub fn resources(&self) -> &BTreeMap<String, ResourceEntry> {
        &self.resources
    }

    /// The outputs, by name.
    pub fn outputs(&self) -> &BTreeMap<String, Output> {
        &self.outputs
    }

    /// The parameters, by name.
    pub fn parameters(&self) -> &BTreeMap<String, Parameter> {
        &self.parameters
    }

    /// Checks that every `Ref`, `Fn::GetAtt`, `Fn::Sub` variable, `DependsOn`,
    /// `Fn::If` and `Condition` names something the template defines. A dangling
    /// reference is otherwise found only by CloudFormation, at deploy time.
    pub fn check_references(&self) -> Result<(), TemplateError> {
        let mut problems = Vec::new();
        let known = |name: &str| {
            self.resources.contains_key(name)
                || self.parameters.contains_key(name)
                || PSEUDO_PARAMETERS.contains(&name)
        };
        let check = |problems: &mut Vec<String>, at: &str, value: &Value| {
            let mut refs = Vec::new();
            collect_refs(value, &mut refs);
            for r in refs {
                let ok = match &r {
                    Reference::Name(n) => known(n),
                    Reference::Condition(c) => self.conditions.contains_key(c.as_str()),
                };
                if !ok {
                    problems.push(format!("{at} refers to undefined {r}"));
                }
            }
        };
        for (id, entry) in &self.resources {
            check(&mut problems, &format!("resource {id}"), &entry.properties);
            for d in &entry.depends_on {
                if !self.resources.contains_key(d) {
                    problems.push(format!("resource {id} depends on undefined resource `{d}`"));
                }
            }
            if let Some(c) = &entry.condition
                && !self.conditions.contains_key(c)
            {
                problems.push(format!("resource {id} uses undefined condition `{c}`"));
            }
        }
        for (name, output) in &self.outputs {
            let v = serde_json::to_value(&output.value).unwrap_or(Value::Null);
            check(&mut problems, &format!("output {name}"), &v);
        }
        for (name, c) in &self.conditions {
            let v = serde_json::to_value(c).unwrap_or(Value::Null);
            check(&mut problems, &format!("condition {name}"), &v);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(TemplateError::DanglingReferences(problems))
        }
    }

    /// The template as a JSON value in CloudFormation's section order.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Pretty JSON with a trailing newline, the on-disk form. Serialized
    /// straight from the template (no intermediate `Value` tree): synth of a
    /// fleet of counties is dominated by this step.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// YAML, long-form intrinsics (`Fn::GetAtt: [..]`), which CloudFormation accepts.
    pub fn to_yaml(&self) -> Result<String, TemplateError> {
        serde_saphyr::to_string(&self.to_value()).map_err(|e| TemplateError::Serialize {
            id: "template".into(),
            message: e.to_string(),
        })
    }
}

enum Reference {
    Name(String),
    Condition(String),
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reference::Name(n) => write!(f, "`{n}`"),
            Reference::Condition(c) => write!(f, "condition `{c}`"),
        }
    }
}

/// Collects the names an expression tree refers to.
fn collect_refs(v: &Value, out: &mut Vec<Reference>) {
    match v {
        Value::Object(m) if m.len() == 1 => {
            let (k, arg) = m
                .iter()
                .next()
                .map(|(k, a)| (k.as_str(), a))
                .unwrap_or(("", v));
            match (k, arg) {
                ("Ref", Value::String(name)) => out.push(Reference::Name(name.clone())),
                ("Fn::GetAtt", Value::Array(a)) => {
                    if let Some(Value::String(name)) = a.first() {
                        out.push(Reference::Name(name.clone()));
                    }
                }
                ("Fn::Sub", Value::String(t)) => sub_names(t, &[], out),
                ("Fn::Sub", Value::Array(a)) => {
                    let vars: Vec<&str> = a
                        .get(1)
                        .and_then(Value::as_object)
                        .map(|o| o.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    if let Some(Value::String(t)) = a.first() {
                        sub_names(t, &vars, out);
                    }
                    for x in a.iter().skip(1) {
                        collect_refs(x, out);
                    }
                }
                ("Fn::If", Value::Array(a)) => {
                    if let Some(Value::String(c)) = a.first() {
                        out.push(Reference::Condition(c.clone()));
                    }
                    for x in a.iter().skip(1) {
                        collect_refs(x, out);
                    }
                }
                ("Condition", Value::String(c)) => out.push(Reference::Condition(c.clone())),
                _ => collect_refs(arg, out),
            }
        }
        Value::Object(m) => m.values().for_each(|x| collect_refs(x, out)),
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

/// Names used by `${Name}` and `${Name.Attr}` in a `Fn::Sub` template (`${!x}` is a literal).
fn sub_names(t: &str, vars: &[&str], out: &mut Vec<Reference>) {
    let mut rest = t;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let inner = &after[..end];
        if !inner.starts_with('!') {
            let name = inner.split('.').next().unwrap_or(inner);
            if !vars.contains(&inner) && !vars.contains(&name) {
                out.push(Reference::Name(name.to_owned()));
            }
        }
        rest = &after[end + 1..];
    }
}

fn add_guard_suppression(metadata: &mut Option<Value>, s: &super::guard::Suppression) {
    let meta = metadata.get_or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(m) = meta {
        let guard = m
            .entry("guard")
            .or_insert_with(|| serde_json::json!({"SuppressedRules": [], "Reasons": {}}));
        if let Some(rules) = guard["SuppressedRules"].as_array_mut() {
            rules.push(Value::String(s.rule.to_owned()));
        }
        if let Some(reasons) = guard["Reasons"].as_object_mut() {
            reasons.insert(s.rule.to_owned(), Value::String(s.reason.to_owned()));
        }
    }
}

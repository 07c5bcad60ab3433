//! IAM policy documents, used by key policies, queue and bucket policies and roles.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Expr;

/// A policy document (`Version` 2012-10-17).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

impl PolicyDocument {
    /// A document with the current policy language version.
    pub fn new(statement: Vec<Statement>) -> Self {
        PolicyDocument {
            version: "2012-10-17",
            statement,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// A principal: `"*"`, or a map such as `{"AWS": [..]}` / `{"Service": [..]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Principal {
    Any(&'static str),
    Typed(BTreeMap<&'static str, Vec<Expr>>),
}

impl Principal {
    /// Anyone (`"*"`): only ever used with `Deny` or with conditions that narrow it.
    pub fn any() -> Self {
        Principal::Any("*")
    }
    /// An AWS service principal, e.g. `dynamodb.amazonaws.com`.
    pub fn service(name: &str) -> Self {
        Principal::Typed(BTreeMap::from([("Service", vec![Expr::lit(name)])]))
    }
    /// AWS principals (account roots, roles).
    pub fn aws(arns: Vec<Expr>) -> Self {
        Principal::Typed(BTreeMap::from([("AWS", arns)]))
    }
}

/// One policy statement. Actions are literal strings: policies never grant
/// computed actions.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub effect: Effect,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    pub action: Vec<String>,
    /// Empty only in trust policies, which must not name a resource.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<Expr>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub condition: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}

impl Statement {
    /// An `Allow` of `actions` on `resources`.
    pub fn allow(actions: &[&str], resources: Vec<Expr>) -> Self {
        Statement {
            sid: None,
            effect: Effect::Allow,
            principal: None,
            action: actions.iter().map(|a| (*a).to_owned()).collect(),
            resource: resources,
            condition: BTreeMap::new(),
        }
    }
    /// A trust-policy statement: `principal` may assume the role.
    pub fn assume_role(principal: Principal) -> Self {
        Statement::allow(&["sts:AssumeRole"], Vec::new()).principal(principal)
    }
    /// A `Deny` of `actions` on `resources`.
    pub fn deny(actions: &[&str], resources: Vec<Expr>) -> Self {
        Statement {
            effect: Effect::Deny,
            ..Self::allow(actions, resources)
        }
    }
    /// Sets the statement id.
    pub fn sid(mut self, sid: &str) -> Self {
        self.sid = Some(sid.to_owned());
        self
    }
    /// Sets the principal.
    pub fn principal(mut self, p: Principal) -> Self {
        self.principal = Some(p);
        self
    }
    /// Adds a condition, e.g. `("Bool", "aws:SecureTransport", false)`. The value
    /// may be a literal or an [`Expr`].
    pub fn when(mut self, operator: &str, key: &str, value: impl Serialize) -> Self {
        // Values here are literals, lists of strings or `Expr`s, whose
        // serialization cannot fail; `Null` would only mask a programming error,
        // and cfn-lint rejects it in the tests.
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self.condition
            .entry(operator.to_owned())
            .or_default()
            .insert(key.to_owned(), value);
        self
    }

    /// The TLS-only statement every queue, topic and bucket policy carries:
    /// deny every action over plain HTTP.
    pub fn deny_insecure_transport(actions: &[&str], resources: Vec<Expr>) -> Self {
        Statement::deny(actions, resources)
            .sid("DenyInsecureTransport")
            .principal(Principal::any())
            .when("Bool", "aws:SecureTransport", false)
    }
}

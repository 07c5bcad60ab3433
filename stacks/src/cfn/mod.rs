//! A typed model of CloudFormation: templates, intrinsic functions, resource
//! attributes and the resource types the county stack uses. Templates are Rust
//! values serialized with serde — never text assembled from strings.

mod expr;
pub mod guard;
mod iam;
pub mod resources;
mod template;

pub use expr::{Expr, ListExpr};
pub use iam::{Effect, PolicyDocument, Principal, Statement};
pub use template::{Export, Output, Parameter, Policy, Res, ResourceEntry, Template};

use std::fmt;

use serde::{Serialize, Serializer};

/// A CloudFormation resource type: its properties struct serializes to the
/// `Properties` object and `TYPE` is the `Type` string.
pub trait Resource: Serialize {
    /// e.g. `AWS::DynamoDB::Table`.
    const TYPE: &'static str;
}

/// A logical id: ASCII letters and digits only, at most 255 characters
/// (CloudFormation's rule for resource, parameter, condition and output names).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogicalId(String);

impl LogicalId {
    /// A logical id the program itself spells. Ids are constants in the stack
    /// builders, so a malformed one is a bug; [`Template::add`] still validates
    /// every id before it enters a template.
    pub fn new(id: impl Into<String>) -> Self {
        LogicalId(id.into())
    }

    /// A validated logical id.
    pub fn parse(id: &str) -> Result<Self, TemplateError> {
        if id.is_empty() || id.len() > 255 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(TemplateError::InvalidLogicalId(id.to_owned()));
        }
        Ok(LogicalId(id.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `Ref` to this resource.
    pub fn r#ref(&self) -> Expr {
        Expr::r#ref(self)
    }

    /// `Fn::GetAtt [self, attr]`.
    pub fn att(&self, attr: &str) -> Expr {
        Expr::get_att(self, attr)
    }

    /// `Fn::GetAtt [self, Arn]`.
    pub fn arn(&self) -> Expr {
        Expr::arn_of(self)
    }
}

impl fmt::Display for LogicalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for LogicalId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A template condition (`Conditions` section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Equals(Expr, Expr),
    Not(Box<Condition>),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    /// `{"Condition": name}`: another named condition.
    Named(String),
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        match self {
            Condition::Equals(a, b) => m.serialize_entry("Fn::Equals", &(a, b))?,
            Condition::Not(c) => m.serialize_entry("Fn::Not", &[c.as_ref()])?,
            Condition::And(cs) => m.serialize_entry("Fn::And", cs)?,
            Condition::Or(cs) => m.serialize_entry("Fn::Or", cs)?,
            Condition::Named(n) => m.serialize_entry("Condition", n)?,
        }
        m.end()
    }
}

/// A resource tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: Expr,
}

impl Tag {
    /// A literal tag.
    pub fn new(key: &str, value: impl Into<Expr>) -> Self {
        Tag {
            key: key.to_owned(),
            value: value.into(),
        }
    }
}

impl PartialOrd for Expr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Expr {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        format!("{self:?}").cmp(&format!("{other:?}"))
    }
}

/// Errors building a template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("logical id `{0}` is used twice in the template")]
    DuplicateId(String),
    #[error("logical id `{0}` is invalid: use 1 to 255 ASCII letters and digits")]
    InvalidLogicalId(String),
    #[error("resource `{id}` could not be serialized: {message}")]
    Serialize { id: String, message: String },
    #[error("the template has dangling references:\n  {}", .0.join("\n  "))]
    DanglingReferences(Vec<String>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Topic {
        topic_name: Expr,
    }
    impl Resource for Topic {
        const TYPE: &'static str = "AWS::SNS::Topic";
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let mut t = Template::new("t");
        let id = LogicalId::new("Topic");
        t.add_resource(
            &id,
            Topic {
                topic_name: "a".into(),
            },
        )
        .expect("first add");
        let err = t
            .add_resource(
                &id,
                Topic {
                    topic_name: "b".into(),
                },
            )
            .expect_err("second add must fail");
        assert_eq!(err, TemplateError::DuplicateId("Topic".into()));
        t.add_parameter("P", Parameter::string("p")).expect("param");
        assert!(
            t.add_resource(
                &LogicalId::new("P"),
                Topic {
                    topic_name: "c".into()
                }
            )
            .is_err()
        );
    }

    #[test]
    fn invalid_logical_ids_are_refused() {
        let mut t = Template::new("t");
        assert!(
            t.add_resource(
                &LogicalId::new("my-topic"),
                Topic {
                    topic_name: "a".into()
                }
            )
            .is_err()
        );
        assert!(LogicalId::parse("").is_err());
        assert!(LogicalId::parse(&"A".repeat(256)).is_err());
        assert!(LogicalId::parse("Orders1").is_ok());
    }

    #[test]
    fn template_sections_and_attributes_serialize_in_order() {
        let mut t = Template::new("demo");
        let a = LogicalId::new("B");
        let b = LogicalId::new("A");
        t.add_condition(
            "IsProd",
            Condition::Equals(Expr::param("Env"), "prod".into()),
        )
        .expect("cond");
        t.add_parameter("Env", Parameter::string("environment"))
            .expect("param");
        t.add(
            Res::new(
                &a,
                Topic {
                    topic_name: Expr::if_("IsProd", "p".into(), Expr::NoValue),
                },
            )
            .expect("res")
            .retain()
            .depends_on(&b)
            .condition("IsProd"),
        )
        .expect("add");
        t.add_resource(
            &b,
            Topic {
                topic_name: Expr::sub("${AWS::StackName}-a"),
            },
        )
        .expect("add");
        t.add_output(
            "TopicArn",
            Output {
                description: "arn".into(),
                value: a.r#ref(),
                export: None,
                condition: Some("IsProd".into()),
            },
        )
        .expect("output");
        t.check_references().expect("references resolve");
        let v = t.to_value();
        let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
        assert_eq!(
            keys,
            [
                "AWSTemplateFormatVersion",
                "Description",
                "Parameters",
                "Conditions",
                "Resources",
                "Outputs"
            ]
        );
        assert_eq!(
            v["Resources"]["B"],
            json!({
                "Type": "AWS::SNS::Topic",
                "Condition": "IsProd",
                "DependsOn": ["A"],
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {"TopicName": {"Fn::If": ["IsProd", "p", {"Ref": "AWS::NoValue"}]}}
            })
        );
        let res_keys: Vec<&String> = v["Resources"].as_object().expect("object").keys().collect();
        assert_eq!(res_keys, ["A", "B"], "resources are sorted by logical id");
    }

    #[test]
    fn dangling_references_are_reported() {
        let mut t = Template::new("t");
        t.add(
            Res::new(
                &LogicalId::new("A"),
                Topic {
                    topic_name: Expr::sub_with(
                        "${Missing.Arn}-${V}-${!Literal}-${AWS::Region}",
                        vec![("V", Expr::arn_of(&LogicalId::new("Gone")))],
                    ),
                },
            )
            .expect("res")
            .depends_on(&LogicalId::new("Nope")),
        )
        .expect("add");
        let err = t.check_references().expect_err("dangling");
        let TemplateError::DanglingReferences(p) = err else {
            panic!("wrong error")
        };
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p.iter().any(|m| m.contains("`Missing`")));
        assert!(p.iter().any(|m| m.contains("`Gone`")));
        assert!(p.iter().any(|m| m.contains("`Nope`")));
    }

    #[test]
    fn yaml_output_round_trips_to_the_same_value() {
        let mut t = Template::new("demo: with a colon");
        t.add_resource(
            &LogicalId::new("A"),
            Topic {
                topic_name: Expr::sub("${AWS::StackName}"),
            },
        )
        .expect("add");
        let yaml = t.to_yaml().expect("yaml");
        let back: serde_json::Value = serde_saphyr::from_str(&yaml).expect("parses back");
        assert_eq!(back, t.to_value());
        assert!(yaml.contains("AWSTemplateFormatVersion"));
    }
}

//! Values that CloudFormation resolves at deploy time: literals, `Ref`,
//! `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, `Fn::If`, `Fn::Select`, `Fn::Split`
//! and the pseudo parameters. Property fields that CloudFormation lets hold an
//! intrinsic function are typed [`Expr`]; fields that must be literal keep their
//! plain Rust type, so a misuse fails to compile instead of failing a deploy.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::LogicalId;

/// A string-valued CloudFormation expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A literal string.
    Lit(String),
    /// `{"Ref": name}`: a resource's primary value, a parameter, or a pseudo parameter.
    Ref(String),
    /// `{"Fn::GetAtt": [resource, attribute]}`.
    GetAtt(String, String),
    /// `{"Fn::Sub": template}` or, with variables, `{"Fn::Sub": [template, {vars}]}`.
    Sub(String, Vec<(String, Expr)>),
    /// `{"Fn::Join": [separator, [parts]]}`.
    Join(String, Vec<Expr>),
    /// `{"Fn::If": [condition, then, else]}`.
    If(String, Box<Expr>, Box<Expr>),
    /// `{"Fn::Select": [index, list]}`.
    Select(u32, Box<ListExpr>),
    /// `{"Ref": "AWS::NoValue"}`: removes the property when used under `Fn::If`.
    NoValue,
}

/// A list-valued expression (the argument of `Fn::Select`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListExpr {
    /// `{"Fn::Split": [separator, source]}`.
    Split(String, Expr),
    /// `{"Fn::GetAZs": region}` (empty string = the stack's region).
    GetAzs(String),
    /// A literal list.
    List(Vec<Expr>),
}

impl Expr {
    /// A literal.
    pub fn lit(s: impl Into<String>) -> Self {
        Expr::Lit(s.into())
    }
    /// `Ref` to a resource or parameter.
    pub fn r#ref(id: &LogicalId) -> Self {
        Expr::Ref(id.as_str().to_owned())
    }
    /// `Ref` to a parameter by name.
    pub fn param(name: &str) -> Self {
        Expr::Ref(name.to_owned())
    }
    /// `Fn::GetAtt` of a resource.
    pub fn get_att(id: &LogicalId, attribute: &str) -> Self {
        Expr::GetAtt(id.as_str().to_owned(), attribute.to_owned())
    }
    /// `Fn::GetAtt [id, Arn]`, the most common attribute.
    pub fn arn_of(id: &LogicalId) -> Self {
        Self::get_att(id, "Arn")
    }
    /// `Fn::Sub` without variables: `${AWS::Region}`, `${Resource}`, `${Resource.Arn}`.
    pub fn sub(template: impl Into<String>) -> Self {
        Expr::Sub(template.into(), Vec::new())
    }
    /// `Fn::Sub` with variables.
    pub fn sub_with(template: impl Into<String>, vars: Vec<(&str, Expr)>) -> Self {
        Expr::Sub(
            template.into(),
            vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        )
    }
    /// `Fn::Join`.
    pub fn join(separator: &str, parts: Vec<Expr>) -> Self {
        Expr::Join(separator.to_owned(), parts)
    }
    /// `Fn::If`.
    pub fn if_(condition: &str, then: Expr, otherwise: Expr) -> Self {
        Expr::If(condition.to_owned(), Box::new(then), Box::new(otherwise))
    }
    /// `AWS::AccountId`.
    pub fn account_id() -> Self {
        Expr::Ref("AWS::AccountId".into())
    }
    /// `AWS::Region`.
    pub fn region() -> Self {
        Expr::Ref("AWS::Region".into())
    }
    /// `AWS::Partition` (`aws`, `aws-us-gov`, `aws-cn`): ARNs built with it work in every partition.
    pub fn partition() -> Self {
        Expr::Ref("AWS::Partition".into())
    }
    /// `AWS::StackName`.
    pub fn stack_name() -> Self {
        Expr::Ref("AWS::StackName".into())
    }
    /// `AWS::URLSuffix`.
    pub fn url_suffix() -> Self {
        Expr::Ref("AWS::URLSuffix".into())
    }

    /// The literal text, if this is a literal.
    pub fn as_lit(&self) -> Option<&str> {
        match self {
            Expr::Lit(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for Expr {
    fn from(s: &str) -> Self {
        Expr::Lit(s.to_owned())
    }
}

impl From<String> for Expr {
    fn from(s: String) -> Self {
        Expr::Lit(s)
    }
}

impl From<&String> for Expr {
    fn from(s: &String) -> Self {
        Expr::Lit(s.clone())
    }
}

/// Serializes `{key: value}`, the shape of every intrinsic function.
fn single<S: Serializer, V: Serialize + ?Sized>(
    s: S,
    key: &str,
    value: &V,
) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(1))?;
    m.serialize_entry(key, value)?;
    m.end()
}

/// A tuple of heterogeneous serializable values, serialized as a JSON array.
struct Args<'a>(&'a [&'a dyn erased::Ser]);

mod erased {
    //! Minimal object-safe serialization for heterogeneous argument lists.
    pub trait Ser {
        fn to_value(&self) -> Result<serde_json::Value, serde_json::Error>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
            serde_json::to_value(self)
        }
    }
}

impl Serialize for Args<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for a in self.0 {
            let v = a.to_value().map_err(serde::ser::Error::custom)?;
            seq.serialize_element(&v)?;
        }
        seq.end()
    }
}

/// Variables of a `Fn::Sub`, in the order given (deterministic).
struct SubVars<'a>(&'a [(String, Expr)]);

impl Serialize for SubVars<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Expr::Lit(v) => s.serialize_str(v),
            Expr::Ref(name) => single(s, "Ref", name),
            Expr::NoValue => single(s, "Ref", "AWS::NoValue"),
            Expr::GetAtt(id, attr) => single(s, "Fn::GetAtt", &[id, attr]),
            Expr::Sub(t, vars) if vars.is_empty() => single(s, "Fn::Sub", t),
            Expr::Sub(t, vars) => single(s, "Fn::Sub", &Args(&[t, &SubVars(vars)])),
            Expr::Join(sep, parts) => single(s, "Fn::Join", &Args(&[sep, parts])),
            Expr::If(c, a, b) => single(s, "Fn::If", &Args(&[c, a.as_ref(), b.as_ref()])),
            Expr::Select(i, list) => single(s, "Fn::Select", &Args(&[i, list.as_ref()])),
        }
    }
}

impl Serialize for ListExpr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ListExpr::Split(sep, src) => single(s, "Fn::Split", &Args(&[sep, src])),
            ListExpr::GetAzs(region) => single(s, "Fn::GetAZs", region),
            ListExpr::List(items) => items.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn j(e: &Expr) -> serde_json::Value {
        serde_json::to_value(e).expect("serializes")
    }

    #[test]
    fn intrinsics_serialize_to_cloudformation_shapes() {
        let id = LogicalId::new("OrdersTable");
        assert_eq!(j(&Expr::lit("x")), json!("x"));
        assert_eq!(j(&Expr::r#ref(&id)), json!({"Ref": "OrdersTable"}));
        assert_eq!(
            j(&Expr::arn_of(&id)),
            json!({"Fn::GetAtt": ["OrdersTable", "Arn"]})
        );
        assert_eq!(
            j(&Expr::sub("${AWS::Region}")),
            json!({"Fn::Sub": "${AWS::Region}"})
        );
        assert_eq!(
            j(&Expr::sub_with(
                "${T}/index/*",
                vec![("T", Expr::arn_of(&id))]
            )),
            json!({"Fn::Sub": ["${T}/index/*", {"T": {"Fn::GetAtt": ["OrdersTable", "Arn"]}}]})
        );
        assert_eq!(
            j(&Expr::join(":", vec![Expr::partition(), "x".into()])),
            json!({"Fn::Join": [":", [{"Ref": "AWS::Partition"}, "x"]]})
        );
        assert_eq!(
            j(&Expr::if_("HasDax", Expr::lit("a"), Expr::NoValue)),
            json!({"Fn::If": ["HasDax", "a", {"Ref": "AWS::NoValue"}]})
        );
        assert_eq!(
            j(&Expr::Select(0, Box::new(ListExpr::GetAzs(String::new())))),
            json!({"Fn::Select": [0, {"Fn::GetAZs": ""}]})
        );
        assert_eq!(
            j(&Expr::Select(
                1,
                Box::new(ListExpr::Split("/".into(), Expr::r#ref(&id)))
            )),
            json!({"Fn::Select": [1, {"Fn::Split": ["/", {"Ref": "OrdersTable"}]}]})
        );
    }
}

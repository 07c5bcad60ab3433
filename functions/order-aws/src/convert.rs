//! The domain's [`AttrValue`]/[`Item`] to the SDK's `AttributeValue` and back.
//!
//! The domain models only the types it writes (`S`, `N`, `BOOL`, `NULL`, `L`,
//! `M`); an item read back with a set or binary attribute was not written by
//! these functions, and is refused with the attribute's name.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use order_domain::store::{AttrValue, Item};

/// An SDK item.
pub type SdkItem = HashMap<String, AttributeValue>;

pub fn to_sdk(v: &AttrValue) -> AttributeValue {
    match v {
        AttrValue::S(s) => AttributeValue::S(s.clone()),
        AttrValue::N(n) => AttributeValue::N(n.clone()),
        AttrValue::Bool(b) => AttributeValue::Bool(*b),
        AttrValue::Null => AttributeValue::Null(true),
        AttrValue::L(l) => AttributeValue::L(l.iter().map(to_sdk).collect()),
        AttrValue::M(m) => {
            AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), to_sdk(v))).collect())
        }
    }
}

pub fn item_to_sdk(item: &Item) -> SdkItem {
    item.iter().map(|(k, v)| (k.clone(), to_sdk(v))).collect()
}

/// `None` for an empty map: DynamoDB rejects empty `ExpressionAttribute*` maps.
pub fn non_empty<K, V, T>(
    m: &std::collections::BTreeMap<K, V>,
    f: impl Fn(&V) -> T,
) -> Option<HashMap<K, T>>
where
    K: Clone + Eq + std::hash::Hash,
{
    (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), f(v))).collect())
}

/// An attribute of a type the domain does not model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("attribute `{path}` has type {kind}, which the order domain does not use")]
pub struct UnsupportedType {
    pub path: String,
    pub kind: &'static str,
}

pub fn from_sdk(path: &str, v: &AttributeValue) -> Result<AttrValue, UnsupportedType> {
    Ok(match v {
        AttributeValue::S(s) => AttrValue::S(s.clone()),
        AttributeValue::N(n) => AttrValue::N(n.clone()),
        AttributeValue::Bool(b) => AttrValue::Bool(*b),
        AttributeValue::Null(_) => AttrValue::Null,
        AttributeValue::L(l) => AttrValue::L(
            l.iter()
                .enumerate()
                .map(|(i, v)| from_sdk(&format!("{path}[{i}]"), v))
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::M(m) => AttrValue::M(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), from_sdk(&format!("{path}.{k}"), v)?)))
                .collect::<Result<_, _>>()?,
        ),
        other => {
            let kind = match other {
                AttributeValue::B(_) => "B",
                AttributeValue::Bs(_) => "BS",
                AttributeValue::Ns(_) => "NS",
                AttributeValue::Ss(_) => "SS",
                _ => "unknown",
            };
            return Err(UnsupportedType {
                path: path.to_owned(),
                kind,
            });
        }
    })
}

pub fn item_from_sdk(item: &SdkItem) -> Result<Item, UnsupportedType> {
    item.iter()
        .map(|(k, v)| Ok((k.clone(), from_sdk(k, v)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let json = r#"{"a":{"S":"x"},"b":{"N":"-12.50"},"c":{"BOOL":true},"d":{"NULL":true},
                       "e":{"L":[{"S":"y"},{"M":{"f":{"N":"1"}}}]}}"#;
        let item: Item = serde_json::from_str(json).unwrap();
        let sdk = item_to_sdk(&item);
        assert_eq!(sdk["b"], AttributeValue::N("-12.50".into()));
        assert_eq!(sdk["d"], AttributeValue::Null(true));
        assert_eq!(item_from_sdk(&sdk).unwrap(), item);
    }

    #[test]
    fn sets_are_refused_with_their_path() {
        let sdk: SdkItem = [(
            "m".to_owned(),
            AttributeValue::M([("tags".to_owned(), AttributeValue::Ss(vec!["a".into()]))].into()),
        )]
        .into();
        let err = item_from_sdk(&sdk).unwrap_err();
        assert_eq!(err.path, "m.tags");
        assert_eq!(err.kind, "SS");
    }
}

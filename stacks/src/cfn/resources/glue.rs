//! `AWS::Glue::Database` and `AWS::Glue::Table`: the Data Catalog entries
//! Athena reads.

use std::collections::BTreeMap;

use serde::Serialize;

use super::resource;
use crate::cfn::Expr;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Database {
    /// The account id (`AWS::AccountId`): the account's own catalog.
    pub catalog_id: Expr,
    pub database_input: DatabaseInput,
}
resource!(Database, "AWS::Glue::Database");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DatabaseInput {
    /// Lower case letters, digits and `_`: Athena lower-cases names, and `-`
    /// would need quoting in every query.
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Table {
    pub catalog_id: Expr,
    pub database_name: Expr,
    pub table_input: TableInput,
}
resource!(Table, "AWS::Glue::Table");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableInput {
    pub name: String,
    pub description: String,
    /// `EXTERNAL_TABLE`: the data lives in S3 and outlives the table.
    pub table_type: &'static str,
    /// Table properties, e.g. `classification` and partition projection.
    pub parameters: BTreeMap<String, Expr>,
    pub partition_keys: Vec<Column>,
    pub storage_descriptor: StorageDescriptor,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Column {
    pub name: String,
    /// A Hive type, e.g. `string`, `bigint`, `struct<a:string>`.
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl Column {
    pub fn new(name: &str, kind: &str, comment: &str) -> Self {
        Column {
            name: name.to_owned(),
            kind: kind.to_owned(),
            comment: (!comment.is_empty()).then(|| comment.to_owned()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StorageDescriptor {
    pub columns: Vec<Column>,
    pub location: Expr,
    pub input_format: &'static str,
    pub output_format: &'static str,
    pub compressed: bool,
    pub serde_info: SerdeInfo,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SerdeInfo {
    pub serialization_library: &'static str,
    pub parameters: BTreeMap<String, String>,
}

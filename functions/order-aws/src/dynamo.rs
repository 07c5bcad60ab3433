//! [`DynamoStore`]: the domain's [`Store`] on DynamoDB, a 1:1 translation of
//! the domain's rendered plans (`WriteOp::render`, `Query::render`) into SDK
//! requests. Values only ever travel in `ExpressionAttributeValues` and names
//! in `ExpressionAttributeNames`: nothing is spliced into an expression.

use std::fmt;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    self as ddb, PutRequest, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    WriteRequest,
};
use order_domain::store::{
    BATCH_WRITE_MAX, CancelReason, Delete, Item, Page, PlanError, Put, Query, Store, StoreError,
    Table, TableNames, Transaction, TxCanceled, Update, WriteKind, WriteOp,
};

use crate::convert::{SdkItem, item_from_sdk, item_to_sdk, non_empty, to_sdk};

/// The order tables of one county, through one SDK client (build it once per
/// process: it holds the connection pool and credentials cache).
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    tables: TableNames,
}

impl fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoStore")
            .field("tables", &self.tables)
            .finish_non_exhaustive()
    }
}

/// DynamoDB error codes that mean "too much, slow down" (retryable).
const THROTTLING_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "Throttling",
];

/// Codes that mean the service had a problem (retryable).
const UNAVAILABLE_CODES: &[&str] = &[
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// A single-item write met a transaction under way on the same item: nothing
/// was written, and the same write may go through a moment later (DynamoDB's
/// advice is to retry). Transactions report their conflicts as cancellation
/// reasons instead ([`CancelReason::TransactionConflict`]).
const CONFLICT_CODES: &[&str] = &["TransactionConflictException"];

/// Maps any SDK failure onto the domain's retryable / not-retryable split.
fn classify<E>(op: &str, err: &SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let text = format!("{op}: {}", DisplayErrorContext(err));
    match err {
        // Never got an answer (connect error, timeout, unparseable response):
        // the call may or may not have happened; every write here is
        // conditional, so a retry is safe.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(text)
        }
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or_default();
            let status = se.raw().status().as_u16();
            if THROTTLING_CODES.contains(&code) || status == 429 {
                StoreError::Throttled(text)
            } else if CONFLICT_CODES.contains(&code) {
                StoreError::Conflict(text)
            } else if UNAVAILABLE_CODES.contains(&code) || status >= 500 {
                StoreError::Unavailable(text)
            } else {
                // ValidationException, ResourceNotFoundException (a table
                // missing: a deployment bug), AccessDenied...: the same
                // request fails the same way again.
                StoreError::Validation(text)
            }
        }
        _ => StoreError::Validation(text),
    }
}

fn build_error(e: impl fmt::Display) -> StoreError {
    StoreError::Validation(format!("building the request: {e}"))
}

fn read_item(table: Table, item: &SdkItem) -> Result<Item, StoreError> {
    item_from_sdk(item).map_err(|e| StoreError::Validation(format!("{table:?} item: {e}")))
}

fn read_opt_item(table: Table, item: Option<&SdkItem>) -> Result<Option<Item>, StoreError> {
    item.filter(|i| !i.is_empty())
        .map(|i| read_item(table, i))
        .transpose()
}

/// A single-item write's error that may be its condition failing, with the
/// item as it is (`ALL_OLD`).
trait ConditionFailure {
    /// `Some(item)` if the condition failed.
    fn condition_failed(&self) -> Option<Option<&SdkItem>>;
}

macro_rules! condition_failure {
    ($($error:ty),+) => {$(
        impl ConditionFailure for $error {
            fn condition_failed(&self) -> Option<Option<&SdkItem>> {
                match self {
                    Self::ConditionalCheckFailedException(e) => Some(e.item()),
                    _ => None,
                }
            }
        }
    )+};
}

condition_failure!(PutItemError, UpdateItemError, DeleteItemError);

/// A single-item write's SDK failure as the domain's: a failed condition
/// with the item it found, or [`classify`].
fn write_error<E>(op: &str, table: Table, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ConditionFailure + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let SdkError::ServiceError(se) = &err
        && let Some(item) = se.err().condition_failed()
    {
        return match read_opt_item(table, item) {
            Ok(item) => StoreError::ConditionFailed { item },
            Err(e) => e,
        };
    }
    classify(op, &err)
}

/// One write op in SDK types: the single translation of the domain's
/// rendered write that every write request is built from.
struct SdkWrite {
    kind: WriteKind,
    table: Table,
    table_name: String,
    /// `Item` of a Put.
    item: Option<SdkItem>,
    /// `Key` of the others.
    key: Option<SdkItem>,
    update_expression: Option<String>,
    condition_expression: Option<String>,
    names: Option<HashMap<String, String>>,
    values: Option<SdkItem>,
}

/// Sets what every write request carries on one of the SDK's request
/// builders (each request type has its own builder, with the same setters):
/// table, condition, placeholders, and the item as it was when the condition
/// fails (`ALL_OLD`: the services replay the winner's answer from it).
macro_rules! conditional_write {
    ($builder:expr, $w:expr) => {
        $builder
            .table_name($w.table_name)
            .set_condition_expression($w.condition_expression)
            .set_expression_attribute_names($w.names)
            .set_expression_attribute_values($w.values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    };
}

impl DynamoStore {
    pub fn new(client: Client, tables: TableNames) -> Self {
        Self { client, tables }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// The physical name; for the Customers table in a function the stack
    /// did not give it to, an error naming the missing variable.
    fn name(&self, table: Table) -> Result<String, StoreError> {
        Ok(self.tables.name(table)?.to_owned())
    }

    fn sdk_write(&self, op: &WriteOp) -> Result<SdkWrite, StoreError> {
        let r = op.render();
        Ok(SdkWrite {
            kind: r.kind,
            table: r.table,
            table_name: self.name(r.table)?,
            item: r.item.as_ref().map(item_to_sdk),
            key: r.key.as_ref().map(item_to_sdk),
            update_expression: r.update_expression,
            condition_expression: r.condition_expression,
            names: non_empty(&r.expression_attribute_names, Clone::clone),
            values: non_empty(&r.expression_attribute_values, to_sdk),
        })
    }

    /// One op as a `TransactWriteItem`.
    fn transact_item(&self, op: &WriteOp) -> Result<TransactWriteItem, StoreError> {
        let w = self.sdk_write(op)?;
        let b = TransactWriteItem::builder();
        Ok(match w.kind {
            WriteKind::Put => b.put(
                conditional_write!(ddb::Put::builder().set_item(w.item), w)
                    .build()
                    .map_err(build_error)?,
            ),
            WriteKind::Update => b.update(
                conditional_write!(
                    ddb::Update::builder()
                        .set_key(w.key)
                        .set_update_expression(w.update_expression),
                    w
                )
                .build()
                .map_err(build_error)?,
            ),
            WriteKind::Delete => b.delete(
                conditional_write!(ddb::Delete::builder().set_key(w.key), w)
                    .build()
                    .map_err(build_error)?,
            ),
            WriteKind::ConditionCheck => b.condition_check(
                conditional_write!(ddb::ConditionCheck::builder().set_key(w.key), w)
                    .build()
                    .map_err(build_error)?,
            ),
        }
        .build())
    }

    /// `TransactionCanceledException` → one reason per op, in op order.
    fn canceled(tx: &Transaction, reasons: &[ddb::CancellationReason]) -> StoreError {
        let reasons = tx
            .ops()
            .iter()
            .enumerate()
            .map(|(i, op)| {
                let r = reasons.get(i)?;
                let item = r
                    .item()
                    .and_then(|it| read_opt_item(op.table(), Some(it)).ok().flatten());
                CancelReason::from_code(r.code().unwrap_or("None"), r.message(), item)
            })
            .collect();
        StoreError::TransactionCanceled(TxCanceled { reasons })
    }
}

impl Store for DynamoStore {
    async fn transact(&self, tx: Transaction) -> Result<(), StoreError> {
        let items = tx
            .ops()
            .iter()
            .map(|op| self.transact_item(op))
            .collect::<Result<Vec<_>, _>>()?;
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(se))
                if matches!(
                    se.err(),
                    TransactWriteItemsError::TransactionCanceledException(_)
                ) =>
            {
                let reasons = match se.err() {
                    TransactWriteItemsError::TransactionCanceledException(e) => {
                        e.cancellation_reasons()
                    }
                    _ => &[],
                };
                Err(Self::canceled(&tx, reasons))
            }
            Err(e) => Err(classify("TransactWriteItems", &e)),
        }
    }

    async fn get(
        &self,
        table: Table,
        key: Item,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.name(table)?)
            .set_key(Some(item_to_sdk(&key)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| classify("GetItem", &e))?;
        read_opt_item(table, out.item())
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        let r = query.render();
        let out = self
            .client
            .query()
            .table_name(self.name(r.table)?)
            .set_index_name(r.index_name.map(str::to_owned))
            .key_condition_expression(r.key_condition_expression)
            .set_expression_attribute_names(non_empty(&r.expression_attribute_names, Clone::clone))
            .set_expression_attribute_values(non_empty(&r.expression_attribute_values, to_sdk))
            .scan_index_forward(r.scan_index_forward)
            .set_limit(r.limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX)))
            .set_exclusive_start_key(r.exclusive_start_key.as_ref().map(item_to_sdk))
            .consistent_read(r.consistent_read)
            .send()
            .await
            .map_err(|e| classify("Query", &e))?;
        let items = out
            .items()
            .iter()
            .map(|i| read_item(r.table, i))
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            last_evaluated_key: read_opt_item(r.table, out.last_evaluated_key())?,
        })
    }

    async fn put(&self, put: Put) -> Result<(), StoreError> {
        let w = self.sdk_write(&WriteOp::Put(put))?;
        let table = w.table;
        conditional_write!(self.client.put_item().set_item(w.item), w)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| write_error("PutItem", table, e))
    }

    async fn update(&self, update: Update) -> Result<Item, StoreError> {
        let w = self.sdk_write(&WriteOp::Update(update))?;
        let table = w.table;
        let out = conditional_write!(
            self.client
                .update_item()
                .set_key(w.key)
                .set_update_expression(w.update_expression),
            w
        )
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .map_err(|e| write_error("UpdateItem", table, e))?;
        Ok(read_opt_item(table, out.attributes())?.unwrap_or_default())
    }

    async fn delete(&self, delete: Delete) -> Result<Option<Item>, StoreError> {
        let w = self.sdk_write(&WriteOp::Delete(delete))?;
        let table = w.table;
        let out = conditional_write!(self.client.delete_item().set_key(w.key), w)
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| write_error("DeleteItem", table, e))?;
        read_opt_item(table, out.attributes())
    }

    async fn batch_put(&self, table: Table, items: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        // DynamoDB's limit; moto does not enforce it, so check it here.
        if items.len() > BATCH_WRITE_MAX {
            return Err(PlanError::BatchTooLarge { got: items.len() }.into());
        }
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let name = self.name(table)?;
        let requests = items
            .iter()
            .map(|i| {
                Ok(WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item_to_sdk(i)))
                            .build()
                            .map_err(build_error)?,
                    )
                    .build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let out = self
            .client
            .batch_write_item()
            .request_items(name.clone(), requests)
            .send()
            .await
            .map_err(|e| classify("BatchWriteItem", &e))?;
        let unprocessed = out
            .unprocessed_items()
            .and_then(|m| m.get(&name))
            .map(|reqs| {
                reqs.iter()
                    .filter_map(|w| w.put_request())
                    .map(|p| read_item(table, p.item()))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(unprocessed)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_dynamodb::types::error::TransactionConflictException;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn service_error(err: PutItemError) -> SdkError<PutItemError, HttpResponse> {
        let status = StatusCode::try_from(400).unwrap_or_else(|e| panic!("{e}"));
        SdkError::service_error(err, Response::new(status, SdkBody::empty()))
    }

    fn coded(code: &str) -> PutItemError {
        PutItemError::generic(ErrorMetadata::builder().code(code).build())
    }

    #[test]
    fn a_single_item_write_that_meets_a_transaction_is_a_retryable_conflict() {
        let modeled = PutItemError::TransactionConflictException(
            TransactionConflictException::builder()
                .message("Transaction is ongoing for the item")
                .meta(
                    ErrorMetadata::builder()
                        .code("TransactionConflictException")
                        .build(),
                )
                .build(),
        );
        for err in [modeled, coded("TransactionConflictException")] {
            let e = write_error("PutItem", Table::Inventory, service_error(err));
            assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
            assert!(e.is_retryable() && e.is_conflict());
        }
        let e = classify("PutItem", &service_error(coded("ValidationException")));
        assert!(matches!(e, StoreError::Validation(_)), "{e:?}");
        assert!(!e.is_retryable());
    }
}

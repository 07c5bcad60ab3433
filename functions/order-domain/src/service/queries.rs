//! Reads: one order by id, and paginated lists by customer, store, status and
//! county.
//!
//! Status and county lists read a write-sharded GSI: the county's orders
//! are spread over `gsi_write_shards` partitions (`<key>#<shard>`) so no
//! single partition takes every write (DynamoDB caps a partition at 1,000
//! writes/s). Reading them queries every shard concurrently and merges the
//! pages by sort key; the cursor carries one position per shard.

use jiff::Timestamp;
use serde::Serialize;
use thiserror::Error;

use crate::codec::{CorruptItem, OrderSummary};
use crate::cursor::{self, CursorError};
use crate::error::{DomainError, ValidationError, ValidationErrors, store_code, store_status};
use crate::ids::{CustomerId, OrderId, StoreId};
use crate::keys;
use crate::order::{Order, OrderStatus};
use crate::rules::CountyRules;
use crate::service::{LoadError, load_order};
use crate::store::{AttrValue, Index, Item, Page, Query, SortCondition, Store, StoreError, Table};
use crate::util::join_all;

/// Largest page a caller may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;

/// One page of order summaries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrdersPage {
    pub orders: Vec<OrderSummary>,
    /// Pass back to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Why a read failed.
#[derive(Debug, Error)]
pub enum QueryError {
    #[error("order {0} not found")]
    NotFound(OrderId),
    #[error("invalid request: {0}")]
    BadRequest(ValidationErrors),
    /// A refused `cursor`, with the one field error that names it.
    #[error("{error}")]
    BadCursor {
        error: CursorError,
        field: [ValidationError; 1],
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Corrupt(#[from] CorruptItem),
}

impl From<CursorError> for QueryError {
    fn from(error: CursorError) -> Self {
        let field = [ValidationError::new("cursor", error.to_string())];
        QueryError::BadCursor { error, field }
    }
}

impl From<LoadError> for QueryError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Store(e) => QueryError::Store(e),
            LoadError::Corrupt(e) => QueryError::Corrupt(e),
        }
    }
}

impl DomainError for QueryError {
    fn http_status(&self) -> u16 {
        match self {
            QueryError::NotFound(_) => 404,
            QueryError::BadRequest(_) | QueryError::BadCursor { .. } => 400,
            QueryError::Store(e) => store_status(e),
            QueryError::Corrupt(_) => 500,
        }
    }

    fn is_retryable(&self) -> bool {
        matches!(self, QueryError::Store(e) if e.is_retryable())
    }

    fn code(&self) -> &'static str {
        match self {
            QueryError::NotFound(_) => "not_found",
            QueryError::BadRequest(_) => "validation_failed",
            QueryError::BadCursor { .. } => "bad_cursor",
            QueryError::Store(e) => store_code(e),
            QueryError::Corrupt(_) => "internal",
        }
    }

    fn field_errors(&self) -> &[ValidationError] {
        match self {
            QueryError::BadRequest(v) => &v.0,
            QueryError::BadCursor { field, .. } => field,
            _ => &[],
        }
    }
}

fn check_limit(limit: u32) -> Result<u32, QueryError> {
    if (1..=MAX_PAGE_SIZE).contains(&limit) {
        Ok(limit)
    } else {
        Err(QueryError::BadRequest(ValidationErrors::single(
            "limit",
            format!("must be 1..={MAX_PAGE_SIZE}"),
        )))
    }
}

fn summaries(items: &[Item]) -> Result<Vec<OrderSummary>, QueryError> {
    items
        .iter()
        .map(|i| OrderSummary::from_item(i).map_err(QueryError::from))
        .collect()
}

fn page_key_of(item: &Item, q: &Query) -> Item {
    q.page_key_attrs()
        .into_iter()
        .filter_map(|a| item.get(a).map(|v| (a.to_owned(), v.clone())))
        .collect()
}

/// Read-side service for the API.
pub struct OrderQueries<S> {
    store: S,
    rules: CountyRules,
}

impl<S: Store> OrderQueries<S> {
    pub fn new(store: S, rules: CountyRules) -> Self {
        Self { store, rules }
    }

    /// The full order (strongly consistent, so a client sees its own writes).
    pub async fn get_order(&self, order_id: &OrderId) -> Result<Order, QueryError> {
        load_order(&self.store, order_id)
            .await?
            .ok_or(QueryError::NotFound(*order_id))
    }

    /// The order if it belongs to `customer`; otherwise not found (other
    /// customers' order ids are not disclosed).
    pub async fn get_customer_order(
        &self,
        customer: &CustomerId,
        order_id: &OrderId,
    ) -> Result<Order, QueryError> {
        let order = self.get_order(order_id).await?;
        if order.customer_id == *customer {
            Ok(order)
        } else {
            Err(QueryError::NotFound(*order_id))
        }
    }

    /// A customer's orders, newest first.
    pub async fn customer_orders(
        &self,
        customer: &CustomerId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrdersPage, QueryError> {
        let mut q = Query::table(Table::Orders, customer.as_str());
        q.forward = false;
        self.single(q, limit, cursor).await
    }

    /// A store's orders created at or after `since`, oldest first; with
    /// `status`, only those in it (`CONFIRMED`: the store's pick list).
    ///
    /// The status is a filter on the store index's page, as DynamoDB's
    /// `FilterExpression` would be: `limit` bounds the orders read, so a
    /// page may hold fewer (even none) and still have a `next_cursor`.
    pub async fn store_orders_since(
        &self,
        store: &StoreId,
        since: Timestamp,
        status: Option<OrderStatus>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrdersPage, QueryError> {
        let mut q = Query::index(Index::StoreTime, store.as_str());
        q.sort = Some(SortCondition::Ge(keys::order_sk_bound(since)));
        let mut page = self.single(q, limit, cursor).await?;
        if let Some(status) = status {
            page.orders.retain(|o| o.status == status);
        }
        Ok(page)
    }

    /// Orders in `status` (PENDING, RESERVED, HELD or CONFIRMED: the sparse
    /// index holds nothing else) created at or after `since`, oldest first.
    pub async fn status_orders_since(
        &self,
        status: OrderStatus,
        since: Timestamp,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrdersPage, QueryError> {
        if !status.in_status_index() {
            return Err(QueryError::BadRequest(ValidationErrors::single(
                "status",
                format!(
                    "{status} orders are not indexed; use PENDING, RESERVED, HELD or CONFIRMED"
                ),
            )));
        }
        let partitions = (0..self.rules.gsi_write_shards)
            .map(|s| keys::status_shard_key(status, s))
            .collect();
        let sort = SortCondition::Ge(keys::order_sk_bound(since));
        self.merged(
            Index::StatusTime,
            partitions,
            Some(sort),
            true,
            limit,
            cursor,
        )
        .await
    }

    /// The county's orders created at or after `since`, oldest first.
    pub async fn county_orders_since(
        &self,
        since: Timestamp,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrdersPage, QueryError> {
        let partitions = (0..self.rules.gsi_write_shards)
            .map(|s| keys::county_shard_key(&self.rules.county_id, s))
            .collect();
        let sort = SortCondition::Ge(keys::order_sk_bound(since));
        self.merged(
            Index::CountyTime,
            partitions,
            Some(sort),
            true,
            limit,
            cursor,
        )
        .await
    }

    async fn single(
        &self,
        mut q: Query,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrdersPage, QueryError> {
        q.limit = Some(check_limit(limit)?);
        if let Some(c) = cursor {
            let key = cursor::decode(c)?;
            cursor::expect_page_key(&key, &q)?;
            q.start_key = Some(key);
        }
        let page = self.store.query(q).await?;
        Ok(OrdersPage {
            orders: summaries(&page.items)?,
            next_cursor: page.last_evaluated_key.as_ref().map(cursor::encode),
        })
    }

    /// Queries every shard partition and merges by sort key.
    pub(crate) async fn merged(
        &self,
        index: Index,
        partitions: Vec<String>,
        sort: Option<SortCondition>,
        forward: bool,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrdersPage, QueryError> {
        let limit = check_limit(limit)?;
        let queries: Vec<Query> = partitions
            .into_iter()
            .map(|p| {
                let mut q = Query::index(index, p);
                q.sort = sort.clone();
                q.forward = forward;
                q.limit = Some(limit);
                q
            })
            .collect();
        let positions = match cursor {
            None => vec![ShardPos::Start; queries.len()],
            Some(c) => decode_positions(&cursor::decode(c)?, &queries)?,
        };

        let reads = queries
            .iter()
            .zip(&positions)
            .map(|(q, pos)| {
                let mut q = q.clone();
                let store = &self.store;
                let pos = pos.clone();
                async move {
                    match pos {
                        ShardPos::Done => Ok(Page::default()),
                        ShardPos::Start => store.query(q).await,
                        ShardPos::After(k) => {
                            q.start_key = Some(k);
                            store.query(q).await
                        }
                    }
                }
            })
            .collect();
        let pages: Vec<Page> = join_all(reads)
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;

        // Merge: each page is sorted, so the first `limit` of the union are
        // the first `limit` overall (a shard's unseen items all sort after
        // its page, which already holds `limit` items if it stopped early).
        let sk_attr = index.sort_key();
        let mut merged: Vec<(&str, usize, &Item)> = pages
            .iter()
            .enumerate()
            .flat_map(|(shard, p)| p.items.iter().map(move |i| (shard, i)))
            .map(|(shard, i)| {
                let sk = i.get(sk_attr).and_then(AttrValue::as_s).unwrap_or_default();
                (sk, shard, i)
            })
            .collect();
        merged.sort_by(|a, b| if forward { a.0.cmp(b.0) } else { b.0.cmp(a.0) });
        merged.truncate(limit as usize);

        let mut taken = vec![0usize; pages.len()];
        let mut last: Vec<Option<&Item>> = vec![None; pages.len()];
        for (_, shard, item) in &merged {
            taken[*shard] += 1;
            last[*shard] = Some(item);
        }
        let next: Vec<ShardPos> = (0..pages.len())
            .map(|s| match (&positions[s], last[s]) {
                (ShardPos::Done, _) => ShardPos::Done,
                (_, Some(item)) if taken[s] < pages[s].items.len() => {
                    ShardPos::After(page_key_of(item, &queries[s]))
                }
                // Took the whole page: continue where DynamoDB stopped.
                (_, _) if taken[s] == pages[s].items.len() => match &pages[s].last_evaluated_key {
                    Some(k) => ShardPos::After(k.clone()),
                    None => ShardPos::Done,
                },
                // Took nothing from this shard: keep its position.
                (pos, _) => pos.clone(),
            })
            .collect();
        let orders = merged
            .iter()
            .map(|(_, _, i)| OrderSummary::from_item(i))
            .collect::<Result<_, _>>()?;
        let next_cursor = if next.iter().all(|p| matches!(p, ShardPos::Done)) {
            None
        } else {
            Some(cursor::encode(&encode_positions(&next)))
        };
        Ok(OrdersPage {
            orders,
            next_cursor,
        })
    }
}

/// Where reading one shard stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ShardPos {
    Start,
    After(Item),
    Done,
}

/// Cursor payload of a merged query: shard number → `M{}` (from the start),
/// `M{key}` (after that key) or `NULL` (done).
fn encode_positions(pos: &[ShardPos]) -> Item {
    pos.iter()
        .enumerate()
        .map(|(i, p)| {
            let v = match p {
                ShardPos::Start => AttrValue::M(Item::new()),
                ShardPos::After(k) => AttrValue::M(k.clone()),
                ShardPos::Done => AttrValue::Null,
            };
            (i.to_string(), v)
        })
        .collect()
}

fn decode_positions(payload: &Item, queries: &[Query]) -> Result<Vec<ShardPos>, CursorError> {
    // A cursor from before a shard-count change is refused: its positions
    // would not line up.
    if payload.len() != queries.len() {
        return Err(CursorError::Mismatch);
    }
    queries
        .iter()
        .enumerate()
        .map(|(i, q)| match payload.get(&i.to_string()) {
            Some(AttrValue::Null) => Ok(ShardPos::Done),
            Some(AttrValue::M(k)) if k.is_empty() => Ok(ShardPos::Start),
            Some(AttrValue::M(k)) => {
                cursor::expect_page_key(k, q)?;
                Ok(ShardPos::After(k.clone()))
            }
            _ => Err(CursorError::Mismatch),
        })
        .collect()
}

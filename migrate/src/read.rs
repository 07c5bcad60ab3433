//! Legacy rows of one county, read a page at a time by primary key (keyset
//! pagination: `WHERE key > last ORDER BY key LIMIT n`), so memory stays
//! bounded by the page size whatever the table's size, and a checkpoint of
//! the last key is all a resumed run needs.
//!
//! Values are read as text where their exact form matters: amounts as
//! `numeric` text (no float ever holds them), the local `placed_at` as an
//! ISO wall-clock string (the zone rule is applied in [`crate::map::time`],
//! not by PostgreSQL), instants as microseconds since the epoch.

use crate::source::{Snapshot, SourceError};

/// `--shard K/N`: this process reads the keys whose `key mod N = K - 1`.
/// Modulo rather than ranges, so every process computes the same split
/// without knowing the data, and rows inserted meanwhile still fall in
/// exactly one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based, as written on the command line.
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// The first shard also reads the small tables (stores, inventory).
    pub fn is_first(self) -> bool {
        self.index == 1
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a shard: write K/N with 1 <= K <= N, e.g. 2/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

pub use legacy_schema::rows::{LegacyCustomer, LegacyLine, LegacyOrder, LegacyStock, LegacyStore};

const EPOCH_US: &str = "(extract(epoch FROM {}) * 1000000)::bigint";

fn epoch_us(column: &str) -> String {
    EPOCH_US.replace("{}", column)
}

impl Snapshot<'_> {
    /// The county's stores, by id.
    pub async fn stores(&self, county: &str) -> Result<Vec<LegacyStore>, SourceError> {
        let rows = self
            .tx
            .query(
                "SELECT store_id::text, name, timezone FROM stores \
                 WHERE county_code = $1 ORDER BY store_id",
                &[&county],
            )
            .await
            .map_err(SourceError::query("stores"))?;
        Ok(rows
            .iter()
            .map(|r| LegacyStore {
                store_id: r.get(0),
                name: r.get(1),
                timezone: r.get(2),
            })
            .collect())
    }

    /// Up to `limit` customers with an order in the county, after `after`.
    pub async fn customers(
        &self,
        county: &str,
        shard: Shard,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<LegacyCustomer>, SourceError> {
        let sql = format!(
            "SELECT c.customer_id, c.email, c.full_name, c.phone, c.birth_date::text, {} \
             FROM customers c \
             WHERE c.customer_id > $2 AND mod(mod(c.customer_id, $3) + $3, $3) = $4 AND EXISTS ( \
                 SELECT 1 FROM orders o JOIN stores s ON s.store_id = o.store_id \
                 WHERE o.customer_id = c.customer_id AND s.county_code = $1) \
             ORDER BY c.customer_id LIMIT $5",
            epoch_us("c.created_at")
        );
        let (n, k) = shard_args(shard);
        let rows = self
            .tx
            .query(&sql, &[&county, &after.unwrap_or(i64::MIN), &n, &k, &limit])
            .await
            .map_err(SourceError::query("customers"))?;
        Ok(rows.iter().map(customer_from_row).collect())
    }

    /// The county's customers among `ids` (those with an order at its
    /// stores), by id.
    pub async fn customers_by_id(
        &self,
        county: &str,
        ids: &[i64],
    ) -> Result<Vec<LegacyCustomer>, SourceError> {
        let sql = format!(
            "SELECT c.customer_id, c.email, c.full_name, c.phone, c.birth_date::text, {} \
             FROM customers c \
             WHERE c.customer_id = ANY($2) AND EXISTS ( \
                 SELECT 1 FROM orders o JOIN stores s ON s.store_id = o.store_id \
                 WHERE o.customer_id = c.customer_id AND s.county_code = $1) \
             ORDER BY c.customer_id",
            epoch_us("c.created_at")
        );
        let rows = self
            .tx
            .query(&sql, &[&county, &ids])
            .await
            .map_err(SourceError::query("customers"))?;
        Ok(rows.iter().map(customer_from_row).collect())
    }

    /// Up to `limit` of the county's orders after `after`, each with its lines.
    pub async fn orders(
        &self,
        county: &str,
        shard: Shard,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<LegacyOrder>, SourceError> {
        let sql = format!(
            "SELECT {} FROM orders o JOIN stores s ON s.store_id = o.store_id \
             WHERE s.county_code = $1 AND o.order_id > $2 AND mod(mod(o.order_id, $3) + $3, $3) = $4 \
             ORDER BY o.order_id LIMIT $5",
            order_columns()
        );
        let (n, k) = shard_args(shard);
        let rows = self
            .tx
            .query(&sql, &[&county, &after.unwrap_or(i64::MIN), &n, &k, &limit])
            .await
            .map_err(SourceError::query("orders"))?;
        let mut orders: Vec<LegacyOrder> = rows.iter().map(order_from_row).collect();
        self.attach_lines(&mut orders).await?;
        Ok(orders)
    }

    /// The county's orders among `ids`, each with its lines, by id. Ids of
    /// another county's orders (or of deleted ones) are not returned.
    pub async fn orders_by_id(
        &self,
        county: &str,
        ids: &[i64],
    ) -> Result<Vec<LegacyOrder>, SourceError> {
        let sql = format!(
            "SELECT {} FROM orders o JOIN stores s ON s.store_id = o.store_id \
             WHERE s.county_code = $1 AND o.order_id = ANY($2) ORDER BY o.order_id",
            order_columns()
        );
        let rows = self
            .tx
            .query(&sql, &[&county, &ids])
            .await
            .map_err(SourceError::query("orders"))?;
        let mut orders: Vec<LegacyOrder> = rows.iter().map(order_from_row).collect();
        self.attach_lines(&mut orders).await?;
        Ok(orders)
    }

    async fn attach_lines(&self, orders: &mut [LegacyOrder]) -> Result<(), SourceError> {
        let ids: Vec<i64> = orders.iter().map(|o| o.order_id).collect();
        let rows = self
            .tx
            .query(
                "SELECT order_id, line_no, sku::text, quantity, unit_price::text \
                 FROM order_lines WHERE order_id = ANY($1) ORDER BY order_id, line_no",
                &[&ids],
            )
            .await
            .map_err(SourceError::query("order lines"))?;
        // Both sides are sorted by order id: one merge pass.
        let mut at = 0;
        for r in &rows {
            let order_id: i64 = r.get(0);
            while at < orders.len() && orders[at].order_id < order_id {
                at += 1;
            }
            if let Some(o) = orders.get_mut(at).filter(|o| o.order_id == order_id) {
                o.lines.push(LegacyLine {
                    line_no: r.get(1),
                    sku: r.get(2),
                    quantity: r.get(3),
                    unit_price: r.get(4),
                });
            }
        }
        Ok(())
    }

    /// Up to `limit` inventory rows of the county's stores after `after`.
    pub async fn inventory(
        &self,
        county: &str,
        after: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<LegacyStock>, SourceError> {
        let (store, sku) = after.unwrap_or(("", ""));
        let sql = format!(
            "SELECT {} FROM inventory i JOIN stores s ON s.store_id = i.store_id \
             WHERE s.county_code = $1 AND (i.store_id, i.sku) > ($2, $3) \
             ORDER BY i.store_id, i.sku LIMIT $4",
            stock_columns()
        );
        let rows = self
            .tx
            .query(&sql, &[&county, &store, &sku, &limit])
            .await
            .map_err(SourceError::query("inventory"))?;
        Ok(rows.iter().map(stock_from_row).collect())
    }

    /// The county's inventory rows among `keys` (store id, SKU).
    pub async fn inventory_by_key(
        &self,
        county: &str,
        keys: &[(String, String)],
    ) -> Result<Vec<LegacyStock>, SourceError> {
        let (stores, skus): (Vec<&str>, Vec<&str>) =
            keys.iter().map(|(a, b)| (a.as_str(), b.as_str())).unzip();
        let sql = format!(
            "SELECT {} FROM inventory i JOIN stores s ON s.store_id = i.store_id \
             JOIN unnest($2::text[], $3::text[]) AS k(store_id, sku) \
               ON k.store_id = i.store_id AND k.sku = i.sku \
             WHERE s.county_code = $1 ORDER BY i.store_id, i.sku",
            stock_columns()
        );
        let rows = self
            .tx
            .query(&sql, &[&county, &stores, &skus])
            .await
            .map_err(SourceError::query("inventory"))?;
        Ok(rows.iter().map(stock_from_row).collect())
    }
}

fn order_columns() -> String {
    format!(
        "o.order_id, o.client_request_id::text, o.customer_id, o.store_id::text, \
         o.status::text, o.total::text, o.currency::text, o.payment_ref::text, \
         to_char(o.placed_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), {}",
        epoch_us("o.updated_at")
    )
}

fn order_from_row(r: &tokio_postgres::Row) -> LegacyOrder {
    LegacyOrder {
        order_id: r.get(0),
        client_request_id: r.get(1),
        customer_id: r.get(2),
        store_id: r.get(3),
        status: r.get(4),
        total: r.get(5),
        currency: r.get(6),
        payment_ref: r.get(7),
        placed_at: r.get(8),
        updated_at_us: r.get(9),
        lines: Vec::new(),
    }
}

fn stock_columns() -> String {
    format!(
        "i.store_id::text, i.sku::text, i.on_hand, i.reserved, i.price::text, {}",
        epoch_us("i.updated_at")
    )
}

fn stock_from_row(r: &tokio_postgres::Row) -> LegacyStock {
    LegacyStock {
        store_id: r.get(0),
        sku: r.get(1),
        on_hand: r.get(2),
        reserved: r.get(3),
        price: r.get(4),
        updated_at_us: r.get(5),
    }
}

impl Snapshot<'_> {
    /// The county's orders in `shard`, and how many of them are at or
    /// before `after`: the same `WHERE` as [`Snapshot::orders`], counted.
    pub async fn count_orders(
        &self,
        county: &str,
        shard: Shard,
        after: Option<i64>,
    ) -> Result<(u64, u64), SourceError> {
        let (n, k) = shard_args(shard);
        let row = self
            .tx
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE o.order_id <= $2) \
                 FROM orders o JOIN stores s ON s.store_id = o.store_id \
                 WHERE s.county_code = $1 AND mod(mod(o.order_id, $3) + $3, $3) = $4",
                &[&county, &after.unwrap_or(i64::MIN), &n, &k],
            )
            .await
            .map_err(SourceError::query("the count of orders"))?;
        Ok((count(row.get(0)), count(row.get(1))))
    }

    /// The county's inventory rows, and how many are at or before `after`.
    pub async fn count_inventory(
        &self,
        county: &str,
        after: Option<(&str, &str)>,
    ) -> Result<(u64, u64), SourceError> {
        let (store, sku) = after.unwrap_or(("", ""));
        let row = self
            .tx
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE $4 AND (i.store_id, i.sku) <= ($2, $3)) \
                 FROM inventory i JOIN stores s ON s.store_id = i.store_id \
                 WHERE s.county_code = $1",
                &[&county, &store, &sku, &after.is_some()],
            )
            .await
            .map_err(SourceError::query("the count of inventory rows"))?;
        Ok((count(row.get(0)), count(row.get(1))))
    }

    /// The county's customers (those with an order at its stores) in this
    /// shard, and how many are at or before `after`.
    pub async fn count_customers(
        &self,
        county: &str,
        shard: Shard,
        after: Option<i64>,
    ) -> Result<(u64, u64), SourceError> {
        let (n, k) = shard_args(shard);
        let row = self
            .tx
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE c.customer_id <= $2) \
                 FROM customers c \
                 WHERE mod(mod(c.customer_id, $3) + $3, $3) = $4 AND EXISTS ( \
                     SELECT 1 FROM orders o JOIN stores s ON s.store_id = o.store_id \
                     WHERE o.customer_id = c.customer_id AND s.county_code = $1)",
                &[&county, &after.unwrap_or(i64::MIN), &n, &k],
            )
            .await
            .map_err(SourceError::query("the count of customers"))?;
        Ok((count(row.get(0)), count(row.get(1))))
    }
}

fn customer_from_row(r: &tokio_postgres::Row) -> LegacyCustomer {
    LegacyCustomer {
        customer_id: r.get(0),
        email: r.get(1),
        full_name: r.get(2),
        phone: r.get(3),
        birth_date: r.get(4),
        created_at_us: r.get(5),
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// `(N, K - 1)` for the SQL's `mod(mod(key, N) + N, N) = K - 1`: PostgreSQL's
/// `mod` keeps the sign of a negative key, so it is folded into `0..N` first.
fn shard_args(shard: Shard) -> (i64, i64) {
    (i64::from(shard.count), i64::from(shard.index - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_written_k_of_n() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!("1/1".parse(), Ok(Shard::WHOLE));
        for bad in ["0/4", "5/4", "1/0", "2", "a/b", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}

//! Stock levels and prices: `inventory load` (CSV → stock records, validated
//! in full before anything is written) and `inventory show` (a store's stock
//! with what reservations hold). Prices live only here: the API prices orders
//! from these records, never from the client.
//!
//! CSV format, header required:
//!
//! ```text
//! store_id,sku,quantity,price_cents
//! store-001,SKU-TITOS-750,24,2299
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use order_domain::codec::{RESERVATION_CONFIRMED, RESERVATION_RESERVED, StockRecord};
use order_domain::ids::{Sku, StoreId};
use order_domain::money::Money;
use order_domain::schema::inventory as inv;
use order_domain::store::{BATCH_WRITE_MAX, Item, ItemExt, Query, Store, Table};

use crate::error::{LocalError, Result};

/// The columns, in order.
pub const COLUMNS: [&str; 4] = ["store_id", "sku", "quantity", "price_cents"];
/// Most units one stock record may hold: a sanity bound against typos
/// (a price pasted into the quantity column).
pub const MAX_QUANTITY: i64 = 1_000_000;
/// Unprocessed items, or a whole call throttled, are retried this many times,
/// backing off (about 6 s in all), before giving up.
const MAX_BATCH_ATTEMPTS: u32 = 8;

/// A row that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub path: PathBuf,
    pub line: usize,
    pub column: &'static str,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: column {}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.reason
        )
    }
}

/// Parses and validates a stock CSV. Returns every bad row (not just the
/// first), so one edit fixes the file.
pub fn parse_csv(path: &Path, text: &str) -> Result<Vec<StockRecord>, Vec<RowError>> {
    let err = |line: usize, column: &'static str, reason: String| RowError {
        path: path.to_owned(),
        line,
        column,
        reason,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let mut errors = Vec::new();
    match lines.find(|(_, l)| !l.trim().is_empty()) {
        Some((n, header)) => {
            let cols: Vec<&str> = header.split(',').map(str::trim).collect();
            if cols != COLUMNS {
                return Err(vec![err(
                    n,
                    "header",
                    format!("expected {:?}, found {:?}", COLUMNS.join(","), header),
                )]);
            }
        }
        None => return Err(vec![err(1, "header", "the file is empty".into())]),
    }
    let mut out = Vec::new();
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != COLUMNS.len() {
            errors.push(err(
                n,
                "row",
                format!(
                    "has {} cells, expected {} ({})",
                    cells.len(),
                    COLUMNS.len(),
                    COLUMNS.join(",")
                ),
            ));
            continue;
        }
        let store = StoreId::parse(cells[0])
            .map_err(|e| err(n, "store_id", format!("{:?}: {e}", cells[0])));
        let sku = Sku::parse(cells[1]).map_err(|e| err(n, "sku", format!("{:?}: {e}", cells[1])));
        let qty = match cells[2].parse::<i64>() {
            Ok(q) if (0..=MAX_QUANTITY).contains(&q) => Ok(q),
            Ok(q) => Err(err(
                n,
                "quantity",
                format!("{q} is out of range 0..={MAX_QUANTITY}"),
            )),
            Err(_) => Err(err(
                n,
                "quantity",
                format!("{:?} is not a whole number", cells[2]),
            )),
        };
        let price = match cells[3].parse::<u64>() {
            Ok(0) => Err(err(n, "price_cents", "must be at least 1 cent".into())),
            Ok(p) => Money::from_cents(p)
                .ok_or_else(|| err(n, "price_cents", format!("{p} is too large"))),
            Err(_) => Err(err(
                n,
                "price_cents",
                format!(
                    "{:?} is not a whole number of cents (e.g. 2299 for $22.99)",
                    cells[3]
                ),
            )),
        };
        match (store, sku, qty, price) {
            (Ok(store_id), Ok(sku), Ok(available), Ok(price_cents)) => {
                let key = (store_id.as_str().to_owned(), sku.as_str().to_owned());
                if let Some(first) = seen.insert(key, n) {
                    errors.push(err(
                        n,
                        "sku",
                        format!("{sku} at {store_id} is already on line {first}"),
                    ));
                    continue;
                }
                out.push(StockRecord {
                    store_id,
                    sku,
                    available,
                    price_cents,
                });
            }
            (a, b, c, d) => {
                errors.extend(a.err());
                errors.extend(b.err());
                errors.extend(c.err());
                errors.extend(d.err());
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Writes stock records with `BatchWriteItem`, at most 25 items a call
/// (DynamoDB's limit, which moto doesn't enforce), retrying unprocessed items
/// with exponential backoff.
pub async fn write_stock<S: Store>(store: &S, records: &[StockRecord]) -> Result<usize> {
    let mut written = 0;
    for chunk in records.chunks(BATCH_WRITE_MAX) {
        let mut pending: Vec<Item> = chunk.iter().map(StockRecord::to_item).collect();
        let mut delay = Duration::from_millis(50);
        for attempt in 1..=MAX_BATCH_ATTEMPTS {
            let n = pending.len();
            let sent = pending.clone();
            let unprocessed = match store.batch_put(Table::Inventory, pending).await {
                Ok(unprocessed) => unprocessed,
                // A provisioned table out of write capacity refuses the whole
                // call (ProvisionedThroughputExceeded, after the SDK's own
                // retries): nothing was written, so back off and send it all
                // again, as for unprocessed items.
                Err(e) if e.is_retryable() => {
                    tracing::debug!(error = %e, "BatchWriteItem refused as a whole");
                    sent
                }
                Err(e) => {
                    return Err(LocalError::Invalid(format!(
                        "BatchWriteItem on the Inventory table: {e}"
                    )));
                }
            };
            written += n - unprocessed.len();
            pending = unprocessed;
            if pending.is_empty() {
                break;
            }
            if attempt == MAX_BATCH_ATTEMPTS {
                return Err(LocalError::Invalid(format!(
                    "{} stock records still unprocessed after {MAX_BATCH_ATTEMPTS} attempts (throttled); {written} were written — run the load again, it is idempotent",
                    pending.len()
                )));
            }
            tracing::debug!(
                unprocessed = pending.len(),
                ?delay,
                "retrying unprocessed items"
            );
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
    Ok(written)
}

/// One SKU's line in `inventory show`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StockLine {
    pub sku: String,
    pub available: i64,
    /// Units held by unpaid reservations.
    pub reserved: i64,
    /// Units of confirmed (paid) orders.
    pub sold: i64,
    pub price_cents: u64,
}

/// A store's stock records and reservation ledger, per SKU.
pub async fn show<S: Store>(store: &S, store_id: &StoreId) -> Result<Vec<StockLine>> {
    let mut lines: BTreeMap<String, StockLine> = BTreeMap::new();
    let mut start = None;
    loop {
        let mut q = Query::table(Table::Inventory, store_id.as_str());
        q.start_key = start.take();
        q.consistent = true;
        let page = store
            .query(q)
            .await
            .map_err(|e| LocalError::Invalid(format!("Query on the Inventory table: {e}")))?;
        for item in &page.items {
            let key = item.get_s(inv::SK).unwrap_or_default();
            let sku = item.get_s(inv::SKU).unwrap_or_default().to_owned();
            let line = lines.entry(sku.clone()).or_insert_with(|| StockLine {
                sku,
                available: 0,
                reserved: 0,
                sold: 0,
                price_cents: 0,
            });
            if key.starts_with(inv::STOCK_PREFIX) {
                let rec =
                    StockRecord::from_item(item).map_err(|e| LocalError::Invalid(e.to_string()))?;
                line.available = rec.available;
                line.price_cents = rec.price_cents.cents();
            } else if key.starts_with(inv::RESERVATION_PREFIX) {
                let qty = item.get_i64(inv::QUANTITY).unwrap_or(0);
                match item.get_s(inv::STATE).unwrap_or_default() {
                    RESERVATION_RESERVED => line.reserved += qty,
                    RESERVATION_CONFIRMED => line.sold += qty,
                    _ => {}
                }
            }
        }
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    Ok(lines.into_values().collect())
}

/// `inventory show` as a text table.
pub fn render_table(lines: &[StockLine]) -> String {
    let mut s = format!(
        "{:<24} {:>10} {:>10} {:>10} {:>12}\n",
        "SKU", "AVAILABLE", "RESERVED", "SOLD", "PRICE"
    );
    for l in lines {
        s.push_str(&format!(
            "{:<24} {:>10} {:>10} {:>10} {:>12}\n",
            l.sku,
            l.available,
            l.reserved,
            l.sold,
            format!("${}.{:02}", l.price_cents / 100, l.price_cents % 100)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: usize) -> Vec<StockRecord> {
        (0..n)
            .map(|i| StockRecord {
                store_id: StoreId::parse("store-1").unwrap(),
                sku: Sku::parse(&format!("SKU-{i}")).unwrap(),
                available: 5,
                price_cents: Money::from_cents(100).unwrap(),
            })
            .collect()
    }

    #[tokio::test]
    async fn a_throttled_batch_is_sent_again_after_a_pause() {
        use order_domain::store::{Fault, FaultOp, MemoryStore, StoreError};
        let store = MemoryStore::new();
        // The whole first call and two more are refused, as a provisioned
        // table out of write capacity refuses them.
        for skip in [0, 0, 1] {
            store.inject(Fault {
                op: FaultOp::Write,
                skip,
                error: StoreError::Throttled("ProvisionedThroughputExceededException".into()),
            });
        }
        assert_eq!(write_stock(&store, &records(40)).await.unwrap(), 40);
        assert_eq!(store.faults_left(), 0);
        assert_eq!(store.items(Table::Inventory).len(), 40);

        // A request the table refuses for what it is fails at once.
        store.inject(Fault {
            op: FaultOp::Write,
            skip: 0,
            error: StoreError::Validation("ValidationException".into()),
        });
        let e = write_stock(&store, &records(1)).await.unwrap_err();
        assert!(e.to_string().contains("ValidationException"), "{e}");
    }

    #[test]
    fn every_bad_row_is_reported_with_line_and_column() {
        let text = "store_id,sku,quantity,price_cents\n\
                    store-1,SKU-A,10,2299\n\
                    store-1,SKU-B,ten,2299\n\
                    store-1,SKU-C,5,12.99\n\
                    store-1,SKU-A,3,100\n\
                    store-1,SKU-D,1\n";
        let errs = parse_csv(Path::new("stock.csv"), text).unwrap_err();
        let got: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(got.len(), 4, "{got:#?}");
        assert!(
            got[0].starts_with("stock.csv:3: column quantity:"),
            "{}",
            got[0]
        );
        assert!(
            got[1].starts_with("stock.csv:4: column price_cents:"),
            "{}",
            got[1]
        );
        assert!(got[2].starts_with("stock.csv:5: column sku:"), "{}", got[2]);
        assert!(got[3].starts_with("stock.csv:6: column row:"), "{}", got[3]);
    }

    #[test]
    fn good_file_parses() {
        let text = "store_id,sku,quantity,price_cents\r\nstore-1,SKU-A,10,2299\r\n\r\n";
        let recs = parse_csv(Path::new("s.csv"), text).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].available, 10);
        assert_eq!(recs[0].price_cents.cents(), 2299);
        assert!(parse_csv(Path::new("s.csv"), "sku,store_id\n").is_err());
    }
}

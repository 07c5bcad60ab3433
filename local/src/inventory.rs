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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use order_domain::codec::{RESERVATION_CONFIRMED, RESERVATION_RESERVED, StockRecord};
use order_domain::ids::{Sku, StoreId};
use order_domain::money::Money;
use order_domain::schema::inventory as inv;
use order_domain::store::{
    AttrValue, BATCH_WRITE_MAX, Condition, Item, ItemExt, Put, Query, SortCondition, Store,
    StoreError, Table,
};

use crate::error::{LocalError, Result};

/// The columns, in order.
pub const COLUMNS: [&str; 4] = ["store_id", "sku", "quantity", "price_cents"];
/// Most units one stock record may hold: a sanity bound against typos
/// (a price pasted into the quantity column).
pub const MAX_QUANTITY: i64 = 1_000_000;
/// Unprocessed items, or a whole call throttled, are retried this many times,
/// backing off (about 6 s in all), before giving up.
const MAX_BATCH_ATTEMPTS: u32 = 8;

/// Longest line read from a stock file, in bytes: a real row is under 200;
/// a longer one means the input is not a stock file (a binary, `/dev/zero`),
/// and reading stops there instead of filling memory.
pub const MAX_LINE_BYTES: usize = 4096;
/// Most rows one stock file may hold (held in memory until validated in full).
pub const MAX_ROWS: usize = 1_000_000;
/// Bad rows listed in the error message; the rest are counted.
pub const MAX_ERRORS_SHOWN: usize = 20;

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

/// Why a stock file was refused: its first [`MAX_ERRORS_SHOWN`] bad rows and
/// how many there were in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvErrors {
    pub shown: Vec<RowError>,
    pub total: usize,
}

impl CsvErrors {
    fn push(&mut self, e: RowError) {
        self.total += 1;
        if self.shown.len() < MAX_ERRORS_SHOWN {
            self.shown.push(e);
        }
    }
}

impl std::fmt::Display for CsvErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bad row(s); nothing was written:", self.total)?;
        for e in &self.shown {
            write!(f, "\n  {e}")?;
        }
        let rest = self.total - self.shown.len();
        if rest > 0 {
            write!(f, "\n  ... and {rest} more")?;
        }
        Ok(())
    }
}

/// One line of the input, at most [`MAX_LINE_BYTES`]; `None` at the end.
fn next_line(input: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    buf.clear();
    let limit = MAX_LINE_BYTES as u64 + 1;
    let n = input.by_ref().take(limit).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    Ok(Some(n))
}

/// Parses and validates a stock CSV as it is read. Returns every bad row
/// (the first [`MAX_ERRORS_SHOWN`] listed, the rest counted), so one edit
/// fixes the file; stops at a line over [`MAX_LINE_BYTES`] or past
/// [`MAX_ROWS`] rows.
pub fn parse_csv(path: &Path, mut input: impl BufRead) -> Result<Vec<StockRecord>, CsvErrors> {
    let err = |line: usize, column: &'static str, reason: String| RowError {
        path: path.to_owned(),
        line,
        column,
        reason,
    };
    let mut errors = CsvErrors {
        shown: Vec::new(),
        total: 0,
    };
    let mut rows = Rows::default();
    let mut buf = Vec::new();
    let mut n = 0;
    let mut header_seen = false;
    loop {
        n += 1;
        let read = match next_line(&mut input, &mut buf) {
            Ok(Some(read)) => read,
            Ok(None) => break,
            Err(e) => {
                errors.push(err(n, "row", format!("cannot read the file: {e}")));
                break;
            }
        };
        if read > MAX_LINE_BYTES {
            errors.push(err(
                n,
                "row",
                format!(
                    "longer than {MAX_LINE_BYTES} bytes: not a stock file? (reading stopped here)"
                ),
            ));
            break;
        }
        let Ok(line) = std::str::from_utf8(&buf) else {
            errors.push(err(n, "row", "is not UTF-8 text".into()));
            continue;
        };
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if !header_seen {
            header_seen = true;
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            if cols != COLUMNS {
                errors.push(err(
                    n,
                    "header",
                    format!("expected {:?}, found {:?}", COLUMNS.join(","), line),
                ));
                break;
            }
            continue;
        }
        if rows.out.len() >= MAX_ROWS {
            errors.push(err(
                n,
                "row",
                format!("more than {MAX_ROWS} rows: split the file (each part loads on its own)"),
            ));
            break;
        }
        if let Err(e) = rows.parse(line, n, &err) {
            e.into_iter().for_each(|e| errors.push(e));
        }
    }
    if !header_seen && errors.total == 0 {
        errors.push(err(1, "header", "the file is empty".into()));
    }
    if errors.total == 0 {
        Ok(rows.out)
    } else {
        Err(errors)
    }
}

/// The rows parsed so far, and where each (store, SKU) was first seen.
#[derive(Default)]
struct Rows {
    out: Vec<StockRecord>,
    seen: HashMap<(String, String), usize>,
}

impl Rows {
    /// Parses one data row, returning every bad cell of it.
    fn parse(
        &mut self,
        line: &str,
        n: usize,
        err: &impl Fn(usize, &'static str, String) -> RowError,
    ) -> Result<(), Vec<RowError>> {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != COLUMNS.len() {
            return Err(vec![err(
                n,
                "row",
                format!(
                    "has {} cells, expected {} ({})",
                    cells.len(),
                    COLUMNS.len(),
                    COLUMNS.join(",")
                ),
            )]);
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
                if let Some(first) = self.seen.insert(key, n) {
                    return Err(vec![err(
                        n,
                        "sku",
                        format!("{sku} at {store_id} is already on line {first}"),
                    )]);
                }
                self.out.push(StockRecord {
                    store_id,
                    sku,
                    available,
                    price_cents,
                });
                Ok(())
            }
            (a, b, c, d) => Err([a.err(), b.err(), c.err(), d.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
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

/// Attempts at setting one stock record while orders keep changing it.
const MAX_RECONCILE_ATTEMPTS: u32 = 20;

/// What `inventory load` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadSummary {
    /// Stock records written.
    pub written: usize,
    /// Of those, records that already existed and were set to the file's
    /// quantity less what orders hold.
    pub reconciled: usize,
    /// Units the reconciled records hold back for reserved and sold orders.
    pub held: i64,
}

/// Loads a stock file: each row says how many units are on the shelf, so
/// the record's `available` becomes that quantity less the units the
/// reservation ledger holds (reserved, or sold and not yet collected).
/// Loading the same file twice therefore changes nothing, and a reload never
/// hands out units that orders already took.
///
/// SKUs the store has no record of yet are written in batches
/// ([`write_stock`]); existing records are set one at a time, conditionally
/// on `available` being what was read before the ledger, so an order
/// reserving or releasing in between makes the load read again rather than
/// overwrite it.
pub async fn load_stock<S: Store>(store: &S, records: &[StockRecord]) -> Result<LoadSummary> {
    let existing = existing_skus(store, records).await?;
    let (known, fresh): (Vec<StockRecord>, Vec<StockRecord>) = records
        .iter()
        .cloned()
        .partition(|r| existing.contains(&(r.store_id.clone(), r.sku.clone())));
    let mut summary = LoadSummary {
        written: write_stock(store, &fresh).await?,
        ..LoadSummary::default()
    };
    for rec in &known {
        summary.held += reconcile(store, rec).await?;
        summary.written += 1;
        summary.reconciled += 1;
    }
    Ok(summary)
}

/// The (store, SKU) pairs among `records` that already have a stock record.
async fn existing_skus<S: Store>(
    store: &S,
    records: &[StockRecord],
) -> Result<BTreeSet<(StoreId, Sku)>> {
    let stores: BTreeSet<&StoreId> = records.iter().map(|r| &r.store_id).collect();
    let mut out = BTreeSet::new();
    for store_id in stores {
        let mut q = Query::table(Table::Inventory, store_id.as_str());
        q.sort = Some(SortCondition::BeginsWith(format!(
            "{}{}",
            inv::STOCK_PREFIX,
            order_domain::keys::SEP
        )));
        q.consistent = true;
        for item in query_all(store, q).await? {
            let sku = item.parse_s(inv::SKU).map_err(|e| corrupt(&item, e))?;
            out.insert((store_id.clone(), sku));
        }
    }
    Ok(out)
}

/// Sets one existing stock record to the file's quantity less what the
/// ledger holds; returns the units held.
async fn reconcile<S: Store>(store: &S, rec: &StockRecord) -> Result<i64> {
    let key = order_domain::codec::stock_key(&rec.store_id, &rec.sku);
    for _ in 0..MAX_RECONCILE_ATTEMPTS {
        // `available` first, the ledger second: a reservation after the first
        // read changes `available`, so the conditional put below fails.
        let current = store
            .get(Table::Inventory, key.clone(), true)
            .await
            .map_err(|e| store_failed("GetItem", e))?;
        let condition = match &current {
            Some(item) => Condition::equals(
                inv::AVAILABLE,
                AttrValue::n(item.get_i64(inv::AVAILABLE).map_err(|e| corrupt(item, e))?),
            ),
            None => Condition::not_exists(inv::SK),
        };
        let held = held_units(store, &rec.store_id, &rec.sku).await?;
        let target = StockRecord {
            available: (rec.available - held).max(0),
            ..rec.clone()
        };
        let put = Put {
            table: Table::Inventory,
            item: target.to_item(),
            condition: Some(condition),
        };
        match store.put(put).await {
            Ok(()) => return Ok(held),
            Err(StoreError::ConditionFailed { .. }) => {
                tracing::debug!(sku = %rec.sku, "an order changed the stock meanwhile; reading again");
            }
            Err(e) => return Err(store_failed("PutItem", e)),
        }
    }
    Err(LocalError::Invalid(format!(
        "{} at {}: orders kept changing the stock record during {MAX_RECONCILE_ATTEMPTS} attempts; load again when the store is quieter (it is idempotent)",
        rec.sku, rec.store_id
    )))
}

/// Units of `sku` the reservation ledger holds: reserved, or sold (the
/// units stay on the shelf until the order is collected).
async fn held_units<S: Store>(store: &S, store_id: &StoreId, sku: &Sku) -> Result<i64> {
    let mut q = Query::table(Table::Inventory, store_id.as_str());
    q.sort = Some(SortCondition::BeginsWith(
        order_domain::keys::reservation_prefix(sku),
    ));
    q.consistent = true;
    let mut held = 0;
    for item in query_all(store, q).await? {
        let state = item.get_s(inv::STATE).map_err(|e| corrupt(&item, e))?;
        if matches!(state, RESERVATION_RESERVED | RESERVATION_CONFIRMED) {
            held += item.get_i64(inv::QUANTITY).map_err(|e| corrupt(&item, e))?;
        }
    }
    Ok(held)
}

/// Every page of a query.
async fn query_all<S: Store>(store: &S, mut q: Query) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    loop {
        let page = store
            .query(q.clone())
            .await
            .map_err(|e| store_failed("Query", e))?;
        items.extend(page.items);
        match page.last_evaluated_key {
            Some(k) => q.start_key = Some(k),
            None => return Ok(items),
        }
    }
}

fn store_failed(operation: &str, e: StoreError) -> LocalError {
    LocalError::Invalid(format!("{operation} on the Inventory table: {e}"))
}

fn corrupt(item: &Item, e: impl std::fmt::Display) -> LocalError {
    LocalError::Invalid(format!(
        "an Inventory item ({:?}) cannot be read: {e}",
        item.get_s(inv::SK).unwrap_or_default()
    ))
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
        let errs = parse_csv(Path::new("stock.csv"), text.as_bytes()).unwrap_err();
        let got: Vec<String> = errs.shown.iter().map(ToString::to_string).collect();
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
        let recs = parse_csv(Path::new("s.csv"), text.as_bytes()).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].available, 10);
        assert_eq!(recs[0].price_cents.cents(), 2299);
        assert!(parse_csv(Path::new("s.csv"), "sku,store_id\n".as_bytes()).is_err());
    }

    #[test]
    fn an_endless_line_stops_the_read_at_the_line_bound() {
        // `/dev/zero` as a stock file: no newline, ever.
        let mut zeros = std::io::repeat(0).take(1 << 30);
        let errs =
            parse_csv(Path::new("/dev/zero"), std::io::BufReader::new(&mut zeros)).unwrap_err();
        let read = (1u64 << 30) - zeros.limit();
        assert!(read <= 64 * 1024, "read {read} bytes");
        assert_eq!(errs.total, 1);
        assert!(
            errs.to_string()
                .contains("/dev/zero:1: column row: longer than 4096 bytes"),
            "{errs}"
        );
    }

    #[test]
    fn a_million_bad_rows_list_twenty_and_count_the_rest() {
        let mut text = String::from("store_id,sku,quantity,price_cents\n");
        for _ in 0..100_000 {
            text.push_str("store-1,SKU-A,ten,2299\n");
        }
        let errs = parse_csv(Path::new("s.csv"), text.as_bytes()).unwrap_err();
        assert_eq!(errs.total, 100_000);
        assert_eq!(errs.shown.len(), MAX_ERRORS_SHOWN);
        let message = errs.to_string();
        assert!(message.starts_with("100000 bad row(s); nothing was written:"));
        assert!(message.ends_with("\n  ... and 99980 more"), "{message}");
        assert!(message.len() < 4096, "{} bytes", message.len());
    }
}

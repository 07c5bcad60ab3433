//! The change stream as `test_decoding` writes it, reduced to what the sync
//! needs: which orders and stock rows changed, and the transactions (their
//! ids, commit positions and commit times) a batch holds.
//!
//! Only keys are taken from a change. The sync reads the rows again from the
//! database (see [`super::apply`]), because an order's items are built from
//! the order and all its lines together, and a line arrives as its own row
//! change. Keys are in every change whatever the tables' `REPLICA IDENTITY`,
//! so the legacy tables need no alteration.
//!
//! ```text
//! BEGIN 729
//! table public.orders: UPDATE: order_id[bigint]:1001 client_request_id[character varying]:'r''1' ...
//! table public.order_lines: UPDATE: old-key: order_id[bigint]:1001 line_no[integer]:1 new-tuple: ...
//! table public.inventory: DELETE: store_id[character varying]:'AUS-1' sku[character varying]:'GIN 1L'
//! COMMIT 729 (at 2026-12-06 11:58:42.436585+00)
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use acme_contract::migration::held_back;
use jiff::Timestamp;
use legacy_schema::origin::MARKER_TABLE;
use legacy_schema::outbound::NEW_SYSTEM_NUMBERS;

/// A WAL position (`pg_lsn`), `X/Y` in text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Lsn(pub u64);

impl FromStr for Lsn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a WAL position");
        let (hi, lo) = s.split_once('/').ok_or_else(bad)?;
        let hi = u64::from_str_radix(hi, 16).map_err(|_| bad())?;
        let lo = u64::from_str_radix(lo, 16).map_err(|_| bad())?;
        if hi > u64::from(u32::MAX) || lo > u64::from(u32::MAX) {
            return Err(bad());
        }
        Ok(Lsn(hi << 32 | lo))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// One row of `pg_logical_slot_peek_changes`.
#[derive(Debug, Clone)]
pub struct Row {
    pub lsn: Lsn,
    pub xid: u32,
    pub data: String,
}

/// What a batch of rows comes to.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Orders whose row or lines changed.
    pub orders: BTreeSet<i64>,
    /// Stock rows (store id, SKU) that changed.
    pub stock: BTreeSet<(String, String)>,
    /// Customers whose row changed (their profiles are read again).
    pub customers: BTreeSet<i64>,
    /// A store changed: the county's stores are read again.
    pub stores_changed: bool,
    /// Row changes (INSERT, UPDATE, DELETE) on any table.
    pub changes: u64,
    /// Committed transactions, in commit order: id and commit time.
    pub commits: Vec<(u32, Timestamp)>,
    /// The end of the last commit: where the slot moves once this is applied.
    pub end: Option<Lsn>,
    /// What was seen but not applied (a TRUNCATE of a migrated table).
    pub notes: Vec<String>,
    /// Transactions the legacy-sync function committed (skipped: see
    /// [`legacy_schema::origin`]), and the sync's own writes of the orders
    /// it holds back ([`super::held`]).
    pub own_transactions: u64,
    /// The legacy-sync transaction being read, whose changes are skipped.
    skipping: Option<u32>,
}

/// A change to a migrated table that cannot be read: the sync stops rather
/// than skip it (the text format is PostgreSQL's own; this is a bug).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the change at {lsn}: {reason}: {data}")]
pub struct DecodeError {
    pub lsn: Lsn,
    pub reason: String,
    pub data: String,
}

/// The tables whose changes the sync applies.
const ORDERS: &str = "orders";
const LINES: &str = "order_lines";
const INVENTORY: &str = "inventory";
const STORES: &str = "stores";
const CUSTOMERS: &str = "customers";

impl Batch {
    /// A batch of just these orders, to be read again and applied (the
    /// orders `dynamo` held back, once the county is rolled back).
    pub fn of_orders(orders: std::collections::BTreeSet<i64>) -> Self {
        Batch {
            orders,
            ..Batch::default()
        }
    }

    /// Takes in one row. Rows must come in stream order.
    pub fn add(&mut self, row: &Row) -> Result<(), DecodeError> {
        let err = |reason: &str| DecodeError {
            lsn: row.lsn,
            reason: reason.to_owned(),
            data: row.data.clone(),
        };
        let data = row.data.as_str();
        if data.starts_with("BEGIN") {
            return Ok(());
        }
        if let Some(rest) = data.strip_prefix("COMMIT") {
            if self.skipping.take().is_some() {
                self.own_transactions += 1;
            }
            let at = commit_time(rest).ok_or_else(|| err("no commit time"))?;
            self.commits.push((row.xid, at));
            self.end = Some(row.lsn);
            return Ok(());
        }
        let Some(rest) = data.strip_prefix("table ") else {
            // Logical messages and anything else not about a table.
            return Ok(());
        };
        let (name, rest) = rest.split_once(": ").ok_or_else(|| err("no action"))?;
        // No loops: what legacy-sync wrote came from DynamoDB. Its guard row
        // is the first change of each of its transactions. The sync's own
        // record of held orders is not a legacy change either.
        if name == MARKER_TABLE || name == held_back::TABLE {
            self.skipping = Some(row.xid);
        }
        if self.skipping == Some(row.xid) {
            return Ok(());
        }
        let (action, tuple) = rest.split_once(':').ok_or_else(|| err("no action"))?;
        if action == "TRUNCATE" {
            let ours: Vec<&str> = name.split(", ").filter(|t| is_ours(t)).collect();
            if !ours.is_empty() {
                self.notes.push(format!(
                    "TRUNCATE of {} at {} not applied: migrated items stay",
                    ours.join(", "),
                    row.lsn
                ));
            }
            return Ok(());
        }
        self.changes += 1;
        let table = table_name(name);
        if !is_ours(name) {
            return Ok(());
        }
        let sections = tuple_sections(tuple).map_err(|r| err(&r))?;
        match table {
            STORES => self.stores_changed = true,
            CUSTOMERS => {
                for s in &sections {
                    let id = value(s, "customer_id").ok_or_else(|| err("no customer_id"))?;
                    let id = id.parse().map_err(|_| err("customer_id is not a number"))?;
                    self.customers.insert(id);
                }
            }
            ORDERS | LINES => {
                for s in &sections {
                    let id = value(s, "order_id").ok_or_else(|| err("no order_id"))?;
                    let id: i64 = id.parse().map_err(|_| err("order_id is not a number"))?;
                    if id >= NEW_SYSTEM_NUMBERS {
                        // The new system's order, written by legacy-sync:
                        // DynamoDB holds it; a legacy-side edit is not applied.
                        self.notes.push(format!(
                            "order {id} is the new system's (written by legacy-sync): \
                             a change to it in the legacy database at {} is not applied",
                            row.lsn
                        ));
                        continue;
                    }
                    self.orders.insert(id);
                }
            }
            _ => {
                for s in &sections {
                    let store = value(s, "store_id").ok_or_else(|| err("no store_id"))?;
                    let sku = value(s, "sku").ok_or_else(|| err("no sku"))?;
                    self.stock.insert((store.to_owned(), sku.to_owned()));
                }
            }
        }
        Ok(())
    }

    pub fn transactions(&self) -> u64 {
        self.commits.len() as u64
    }
}

fn table_name(qualified: &str) -> &str {
    qualified.rsplit_once('.').map_or(qualified, |(_, t)| t)
}

fn is_ours(qualified: &str) -> bool {
    matches!(
        table_name(qualified),
        ORDERS | LINES | INVENTORY | STORES | CUSTOMERS
    )
}

/// ` 729 (at 2026-12-06 11:58:42.436585+00)`: the session runs in UTC, so
/// the offset is `+00`.
fn commit_time(rest: &str) -> Option<Timestamp> {
    let (_, at) = rest.split_once("(at ")?;
    let at = at.strip_suffix(')')?;
    let iso = at.replacen(' ', "T", 1);
    let iso = match iso.rsplit_once(['+', '-']) {
        Some((_, off)) if off.len() == 2 => format!("{iso}:00"),
        _ => iso,
    };
    iso.parse().ok()
}

/// A tuple's columns; an UPDATE that changed the key has two sections
/// (`old-key:` and `new-tuple:`), every other change one.
type Section = Vec<(String, Option<String>)>;

fn tuple_sections(text: &str) -> Result<Vec<Section>, String> {
    let mut sections = vec![Vec::new()];
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("old-key:") {
            rest = r.trim_start();
            continue;
        }
        if let Some(r) = rest.strip_prefix("new-tuple:") {
            sections.push(Vec::new());
            rest = r.trim_start();
            continue;
        }
        if rest.starts_with("(no-tuple-data)") {
            return Err("no key (the table has REPLICA IDENTITY NOTHING)".into());
        }
        let open = rest.find('[').ok_or("a column without a type")?;
        let name = rest[..open].to_owned();
        let close = rest[open..].find("]:").ok_or("a column without a value")? + open;
        let (value, after) = column_value(&rest[close + 2..])?;
        if let Some(s) = sections.last_mut() {
            s.push((name, value));
        }
        rest = after.trim_start();
    }
    sections.retain(|s| !s.is_empty());
    Ok(sections)
}

/// `'it''s'` (quoted, quotes doubled), `null`, or a bare token.
fn column_value(text: &str) -> Result<(Option<String>, &str), String> {
    if let Some(body) = text.strip_prefix('\'') {
        let mut out = String::new();
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '\'' {
                out.push(c);
                continue;
            }
            if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                chars.next();
                out.push('\'');
                continue;
            }
            return Ok((Some(out), &body[i + 1..]));
        }
        return Err("an unterminated quoted value".into());
    }
    let end = text.find(' ').unwrap_or(text.len());
    let token = &text[..end];
    let value = (token != "null").then(|| token.to_owned());
    Ok((value, &text[end..]))
}

fn value<'a>(section: &'a Section, column: &str) -> Option<&'a str> {
    section
        .iter()
        .find(|(n, _)| n == column)
        .and_then(|(_, v)| v.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(lsn: u64, data: &str) -> Row {
        Row {
            lsn: Lsn(lsn),
            xid: 729,
            data: data.to_owned(),
        }
    }

    #[test]
    fn positions_read_and_print_as_postgres_writes_them() {
        let lsn: Lsn = "0/1546E00".parse().expect("lsn");
        assert_eq!(lsn, Lsn(0x1546E00));
        assert_eq!(Lsn(0x1_0000_00FF).to_string(), "1/FF");
        assert!("16/".parse::<Lsn>().is_err());
    }

    #[test]
    fn a_transaction_yields_its_keys_and_its_commit() {
        let mut b = Batch::default();
        for (i, data) in [
            "BEGIN 729",
            "table public.stores: INSERT: store_id[character varying]:'AUS 1''x' county_code[character varying]:'travis-tx' name[text]:'Austin' timezone[text]:'America/Chicago'",
            "table public.inventory: INSERT: store_id[character varying]:'AUS 1''x' sku[character varying]:'GIN 1L' on_hand[integer]:5 reserved[integer]:1 price[numeric]:3.50 updated_at[timestamp with time zone]:'2026-12-06 11:58:42.43487+00'",
            "table public.order_lines: UPDATE: old-key: order_id[bigint]:7 line_no[integer]:1 new-tuple: order_id[bigint]:8 line_no[integer]:1 sku[character varying]:'A B' quantity[integer]:1 unit_price[numeric]:1.00",
            "table public.orders: UPDATE: order_id[bigint]:9 client_request_id[character varying]:null customer_id[bigint]:1",
            "table public.customers: INSERT: customer_id[bigint]:3 email[text]:'x'",
            "COMMIT 729 (at 2026-12-06 11:58:42.436585+00)",
        ]
        .into_iter()
        .enumerate()
        {
            b.add(&row(i as u64, data)).expect("decodes");
        }
        assert_eq!(b.orders, BTreeSet::from([7, 8, 9]));
        assert_eq!(
            b.stock,
            BTreeSet::from([("AUS 1'x".to_owned(), "GIN 1L".to_owned())])
        );
        assert!(b.stores_changed);
        assert_eq!(b.changes, 5);
        assert_eq!(b.end, Some(Lsn(6)));
        assert_eq!(
            b.commits,
            vec![(729, "2026-12-06T11:58:42.436585Z".parse().expect("ts"))]
        );
    }

    #[test]
    fn what_legacy_sync_wrote_does_not_come_back() {
        let mut b = Batch::default();
        let ours = |xid: u32, data: &str| Row {
            lsn: Lsn(1),
            xid,
            data: data.to_owned(),
        };
        for r in [
            ours(800, "BEGIN 800"),
            ours(
                800,
                "table acme_sync.orders: INSERT: order_id[text]:'01J' legacy_order_id[bigint]:1001 version[bigint]:3",
            ),
            ours(
                800,
                "table public.orders: UPDATE: order_id[bigint]:1001 status[character varying]:'SHIPPED'",
            ),
            ours(
                800,
                "table public.order_lines: INSERT: order_id[bigint]:1001 line_no[integer]:1",
            ),
            ours(800, "COMMIT 800 (at 2026-12-06 11:58:42.436585+00)"),
            ours(801, "BEGIN 801"),
            ours(
                801,
                "table public.orders: UPDATE: order_id[bigint]:1002 status[character varying]:'SHIPPED'",
            ),
            ours(
                801,
                "table public.orders: UPDATE: order_id[bigint]:4611686018427387905 status[character varying]:'SHIPPED'",
            ),
            ours(801, "COMMIT 801 (at 2026-12-06 11:58:43.436585+00)"),
        ] {
            b.add(&r).expect("decodes");
        }
        assert_eq!(b.orders, BTreeSet::from([1002]));
        assert_eq!(b.own_transactions, 1);
        assert_eq!(b.transactions(), 2, "the slot still moves past both");
        assert_eq!(b.changes, 2);
        assert!(b.notes[0].contains("4611686018427387905"), "{:?}", b.notes);
    }

    #[test]
    fn the_syncs_record_of_held_orders_is_not_a_change() {
        let mut b = Batch::default();
        for (xid, data) in [
            (900, "BEGIN 900"),
            (
                900,
                "table acme_sync.held_back: INSERT: county_id[text]:'travis-tx' legacy_number[bigint]:25",
            ),
            (900, "COMMIT 900 (at 2026-12-06 11:58:42.436585+00)"),
            (901, "BEGIN 901"),
            (
                901,
                "table acme_sync.held_back: DELETE: county_id[text]:'travis-tx' legacy_number[bigint]:25",
            ),
            (901, "COMMIT 901 (at 2026-12-06 11:58:43.436585+00)"),
        ] {
            b.add(&Row {
                lsn: Lsn(1),
                xid,
                data: data.to_owned(),
            })
            .expect("decodes");
        }
        assert!(b.orders.is_empty());
        assert_eq!((b.changes, b.own_transactions), (0, 2));
    }

    #[test]
    fn a_key_it_cannot_read_stops_rather_than_skips() {
        let mut b = Batch::default();
        let e = b
            .add(&row(1, "table public.orders: DELETE: (no-tuple-data)"))
            .expect_err("no key");
        assert!(e.reason.contains("REPLICA IDENTITY"), "{e}");
        let e = b
            .add(&row(
                1,
                "table public.inventory: INSERT: store_id[text]:'AUS",
            ))
            .expect_err("unterminated");
        assert!(e.reason.contains("unterminated"), "{e}");
        // Another table's oddities are not the sync's business.
        b.add(&row(1, "table public.audit: DELETE: (no-tuple-data)"))
            .expect("ignored");
        b.add(&row(
            2,
            "table public.orders, public.audit: TRUNCATE: (no-flags)",
        ))
        .expect("noted");
        assert_eq!(b.notes.len(), 1, "{:?}", b.notes);
    }
}

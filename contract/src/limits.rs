//! DynamoDB limits the order plans are shaped by, and the order limits that
//! follow from them. The generator refuses a county file beyond them; the
//! domain refuses a request beyond them.

/// Operations in one `TransactWriteItems` call (DynamoDB's quota).
pub const TRANSACTION_MAX_OPS: usize = 100;
/// Items in one `BatchWriteItem` call (DynamoDB's quota).
pub const BATCH_WRITE_MAX: usize = 25;

/// Write units per second one partition serves (DynamoDB's per-partition
/// limit; a single partition key value never gets more).
pub const PARTITION_MAX_WCU: u32 = 1_000;
/// Read units per second one partition serves.
pub const PARTITION_MAX_RCU: u32 = 3_000;

/// Ops a line item costs in the worker's reservation (and release)
/// transaction: the stock update and the ledger entry.
pub const OPS_PER_LINE_ITEM: usize = 2;
/// Ops besides line items in those transactions: the OrderById record and the
/// Orders summary.
pub const OPS_PER_ORDER: usize = 2;
/// The most line items an order can have so that reserving it fits in one
/// DynamoDB transaction: (100 - 2) / 2 = 49.
pub const MAX_LINE_ITEMS_PER_ORDER: u32 =
    ((TRANSACTION_MAX_OPS - OPS_PER_ORDER) / OPS_PER_LINE_ITEM) as u32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_at_the_limit_fits_one_transaction() {
        assert_eq!(MAX_LINE_ITEMS_PER_ORDER, 49);
        let ops = MAX_LINE_ITEMS_PER_ORDER as usize * OPS_PER_LINE_ITEM + OPS_PER_ORDER;
        assert!(ops <= TRANSACTION_MAX_OPS);
        assert!(ops + OPS_PER_LINE_ITEM > TRANSACTION_MAX_OPS);
    }
}

//! Reading ahead: while one page of orders is written, the next is read and
//! mapped, so the legacy database and the mapping take none of the time the
//! writes take anyway (`make bench-migrate` measured a backfill at 75% of
//! moto's bare `BatchWriteItem` rate with them in series).

use crate::backfill::Options;
use crate::order::{MappedStore, items, map_in_county};
use crate::source::{Snapshot, SourceError};
use crate::write::Pending;

/// Orders mapped between two looks at the writer: a call's worth of work,
/// so the writer, polled beside the mapping, sends its next call promptly.
const YIELD_EVERY: usize = 25;

/// An order's warnings and items, or why it is rejected.
pub type Mapped = Result<(Vec<String>, Vec<Pending>), String>;

/// One page of orders, mapped.
pub struct OrderPage {
    /// The page's last legacy number; `None` for an empty page (the end).
    pub last: Option<i64>,
    pub rows: u64,
    /// Per legacy order number, in order.
    pub orders: Vec<(i64, Mapped)>,
}

/// Reads the page of orders after `after` and maps it.
pub async fn read_orders(
    snap: &Snapshot<'_>,
    opts: &Options,
    stores: &[MappedStore],
    after: Option<i64>,
) -> Result<OrderPage, SourceError> {
    let page = snap
        .orders(opts.county.as_str(), opts.shard, after, opts.page_size)
        .await?;
    let mut orders = Vec::with_capacity(page.len());
    for chunk in page.chunks(YIELD_EVERY) {
        for o in chunk {
            let mapped = map_in_county(o, stores, &opts.county)
                .map(|m| (m.warnings, items(&m.order, opts.gsi_write_shards)));
            orders.push((o.order_id, mapped));
        }
        tokio::task::yield_now().await;
    }
    Ok(OrderPage {
        last: page.last().map(|o| o.order_id),
        rows: page.len() as u64,
        orders,
    })
}

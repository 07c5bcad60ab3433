//! Reloading a stock file against the local runner's tables on moto: the file
//! says what is on the shelf, so a reload never hands out units that orders
//! already hold or bought.
//!
//! Run with `scripts/with-moto.sh cargo test -p acme-local --test stock_reload`.

mod common;

use std::time::Duration;

use common::*;
use order_domain::codec::StockRecord;
use order_domain::ids::{OrderId, Sku, StoreId};
use order_domain::money::Money;
use order_domain::order::{FailureReason, OrderStatus};
use order_domain::schema::inventory as inv;
use order_domain::store::ItemExt;

const T: Duration = Duration::from_secs(90);

fn shelf(store: &str, sku: &str, qty: i64) -> StockRecord {
    StockRecord {
        store_id: StoreId::parse(store).expect("store id"),
        sku: Sku::parse(sku).expect("sku"),
        available: qty,
        price_cents: Money::from_cents(1999).expect("price"),
    }
}

async fn order(h: &Harness, n: usize) -> OrderId {
    let a = h
        .post_order(&order_body(
            &format!("reload-{n}"),
            &format!("cust-reload-{n}"),
            "s-reload",
            "SKU-RELOAD",
            1,
        ))
        .await;
    assert_eq!(a.status, 202, "{a:?}");
    order_id(&a)
}

async fn load(h: &Harness, qty: i64) -> acme_local::inventory::LoadSummary {
    acme_local::inventory::load_stock(&h.store(), &[shelf("s-reload", "SKU-RELOAD", qty)])
        .await
        .expect("stock loaded")
}

async fn available(h: &Harness) -> i64 {
    let items = h.inventory_items("s-reload").await;
    let stock = items
        .iter()
        .find(|i| i.get_s(inv::SK).is_ok_and(|k| k.starts_with("STOCK")))
        .expect("stock record");
    stock.get_i64(inv::AVAILABLE).expect("available")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn loading_the_same_stock_file_again_sells_nothing_twice() {
    let h = start().await;
    let first = load(&h, 3).await;
    assert_eq!((first.written, first.reconciled), (1, 0));

    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(order(&h, n).await);
    }
    let orders = h.wait_final(&ids, T).await;
    assert!(
        orders.iter().all(|o| o.status == OrderStatus::Confirmed),
        "{orders:?}"
    );
    assert_eq!(available(&h).await, 0);

    // The same file again: 3 on the shelf, 3 sold and not yet collected.
    let again = load(&h, 3).await;
    let fourth = order(&h, 3).await;
    let last = h.wait_final(&[fourth], T).await;
    assert_eq!(last[0].status, OrderStatus::Failed, "{last:?}");
    assert!(
        matches!(
            last[0].failure_reason,
            Some(FailureReason::OutOfStock { .. })
        ),
        "{last:?}"
    );
    assert_eq!(available(&h).await, 0, "nothing new to sell");
    assert_eq!((again.written, again.reconciled, again.held), (1, 1, 3));

    // Two more on the shelf: exactly two more to sell.
    let more = load(&h, 5).await;
    assert_eq!(more.held, 3);
    assert_eq!(available(&h).await, 2);
    h.stop().await;
}

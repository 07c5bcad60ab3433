//! Cancelling orders in every status, and racing a cancel against the worker.

mod common;

use std::sync::Arc;

use common::Fixture;
use order_domain::payment::Behavior;
use order_domain::service::CancelError;
use order_domain::store::Table;
use order_domain::{CustomerId, DomainError, OrderStatus};

#[tokio::test]
async fn cancel_pending_touches_no_stock() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    let id = f.place("c1", "r1", &[("WINE", 2)]).await.accepted.order_id;
    let order = f.cancel.cancel(&id, None).await.unwrap();
    assert_eq!(order.status, OrderStatus::Cancelled);
    assert_eq!(f.order(&id), order);
    assert_eq!(f.available("WINE"), 10);
    assert!(!f.store.items(Table::Orders)[0].contains_key("status_shard"));
    assert!(!f.gateway.refunded(&id));
}

#[tokio::test]
async fn cancel_reserved_releases_stock() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    let id = f.place("c1", "r1", &[("WINE", 2)]).await.accepted.order_id;
    f.gateway
        .set_behavior(id, Behavior::Unavailable { times: 1 });
    assert!(f.worker.process(&id).await.is_err());
    assert_eq!(f.order(&id).status, OrderStatus::Reserved);
    assert_eq!(f.available("WINE"), 8);
    f.cancel.cancel(&id, None).await.unwrap();
    assert_eq!(f.available("WINE"), 10);
    assert!(f.ledger().is_empty());
}

#[tokio::test]
async fn cancel_confirmed_releases_stock_and_refunds() {
    let f = Fixture::new();
    f.stock("WINE", 10, 1999).await;
    let id = f.place("c1", "r1", &[("WINE", 2)]).await.accepted.order_id;
    f.worker.process(&id).await.unwrap();
    assert_eq!(f.available("WINE"), 8);
    let cust = CustomerId::parse("c1").unwrap();
    let order = f.cancel.cancel(&id, Some(&cust)).await.unwrap();
    assert_eq!(order.status, OrderStatus::Cancelled);
    assert_eq!(f.available("WINE"), 10);
    assert!(f.ledger().is_empty());
    assert!(f.gateway.refunded(&id));
    // Cancelling again is a no-op success.
    let writes = f.store.stats().items_written;
    let again = f.cancel.cancel(&id, Some(&cust)).await.unwrap();
    assert_eq!(again, order);
    assert_eq!(f.store.stats().items_written, writes);
    assert_eq!(f.available("WINE"), 10, "stock released once");
}

#[tokio::test]
async fn failed_orders_cannot_be_cancelled_and_others_orders_are_not_found() {
    let f = Fixture::new();
    f.stock("WINE", 1, 1999).await;
    let id = f.place("c1", "r1", &[("WINE", 2)]).await.accepted.order_id;
    f.worker.process(&id).await.unwrap();
    let err = f.cancel.cancel(&id, None).await.unwrap_err();
    assert!(matches!(err, CancelError::NotCancellable(_)));
    assert_eq!(err.http_status(), 409);
    let other = CustomerId::parse("c2").unwrap();
    let err = f.cancel.cancel(&id, Some(&other)).await.unwrap_err();
    assert_eq!(err.http_status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_racing_the_worker_leaves_stock_and_money_consistent() {
    for round in 0..20 {
        let f = Arc::new(Fixture::new());
        f.stock("WINE", 10, 1999).await;
        let id = f
            .place("c1", &format!("r{round}"), &[("WINE", 3)])
            .await
            .accepted
            .order_id;
        let start = Arc::new(tokio::sync::Barrier::new(2));
        let w = {
            let (f, start) = (f.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                f.worker.process(&id).await
            })
        };
        let c = {
            let f = f.clone();
            tokio::spawn(async move {
                start.wait().await;
                // Vary the interleaving from round to round.
                for _ in 0..round % 5 {
                    tokio::task::yield_now().await;
                }
                f.cancel.cancel(&id, None).await
            })
        };
        let _ = w.await.unwrap();
        c.await.unwrap().unwrap();
        let order = f.order(&id);
        assert_eq!(order.status, OrderStatus::Cancelled, "round {round}");
        assert_eq!(
            f.available("WINE"),
            10,
            "round {round}: stock fully released"
        );
        assert!(f.ledger().is_empty(), "round {round}");
        // Whoever charged, the money went back.
        if f.gateway.captures(&id) > 0 {
            assert!(f.gateway.refunded(&id), "round {round}");
        }
    }
}

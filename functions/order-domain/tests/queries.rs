//! Reads and the sweeper: paging, cursors, merged shard queries.

mod common;

use std::collections::BTreeSet;

use common::Fixture;
use jiff::SignedDuration;
use order_domain::clock::Clock;
use order_domain::service::{OrdersPage, QueryError};
use order_domain::{CustomerId, DomainError, OrderId, OrderStatus, StoreId};

/// Places `n` orders one second apart for `customer`.
async fn place_many(f: &Fixture, customer: &str, n: usize) -> Vec<OrderId> {
    let mut ids = Vec::new();
    for i in 0..n {
        f.clock.advance(SignedDuration::from_secs(1));
        ids.push(
            f.place(customer, &format!("{customer}-r{i}"), &[("WINE", 1)])
                .await
                .accepted
                .order_id,
        );
    }
    ids
}

async fn drain<F, Fut>(mut next: F) -> Vec<OrderId>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<OrdersPage, QueryError>>,
{
    let mut out = Vec::new();
    let mut cursor = None;
    for _ in 0..100 {
        let page = next(cursor.take()).await.expect("page");
        out.extend(page.orders.iter().map(|o| o.order_id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
    panic!("paging did not terminate");
}

#[tokio::test]
async fn get_order_checks_ownership() {
    let f = Fixture::new();
    f.stock("WINE", 10, 100).await;
    let id = place_many(&f, "c1", 1).await[0];
    let o = f.queries.get_order(&id).await.unwrap();
    assert_eq!(o.order_id, id);
    let c1 = CustomerId::parse("c1").unwrap();
    let c2 = CustomerId::parse("c2").unwrap();
    assert!(f.queries.get_customer_order(&c1, &id).await.is_ok());
    let err = f.queries.get_customer_order(&c2, &id).await.unwrap_err();
    assert_eq!(err.http_status(), 404);
    let missing = OrderId::parse("01HZY3M4T7X8Q9R0S1T2V3W4X5").unwrap();
    assert_eq!(
        f.queries
            .get_order(&missing)
            .await
            .unwrap_err()
            .http_status(),
        404
    );
}

#[tokio::test]
async fn customer_orders_newest_first_across_pages() {
    let f = Fixture::new();
    f.stock("WINE", 100, 100).await;
    let mine = place_many(&f, "c1", 7).await;
    place_many(&f, "c2", 3).await;
    let c1 = CustomerId::parse("c1").unwrap();
    let got = drain(|c| {
        let q = &f.queries;
        let c1 = c1.clone();
        async move { q.customer_orders(&c1, 3, c.as_deref()).await }
    })
    .await;
    let mut expected = mine.clone();
    expected.reverse();
    assert_eq!(got, expected);

    // A cursor is bound to its partition: c1's cursor on c2's list is refused.
    let page = f.queries.customer_orders(&c1, 3, None).await.unwrap();
    let cursor = page.next_cursor.unwrap();
    let c2 = CustomerId::parse("c2").unwrap();
    let err = f
        .queries
        .customer_orders(&c2, 3, Some(&cursor))
        .await
        .unwrap_err();
    assert_eq!((err.http_status(), err.code()), (400, "bad_cursor"));
    let err = f
        .queries
        .customer_orders(&c1, 3, Some("not-a-cursor!"))
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), 400);
    let err = f.queries.customer_orders(&c1, 0, None).await.unwrap_err();
    assert_eq!(err.http_status(), 400);
}

#[tokio::test]
async fn store_orders_since() {
    let f = Fixture::new();
    f.stock("WINE", 100, 100).await;
    let ids = place_many(&f, "c1", 6).await;
    // Orders 3.. were created at or after this instant (one second apart).
    let since = f.order(&ids[3]).created_at;
    let store = StoreId::parse(common::STORE).unwrap();
    let got = drain(|c| {
        let q = &f.queries;
        let store = store.clone();
        async move {
            q.store_orders_since(&store, since, None, 2, c.as_deref())
                .await
        }
    })
    .await;
    assert_eq!(got, ids[3..]);

    // A cursor positioned before `since` (one from an earlier listing, or
    // forged) is a 400 naming the cursor, not a store error.
    let early = f.order(&ids[0]).created_at;
    let page = f
        .queries
        .store_orders_since(&store, early, None, 1, None)
        .await
        .unwrap();
    let err = f
        .queries
        .store_orders_since(&store, since, None, 2, page.next_cursor.as_deref())
        .await
        .unwrap_err();
    assert_eq!(
        (err.http_status(), err.code()),
        (400, "bad_cursor"),
        "{err}"
    );
    assert_eq!(err.field_errors()[0].field, "cursor");
    assert!(err.to_string().contains("since"), "{err}");
}

#[tokio::test]
async fn status_and_county_lists_merge_every_shard_in_time_order() {
    let f = Fixture::new();
    f.stock("WINE", 1000, 100).await;
    let mut ids = Vec::new();
    for c in 0..6 {
        ids.extend(place_many(&f, &format!("c{c}"), 5).await);
    }
    // 30 orders over 4 shards; confirm every third so PENDING has gaps.
    let mut confirmed = BTreeSet::new();
    for id in ids.iter().step_by(3) {
        f.worker.process(id).await.unwrap();
        confirmed.insert(*id);
    }
    let since = f.order(&ids[0]).created_at;
    for limit in [1, 4, 7, 100] {
        let pending = drain(|c| {
            let q = &f.queries;
            async move {
                q.status_orders_since(OrderStatus::Pending, since, limit, c.as_deref())
                    .await
            }
        })
        .await;
        let expected: Vec<OrderId> = ids
            .iter()
            .filter(|i| !confirmed.contains(i))
            .copied()
            .collect();
        assert_eq!(
            pending, expected,
            "limit {limit}: complete, no duplicates, oldest first"
        );

        let all = drain(|c| {
            let q = &f.queries;
            async move { q.county_orders_since(since, limit, c.as_deref()).await }
        })
        .await;
        assert_eq!(all, ids, "limit {limit}");
    }
    let confirmed_list = drain(|c| {
        let q = &f.queries;
        async move {
            q.status_orders_since(OrderStatus::Confirmed, since, 5, c.as_deref())
                .await
        }
    })
    .await;
    assert_eq!(
        confirmed_list,
        confirmed.iter().copied().collect::<Vec<_>>()
    );
    // The sparse index holds no terminal statuses.
    let err = f
        .queries
        .status_orders_since(OrderStatus::Failed, since, 5, None)
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), 400);
    // A cursor from a listing that started earlier points before a later
    // `since` on some shard: refused, on both merged listings.
    let first = f.queries.county_orders_since(since, 1, None).await.unwrap();
    let later = f.order(&ids[20]).created_at;
    let err = f
        .queries
        .county_orders_since(later, 5, first.next_cursor.as_deref())
        .await
        .unwrap_err();
    assert_eq!(
        (err.http_status(), err.code()),
        (400, "bad_cursor"),
        "{err}"
    );
    let first = f
        .queries
        .status_orders_since(OrderStatus::Pending, since, 1, None)
        .await
        .unwrap();
    let err = f
        .queries
        .status_orders_since(OrderStatus::Pending, later, 5, first.next_cursor.as_deref())
        .await
        .unwrap_err();
    assert_eq!(err.field_errors()[0].field, "cursor", "{err}");
    // A single-partition cursor is refused by a merged query.
    let c0 = CustomerId::parse("c0").unwrap();
    let single = f.queries.customer_orders(&c0, 1, None).await.unwrap();
    let err = f
        .queries
        .county_orders_since(since, 5, single.next_cursor.as_deref())
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), 400);
}

#[tokio::test]
async fn sweeper_finds_pending_orders_older_than_the_cutoff() {
    let f = Fixture::new();
    f.stock("WINE", 100, 100).await;
    let old = place_many(&f, "c1", 5).await;
    f.worker.process(&old[0]).await.unwrap();
    f.clock.advance(SignedDuration::from_mins(10));
    let fresh = place_many(&f, "c2", 3).await;
    f.clock.advance(SignedDuration::from_secs(30));
    // Older than 5 minutes: the four unprocessed old ones, not the fresh ones.
    let stale = drain(|c| {
        let s = &f.sweeper;
        async move {
            s.stale_pending(SignedDuration::from_mins(5), 2, c.as_deref())
                .await
        }
    })
    .await;
    assert_eq!(stale, old[1..]);
    assert!(stale.iter().all(|id| !fresh.contains(id)));
    assert!(f.clock.now() > f.order(&fresh[2]).created_at);
}

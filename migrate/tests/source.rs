//! The legacy side against a real PostgreSQL 15: connection errors, the
//! schema check, one snapshot for a run, keyset pages, shards.

mod common;

use acme_migrate::read::Shard;
use acme_migrate::source::{Legacy, LegacyUrl, SourceError};

async fn seed(client: &tokio_postgres::Client) {
    client
        .batch_execute(
            "INSERT INTO stores VALUES
                ('AUS-1', 'travis-tx', 'Austin Congress', 'America/Chicago'),
                ('AUS 2#', 'travis-tx', 'Austin O''Brien''s', 'America/Chicago'),
                ('SEA-1', 'king-wa', 'Seattle', 'America/Los_Angeles');
             INSERT INTO customers VALUES
                (1, 'a@example.com', 'Ann', NULL, '1980-02-29', '2019-01-01 00:00:00+00'),
                (2, NULL, 'Bob ''); DROP TABLE orders; --', '+1 512', NULL, '2019-01-01 00:00:00+00'),
                (3, 'c@example.com', 'Zoë', NULL, NULL, '2019-01-01 00:00:00+00');
             INSERT INTO orders VALUES
                (10, 'req-1', 1, 'AUS-1', 'CONFIRMED', 12.30, 'USD', 'pay_1', '2024-11-03 01:30:00', '2024-11-03 07:00:00+00'),
                (11, NULL, 2, 'AUS 2#', 'SHIPPED', 5.00, 'USD', NULL, '2024-03-10 02:30:00', '2024-03-10 09:00:00+00'),
                (12, NULL, 3, 'SEA-1', 'NEW', 1.00, 'USD', NULL, '2024-01-01 10:00:00', '2024-01-01 18:00:00+00'),
                (13, 'req 3', 1, 'AUS-1', 'PAID', 0.10, 'USD', NULL, '2024-07-04 18:15:00.25', '2024-07-04 23:15:01+00');
             INSERT INTO order_lines VALUES
                (10, 1, 'CAB-750', 2, 6.15), (10, 2, 'cab-750', 1, 0.00),
                (11, 1, 'RED WINE #2', 1, 5.00), (13, 1, 'x', 1, 0.10);
             INSERT INTO inventory VALUES
                ('AUS-1', 'CAB-750', 10, 2, 6.15, '2024-01-01 00:00:00+00'),
                ('AUS-1', 'cab-750', 1, 3, 0.00, '2024-01-01 00:00:00+00'),
                ('SEA-1', 'X', 5, 0, 1.00, '2024-01-01 00:00:00+00');",
        )
        .await
        .expect("seed");
}

#[tokio::test]
async fn a_snapshot_reads_the_county_by_key_pages_and_ignores_later_writes() {
    let (url, client) = common::legacy_db("source_pages").await;
    seed(&client).await;
    let mut legacy = Legacy::connect(&url.parse().expect("url"))
        .await
        .expect("connect");
    let snap = legacy.snapshot().await.expect("snapshot");

    // A write after the snapshot began is not seen by it.
    client
        .batch_execute(
            "INSERT INTO orders VALUES (14, NULL, 1, 'AUS-1', 'NEW', 1, 'USD', NULL, now(), now())",
        )
        .await
        .expect("late insert");

    let stores = snap.stores("travis-tx").await.expect("stores");
    let ids: Vec<_> = stores.iter().map(|s| s.store_id.as_str()).collect();
    assert_eq!(ids, ["AUS 2#", "AUS-1"]);

    let first = snap
        .orders("travis-tx", Shard::WHOLE, None, 2)
        .await
        .expect("page 1");
    let second = snap
        .orders("travis-tx", Shard::WHOLE, Some(11), 2)
        .await
        .expect("page 2");
    let third = snap
        .orders("travis-tx", Shard::WHOLE, Some(13), 2)
        .await
        .expect("page 3");
    let numbers =
        |p: &[acme_migrate::read::LegacyOrder]| p.iter().map(|o| o.order_id).collect::<Vec<_>>();
    assert_eq!(
        (numbers(&first), numbers(&second), numbers(&third)),
        (vec![10, 11], vec![13], vec![])
    );

    let o10 = &first[0];
    assert_eq!(o10.total, "12.30");
    assert_eq!(o10.placed_at, "2024-11-03T01:30:00.000000");
    assert_eq!(o10.updated_at_us, 1_730_617_200_000_000);
    let skus: Vec<_> = o10
        .lines
        .iter()
        .map(|l| (l.line_no, l.sku.as_str(), l.unit_price.as_str()))
        .collect();
    assert_eq!(skus, [(1, "CAB-750", "6.15"), (2, "cab-750", "0.00")]);
    assert_eq!(first[1].lines[0].sku, "RED WINE #2");
    assert_eq!(second[0].placed_at, "2024-07-04T18:15:00.250000");
    assert_eq!(second[0].client_request_id.as_deref(), Some("req 3"));

    let customers = snap
        .customers("travis-tx", Shard::WHOLE, None, 10)
        .await
        .expect("customers");
    let who: Vec<_> = customers
        .iter()
        .map(|c| (c.customer_id, c.full_name.clone()))
        .collect();
    assert_eq!(
        who,
        [
            (1, Some("Ann".into())),
            (2, Some("Bob '); DROP TABLE orders; --".into()))
        ]
    );
    assert_eq!(customers[0].birth_date.as_deref(), Some("1980-02-29"));

    let stock = snap.inventory("travis-tx", None, 1).await.expect("stock");
    let rest = snap
        .inventory("travis-tx", Some(("AUS-1", "CAB-750")), 10)
        .await
        .expect("stock");
    assert_eq!(stock[0].sku, "CAB-750");
    assert_eq!(
        rest.iter()
            .map(|s| (s.sku.as_str(), s.on_hand, s.reserved))
            .collect::<Vec<_>>(),
        [("cab-750", 1, 3)]
    );
}

#[tokio::test]
async fn shards_split_the_keys_with_nothing_missed_or_read_twice() {
    let (url, client) = common::legacy_db("source_shards").await;
    seed(&client).await;
    client
        .batch_execute(
            "INSERT INTO orders SELECT g, NULL, 1, 'AUS-1', 'CONFIRMED', 1, 'USD', NULL, now(), now()
             FROM generate_series(-20, 9) g",
        )
        .await
        .expect("more orders, negative numbers too");
    let mut legacy = Legacy::connect(&url.parse().expect("url"))
        .await
        .expect("connect");
    let snap = legacy.snapshot().await.expect("snapshot");
    let mut seen = Vec::new();
    for k in 1..=3 {
        let shard = Shard { index: k, count: 3 };
        let mut after = None;
        let from = seen.len() as u64;
        let (total, _) = snap
            .count_orders("travis-tx", shard, None)
            .await
            .expect("count");
        loop {
            let page = snap
                .orders("travis-tx", shard, after, 4)
                .await
                .expect("page");
            let Some(last) = page.last() else { break };
            after = Some(last.order_id);
            seen.extend(page.iter().map(|o| o.order_id));
            // The count agrees with the pages: all of the shard's orders,
            // and those up to the page's last key.
            let counted = snap
                .count_orders("travis-tx", shard, after)
                .await
                .expect("count");
            assert_eq!(counted, (total, seen.len() as u64 - from), "shard {k}");
        }
        assert_eq!(seen.len() as u64 - from, total, "shard {k}");
    }
    seen.sort_unstable();
    let expected: Vec<i64> = (-20..=9).chain([10, 11, 13]).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_missing_table_or_column_is_one_error_naming_each() {
    let (url, client) = common::legacy_db("source_schema").await;
    client
        .batch_execute("DROP TABLE inventory; ALTER TABLE orders RENAME COLUMN placed_at TO placed")
        .await
        .expect("break the schema");
    let err = Legacy::connect(&url.parse().expect("url"))
        .await
        .map(|_| ())
        .expect_err("refused");
    let text = err.to_string();
    assert!(matches!(err, SourceError::Schema { .. }), "{text}");
    assert!(text.contains("  - column `orders.placed_at`"), "{text}");
    assert!(text.contains("  - table `inventory`"), "{text}");
    assert!(!text.contains("order_lines"), "{text}");
}

#[tokio::test]
async fn an_unreachable_or_wrong_database_is_a_clear_error_without_the_password() {
    // A port nothing listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = free.local_addr().expect("addr").port();
    drop(free);
    let url: LegacyUrl = format!("postgres://acme:hunter2@127.0.0.1:{port}/orders")
        .parse()
        .expect("url");
    let err = Legacy::connect(&url)
        .await
        .map(|_| ())
        .expect_err("unreachable");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot connect to the legacy database at postgres://acme@127.0.0.1:{port}/orders: "
        )),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");

    let server = common::server_url();
    let (base, _) = server.rsplit_once('/').expect("url");
    let url: LegacyUrl = format!("{base}/no_such_db").parse().expect("url");
    let err = Legacy::connect(&url)
        .await
        .map(|_| ())
        .expect_err("no such database");
    assert!(
        err.to_string()
            .contains("database \"no_such_db\" does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn the_messy_county_reads_whole_and_nothing_from_another_county() {
    let (url, client) = common::legacy_db("source_messy").await;
    client
        .batch_execute(include_str!("fixtures/messy-county.sql"))
        .await
        .expect("load the messy county");
    let mut legacy = Legacy::connect(&url.parse().expect("url"))
        .await
        .expect("connect");
    let snap = legacy.snapshot().await.expect("snapshot");
    let mut orders = Vec::new();
    let mut after = None;
    loop {
        let page = snap
            .orders("travis-tx", Shard::WHOLE, after, 7)
            .await
            .expect("page");
        let Some(last) = page.last() else { break };
        after = Some(last.order_id);
        orders.extend(page);
    }
    let numbers: Vec<i64> = orders.iter().map(|o| o.order_id).collect();
    assert_eq!(numbers, (1001..=1018).collect::<Vec<_>>());
    let big = orders.iter().find(|o| o.order_id == 1011).expect("1011");
    assert_eq!(big.lines.len(), 150);
    assert_eq!(big.lines[149].line_no, 150);
    assert!(
        orders
            .iter()
            .find(|o| o.order_id == 1016)
            .is_some_and(|o| o.lines.is_empty())
    );

    let customers = snap
        .customers("travis-tx", Shard::WHOLE, None, 100)
        .await
        .expect("customers");
    assert_eq!(
        customers.iter().map(|c| c.customer_id).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(customers[2].full_name.as_deref(), Some("Zoë Ñúñez 山田"));
    let stock = snap.inventory("travis-tx", None, 100).await.expect("stock");
    assert_eq!(stock.len(), 6);
}

//! `DynamoStore` against moto's DynamoDB over real HTTP, on tables shaped
//! like the county stack's. Run: `scripts/with-moto.sh cargo test -p order-aws`.

// Test helpers may unwrap too: a panic there is a failed assertion (as clippy.toml
// allows inside #[test] functions).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use jiff::Timestamp;
use order_aws::emulator::IsolatedStore;
use order_domain::clock::{ManualClock, SequentialIds};
use order_domain::order::OrderStatus;
use order_domain::payment::SimulatedGateway;
use order_domain::rules::CountyRules;
use order_domain::schema::{inventory as inv, order_by_id, orders};
use order_domain::service::{AcceptService, OrderQueries, OrderWorker, ProcessOutcome};
use order_domain::store::{
    AttrValue, BATCH_WRITE_MAX, CancelReason, Condition, ConditionCheck, Delete, Index, Item,
    PlanError, Put, Query, SortCondition, Store, StoreError, Table, Transaction, Update,
    UpdateAction, WriteOp,
};
use order_domain::testing::seed_adult;

fn item(pairs: &[(&str, AttrValue)]) -> Item {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn order_record(id: &str, version: i64) -> Item {
    item(&[
        (order_by_id::PK, AttrValue::s(id)),
        (order_by_id::VERSION, AttrValue::n(version)),
        (order_by_id::STATUS, AttrValue::s("PENDING")),
    ])
}

fn okey(id: &str) -> Item {
    item(&[(order_by_id::PK, AttrValue::s(id))])
}

#[tokio::test]
async fn conditional_put_get_update_delete() {
    let store = common::store("cond").await;
    let put = |version| Put {
        table: Table::OrderById,
        item: order_record("o1", version),
        condition: Some(Condition::not_exists(order_by_id::PK)),
    };
    store.put(put(1)).await.unwrap();
    // The second put's condition fails and returns the item as it was.
    match store.put(put(2)).await {
        Err(StoreError::ConditionFailed { item: Some(old) }) => {
            assert_eq!(old[order_by_id::VERSION], AttrValue::n(1));
        }
        other => panic!("expected ConditionFailed with the old item, got {other:?}"),
    }
    let got = store.get(Table::OrderById, okey("o1"), true).await.unwrap();
    assert_eq!(got, Some(order_record("o1", 1)));
    assert_eq!(
        store
            .get(Table::OrderById, okey("nope"), true)
            .await
            .unwrap(),
        None
    );

    // `status` and `version` are reserved words: only placeholders work.
    let updated = store
        .update(Update {
            table: Table::OrderById,
            key: okey("o1"),
            actions: vec![
                UpdateAction::Set(order_by_id::STATUS.into(), AttrValue::s("RESERVED")),
                UpdateAction::Add(order_by_id::VERSION.into(), 1),
            ],
            condition: Some(Condition::equals(order_by_id::VERSION, AttrValue::n(1))),
        })
        .await
        .unwrap();
    assert_eq!(updated[order_by_id::STATUS], AttrValue::s("RESERVED"));
    assert_eq!(updated[order_by_id::VERSION].as_i128(), Some(2));
    let stale = store
        .update(Update {
            table: Table::OrderById,
            key: okey("o1"),
            actions: vec![UpdateAction::Add(order_by_id::VERSION.into(), 1)],
            condition: Some(Condition::equals(order_by_id::VERSION, AttrValue::n(1))),
        })
        .await;
    assert!(
        matches!(stale, Err(StoreError::ConditionFailed { .. })),
        "{stale:?}"
    );

    let deleted = store
        .delete(Delete {
            table: Table::OrderById,
            key: okey("o1"),
            condition: Some(Condition::exists(order_by_id::PK)),
        })
        .await
        .unwrap();
    assert_eq!(
        deleted.unwrap()[order_by_id::STATUS],
        AttrValue::s("RESERVED")
    );
    let again = store
        .delete(Delete {
            table: Table::OrderById,
            key: okey("o1"),
            condition: Some(Condition::exists(order_by_id::PK)),
        })
        .await;
    assert!(
        matches!(again, Err(StoreError::ConditionFailed { item: None })),
        "{again:?}"
    );
}

#[tokio::test]
async fn cancelled_transaction_reports_per_op_reasons_and_writes_nothing() {
    let store = common::store("txfail").await;
    store
        .put(Put {
            table: Table::OrderById,
            item: order_record("exists", 3),
            condition: None,
        })
        .await
        .unwrap();
    let tx = Transaction::new(vec![
        // Op 0: fine on its own.
        WriteOp::Put(Put {
            table: Table::OrderById,
            item: order_record("new", 1),
            condition: Some(Condition::not_exists(order_by_id::PK)),
        }),
        // Op 1: fails: the item exists.
        WriteOp::Put(Put {
            table: Table::OrderById,
            item: order_record("exists", 4),
            condition: Some(Condition::not_exists(order_by_id::PK)),
        }),
        // Op 2: holds.
        WriteOp::ConditionCheck(ConditionCheck {
            table: Table::Idempotency,
            key: item(&[("idempotency_key", AttrValue::s("k"))]),
            condition: Condition::not_exists("idempotency_key"),
        }),
    ])
    .unwrap();
    let err = store.transact(tx).await.unwrap_err();
    let c = err
        .canceled()
        .unwrap_or_else(|| panic!("not a cancellation: {err:?}"));
    assert_eq!(c.reasons.len(), 3, "{c}");
    assert_eq!(c.reasons[0], None);
    assert!(c.condition_failed(1), "{c}");
    assert_eq!(c.reasons[2], None);
    // ALL_OLD: the item that made op 1 fail comes back.
    assert_eq!(
        c.failed_item(1).map(|i| i[order_by_id::VERSION].clone()),
        Some(AttrValue::n(3))
    );
    assert!(!err.is_retryable());
    // Atomic: op 0 was not written.
    assert_eq!(
        store
            .get(Table::OrderById, okey("new"), true)
            .await
            .unwrap(),
        None
    );
}

fn summary(store_id: &str, n: usize) -> Item {
    let sk = format!("{:013}#ORDER{n:02}", 1_700_000_000_000u64 + n as u64);
    item(&[
        (orders::PK, AttrValue::s(format!("cust-{}", n % 3))),
        (orders::SK, AttrValue::s(sk)),
        (orders::STORE_PK, AttrValue::s(store_id)),
        (orders::ORDER_ID, AttrValue::s(format!("ORDER{n:02}"))),
        (orders::STATUS, AttrValue::s("PENDING")),
        (orders::TOTAL_CENTS, AttrValue::n(n as i64 * 100)),
        (orders::CREATED_AT, AttrValue::s("2023-11-14T22:13:20Z")),
    ])
}

#[tokio::test]
async fn gsi_query_pages_round_trip_through_last_evaluated_key() {
    let store = common::store("gsi").await;
    for n in 0..7 {
        store
            .put(Put {
                table: Table::Orders,
                item: summary("store-a", n),
                condition: None,
            })
            .await
            .unwrap();
    }
    // Another store's orders must not leak into the partition.
    store
        .put(Put {
            table: Table::Orders,
            item: summary("store-b", 99),
            condition: None,
        })
        .await
        .unwrap();

    for forward in [true, false] {
        let mut q = Query::index(Index::StoreTime, "store-a");
        q.sort = Some(SortCondition::Ge(format!("{:013}", 1_700_000_000_001u64)));
        q.forward = forward;
        q.limit = Some(3);
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = store.query(q.clone()).await.unwrap();
            pages += 1;
            assert!(page.items.len() <= 3);
            seen.extend(
                page.items
                    .iter()
                    .map(|i| i[orders::ORDER_ID].as_s().unwrap().to_owned()),
            );
            match page.last_evaluated_key {
                Some(k) => {
                    // The page key holds the table key and the index key.
                    let mut attrs: Vec<&str> = k.keys().map(String::as_str).collect();
                    attrs.sort_unstable();
                    assert_eq!(attrs, [orders::PK, orders::SK, orders::STORE_PK]);
                    q.start_key = Some(k);
                }
                None => break,
            }
            assert!(pages < 10, "pagination does not end");
        }
        let mut expected: Vec<String> = (1..7).map(|n| format!("ORDER{n:02}")).collect();
        if !forward {
            expected.reverse();
        }
        assert_eq!(seen, expected, "forward = {forward}");
    }
}

#[tokio::test]
async fn batch_put_of_60_items_in_chunks_of_25() {
    let store = common::store("batch").await;
    let items: Vec<Item> = (0..60)
        .map(|n| {
            item(&[
                (inv::PK, AttrValue::s("store-batch")),
                (inv::SK, AttrValue::s(format!("STOCK#SKU-{n:03}"))),
                (inv::AVAILABLE, AttrValue::n(n)),
                (inv::PRICE_CENTS, AttrValue::n(100)),
            ])
        })
        .collect();
    // DynamoDB refuses more than 25 (moto does not: the adapter checks).
    let too_many = store
        .batch_put(Table::Inventory, items[..26].to_vec())
        .await;
    assert_eq!(
        too_many,
        Err(StoreError::Plan(PlanError::BatchTooLarge { got: 26 }))
    );
    let mut calls = 0;
    for chunk in items.chunks(BATCH_WRITE_MAX) {
        let mut pending = chunk.to_vec();
        while !pending.is_empty() {
            calls += 1;
            pending = store.batch_put(Table::Inventory, pending).await.unwrap();
            assert!(calls < 20, "unprocessed items never drain");
        }
    }
    assert!(calls >= 3);
    let mut q = Query::table(Table::Inventory, "store-batch");
    q.sort = Some(SortCondition::BeginsWith("STOCK#".into()));
    q.consistent = true;
    let mut count = 0;
    loop {
        let page = store.query(q.clone()).await.unwrap();
        count += page.items.len();
        match page.last_evaluated_key {
            Some(k) => q.start_key = Some(k),
            None => break,
        }
    }
    assert_eq!(count, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_reservations_against_stock_ten() {
    // moto's TransactWriteItems is not isolated under concurrent requests (a
    // cancelled transaction restores a stale copy of the table), so the
    // store serializes its writes as DynamoDB itself would isolate them: the
    // local runner's store (`order_aws::emulator`). The tasks still race to
    // decide; the conditions alone decide who wins.
    let store = Arc::new(IsolatedStore::new(common::store("race").await));
    let stock = common::stock(&store, "store-race", "WINE-1", 10).await;
    let stock_key = order_domain::codec::stock_key(&stock.store_id, &stock.sku);

    let mut tasks = Vec::new();
    for n in 0..40 {
        let store = Arc::clone(&store);
        let stock_key = stock_key.clone();
        tasks.push(tokio::spawn(async move {
            // The worker's reservation shape: take one unit if available,
            // and write the ledger entry only if absent.
            let ops = vec![
                WriteOp::Update(Update {
                    table: Table::Inventory,
                    key: stock_key,
                    actions: vec![UpdateAction::Add(inv::AVAILABLE.into(), -1)],
                    condition: Some(Condition::at_least(inv::AVAILABLE, 1)),
                }),
                WriteOp::Put(Put {
                    table: Table::Inventory,
                    item: item(&[
                        (inv::PK, AttrValue::s("store-race")),
                        (inv::SK, AttrValue::s(format!("RES#WINE-1#order-{n:02}"))),
                        (inv::QUANTITY, AttrValue::n(1)),
                    ]),
                    condition: Some(Condition::not_exists(inv::SK)),
                }),
            ];
            // Real DynamoDB may cancel with TransactionConflict under
            // contention; that is retryable, so retry until decided.
            loop {
                let tx = Transaction::new(ops.clone()).unwrap();
                match store.transact(tx).await {
                    Ok(()) => return true,
                    Err(e) if e.is_retryable() => continue,
                    Err(StoreError::TransactionCanceled(c)) if c.condition_failed(0) => {
                        assert!(matches!(
                            c.reasons[0],
                            Some(CancelReason::ConditionalCheckFailed { .. })
                        ));
                        return false;
                    }
                    Err(e) => panic!("unexpected: {e:?}"),
                }
            }
        }));
    }
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 10);
    let stock_now = store
        .get(Table::Inventory, stock_key, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stock_now[inv::AVAILABLE].as_i128(), Some(0));
    let mut q = Query::table(Table::Inventory, "store-race");
    q.sort = Some(SortCondition::BeginsWith("RES#".into()));
    q.consistent = true;
    assert_eq!(store.query(q).await.unwrap().items.len(), 10);
}

fn open_rules() -> CountyRules {
    let day = r#"{"open_minute": 0, "close_minute": 1440}"#;
    CountyRules::from_json(&format!(
        r#"{{"county_id": "travis-tx", "sales_enabled": true, "timezone": "America/Chicago",
            "sale_hours": {{"monday": {day}, "tuesday": {day}, "wednesday": {day},
                "thursday": {day}, "friday": {day}, "saturday": {day}, "sunday": {day}}},
            "max_units_per_order": 24, "max_line_items": 5, "gsi_write_shards": 4,
            "reservation_ttl_seconds": 900, "idempotency_ttl_hours": 24}}"#
    ))
    .unwrap()
}

/// The domain's services end to end on DynamoDB: accept (3-item transaction
/// with the idempotency record), replay, worker (reserve, pay, confirm),
/// sharded county listing.
#[tokio::test]
async fn accept_then_process_on_dynamodb() {
    let store = Arc::new(common::store("e2e").await);
    let rules = open_rules();
    let now: Timestamp = "2026-03-09T15:00:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let stock = common::stock(&store, "s1", "WINE-1", 10).await;
    seed_adult(&store, "c1").await.unwrap();
    let accept = AcceptService::new(
        Arc::clone(&store),
        rules.clone(),
        Arc::clone(&clock),
        SequentialIds::new(),
    );
    let body = br#"{"client_request_id":"r1","customer_id":"c1","store_id":"s1",
                    "items":[{"sku":"WINE-1","quantity":2}]}"#;
    let first = accept.accept(body).await.unwrap();
    assert!(!first.replayed);
    assert_eq!(first.accepted.total_cents.cents(), 3998);
    let again = accept.accept(body).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.accepted, first.accepted);

    let worker = OrderWorker::new(
        Arc::clone(&store),
        SimulatedGateway::new(),
        rules.clone(),
        Arc::clone(&clock),
    );
    let id = first.accepted.order_id;
    match worker.process(&id).await.unwrap() {
        ProcessOutcome::Confirmed(o) => assert_eq!(o.status, OrderStatus::Confirmed),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        worker.process(&id).await.unwrap(),
        ProcessOutcome::AlreadyFinal(_)
    ));
    let stock_now = store
        .get(
            Table::Inventory,
            stock
                .to_item()
                .into_iter()
                .filter(|(k, _)| k == inv::PK || k == inv::SK)
                .collect(),
            true,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stock_now[inv::AVAILABLE].as_i128(), Some(8));

    let queries = OrderQueries::new(Arc::clone(&store), rules);
    let page = queries
        .county_orders_since("2026-03-09T00:00:00Z".parse().unwrap(), 10, None)
        .await
        .unwrap();
    assert_eq!(page.orders.len(), 1);
    assert_eq!(page.orders[0].order_id, id);
    assert_eq!(page.orders[0].status, OrderStatus::Confirmed);
}

#[tokio::test]
async fn customer_profiles_on_dynamodb_and_a_clear_error_without_the_table() {
    use order_domain::customer::Customer;
    use order_domain::ids::CustomerId;
    use order_domain::service::{CustomerService, Upsert};

    let store = common::store("profiles").await;
    let clock = Arc::new(ManualClock::new("2026-03-09T15:00:00Z".parse().unwrap()));
    let profiles = CustomerService::new(store.clone(), open_rules(), Arc::clone(&clock));
    let id = CustomerId::parse("c-42").unwrap();
    let body = r#"{"email":"zoë@example.com","full_name":"Zoë 'Robert'); --","phone":"+1 512 555 0142","birth_date":"1990-02-28"}"#.as_bytes();
    let (written, outcome) = profiles.put(&id, body).await.unwrap();
    assert_eq!(outcome, Upsert::Created);
    let (_, outcome) = profiles.put(&id, body).await.unwrap();
    assert_eq!(outcome, Upsert::Unchanged);
    let read = profiles.get(&id).await.unwrap();
    assert_eq!(read, written);
    assert_eq!(read.full_name.as_deref(), Some("Zoë 'Robert'); --"));
    let raw = store
        .get(
            Table::Customers,
            order_domain::customer::customer_key(&id),
            true,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(Customer::from_item(&raw).unwrap(), written);

    // The worker's and publisher's store: no Customers table name.
    let mut tables = store.tables().clone();
    tables.customers = None;
    let order_only = order_aws::DynamoStore::new(store.client().clone(), tables);
    let profiles = CustomerService::new(order_only, open_rules(), clock);
    let e = profiles.get(&id).await.unwrap_err();
    assert!(
        e.to_string().contains(
            "ACME_CUSTOMERS_TABLE is not set (the county stack sets it on the order API only)"
        ),
        "{e}"
    );
}

/// The fraud screening counts a customer's orders with a bounded, strongly
/// consistent Query of the Orders table on DynamoDB, holds the second order
/// of the hour (ledger HELD, no TTL), and a staff release puts the ledger
/// back to RESERVED with an `expires_at` and lets the worker charge it.
#[tokio::test]
async fn fraud_screening_holds_and_release_resumes_on_dynamodb() {
    use order_domain::codec::{RESERVATION_HELD, RESERVATION_RESERVED};
    use order_domain::rules::FraudRules;
    use order_domain::service::ReviewService;

    let store = Arc::new(common::store("fraud").await);
    let mut rules = open_rules();
    rules.fraud = Some(FraudRules {
        orders_per_customer_per_hour: 1,
        units_per_customer_per_day: 100,
        order_total_over_cents: 1_000_000,
    });
    let clock = Arc::new(ManualClock::new("2026-03-09T15:00:00Z".parse().unwrap()));
    common::stock(&store, "s1", "WINE-1", 10).await;
    seed_adult(&store, "c9").await.unwrap();
    let accept = AcceptService::new(
        Arc::clone(&store),
        rules.clone(),
        Arc::clone(&clock),
        SequentialIds::new(),
    );
    let worker = OrderWorker::new(
        Arc::clone(&store),
        SimulatedGateway::new(),
        rules.clone(),
        Arc::clone(&clock),
    );
    let mut ids = Vec::new();
    for r in ["f1", "f2"] {
        let body = format!(
            r#"{{"client_request_id":"{r}","customer_id":"c9","store_id":"s1","items":[{{"sku":"WINE-1","quantity":1}}]}}"#
        );
        ids.push(
            accept
                .accept(body.as_bytes())
                .await
                .unwrap()
                .accepted
                .order_id,
        );
        clock.advance(jiff::SignedDuration::from_secs(60));
    }
    assert!(matches!(
        worker.process(&ids[0]).await.unwrap(),
        ProcessOutcome::Confirmed(_)
    ));
    let held = match worker.process(&ids[1]).await.unwrap() {
        ProcessOutcome::Held(o) => o,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        held.hold_reason,
        Some(order_domain::order::HoldReason::OrdersPerHour {
            limit: 1,
            counted: 2
        })
    );
    let ledger_key =
        order_domain::codec::reservation_key(&held.store_id, &held.items[0].sku, &held.order_id);
    let entry = store
        .get(Table::Inventory, ledger_key.clone(), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry[inv::STATE], AttrValue::s(RESERVATION_HELD));
    assert!(
        !entry.contains_key("expires_at"),
        "ledger entries never expire"
    );

    let staff = ReviewService::new(Arc::clone(&store), rules, Arc::clone(&clock));
    assert_eq!(
        staff.release(&held.order_id).await.unwrap().status,
        OrderStatus::Reserved
    );
    let entry = store
        .get(Table::Inventory, ledger_key, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry[inv::STATE], AttrValue::s(RESERVATION_RESERVED));
    assert!(
        !entry.contains_key("expires_at"),
        "ledger entries never expire"
    );
    assert!(matches!(
        worker.process(&held.order_id).await.unwrap(),
        ProcessOutcome::Confirmed(_)
    ));
}

//! Every awkward row of the messy county, read from a real PostgreSQL and
//! mapped: the order written, or the reject and its reason, exactly.

mod common;

use std::collections::BTreeMap;

use acme_migrate::map::order_id;
use acme_migrate::order::{MappedOrder, MappedStore, Reject, items, map_order};
use acme_migrate::read::Shard;
use acme_migrate::source::Legacy;
use order_domain::codec::LEGACY_ORDER_ID;
use order_domain::order::LegacyOwner;
use order_domain::schema::orders;
use order_domain::store::{AttrValue, Table};
use order_domain::{CountyId, OrderStatus};

/// The messy county in database `db`, every order mapped.
async fn mapped_county(db: &str) -> BTreeMap<i64, Result<MappedOrder, Reject>> {
    let (url, client) = common::legacy_db(db).await;
    client
        .batch_execute(include_str!("fixtures/messy-county.sql"))
        .await
        .expect("load the messy county");
    let mut legacy = Legacy::connect(&url.parse().expect("url"))
        .await
        .expect("connect");
    let snap = legacy.snapshot().await.expect("snapshot");
    let stores: BTreeMap<String, MappedStore> = snap
        .stores("travis-tx")
        .await
        .expect("stores")
        .iter()
        .map(|s| (s.store_id.clone(), MappedStore::new(s)))
        .collect();
    let county = CountyId::parse("travis-tx").expect("county");
    let orders = snap
        .orders("travis-tx", Shard::WHOLE, None, 100)
        .await
        .expect("orders");
    orders
        .iter()
        .map(|o| (o.order_id, map_order(o, &stores[&o.store_id], &county)))
        .collect()
}

fn ok(all: &BTreeMap<i64, Result<MappedOrder, Reject>>, n: i64) -> &MappedOrder {
    match &all[&n] {
        Ok(m) => m,
        Err(r) => panic!("{n} rejected: {}", r.reason),
    }
}

fn reason(all: &BTreeMap<i64, Result<MappedOrder, Reject>>, n: i64) -> &str {
    match &all[&n] {
        Ok(_) => panic!("{n} was not rejected"),
        Err(r) => &r.reason,
    }
}

#[tokio::test]
async fn every_awkward_row_maps_or_is_rejected_with_its_reason() {
    let all = mapped_county("mapping_rules").await;
    assert_eq!(all.len(), 18);

    let o = ok(&all, 1001);
    assert_eq!(o.order.order_id, order_id::from_legacy(1001));
    assert_eq!(o.order.created_at.to_string(), "2024-06-14T22:30:00Z");
    assert_eq!(o.order.total_cents.cents(), 2548);
    assert_eq!(o.order.status, OrderStatus::Confirmed);
    assert_eq!(
        o.order.client_request_id.as_ref().map(|r| r.as_str()),
        Some("req-1001")
    );
    let legacy = o.order.legacy.as_ref().expect("legacy record");
    assert_eq!((legacy.number, legacy.owner), (1001, LegacyOwner::New));
    assert_eq!(legacy.payment_ref.as_deref(), Some("ch_1001"));
    assert!(o.warnings.is_empty(), "{:?}", o.warnings);

    assert_eq!(
        ok(&all, 1002).warnings,
        ["total $20.00 differs from its lines' $21.98; kept as recorded"]
    );
    let fold = ok(&all, 1003);
    assert_eq!(fold.order.created_at.to_string(), "2024-11-03T06:30:00Z");
    assert_eq!(fold.order.status, OrderStatus::Fulfilled);
    assert_eq!(fold.order.client_request_id, None);
    assert!(
        fold.warnings[0].contains("took the earlier instant"),
        "{:?}",
        fold.warnings
    );
    let gap = ok(&all, 1004);
    assert_eq!(gap.order.created_at.to_string(), "2024-03-10T08:30:00Z");
    assert!(
        gap.warnings[0].contains("moved forward by 60 minutes"),
        "{:?}",
        gap.warnings
    );

    assert!(reason(&all, 1005).starts_with("unknown legacy status `ON_HOLD`"));
    assert!(reason(&all, 1006).starts_with("unknown legacy status `shipped`"));

    for n in [1007, 1008] {
        let o = &ok(&all, n).order;
        assert_eq!(o.status, OrderStatus::Pending);
        assert!(o.owned_by_legacy(), "{n}");
    }

    let escaped = &ok(&all, 1009);
    assert_eq!(escaped.order.store_id.as_str(), "AUS_202_23");
    let skus: Vec<&str> = escaped.order.items.iter().map(|l| l.sku.as_str()).collect();
    assert_eq!(
        skus,
        [
            "RED_20WINE_20_232",
            "O_27Doul_27s",
            "cr_C3_A8me_5Fde_5Fcassis"
        ]
    );
    assert_eq!(
        escaped.order.client_request_id.as_ref().map(|r| r.as_str()),
        Some("Req_201009_20_23a")
    );
    assert!(
        escaped
            .warnings
            .contains(&"SKU `RED WINE #2` stored as `RED_20WINE_20_232`".to_owned())
    );

    let by_case = &ok(&all, 1010).order;
    assert_eq!(by_case.store_id.as_str(), "_C3_A9picerie");
    let skus: Vec<&str> = by_case.items.iter().map(|l| l.sku.as_str()).collect();
    assert_eq!(skus, ["cab-750", "CAB-750"]);
    assert_eq!(by_case.status, OrderStatus::Refunded);

    let big = &ok(&all, 1011).order;
    assert_eq!((big.items.len(), big.total_cents.cents()), (150, 15000));

    assert!(
        reason(&all, 1012).contains("needs 33 characters once escaped"),
        "{}",
        reason(&all, 1012)
    );
    assert_eq!(reason(&all, 1013), "currency `CAD` is not USD");
    assert!(reason(&all, 1014).starts_with("total `-5.00` is negative"));
    assert_eq!(
        reason(&all, 1015),
        "store: unknown time zone `Central Time` (not an IANA zone name)"
    );
    assert_eq!(reason(&all, 1016), "has no lines");

    let ids: Vec<_> = [1017, 1018]
        .map(|n| {
            ok(&all, n)
                .order
                .client_request_id
                .clone()
                .expect("id")
                .as_str()
                .to_owned()
        })
        .to_vec();
    assert_eq!(ids, ["req_5F1017", "req_5F5F1017"]);
}

#[tokio::test]
async fn a_migrated_order_is_written_as_the_api_would_plus_its_legacy_number() {
    let all = mapped_county("mapping_items").await;
    let history = items(&ok(&all, 1001).order, 4);
    assert_eq!(
        history.iter().map(|p| p.table).collect::<Vec<_>>(),
        [Table::OrderById, Table::Orders]
    );
    for p in &history {
        assert_eq!(p.item[LEGACY_ORDER_ID], AttrValue::N("1001".into()));
        assert!(p.write_units >= 1);
    }
    // The summary's GSI entries are paid for too: more than the item alone.
    assert!(history[1].write_units > 1, "{}", history[1].write_units);
    assert!(
        history[1].item.contains_key(orders::STATUS_SHARD_PK),
        "CONFIRMED is in the status index"
    );
    // An order the legacy system still owns is not this system's work in flight.
    let in_flight = items(&ok(&all, 1007).order, 4);
    assert!(!in_flight[1].item.contains_key(orders::STATUS_SHARD_PK));
    // The record decodes back to the same order.
    let back = order_domain::codec::order_from_item(&history[0].item).expect("decodes");
    assert_eq!(back, ok(&all, 1001).order);
}

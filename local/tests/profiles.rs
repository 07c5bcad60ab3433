//! Customer profiles and the legacy lookup through the local runner's HTTP
//! server: the order API built from the county's own function environment,
//! the one with the Customers table.
//!
//! Run with `scripts/with-moto.sh cargo test -p acme-local`.

mod common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_profile_is_written_once_and_read_back_masked() {
    let h = start().await;
    let body = json!({
        "email": "jane@example.com",
        "full_name": "Jane Doe",
        "phone": "+1 512 555 0142",
        "birth_date": "1990-02-28"
    })
    .to_string();
    let a = h
        .send(reqwest::Method::PUT, "/customers/c-1", Some(body.clone()))
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    let a = h
        .send(reqwest::Method::PUT, "/customers/c-1", Some(body))
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    let a = h.send(reqwest::Method::GET, "/customers/c-1", None).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["email"], "j***@example.com");
    assert_eq!(a.body["phone"], "***0142");
    assert_eq!(h.count("CustomersTable").await, 1);
    for t in ["OrdersTable", "OrderByIdTable"] {
        assert_eq!(h.count(t).await, 0, "{t} is empty");
    }
    let a = h.send(reqwest::Method::GET, "/customers/c-2", None).await;
    assert_eq!(a.status, 404, "{a:?}");
    let a = h
        .send(reqwest::Method::GET, "/orders/legacy/1011", None)
        .await;
    assert_eq!(a.status, 404, "{a:?}");
    let a = h
        .send(reqwest::Method::GET, "/orders/legacy/ten", None)
        .await;
    assert_eq!(
        (a.status, &a.body["field"]),
        (400, &json!("legacy_order_id"))
    );
    h.stop().await;
}

//! A fresh database per test in the PostgreSQL that `scripts/with-postgres.sh`
//! started, with the legacy schema loaded.

#![allow(dead_code)]

use tokio_postgres::{Client, NoTls};

/// The server's URL. Fails (never skips) when the test runs without one.
pub fn server_url() -> String {
    std::env::var("ACME_TEST_LEGACY_URL").unwrap_or_else(|_| {
        panic!(
            "ACME_TEST_LEGACY_URL is not set: run the tests through \
             `scripts/with-postgres.sh` (make test does)"
        )
    })
}

/// A new, empty database named after the test, with the legacy schema; its URL.
pub async fn legacy_db(name: &str) -> (String, Client) {
    let admin = connect(&server_url()).await;
    // Two round trips: a multi-statement string is one implicit
    // transaction, which DROP/CREATE DATABASE refuse.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin
            .simple_query(&sql)
            .await
            .expect("create the test database");
    }
    let server = server_url();
    let (base, _) = server.rsplit_once('/').expect("URL ends in /database");
    let url = format!("{base}/{name}");
    let client = connect(&url).await;
    client
        .batch_execute(include_str!("../../sql/legacy-schema.sql"))
        .await
        .expect("load the legacy schema");
    (url, client)
}

pub async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    client
}

/// travis-tx's tables, provisioned on the emulator `scripts/with-moto.sh`
/// started, as the local runner provisions them. Fails (never skips) without
/// one.
pub async fn county_tables() -> (aws_sdk_dynamodb::Client, order_domain::store::TableNames) {
    use acme_local::provision::{Clients, new_run_id, provision};
    use acme_local::stack::CountyStack;

    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        panic!("AWS_ENDPOINT_URL is not set: run through scripts/with-moto.sh (make test does)");
    }
    let sdk = aws_config::load_from_env().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let environments = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
    let stack = CountyStack::load(&environments, "travis-tx").expect("the sample county");
    let resources = provision(
        &stack,
        &new_run_id(),
        Clients {
            dynamodb: &client,
            sqs: &aws_sdk_sqs::Client::new(&sdk),
            eventbridge: &aws_sdk_eventbridge::Client::new(&sdk),
            sns: &aws_sdk_sns::Client::new(&sdk),
        },
    )
    .await
    .expect("provision the county on the emulator");
    let tables = resources.table_names().expect("tables");
    (client, tables)
}

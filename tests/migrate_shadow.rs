//! `acme-infra migrate shadow` as an operator runs it: a drain of the
//! ShadowReads queue (moto) against the legacy database (PostgreSQL), a
//! message that is no shadow read set aside without stopping the run, and a
//! bad queue URL refused with exit 2.

mod common;
use common::env_var;

use std::process::{Command, Stdio};

use tokio_postgres::NoTls;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_acme-infra"))
}

async fn legacy(db: &str) -> String {
    let server = env_var("ACME_TEST_LEGACY_URL", "scripts/with-postgres.sh");
    let (base, _) = server.rsplit_once('/').expect("URL");
    let (admin, conn) = tokio_postgres::connect(&server, NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    for sql in [
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        format!("CREATE DATABASE {db}"),
    ] {
        admin.simple_query(&sql).await.expect("database");
    }
    let url = format!("{base}/{db}");
    let (client, conn) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute(include_str!("../migrate/sql/legacy-schema.sql"))
        .await
        .expect("schema");
    client
        .batch_execute(
            "INSERT INTO stores VALUES ('AUS-1', 'travis-tx', 'Austin', 'America/Chicago');",
        )
        .await
        .expect("seed");
    url
}

#[test]
fn a_queue_that_is_not_a_url_is_refused() {
    let out = bin()
        .args([
            "migrate",
            "shadow",
            "--county",
            "travis-tx",
            "--queue",
            "ShadowReads",
        ])
        .env("ACME_LEGACY_URL", "postgres://migrator@127.0.0.1:1/orders")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--queue: `ShadowReads` is not a queue URL"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_drain_sets_aside_what_is_not_a_shadow_read_and_exits_0() {
    env_var("AWS_ENDPOINT_URL", "scripts/with-moto.sh");
    let url = legacy("cli_shadow").await;
    let sdk = aws_config::load_from_env().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = sqs
        .create_queue()
        .queue_name(format!("ShadowReadsCli-{}", std::process::id()))
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    sqs.send_message()
        .queue_url(&queue)
        .message_body("{not json")
        .send()
        .await
        .expect("send");
    let out = bin()
        .args([
            "migrate",
            "shadow",
            "--county",
            "travis-tx",
            "--until-empty",
            "--wait",
            "1",
        ])
        .args(["--queue", &queue, "--target", "aws"])
        .env("ACME_LEGACY_URL", &url)
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("set aside (deleted)"), "{stderr}");
    assert!(
        stdout.contains(
            "shadow travis-tx: 0 reads compared in 1 batches: 0 mismatches, 0 stale (legacy newer), 1 messages set aside"
        ),
        "{stdout}"
    );
}

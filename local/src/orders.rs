//! `acme-infra orders redrive | stuck`: the order queue's dead letters back
//! to the worker, and the orders the sweeper would act on, against a
//! deployed county or a running local runner (found as `inventory` finds
//! them: `--target`).

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_sqs::Client as Sqs;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use jiff::{SignedDuration, Timestamp};
use order_domain::clock::Clock;
use order_domain::codec::OrderSummary;
use order_domain::events::WorkMessage;
use order_domain::order::OrderStatus;
use order_domain::rules::CountyRules;
use order_domain::service::Sweeper;
use order_domain::store::Store;
use serde::Serialize;

use crate::error::{LocalError, Result};

/// A queue by URL and ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePair {
    pub queue_url: String,
    pub queue_arn: String,
    pub dlq_url: String,
    pub dlq_arn: String,
}

/// Messages moved per receive (SQS's maximum).
const RECEIVE_MAX: i32 = 10;
/// Seconds a received dead letter stays hidden while it is sent on: long
/// enough for one send, short enough that a crash leaves it back soon.
const MOVE_VISIBILITY_SECONDS: i32 = 60;
/// At most this many messages per redrive (the fallback loop's bound).
pub const REDRIVE_MAX: usize = 10_000;
/// How long a move task is watched before the command reports it running.
const MOVE_TASK_WATCH: Duration = Duration::from_secs(300);

/// What a redrive did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RedriveReport {
    pub dry_run: bool,
    /// `move-task` (SQS `StartMessageMoveTask`), `receive-send-delete`, or
    /// for a dry run `listed, visibility 0`.
    pub method: &'static str,
    /// Messages moved (or, dry run, in the DLQ).
    pub moved: u64,
    /// The order ids of the moved messages, as far as they are known: every
    /// one with the loop; those seen in the DLQ before the move with a task.
    pub order_ids: Vec<String>,
    /// Messages whose body is not `{"order_id": ...}` (moved all the same).
    pub unreadable: u64,
}

/// Whether SQS (or the emulator) said it has no `StartMessageMoveTask`: an
/// error code saying so, a 404 or 501, or an HTML error page instead of an
/// SQS error document (moto 5 answers an action it lacks with a 500 HTML
/// page; SQS itself never answers HTML).
fn move_task_unsupported<E>(e: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    let code = e.code().unwrap_or_default();
    let said = |text: &str| {
        let t = text.to_ascii_lowercase();
        t.contains("not yet implemented")
            || t.contains("not implemented")
            || t.contains("invalidaction")
            || t.contains("unknownoperation")
    };
    let raw = e.raw_response();
    matches!(
        code,
        "InvalidAction" | "UnknownOperationException" | "NotImplemented" | "UnsupportedOperation"
    ) || raw.is_some_and(|r| matches!(r.status().as_u16(), 404 | 501))
        || raw.is_some_and(|r| {
            r.status().is_server_error()
                && r.headers()
                    .get("content-type")
                    .is_some_and(|c| c.starts_with("text/html"))
        })
        || e.message().is_some_and(said)
        || raw
            .and_then(|r| r.body().bytes())
            .is_some_and(|b| said(&String::from_utf8_lossy(b)))
}

/// Moves the DLQ's messages back to the order queue.
pub async fn redrive(sqs: &Sqs, q: &QueuePair, dry_run: bool) -> Result<RedriveReport> {
    if dry_run {
        return peek(sqs, q).await;
    }
    let seen = peek(sqs, q).await?;
    match sqs
        .start_message_move_task()
        .source_arn(&q.dlq_arn)
        .destination_arn(&q.queue_arn)
        .send()
        .await
    {
        Ok(out) => {
            let moved = watch_move_task(sqs, q, out.task_handle().unwrap_or_default()).await?;
            Ok(RedriveReport {
                dry_run: false,
                method: "move-task",
                moved,
                order_ids: seen.order_ids,
                unreadable: seen.unreadable,
            })
        }
        Err(e) if move_task_unsupported(&e) => {
            tracing::info!("StartMessageMoveTask unsupported here: moving message by message");
            move_each(sqs, q).await
        }
        Err(e) => {
            let raw = e.raw_response().map(|r| {
                let body = r
                    .body()
                    .bytes()
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default();
                format!(" (HTTP {}: {:.300})", r.status().as_u16(), body)
            });
            Err(LocalError::Aws {
                service: "sqs",
                operation: "StartMessageMoveTask",
                message: format!("{}{}", e, raw.unwrap_or_default()),
            })
        }
    }
}

/// Polls the move task until it ends; the number it moved.
async fn watch_move_task(sqs: &Sqs, q: &QueuePair, handle: &str) -> Result<u64> {
    let started = std::time::Instant::now();
    loop {
        let out = sqs
            .list_message_move_tasks()
            .source_arn(&q.dlq_arn)
            .max_results(10)
            .send()
            .await
            .map_err(|e| LocalError::aws("sqs", "ListMessageMoveTasks", e))?;
        let task = out
            .results()
            .iter()
            .find(|t| t.task_handle() == Some(handle) || handle.is_empty());
        let moved = task.map_or(0, |t| t.approximate_number_of_messages_moved());
        match task.and_then(|t| t.status()) {
            Some("COMPLETED") => return Ok(u64::try_from(moved).unwrap_or(0)),
            Some("FAILED") | Some("CANCELLED") => {
                return Err(LocalError::Invalid(format!(
                    "the SQS move task {handle} ended {} after moving {moved} message(s): {}",
                    task.and_then(|t| t.status()).unwrap_or_default(),
                    task.and_then(|t| t.failure_reason())
                        .unwrap_or("no reason given")
                )));
            }
            _ if started.elapsed() > MOVE_TASK_WATCH => {
                return Err(LocalError::Invalid(format!(
                    "the SQS move task {handle} is still running after {}s ({moved} moved so far); it goes on without this command",
                    MOVE_TASK_WATCH.as_secs()
                )));
            }
            _ => tokio::time::sleep(Duration::from_secs(2)).await,
        }
    }
}

/// The order id in a work message body.
fn order_id_of(body: Option<&str>) -> Option<String> {
    WorkMessage::from_json(body.unwrap_or_default())
        .ok()
        .map(|w| w.order_id.to_string())
}

/// The DLQ's messages, read without hiding them (visibility 0), each once.
async fn peek(sqs: &Sqs, q: &QueuePair) -> Result<RedriveReport> {
    let mut seen = BTreeSet::new();
    let mut report = RedriveReport {
        dry_run: true,
        method: "listed, visibility 0",
        ..RedriveReport::default()
    };
    // A receive samples some of the queue's servers: stop after two rounds
    // that found nothing new.
    let mut quiet = 0;
    while quiet < 2 && seen.len() < REDRIVE_MAX {
        let out = sqs
            .receive_message()
            .queue_url(&q.dlq_url)
            .max_number_of_messages(RECEIVE_MAX)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(|e| LocalError::aws("sqs", "ReceiveMessage", e))?;
        let mut new = 0;
        for m in out.messages() {
            if seen.insert(m.message_id().unwrap_or_default().to_owned()) {
                new += 1;
                report.moved += 1;
                match order_id_of(m.body()) {
                    Some(id) => report.order_ids.push(id),
                    None => report.unreadable += 1,
                }
            }
        }
        quiet = if new == 0 { quiet + 1 } else { 0 };
    }
    Ok(report)
}

/// The fallback: receive, send to the order queue, and only once the send
/// succeeded delete from the DLQ; at most [`REDRIVE_MAX`] messages.
async fn move_each(sqs: &Sqs, q: &QueuePair) -> Result<RedriveReport> {
    let mut report = RedriveReport {
        dry_run: false,
        method: "receive-send-delete",
        ..RedriveReport::default()
    };
    while (report.moved as usize) < REDRIVE_MAX {
        let out = sqs
            .receive_message()
            .queue_url(&q.dlq_url)
            .max_number_of_messages(RECEIVE_MAX)
            .visibility_timeout(MOVE_VISIBILITY_SECONDS)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|e| LocalError::aws("sqs", "ReceiveMessage", e))?;
        if out.messages().is_empty() {
            break;
        }
        for m in out.messages() {
            sqs.send_message()
                .queue_url(&q.queue_url)
                .message_body(m.body().unwrap_or_default())
                .send()
                .await
                .map_err(|e| LocalError::aws("sqs", "SendMessage", e))?;
            // Sent: now, and only now, the dead letter may go. A failed
            // delete leaves a duplicate, which the idempotent worker absorbs.
            if let Err(e) = sqs
                .delete_message()
                .queue_url(&q.dlq_url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
            {
                tracing::warn!(error = %DisplayErrorContext(&e), "sent, but not deleted from the DLQ: it will be sent again by the next redrive");
            }
            report.moved += 1;
            match order_id_of(m.body()) {
                Some(id) => report.order_ids.push(id),
                None => report.unreadable += 1,
            }
        }
    }
    Ok(report)
}

/// The text `orders redrive` prints.
pub fn render_redrive(r: &RedriveReport) -> String {
    let verb = if r.dry_run { "would move" } else { "moved" };
    let mut s = format!(
        "{verb} {} message(s) from the order dead-letter queue to the order queue ({})\n",
        r.moved, r.method
    );
    if r.unreadable > 0 {
        s.push_str(&format!(
            "{} message(s) are not order work messages (moved as they are)\n",
            r.unreadable
        ));
    }
    for id in &r.order_ids {
        s.push_str(&format!("  {id}\n"));
    }
    s
}

/// An order the sweeper would act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StuckOrder {
    pub order_id: String,
    pub status: OrderStatus,
    pub customer_id: String,
    pub created_at: Timestamp,
    /// Whole minutes since `created_at`.
    pub age_minutes: i64,
}

/// "Now" pinned, so the cutoff and the ages agree.
struct At(Timestamp);

impl Clock for At {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// At most this many stuck orders per status are listed.
pub const STUCK_MAX: usize = 10_000;

/// Orders in PENDING or RESERVED created more than `older_than` before
/// `now`, oldest first per status.
pub async fn stuck<S: Store>(
    store: S,
    rules: CountyRules,
    older_than: SignedDuration,
    now: Timestamp,
) -> Result<Vec<StuckOrder>> {
    let sweeper = Sweeper::new(store, rules, At(now));
    let mut out = Vec::new();
    for status in [OrderStatus::Pending, OrderStatus::Reserved] {
        let mut cursor: Option<String> = None;
        let mut listed = 0;
        loop {
            let page = sweeper
                .stale_orders(status, older_than, 100, cursor.as_deref())
                .await
                .map_err(|e| LocalError::Invalid(format!("listing {status} orders: {e}")))?;
            listed += page.orders.len();
            out.extend(page.orders.iter().map(|o| stuck_order(o, now)));
            cursor = page.next_cursor;
            if cursor.is_none() || listed >= STUCK_MAX {
                break;
            }
        }
    }
    Ok(out)
}

fn stuck_order(o: &OrderSummary, now: Timestamp) -> StuckOrder {
    StuckOrder {
        order_id: o.order_id.to_string(),
        status: o.status,
        customer_id: o.customer_id.to_string(),
        created_at: o.created_at,
        age_minutes: now.duration_since(o.created_at).as_mins(),
    }
}

/// The table `orders stuck` prints.
pub fn render_stuck(orders: &[StuckOrder], older_than: SignedDuration) -> String {
    let mins = older_than.as_mins();
    if orders.is_empty() {
        return format!("no order has been PENDING or RESERVED for more than {mins} minutes\n");
    }
    let mut s = format!(
        "{:<26}  {:<9}  {:<24}  {:<20}  {:>8}\n",
        "ORDER", "STATUS", "CUSTOMER", "CREATED (UTC)", "AGE MIN"
    );
    for o in orders {
        s.push_str(&format!(
            "{:<26}  {:<9}  {:<24}  {:<20}  {:>8}\n",
            o.order_id,
            o.status.as_str(),
            o.customer_id,
            o.created_at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            o.age_minutes
        ));
    }
    s.push_str(&format!(
        "{} order(s) PENDING or RESERVED for more than {mins} minutes\n",
        orders.len()
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redrive_output() {
        let r = RedriveReport {
            dry_run: false,
            method: "receive-send-delete",
            moved: 3,
            order_ids: vec![
                "01HZY3M4T7X8Q9R0S1T2V3W4X5".into(),
                "01HZY3M4T7X8Q9R0S1T2V3W4X6".into(),
            ],
            unreadable: 1,
        };
        insta::assert_snapshot!("redrive", render_redrive(&r));
        let dry = RedriveReport {
            dry_run: true,
            method: "listed, visibility 0",
            moved: 0,
            order_ids: vec![],
            unreadable: 0,
        };
        insta::assert_snapshot!("redrive_dry_run_empty", render_redrive(&dry));
    }

    #[test]
    fn stuck_output() {
        let now: Timestamp = "2026-05-06T18:30:00Z".parse().unwrap();
        let orders = vec![
            StuckOrder {
                order_id: "01HZY3M4T7X8Q9R0S1T2V3W4X5".into(),
                status: OrderStatus::Pending,
                customer_id: "cust-1".into(),
                created_at: "2026-05-06T18:00:00Z".parse().unwrap(),
                age_minutes: 30,
            },
            StuckOrder {
                order_id: "01HZY3M4T7X8Q9R0S1T2V3W4X6".into(),
                status: OrderStatus::Reserved,
                customer_id: "cust-2".into(),
                created_at: "2026-05-06T17:00:00Z".parse().unwrap(),
                age_minutes: now
                    .duration_since("2026-05-06T17:00:00Z".parse().unwrap())
                    .as_mins(),
            },
        ];
        let ten = SignedDuration::from_mins(10);
        insta::assert_snapshot!("stuck_table", render_stuck(&orders, ten));
        insta::assert_snapshot!("stuck_none", render_stuck(&[], ten));
        insta::assert_snapshot!("stuck_json", serde_json::to_string_pretty(&orders).unwrap());
    }
}

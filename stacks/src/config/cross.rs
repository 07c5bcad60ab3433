//! Rules that tie settings of different sections of the county file
//! together: the queue, the worker function, the payment provider, the
//! reservation and the sweeper. Each is checked only when every side decoded
//! on its own, and is reported at the key a person edits to fix it.

use acme_contract::payment::card_api::FUNCTION_TIMEOUT_MARGIN_MS;

use super::COUNTY;
use super::decode::Decoder;
use super::model::{
    FunctionsConfig, PaymentConfig, QueueConfig, SweeperConfig, VISIBILITY_TIMEOUT_FACTOR,
    order_queue_visibility_timeout,
};
use super::tree::{Node, Pos};

/// The decoded sections the rules read (`None`: did not decode, reported).
pub(super) struct Sections<'a> {
    pub queue: Option<&'a QueueConfig>,
    pub functions: Option<&'a FunctionsConfig>,
    pub payment: Option<&'a PaymentConfig>,
    pub reservation_ttl_seconds: Option<u32>,
    pub sweeper: Option<&'a SweeperConfig>,
}

pub(super) fn check(d: &mut Decoder<'_>, root: &Node, s: &Sections<'_>) {
    let (Some(queue), Some(functions)) = (s.queue, s.functions) else {
        return;
    };
    if let Some(budget) = s.payment.and_then(|p| p.card_api.as_ref()) {
        batch_fits_worker_timeout(d, root, queue, functions, budget.call_budget_ms);
    }
    max_concurrency_within_reserved(d, root, queue, functions);
    let visibility = Visibility::of(queue, functions);
    if let Some(ttl) = s.reservation_ttl_seconds {
        reservation_outlives_redelivery(d, root, ttl, &visibility);
    }
    if let Some(sweeper) = s.sweeper {
        sweeper_waits_for_redelivery(d, root, sweeper, &visibility);
    }
}

/// The worker takes a batch's messages one after another, and with the card
/// API each may spend its whole `call_budget_ms` when the provider is slow or
/// down (the adapter starts no request that could end past the budget), and
/// then some to do the rest of its work: load the order, the reservation
/// transaction, the fraud screen's queries, the confirm transaction, and the
/// retries of lost write races (bounded at 2 s per message by the worker's
/// `ConflictRetry`). That rest is a few DynamoDB round trips, tens of
/// milliseconds each, but seconds once throttled or contended; the margin is
/// the one a single charge must already leave (`FUNCTION_TIMEOUT_MARGIN_MS`),
/// per message, so a batch of one is held to exactly the single-call rule.
/// A batch that outlives the timeout is delivered again whole after the
/// visibility timeout, the messages never tried included, each delivery
/// counting toward `max_receive_count`: orders would reach the DLQ unpaid.
fn batch_fits_worker_timeout(
    d: &mut Decoder<'_>,
    root: &Node,
    queue: &QueueConfig,
    functions: &FunctionsConfig,
    budget_ms: u32,
) {
    let per_message = u64::from(budget_ms) + u64::from(FUNCTION_TIMEOUT_MARGIN_MS);
    let batch = u64::from(queue.batch_size);
    let timeout = functions.worker.timeout_seconds;
    let timeout_ms = u64::from(timeout) * 1000;
    if batch * per_message <= timeout_ms {
        return;
    }
    let (pos, path) = blame(
        root,
        &[
            "queue.batch_size",
            "functions.worker.timeout_seconds",
            "payment.call_budget_ms",
            "payment.provider",
        ],
    );
    let needed_s = (batch * per_message).div_ceil(1000);
    let message = format!(
        "`queue.batch_size` {batch} × (`payment.call_budget_ms` {budget_ms} ms + {FUNCTION_TIMEOUT_MARGIN_MS} ms for the order's own reads and writes) = {} s exceeds `functions.worker.timeout_seconds` ({timeout} s)",
        seconds(batch * per_message)
    );
    // The single-call rule (payment) already holds: at least one fits.
    let fits = (timeout_ms / per_message).max(1);
    let raise = if needed_s <= 900 {
        format!(", raise `functions.worker.timeout_seconds` to {needed_s}")
    } else {
        String::new()
    };
    let hint = format!(
        "the worker takes a batch's messages one after another, each spending up to the whole call budget while the provider is slow; a batch that outlives the timeout comes back whole, messages never tried included, each delivery counting toward `queue.max_receive_count`: lower `queue.batch_size` to {fits}{raise}, or lower `payment.call_budget_ms`"
    );
    d.error(pos, &path, message, Some(hint));
}

/// Lambda throttles a function past its reserved concurrency, and an SQS
/// event source does not count it: a batch received for a worker Lambda then
/// refuses goes back to the queue and counts toward `max_receive_count`.
/// Lambda's own advice is a maximum concurrency no higher than the reserved.
fn max_concurrency_within_reserved(
    d: &mut Decoder<'_>,
    root: &Node,
    queue: &QueueConfig,
    functions: &FunctionsConfig,
) {
    let Some(reserved) = functions.worker.reserved_concurrency else {
        return;
    };
    let max = queue.max_concurrency;
    if max <= reserved {
        return;
    }
    let (pos, path) = blame(
        root,
        &[
            "queue.max_concurrency",
            "functions.worker.reserved_concurrency",
        ],
    );
    d.error(
        pos,
        &path,
        format!(
            "`queue.max_concurrency` ({max}) is more than `functions.worker.reserved_concurrency` ({reserved})"
        ),
        Some(format!(
            "the queue would start workers Lambda throttles, and a throttled batch goes back to the queue counting toward `queue.max_receive_count`: lower max_concurrency to {reserved}, or raise the worker's reserved_concurrency to {max} (or leave it out)"
        )),
    );
}

/// A payment that fails retryably (timeout, provider down) leaves the order
/// RESERVED and the message comes back after the visibility timeout; the
/// worker charges again only before the reservation's deadline, and fails
/// the order `RESERVATION_EXPIRED` after it. With a reservation shorter than
/// the visibility timeout, a payment that fails once is never tried again.
fn reservation_outlives_redelivery(
    d: &mut Decoder<'_>,
    root: &Node,
    ttl: u32,
    visibility: &Visibility,
) {
    if ttl > visibility.seconds {
        return;
    }
    let (pos, path) = blame(
        root,
        &[
            "reservation_ttl_seconds",
            "functions.worker.timeout_seconds",
        ],
    );
    d.error(
        pos,
        &path,
        format!(
            "`reservation_ttl_seconds` ({ttl}) is not longer than the order queue's visibility timeout ({})",
            visibility.explained()
        ),
        Some(format!(
            "a message the worker could not finish (payment timed out, store throttled) comes back only after the visibility timeout, when the reservation has expired: the order is failed instead of charged again. Raise reservation_ttl_seconds above {}, or lower the worker's timeout",
            visibility.seconds
        )),
    );
}

/// An order still PENDING may only be waiting for SQS to deliver its message
/// again (its first attempt failed, e.g. throttled): a sweeper that re-sends
/// it sooner doubles the worker's load exactly when it is already failing.
fn sweeper_waits_for_redelivery(
    d: &mut Decoder<'_>,
    root: &Node,
    sweeper: &SweeperConfig,
    visibility: &Visibility,
) {
    let stuck = sweeper.stuck_after_minutes;
    if u64::from(stuck) * 60 >= u64::from(visibility.seconds) {
        return;
    }
    let (pos, path) = blame(
        root,
        &[
            "sweeper.stuck_after_minutes",
            "functions.worker.timeout_seconds",
        ],
    );
    d.error(
        pos,
        &path,
        format!(
            "`sweeper.stuck_after_minutes` ({stuck}) is shorter than the order queue's visibility timeout ({})",
            visibility.explained()
        ),
        Some(format!(
            "an order PENDING that long may only be waiting for SQS to deliver its message again; the sweeper would send it a second one: set stuck_after_minutes to at least {}",
            visibility.seconds.div_ceil(60)
        )),
    );
}

/// The order queue's visibility timeout, and what it is made of, for
/// messages that must say where the number comes from.
struct Visibility {
    seconds: u32,
    worker_timeout: u32,
    batching_window: u32,
}

impl Visibility {
    fn of(queue: &QueueConfig, functions: &FunctionsConfig) -> Self {
        let (worker_timeout, batching_window) = (
            functions.worker.timeout_seconds,
            queue.batching_window_seconds,
        );
        Self {
            seconds: order_queue_visibility_timeout(worker_timeout, batching_window),
            worker_timeout,
            batching_window,
        }
    }

    fn explained(&self) -> String {
        format!(
            "{} s = {VISIBILITY_TIMEOUT_FACTOR} × `functions.worker.timeout_seconds` {} + `queue.batching_window_seconds` {}",
            self.seconds, self.worker_timeout, self.batching_window
        )
    }
}

/// `ms` as seconds, with a decimal only when it is not whole.
fn seconds(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        (ms / 1000).to_string()
    } else {
        format!("{}.{}", ms / 1000, ms % 1000 / 100)
    }
}

/// Where to report a rule over `paths` (dotted, most likely fix first): the
/// first one written in the county file, the file being edited and where an
/// override fixes the problem; else the first one written at all.
fn blame(root: &Node, paths: &[&str]) -> (Pos, String) {
    let found: Vec<(&str, Pos)> = paths
        .iter()
        .filter_map(|p| find(root, p).map(|n| (*p, n.pos)))
        .collect();
    let (path, pos) = found
        .iter()
        .find(|(_, pos)| pos.source == COUNTY)
        .or(found.first())
        .copied()
        .unwrap_or((paths[0], root.pos));
    (pos, path.to_owned())
}

/// The value at dotted `path` of the merged tree, if it is written.
pub(super) fn find<'n>(root: &'n Node, path: &str) -> Option<&'n Node> {
    path.split('.').try_fold(root, |node, key| {
        node.entries()?
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    })
}

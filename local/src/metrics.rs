//! Where a request's time goes: time inside store and enqueue calls (the
//! emulator's round trips) versus everything else (our code).
//!
//! The API's store reports each call's time (`record_call`, through
//! [`order_aws::emulator::IsolatedStore::on_call`]) and [`TimedEnqueuer`]
//! times its sends; both add to the request being served, found through a
//! task-local set by the HTTP server around each invocation. Calls outside a
//! request (worker, publisher) are not attributed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use order_aws::emulator::CallTime;

tokio::task_local! {
    static REQUEST: Arc<RequestTiming>;
}

/// Time spent in the emulator while serving one request.
#[derive(Debug, Default)]
pub struct RequestTiming {
    emulator_nanos: AtomicU64,
    lock_nanos: AtomicU64,
    calls: AtomicU64,
}

impl RequestTiming {
    pub fn emulator_nanos(&self) -> u64 {
        self.emulator_nanos.load(Ordering::Relaxed)
    }

    /// Of [`RequestTiming::emulator_nanos`], the part spent waiting for the
    /// isolation lock ([`order_aws::emulator`]) rather than in moto.
    pub fn lock_nanos(&self) -> u64 {
        self.lock_nanos.load(Ordering::Relaxed)
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

/// Runs `fut` with its emulator time recorded into `timing`.
pub async fn scope<F: std::future::Future>(timing: Arc<RequestTiming>, fut: F) -> F::Output {
    REQUEST.scope(timing, fut).await
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Adds an emulator call to the current request, if any.
pub(crate) fn record_call(t: CallTime) {
    let _ = REQUEST.try_with(|r| {
        r.emulator_nanos
            .fetch_add(nanos(t.total), Ordering::Relaxed);
        r.lock_nanos
            .fetch_add(nanos(t.lock_wait), Ordering::Relaxed);
        r.calls.fetch_add(1, Ordering::Relaxed);
    });
}

async fn timed<T>(fut: impl std::future::Future<Output = T>) -> T {
    let start = Instant::now();
    let out = fut.await;
    record_call(CallTime {
        lock_wait: Duration::ZERO,
        total: start.elapsed(),
    });
    out
}

/// An [`order_aws::Enqueuer`] whose sends are timed.
#[derive(Debug, Clone)]
pub struct TimedEnqueuer<E>(pub E);

impl<E: order_aws::Enqueuer> order_aws::Enqueuer for TimedEnqueuer<E> {
    async fn enqueue(
        &self,
        message: order_domain::events::WorkMessage,
    ) -> Result<(), order_aws::SendError> {
        timed(self.0.enqueue(message)).await
    }
}

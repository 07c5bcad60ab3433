//! In-memory [`Enqueuer`] and [`EventSink`] for handler tests: they record
//! what was sent and fail on demand. Feature `test-support`; no Lambda
//! enables it.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use order_domain::events::{OrderEvent, WorkMessage};
use order_domain::ids::OrderId;

use crate::ports::{CustomerNotification, Enqueuer, EventSink, PublishError, SendError};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An in-memory order queue: records what was sent; can be told to fail.
#[derive(Debug, Default)]
pub struct MemoryQueue {
    sent: Mutex<Vec<WorkMessage>>,
    fail_next: AtomicUsize,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `n` sends fail (retryably).
    pub fn fail_next(&self, n: usize) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    /// Every message sent so far, oldest first.
    pub fn messages(&self) -> Vec<WorkMessage> {
        lock(&self.sent).clone()
    }

    /// Removes and returns every message sent so far.
    pub fn drain(&self) -> Vec<WorkMessage> {
        std::mem::take(&mut *lock(&self.sent))
    }
}

impl Enqueuer for MemoryQueue {
    fn enqueue(&self, message: WorkMessage) -> impl Future<Output = Result<(), SendError>> + Send {
        let fail = self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let result = if fail {
            Err(SendError::retryable("simulated SQS outage"))
        } else {
            lock(&self.sent).push(message);
            Ok(())
        };
        std::future::ready(result)
    }
}

/// An in-memory event sink: records events and notifications; events and
/// notifications of chosen orders can be made to fail.
#[derive(Debug, Default)]
pub struct MemorySink {
    events: Mutex<Vec<OrderEvent>>,
    notifications: Mutex<Vec<CustomerNotification>>,
    failing_events: Mutex<HashMap<OrderId, usize>>,
    failing_notifications: Mutex<HashSet<OrderId>>,
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `times` calls to publish events of `order` fail for those
    /// events (as EventBridge fails single entries); the other events of the
    /// calls are published.
    pub fn fail_events_of(&self, order: OrderId, times: usize) {
        lock(&self.failing_events).insert(order, times);
    }

    /// Notifications for `order` fail until [`MemorySink::heal`].
    pub fn fail_notifications_of(&self, order: OrderId) {
        lock(&self.failing_notifications).insert(order);
    }

    /// Stops every injected failure.
    pub fn heal(&self) {
        lock(&self.failing_events).clear();
        lock(&self.failing_notifications).clear();
    }

    pub fn events(&self) -> Vec<OrderEvent> {
        lock(&self.events).clone()
    }

    pub fn notifications(&self) -> Vec<CustomerNotification> {
        lock(&self.notifications).clone()
    }
}

impl EventSink for MemorySink {
    fn put_events(
        &self,
        events: &[OrderEvent],
    ) -> impl Future<Output = Result<(), PublishError>> + Send {
        let mut failed = Vec::new();
        {
            let mut failing = lock(&self.failing_events);
            let mut published = lock(&self.events);
            // This call's attempt of each failing order counts once.
            let mut failing_now = HashSet::new();
            for (i, e) in events.iter().enumerate() {
                if failing_now.contains(&e.order_id) {
                    failed.push(i);
                    continue;
                }
                match failing.get_mut(&e.order_id) {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        failing_now.insert(e.order_id);
                        failed.push(i);
                    }
                    _ => published.push(e.clone()),
                }
            }
        }
        let result = if failed.is_empty() {
            Ok(())
        } else {
            Err(PublishError {
                failed,
                message: "simulated EventBridge entry failure".into(),
            })
        };
        std::future::ready(result)
    }

    fn notify(
        &self,
        notification: &CustomerNotification,
    ) -> impl Future<Output = Result<(), SendError>> + Send {
        let result = if lock(&self.failing_notifications).contains(&notification.order_id) {
            Err(SendError::retryable("simulated SNS outage"))
        } else {
            lock(&self.notifications).push(notification.clone());
            Ok(())
        };
        std::future::ready(result)
    }
}

//! The two ports the handlers need besides the domain's
//! [`Store`](order_domain::store::Store): sending work to the order queue
//! ([`Enqueuer`]) and telling the outside world about order changes
//! ([`EventSink`]). SDK-free; in-memory implementations for handler tests
//! are in `crate::memory` (feature `test-support`).

use std::future::Future;
use std::sync::Arc;

use order_domain::events::{OrderEvent, OrderEventKind, WorkMessage};
use order_domain::ids::{CountyId, CustomerId, OrderId};
use order_domain::order::OrderStatus;
use serde_json::json;
use thiserror::Error;

/// A send to SQS, EventBridge or SNS did not go through.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct SendError {
    pub message: String,
    /// Throttling, timeouts and 5xx: the same send may succeed later.
    pub retryable: bool,
}

impl SendError {
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }
}

/// Some events were not published, even after retrying the failed entries.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{} of the events not published: {message}", failed.len())]
pub struct PublishError {
    /// Indexes (into the slice given to [`EventSink::put_events`]) of the
    /// events that were not published, ascending and never empty.
    pub failed: Vec<usize>,
    pub message: String,
}

impl PublishError {
    /// The first event that was not published.
    pub fn first_failed(&self) -> usize {
        self.failed.first().copied().unwrap_or(0)
    }
}

/// Sends work messages to the order queue (`SendMessage`).
pub trait Enqueuer: Send + Sync {
    fn enqueue(&self, message: WorkMessage) -> impl Future<Output = Result<(), SendError>> + Send;
}

impl<T: Enqueuer + ?Sized> Enqueuer for Arc<T> {
    fn enqueue(&self, message: WorkMessage) -> impl Future<Output = Result<(), SendError>> + Send {
        (**self).enqueue(message)
    }
}

/// A notification for the customer, published to the county's notifications
/// topic. The message attributes let subscriptions filter per customer and
/// per kind without parsing the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerNotification {
    pub customer_id: CustomerId,
    pub order_id: OrderId,
    pub county_id: CountyId,
    pub kind: OrderEventKind,
    /// SNS `Subject` (email subscriptions show it; ≤ 100 ASCII characters).
    pub subject: String,
    /// SNS `Message`: a JSON object with the order id, status and a text.
    pub message: String,
    /// Deduplication key for consumers: the event's `event_id`.
    pub event_id: String,
}

impl CustomerNotification {
    /// The notification for an order event. Every event kind concerns the
    /// customer: placed (received), confirmed, failed (with why), cancelled.
    pub fn for_event(e: &OrderEvent) -> Self {
        let text = match (e.detail_type, &e.failure_reason) {
            (OrderEventKind::OrderPlaced, _) => "We received your order.".to_owned(),
            (OrderEventKind::OrderConfirmed, _) => {
                "Your order is confirmed and paid; the store is preparing it.".to_owned()
            }
            (OrderEventKind::OrderFailed, Some(r)) => format!("Your order failed: {r}."),
            (OrderEventKind::OrderFailed, None) => "Your order failed.".to_owned(),
            (OrderEventKind::OrderCancelled, _) => "Your order was cancelled.".to_owned(),
            // The rule that held it is for staff: the customer is not told
            // which limit to stay under.
            (OrderEventKind::OrderHeld, _) => {
                "Your order is being reviewed before payment; its items are set aside.".to_owned()
            }
            (OrderEventKind::OrderReleased, _) => {
                "Your order passed review; payment is being taken.".to_owned()
            }
            (OrderEventKind::OrderFulfilled, _) => {
                "Your order has been picked up or shipped.".to_owned()
            }
        };
        let subject = format!(
            "ACME Liquors order {}: {}",
            e.order_id,
            status_word(e.status)
        );
        let message = json!({
            "order_id": e.order_id,
            "status": e.status,
            "total_cents": e.total_cents,
            "occurred_at": e.occurred_at,
            "failure_reason": e.failure_reason,
            "text": text,
        })
        .to_string();
        Self {
            customer_id: e.customer_id.clone(),
            order_id: e.order_id,
            county_id: e.county_id.clone(),
            kind: e.detail_type,
            subject,
            message,
            event_id: e.event_id.clone(),
        }
    }

    /// SNS message attributes (`String` data type each).
    pub fn attributes(&self) -> [(&'static str, String); 4] {
        [
            ("customer_id", self.customer_id.to_string()),
            ("county_id", self.county_id.to_string()),
            ("event_type", self.kind.detail_type().to_owned()),
            ("event_id", self.event_id.clone()),
        ]
    }
}

fn status_word(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Pending => "received",
        OrderStatus::Reserved => "reserved",
        OrderStatus::Confirmed => "confirmed",
        OrderStatus::Failed => "failed",
        OrderStatus::Cancelled => "cancelled",
        OrderStatus::Fulfilled => "fulfilled",
        OrderStatus::Refunded => "refunded",
        OrderStatus::Held => "under review",
    }
}

/// Publishes order events (EventBridge) and customer notifications (SNS).
pub trait EventSink: Send + Sync {
    /// Publishes `events` in order, retrying entries that failed. On error,
    /// the events not in [`PublishError::failed`] were published. Events of
    /// one order go out in the order given: an event is published only if
    /// every earlier event of its order in `events` was.
    fn put_events(
        &self,
        events: &[OrderEvent],
    ) -> impl Future<Output = Result<(), PublishError>> + Send;

    fn notify(
        &self,
        notification: &CustomerNotification,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}

impl<T: EventSink + ?Sized> EventSink for Arc<T> {
    fn put_events(
        &self,
        events: &[OrderEvent],
    ) -> impl Future<Output = Result<(), PublishError>> + Send {
        (**self).put_events(events)
    }

    fn notify(
        &self,
        notification: &CustomerNotification,
    ) -> impl Future<Output = Result<(), SendError>> + Send {
        (**self).notify(notification)
    }
}

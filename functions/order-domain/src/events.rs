//! Order events and outbox decisions, derived from the OrderById stream
//! (`NEW_AND_OLD_IMAGES`).
//!
//! The stream publisher calls [`derive()`] per record with the old and new
//! images (`None` for an INSERT's old image or a REMOVE's new one); both
//! deserialize straight from the record's DynamoDB JSON into [`Item`]s.
//!
//! - **Events**: at most one per record, only for changes the outside world
//!   cares about: an order placed (INSERT as PENDING), or a status change into
//!   CONFIRMED, FAILED, CANCELLED, HELD (fraud review, with its reason) or
//!   FULFILLED, and a held order released (HELD → RESERVED). RESERVED is
//!   otherwise internal; an update that
//!   leaves the status alone says nothing.
//! - **Outbox**: an INSERT of a PENDING order means "make sure the worker
//!   hears of it". The API enqueues right after writing, but if it crashed in
//!   between, this second, stream-driven send covers it. A duplicate message
//!   is harmless: the worker is idempotent.
//!
//! Events carry the order's `version`, which grows by one per write: consumers
//! dedupe on [`OrderEvent::event_id`] and order per order by `version`
//! (EventBridge does not preserve order).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::codec::{self, CorruptItem};
use crate::error::DomainError;
use crate::ids::{CountyId, CustomerId, OrderId, StoreId};
use crate::money::Money;
use crate::order::{FailureReason, HoldReason, Order, OrderStatus};
use crate::store::Item;

/// EventBridge `Source` of every order event.
pub const EVENT_SOURCE: &str = "acme.orders";

/// The kinds of order event; the name is the EventBridge `DetailType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderEventKind {
    OrderPlaced,
    OrderConfirmed,
    OrderFailed,
    OrderCancelled,
    OrderHeld,
    OrderReleased,
    OrderFulfilled,
}

impl OrderEventKind {
    pub const fn detail_type(self) -> &'static str {
        match self {
            OrderEventKind::OrderPlaced => "OrderPlaced",
            OrderEventKind::OrderConfirmed => "OrderConfirmed",
            OrderEventKind::OrderFailed => "OrderFailed",
            OrderEventKind::OrderCancelled => "OrderCancelled",
            OrderEventKind::OrderHeld => "OrderHeld",
            OrderEventKind::OrderReleased => "OrderReleased",
            OrderEventKind::OrderFulfilled => "OrderFulfilled",
        }
    }
}

/// One order event: the EventBridge `Detail` (and SNS message) body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    pub detail_type: OrderEventKind,
    /// `<order_id>:<version>`: unique per change, stable across redeliveries.
    pub event_id: String,
    pub order_id: OrderId,
    pub county_id: CountyId,
    pub customer_id: CustomerId,
    pub store_id: StoreId,
    pub status: OrderStatus,
    /// When the change happened (the record's `updated_at`).
    pub occurred_at: Timestamp,
    pub version: u64,
    pub total_cents: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<FailureReason>,
    /// On `OrderHeld`: the fraud rule that held the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_reason: Option<HoldReason>,
}

impl OrderEvent {
    fn new(kind: OrderEventKind, o: &Order) -> Self {
        Self {
            detail_type: kind,
            event_id: format!("{}:{}", o.order_id, o.version),
            order_id: o.order_id,
            county_id: o.county_id.clone(),
            customer_id: o.customer_id.clone(),
            store_id: o.store_id.clone(),
            status: o.status,
            occurred_at: o.updated_at,
            version: o.version,
            total_cents: o.total_cents,
            failure_reason: o.failure_reason.clone(),
            hold_reason: (kind == OrderEventKind::OrderHeld)
                .then_some(o.hold_reason)
                .flatten(),
        }
    }

    pub fn detail_type(&self) -> &'static str {
        self.detail_type.detail_type()
    }
}

/// The order queue's message body: `{"order_id": "..."}`. Shared by the API
/// (after accept), the publisher (outbox), the sweeper and the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkMessage {
    pub order_id: OrderId,
}

impl WorkMessage {
    pub fn to_json(&self) -> String {
        // An OrderId always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }
}

/// What the publisher must do for the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxDecision {
    /// Send this message to the order queue.
    Enqueue(WorkMessage),
    Nothing,
}

/// Everything one stream record produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOutput {
    pub event: Option<OrderEvent>,
    pub outbox: OutboxDecision,
}

/// A stream image that is not an order record. Not retryable: the same
/// record will never decode; log it and move on (or send it to the
/// function's on-failure destination).
#[derive(Debug, Error)]
#[error("bad stream image: {0}")]
pub struct EventError(#[from] pub CorruptItem);

impl DomainError for EventError {
    fn http_status(&self) -> u16 {
        500
    }
    fn is_retryable(&self) -> bool {
        false
    }
    fn code(&self) -> &'static str {
        "bad_stream_image"
    }
}

/// Derives the event and the outbox decision for one stream record.
pub fn derive(old: Option<&Item>, new: Option<&Item>) -> Result<StreamOutput, EventError> {
    let Some(new) = new else {
        // REMOVE: orders are never deleted by the app; nothing to say.
        return Ok(StreamOutput {
            event: None,
            outbox: OutboxDecision::Nothing,
        });
    };
    let new = codec::order_from_item(new)?;
    let old = old.map(codec::order_from_item).transpose()?;
    // Migrated orders the legacy system still owns are its business: no
    // event, and never work for the new worker.
    if new.owned_by_legacy() {
        return Ok(StreamOutput {
            event: None,
            outbox: OutboxDecision::Nothing,
        });
    }
    let kind = match &old {
        None if new.status == OrderStatus::Pending => Some(OrderEventKind::OrderPlaced),
        None => None,
        Some(old) if old.status == new.status => None,
        Some(old) => match new.status {
            OrderStatus::Confirmed => Some(OrderEventKind::OrderConfirmed),
            OrderStatus::Failed => Some(OrderEventKind::OrderFailed),
            OrderStatus::Cancelled => Some(OrderEventKind::OrderCancelled),
            OrderStatus::Held => Some(OrderEventKind::OrderHeld),
            OrderStatus::Fulfilled => Some(OrderEventKind::OrderFulfilled),
            OrderStatus::Reserved if old.status == OrderStatus::Held => {
                Some(OrderEventKind::OrderReleased)
            }
            OrderStatus::Pending | OrderStatus::Reserved | OrderStatus::Refunded => None,
        },
    };
    let outbox = if old.is_none() && new.status == OrderStatus::Pending {
        OutboxDecision::Enqueue(WorkMessage {
            order_id: new.order_id,
        })
    } else {
        OutboxDecision::Nothing
    };
    Ok(StreamOutput {
        event: kind.map(|k| OrderEvent::new(k, &new)),
        outbox,
    })
}

/// The event for one stream record, if any.
pub fn derive_event(
    old: Option<&Item>,
    new: Option<&Item>,
) -> Result<Option<OrderEvent>, EventError> {
    derive(old, new).map(|o| o.event)
}

/// The outbox decision for one stream record.
pub fn outbox_decision(
    old: Option<&Item>,
    new: Option<&Item>,
) -> Result<OutboxDecision, EventError> {
    derive(old, new).map(|o| o.outbox)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::order_to_item;
    use crate::codec::tests_support::sample_order;
    use OrderStatus::*;

    fn order(status: OrderStatus, version: u64) -> Item {
        let mut o = sample_order();
        o.status = status;
        o.version = version;
        if status != Failed {
            o.failure_reason = None;
        }
        order_to_item(&o)
    }

    #[test]
    fn orders_the_legacy_system_owns_make_no_event_and_no_work() {
        let mut o = sample_order();
        o.status = Pending;
        o.failure_reason = None;
        o.legacy = Some(crate::order::LegacyRecord {
            number: 1007,
            status: "NEW".into(),
            owner: crate::order::LegacyOwner::Legacy,
            placed_at_local: "2024-06-16T09:00:00.000000".into(),
            updated_at: o.updated_at,
            payment_ref: None,
        });
        let out = derive(None, Some(&order_to_item(&o))).unwrap();
        assert_eq!(out.event, None);
        assert_eq!(out.outbox, OutboxDecision::Nothing);
        // The same order owned by the new system is placed work, as usual.
        o.legacy.as_mut().unwrap().owner = crate::order::LegacyOwner::New;
        let out = derive(None, Some(&order_to_item(&o))).unwrap();
        assert!(out.event.is_some());
        assert_ne!(out.outbox, OutboxDecision::Nothing);
    }

    #[test]
    fn event_table() {
        use OrderEventKind::*;
        // (old status, new status, expected event, expected enqueue)
        type Case = (
            Option<OrderStatus>,
            Option<OrderStatus>,
            Option<OrderEventKind>,
            bool,
        );
        let cases: &[Case] = &[
            (None, Some(Pending), Some(OrderPlaced), true),
            (None, Some(Reserved), None, false),
            (Some(Pending), Some(Reserved), None, false),
            (Some(Reserved), Some(Confirmed), Some(OrderConfirmed), false),
            (Some(Pending), Some(Failed), Some(OrderFailed), false),
            (Some(Reserved), Some(Failed), Some(OrderFailed), false),
            (Some(Pending), Some(Cancelled), Some(OrderCancelled), false),
            (Some(Reserved), Some(Cancelled), Some(OrderCancelled), false),
            (
                Some(Confirmed),
                Some(Cancelled),
                Some(OrderCancelled),
                false,
            ),
            (Some(Reserved), Some(Held), Some(OrderHeld), false),
            (Some(Held), Some(Reserved), Some(OrderReleased), false),
            (Some(Held), Some(Cancelled), Some(OrderCancelled), false),
            (
                Some(Confirmed),
                Some(Fulfilled),
                Some(OrderFulfilled),
                false,
            ),
            // Version-only updates and repeats say nothing.
            (Some(Held), Some(Held), None, false),
            (Some(Pending), Some(Pending), None, false),
            (Some(Confirmed), Some(Confirmed), None, false),
            (Some(Cancelled), Some(Cancelled), None, false),
            // REMOVE.
            (Some(Confirmed), None, None, false),
        ];
        for (old, new, expect, enqueue) in cases {
            let old_item = old.map(|s| order(s, 1));
            let new_item = new.map(|s| order(s, 2));
            let out = derive(old_item.as_ref(), new_item.as_ref()).unwrap();
            assert_eq!(
                out.event.as_ref().map(|e| e.detail_type),
                *expect,
                "{old:?} -> {new:?}"
            );
            assert_eq!(
                matches!(out.outbox, OutboxDecision::Enqueue(_)),
                *enqueue,
                "{old:?} -> {new:?}"
            );
            if let Some(e) = out.event {
                assert_eq!(e.version, 2);
                assert_eq!(e.event_id, format!("{}:2", e.order_id));
                assert_eq!(Some(e.status), *new);
            }
        }
    }

    #[test]
    fn failed_events_carry_the_reason_and_serialize() {
        let out = derive(Some(&order(Reserved, 2)), Some(&order(Failed, 3))).unwrap();
        let e = out.event.unwrap();
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["detail_type"], "OrderFailed");
        assert_eq!(json["status"], "FAILED");
        assert_eq!(json["version"], 3);
        assert_eq!(json["failure_reason"]["code"], "OUT_OF_STOCK");
        assert_eq!(json["occurred_at"], "2026-03-09T15:04:05.678Z");
        let back: OrderEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn images_from_a_stream_record_fixture() {
        // The shape Lambda delivers for a DynamoDB stream INSERT.
        let record = r#"{
          "eventName": "INSERT",
          "dynamodb": {
            "Keys": {"order_id": {"S": "01HZY3M4T7X8Q9R0S1T2V3W4X5"}},
            "NewImage": {
              "order_id": {"S": "01HZY3M4T7X8Q9R0S1T2V3W4X5"},
              "customer_id": {"S": "cust-1"}, "store_id": {"S": "store-9"},
              "county_id": {"S": "travis-tx"}, "client_request_id": {"S": "req-1"},
              "items": {"L": [{"M": {"sku": {"S": "WINE-1"}, "quantity": {"N": "2"},
                                    "unit_price_cents": {"N": "1999"}}}]},
              "total_cents": {"N": "3998"}, "status": {"S": "PENDING"},
              "created_at": {"S": "2026-03-09T15:04:05.678Z"},
              "updated_at": {"S": "2026-03-09T15:04:05.678Z"},
              "version": {"N": "1"},
              "history": {"L": [{"M": {"status": {"S": "PENDING"},
                                       "at": {"S": "2026-03-09T15:04:05.678Z"}}}]}
            },
            "StreamViewType": "NEW_AND_OLD_IMAGES"
          }
        }"#;
        let v: serde_json::Value = serde_json::from_str(record).unwrap();
        let new: Item = serde_json::from_value(v["dynamodb"]["NewImage"].clone()).unwrap();
        let out = derive(None, Some(&new)).unwrap();
        assert_eq!(out.event.unwrap().detail_type(), "OrderPlaced");
        let OutboxDecision::Enqueue(msg) = out.outbox else {
            panic!("expected enqueue")
        };
        assert_eq!(
            msg.to_json(),
            r#"{"order_id":"01HZY3M4T7X8Q9R0S1T2V3W4X5"}"#
        );
        assert_eq!(WorkMessage::from_json(&msg.to_json()).unwrap(), msg);
        assert!(WorkMessage::from_json(r#"{"order_id":"x"}"#).is_err());
    }

    #[test]
    fn garbage_images_are_errors() {
        let mut bad = order(Pending, 1);
        bad.remove("status");
        let err = derive(None, Some(&bad)).unwrap_err();
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("status"));
    }
}

//! One stream record → what legacy-sync does with it. Pure: no I/O.

use aws_lambda_events::dynamodb::EventRecord;
use legacy_schema::origin::{FROM_LEGACY, ORIGIN};
use legacy_schema::outbound::{OutboundOrder, order_rows};
use order_domain::codec::order_from_item;
use order_domain::store::{AttrValue, Item};

/// What to do with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Write these rows (guarded by the order's version).
    Apply(Box<OutboundOrder>),
    /// Nothing to write, and why (logged at debug).
    Skip(&'static str),
    /// The record cannot be written to the legacy tables, ever: the failure
    /// queue gets it with this reason, and the shard goes on.
    Reject(String),
}

/// Decides for one OrderById stream record.
pub fn decide(record: &EventRecord) -> Decision {
    let new = match image(&record.change.new_image) {
        Ok(Some(item)) => item,
        // A REMOVE: the new system never deletes an order; the change
        // capture removes the items of a legacy order deleted there.
        Ok(None) => return Decision::Skip("no new image (a removal)"),
        Err(reason) => return Decision::Reject(format!("new image: {reason}")),
    };
    if matches!(new.get(ORIGIN), Some(AttrValue::S(o)) if o == FROM_LEGACY) {
        return Decision::Skip("written by the migration from the legacy database");
    }
    let order = match order_from_item(&new) {
        Ok(o) => o,
        Err(e) => return Decision::Reject(format!("not an order: {e}")),
    };
    match order_rows(&order) {
        Ok(rows) => Decision::Apply(Box::new(rows)),
        Err(e) => Decision::Reject(e.to_string()),
    }
}

fn image(item: &impl serde::Serialize) -> Result<Option<Item>, String> {
    // serde_dynamo's item serializes as DynamoDB JSON (`{"S": "x"}`), the
    // form the domain's Item deserializes from; an absent image as `{}`.
    let json = serde_json::to_value(item).map_err(|e| e.to_string())?;
    if json.is_null() || json.as_object().is_some_and(serde_json::Map::is_empty) {
        return Ok(None);
    }
    serde_json::from_value(json)
        .map(Some)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use legacy_schema::outbound::{Customer, Number, PlacedAt};
    use order_domain::codec::order_to_item;
    use order_domain::order::{LegacyOwner, LegacyRecord};
    use order_domain::{Order, OrderStatus};

    fn record(new: Option<&Item>) -> EventRecord {
        let image = new.map_or(serde_json::json!({}), |i| {
            serde_json::to_value(i).expect("item as JSON")
        });
        serde_json::from_value(serde_json::json!({
            "eventID": "1", "eventName": "MODIFY", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-2",
            "dynamodb": {"NewImage": image, "SequenceNumber": "100",
                         "ApproximateCreationDateTime": 1.0, "SizeBytes": 1,
                         "StreamViewType": "NEW_AND_OLD_IMAGES"}
        }))
        .expect("a stream record")
    }

    fn order() -> Order {
        let at: jiff::Timestamp = "2026-12-06T15:00:00.123456Z".parse().expect("ts");
        Order {
            order_id: "01JEX5W0000000000000000000".parse().expect("id"),
            customer_id: "cust-9".parse().expect("customer"),
            store_id: "AUS-1".parse().expect("store"),
            county_id: "travis-tx".parse().expect("county"),
            client_request_id: Some("req-1".parse().expect("request id")),
            items: vec![order_domain::LineItem {
                sku: "CAB-750".parse().expect("sku"),
                quantity: 2,
                unit_price_cents: order_domain::Money::from_cents(1099).expect("money"),
            }],
            total_cents: order_domain::Money::from_cents(2198).expect("money"),
            status: OrderStatus::Pending,
            created_at: at,
            updated_at: at,
            version: 1,
            failure_reason: None,
            payment_id: None,
            hold_reason: None,
            history: vec![],
            legacy: None,
        }
    }

    #[test]
    fn an_order_the_new_system_wrote_is_applied() {
        let o = order();
        let Decision::Apply(rows) = decide(&record(Some(&order_to_item(&o)))) else {
            panic!("applied")
        };
        assert_eq!(rows.number, Number::Allocate);
        assert_eq!(rows.version, o.version);
        assert_eq!(rows.placed_at, PlacedAt::Utc(o.created_at.as_microsecond()));
        assert!(matches!(
            rows.customer,
            Customer::New(_) | Customer::Legacy(_)
        ));
    }

    #[test]
    fn what_the_migration_wrote_is_skipped_but_the_workers_change_of_it_is_not() {
        let mut o = order();
        o.legacy = Some(LegacyRecord {
            number: 1008,
            status: "PAID".into(),
            owner: LegacyOwner::Legacy,
            placed_at_local: "2024-06-16T09:01:00".into(),
            updated_at: o.updated_at,
            payment_ref: Some("ch_1008".into()),
        });
        let mut migrated = order_to_item(&o);
        migrated.insert(ORIGIN.into(), AttrValue::S(FROM_LEGACY.into()));
        assert!(matches!(
            decide(&record(Some(&migrated))),
            Decision::Skip(_)
        ));
        // The worker finishes it after the cutover: a whole new record.
        o.status = OrderStatus::Confirmed;
        o.version += 1;
        let Decision::Apply(rows) = decide(&record(Some(&order_to_item(&o)))) else {
            panic!("applied")
        };
        assert_eq!(rows.number, Number::Legacy(1008));
        assert_eq!(rows.status, "CONFIRMED");
        assert_eq!(rows.payment_ref.as_deref(), Some("ch_1008"));
        assert_eq!(
            rows.placed_at,
            PlacedAt::Local("2024-06-16T09:01:00".into())
        );
    }

    #[test]
    fn a_removal_is_skipped_and_garbage_is_rejected_with_its_reason() {
        assert!(matches!(decide(&record(None)), Decision::Skip(_)));
        let mut bad = order_to_item(&order());
        bad.remove("items");
        let Decision::Reject(reason) = decide(&record(Some(&bad))) else {
            panic!("rejected")
        };
        assert!(reason.contains("items"), "{reason}");
    }
}

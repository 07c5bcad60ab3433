//! Legacy order statuses, each mapped explicitly. A status not listed here
//! is a reject, never a guess.

/// What a legacy order becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Finished in the legacy system; copied as history.
    Final(FinalStatus),
    /// Still in flight in the legacy system (`NEW`, `PAID`): copied, but the
    /// legacy system keeps ownership and the new worker never processes it.
    InFlight(InFlightStatus),
}

/// The statuses history arrives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalStatus {
    Confirmed,
    /// `SHIPPED`: picked up or delivered.
    Fulfilled,
    Cancelled,
    Failed,
    Refunded,
}

/// Legacy statuses of orders the legacy system has not finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InFlightStatus {
    New,
    Paid,
}

/// Why a status is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown legacy status `{0}` (known: NEW, PAID, CONFIRMED, SHIPPED, CANCELLED, FAILED, REFUNDED)"
)]
pub struct UnknownStatus(pub String);

/// Maps the legacy `orders.status` text, exactly as stored.
pub fn map(legacy: &str) -> Result<Target, UnknownStatus> {
    use FinalStatus as F;
    Ok(match legacy {
        "NEW" => Target::InFlight(InFlightStatus::New),
        "PAID" => Target::InFlight(InFlightStatus::Paid),
        "CONFIRMED" => Target::Final(F::Confirmed),
        "SHIPPED" => Target::Final(F::Fulfilled),
        "CANCELLED" => Target::Final(F::Cancelled),
        "FAILED" => Target::Final(F::Failed),
        "REFUNDED" => Target::Final(F::Refunded),
        other => return Err(UnknownStatus(other.to_owned())),
    })
}

/// The legacy status text an order of the new system is recorded with: the
/// inverse of [`map`] for every status [`map`] yields (`SHIPPED` ↔ FULFILLED).
/// The new system's in-flight statuses (PENDING, RESERVED, and HELD for
/// staff review) are the legacy `NEW`: not paid yet.
pub fn legacy_status(status: order_domain::OrderStatus) -> &'static str {
    use order_domain::OrderStatus as S;
    match status {
        S::Pending | S::Reserved | S::Held => "NEW",
        S::Confirmed => "CONFIRMED",
        S::Fulfilled => "SHIPPED",
        S::Cancelled => "CANCELLED",
        S::Failed => "FAILED",
        S::Refunded => "REFUNDED",
    }
}

/// `legacy` as the static text of a known legacy status, if it is one.
pub fn known(legacy: &str) -> Option<&'static str> {
    [
        "NEW",
        "PAID",
        "CONFIRMED",
        "SHIPPED",
        "CANCELLED",
        "FAILED",
        "REFUNDED",
    ]
    .into_iter()
    .find(|k| *k == legacy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_status_has_one_target() {
        assert_eq!(map("NEW"), Ok(Target::InFlight(InFlightStatus::New)));
        assert_eq!(map("PAID"), Ok(Target::InFlight(InFlightStatus::Paid)));
        assert_eq!(map("SHIPPED"), Ok(Target::Final(FinalStatus::Fulfilled)));
        assert_eq!(map("REFUNDED"), Ok(Target::Final(FinalStatus::Refunded)));
    }

    #[test]
    fn a_final_status_goes_back_to_the_text_it_came_from() {
        use order_domain::OrderStatus as S;
        for text in ["CONFIRMED", "SHIPPED", "CANCELLED", "FAILED", "REFUNDED"] {
            let Ok(Target::Final(f)) = map(text) else {
                panic!("{text} is final")
            };
            let status = match f {
                FinalStatus::Confirmed => S::Confirmed,
                FinalStatus::Fulfilled => S::Fulfilled,
                FinalStatus::Cancelled => S::Cancelled,
                FinalStatus::Failed => S::Failed,
                FinalStatus::Refunded => S::Refunded,
            };
            assert_eq!(legacy_status(status), text);
        }
        assert_eq!(legacy_status(S::Pending), "NEW");
        assert_eq!(known("PAID"), Some("PAID"));
        assert_eq!(known("paid"), None);
    }

    #[test]
    fn near_misses_are_rejects_not_guesses() {
        for s in ["shipped", "Shipped", " PAID", "PAID ", "ON_HOLD", ""] {
            assert_eq!(map(s), Err(UnknownStatus(s.to_owned())), "{s:?}");
        }
    }
}

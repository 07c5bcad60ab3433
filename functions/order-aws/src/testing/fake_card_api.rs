//! A fake card provider on loopback, speaking the API `crate::card_api`
//! documents, with the idempotency semantics of the real ones: the first
//! answer to an idempotency key is stored and replayed to every later
//! request with that key (the same parameters), and a key reused with other
//! parameters is refused. Faults are queued per route and consumed one per
//! request: an HTTP status without doing anything, or a stall before or
//! after the work is done.
//!
//! Plain HTTP on 127.0.0.1: the adapter reaches it through
//! `ProviderUrl::plain_http_loopback`, the test-only allowance.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::card_api::ProviderUrl;

/// Which endpoint a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /v1/payments`
    Create,
    /// `GET /v1/payments?reference=`
    LookUp,
    /// `POST /v1/refunds`
    Refund,
}

/// What the fake does to the next request on a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status at once and do nothing.
    Status(u16),
    /// Do nothing, answer 504 after this long (a slow provider that never
    /// got to the request).
    StallBefore(Duration),
    /// Do the work (charge, refund) and store the answer, then hold it back
    /// this long: the caller times out although the money moved.
    StallAfter(Duration),
}

/// One payment as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePayment {
    pub id: String,
    pub amount: u64,
    /// `succeeded` or `failed`.
    pub status: String,
    pub decline_code: Option<String>,
    /// Times money moved for it: 1 if idempotency held.
    pub captures: u32,
    pub refund: Option<String>,
    /// Times money went back: 1 if idempotency held.
    pub refunds: u32,
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub route: Route,
    pub idempotency_key: Option<String>,
    /// Whether it carried the right bearer key.
    pub authorized: bool,
}

#[derive(Debug, Clone)]
struct Stored {
    fingerprint: String,
    status: u16,
    body: Value,
}

#[derive(Debug, Default)]
struct Ledger {
    payments: BTreeMap<String, FakePayment>,
    replies: HashMap<String, Stored>,
    declines: HashMap<String, String>,
    faults: HashMap<Route, VecDeque<Fault>>,
    seen: Vec<Seen>,
    next_id: u64,
}

struct Shared {
    api_key: String,
    ledger: Mutex<Ledger>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running fake. Stops when dropped.
pub struct FakeCardApi {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCardApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeCardApi {
    /// Starts the fake on a free loopback port, accepting `api_key` only.
    pub async fn start(api_key: &str) -> Self {
        let shared = Arc::new(Shared {
            api_key: api_key.to_owned(),
            ledger: Mutex::default(),
        });
        let app = Router::new()
            .route("/v1/payments", post(create).get(look_up))
            .route("/v1/refunds", post(refund))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a loopback port");
        let addr = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake card API");
        });
        Self {
            addr,
            shared,
            server,
        }
    }

    /// Where the adapter reaches it (plain HTTP, loopback).
    pub fn url(&self) -> ProviderUrl {
        ProviderUrl::plain_http_loopback(self.addr)
    }

    /// Declines every charge of `reference` with `decline_code`
    /// (`card_declined`, `insufficient_funds`, ...).
    pub fn decline(&self, reference: &str, decline_code: &str) {
        self.shared
            .lock()
            .declines
            .insert(reference.to_owned(), decline_code.to_owned());
    }

    /// Queues `fault` for the next request on `route` not yet faulted.
    pub fn fault(&self, route: Route, fault: Fault) {
        self.shared
            .lock()
            .faults
            .entry(route)
            .or_default()
            .push_back(fault);
    }

    pub fn payment(&self, reference: &str) -> Option<FakePayment> {
        self.shared.lock().payments.get(reference).cloned()
    }

    /// Times money moved for `reference`.
    pub fn captures(&self, reference: &str) -> u32 {
        self.payment(reference).map_or(0, |p| p.captures)
    }

    /// Times money went back for `reference`.
    pub fn refunds(&self, reference: &str) -> u32 {
        self.payment(reference).map_or(0, |p| p.refunds)
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().seen.clone()
    }

    /// The requests on `route`.
    pub fn seen_on(&self, route: Route) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.route == route)
            .collect()
    }
}

fn unauthorized() -> Response {
    let (s, b) = error(
        401,
        "authentication_error",
        "invalid_api_key",
        "Invalid API key.",
    );
    reply(s, b)
}

fn error(status: u16, kind: &str, code: &str, message: &str) -> (u16, Value) {
    (
        status,
        json!({"error": {"type": kind, "code": code, "message": message}}),
    )
}

fn reply(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

fn payment_json(reference: &str, p: &FakePayment) -> Value {
    json!({
        "id": p.id, "object": "payment", "amount": p.amount, "currency": "usd",
        "reference": reference, "status": p.status,
        "failure_code": p.decline_code,
        "failure_message": p.decline_code.as_ref().map(|c| format!("The card was declined ({c}).")),
        "amount_refunded": if p.refund.is_some() { p.amount } else { 0 },
    })
}

/// Records the request; returns its idempotency key and the fault to apply,
/// or `None` when it lacks the right API key.
fn admit(
    shared: &Shared,
    route: Route,
    headers: &HeaderMap,
) -> Option<(Option<String>, Option<Fault>)> {
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {}", shared.api_key));
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut ledger = shared.lock();
    ledger.seen.push(Seen {
        route,
        idempotency_key: idempotency_key.clone(),
        authorized,
    });
    if !authorized {
        return None;
    }
    let fault = ledger.faults.get_mut(&route).and_then(VecDeque::pop_front);
    Some((idempotency_key, fault))
}

/// Runs an idempotent POST: replays a stored answer, refuses a reused key,
/// or does `work` under the lock and stores its answer. Applies `fault`.
async fn idempotent(
    shared: &Shared,
    key: Option<String>,
    fingerprint: String,
    fault: Option<Fault>,
    work: impl FnOnce(&mut Ledger) -> (u16, Value),
) -> Response {
    let Some(key) = key else {
        let (s, b) = error(
            400,
            "invalid_request_error",
            "idempotency_key_missing",
            "Idempotency-Key is required.",
        );
        return reply(s, b);
    };
    match fault {
        Some(Fault::Status(s)) => {
            let (s, b) = error(s, "api_error", "injected", "Injected failure.");
            return reply(s, b);
        }
        Some(Fault::StallBefore(d)) => {
            tokio::time::sleep(d).await;
            let (s, b) = error(504, "api_error", "timeout", "Upstream timeout.");
            return reply(s, b);
        }
        _ => {}
    }
    let stored = {
        let mut ledger = shared.lock();
        match ledger.replies.get(&key) {
            Some(s) if s.fingerprint != fingerprint => {
                let (s, b) = error(
                    400,
                    "idempotency_error",
                    "idempotency_key_reused",
                    "Keys are for one set of parameters.",
                );
                return reply(s, b);
            }
            Some(s) => s.clone(),
            None => {
                let (status, body) = work(&mut ledger);
                let stored = Stored {
                    fingerprint,
                    status,
                    body,
                };
                // Validation errors are not stored, as on the real APIs.
                if status != 400 && status != 404 {
                    ledger.replies.insert(key, stored.clone());
                }
                stored
            }
        }
    };
    if let Some(Fault::StallAfter(d)) = fault {
        tokio::time::sleep(d).await;
    }
    reply(stored.status, stored.body)
}

async fn create(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let (key, fault) = match admit(&shared, Route::Create, &headers) {
        Some(v) => v,
        None => return unauthorized(),
    };
    let params: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (Some(amount), Some(reference)) = (params["amount"].as_u64(), params["reference"].as_str())
    else {
        let (s, b) = error(
            400,
            "invalid_request_error",
            "parameter_missing",
            "amount and reference are required.",
        );
        return reply(s, b);
    };
    let reference = reference.to_owned();
    let fingerprint = format!("{amount}/{reference}/{}", params["currency"]);
    idempotent(&shared, key, fingerprint, fault, move |ledger| {
        ledger.next_id += 1;
        let decline = ledger.declines.get(&reference).cloned();
        let payment = FakePayment {
            id: format!("pay_{}", ledger.next_id),
            amount,
            status: if decline.is_some() { "failed" } else { "succeeded" }.to_owned(),
            decline_code: decline.clone(),
            captures: u32::from(decline.is_none()),
            refund: None,
            refunds: 0,
        };
        let json = payment_json(&reference, &payment);
        // A second charge under a new key would add to the first: count it.
        let captures = ledger.payments.get(&reference).map_or(0, |p| p.captures);
        let payment = FakePayment {
            captures: payment.captures + captures,
            ..payment
        };
        ledger.payments.insert(reference, payment);
        match decline {
            None => (200, json),
            Some(code) => (
                402,
                json!({"error": {"type": "card_error", "code": "card_declined", "decline_code": code,
                    "message": format!("The card was declined ({code})."), "payment": json}}),
            ),
        }
    })
    .await
}

async fn look_up(State(shared): State<Arc<Shared>>, headers: HeaderMap, uri: Uri) -> Response {
    let fault = match admit(&shared, Route::LookUp, &headers) {
        Some((_, fault)) => fault,
        None => return unauthorized(),
    };
    match fault {
        Some(Fault::Status(s)) => {
            let (s, b) = error(s, "api_error", "injected", "Injected failure.");
            return reply(s, b);
        }
        Some(Fault::StallBefore(d) | Fault::StallAfter(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    let reference = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|p| p.strip_prefix("reference="))
        .unwrap_or_default()
        .to_owned();
    let ledger = shared.lock();
    let data: Vec<Value> = ledger
        .payments
        .get(&reference)
        .map(|p| payment_json(&reference, p))
        .into_iter()
        .collect();
    reply(200, json!({"object": "list", "data": data}))
}

async fn refund(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let (key, fault) = match admit(&shared, Route::Refund, &headers) {
        Some(v) => v,
        None => return unauthorized(),
    };
    let params: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(payment_id) = params["payment"].as_str().map(str::to_owned) else {
        let (s, b) = error(
            400,
            "invalid_request_error",
            "parameter_missing",
            "payment is required.",
        );
        return reply(s, b);
    };
    idempotent(&shared, key, payment_id.clone(), fault, move |ledger| {
        ledger.next_id += 1;
        let id = format!("re_{}", ledger.next_id);
        let Some(p) = ledger.payments.values_mut().find(|p| p.id == payment_id) else {
            return error(404, "invalid_request_error", "resource_missing", "No such payment.");
        };
        if p.status != "succeeded" {
            return error(400, "invalid_request_error", "payment_not_succeeded", "Nothing to refund.");
        }
        if p.refund.is_some() {
            return error(400, "invalid_request_error", "charge_already_refunded", "Already refunded.");
        }
        p.refund = Some(id.clone());
        p.refunds += 1;
        (200, json!({"id": id, "object": "refund", "payment": payment_id, "amount": p.amount, "status": "succeeded"}))
    })
    .await
}

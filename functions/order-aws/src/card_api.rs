//! The card provider's HTTPS API behind the payment port
//! ([`order_domain::payment::PaymentGateway`]), shaped like the common card
//! processors' payment APIs (amounts in integer cents, JSON bodies, bearer
//! API key):
//!
//! | call | request | answers |
//! |---|---|---|
//! | charge | `POST /v1/payments` `{"amount", "currency": "usd", "reference", "confirm": true}`, header `Idempotency-Key: <order id>` | 200 payment (`status` `succeeded` or `failed`), 402 card error, 409 same key in flight, 400 key reused with other parameters |
//! | look-up | `GET /v1/payments?reference=<order id>` | 200 `{"data": [payment]}` (empty when never charged) |
//! | refund | `POST /v1/refunds` `{"payment": "<id>"}`, header `Idempotency-Key: refund-<order id>` | 200 refund |
//!
//! The order id is both the idempotency key and the payment's `reference`,
//! so a charge whose answer was lost can be found again. Retries follow what
//! the idempotency key makes safe:
//!
//! - a connection that failed before the request was sent, 429 and 5xx: sent
//!   again with the same key after a jittered, growing pause (`Retry-After`
//!   honoured);
//! - no answer after the request was sent (timeout, dropped connection): the
//!   outcome is unknown, so the next request is a look-up by reference, and
//!   a new charge is sent only if the look-up finds none;
//! - a decline (402, or a `failed` payment) is final: `PaymentError::Declined`
//!   with the provider's code and message;
//! - 401/403 and other 4xx: nothing a retry can fix now; the order stays
//!   RESERVED and SQS redelivers until the reservation expires.
//!
//! Every call is bounded by a number of requests and a total time budget;
//! when they run out the error is `Timeout` if a charge may have gone
//! through (the worker's redelivery settles it with the same key) and
//! `Unavailable` otherwise.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use order_domain::ids::OrderId;
use order_domain::money::Money;
use order_domain::payment::{PaymentError, PaymentGateway, PaymentId, RefundId};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// The currency every county charges in.
const CURRENCY: &str = "usd";
/// The ceiling of the first pause between retries; it doubles each retry.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
/// The largest pause, `Retry-After` included.
const BACKOFF_CAP: Duration = Duration::from_secs(2);
/// A request given less time than this is not worth sending.
const MIN_REQUEST_TIME: Duration = Duration::from_millis(50);

/// The provider's API key. Its `Debug` and `Display` never show the value, so
/// no log line, panic or error message can carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Checks the key is usable in an `Authorization` header: printable
    /// ASCII, no spaces, not empty. The error never repeats the value.
    pub fn new(value: impl Into<String>) -> Result<Self, &'static str> {
        let value = value.into();
        let value = value.trim();
        if value.is_empty() {
            return Err("it is empty");
        }
        if !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("it has characters other than printable ASCII without spaces");
        }
        Ok(Self(value.to_owned()))
    }

    fn header(&self) -> Result<HeaderValue, PaymentError> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.0))
            .map_err(|_| PaymentError::Unavailable("the API key is not a header value".into()))?;
        // Kept out of HTTP/2 header compression tables and reqwest's Debug.
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The provider's base URL, without a trailing `/`.
///
/// `https://` only. The one exception is [`ProviderUrl::plain_http_loopback`]:
/// plain HTTP to a loopback address, for a fake provider a test starts
/// itself. It exists only with feature `test-support` (which no Lambda
/// enables) and takes a socket address rather than text, so neither a county
/// file nor an environment variable can reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderUrl {
    base: String,
    tls: bool,
}

impl ProviderUrl {
    /// An `https://host[:port][/path]` URL: no user info, query or fragment.
    pub fn https(url: &str) -> Result<Self, String> {
        let Some(rest) = url.strip_prefix("https://") else {
            return Err(format!(
                "{url:?} is not an https:// URL (the provider is reached over TLS only)"
            ));
        };
        let rest = rest.trim_end_matches('/');
        let host = rest.split('/').next().unwrap_or_default();
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "-._~/:%".contains(c);
        if host.is_empty() || !rest.chars().all(ok_char) {
            return Err(format!(
                "{url:?} is not a base URL: write `https://host[:port][/path]` (no user, query or fragment)"
            ));
        }
        Ok(Self {
            base: format!("https://{rest}"),
            tls: true,
        })
    }

    /// Plain HTTP to `addr`, which must be a loopback address: the fake
    /// provider of a test. Panics otherwise (a test's mistake).
    #[cfg(any(test, feature = "test-support"))]
    pub fn plain_http_loopback(addr: std::net::SocketAddr) -> Self {
        assert!(
            addr.ip().is_loopback(),
            "plain HTTP is allowed to a loopback address only, not {addr}"
        );
        Self {
            base: format!("http://{addr}"),
            tls: false,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.base
    }
}

impl fmt::Display for ProviderUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

/// How long and how often the adapter tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connection set-up (TCP and TLS).
    pub connect_timeout: Duration,
    /// One request, connection included.
    pub request_timeout: Duration,
    /// Requests per charge or refund, look-ups included.
    pub max_attempts: u32,
    /// One charge or refund in all, pauses included.
    pub call_budget: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        use acme_contract::payment::card_api as d;
        let ms = |v: u32| Duration::from_millis(u64::from(v));
        Self {
            connect_timeout: ms(d::CONNECT_TIMEOUT_MS_DEFAULT),
            request_timeout: ms(d::REQUEST_TIMEOUT_MS_DEFAULT),
            max_attempts: d::MAX_ATTEMPTS_DEFAULT,
            call_budget: ms(d::CALL_BUDGET_MS_DEFAULT),
        }
    }
}

/// The card API gateway: one HTTP client (one connection pool) per process.
#[derive(Debug, Clone)]
pub struct CardApiGateway {
    http: reqwest::Client,
    base: ProviderUrl,
    key: ApiKey,
    limits: Limits,
}

/// What one request came to.
enum Step<T> {
    Done(T),
    Declined(String),
    /// A look-up found no payment: nothing was charged.
    Absent,
    /// Worth another request after a pause. `unknown`: the request may have
    /// taken effect.
    Again {
        reason: String,
        unknown: bool,
        retry_after: Option<Duration>,
    },
    /// No retry now can help.
    Refused(String),
}

/// An HTTP exchange, classified before its body is read.
enum Reply {
    Answer {
        status: StatusCode,
        body: Vec<u8>,
        retry_after: Option<Duration>,
    },
    /// Failed before the request was sent: safe to send again.
    NotSent(String),
    /// Sent, but no (whole) answer: it may have taken effect.
    Lost(String),
}

#[derive(Serialize)]
struct CreatePayment<'a> {
    amount: u64,
    currency: &'static str,
    reference: &'a str,
    confirm: bool,
}

#[derive(Serialize)]
struct CreateRefund<'a> {
    payment: &'a str,
}

#[derive(Deserialize)]
struct Payment {
    id: String,
    status: String,
    #[serde(default)]
    failure_code: Option<String>,
    #[serde(default)]
    failure_message: Option<String>,
}

#[derive(Deserialize)]
struct PaymentList {
    data: Vec<Payment>,
}

#[derive(Deserialize)]
struct Refund {
    id: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ApiError,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    decline_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl ApiError {
    /// `insufficient_funds: Your card has insufficient funds.`: the most
    /// specific code, then the provider's words.
    fn reason(&self) -> String {
        let code = self
            .decline_code
            .as_deref()
            .or(self.code.as_deref())
            .unwrap_or("declined");
        match &self.message {
            Some(m) => format!("{code}: {m}"),
            None => code.to_owned(),
        }
    }
}

impl Payment {
    fn step(self) -> Step<PaymentId> {
        match self.status.as_str() {
            "succeeded" => Step::Done(PaymentId(self.id)),
            "failed" => {
                let e = ApiError {
                    kind: None,
                    code: None,
                    decline_code: self.failure_code,
                    message: self.failure_message,
                };
                Step::Declined(e.reason())
            }
            // `processing` and the like: settled later, and the next
            // look-up (or the worker's redelivery) sees how.
            other => Step::Again {
                reason: format!("payment {} is {other}", self.id),
                unknown: true,
                retry_after: None,
            },
        }
    }
}

impl CardApiGateway {
    /// A gateway over `base` with `key`. Builds the client (no I/O).
    pub fn new(base: ProviderUrl, key: ApiKey, limits: Limits) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .https_only(base.tls)
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.request_timeout)
            // A payment API never redirects; following one could send the
            // key somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("acme-order-functions/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        Ok(Self {
            http,
            base,
            key,
            limits,
        })
    }

    pub fn base_url(&self) -> &ProviderUrl {
        &self.base
    }

    async fn charge_now(&self, order: &OrderId, amount: Money) -> Result<PaymentId, PaymentError> {
        let reference = order.to_string();
        let mut tries = Tries::new(self.limits);
        // Whether an earlier request may have charged: then look before
        // charging again.
        let mut unknown = false;
        let mut last = String::from("no request fitted in the time budget");
        while let Some(timeout) = tries.next().await {
            let step = if unknown {
                self.look_up(&reference, timeout).await
            } else {
                self.create(&reference, amount, timeout).await
            };
            match step {
                Step::Done(id) => return Ok(id),
                Step::Declined(reason) => return Err(PaymentError::Declined(reason)),
                Step::Absent => {
                    unknown = false;
                    tries.no_pause();
                }
                Step::Again {
                    reason,
                    unknown: maybe,
                    retry_after,
                } => {
                    unknown |= maybe;
                    tracing::warn!(order_id = %order, attempt = tries.made, unknown, reason = %reason, "card API: charge not settled; trying again");
                    tries.pause_at_least(retry_after);
                    last = reason;
                }
                Step::Refused(reason) => return Err(PaymentError::Unavailable(reason)),
            }
        }
        Err(if unknown {
            PaymentError::Timeout
        } else {
            PaymentError::Unavailable(last)
        })
    }

    async fn refund_now(&self, order: &OrderId) -> Result<Option<RefundId>, PaymentError> {
        let reference = order.to_string();
        let mut tries = Tries::new(self.limits);
        let mut payment: Option<String> = None;
        let mut last = String::from("no request fitted in the time budget");
        while let Some(timeout) = tries.next().await {
            let step = match &payment {
                None => match self.look_up(&reference, timeout).await {
                    Step::Done(id) => {
                        payment = Some(id.0);
                        tries.no_pause();
                        continue;
                    }
                    // Never charged, or declined: nothing to give back.
                    Step::Absent | Step::Declined(_) => return Ok(None),
                    Step::Again {
                        reason,
                        retry_after,
                        ..
                    } => Step::Again {
                        reason,
                        unknown: true,
                        retry_after,
                    },
                    Step::Refused(r) => Step::Refused(r),
                },
                Some(id) => self.create_refund(&reference, id, timeout).await,
            };
            match step {
                Step::Done(refund) => return Ok(Some(refund)),
                Step::Again {
                    reason,
                    retry_after,
                    ..
                } => {
                    tracing::warn!(order_id = %order, attempt = tries.made, reason = %reason, "card API: refund not settled; trying again");
                    tries.pause_at_least(retry_after);
                    last = reason;
                }
                Step::Refused(reason) | Step::Declined(reason) => {
                    return Err(PaymentError::Unavailable(reason));
                }
                Step::Absent => return Ok(None),
            }
        }
        Err(PaymentError::Unavailable(last))
    }

    async fn create(&self, reference: &str, amount: Money, timeout: Duration) -> Step<PaymentId> {
        let body = CreatePayment {
            amount: amount.cents(),
            currency: CURRENCY,
            reference,
            confirm: true,
        };
        let request = self
            .http
            .post(format!("{}/v1/payments", self.base))
            .header("Idempotency-Key", reference)
            .json(&body);
        let (status, body) = match self.send(request, timeout).await {
            Ok(answer) => answer,
            Err(step) => return step,
        };
        match status.as_u16() {
            200 | 201 => decode::<Payment>(&body).map_or_else(Step::Refused, Payment::step),
            402 => Step::Declined(error_of(&body).reason()),
            409 => Step::Again {
                reason: "an earlier request with this key is still in flight".into(),
                unknown: true,
                retry_after: None,
            },
            400 if error_of(&body).kind.as_deref() == Some("idempotency_error") => {
                Step::Declined("idempotency key reused with a different amount".into())
            }
            _ => refused(status, &body),
        }
    }

    async fn look_up(&self, reference: &str, timeout: Duration) -> Step<PaymentId> {
        // An order id is 26 Crockford base-32 characters: nothing to escape.
        let request = self
            .http
            .get(format!("{}/v1/payments?reference={reference}", self.base));
        let (status, body) = match self.send(request, timeout).await {
            Ok(answer) => answer,
            Err(Step::Again {
                reason,
                retry_after,
                ..
            }) => {
                // A look-up changes nothing: sending it again is always safe.
                return Step::Again {
                    reason,
                    unknown: true,
                    retry_after,
                };
            }
            Err(step) => return step,
        };
        if status != StatusCode::OK {
            return refused(status, &body);
        }
        match decode::<PaymentList>(&body) {
            Ok(list) => list
                .data
                .into_iter()
                .next()
                .map_or(Step::Absent, Payment::step),
            Err(e) => Step::Refused(e),
        }
    }

    async fn create_refund(
        &self,
        reference: &str,
        payment: &str,
        timeout: Duration,
    ) -> Step<RefundId> {
        let request = self
            .http
            .post(format!("{}/v1/refunds", self.base))
            .header("Idempotency-Key", format!("refund-{reference}"))
            .json(&CreateRefund { payment });
        let (status, body) = match self.send(request, timeout).await {
            Ok(answer) => answer,
            // The refund's own idempotency key makes sending it again safe
            // even when the first may have gone through.
            Err(step) => return step,
        };
        match status.as_u16() {
            200 | 201 => {
                decode::<Refund>(&body).map_or_else(Step::Refused, |r| Step::Done(RefundId(r.id)))
            }
            409 => Step::Again {
                reason: "an earlier refund request is still in flight".into(),
                unknown: true,
                retry_after: None,
            },
            _ => refused(status, &body),
        }
    }

    /// Sends `request` with the key and `timeout`; `Ok` for an answer the
    /// caller reads, `Err` for a step already decided (retry or refuse).
    async fn send<T>(
        &self,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<(StatusCode, Vec<u8>), Step<T>> {
        let key = self
            .key
            .header()
            .map_err(|e| Step::Refused(e.to_string()))?;
        let request = request.header(AUTHORIZATION, key).timeout(timeout);
        match exchange(request).await {
            Reply::Answer {
                status,
                retry_after,
                ..
            } if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() => {
                Err(Step::Again {
                    reason: format!("the provider answered HTTP {status}"),
                    unknown: false,
                    retry_after,
                })
            }
            Reply::Answer { status, body, .. } => Ok((status, body)),
            Reply::NotSent(reason) => Err(Step::Again {
                reason,
                unknown: false,
                retry_after: None,
            }),
            Reply::Lost(reason) => Err(Step::Again {
                reason,
                unknown: true,
                retry_after: None,
            }),
        }
    }
}

async fn exchange(request: reqwest::RequestBuilder) -> Reply {
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) if e.is_connect() => return Reply::NotSent(format!("connecting: {e}")),
        Err(e) if e.is_builder() => return Reply::NotSent(format!("building the request: {e}")),
        Err(e) => return Reply::Lost(format!("no answer: {e}")),
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    match response.bytes().await {
        Ok(body) => Reply::Answer {
            status,
            body: body.to_vec(),
            retry_after,
        },
        Err(e) => Reply::Lost(format!("the answer (HTTP {status}) broke off: {e}")),
    }
}

fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body)
        .map_err(|e| format!("the provider's answer is not what its API documents: {e}"))
}

fn error_of(body: &[u8]) -> ApiError {
    decode::<ErrorBody>(body).map_or_else(
        |_| ApiError {
            kind: None,
            code: None,
            decline_code: None,
            message: None,
        },
        |b| b.error,
    )
}

fn refused<T>(status: StatusCode, body: &[u8]) -> Step<T> {
    let e = error_of(body);
    let what = match status.as_u16() {
        401 | 403 => "the provider refused the API key (check the secret)",
        _ => "the provider refused the request",
    };
    let code = e.code.or(e.kind).unwrap_or_else(|| "no error code".into());
    Step::Refused(format!("{what}: HTTP {status}, {code}"))
}

/// The requests of one call: how many are left, until when, and the pause
/// before the next.
struct Tries {
    limits: Limits,
    deadline: Instant,
    made: u32,
    pause: Duration,
    random: RandomState,
}

impl Tries {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            deadline: Instant::now() + limits.call_budget,
            made: 0,
            pause: Duration::ZERO,
            random: RandomState::new(),
        }
    }

    /// Waits out the pause and returns the next request's timeout, or `None`
    /// when the attempts or the budget are spent.
    async fn next(&mut self) -> Option<Duration> {
        if self.made >= self.limits.max_attempts {
            return None;
        }
        let left = self
            .deadline
            .saturating_duration_since(Instant::now())
            .checked_sub(self.pause)?;
        if left < MIN_REQUEST_TIME {
            return None;
        }
        tokio::time::sleep(self.pause).await;
        self.made += 1;
        self.pause = self.jittered();
        Some(left.min(self.limits.request_timeout))
    }

    /// The next request follows at once (a look-up said what to do).
    fn no_pause(&mut self) {
        self.pause = Duration::ZERO;
    }

    /// The provider asked for at least `after` (bounded by the cap).
    fn pause_at_least(&mut self, after: Option<Duration>) {
        if let Some(after) = after {
            self.pause = self.pause.max(after.min(BACKOFF_CAP));
        }
    }

    /// "Full jitter": uniform in `0..=min(cap, base * 2^(made-1))`, so
    /// workers that failed together do not come back together.
    fn jittered(&self) -> Duration {
        let ceiling = BACKOFF_BASE
            .saturating_mul(1_u32 << self.made.saturating_sub(1).min(10))
            .min(BACKOFF_CAP);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let random = self.random.hash_one(self.made);
        Duration::from_nanos(random % nanos.saturating_add(1))
    }
}

impl PaymentGateway for CardApiGateway {
    fn charge(
        &self,
        idempotency_key: &OrderId,
        amount: Money,
    ) -> impl Future<Output = Result<PaymentId, PaymentError>> + Send {
        self.charge_now(idempotency_key, amount)
    }

    fn refund(
        &self,
        idempotency_key: &OrderId,
    ) -> impl Future<Output = Result<Option<RefundId>, PaymentError>> + Send {
        self.refund_now(idempotency_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_shows() {
        let key = ApiKey::new("sk_live_0123456789abcdef").expect("key");
        let gateway = CardApiGateway::new(
            ProviderUrl::https("https://api.cards.example").expect("url"),
            key.clone(),
            Limits::default(),
        )
        .expect("gateway");
        for text in [
            format!("{key:?}"),
            format!("{key}"),
            format!("{gateway:?}"),
            format!("{:?}", key.header().expect("header")),
        ] {
            assert!(!text.contains("0123456789abcdef"), "{text}");
        }
        assert!(ApiKey::new("  ").is_err());
        assert!(ApiKey::new("sk live").is_err());
        assert_eq!(
            ApiKey::new(" sk_1\n").expect("trimmed"),
            ApiKey::new("sk_1").expect("key")
        );
    }

    #[test]
    fn only_https_urls_parse() {
        let url = ProviderUrl::https("https://api.cards.example/base/").expect("url");
        assert_eq!(url.as_str(), "https://api.cards.example/base");
        for bad in [
            "http://api.cards.example",
            "api.cards.example",
            "https://",
            "https://user:pw@api.cards.example",
            "https://api.cards.example/?q=1",
            "https://api.cards.example/#x",
        ] {
            assert!(ProviderUrl::https(bad).is_err(), "{bad}");
        }
    }

    #[test]
    #[should_panic(expected = "loopback address only")]
    fn plain_http_only_to_loopback() {
        let _ = ProviderUrl::plain_http_loopback("10.0.0.1:80".parse().expect("addr"));
    }

    #[test]
    fn pauses_grow_and_stay_under_the_cap() {
        let mut tries = Tries::new(Limits::default());
        for made in 1..12 {
            tries.made = made;
            let ceiling = BACKOFF_BASE
                .saturating_mul(1 << (made - 1).min(10))
                .min(BACKOFF_CAP);
            assert!(tries.jittered() <= ceiling);
        }
        tries.pause = Duration::ZERO;
        tries.pause_at_least(Some(Duration::from_secs(60)));
        assert_eq!(tries.pause, BACKOFF_CAP);
    }
}

//! The order API Lambda: API Gateway (REST, proxy integration) requests in,
//! responses out, over the domain's services.
//!
//! # Entry point
//!
//! ```text
//! order_api::Api::new(store, enqueuer, gateway, rules, clock, ids)
//!     [.with_sale_clock(sale_clock)]
//!     .handle(req: ApiGatewayProxyRequest).await -> ApiGatewayProxyResponse
//! ```
//!
//! generic over `S: Store + Clone` (`order_aws::DynamoStore`, or
//! `Arc<MemoryStore>` in tests), `Q: order_aws::Enqueuer`,
//! `P: PaymentGateway` (refunds on cancel), `C: Clock + Clone`,
//! `G: IdGenerator`. `main.rs` builds one `Api` per process and calls
//! `handle` per invocation; the local runner calls the same method with the
//! same event type.
//!
//! `clock` is the wall clock: order timestamps, order ids and TTLs. The
//! sale-hour check reads it too unless `with_sale_clock` gives it its own
//! clock (the local runner's `--sale-clock`); only that check, and the time
//! its 422 message quotes, follow the sale clock.
//!
//! # Routes
//!
//! | method | path | service | success |
//! |---|---|---|---|
//! | `POST` | `/orders` | accept, then enqueue the order id (the body must be `Content-Type: application/json`, else 415) | 202 (replay of an accepted request: 202 again, `idempotent-replayed: true`) |
//! | `GET` | `/orders/{order_id}` | full order | 200 |
//! | `GET` | `/customers/{customer_id}/orders?limit=&cursor=` | newest first | 200 |
//! | `GET` | `/stores/{store_id}/orders?since=&limit=&cursor=` | oldest first | 200 |
//! | `GET` | `/orders?status=&since=&limit=&cursor=` | in-flight orders by status | 200 |
//! | `GET` | `/county/orders?since=&limit=&cursor=` | the county's orders | 200 |
//! | `POST` | `/orders/{order_id}/cancel` | cancel (and refund) | 200 |
//! | `GET` | `/orders/legacy/{legacy_order_id}` | a migrated order by its legacy number, as `GET /orders/{order_id}` | 200 |
//! | `PUT` | `/customers/{customer_id}` | create or replace the profile (idempotent) | 201 created, 200 otherwise; masked |
//! | `GET` | `/customers/{customer_id}` | the profile, e-mail and phone masked | 200 |
//! | `GET` | `/stores/{store_id}/orders?since=&status=CONFIRMED` | the store's pick list (any status filters) | 200 |
//! | `POST` | `/orders/{order_id}/release` | staff: a HELD order goes to payment (re-enqueued) | 200 |
//! | `POST` | `/orders/{order_id}/reject` | staff: a HELD order is cancelled, stock released | 200 |
//! | `POST` | `/orders/{order_id}/fulfill` | staff: CONFIRMED → FULFILLED (picked up or shipped) | 200 |
//!
//! `POST /orders` answers 422 `customer_profile_required`,
//! `birth_date_required` or `under_legal_age` when the customer may not
//! order (nothing is written: the same request may be retried once the
//! profile is right). The staff actions are idempotent (again after success:
//! 200 with the order as it is) and 409 (`not_held`, `not_confirmed`) from
//! any other status.
//!
//! The routes, and the query parameters each requires, are
//! `acme_contract::routes::ROUTES`, the table the county stack's API Gateway
//! methods are built from too; [`resolve`] matches a request against it.
//! `since` (required on the store, status and county listings) is an RFC
//! 3339 timestamp; `status` is required on `GET /orders`; `limit` defaults to
//! [`DEFAULT_PAGE_SIZE`]. Errors are JSON
//! `{"error": code, "field"?: path, "reason": text, "errors"?: [...], "retryable": bool}`
//! with the domain error's HTTP status (and `retry-after` on 429/503).
//!
//! **Enqueue after accept:** the accept transaction is the commit point. If
//! the `SendMessage` that follows fails, the client still gets 202: the
//! stream publisher's outbox (INSERT of a PENDING order) and the sweeper
//! enqueue the order anyway; the failure is logged.
//!
//! **Caller identity:** the county stack's front door authorizes with
//! `AWS_IAM` (ACME's storefront services sign requests; customers
//! authenticate with the storefront), so a request normally carries no
//! customer identity and is served in full. If an authorizer ever puts a
//! `customer_id` in the request context (Lambda authorizer context, a Cognito
//! claim or an HTTP API JWT claim of that name), reads and cancels are
//! limited to that customer's orders and the staff listings are refused.
//!
//! **Migrating county:** with [`Api::with_migration`] (`main.rs` and the
//! local runner, when the stack sets `ACME_CUTOVER_MODE_PARAMETER`) every request but `GET`/`HEAD`
//! first reads the county's cutover mode (cached 15 s): in `legacy` and
//! `shadow` it is refused with 409 `county_not_cut_over` naming the mode,
//! nothing written; an unreadable mode refuses it with 503. Reads work in
//! every mode.
//!
//! **PII:** profile bodies are never logged, and their validation errors
//! name the field and the rule, never the value sent.

use acme_contract::routes::{self, Miss, Operation, PathParams, QueryParam, query};
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use jiff::Timestamp;
use order_aws::Enqueuer;
use order_domain::clock::{Clock, IdGenerator};
use order_domain::error::DomainError;
use order_domain::events::WorkMessage;
use order_domain::ids::{CustomerId, OrderId, StoreId};
use order_domain::legacy;
use order_domain::order::OrderStatus;
use order_domain::payment::PaymentGateway;
use order_domain::rules::CountyRules;
use order_domain::service::{
    AcceptService, CancelService, CustomerService, MAX_BODY_BYTES, OrderQueries, OrdersPage,
    QueryError, ReviewAction, ReviewService, Upsert,
};
use order_domain::store::Store;
use serde::Serialize;
use serde_json::{Value, json};

/// Page size when the request gives no `limit`.
pub const DEFAULT_PAGE_SIZE: u32 = 25;

/// Seconds a client should wait before retrying a 429 or 503.
const RETRY_AFTER_SECONDS: &str = "1";

/// The order API over one county's services.
pub struct Api<S, Q, P, C, G> {
    accept: AcceptService<S, C, G>,
    queries: OrderQueries<S>,
    cancel: CancelService<S, P, C>,
    customers: CustomerService<S, C>,
    review: ReviewService<S, C>,
    enqueuer: Q,
    /// Set for a migrating county (its ShadowReads queue); offered answered
    /// orders in mode `shadow` only.
    shadow: Option<order_aws::ShadowSampler>,
    /// A migrating county's cutover mode; `None`: not migrating.
    cutover: Option<order_aws::CutoverFlag>,
}

/// A response before it becomes an API Gateway one.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: Value,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: u16, body: impl Serialize) -> Self {
        let body = serde_json::to_value(body).unwrap_or_else(
            |e| json!({"error": "internal", "reason": format!("response did not serialize: {e}")}),
        );
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }

    fn error(status: u16, code: &str, field: Option<&str>, reason: impl Into<String>) -> Self {
        let mut body = json!({"error": code, "reason": reason.into(), "retryable": false});
        if let Some(f) = field {
            body["field"] = json!(f);
        }
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// A domain error with its status, code, field errors and retryability.
    fn domain(e: &dyn DomainError) -> Self {
        let b = e.body();
        let mut body = json!({
            "error": b.code,
            "reason": b.message,
            "retryable": b.retryable,
        });
        if let Some(first) = b.errors.first() {
            body["field"] = json!(first.field);
            body["errors"] = json!(b.errors);
        }
        let status = e.http_status();
        let mut headers = Vec::new();
        if status == 429 || status == 503 {
            headers.push(("retry-after", RETRY_AFTER_SECONDS.to_owned()));
        }
        Self {
            status,
            body,
            headers,
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn into_response(self) -> ApiGatewayProxyResponse {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        // Order data is per customer and changes: never cache it.
        headers.insert("cache-control", HeaderValue::from_static("no-store"));
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
        let mut r = ApiGatewayProxyResponse::default();
        r.status_code = i64::from(self.status);
        r.headers = headers;
        r.body = Some(Body::Text(self.body.to_string()));
        r
    }
}

/// Why the router refuses a request before any service runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// No route has this path (404).
    NotFound,
    /// The path exists under other methods (405); `allow` is the `Allow` header.
    MethodNotAllowed { allow: String },
    /// A query parameter the route requires is absent (400), as API Gateway
    /// would have said before the function ran.
    MissingQuery(QueryParam),
}

/// Routes `method` + `path` through the API's route table
/// (`acme_contract::routes`, which the county stack's API Gateway methods are
/// built from too) and checks the route's required query parameters, each
/// looked up with `has_query`. Returns the operation and its path parameters.
pub fn resolve<'p>(
    method: &str,
    path: &'p str,
    has_query: impl Fn(&str) -> bool,
) -> Result<(Operation, PathParams<'p>), RouteError> {
    let (route, params) = routes::find(method, path).map_err(|miss| match miss {
        Miss::NotFound => RouteError::NotFound,
        Miss::MethodNotAllowed(_) => RouteError::MethodNotAllowed {
            allow: miss.allow_header().unwrap_or_default(),
        },
    })?;
    if let Some(q) = route.required_query().find(|q| !has_query(q.name)) {
        return Err(RouteError::MissingQuery(*q));
    }
    Ok((route.operation, params))
}

impl RouteError {
    fn reply(self, method: &str, path: &str) -> Reply {
        match self {
            RouteError::NotFound => {
                Reply::error(404, "not_found", None, format!("no route for {path}"))
            }
            RouteError::MethodNotAllowed { allow } => Reply::error(
                405,
                "method_not_allowed",
                None,
                format!("{method} is not allowed on {path}"),
            )
            .header("allow", allow),
            RouteError::MissingQuery(q) => missing(&q),
        }
    }
}

/// 400 for a required query parameter that is absent.
fn missing(q: &QueryParam) -> Reply {
    Reply::error(
        400,
        "validation_failed",
        Some(q.name),
        format!("is required ({})", q.format),
    )
}

/// A path parameter of the matched route. The route table names them, so a
/// miss means this handler and the table disagree: a bug, not a bad request.
fn path_param<'p>(params: &PathParams<'p>, name: &str) -> Result<&'p str, Reply> {
    params.get(name).ok_or_else(|| {
        Reply::error(
            500,
            "internal",
            None,
            format!("the route has no path parameter {name}"),
        )
    })
}

/// The request path without the stage prefix some integrations include.
fn request_path(req: &ApiGatewayProxyRequest) -> String {
    let path = req
        .path
        .clone()
        .or_else(|| req.request_context.path.clone())
        .unwrap_or_default();
    if let Some(stage) = req.request_context.stage.as_deref()
        && let Some(rest) = path.strip_prefix(&format!("/{stage}/"))
        && req.request_context.path.as_deref() == Some(path.as_str())
    {
        return format!("/{rest}");
    }
    path
}

/// The customer the authorizer vouched for, if any: a Lambda authorizer's
/// context key `customer_id`, a Cognito claim (`claims.customer_id`) or an
/// HTTP API JWT claim of that name.
fn caller_customer(req: &ApiGatewayProxyRequest) -> Result<Option<CustomerId>, Reply> {
    let auth = &req.request_context.authorizer;
    let value = auth
        .fields
        .get("customer_id")
        .cloned()
        .or_else(|| {
            auth.fields
                .get("claims")
                .and_then(|c| c.get("customer_id"))
                .cloned()
        })
        .or_else(|| {
            auth.jwt
                .as_ref()
                .and_then(|j| j.claims.get("customer_id"))
                .map(|s| Value::String(s.clone()))
        });
    let forbidden = |reason: &str| Reply::error(403, "forbidden", None, reason);
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => CustomerId::parse(&s)
            .map(Some)
            .map_err(|_| forbidden("the authorizer's customer_id is invalid")),
        Some(_) => Err(forbidden("the authorizer's customer_id is not a string")),
    }
}

fn query_param<'r>(req: &'r ApiGatewayProxyRequest, name: &str) -> Option<&'r str> {
    req.query_string_parameters.first(name)
}

fn limit_param(req: &ApiGatewayProxyRequest) -> Result<u32, Reply> {
    match query_param(req, query::LIMIT.name) {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(s) => s.parse().map_err(|_| {
            Reply::error(
                400,
                "validation_failed",
                Some(query::LIMIT.name),
                format!(
                    "must be an integer 1..={}",
                    order_domain::service::MAX_PAGE_SIZE
                ),
            )
        }),
    }
}

fn since_param(req: &ApiGatewayProxyRequest) -> Result<Timestamp, Reply> {
    let raw = query_param(req, query::SINCE.name).ok_or_else(|| missing(&query::SINCE))?;
    raw.parse().map_err(|_| {
        Reply::error(
            400,
            "validation_failed",
            Some(query::SINCE.name),
            format!("{raw:?} is not {}", query::SINCE.format),
        )
    })
}

fn cursor_param(req: &ApiGatewayProxyRequest) -> Option<&str> {
    query_param(req, query::CURSOR.name)
}

fn id_param<T>(
    raw: &str,
    field: &str,
    parse: impl Fn(&str) -> Result<T, order_domain::IdError>,
) -> Result<T, Reply> {
    parse(raw).map_err(|e| Reply::error(400, "validation_failed", Some(field), e.to_string()))
}

/// 415 unless the request says its body is JSON: `application/json`, with
/// no parameter but `charset=utf-8` (JSON is UTF-8, RFC 8259). Checked before
/// the body is read, so a form post or a text body never becomes an order
/// by accident of also parsing as JSON.
fn require_json(req: &ApiGatewayProxyRequest) -> Result<(), Reply> {
    let raw = req.headers.get("content-type").map(HeaderValue::to_str);
    let refuse = |got: &str| {
        Reply::error(
            415,
            "unsupported_media_type",
            Some("content-type"),
            format!(
                "POST /orders takes a JSON body: send `Content-Type: application/json` ({got})"
            ),
        )
    };
    let value = match raw {
        None => return Err(refuse("the request has no Content-Type")),
        Some(Err(_)) => return Err(refuse("the Content-Type is not readable text")),
        Some(Ok(v)) => v,
    };
    let mut parts = value.split(';').map(str::trim);
    let media_type = parts.next().unwrap_or_default();
    let params_ok = parts.filter(|p| !p.is_empty()).all(|p| {
        p.split_once('=').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("charset")
                && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        })
    });
    if media_type.eq_ignore_ascii_case("application/json") && params_ok {
        Ok(())
    } else {
        Err(refuse(&format!("got `{}`", value.escape_debug())))
    }
}

/// The raw body bytes, refusing oversized bodies before decoding them.
fn body_bytes(req: &ApiGatewayProxyRequest) -> Result<Vec<u8>, Reply> {
    let raw = req.body.as_deref().unwrap_or_default();
    // Base64 is 4/3 of the payload; check the encoded size first so a huge
    // body is never decoded.
    let encoded_limit = if req.is_base64_encoded {
        MAX_BODY_BYTES.div_ceil(3) * 4
    } else {
        MAX_BODY_BYTES
    };
    let too_large = || {
        Reply::error(
            413,
            "payload_too_large",
            Some("body"),
            format!("the body must be at most {MAX_BODY_BYTES} bytes"),
        )
    };
    if raw.len() > encoded_limit {
        return Err(too_large());
    }
    let bytes = if req.is_base64_encoded {
        BASE64.decode(raw).map_err(|_| {
            Reply::error(
                400,
                "validation_failed",
                Some("body"),
                "is not valid base64",
            )
        })?
    } else {
        raw.as_bytes().to_vec()
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

fn page_reply(r: Result<OrdersPage, QueryError>) -> Reply {
    match r {
        Ok(page) => Reply::json(200, page),
        Err(e) => Reply::domain(&e),
    }
}

impl<S, Q, P, C, G> Api<S, Q, P, C, G>
where
    S: Store + Clone,
    Q: Enqueuer,
    P: PaymentGateway,
    C: Clock + Clone,
    G: IdGenerator,
{
    pub fn new(store: S, enqueuer: Q, gateway: P, rules: CountyRules, clock: C, ids: G) -> Self {
        Self {
            accept: AcceptService::new(store.clone(), rules.clone(), clock.clone(), ids),
            queries: OrderQueries::new(store.clone(), rules.clone()),
            customers: CustomerService::new(store.clone(), rules.clone(), clock.clone()),
            review: ReviewService::new(store.clone(), rules.clone(), clock.clone()),
            cancel: CancelService::new(store, gateway, rules, clock),
            enqueuer,
            shadow: None,
            cutover: None,
        }
    }

    /// Samples answered reads into the county's ShadowReads queue (mode
    /// `shadow`; see [`Api::offer_shadow`]).
    pub fn with_shadow(mut self, sampler: order_aws::ShadowSampler) -> Self {
        self.shadow = Some(sampler);
        self
    }

    /// Offers an order this API has just answered for comparison with the
    /// legacy database. Call it only in mode `shadow`. It returns at once:
    /// the send runs beside the answer, and its failure is logged and
    /// counted, never the read's.
    pub fn offer_shadow(&self, order: &order_domain::Order) {
        if let Some(s) = &self.shadow {
            drop(s.offer(order));
        }
    }

    /// Makes writes depend on the county's cutover mode (a migrating
    /// county): refused while the legacy system owns its orders.
    pub fn with_cutover(mut self, flag: order_aws::CutoverFlag) -> Self {
        self.cutover = Some(flag);
        self
    }

    /// A migrating county's cutover flag and shadow-read sampler, as
    /// [`order_aws::ApiMigration`] reads them (nothing for other counties).
    pub fn with_migration(mut self, m: order_aws::ApiMigration) -> Self {
        if let Some(sampler) = m.shadow {
            self = self.with_shadow(sampler);
        }
        if let Some(flag) = m.cutover {
            self = self.with_cutover(flag);
        }
        self
    }

    /// The county's cutover flag, if it is migrating: the shadow-read
    /// sampler asks it `is_shadow()` per request (one shared cache).
    pub fn cutover(&self) -> Option<&order_aws::CutoverFlag> {
        self.cutover.as_ref()
    }

    /// Checks sale hours against `sale_clock` instead of `clock` (the local
    /// runner's `--sale-clock`). Order timestamps, ids and TTLs, and cancels,
    /// stay on `clock`.
    pub fn with_sale_clock(mut self, sale_clock: impl Clock + 'static) -> Self {
        self.accept = self.accept.with_sale_clock(sale_clock);
        self
    }

    /// Handles one request. Never fails: every problem is an HTTP answer.
    pub async fn handle(&self, req: ApiGatewayProxyRequest) -> ApiGatewayProxyResponse {
        let path = request_path(&req);
        let request_id = req.request_context.request_id.clone().unwrap_or_default();
        let reply = match self.dispatch(&req, &path).await {
            Ok(r) | Err(r) => r,
        };
        if reply.status >= 500 {
            tracing::error!(
                method = %req.http_method, path, request_id, status = reply.status,
                error = %reply.body, "request failed"
            );
        } else {
            tracing::info!(method = %req.http_method, path, request_id, status = reply.status, "request");
        }
        reply.into_response()
    }

    async fn dispatch(&self, req: &ApiGatewayProxyRequest, path: &str) -> Result<Reply, Reply> {
        let method = req.http_method.as_str();
        let (operation, params) = resolve(method, path, |name| query_param(req, name).is_some())
            .map_err(|e| e.reply(method, path))?;
        if !matches!(method, "GET" | "HEAD") {
            self.writes_allowed().await?;
        }
        let caller = caller_customer(req)?;
        let caller = caller.as_ref();
        if operation.staff_only() {
            staff_only(caller)?;
        }
        Ok(match operation {
            Operation::PlaceOrder => self.place_order(req, caller).await?,
            Operation::GetOrder => self.get_order(&params, caller).await?,
            Operation::GetLegacyOrder => self.get_legacy_order(&params, caller).await?,
            Operation::PutCustomer => self.put_customer(req, &params, caller).await?,
            Operation::GetCustomer => self.get_customer(&params, caller).await?,
            Operation::CancelOrder => self.cancel_order(&params, caller).await?,
            Operation::ListCustomerOrders => self.customer_orders(req, &params, caller).await?,
            Operation::ListStoreOrders => self.store_orders(req, &params).await?,
            Operation::ListOrdersByStatus => self.status_orders(req).await?,
            Operation::ReleaseHeldOrder => self.review(&params, ReviewAction::Release).await?,
            Operation::RejectHeldOrder => self.review(&params, ReviewAction::Reject).await?,
            Operation::FulfillOrder => self.review(&params, ReviewAction::Fulfill).await?,
            Operation::ListCountyOrders => {
                let (since, limit) = (since_param(req)?, limit_param(req)?);
                page_reply(
                    self.queries
                        .county_orders_since(since, limit, cursor_param(req))
                        .await,
                )
            }
        })
    }

    /// Writes of a migrating county wait for its cutover: in `legacy` and
    /// `shadow` the legacy system takes its orders (409, nothing written);
    /// a mode that cannot be read refuses too (503, retryable), since
    /// taking an order the legacy system never sees is the worse failure.
    async fn writes_allowed(&self) -> Result<(), Reply> {
        let Some(flag) = &self.cutover else {
            return Ok(());
        };
        match flag.mode().await {
            Ok(mode) if mode.new_system_owns_orders() => Ok(()),
            Ok(mode) => {
                let mut r = Reply::error(
                    409,
                    "county_not_cut_over",
                    None,
                    format!(
                        "this county is in cutover mode `{mode}`: the legacy system still takes \
                         its orders, so this API takes no writes for it (nothing was written); \
                         reads work"
                    ),
                );
                r.body["mode"] = json!(mode.name());
                Err(r)
            }
            Err(e) => {
                tracing::error!(error = %e, "cutover mode unreadable: writes refused");
                let mut r = Reply::error(
                    503,
                    "cutover_mode_unavailable",
                    None,
                    format!("{e}; writes are refused until it can be read (nothing was written)"),
                );
                r.body["retryable"] = json!(true);
                Err(r.header("retry-after", RETRY_AFTER_SECONDS))
            }
        }
    }

    async fn get_order(
        &self,
        params: &PathParams<'_>,
        caller: Option<&CustomerId>,
    ) -> Result<Reply, Reply> {
        let id = id_param(path_param(params, "order_id")?, "order_id", OrderId::parse)?;
        let r = match caller {
            Some(c) => self.queries.get_customer_order(c, &id).await,
            None => self.queries.get_order(&id).await,
        };
        Ok(match r {
            Ok(order) => self.answer_read(order).await,
            Err(e) => Reply::domain(&e),
        })
    }

    /// A read's answer; in mode `shadow`, first offered to the comparison
    /// with the legacy database (the offer returns at once: the send runs
    /// beside the answer, and an unreadable mode samples nothing).
    async fn answer_read(&self, order: order_domain::Order) -> Reply {
        if let Some(flag) = self.cutover()
            && flag.is_shadow().await
        {
            self.offer_shadow(&order);
        }
        Reply::json(200, order)
    }

    async fn get_legacy_order(
        &self,
        params: &PathParams<'_>,
        caller: Option<&CustomerId>,
    ) -> Result<Reply, Reply> {
        const FIELD: &str = "legacy_order_id";
        let raw = path_param(params, FIELD)?;
        let number = legacy::parse_number(raw)
            .map_err(|e| Reply::error(400, "validation_failed", Some(FIELD), e.to_string()))?;
        let id = legacy::order_id(number);
        let r = match caller {
            Some(c) => self.queries.get_customer_order(c, &id).await,
            None => self.queries.get_order(&id).await,
        };
        Ok(match r {
            Ok(order) => self.answer_read(order).await,
            Err(QueryError::NotFound(_)) => Reply::error(
                404,
                "not_found",
                None,
                format!("no migrated order has legacy number {number}"),
            ),
            Err(e) => Reply::domain(&e),
        })
    }

    /// The path's customer, who must be the caller when the authorizer
    /// names one.
    fn profile_owner(
        params: &PathParams<'_>,
        caller: Option<&CustomerId>,
    ) -> Result<CustomerId, Reply> {
        let raw = path_param(params, "customer_id")?;
        let customer = id_param(raw, "customer_id", CustomerId::parse)?;
        if caller.is_some_and(|c| *c != customer) {
            return Err(Reply::error(
                403,
                "forbidden",
                None,
                "customers may read and write only their own profile",
            ));
        }
        Ok(customer)
    }

    async fn put_customer(
        &self,
        req: &ApiGatewayProxyRequest,
        params: &PathParams<'_>,
        caller: Option<&CustomerId>,
    ) -> Result<Reply, Reply> {
        let customer = Self::profile_owner(params, caller)?;
        let body = body_bytes(req)?;
        Ok(match self.customers.put(&customer, &body).await {
            Ok((profile, Upsert::Created)) => Reply::json(201, profile.masked())
                .header("location", format!("/customers/{customer}")),
            Ok((profile, _)) => Reply::json(200, profile.masked()),
            Err(e) => Reply::domain(&e),
        })
    }

    async fn get_customer(
        &self,
        params: &PathParams<'_>,
        caller: Option<&CustomerId>,
    ) -> Result<Reply, Reply> {
        let customer = Self::profile_owner(params, caller)?;
        Ok(match self.customers.get(&customer).await {
            Ok(profile) => Reply::json(200, profile.masked()),
            Err(e) => Reply::domain(&e),
        })
    }

    async fn cancel_order(
        &self,
        params: &PathParams<'_>,
        caller: Option<&CustomerId>,
    ) -> Result<Reply, Reply> {
        let id = id_param(path_param(params, "order_id")?, "order_id", OrderId::parse)?;
        Ok(match self.cancel.cancel(&id, caller).await {
            Ok(order) => Reply::json(200, order),
            Err(e) => Reply::domain(&e),
        })
    }

    async fn customer_orders(
        &self,
        req: &ApiGatewayProxyRequest,
        params: &PathParams<'_>,
        caller: Option<&CustomerId>,
    ) -> Result<Reply, Reply> {
        let raw = path_param(params, "customer_id")?;
        let customer = id_param(raw, "customer_id", CustomerId::parse)?;
        if caller.is_some_and(|c| *c != customer) {
            return Err(Reply::error(
                403,
                "forbidden",
                None,
                "customers may list only their own orders",
            ));
        }
        let limit = limit_param(req)?;
        Ok(page_reply(
            self.queries
                .customer_orders(&customer, limit, cursor_param(req))
                .await,
        ))
    }

    async fn store_orders(
        &self,
        req: &ApiGatewayProxyRequest,
        params: &PathParams<'_>,
    ) -> Result<Reply, Reply> {
        let store = id_param(path_param(params, "store_id")?, "store_id", StoreId::parse)?;
        let (since, limit) = (since_param(req)?, limit_param(req)?);
        let status = query_param(req, query::STORE_STATUS.name)
            .map(|raw| status_param(raw, &query::STORE_STATUS))
            .transpose()?;
        Ok(page_reply(
            self.queries
                .store_orders_since(&store, since, status, limit, cursor_param(req))
                .await,
        ))
    }

    /// A staff action on one order. A release re-enqueues the order so the
    /// worker charges it (each time it is asked: the worker is idempotent,
    /// and a lost send must be recoverable by asking again).
    async fn review(&self, params: &PathParams<'_>, action: ReviewAction) -> Result<Reply, Reply> {
        let id = id_param(path_param(params, "order_id")?, "order_id", OrderId::parse)?;
        let r = match action {
            ReviewAction::Release => self.review.release(&id).await,
            ReviewAction::Reject => self.review.reject(&id).await,
            ReviewAction::Fulfill => self.review.fulfill(&id).await,
        };
        let order = r.map_err(|e| Reply::domain(&e))?;
        if action == ReviewAction::Release && order.status == OrderStatus::Reserved {
            let message = WorkMessage {
                order_id: order.order_id,
            };
            if let Err(e) = self.enqueuer.enqueue(message).await {
                tracing::warn!(
                    order_id = %order.order_id, error = %e, retryable = e.retryable,
                    "order released but not enqueued; release it again to retry"
                );
                return Err(Reply::error(
                    503,
                    "enqueue_failed",
                    None,
                    "the order is released but its payment was not queued: retry the release",
                )
                .header("retry-after", RETRY_AFTER_SECONDS));
            }
        }
        Ok(Reply::json(200, order))
    }

    async fn status_orders(&self, req: &ApiGatewayProxyRequest) -> Result<Reply, Reply> {
        let raw = query_param(req, query::STATUS.name).ok_or_else(|| missing(&query::STATUS))?;
        let status = status_param(raw, &query::STATUS)?;
        let (since, limit) = (since_param(req)?, limit_param(req)?);
        Ok(page_reply(
            self.queries
                .status_orders_since(status, since, limit, cursor_param(req))
                .await,
        ))
    }

    async fn place_order(
        &self,
        req: &ApiGatewayProxyRequest,
        caller: Option<&CustomerId>,
    ) -> Result<Reply, Reply> {
        require_json(req)?;
        let body = body_bytes(req)?;
        if let Some(c) = caller {
            // A customer may only order for themselves. An unreadable body is
            // left to the accept service, which reports every problem.
            let claimed = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
                v.get("customer_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            if claimed.is_some_and(|id| id != c.as_str()) {
                return Err(Reply::error(
                    403,
                    "forbidden",
                    Some("customer_id"),
                    "customers may place orders only for themselves",
                ));
            }
        }
        let outcome = self
            .accept
            .accept(&body)
            .await
            .map_err(|e| Reply::domain(&e))?;
        let accepted = outcome.accepted;
        let order_id = accepted.order_id;
        if !outcome.replayed {
            // The transaction is the commit point; the outbox and the
            // sweeper cover a lost send, so the client still gets 202.
            if let Err(e) = self.enqueuer.enqueue(WorkMessage { order_id }).await {
                tracing::warn!(
                    %order_id, error = %e, retryable = e.retryable,
                    "order accepted but not enqueued; the stream outbox will enqueue it"
                );
            }
        }
        let mut reply =
            Reply::json(202, &accepted).header("location", format!("/orders/{order_id}"));
        if outcome.replayed {
            reply = reply.header("idempotent-replayed", "true");
        }
        Ok(reply)
    }
}

/// A status name in query parameter `q`.
fn status_param(raw: &str, q: &QueryParam) -> Result<OrderStatus, Reply> {
    raw.parse().map_err(|e| {
        Reply::error(
            400,
            "validation_failed",
            Some(q.name),
            format!("{e}: expected {}", q.format),
        )
    })
}

fn staff_only(caller: Option<&CustomerId>) -> Result<(), Reply> {
    match caller {
        Some(_) => Err(Reply::error(
            403,
            "forbidden",
            None,
            "this operation is for store and county staff",
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve_to_operations_with_path_parameters() {
        let (op, p) = resolve("GET", "/orders/01ABC", |_| false).unwrap();
        assert_eq!(op, Operation::GetOrder);
        assert_eq!(p.get("order_id"), Some("01ABC"));
        let (op, p) = resolve("POST", "/orders/01ABC/cancel", |_| false).unwrap();
        assert_eq!(op, Operation::CancelOrder);
        assert_eq!(p.get("order_id"), Some("01ABC"));
        let (op, _) = resolve("POST", "/orders", |_| false).unwrap();
        assert_eq!(op, Operation::PlaceOrder);
        let (op, p) = resolve("GET", "/customers/c-1/orders", |_| false).unwrap();
        assert_eq!(op, Operation::ListCustomerOrders);
        assert_eq!(p.get("customer_id"), Some("c-1"));
    }

    #[test]
    fn unknown_paths_and_methods_are_404_and_405() {
        assert_eq!(
            resolve("GET", "/nope", |_| true).unwrap_err(),
            RouteError::NotFound
        );
        assert_eq!(
            resolve("GET", "/orders/x/cancel", |_| true).unwrap_err(),
            RouteError::MethodNotAllowed {
                allow: "POST".into()
            }
        );
        assert_eq!(
            resolve("DELETE", "/orders", |_| true).unwrap_err(),
            RouteError::MethodNotAllowed {
                allow: "GET, POST".into()
            }
        );
    }

    #[test]
    fn listings_from_a_point_in_time_need_since_and_status_listings_need_status() {
        for path in ["/county/orders", "/stores/s-1/orders", "/orders"] {
            let e = resolve("GET", path, |n| n != "since").unwrap_err();
            assert_eq!(
                e,
                RouteError::MissingQuery(query::SINCE.required()),
                "{path}"
            );
        }
        let e = resolve("GET", "/orders", |n| n == "since").unwrap_err();
        assert_eq!(e, RouteError::MissingQuery(query::STATUS.required()));
        assert!(resolve("GET", "/customers/c-1/orders", |_| false).is_ok());
    }
}

//! The API over local HTTP: each request becomes the `ApiGatewayProxyRequest`
//! API Gateway's REST proxy integration would send (resource template and
//! path parameters from the API's route table, `acme_contract::routes`; query
//! string, headers, body, request context), the API function answers, and its
//! `ApiGatewayProxyResponse` becomes the HTTP response.
//!
//! Every request needs `Authorization: Bearer <token>`; others get 401 JSON
//! before any function code runs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use acme_contract::routes::{self, Miss, Route};
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use axum::response::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::{Value, json};

use crate::auth::BearerToken;
use crate::functions::ApiFunction;
use crate::metrics::{self, RequestTiming};

/// API Gateway's stage the county stack deploys (`acme_stacks::county::api::STAGE_NAME`).
const STAGE: &str = acme_stacks::county::api::STAGE_NAME;
/// API Gateway's payload limit is 10 MB; the order API refuses far less itself.
const MAX_BODY: usize = 10 * 1024 * 1024;

/// The route for `method path` in the API's route table (the one the stack
/// deploys and the function routes by), with its path parameters decoded as
/// API Gateway hands them. `Err(true)` when the path exists under another
/// method.
fn match_route(
    method: &Method,
    path: &str,
) -> Result<(&'static Route, HashMap<String, String>), bool> {
    match routes::find(method.as_str(), path) {
        Ok((route, params)) => Ok((
            route,
            params
                .iter()
                .map(|(name, raw)| (name.to_owned(), percent_decode(raw)))
                .collect(),
        )),
        Err(Miss::MethodNotAllowed(_)) => Err(true),
        Err(Miss::NotFound) => Err(false),
    }
}

/// Decodes `%XX` escapes (API Gateway hands path parameters decoded).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_params(uri: &Uri) -> (Value, Value) {
    let mut single = serde_json::Map::new();
    let mut multi: serde_json::Map<String, Value> = serde_json::Map::new();
    for pair in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(&k.replace('+', " "));
        let v = percent_decode(&v.replace('+', " "));
        // API Gateway's single-value map keeps the last value.
        single.insert(k.clone(), Value::String(v.clone()));
        if let Some(Value::Array(a)) = multi.get_mut(&k) {
            a.push(Value::String(v));
        } else {
            multi.insert(k, json!([v]));
        }
    }
    if single.is_empty() {
        (Value::Null, Value::Null)
    } else {
        (Value::Object(single), Value::Object(multi))
    }
}

/// Builds the event API Gateway would send, in its wire format, and
/// deserializes it with the same code Lambda's runtime uses.
#[allow(clippy::too_many_arguments)] // one per part of the event; a struct would only rename them
pub fn proxy_request(
    route: &Route,
    params: HashMap<String, String>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    source_ip: &str,
    request_id: &str,
) -> Result<ApiGatewayProxyRequest, serde_json::Error> {
    let mut single = serde_json::Map::new();
    let mut multi: serde_json::Map<String, Value> = serde_json::Map::new();
    for (k, v) in headers {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        single.insert(k.as_str().to_owned(), Value::String(v.clone()));
        match multi.get_mut(k.as_str()) {
            Some(Value::Array(a)) => a.push(Value::String(v)),
            _ => {
                multi.insert(k.as_str().to_owned(), json!([v]));
            }
        }
    }
    let (qs, mqs) = query_params(uri);
    let (body, b64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(s) => (Value::String(s.to_owned()), false),
        Err(_) => (Value::String(base64(body)), true),
    };
    let now = jiff::Timestamp::now();
    let event = json!({
        "resource": route.path,
        "path": uri.path(),
        "httpMethod": method.as_str(),
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": qs,
        "multiValueQueryStringParameters": mqs,
        "pathParameters": if params.is_empty() { Value::Null } else { json!(params) },
        "stageVariables": Value::Null,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "local",
            "stage": STAGE,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "requestTimeEpoch": now.as_millisecond(),
            "path": format!("/{STAGE}{}", uri.path()),
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("user-agent").and_then(|v| v.to_str().ok())},
            "resourcePath": route.path,
            "httpMethod": method.as_str(),
            "apiId": "local",
            "domainName": "127.0.0.1",
        },
        "body": body,
        "isBase64Encoded": b64,
    });
    serde_json::from_value(event)
}

pub(crate) fn base64(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// An error in the order API's own shape (`{"error": code, "reason": text,
/// "retryable": false}`), for answers the runner gives before the function.
fn error_body(code: &str, reason: impl Into<String>) -> Value {
    json!({"error": code, "reason": reason.into(), "retryable": false})
}

fn json_response(status: StatusCode, body: Value) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

/// Turns the function's answer into the HTTP response API Gateway would send.
fn http_response(resp: ApiGatewayProxyResponse) -> Response {
    // Read it back through its wire format: the response type's fields are
    // non-exhaustive and its body an enum; the JSON is what API Gateway gets.
    let v = serde_json::to_value(&resp).unwrap_or(Value::Null);
    let status = v["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let body = match (&v["body"], v["isBase64Encoded"].as_bool().unwrap_or(false)) {
        (Value::String(s), false) => Bytes::from(s.clone()),
        (Value::String(s), true) => Bytes::from(base64_decode(s)),
        _ => Bytes::new(),
    };
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    for (k, val) in v["headers"].as_object().into_iter().flatten() {
        if let (Ok(name), Some(Ok(value))) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            val.as_str().map(HeaderValue::from_str),
        ) {
            r.headers_mut().insert(name, value);
        }
    }
    r
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | u32::from(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// Per-request timings, for the load report.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    pub total: std::time::Duration,
    /// Time inside store and enqueue calls, including `lock_wait`.
    pub emulator: std::time::Duration,
    /// Of `emulator`, the wait for the isolation lock.
    pub lock_wait: std::time::Duration,
    pub status: u16,
}

/// Receives one [`Served`] per authorized request, if set.
pub type ServedSink = Arc<dyn Fn(Served) + Send + Sync>;

struct AppState<F> {
    function: Arc<F>,
    token: BearerToken,
    served: Option<ServedSink>,
}

async fn handle<F: ApiFunction>(
    State(st): State<Arc<AppState<F>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response {
    let started = Instant::now();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if !st.token.accepts(auth) {
        let mut r = json_response(
            StatusCode::UNAUTHORIZED,
            error_body(
                "unauthorized",
                "missing or wrong bearer token (Authorization: Bearer <token>)",
            ),
        );
        r.headers_mut()
            .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        return r;
    }
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                error_body("payload_too_large", "request body over 10 MB"),
            );
        }
    };
    let (route, params) = match match_route(&parts.method, parts.uri.path()) {
        Ok(m) => m,
        Err(true) => {
            return json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                error_body(
                    "method_not_allowed",
                    format!("{} is not allowed on {}", parts.method, parts.uri.path()),
                ),
            );
        }
        Err(false) => {
            return json_response(
                StatusCode::NOT_FOUND,
                error_body(
                    "not_found",
                    format!("no route {} {}", parts.method, parts.uri.path()),
                ),
            );
        }
    };
    let request_id = crate::provision::new_run_id() + &crate::provision::new_run_id();
    let event = match proxy_request(
        route,
        params,
        &parts.method,
        &parts.uri,
        &parts.headers,
        &body,
        &peer.ip().to_string(),
        &request_id,
    ) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "building the API Gateway event");
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                error_body("internal", "could not build the proxy event"),
            );
        }
    };
    let timing = Arc::new(RequestTiming::default());
    let result = metrics::scope(timing.clone(), st.function.call(event)).await;
    let response = match result {
        Ok(r) => http_response(r),
        Err(e) => {
            // What API Gateway answers when the integration errors.
            tracing::error!(error = %e, request_id, "API function error");
            json_response(
                StatusCode::BAD_GATEWAY,
                json!({"message": "Internal server error"}),
            )
        }
    };
    let total = started.elapsed();
    tracing::debug!(
        method = %parts.method, path = %parts.uri.path(), status = response.status().as_u16(),
        ms = total.as_secs_f64() * 1000.0, emulator_calls = timing.calls(), "request"
    );
    if let Some(sink) = &st.served {
        sink(Served {
            total,
            emulator: std::time::Duration::from_nanos(timing.emulator_nanos()),
            lock_wait: std::time::Duration::from_nanos(timing.lock_nanos()),
            status: response.status().as_u16(),
        });
    }
    response
}

/// How long a client may take to send a request's line and headers. Past
/// it the connection is closed: a client that opens connections and never
/// finishes a request (slowloris) would otherwise hold each one for as long
/// as it likes (300 such connections were held for 35 s). API Gateway itself
/// closes idle connections after a few seconds; ten is ample on loopback. It
/// also bounds how long an idle keep-alive connection stays open.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the API function on `listener` until `shutdown` resolves.
pub async fn serve<F: ApiFunction>(
    listener: tokio::net::TcpListener,
    function: Arc<F>,
    token: BearerToken,
    served: Option<ServedSink>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_timeout(
        listener,
        function,
        token,
        served,
        HEADER_READ_TIMEOUT,
        shutdown,
    )
    .await
}

/// [`serve`] with another header-read timeout. Connections accepted before
/// `shutdown` resolves are served to the end of their current request.
pub async fn serve_with_timeout<F: ApiFunction>(
    listener: tokio::net::TcpListener,
    function: Arc<F>,
    token: BearerToken,
    served: Option<ServedSink>,
    header_read_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = Arc::new(AppState {
        function,
        token,
        served,
    });
    let app = axum::Router::new().fallback(handle::<F>).with_state(state);
    let mut http = hyper::server::conn::http1::Builder::new();
    // hyper enforces the timeout only with a timer to measure it by.
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let connections = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = app.clone().layer(axum::Extension(ConnectInfo(peer)));
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection closed");
            }
        });
    }
    // Refuse new connections while the open ones finish.
    drop(listener);
    connections.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An API function that answers 200 to everything.
    struct Ok200;

    impl ApiFunction for Ok200 {
        async fn call(
            &self,
            _request: ApiGatewayProxyRequest,
        ) -> Result<ApiGatewayProxyResponse, crate::functions::FunctionError> {
            let mut r = ApiGatewayProxyResponse::default();
            r.status_code = 200;
            Ok(r)
        }
    }

    /// Reads until the server closes the connection (a reset counts).
    async fn until_closed(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        let mut buf = Vec::new();
        let _ = stream.read_to_end(&mut buf).await;
        buf
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_headers_is_disconnected() {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let timeout = Duration::from_millis(400);
        let server = tokio::spawn(serve_with_timeout(
            listener,
            Arc::new(Ok200),
            BearerToken::new("local-test-token"),
            None,
            timeout,
            async move {
                let _ = stopped.await;
            },
        ));

        // Half a request line, then nothing.
        let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET /orders/01HZY3M4T7X8").await.unwrap();
        let started = Instant::now();
        let closed = tokio::time::timeout(Duration::from_secs(5), until_closed(&mut slow)).await;
        let held = started.elapsed();
        assert!(closed.is_ok(), "the connection was still open after 5 s");
        assert!(
            held >= timeout - Duration::from_millis(100) && held < timeout * 4,
            "disconnected after {held:?}, the timeout is {timeout:?}"
        );

        // A whole request on a new connection is still served.
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        client
            .write_all(
                b"GET /orders/01HZY3M4T7X8Q9R0S1T2V3W4X5 HTTP/1.1\r\nHost: local\r\n\
                  Authorization: Bearer local-test-token\r\nConnection: close\r\n\r\n",
            )
            .await
            .unwrap();
        let answer = until_closed(&mut client).await;
        assert!(
            answer.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&answer)
        );

        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }

    #[test]
    fn routes_match_with_path_parameters() {
        let (r, p) = match_route(&Method::GET, "/orders/01ABC").unwrap();
        assert_eq!(r.path, "/orders/{order_id}");
        assert_eq!(p["order_id"], "01ABC");
        let (r, _) = match_route(&Method::POST, "/orders").unwrap();
        assert_eq!(r.path, "/orders");
        assert_eq!(match_route(&Method::DELETE, "/orders").err(), Some(true));
        assert_eq!(match_route(&Method::GET, "/nope").err(), Some(false));
        let (_, p) = match_route(&Method::GET, "/stores/s%201/orders").unwrap();
        assert_eq!(p["store_id"], "s 1");
        // The literal `legacy` wins over `{order_id}`, as in API Gateway.
        let (r, p) = match_route(&Method::GET, "/orders/legacy/1011").unwrap();
        assert_eq!(r.path, "/orders/legacy/{legacy_order_id}");
        assert_eq!(p["legacy_order_id"], "1011");
        let (r, p) = match_route(&Method::PUT, "/customers/c-1").unwrap();
        assert_eq!(r.path, "/customers/{customer_id}");
        assert_eq!(p["customer_id"], "c-1");
    }

    #[test]
    fn base64_round_trips() {
        for s in [&b""[..], b"a", b"ab", b"abc", b"\xff\x00\x10hello"] {
            assert_eq!(base64_decode(&base64(s)), s);
        }
        assert_eq!(base64(b"ab"), "YWI=");
    }

    #[test]
    fn proxy_event_carries_the_request() {
        let (r, p) = match_route(&Method::GET, "/customers/c-1/orders").unwrap();
        let uri: Uri = "/customers/c-1/orders?limit=5&cursor=a%2Bb"
            .parse()
            .unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-test", HeaderValue::from_static("1"));
        let e = proxy_request(r, p, &Method::GET, &uri, &h, b"", "127.0.0.1", "rid").unwrap();
        assert_eq!(e.path_parameters["customer_id"], "c-1");
        assert_eq!(e.query_string_parameters.first("cursor"), Some("a+b"));
        assert_eq!(
            e.resource.as_deref(),
            Some("/customers/{customer_id}/orders")
        );
        assert_eq!(e.headers["x-test"], "1");
        assert_eq!(e.request_context.stage.as_deref(), Some("live"));
        assert!(e.body.is_none());
    }
}

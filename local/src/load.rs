//! `acme-infra local load`: drive a local county with concurrent clients for
//! a bounded time, over loopback HTTP only, and report accepted and confirmed
//! orders per second, accept latency, and how much of each request was spent
//! waiting on the emulator versus in our code.
//!
//! Emulator figures are moto's (see shared LOCAL-AWS.md: ~5 ms a put, tens to
//! hundreds of ms a transaction); they say nothing about DynamoDB's latency.
//! The "our code" share is the part this measures honestly.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use order_domain::codec::StockRecord;
use order_domain::ids::{OrderId, Sku, StoreId};
use order_domain::money::Money;
use order_domain::order::OrderStatus;
use order_domain::store::Store;

use crate::api::Served;
use crate::auth::BearerToken;
use crate::cli::LoadArgs;
use crate::emulator::Emulator;
use crate::error::{LocalError, Result};
use crate::runner::LocalCounty;

/// A Wednesday early afternoon in every sample county's time zone: inside
/// sale hours, so a load run doesn't depend on the time of day.
pub const DEFAULT_SALE_CLOCK: &str = "2026-05-06T18:00:00Z";
const STORE: &str = "load-store";
const SKUS: usize = 20;
/// Enough stock that no order fails for want of it during a run.
const STOCK_PER_SKU: i64 = 1_000_000;

/// Figures of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub clients: usize,
    pub duration_s: f64,
    pub sent: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub errors: usize,
    pub confirmed: usize,
    pub accepted_per_s: f64,
    pub confirmed_per_s: f64,
    pub accept_p50_ms: f64,
    pub accept_p99_ms: f64,
    /// Server side, per accepted request: time in store/enqueue calls,
    /// less the isolation lock wait (moto itself).
    pub emulator_p50_ms: f64,
    /// Server side, per accepted request: waiting for the isolation lock
    /// (other requests' and the worker's writes to moto).
    pub lock_wait_p50_ms: f64,
    /// Server side, per accepted request: everything else (our code).
    pub ours_p50_ms: f64,
    pub ours_p99_ms: f64,
    /// Share of all server time spent in emulator calls.
    pub emulator_share: f64,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn sorted_ms(v: impl Iterator<Item = Duration>) -> Vec<f64> {
    let mut v: Vec<f64> = v.map(|d| d.as_secs_f64() * 1000.0).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Runs the load test and prints the report.
pub async fn run(args: &LoadArgs) -> Result<()> {
    let token = BearerToken::generate()?;
    let mut opts = crate::commands::options(&args.run, token.clone())?;
    if opts.sale_clock.is_none() {
        opts.sale_clock = DEFAULT_SALE_CLOCK.parse().ok();
    }
    // A migrating county takes orders only once cut over: load drives it in
    // mode `dynamo` unless --cutover-mode says otherwise (its own flag, as
    // its own tables: a load run moves no other run's county).
    if opts.cutover_mode.is_none()
        && crate::migration::initial_mode(&crate::stack::CountyStack::load(
            &opts.environments,
            &opts.county,
        )?)?
        .is_some()
    {
        opts.cutover_mode = Some(acme_contract::migration::CutoverMode::Dynamo);
    }
    // Port 0: never collide with a runner already on 3000.
    opts.port = 0;
    opts.state_file = None;
    let served: Arc<Mutex<Vec<Served>>> = Arc::default();
    let sink = served.clone();
    opts.served = Some(Arc::new(move |s| {
        sink.lock().unwrap_or_else(PoisonError::into_inner).push(s);
    }));
    let emulator = Emulator::from_env_or_start().await?;
    let county = LocalCounty::start(opts, emulator).await?;
    let result = drive(&county, args, &token, &served).await;
    county.stop().await;
    let report = result?;
    print_report(&report)?;
    Ok(())
}

async fn drive(
    county: &LocalCounty,
    args: &LoadArgs,
    token: &BearerToken,
    served: &Arc<Mutex<Vec<Served>>>,
) -> Result<Report> {
    let store_id = StoreId::parse(STORE).map_err(|e| LocalError::Invalid(e.to_string()))?;
    let store = county.store()?;
    let records: Vec<StockRecord> = (0..SKUS)
        .map(|i| {
            Ok(StockRecord {
                store_id: store_id.clone(),
                sku: Sku::parse(&format!("SKU-{i:03}"))
                    .map_err(|e| LocalError::Invalid(e.to_string()))?,
                available: STOCK_PER_SKU,
                price_cents: Money::from_cents(1999).unwrap_or(Money::ZERO),
            })
        })
        .collect::<Result<_>>()?;
    crate::inventory::write_stock(&store, &records).await?;

    let url = format!("{}/orders", county.api_url());
    let http = LoopbackClient::new(county.api_addr);
    register_customers(&http, county, token, args.clients).await?;
    let deadline = Instant::now() + args.duration;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..args.clients {
        let http = http.clone();
        let auth = format!("Bearer {}", token.expose());
        let url = url.clone();
        tasks.spawn(async move {
            let mut out = ClientStats::default();
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let body = serde_json::json!({
                    "client_request_id": format!("load-{c}-{n}"),
                    "customer_id": format!("load-customer-{c}"),
                    "store_id": STORE,
                    "items": [{"sku": format!("SKU-{:03}", n as usize % SKUS), "quantity": 1}],
                });
                let t = Instant::now();
                let r = http.post_json(&url, &auth, &body.to_string()).await;
                out.sent += 1;
                match r {
                    Ok((202, v)) => {
                        out.latencies.push(t.elapsed());
                        if let Some(id) = v["order_id"]
                            .as_str()
                            .and_then(|s| s.parse::<OrderId>().ok())
                        {
                            out.accepted.push(id);
                        }
                    }
                    Ok(_) => out.rejected += 1,
                    Err(_) => out.errors += 1,
                }
            }
            out
        });
    }
    let mut all = ClientStats::default();
    while let Some(r) = tasks.join_next().await {
        if let Ok(s) = r {
            all.sent += s.sent;
            all.rejected += s.rejected;
            all.errors += s.errors;
            all.latencies.extend(s.latencies);
            all.accepted.extend(s.accepted);
        }
    }
    let run_time = started.elapsed();

    // Confirmation: poll the orders until all are final or the drain ends.
    let drain_deadline = Instant::now() + args.drain;
    let mut pending: Vec<OrderId> = all.accepted.clone();
    let mut confirmed = 0usize;
    while !pending.is_empty() && Instant::now() < drain_deadline {
        let mut still = Vec::new();
        for id in pending {
            let item = store
                .get(
                    order_domain::store::Table::OrderById,
                    order_domain::codec::order_key(&id),
                    false,
                )
                .await
                .map_err(|e| LocalError::Invalid(e.to_string()))?;
            match item
                .and_then(|i| order_domain::codec::order_from_item(&i).ok())
                .map(|o| o.status)
            {
                Some(OrderStatus::Confirmed) => confirmed += 1,
                Some(OrderStatus::Failed | OrderStatus::Cancelled) => {}
                _ => still.push(id),
            }
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let confirm_time = started.elapsed();

    let lat = sorted_ms(all.latencies.iter().copied());
    let served = served
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let ok: Vec<&Served> = served.iter().filter(|s| s.status == 202).collect();
    let emu = sorted_ms(ok.iter().map(|s| s.emulator.saturating_sub(s.lock_wait)));
    let lock = sorted_ms(ok.iter().map(|s| s.lock_wait));
    let ours = sorted_ms(ok.iter().map(|s| s.total.saturating_sub(s.emulator)));
    let total_server: f64 = ok.iter().map(|s| s.total.as_secs_f64()).sum();
    let total_emu: f64 = ok.iter().map(|s| s.emulator.as_secs_f64()).sum();
    Ok(Report {
        clients: args.clients,
        duration_s: run_time.as_secs_f64(),
        sent: all.sent,
        accepted: all.accepted.len(),
        rejected: all.rejected,
        errors: all.errors,
        confirmed,
        accepted_per_s: all.accepted.len() as f64 / run_time.as_secs_f64(),
        confirmed_per_s: confirmed as f64 / confirm_time.as_secs_f64(),
        accept_p50_ms: pct(&lat, 0.50),
        accept_p99_ms: pct(&lat, 0.99),
        emulator_p50_ms: pct(&emu, 0.50),
        lock_wait_p50_ms: pct(&lock, 0.50),
        ours_p50_ms: pct(&ours, 0.50),
        ours_p99_ms: pct(&ours, 0.99),
        emulator_share: if total_server > 0.0 {
            total_emu / total_server
        } else {
            0.0
        },
    })
}

/// The report on stdout. A reader that went away (`| head`) is not an
/// error; any other failure to write is.
fn print_report(r: &Report) -> Result<()> {
    use std::io::Write as _;
    let text = format!(
        "load: {} clients for {:.1} s (loopback only)\n\
         \x20 sent {}  accepted {}  rejected {}  errors {}\n\
         \x20 accepted   {:8.1} orders/s\n\
         \x20 confirmed  {:8.1} orders/s  ({} of {} confirmed)\n\
         \x20 accept latency  p50 {:.1} ms  p99 {:.1} ms\n\
         \x20 per request (server): moto calls p50 {:.1} ms, isolation-lock wait p50 {:.1} ms; \
         our code p50 {:.2} ms, p99 {:.2} ms; emulator share {:.1}%\n\
         \x20 (emulator time is moto's, not DynamoDB's or SQS's)\n",
        r.clients,
        r.duration_s,
        r.sent,
        r.accepted,
        r.rejected,
        r.errors,
        r.accepted_per_s,
        r.confirmed_per_s,
        r.confirmed,
        r.accepted,
        r.accept_p50_ms,
        r.accept_p99_ms,
        r.emulator_p50_ms,
        r.lock_wait_p50_ms,
        r.ours_p50_ms,
        r.ours_p99_ms,
        r.emulator_share * 100.0
    );
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(LocalError::Output),
    }
}

#[derive(Default)]
struct ClientStats {
    sent: usize,
    rejected: usize,
    errors: usize,
    latencies: Vec<Duration>,
    accepted: Vec<OrderId>,
}

/// A minimal HTTP/1.1 client for loopback only: keeps the load tool free of
/// an HTTP client dependency and refuses any non-loopback address.
/// Gives each load client's customer an adult profile (`PUT
/// /customers/{id}`, idempotent): the API refuses orders without one.
async fn register_customers(
    http: &LoopbackClient,
    county: &LocalCounty,
    token: &BearerToken,
    clients: usize,
) -> Result<()> {
    let auth = format!("Bearer {}", token.expose());
    let profile = serde_json::json!({
        "email": "load@example.com",
        "full_name": "Load Customer",
        "birth_date": "1990-02-28",
    })
    .to_string();
    for c in 0..clients {
        let url = format!("{}/customers/load-customer-{c}", county.api_url());
        match http.send_json("PUT", &url, &auth, &profile).await {
            Ok((200 | 201, _)) => {}
            Ok((status, body)) => {
                return Err(LocalError::Invalid(format!(
                    "PUT /customers/load-customer-{c} answered {status}: {body}"
                )));
            }
            Err(e) => {
                return Err(LocalError::Invalid(format!(
                    "PUT /customers/load-customer-{c}: {e}"
                )));
            }
        }
    }
    Ok(())
}

#[derive(Clone)]
struct LoopbackClient {
    addr: std::net::SocketAddr,
}

impl LoopbackClient {
    fn new(addr: std::net::SocketAddr) -> Self {
        Self { addr }
    }

    async fn post_json(
        &self,
        url: &str,
        auth: &str,
        body: &str,
    ) -> std::io::Result<(u16, serde_json::Value)> {
        self.send_json("POST", url, auth, body).await
    }

    async fn send_json(
        &self,
        method: &str,
        url: &str,
        auth: &str,
        body: &str,
    ) -> std::io::Result<(u16, serde_json::Value)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        if !self.addr.ip().is_loopback() {
            return Err(std::io::Error::other(
                "load only targets loopback addresses",
            ));
        }
        let path = url
            .splitn(4, '/')
            .nth(3)
            .map_or("/".to_owned(), |p| format!("/{p}"));
        let mut s = tokio::net::TcpStream::connect(self.addr).await?;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        s.write_all(req.as_bytes()).await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        let text = String::from_utf8_lossy(&buf);
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        Ok((
            status,
            serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        ))
    }
}

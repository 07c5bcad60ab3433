//! Starts and stops a local county: provision from the template, build the
//! functions with the county's configuration, serve the API, poll the queue
//! and the stream.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use acme_contract::migration::CutoverMode;
use aws_config::SdkConfig;
use jiff::Timestamp;
use order_aws::emulator::IsolatedStore;
use order_domain::payment::SimulatedGateway;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api::ServedSink;
use crate::auth::BearerToken;
use crate::emulator::Emulator;
use crate::error::{LocalError, Result};
use crate::functions::StreamFunction;
use crate::handlers::{self, Handlers, Wiring};
use crate::migration::{Flag, LegacySyncFn, LegacySyncRun};
use crate::provision::{self, Resources};
use crate::queue::QueuePoller;
use crate::stack::{CountyStack, logical};
use crate::state::{self, LocalState};
use crate::stream::StreamPoller;

/// How to run a county locally.
#[derive(Clone)]
pub struct RunOptions {
    pub county: String,
    /// The `environments/` directory.
    pub environments: PathBuf,
    /// The API's port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Pins the time the sale-hour rules see (orders keep real timestamps).
    pub sale_clock: Option<Timestamp>,
    pub token: BearerToken,
    /// Overrides the order queue's visibility timeout (seconds): the
    /// template's is sized for Lambda's timeout, so a failed message would
    /// take minutes to come back on a laptop.
    pub visibility_timeout: Option<u32>,
    /// Concurrent queue pollers (at most the mapping's maximum concurrency).
    pub pollers: usize,
    /// Write the state file, and resume the resources it names (tests, which
    /// run many counties at once, don't).
    pub state_file: Option<PathBuf>,
    /// New tables and queues even if the state file's still exist.
    pub fresh: bool,
    /// Receives per-request timings (the load report).
    pub served: Option<ServedSink>,
    /// The payment gateway the worker charges; a new approving one if unset.
    pub gateway: Option<Arc<SimulatedGateway>>,
    /// A migrating county: put its cutover flag in this mode at start
    /// (otherwise the flag keeps its mode, or is created as the stack
    /// creates it).
    pub cutover_mode: Option<CutoverMode>,
    /// A migrating county with `migration.legacy_sync`: the legacy database
    /// legacy-sync writes to (not running without it).
    pub legacy_db: Option<String>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("county", &self.county)
            .field("port", &self.port)
            .field("sale_clock", &self.sale_clock)
            .finish_non_exhaustive()
    }
}

impl RunOptions {
    /// Defaults for `county`: port 3000, token from the environment or new.
    pub fn new(county: impl Into<String>, token: BearerToken) -> Self {
        let county = county.into();
        Self {
            state_file: Some(state::state_path(&state::state_dir(), &county)),
            county,
            environments: PathBuf::from("environments"),
            port: 3000,
            sale_clock: None,
            token,
            visibility_timeout: None,
            pollers: 4,
            fresh: false,
            served: None,
            gateway: None,
            cutover_mode: None,
            legacy_db: None,
        }
    }
}

/// A running local county.
pub struct LocalCounty {
    pub resources: Resources,
    pub stack: CountyStack,
    pub api_addr: SocketAddr,
    pub token: BearerToken,
    pub endpoint: String,
    pub sdk: SdkConfig,
    /// The payment gateway the worker charges (simulated: no money moves).
    pub gateway: Arc<SimulatedGateway>,
    pub handlers: Handlers,
    /// The resources are a previous run's, resumed.
    pub resumed: bool,
    /// A migrating county's flag, ShadowReads queue and legacy-sync.
    pub migration: Option<Migration>,
    shutdown: watch::Sender<bool>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pollers: JoinSet<()>,
    emulator: Emulator,
    state_file: Option<PathBuf>,
    /// Held while running: tells other commands this runner is alive.
    _lock: Option<state::RunnerLock>,
}

impl std::fmt::Debug for LocalCounty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCounty")
            .field("county", &self.resources.county_id)
            .field("api_addr", &self.api_addr)
            .finish_non_exhaustive()
    }
}

/// What a migrating county runs with locally (the banner shows it).
#[derive(Debug, Clone)]
pub struct Migration {
    pub flag: Flag,
    /// The ShadowReads queue's URL.
    pub shadow_queue: Option<String>,
    pub legacy_sync: LegacySyncRun,
}

/// The functions' environment as the stack sets it, with each `Ref` resolved
/// to what this run created (tables → name, queues → URL, bus → name,
/// topics → ARN), and each literal name the template gives a table or the
/// bus (`TableName`, `Name`) replaced by this run's name for it: the runner
/// names resources per run, so runs can share one emulator.
pub fn function_env(stack: &CountyStack, res: &Resources) -> BTreeMap<String, String> {
    let mut renamed: BTreeMap<&str, &str> = BTreeMap::new();
    for (logical, physical) in &res.tables {
        if let Some(name) = stack
            .properties(logical, "AWS::DynamoDB::Table")
            .and_then(|p| p.get("TableName"))
            .and_then(Value::as_str)
        {
            renamed.insert(name, physical);
        }
    }
    if let (Some(name), Some(physical)) = (
        stack
            .properties(logical::EVENT_BUS, "AWS::Events::EventBus")
            .and_then(|p| p.get("Name"))
            .and_then(Value::as_str),
        &res.event_bus_name,
    ) {
        renamed.insert(name, physical);
    }
    // The runner builds every function from one configuration: the order
    // API's, the only one with the Customers table (the worker ignores it).
    let vars = crate::stack::resources_of_type(&stack.template, "AWS::Lambda::Function")
        .filter_map(|(_, p)| {
            p.pointer("/Environment/Variables")
                .and_then(Value::as_object)
        })
        .filter(|v| v.contains_key(order_domain::schema::env::COUNTY_RULES))
        .max_by_key(|v| v.contains_key(order_domain::schema::env::CUSTOMERS_TABLE));
    resolve_env(vars, &renamed, res)
}

/// legacy-sync's environment as the stack sets it, resolved as
/// [`function_env`]'s; `None` for a county without it.
pub fn legacy_sync_env(stack: &CountyStack, res: &Resources) -> Option<BTreeMap<String, String>> {
    let vars = stack
        .properties(logical::LEGACY_SYNC, "AWS::Lambda::Function")?
        .pointer("/Environment/Variables")
        .and_then(Value::as_object);
    Some(resolve_env(vars, &BTreeMap::new(), res))
}

fn resolve_env(
    vars: Option<&serde_json::Map<String, Value>>,
    renamed: &BTreeMap<&str, &str>,
    res: &Resources,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for (k, v) in vars.into_iter().flatten() {
        let resolved = match v {
            Value::String(s) => Some(
                renamed
                    .get(s.as_str())
                    .map_or_else(|| s.clone(), |p| (*p).to_owned()),
            ),
            Value::Number(n) => Some(n.to_string()),
            other => other.get("Ref").and_then(Value::as_str).and_then(|r| {
                res.tables
                    .get(r)
                    .cloned()
                    .or_else(|| res.queues.get(r).map(|q| q.url.clone()))
                    .or_else(|| {
                        (r == logical::EVENT_BUS)
                            .then(|| res.event_bus_name.clone())
                            .flatten()
                    })
                    .or_else(|| res.topics.get(r).cloned())
                    .or_else(|| {
                        (r == acme_stacks::county::migration::MODE_PARAMETER)
                            .then(|| res.cutover_flag.clone())
                            .flatten()
                    })
            }),
        };
        if let Some(val) = resolved {
            env.insert(k.clone(), val);
        }
    }
    env
}

impl LocalCounty {
    /// Provisions the county on `emulator` and starts serving.
    pub async fn start(opts: RunOptions, emulator: Emulator) -> Result<Self> {
        Self::start_with_publisher(opts, emulator, handlers::publisher).await
    }

    /// [`LocalCounty::start`], with the function the stream poller invokes
    /// built by `publisher` from the functions' adapters instead of
    /// [`handlers::publisher`]: tests wrap the publisher, or its event sink,
    /// to observe the batches it gets or to make publishing fail.
    pub async fn start_with_publisher<F, B>(
        opts: RunOptions,
        emulator: Emulator,
        publisher: B,
    ) -> Result<Self>
    where
        F: StreamFunction,
        B: FnOnce(&order_aws::Adapters) -> F,
    {
        let lock = match &opts.state_file {
            Some(path) => Some(state::RunnerLock::acquire(path, &opts.county)?),
            None => None,
        };
        // Before anything is created: a taken port must leave nothing behind.
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port))
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AddrInUse => LocalError::PortInUse { port: opts.port },
                _ => LocalError::Io(e),
            })?;
        let api_addr = listener.local_addr()?;
        let stack = CountyStack::load(&opts.environments, &opts.county)?;
        let initial = crate::migration::initial_mode(&stack)?;
        if initial.is_none() && opts.cutover_mode.is_some() {
            return Err(LocalError::BadInput(format!(
                "--cutover-mode: county {} has no `migration:` section, so it has no cutover flag",
                stack.county_id
            )));
        }
        let Provisioned {
            sdk,
            sqs,
            resources,
            resumed,
            prepared,
        } = provision_county(&opts, &stack, &emulator, api_addr, initial).await?;
        let Prepared {
            order_queue,
            handlers,
            gateway,
            migration,
            legacy_sync,
        } = prepared;
        let (shutdown, rx) = watch::channel(false);
        let mut stop = rx.clone();
        let server = tokio::spawn(crate::api::serve(
            listener,
            handlers.api.clone(),
            opts.token.clone(),
            opts.served.clone(),
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        ));
        let pollers = spawn_pollers(
            Pollers {
                opts: &opts,
                stack: &stack,
                sdk: &sdk,
                sqs: &sqs,
                order_queue,
                order_stream_arn: resources.order_stream_arn.as_deref(),
                publisher: publisher(&handlers.adapters),
                legacy_sync,
            },
            &handlers,
            &rx,
        );
        let me = Self {
            resources,
            stack,
            api_addr,
            token: opts.token,
            endpoint: emulator.url().to_owned(),
            sdk,
            gateway,
            handlers,
            resumed,
            migration,
            shutdown,
            server: Some(server),
            pollers,
            emulator,
            state_file: opts.state_file,
            _lock: lock,
        };
        tracing::info!(
            county = %me.resources.county_id, api = %me.api_url(), endpoint = %me.endpoint,
            run_id = %me.resources.run_id, resumed, "local county running"
        );
        Ok(me)
    }

    pub fn api_url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// The DynamoDB store the functions use (for tests and inventory),
    /// isolated like theirs.
    pub fn store(&self) -> Result<IsolatedStore<order_aws::DynamoStore>> {
        Ok(handlers::isolated(order_aws::DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            self.resources.table_names()?,
        )))
    }

    /// Stops cleanly: pollers finish their in-flight batches, the server
    /// finishes its requests, then the emulator (if started here) stops.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        while self.pollers.join_next().await.is_some() {}
        if let Some(s) = self.server.take() {
            match s.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "API server"),
                Err(e) => tracing::warn!(error = %e, "API server task"),
            }
        }
        // The resources outlive this run only on an emulator that outlives it.
        if let Some(path) = &self.state_file
            && self.emulator.is_owned()
        {
            for p in [
                path.clone(),
                state::checkpoints_path(path),
                state::legacy_sync_checkpoints_path(path),
            ] {
                if let Err(e) = std::fs::remove_file(&p) {
                    tracing::debug!(error = %e, path = %p.display(), "removing");
                }
            }
        }
        self.emulator.stop().await;
        tracing::info!("local county stopped");
    }
}

/// EventBridge's schedule for the sweeper: one run every `every`, the first
/// one `every` after start (as a new rule's first run), none after stop.
async fn sweep_on_schedule(
    sweeper: Arc<handlers::LocalSweeper>,
    every: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopped = tokio::select! {
            _ = stop.wait_for(|s| *s) => true,
            _ = ticks.tick() => false,
        };
        if stopped {
            return;
        }
        // `handle` logs the run's summary; a failed run is Lambda's function
        // error, and the next tick runs again.
        if let Err(e) = sweeper.handle().await {
            tracing::error!(error = %e, "sweeper run failed");
        }
    }
}

/// The county's resources on the emulator, created or resumed from the
/// state file, and what the run wires to them.
struct Provisioned {
    sdk: SdkConfig,
    sqs: aws_sdk_sqs::Client,
    resources: Resources,
    resumed: bool,
    prepared: Prepared,
}

/// Creates (or resumes) the county's resources and prepares the run; a
/// fresh start that fails half-way removes what it created.
async fn provision_county(
    opts: &RunOptions,
    stack: &CountyStack,
    emulator: &Emulator,
    api_addr: SocketAddr,
    initial: Option<CutoverMode>,
) -> Result<Provisioned> {
    let sdk = crate::aws::sdk_config(
        &crate::aws::Target::Emulator(emulator.url().to_owned()),
        &stack.region,
    )
    .await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let eventbridge = aws_sdk_eventbridge::Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    let clients = provision::Clients {
        dynamodb: &dynamodb,
        sqs: &sqs,
        eventbridge: &eventbridge,
        sns: &sns,
    };
    let (mut resources, resumed) = resources(stack, opts, emulator.url(), &clients).await?;
    let run = Run {
        opts,
        stack,
        sdk: &sdk,
        api_addr,
        emulator,
        initial,
    };
    let prepared = match prepare(&run, &mut resources).await {
        Ok(p) => p,
        Err(e) => {
            if !resumed {
                provision::teardown(&resources, &clients).await;
            }
            return Err(e);
        }
    };
    Ok(Provisioned {
        sdk,
        sqs,
        resources,
        resumed,
        prepared,
    })
}
/// What the pollers of one start read from.
struct Pollers<'a, F> {
    opts: &'a RunOptions,
    stack: &'a CountyStack,
    sdk: &'a SdkConfig,
    sqs: &'a aws_sdk_sqs::Client,
    order_queue: provision::QueueInfo,
    order_stream_arn: Option<&'a str>,
    publisher: F,
    legacy_sync: Option<Arc<LegacySyncFn>>,
}

/// The event sources of a running county, as its stack maps them: the
/// worker on the order queue, the sweeper on its schedule, the publisher
/// and (when it runs) legacy-sync each on the OrderById stream.
fn spawn_pollers<F: StreamFunction>(
    p: Pollers<'_, F>,
    handlers: &Handlers,
    rx: &watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut pollers = JoinSet::new();
    pollers.spawn(
        QueuePoller {
            sqs: p.sqs.clone(),
            queue: p.order_queue,
            region: p.stack.region.clone(),
            mapping: p.stack.queue_mapping,
            function: handlers.worker.clone(),
            pollers: p.opts.pollers,
        }
        .run(rx.clone()),
    );
    pollers.spawn(sweep_on_schedule(
        handlers.sweeper.clone(),
        p.stack.sweeper.every,
        rx.clone(),
    ));
    let Some(arn) = p.order_stream_arn else {
        tracing::warn!("the OrderById table has no stream: no events, no outbox");
        return pollers;
    };
    let checkpoints = p.opts.state_file.as_deref();
    pollers.spawn(
        StreamPoller {
            streams: aws_sdk_dynamodbstreams::Client::new(p.sdk),
            stream_arn: arn.to_owned(),
            region: p.stack.region.clone(),
            mapping: p.stack.stream_mapping,
            function: Arc::new(p.publisher),
            checkpoints: checkpoints.map(state::checkpoints_path),
        }
        .run(rx.clone()),
    );
    // Its own event source mapping: its own position and retries, so a
    // legacy database that is down holds back only it.
    if let Some(sync) = p.legacy_sync {
        pollers.spawn(
            StreamPoller {
                streams: aws_sdk_dynamodbstreams::Client::new(p.sdk),
                stream_arn: arn.to_owned(),
                region: p.stack.region.clone(),
                mapping: p
                    .stack
                    .legacy_sync_mapping
                    .unwrap_or(p.stack.stream_mapping),
                function: sync,
                checkpoints: checkpoints.map(state::legacy_sync_checkpoints_path),
            }
            .run(rx.clone()),
        );
    }
    pollers
}

/// What the runner needs beyond its resources, checked before it starts.
struct Prepared {
    order_queue: provision::QueueInfo,
    handlers: Handlers,
    gateway: Arc<SimulatedGateway>,
    migration: Option<Migration>,
    legacy_sync: Option<Arc<LegacySyncFn>>,
}

/// One start's settings and what it has so far.
struct Run<'a> {
    opts: &'a RunOptions,
    stack: &'a CountyStack,
    sdk: &'a SdkConfig,
    api_addr: SocketAddr,
    emulator: &'a Emulator,
    /// The mode the stack creates the cutover flag in; `None`: not migrating.
    initial: Option<CutoverMode>,
}

/// The state file's resources if they can be resumed here, else new ones;
/// true if resumed.
async fn resources(
    stack: &CountyStack,
    opts: &RunOptions,
    endpoint: &str,
    c: &provision::Clients<'_>,
) -> Result<(Resources, bool)> {
    let recorded = match &opts.state_file {
        Some(path) if opts.fresh => {
            tracing::info!(state = %path.display(), "--fresh: new tables and queues; the previous run's stay on the emulator, unprocessed");
            None
        }
        Some(path) => LocalState::read(path)?,
        None => None,
    };
    if let Some(s) = recorded {
        let why = if s.endpoint != endpoint {
            Some(format!(
                "they were on {}, this run is on {endpoint}",
                s.endpoint
            ))
        } else {
            provision::unresumable(&s.resources, stack, c).await?
        };
        match why {
            None => {
                tracing::info!(run_id = %s.resources.run_id, "resuming the previous run's tables and queue");
                return Ok((s.resources, true));
            }
            Some(why) => {
                tracing::info!(%why, "the previous run's tables cannot be resumed: creating new ones")
            }
        }
    }
    let run_id = provision::new_run_id();
    Ok((provision::provision(stack, &run_id, *c).await?, false))
}

/// Queue settings, the cutover flag, the functions' configuration and the
/// state file: every fallible step between provisioning and serving.
async fn prepare(run: &Run<'_>, resources: &mut Resources) -> Result<Prepared> {
    let Run {
        opts, stack, sdk, ..
    } = *run;
    let order_queue = resources.queue(logical::ORDER_QUEUE)?.clone();
    // A resumed queue may carry the last run's override: set it either way.
    let visibility = opts.visibility_timeout.map(u64::from).or_else(|| {
        stack
            .properties(logical::ORDER_QUEUE, "AWS::SQS::Queue")
            .and_then(|p| p.get("VisibilityTimeout"))
            .and_then(Value::as_u64)
    });
    if let Some(v) = visibility {
        aws_sdk_sqs::Client::new(sdk)
            .set_queue_attributes()
            .queue_url(&order_queue.url)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
                v.to_string(),
            )
            .send()
            .await
            .map_err(|e| LocalError::aws("sqs", "SetQueueAttributes", e))?;
    }
    let flag = cutover_flag(run, resources).await?;
    let env = function_env(stack, resources);
    let config = order_aws::Config::from_lookup(|k| env.get(k).cloned())
        .map_err(|e| LocalError::Invalid(format!("the functions' configuration: {e}")))?;
    // The county file chooses the provider, locally as in a deployment.
    let payment = order_aws::Payment::from_lookup(|k| env.get(k).cloned())
        .map_err(|e| LocalError::Invalid(format!("the functions' configuration: {e}")))?;
    // A county on the card API runs locally on the simulator too: no local
    // run reaches a real provider or reads its key.
    if payment.provider != order_aws::PaymentProvider::Simulator {
        tracing::warn!(provider = %payment.provider, "local run: payments go to the simulated gateway, not the county's provider");
    }
    let migration = order_aws::ApiMigration::from_lookup(|k| env.get(k).cloned(), sdk)
        .map_err(|e| LocalError::Invalid(format!("the order API's configuration: {e}")))?;
    let gateway = opts
        .gateway
        .clone()
        .unwrap_or_else(|| Arc::new(SimulatedGateway::new()));
    let handlers = handlers::build(Wiring {
        sdk: sdk.clone(),
        config,
        sale_clock: opts.sale_clock,
        gateway: gateway.clone(),
        sweeper: stack.sweeper.settings,
        migration,
    });
    let (migration, legacy_sync) = match flag {
        Some(flag) => {
            let (sync, run_state) = legacy_sync(run, resources)?;
            let shadow_queue = resources
                .queues
                .get(logical::SHADOW_READS_QUEUE)
                .map(|q| q.url.clone());
            let m = Migration {
                flag,
                shadow_queue,
                legacy_sync: run_state,
            };
            (Some(m), sync)
        }
        None => (None, None),
    };
    if let Some(path) = &opts.state_file {
        LocalState {
            endpoint: run.emulator.url().to_owned(),
            api_url: format!("http://{}", run.api_addr),
            pid: std::process::id(),
            resources: resources.clone(),
        }
        .write(path)?;
    }
    Ok(Prepared {
        order_queue,
        handlers,
        gateway,
        migration,
        legacy_sync,
    })
}

/// A migrating county's cutover flag: named for this run, made to exist
/// (created as the stack creates it, kept, or set by `--cutover-mode`), and
/// recorded in `resources` for the functions' environment and the state file.
async fn cutover_flag(run: &Run<'_>, resources: &mut Resources) -> Result<Option<Flag>> {
    let Some(initial) = run.initial else {
        return Ok(None);
    };
    let name = crate::migration::flag_parameter(
        &run.stack.county_id,
        &resources.run_id,
        run.opts.state_file.is_some(),
    );
    let ssm = aws_sdk_ssm::Client::new(run.sdk);
    let flag = crate::migration::ensure_flag(&ssm, &name, initial, run.opts.cutover_mode).await?;
    resources.cutover_flag = Some(name);
    Ok(Some(flag))
}

/// legacy-sync, if the county has it and a database was given; else why not.
fn legacy_sync(
    run: &Run<'_>,
    resources: &Resources,
) -> Result<(Option<Arc<LegacySyncFn>>, LegacySyncRun)> {
    let Some(vars) = legacy_sync_env(run.stack, resources) else {
        let why = "the county file has no `migration.legacy_sync`, so its stack has no legacy-sync";
        if run.opts.legacy_db.is_some() {
            tracing::warn!("--legacy-db ignored: {why}");
        }
        return Ok((None, LegacySyncRun::NotRunning(why.into())));
    };
    let Some(url) = &run.opts.legacy_db else {
        let why = "no legacy database given (--legacy-db URL or ACME_LEGACY_URL): orders taken \
                   here do not reach the legacy tables";
        tracing::warn!("legacy-sync is not running: {why}");
        return Ok((None, LegacySyncRun::NotRunning(why.into())));
    };
    if resources.order_stream_arn.is_none() {
        let why = "the OrderById table has no stream";
        tracing::warn!("legacy-sync is not running: {why}");
        return Ok((None, LegacySyncRun::NotRunning(why.into())));
    }
    let (sync, db) = crate::migration::legacy_sync(&vars, url, run.sdk)?;
    tracing::info!(database = %db, "legacy-sync running on the OrderById stream");
    Ok((
        Some(Arc::new(LegacySyncFn(Arc::new(sync)))),
        LegacySyncRun::Running(db),
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use order_domain::schema::env;

    use super::*;
    use crate::provision::QueueInfo;

    #[test]
    fn the_environment_names_this_runs_resources() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
        let stack = CountyStack::load(&dir, "travis-tx").unwrap();
        let run = |l: &str| format!("travis-tx-{l}-run1");
        let res = Resources {
            county_id: "travis-tx".into(),
            run_id: "run1".into(),
            region: stack.region.clone(),
            tables: stack
                .logical_ids("AWS::DynamoDB::Table")
                .into_iter()
                .map(|l| (l.clone(), run(&l)))
                .collect(),
            queues: stack
                .logical_ids("AWS::SQS::Queue")
                .into_iter()
                .map(|l| {
                    let info = QueueInfo {
                        url: format!("http://127.0.0.1:5000/123456789012/{}", run(&l)),
                        arn: format!("arn:aws:sqs:us-east-2:123456789012:{}", run(&l)),
                    };
                    (l, info)
                })
                .collect(),
            order_stream_arn: None,
            event_bus_name: Some(run(logical::EVENT_BUS)),
            topics: [(
                logical::NOTIFICATIONS_TOPIC.to_owned(),
                "arn:aws:sns:us-east-2:123456789012:notify-run1".to_owned(),
            )]
            .into(),
            cutover_flag: Some("/acme/travis-tx/migration/mode".into()),
        };
        let vars = function_env(&stack, &res);
        // Whether the template names them by `Ref` or literally.
        assert_eq!(vars[env::EVENT_BUS_NAME], run(logical::EVENT_BUS));
        assert_eq!(
            vars[env::ORDER_BY_ID_TABLE],
            run(logical::ORDER_BY_ID_TABLE)
        );
        assert_eq!(
            vars[env::ORDER_QUEUE_URL],
            res.queues[logical::ORDER_QUEUE].url
        );
        assert_eq!(
            vars[env::NOTIFICATIONS_TOPIC_ARN],
            res.topics[logical::NOTIFICATIONS_TOPIC]
        );
        let config = order_aws::Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
        assert_eq!(config.event_bus_name, run(logical::EVENT_BUS));
        // The order API's variables, so profiles work locally too.
        assert_eq!(
            config.tables.customers.as_deref(),
            Some(run(logical::CUSTOMERS_TABLE).as_str())
        );
        // A migrating county's API: this run's flag and ShadowReads queue.
        assert_eq!(
            vars[env::CUTOVER_MODE_PARAMETER],
            "/acme/travis-tx/migration/mode"
        );
        assert_eq!(
            vars[env::SHADOW_READS_QUEUE_URL],
            res.queues[logical::SHADOW_READS_QUEUE].url
        );
        let sync = legacy_sync_env(&stack, &res).expect("travis-tx has legacy-sync");
        assert_eq!(
            sync[env::LEGACY_SYNC_DLQ_URL],
            res.queues["LegacySyncFailureQueue"].url
        );
        assert_eq!(
            sync[env::CUTOVER_MODE_PARAMETER],
            "/acme/travis-tx/migration/mode"
        );
    }
}

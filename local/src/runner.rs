//! Starts and stops a local county: provision from the template, build the
//! functions with the county's configuration, serve the API, poll the queue
//! and the stream.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// Write the state file (tests, which run many counties at once, don't).
    pub state_file: Option<PathBuf>,
    /// Receives per-request timings (the load report).
    pub served: Option<ServedSink>,
    /// The payment gateway the worker charges; a new approving one if unset.
    pub gateway: Option<Arc<SimulatedGateway>>,
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
            served: None,
            gateway: None,
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
    shutdown: watch::Sender<bool>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pollers: JoinSet<()>,
    emulator: Emulator,
    state_file: Option<PathBuf>,
}

impl std::fmt::Debug for LocalCounty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCounty")
            .field("county", &self.resources.county_id)
            .field("api_addr", &self.api_addr)
            .finish_non_exhaustive()
    }
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
    let mut env = BTreeMap::new();
    // The runner builds every function from one configuration: the order
    // API's, the only one with the Customers table (the worker ignores it).
    let vars = crate::stack::resources_of_type(&stack.template, "AWS::Lambda::Function")
        .filter_map(|(_, p)| {
            p.pointer("/Environment/Variables")
                .and_then(Value::as_object)
        })
        .filter(|v| v.contains_key(order_domain::schema::env::COUNTY_RULES))
        .max_by_key(|v| v.contains_key(order_domain::schema::env::CUSTOMERS_TABLE));
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
        let stack = CountyStack::load(&opts.environments, &opts.county)?;
        let sdk = crate::aws::sdk_config(
            &crate::aws::Target::Emulator(emulator.url().to_owned()),
            &stack.region,
        )
        .await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let run_id = provision::new_run_id();
        let resources = provision::provision(
            &stack,
            &run_id,
            provision::Clients {
                dynamodb: &dynamodb,
                sqs: &sqs,
                eventbridge: &aws_sdk_eventbridge::Client::new(&sdk),
                sns: &aws_sdk_sns::Client::new(&sdk),
            },
        )
        .await?;
        let order_queue = resources.queue(logical::ORDER_QUEUE)?.clone();
        if let Some(v) = opts.visibility_timeout {
            sqs.set_queue_attributes()
                .queue_url(&order_queue.url)
                .attributes(
                    aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
                    v.to_string(),
                )
                .send()
                .await
                .map_err(|e| LocalError::aws("sqs", "SetQueueAttributes", e))?;
        }
        let env = function_env(&stack, &resources);
        let config = order_aws::Config::from_lookup(|k| env.get(k).cloned())
            .map_err(|e| LocalError::Invalid(format!("the functions' configuration: {e}")))?;
        // The county file chooses the provider, locally as in a deployment.
        let payment = order_aws::Payment::from_lookup(|k| env.get(k).cloned())
            .map_err(|e| LocalError::Invalid(format!("the functions' configuration: {e}")))?;
        let gateway = match payment.provider {
            order_aws::PaymentProvider::Simulator => opts
                .gateway
                .clone()
                .unwrap_or_else(|| Arc::new(SimulatedGateway::new())),
        };
        let handlers = handlers::build(Wiring {
            sdk: sdk.clone(),
            config,
            sale_clock: opts.sale_clock,
            gateway: gateway.clone(),
        });

        let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port)).await?;
        let api_addr = listener.local_addr()?;
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
        let mut pollers = JoinSet::new();
        pollers.spawn(
            QueuePoller {
                sqs: sqs.clone(),
                queue: order_queue,
                region: stack.region.clone(),
                mapping: stack.queue_mapping,
                function: handlers.worker.clone(),
                pollers: opts.pollers,
            }
            .run(rx.clone()),
        );
        match &resources.order_stream_arn {
            Some(arn) => {
                pollers.spawn(
                    StreamPoller {
                        streams: aws_sdk_dynamodbstreams::Client::new(&sdk),
                        stream_arn: arn.clone(),
                        region: stack.region.clone(),
                        mapping: stack.stream_mapping,
                        function: Arc::new(publisher(&handlers.adapters)),
                    }
                    .run(rx.clone()),
                );
            }
            None => tracing::warn!("the OrderById table has no stream: no events, no outbox"),
        }
        let me = Self {
            resources,
            stack,
            api_addr,
            token: opts.token,
            endpoint: emulator.url().to_owned(),
            sdk,
            gateway,
            handlers,
            shutdown,
            server: Some(server),
            pollers,
            emulator,
            state_file: opts.state_file,
        };
        if let Some(path) = &me.state_file {
            LocalState {
                endpoint: me.endpoint.clone(),
                api_url: me.api_url(),
                pid: std::process::id(),
                resources: me.resources.clone(),
            }
            .write(path)?;
        }
        tracing::info!(
            county = %me.resources.county_id, api = %me.api_url(), endpoint = %me.endpoint,
            run_id = %me.resources.run_id, "local county running"
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
        if let Some(path) = &self.state_file
            && let Err(e) = std::fs::remove_file(path)
        {
            tracing::debug!(error = %e, "removing the state file");
        }
        self.emulator.stop().await;
        tracing::info!("local county stopped");
    }
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
    }
}

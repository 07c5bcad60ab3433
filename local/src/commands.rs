//! The commands behind `acme-infra local` and `acme-infra inventory`; the
//! binary only parses arguments and maps errors to exit codes.

use order_domain::ids::StoreId;

use crate::auth::BearerToken;
use crate::cli::{
    InventoryCommand, InventoryTargetArgs, LocalArgs, LocalCommand, OrdersCommand, RunArgs,
    TargetArg,
};
use crate::emulator::Emulator;
use crate::error::{LocalError, Result};
use crate::runner::{LocalCounty, RunOptions};
use crate::state::{LocalState, runner_alive, state_dir, state_path};

/// Human-readable logs on stderr; `RUST_LOG` overrides the level.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub(crate) fn options(run: &RunArgs, token: BearerToken) -> Result<RunOptions> {
    let county = run
        .county
        .clone()
        .ok_or_else(|| LocalError::BadInput("--county <ID> is required".into()))?;
    let mut o = RunOptions::new(county, token);
    o.environments = run.environments.clone();
    o.port = run.port;
    o.sale_clock = run.sale_clock;
    o.visibility_timeout = run.visibility_timeout;
    o.pollers = run.pollers;
    o.cutover_mode = run.cutover_mode;
    o.legacy_db = run.legacy_db.clone();
    Ok(o)
}

/// `acme-infra local [load]`.
pub fn local(args: &LocalArgs) -> Result<()> {
    init_logging();
    let rt = runtime()?;
    match &args.command {
        Some(LocalCommand::Load(l)) => rt.block_on(crate::load::run(l)),
        None => rt.block_on(serve(&args.run, args.fresh)),
    }
}

async fn serve(run: &RunArgs, fresh: bool) -> Result<()> {
    let (token, generated) = BearerToken::from_env_or_generate()?;
    let mut opts = options(run, token.clone())?;
    opts.fresh = fresh;
    let emulator = Emulator::from_env_or_start().await?;
    let county = match LocalCounty::start(opts, emulator).await {
        Ok(c) => c,
        Err(e) => return Err(e),
    };
    eprintln!();
    eprintln!("  county   {}", county.resources.county_id);
    eprintln!("  API      {}", county.api_url());
    eprintln!("  emulator {}", county.endpoint);
    eprintln!(
        "  run      {} ({})",
        county.resources.run_id,
        if county.resumed {
            "resumed: the last run's tables and queue"
        } else {
            "new tables and queues"
        }
    );
    if generated {
        eprintln!(
            "  token    {}   (set ACME_LOCAL_TOKEN to choose one)",
            token.expose()
        );
    } else {
        eprintln!("  token    from ACME_LOCAL_TOKEN");
    }
    eprintln!(
        "  tables   {}",
        county
            .resources
            .tables
            .values()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(m) = &county.migration {
        eprint!("{}", migration_banner(&county.resources.county_id, m));
    }
    eprintln!();
    eprintln!("  Ctrl-C (or SIGTERM) to stop.");
    stop_signal().await;
    tracing::info!("stopping: finishing in-flight batches");
    county.stop().await;
    Ok(())
}

/// The banner's lines for a migrating county: its flag, its ShadowReads
/// queue and whether legacy-sync runs.
pub fn migration_banner(county: &str, m: &crate::runner::Migration) -> String {
    use crate::migration::{FlagOrigin, LegacySyncRun};
    let how = match m.flag.origin {
        FlagOrigin::Created => "created as the stack creates it",
        FlagOrigin::Kept => "kept from before",
        FlagOrigin::Set => "set by --cutover-mode",
    };
    let mut out = format!(
        "  flag     {} = {} ({how}; `acme-infra migrate status|cutover --county {county} --target local`)\n",
        m.flag.parameter, m.flag.mode
    );
    if let Some(q) = &m.shadow_queue {
        out.push_str(&format!(
            "  shadow   {q} (`acme-infra migrate shadow --county {county} --target local --queue URL`)\n"
        ));
    }
    out.push_str(&match &m.legacy_sync {
        LegacySyncRun::Running(db) => format!("  sync     legacy-sync writing to {db}\n"),
        LegacySyncRun::NotRunning(why) => format!("  sync     legacy-sync not running: {why}\n"),
    });
    out
}

/// Ctrl-C or SIGTERM (what `kill`, systemd and container runtimes send):
/// both stop the runner the same clean way.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    r = tokio::signal::ctrl_c() => if let Err(e) = r {
                        tracing::error!(error = %e, "waiting for Ctrl-C");
                    },
                    _ = term.recv() => tracing::info!("SIGTERM"),
                }
                return;
            }
            Err(e) => tracing::error!(error = %e, "cannot listen for SIGTERM"),
        }
    }
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::error!(error = %e, "waiting for Ctrl-C");
    }
}

/// The SDK configuration of a county command that calls other services of
/// the county (`migrate status|cutover`: SSM, CloudWatch): the running local
/// runner's emulator, or AWS, as `locate` finds it.
pub async fn county_sdk(t: &InventoryTargetArgs) -> Result<aws_config::SdkConfig> {
    Ok(locate(t).await?.0)
}

/// Where a county command's resources are: a running local runner's (its
/// state), or the deployed stack's.
pub(crate) enum Located {
    Local(Box<LocalState>),
    Aws,
}

/// Finds the county for a command (`--target`), with the SDK configuration
/// that reaches it.
pub(crate) async fn locate(t: &InventoryTargetArgs) -> Result<(aws_config::SdkConfig, Located)> {
    let region = acme_stacks::config::Environments::open(&t.environments)?
        .load(&t.county)?
        .region;
    let path = state_path(&state_dir(), &t.county);
    let local = match t.target {
        TargetArg::Aws => None,
        TargetArg::Local | TargetArg::Auto => LocalState::read(&path)?,
    };
    if t.target == TargetArg::Local && local.is_none() {
        return Err(LocalError::File {
            path,
            message: format!(
                "no state file: is `acme-infra local --county {}` running (from this directory)?",
                t.county
            ),
        });
    }
    if let Some(s) = local {
        if !runner_alive(&path)? {
            return Err(LocalError::RunnerStopped {
                county: t.county.clone(),
                path,
                pid: s.pid,
                endpoint: s.endpoint,
            });
        }
        let sdk =
            crate::aws::sdk_config(&crate::aws::Target::Emulator(s.endpoint.clone()), &region)
                .await;
        tracing::info!(endpoint = %s.endpoint, "using the local runner's resources");
        return Ok((sdk, Located::Local(Box::new(s))));
    }
    let sdk = crate::aws::sdk_config(&crate::aws::Target::Aws, &region).await;
    Ok((sdk, Located::Aws))
}

/// The county's tables, for a command that reads or writes them
/// (inventory, migration): the running local runner's, or the deployed
/// stack's.
pub async fn county_store(t: &InventoryTargetArgs) -> Result<order_aws::DynamoStore> {
    let (sdk, located) = locate(t).await?;
    let tables = match located {
        Located::Local(s) => s.resources.table_names()?,
        Located::Aws => {
            crate::outputs::table_names(&aws_sdk_cloudformation::Client::new(&sdk), &t.county)
                .await?
        }
    };
    Ok(order_aws::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        tables,
    ))
}

/// `acme-infra inventory load|show`; what it shows goes to `out`.
pub fn inventory(cmd: &InventoryCommand, out: &mut dyn std::io::Write) -> Result<()> {
    init_logging();
    let rt = runtime()?;
    rt.block_on(async {
        match cmd {
            InventoryCommand::Load(a) => {
                let records = read_stock_file(&a.file)?;
                let store = county_store(&a.target).await?;
                let done = crate::inventory::load_stock(&store, &records).await?;
                writeln!(
                    out,
                    "loaded {} stock records into {} ({} already there, set to the file's quantity less {} units held by orders)",
                    done.written,
                    store.tables().inventory,
                    done.reconciled,
                    done.held
                )
                .map_err(LocalError::Output)
            }
            InventoryCommand::Show(a) => {
                let store_id = StoreId::parse(&a.store)
                    .map_err(|e| LocalError::BadInput(format!("--store {:?}: {e}", a.store)))?;
                let store = county_store(&a.target).await?;
                let lines = crate::inventory::show(&store, &store_id).await?;
                let text = if a.json {
                    serde_json::to_string_pretty(&lines)
                        .map_err(|e| LocalError::Invalid(e.to_string()))?
                        + "\n"
                } else if lines.is_empty() {
                    format!("store {store_id} has no stock records\n")
                } else {
                    crate::inventory::render_table(&lines)
                };
                out.write_all(text.as_bytes()).map_err(LocalError::Output)
            }
        }
    })
}

/// The county's order queue and its DLQ, found as [`county_store`] finds
/// its tables.
async fn county_queues(
    t: &InventoryTargetArgs,
) -> Result<(aws_config::SdkConfig, crate::orders::QueuePair)> {
    use crate::stack::logical;
    let (sdk, located) = locate(t).await?;
    let pair = match located {
        Located::Local(s) => {
            let q = s.resources.queue(logical::ORDER_QUEUE)?;
            let d = s.resources.queue(logical::ORDER_DLQ)?;
            crate::orders::QueuePair {
                queue_url: q.url.clone(),
                queue_arn: q.arn.clone(),
                dlq_url: d.url.clone(),
                dlq_arn: d.arn.clone(),
            }
        }
        Located::Aws => {
            let get =
                crate::outputs::outputs(&aws_sdk_cloudformation::Client::new(&sdk), &t.county)
                    .await?;
            crate::orders::QueuePair {
                queue_url: get("OrderQueueUrl")?,
                queue_arn: get("OrderQueueArn")?,
                dlq_url: get("OrderDeadLetterQueueUrl")?,
                dlq_arn: get("OrderDeadLetterQueueArn")?,
            }
        }
    };
    Ok((sdk, pair))
}

/// `acme-infra orders redrive|stuck`; what it shows goes to `out`.
pub fn orders(cmd: &OrdersCommand, out: &mut dyn std::io::Write) -> Result<()> {
    init_logging();
    let rt = runtime()?;
    let text = rt.block_on(async {
        match cmd {
            OrdersCommand::Redrive(a) => {
                let (sdk, queues) = county_queues(&a.target).await?;
                let sqs = aws_sdk_sqs::Client::new(&sdk);
                let report = crate::orders::redrive(&sqs, &queues, a.dry_run).await?;
                Ok::<_, LocalError>(crate::orders::render_redrive(&report))
            }
            OrdersCommand::Stuck(a) => {
                let cfg = acme_stacks::config::Environments::open(&a.target.environments)?
                    .load(&a.target.county)?;
                let rules = order_domain::rules::CountyRules::from_json(
                    &acme_stacks::county::functions::county_rules_json(&cfg),
                )
                .map_err(|e| LocalError::Invalid(format!("the county's rules: {e}")))?;
                let older_than =
                    jiff::SignedDuration::from_mins(i64::from(cfg.sweeper.stuck_after_minutes));
                let store = county_store(&a.target).await?;
                let now = jiff::Timestamp::now();
                let orders = crate::orders::stuck(store, rules, older_than, now).await?;
                if a.json {
                    serde_json::to_string_pretty(&orders)
                        .map(|s| s + "\n")
                        .map_err(|e| LocalError::Invalid(e.to_string()))
                } else {
                    Ok(crate::orders::render_stuck(&orders, older_than))
                }
            }
        }
    })?;
    out.write_all(text.as_bytes()).map_err(LocalError::Output)
}

/// A stock file, read as it streams and validated in full before anything
/// is written; `-` reads stdin.
fn read_stock_file(path: &std::path::Path) -> Result<Vec<order_domain::codec::StockRecord>> {
    let parse = |input: &mut dyn std::io::BufRead| {
        crate::inventory::parse_csv(path, input).map_err(|e| LocalError::BadInput(e.to_string()))
    };
    if path == std::path::Path::new("-") {
        return parse(&mut std::io::stdin().lock());
    }
    let file = std::fs::File::open(path).map_err(|e| {
        LocalError::BadInput(format!(
            "{}: cannot open the stock file: {e}",
            path.display()
        ))
    })?;
    parse(&mut std::io::BufReader::new(file))
}

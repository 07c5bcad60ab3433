//! JSON logs for the Lambda functions.

use tracing_subscriber::EnvFilter;

/// Installs a JSON formatter on stdout (CloudWatch Logs parses each line),
/// filtered by `RUST_LOG` (default `info`). Safe to call twice: the second
/// call is a no-op, so tests and the local runner can call it too.
pub fn init_json_logs() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(false)
        .with_current_span(false)
        // Lambda's log stream already stamps every line; keep ours anyway so
        // Logs Insights can sort within a millisecond.
        .flatten_event(true)
        .try_init();
}

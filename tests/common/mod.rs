//! Set-up shared by the binary's migration tests: the county's tables on
//! moto, published as a running `acme-infra local` publishes them.

use std::path::Path;

use acme_local::provision::{Clients, new_run_id, provision};
use acme_local::stack::CountyStack;
use acme_local::state::{LocalState, RunnerLock, state_path};

pub fn env_var(name: &str, script: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run through {script} (make test does)"))
}

/// travis-tx's tables on moto, in a local-runner state file under
/// `state_dir`, with the runner's lock held for the test's life (without it
/// the commands refuse the tables as a stopped runner's). Returns the client
/// and the OrderById table's name.
pub async fn county_tables(state_dir: &Path) -> (aws_sdk_dynamodb::Client, String) {
    let endpoint = env_var("AWS_ENDPOINT_URL", "scripts/with-moto.sh");
    let sdk = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let stack = CountyStack::load(Path::new("environments"), "travis-tx").expect("sample county");
    let resources = provision(
        &stack,
        &new_run_id(),
        Clients {
            dynamodb: &dynamodb,
            sqs: &aws_sdk_sqs::Client::new(&sdk),
            eventbridge: &aws_sdk_eventbridge::Client::new(&sdk),
            sns: &aws_sdk_sns::Client::new(&sdk),
        },
    )
    .await
    .expect("provision");
    let table = resources.table_names().expect("tables").order_by_id;
    let state = state_path(state_dir, "travis-tx");
    LocalState {
        endpoint,
        api_url: "http://127.0.0.1:9".into(),
        pid: std::process::id(),
        resources,
    }
    .write(&state)
    .expect("state file");
    std::mem::forget(RunnerLock::acquire(&state, "travis-tx").expect("lock"));
    (dynamodb, table)
}

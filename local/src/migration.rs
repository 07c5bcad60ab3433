//! A migrating county (`migration:` in its file) run as its stack runs it:
//! the cutover flag in the emulator's SSM, created as the stack creates it
//! (the template's `CutoverModeParameter`), the order API wired to it and to
//! the ShadowReads queue (`order_aws::ApiMigration`, as the Lambda's `main`),
//! and legacy-sync on its own poller of the OrderById stream when a legacy
//! database URL is given.
//!
//! Where the flag is kept: a run with a state file uses the county's own
//! parameter (`acme_contract::migration::mode_parameter`), the one
//! `acme-infra migrate status|cutover --target local` read and move; a run
//! without one (tests, `local load`) names its flag after its run, as it
//! names its tables, so runs sharing one emulator do not move each other.

use std::sync::Arc;

use acme_contract::migration::{CutoverMode, mode_parameter};
use acme_contract::schema::env;
use acme_stacks::county::migration::MODE_PARAMETER;
use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::streams::DynamoDbEventResponse;
use serde_json::Value;

use crate::error::{LocalError, Result};
use crate::functions::{FunctionError, StreamFunction};
use crate::stack::CountyStack;

/// The county's cutover flag parameter for this run.
pub fn flag_parameter(county: &str, run_id: &str, shared: bool) -> String {
    if shared {
        mode_parameter(county)
    } else {
        format!("{}-{run_id}", mode_parameter(county))
    }
}

/// How the flag came to hold its mode at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOrigin {
    /// Created in the mode the stack creates it in.
    Created,
    /// Already there (a restart, or `migrate cutover` moved it): kept.
    Kept,
    /// Put in the mode `--cutover-mode` asked for.
    Set,
}

/// The flag as the run found or made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub parameter: String,
    pub mode: CutoverMode,
    pub origin: FlagOrigin,
}

/// The mode the stack creates the flag in (`CutoverModeParameter`'s
/// `Value`); `None` for a county without `migration:`.
pub fn initial_mode(stack: &CountyStack) -> Result<Option<CutoverMode>> {
    let Some(props) = stack.properties(MODE_PARAMETER, "AWS::SSM::Parameter") else {
        return Ok(None);
    };
    let value = props.get("Value").and_then(Value::as_str).unwrap_or("");
    value.parse().map(Some).map_err(|_| {
        LocalError::Template(format!(
            "{MODE_PARAMETER}: Value `{value}` is not a cutover mode"
        ))
    })
}

/// Makes the flag exist: put in `set` if given, else created in `initial`
/// unless it is already there (so a restart keeps the mode).
pub async fn ensure_flag(
    ssm: &aws_sdk_ssm::Client,
    parameter: &str,
    initial: CutoverMode,
    set: Option<CutoverMode>,
) -> Result<Flag> {
    let (mode, origin) = match set {
        Some(m) => (m, FlagOrigin::Set),
        None => (initial, FlagOrigin::Created),
    };
    let put = ssm
        .put_parameter()
        .name(parameter)
        .value(mode.name())
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(set.is_some())
        .send()
        .await;
    match put {
        Ok(_) => Ok(Flag {
            parameter: parameter.to_owned(),
            mode,
            origin,
        }),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_parameter_already_exists()) =>
        {
            let flag = order_aws::CutoverFlag::ssm_with_ttl(
                ssm.clone(),
                parameter,
                std::time::Duration::ZERO,
            );
            let mode = flag
                .mode()
                .await
                .map_err(|e| LocalError::Invalid(e.to_string()))?;
            Ok(Flag {
                parameter: parameter.to_owned(),
                mode,
                origin: FlagOrigin::Kept,
            })
        }
        Err(e) => Err(LocalError::aws("ssm", "PutParameter", e)),
    }
}

/// legacy-sync as its Lambda's `main` builds it: the county, its failure
/// queue and cutover flag from the function's environment, the connection
/// from the URL (parsed as the function parses its secret's text).
pub type LocalLegacySync = legacy_sync::LegacySync<legacy_sync::SqsRejects>;

/// The stream poller's view of legacy-sync (the handler never fails as a
/// whole: a record it could not write is its batch item failure).
pub struct LegacySyncFn(pub Arc<LocalLegacySync>);

impl StreamFunction for LegacySyncFn {
    async fn call(&self, event: DynamoDbEvent) -> Result<DynamoDbEventResponse, FunctionError> {
        Ok(self.0.handle(event).await)
    }
}

/// Builds legacy-sync from the function's environment (`vars`, the stack's
/// with this run's names) and the database URL; with the database it writes
/// to, as `postgres://user@host:port/db` (no password).
pub fn legacy_sync(
    vars: &std::collections::BTreeMap<String, String>,
    url: &str,
    sdk: &aws_config::SdkConfig,
) -> Result<(LocalLegacySync, String)> {
    let get = |k: &'static str| {
        vars.get(k)
            .cloned()
            .ok_or_else(|| LocalError::MissingInTemplate {
                what: format!("{k} on the legacy-sync function"),
                why: "run legacy-sync",
            })
    };
    let target = legacy_sync::secret::parse(url, None)
        .map_err(|e| LocalError::BadInput(format!("--legacy-db (or ACME_LEGACY_URL): {e}")))?;
    let shown = format!("{target:?}");
    let rejects = legacy_sync::SqsRejects::new(
        aws_sdk_sqs::Client::new(sdk),
        get(env::LEGACY_SYNC_DLQ_URL)?,
    );
    let mut sync = legacy_sync::LegacySync::new(get(env::COUNTY_ID)?, target, rejects);
    let flag = order_aws::CutoverFlag::from_lookup(|k| vars.get(k).cloned(), sdk)
        .map_err(|e| LocalError::Invalid(format!("legacy-sync's configuration: {e}")))?;
    if let Some(flag) = flag {
        sync = sync.with_cutover(flag);
    }
    Ok((sync, shown))
}

/// Whether legacy-sync runs, and if not, why (said once at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegacySyncRun {
    /// Writing to this database (`postgres://user@host:port/db`, no password).
    Running(String),
    NotRunning(String),
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_flag_starts_as_the_stack_creates_it_and_is_the_countys_own_when_shared() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
        let travis = CountyStack::load(&dir, "travis-tx").unwrap();
        assert_eq!(initial_mode(&travis).unwrap(), Some(CutoverMode::Legacy));
        let king = CountyStack::load(&dir, "king-wa").unwrap();
        assert_eq!(initial_mode(&king).unwrap(), None);
        assert_eq!(
            flag_parameter("travis-tx", "ab12", true),
            "/acme/travis-tx/migration/mode"
        );
        assert_eq!(
            flag_parameter("travis-tx", "ab12", false),
            "/acme/travis-tx/migration/mode-ab12"
        );
    }
}

//! One stack as CloudFormation describes it: status, tags, deployed template,
//! physical resource ids, outputs and termination protection.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use aws_sdk_cloudformation::types::{Stack, StackStatus};
use serde_json::{Value, json};

use crate::aws::{aws_error, call, is_missing_stack, paginate};
use crate::deployer::Deployer;
use crate::error::DeployError;
use crate::output::Output;

/// The stack's status; `Unknown("")` when CloudFormation sent none.
pub(crate) fn status_of(stack: &Stack) -> StackStatus {
    stack
        .stack_status()
        .cloned()
        .unwrap_or_else(|| StackStatus::from(""))
}

/// The status as CloudFormation spells it, for people and JSON output.
pub(crate) fn status_text(stack: &Stack) -> &str {
    stack.stack_status().map_or("", StackStatus::as_str)
}

/// True once no operation is running on the stack.
pub(crate) fn is_settled(status: &StackStatus) -> bool {
    match status {
        StackStatus::CreateInProgress
        | StackStatus::DeleteInProgress
        | StackStatus::ImportInProgress
        | StackStatus::ImportRollbackInProgress
        | StackStatus::ReviewInProgress
        | StackStatus::RollbackInProgress
        | StackStatus::UpdateCompleteCleanupInProgress
        | StackStatus::UpdateInProgress
        | StackStatus::UpdateRollbackCompleteCleanupInProgress
        | StackStatus::UpdateRollbackInProgress => false,
        StackStatus::CreateComplete
        | StackStatus::CreateFailed
        | StackStatus::DeleteComplete
        | StackStatus::DeleteFailed
        | StackStatus::ImportComplete
        | StackStatus::ImportRollbackComplete
        | StackStatus::ImportRollbackFailed
        | StackStatus::RollbackComplete
        | StackStatus::RollbackFailed
        | StackStatus::UpdateComplete
        | StackStatus::UpdateFailed
        | StackStatus::UpdateRollbackComplete
        | StackStatus::UpdateRollbackFailed => true,
        // A status newer than this SDK: its spelling is all there is to go by.
        other => is_settled_spelling(other.as_str()),
    }
}

/// True for a status whose reason is worth showing: a failure or a rollback.
pub(crate) fn is_failed_or_rolled_back(status: &StackStatus) -> bool {
    match status {
        StackStatus::CreateFailed
        | StackStatus::DeleteFailed
        | StackStatus::ImportRollbackComplete
        | StackStatus::ImportRollbackFailed
        | StackStatus::ImportRollbackInProgress
        | StackStatus::RollbackComplete
        | StackStatus::RollbackFailed
        | StackStatus::RollbackInProgress
        | StackStatus::UpdateFailed
        | StackStatus::UpdateRollbackComplete
        | StackStatus::UpdateRollbackCompleteCleanupInProgress
        | StackStatus::UpdateRollbackFailed
        | StackStatus::UpdateRollbackInProgress => true,
        StackStatus::CreateComplete
        | StackStatus::CreateInProgress
        | StackStatus::DeleteComplete
        | StackStatus::DeleteInProgress
        | StackStatus::ImportComplete
        | StackStatus::ImportInProgress
        | StackStatus::ReviewInProgress
        | StackStatus::UpdateComplete
        | StackStatus::UpdateCompleteCleanupInProgress
        | StackStatus::UpdateInProgress => false,
        other => other.as_str().contains("FAILED") || other.as_str().contains("ROLLBACK"),
    }
}

/// `is_settled` for a status this SDK does not name.
fn is_settled_spelling(status: &str) -> bool {
    !status.is_empty() && !status.ends_with("_IN_PROGRESS")
}

/// The value of one of the stack's tags.
pub(crate) fn tag<'a>(stack: &'a Stack, key: &str) -> Option<&'a str> {
    stack
        .tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

/// The stack's id, or its name when it has none.
fn id_of(stack: &Stack) -> &str {
    stack.stack_id().or(stack.stack_name()).unwrap_or_default()
}

impl Deployer {
    /// `DescribeStacks` for one stack; `None` when it does not exist.
    pub(crate) async fn describe_stack(
        &self,
        name_or_id: &str,
    ) -> Result<Option<Stack>, DeployError> {
        match call(self.pacing(), || {
            self.cfn().describe_stacks().stack_name(name_or_id).send()
        })
        .await
        {
            Ok(out) => Ok(out.stacks().first().cloned()),
            Err(e) if is_missing_stack(&e) => Ok(None),
            Err(e) => Err(aws_error("DescribeStacks", &e)),
        }
    }

    /// Every stack in the account and region, by name.
    pub(crate) async fn list_stacks(&self) -> Result<BTreeMap<String, Stack>, DeployError> {
        let mut by_name = BTreeMap::new();
        paginate(
            self.pacing(),
            |token| self.cfn().describe_stacks().set_next_token(token).send(),
            |page| {
                for s in page.stacks() {
                    if let Some(n) = s.stack_name() {
                        by_name.insert(n.to_string(), s.clone());
                    }
                }
                ControlFlow::Continue(())
            },
        )
        .await
        .map_err(|e| aws_error("DescribeStacks", &e))?;
        Ok(by_name)
    }

    /// The deployed template (`GetTemplate`, original stage), parsed; `None`
    /// when it is not JSON (then only CloudFormation's own verdict is used).
    pub(crate) async fn deployed_template(
        &self,
        stack: &str,
    ) -> Result<Option<Value>, DeployError> {
        let out = call(self.pacing(), || {
            self.cfn().get_template().stack_name(stack).send()
        })
        .await
        .map_err(|e| aws_error("GetTemplate", &e))?;
        Ok(out
            .template_body()
            .and_then(|b| serde_json::from_str(b).ok()))
    }

    /// Logical id → (type, physical id).
    pub(crate) async fn physical_ids(
        &self,
        stack: &str,
    ) -> Result<BTreeMap<String, (String, String)>, DeployError> {
        let mut map = BTreeMap::new();
        paginate(
            self.pacing(),
            |token| {
                let req = self.cfn().list_stack_resources().stack_name(stack);
                req.set_next_token(token).send()
            },
            |page| {
                for r in page.stack_resource_summaries() {
                    if let (Some(l), Some(p)) = (r.logical_resource_id(), r.physical_resource_id())
                    {
                        let ty = r.resource_type().unwrap_or("?").to_string();
                        map.insert(l.to_string(), (ty, p.to_string()));
                    }
                }
                ControlFlow::Continue(())
            },
        )
        .await
        .map_err(|e| aws_error("ListStackResources", &e))?;
        Ok(map)
    }

    /// The stack's outputs. Stacks created through change sets in moto have
    /// none; then outputs whose value is a plain `Ref` are resolved from
    /// `ListStackResources` (a `Ref` is the physical id for every stateful
    /// type we use) and the note says so. That fallback costs a call per
    /// stack, so it runs only when `resolve` (an outputs file was asked for).
    pub(crate) async fn outputs(
        &self,
        stack: &Stack,
        template: &Value,
        resolve: bool,
    ) -> Result<(BTreeMap<String, String>, Option<String>), DeployError> {
        let outputs: BTreeMap<String, String> = stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
            .collect();
        let declared = template.get("Outputs").and_then(Value::as_object);
        let Some(declared) = declared.filter(|d| resolve && !d.is_empty() && outputs.is_empty())
        else {
            return Ok((outputs, None));
        };
        let resources = self.physical_ids(id_of(stack)).await?;
        let (resolved, missing) = resolve_refs(declared, &resources);
        let mut note = format!(
            "CloudFormation returned no Outputs (moto omits them for change-set-created stacks); resolved {} of {} from ListStackResources",
            resolved.len(),
            declared.len()
        );
        if !missing.is_empty() {
            note.push_str(&format!(
                "; unresolved (not a plain Ref): {}",
                missing.join(", ")
            ));
        }
        Ok((resolved, Some(note)))
    }

    /// Sets termination protection when it differs from what the artifact
    /// wants. A failure is a warning: the stack itself is deployed.
    pub(crate) async fn ensure_termination_protection(
        &self,
        stack: &Stack,
        want: bool,
        out: &Output,
    ) -> Result<(), DeployError> {
        if stack.enable_termination_protection().unwrap_or(false) == want {
            return Ok(());
        }
        let id = id_of(stack);
        let name = stack.stack_name().unwrap_or(id);
        let on_off = if want { "on" } else { "off" };
        let done = call(self.pacing(), || {
            self.cfn()
                .update_termination_protection()
                .stack_name(id)
                .enable_termination_protection(want)
                // One attempt: a failure is a warning, and the next deploy
                // (which sees protection still off) tries again.
                .customize()
                .config_override(
                    aws_sdk_cloudformation::config::Builder::default().retry_config(
                        aws_sdk_cloudformation::config::retry::RetryConfig::disabled(),
                    ),
                )
                .send()
        })
        .await;
        match done {
            Ok(_) => out.note(name, &format!("termination protection {on_off}")),
            Err(e) => {
                let e = aws_error("UpdateTerminationProtection", &e);
                warn_protection_unset(name, want, &e, out);
            }
        }
        Ok(())
    }
}

/// Declared outputs resolved from physical ids: (resolved, unresolved keys).
fn resolve_refs(
    declared: &serde_json::Map<String, Value>,
    resources: &BTreeMap<String, (String, String)>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut resolved = BTreeMap::new();
    let mut missing = Vec::new();
    for (key, out) in declared {
        let got = match out.get("Value") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => v
                .get("Ref")
                .and_then(Value::as_str)
                .and_then(|r| resources.get(r))
                .map(|(_, p)| p.clone()),
            None => None,
        };
        match got {
            Some(v) => {
                resolved.insert(key.clone(), v);
            }
            None => missing.push(key.clone()),
        }
    }
    (resolved, missing)
}

/// The stack is deployed: failing the deploy now would report a success as a
/// failure. Say it loudly instead, with the command that finishes the job
/// (the local emulator, for one, does not implement the call).
fn warn_protection_unset(name: &str, want: bool, e: &DeployError, out: &Output) {
    let on_off = if want { "on" } else { "off" };
    let flag = if want { "--enable" } else { "--no-enable" };
    out.emit(
        name,
        "warning",
        &format!(
            "warning: the stack is deployed, but termination protection could not be turned {on_off}: {e}\n  \
             fix: aws cloudformation update-termination-protection {flag}-termination-protection --stack-name {name}"
        ),
        // The state the stack is left in, not the one asked for.
        json!({"termination_protection": !want, "wanted": want, "error": e.to_string()}),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_protection_that_could_not_be_set_is_reported_as_the_state_left() {
        let (out, text) = Output::capture(crate::output::Format::Json);
        let e = DeployError::usage("UpdateTerminationProtection: not implemented");
        warn_protection_unset("acme-x", true, &e, &out);
        let line: Value = serde_json::from_str(text.text().trim()).expect("one JSON line");
        let said = line.to_string();
        assert!(said.contains(r#""termination_protection":false"#), "{said}");
        assert!(said.contains(r#""wanted":true"#), "{said}");
    }

    #[test]
    fn settled_is_decided_for_every_status() {
        for s in StackStatus::values() {
            let status = StackStatus::from(*s);
            assert!(StackStatus::try_parse(s).is_ok(), "{s}");
            assert_eq!(is_settled(&status), !s.ends_with("_IN_PROGRESS"), "{s}");
        }
        assert!(!is_settled(&StackStatus::from("")));
        assert!(!is_settled(&StackStatus::from("NEW_THING_IN_PROGRESS")));
        assert!(is_settled(&StackStatus::from("NEW_THING_COMPLETE")));
    }

    #[test]
    fn failures_and_rollbacks_are_named_for_every_status() {
        for s in StackStatus::values() {
            let troubled = s.contains("FAILED") || s.contains("ROLLBACK");
            assert_eq!(
                is_failed_or_rolled_back(&StackStatus::from(*s)),
                troubled,
                "{s}"
            );
        }
        assert!(!is_failed_or_rolled_back(&StackStatus::from(
            "NOT_DEPLOYED"
        )));
    }
}

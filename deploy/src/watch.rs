//! Watching a stack operation: stream its events with backoff until the stack
//! settles, stop at the deadline or on Ctrl-C; and deleting a stack that way.

use std::ops::ControlFlow;
use std::time::Instant;

use aws_sdk_cloudformation::types::{Stack, StackEvent, StackStatus};
use indicatif::ProgressBar;
use serde_json::json;

use crate::aws::{Backoff, aws_error, call, is_missing_stack, paginate};
use crate::deployer::Deployer;
use crate::error::DeployError;
use crate::events::{Tally, first_failure, is_failure};
use crate::output::Output;
use crate::stack::{is_settled, status_of, status_text};

/// At most ten pages (1,000 events) per poll: more than a county stack emits
/// between two polls.
const EVENT_PAGES_PER_POLL: usize = 10;

/// What a watch has seen so far.
struct Watch {
    bar: ProgressBar,
    tally: Tally,
    seen: Vec<StackEvent>,
    marker: Option<String>,
}

impl Watch {
    /// Shows fresh events (each one when there is no progress bar, failures
    /// always). True when the stack's own event says it settled.
    fn show(&mut self, name: &str, fresh: &[StackEvent], out: &Output) -> bool {
        let mut stack_settled = false;
        for e in fresh {
            if self.tally.record(name, e) {
                self.bar.set_position(self.tally.count());
            }
            let status = e.resource_status().map_or("", |s| s.as_str());
            let id = e.logical_resource_id().unwrap_or("");
            // The stack's own events carry stack statuses (some of which,
            // like the cleanup phases, `ResourceStatus` does not name).
            if id == name && is_settled(&StackStatus::from(status)) {
                stack_settled = true;
            }
            if self.bar.is_hidden() || is_failure(e) {
                emit_event(name, e, out);
            }
        }
        stack_settled
    }
}

fn emit_event(name: &str, e: &StackEvent, out: &Output) {
    let status = e.resource_status().map_or("", |s| s.as_str());
    let id = e.logical_resource_id().unwrap_or("");
    let reason = e.resource_status_reason().unwrap_or("");
    let ty = e.resource_type().unwrap_or("?");
    let sep = if reason.is_empty() { "" } else { "  " };
    let data = json!({"status": status, "logical_id": id, "resource_type": ty, "reason": reason});
    let text = format!("{status:<20} {id} ({ty}){sep}{reason}");
    out.emit(name, "event", &text, data);
}

impl Deployer {
    /// The newest event's id: the marker a watch starts after.
    pub(crate) async fn newest_event_id(
        &self,
        stack_id: &str,
    ) -> Result<Option<String>, DeployError> {
        let page = call(self.pacing(), || {
            self.cfn()
                .describe_stack_events()
                .stack_name(stack_id)
                .send()
        })
        .await
        .map_err(|e| aws_error("DescribeStackEvents", &e))?;
        Ok(page
            .stack_events()
            .first()
            .and_then(|e| e.event_id())
            .map(str::to_string))
    }

    /// Events newer than `marker`, oldest first; advances the marker.
    async fn new_events(
        &self,
        stack_id: &str,
        marker: &mut Option<String>,
    ) -> Result<Vec<StackEvent>, DeployError> {
        let mut fresh = Vec::new();
        let mut pages = 0;
        let walked = paginate(
            self.pacing(),
            |token| {
                let req = self.cfn().describe_stack_events().stack_name(stack_id);
                req.set_next_token(token).send()
            },
            |page| {
                pages += 1;
                for e in page.stack_events() {
                    if marker.is_some() && e.event_id() == marker.as_deref() {
                        return ControlFlow::Break(());
                    }
                    fresh.push(e.clone());
                }
                if pages == EVENT_PAGES_PER_POLL {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        )
        .await;
        match walked {
            Ok(()) => {}
            // Deleted while we watched: the events so far are all there is.
            Err(e) if is_missing_stack(&e) => {}
            Err(e) => return Err(aws_error("DescribeStackEvents", &e)),
        }
        if let Some(newest) = fresh.first().and_then(|e| e.event_id()) {
            *marker = Some(newest.to_string());
        }
        fresh.reverse();
        Ok(fresh)
    }

    /// Streams events until the stack settles. Returns the final stack
    /// (`None` once deleted) and every event seen.
    pub(crate) async fn wait_for_stack(
        &self,
        stack_id: &str,
        name: &str,
        marker: Option<String>,
        total: u64,
        out: &Output,
    ) -> Result<(Option<Stack>, Vec<StackEvent>), DeployError> {
        let mut watch = Watch {
            bar: out.progress(name, total),
            tally: Tally::default(),
            seen: Vec::new(),
            marker,
        };
        let mut backoff = Backoff::new(self.pacing().poll_initial, self.pacing().poll_cap);
        let deadline = Instant::now() + self.pacing().stack_timeout;
        let mut polls = 0u32;
        loop {
            polls += 1;
            let fresh = self.new_events(stack_id, &mut watch.marker).await?;
            let stack_settled = watch.show(name, &fresh, out);
            watch.seen.extend(fresh);
            // Events say when the stack settles; DescribeStacks confirms it.
            // Every fifth poll asks anyway, in case an event page was missed.
            if stack_settled || polls.is_multiple_of(5) {
                let stack = self.describe_stack(stack_id).await?;
                if stack.as_ref().is_none_or(|s| is_settled(&status_of(s))) {
                    watch.bar.finish_and_clear();
                    return Ok((stack, watch.seen));
                }
            }
            if Instant::now() > deadline {
                watch.bar.abandon();
                return Err(self.gave_up_waiting(name, &watch.seen));
            }
            tokio::select! {
                () = backoff.sleep() => {}
                () = self.interrupt().raised() => {
                    watch.bar.abandon();
                    return Err(self.stopped_watching(stack_id, name).await);
                }
            }
        }
    }

    fn gave_up_waiting(&self, name: &str, seen: &[StackEvent]) -> DeployError {
        DeployError::StackFailed {
            stack: name.into(),
            status: format!(
                "still in progress after {:?}; stopped waiting (the operation continues)",
                self.pacing().stack_timeout
            ),
            diagnosis: first_failure(name, seen).map(Box::new),
        }
    }

    /// Ctrl-C while CloudFormation works: stop watching, leave it running.
    async fn stopped_watching(&self, stack_id: &str, name: &str) -> DeployError {
        let status = match self.describe_stack(stack_id).await {
            Ok(Some(s)) => status_text(&s).to_string(),
            Ok(None) => StackStatus::DeleteComplete.as_str().into(),
            Err(_) => "in progress".into(),
        };
        DeployError::Interrupted {
            stack: name.into(),
            state: format!(
                "stopped waiting while the stack was {status}; CloudFormation carries on with the operation"
            ),
            fix: format!(
                "follow it with `acme-infra status` (or the CloudFormation console); to stop an update and roll it back: \
                 `aws cloudformation cancel-update-stack --stack-name {name}`"
            ),
        }
    }

    /// Deletes a stack and waits (used for `ROLLBACK_COMPLETE` recreation and `destroy`).
    /// `resources` sizes the progress bar (0 when unknown).
    pub(crate) async fn delete_and_wait(
        &self,
        stack: &Stack,
        resources: u64,
        out: &Output,
    ) -> Result<(), DeployError> {
        let name = stack.stack_name().unwrap_or("?").to_string();
        let id = stack.stack_id().unwrap_or(&name).to_string();
        if stack.enable_termination_protection() == Some(true) {
            out.note(&name, "turning termination protection off");
            call(self.pacing(), || {
                self.cfn()
                    .update_termination_protection()
                    .stack_name(&id)
                    .enable_termination_protection(false)
                    .send()
            })
            .await
            .map_err(|e| aws_error("UpdateTerminationProtection", &e))?;
        }
        let marker = self.newest_event_id(&id).await?;
        call(self.pacing(), || {
            self.cfn().delete_stack().stack_name(&id).send()
        })
        .await
        .map_err(|e| aws_error("DeleteStack", &e))?;
        let (final_stack, events) = self
            .wait_for_stack(&id, &name, marker, resources, out)
            .await?;
        match final_stack.as_ref().map(status_of) {
            None | Some(StackStatus::DeleteComplete) => Ok(()),
            Some(s) => Err(DeployError::StackFailed {
                stack: name.clone(),
                status: s.as_str().to_string(),
                diagnosis: first_failure(&name, &events).map(Box::new),
            }),
        }
    }
}

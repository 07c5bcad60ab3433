//! Ctrl-C during a deploy.
//!
//! Stopping a deploy half-way must not leave anything behind that someone
//! could execute by accident, and must not pretend CloudFormation stopped when
//! it did not. So the first Ctrl-C asks every county to stop at its next safe
//! point:
//!
//! - a county not yet started is not started;
//! - a change set created but not executed is deleted (nothing changes);
//! - a change set already executing is left to CloudFormation, which carries
//!   on regardless; the deployer stops waiting and says how to follow the
//!   operation or cancel it.
//!
//! A second Ctrl-C exits at once (exit code 130).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// A shared "stop at the next safe point" flag.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    raised: AtomicBool,
    notify: Notify,
}

impl Interrupt {
    /// A flag nobody raises unless [`Interrupt::raise`] is called.
    pub fn new() -> Self {
        Self::default()
    }

    /// A flag raised by the first Ctrl-C; the second exits the process with
    /// [`Exit::Interrupted`](crate::exit::Exit::Interrupted). `announce` is printed on the first one. Must be called
    /// inside a Tokio runtime.
    pub fn on_ctrl_c(announce: &'static str) -> Self {
        let flag = Self::new();
        let raised = flag.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                // No signal handling here: Ctrl-C keeps its default effect.
                return;
            }
            eprintln!("{announce}");
            raised.raise();
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted again: exiting now");
                std::process::exit(i32::from(crate::exit::Exit::Interrupted.code()));
            }
        });
        flag
    }

    /// Asks everyone watching to stop at their next safe point.
    pub fn raise(&self) {
        self.inner.raised.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Has it been raised?
    pub fn is_raised(&self) -> bool {
        self.inner.raised.load(Ordering::SeqCst)
    }

    /// Resolves once raised (at once if it already was).
    pub async fn raised(&self) {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            // Register before checking, so a raise in between is not missed.
            notified.as_mut().enable();
            if self.is_raised() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_on_raise_and_late_waiters_return_at_once() {
        let i = Interrupt::new();
        assert!(!i.is_raised());
        let waiter = tokio::spawn({
            let i = i.clone();
            async move { i.raised().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        i.raise();
        waiter.await.expect("woken");
        assert!(i.is_raised());
        // Already raised: no wait at all.
        i.raised().await;
    }
}

//! Graceful shutdown: one [`Shutdown`] handle per process. The signal
//! listener (or a failing task, or a test) triggers it; every task watches
//! it, finishes its in-flight work and returns.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The signal that asked the process to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: Kubernetes stopping the pod.
    Terminate,
    /// SIGINT: Ctrl-C.
    Interrupt,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Terminate => "SIGTERM",
            Signal::Interrupt => "SIGINT",
        }
    }
}

/// Resolves on the first SIGTERM or SIGINT. A signal that cannot be
/// listened for is logged and left out (the other still works).
pub async fn signal() -> Signal {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops");
                std::future::pending::<()>().await;
            }
        }
    };
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = terminate => Signal::Terminate,
        () = interrupt => Signal::Interrupt,
    }
}

/// The process-wide stop request. Cloning shares it.
#[derive(Clone, Debug)]
pub struct Shutdown {
    sender: Arc<watch::Sender<bool>>,
    /// When it was first triggered: stopping work is bounded from there
    /// (the pod's grace period runs from the signal).
    since: Arc<OnceLock<Instant>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// Not triggered; nothing listens for signals yet.
    pub fn new() -> Self {
        let (sender, _) = watch::channel(false);
        Self {
            sender: Arc::new(sender),
            since: Arc::new(OnceLock::new()),
        }
    }

    /// Triggers on the first SIGTERM or SIGINT (logged with its name).
    /// Must run inside a tokio runtime.
    pub fn on_signals(&self) -> JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let received = signal().await;
            tracing::info!(signal = received.as_str(), "shutting down");
            this.trigger();
        })
    }

    /// Asks every watcher to stop. Idempotent.
    pub fn trigger(&self) {
        self.since.get_or_init(Instant::now);
        self.sender.send_replace(true);
    }

    /// When it was first triggered; `None` while running.
    pub fn since(&self) -> Option<Instant> {
        self.since.get().copied()
    }

    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    /// Resolves once triggered (at once if it already was).
    pub async fn triggered(&self) {
        let mut receiver = self.sender.subscribe();
        // The sender lives as long as `self`: this cannot fail.
        let _ = receiver.wait_for(|stop| *stop).await;
    }

    /// A receiver that turns `true` once triggered, for loops that select
    /// on `changed()`.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_and_receiver_sees_the_trigger() {
        let shutdown = Shutdown::new();
        let receiver = shutdown.subscribe();
        let waiter = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { shutdown.triggered().await }
        });
        assert!(!shutdown.is_triggered());
        assert_eq!(shutdown.since(), None);
        shutdown.clone().trigger();
        let since = shutdown.since().expect("triggered at a time");
        waiter.await.expect("the waiter ends once triggered");
        assert!(*receiver.borrow());
        // Already triggered: resolves at once.
        shutdown.triggered().await;
        shutdown.trigger();
        assert!(shutdown.is_triggered());
        assert_eq!(shutdown.since(), Some(since), "the first trigger counts");
    }
}

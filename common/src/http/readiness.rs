//! The `/readyz` state of a binary.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the binary is ready, shared between the task that decides it
/// and the endpoint server. Cloning shares the state.
#[derive(Clone, Debug)]
pub struct Readiness {
    ready: Arc<AtomicBool>,
    /// Body of a 503 from `/readyz`, saying what the process waits for.
    waiting_for: &'static str,
}

impl Readiness {
    /// Not ready yet; `/readyz` answers 503 with `waiting_for` (one line,
    /// e.g. "waiting for the consumer group assignment").
    pub fn new(waiting_for: &'static str) -> Self {
        Self {
            ready: Arc::new(AtomicBool::new(false)),
            waiting_for,
        }
    }

    pub fn set(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn waiting_for(&self) -> &'static str {
        self.waiting_for
    }

    /// The flag itself, for code that keeps an `AtomicBool`.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.ready)
    }
}

//! The `serving` binary's parts: configuration, the consume → write →
//! commit loop, health, metrics and the offsets probe.

pub mod backoff;
pub mod batch;
pub mod config;
pub mod health;
pub mod kafka;
pub mod metrics;
pub mod probe;
pub mod run;

pub use config::Args;
pub use run::{ServingError, run};

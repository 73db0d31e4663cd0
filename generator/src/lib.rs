//! The purchase-event generator: realistic, reproducible load for the
//! pipelines. See docs/generator.md for the options and the event model.
//!
//! One file per concept: [`catalogue`] (what is sold, to whom; the file
//! format), [`sampling`] (weighted draws, users and their segments),
//! [`event_factory`] (event `n` of a run), [`clock`] (event time),
//! [`malformed`] (broken records), [`rng`] (seeded randomness), [`rate`]
//! (token bucket), [`config`] (flags and environment), [`producer`] (Kafka),
//! [`original`] (the original system's producer dialect), [`metrics`]
//! (observability; the endpoint server is `shopstream-common`'s), [`run`]
//! (the orchestration). The event schema itself is the `purchase-event`
//! crate, shared with the processor.

pub mod catalogue;
pub mod clock;
pub mod config;
pub mod event_factory;
pub mod malformed;
pub mod metrics;
pub mod original;
pub mod producer;
pub mod rate;
pub mod rng;
pub mod run;
pub mod sampling;

pub use config::Args;
pub use run::{Summary, run};

//! The windowed analytics processor. See docs/processor.md for the design.
//!
//! Pure logic (no Kafka): [`window`] (tumbling windows, fixed point),
//! [`agg`] (mergeable aggregates; [`user_id`] their compact, exact user
//! ids), [`partial`] (partials-topic records, split to a bounded size),
//! [`preagg`] (stage 1: parse, anomalies, partial aggregation),
//! [`validate`] (the ranges an event must fall in), [`idleness`] (which
//! input partitions are idle), [`dead_letter`]
//! (bounded dead-letter records), [`routing`] (the pinned partials
//! routing), [`store`] and [`watermark`] and [`merge`] (stage 2: window
//! store, event-time watermark, merge state), [`checkpoint`] (stage 2's
//! bounded commit metadata), [`memory`] (stage 2's memory bound),
//! [`output`] (final records, keys, ranking), [`alert_counts`] and
//! [`alerts`] (the processor's own alerts), [`user_history`] (per-user
//! history across windows), [`simulate`] (the pipeline
//! in memory).
//!
//! Kafka and process: [`config`] (flags and environment), [`kafka`]
//! (client settings and contexts), [`stage1`] (consumer loop) and [`txn`]
//! (its transactional writer), [`stage2`] (and [`history_load`], its
//! read-back of the user histories), [`metrics`],
//! [`http`], [`run`], [`stopping`] (how long each step of stopping may
//! take).

pub mod agg;
pub mod alert_counts;
pub mod alerts;
pub mod checkpoint;
pub mod config;
pub mod dead_letter;
pub mod error;
pub mod history_load;
pub mod idleness;
pub mod kafka;
pub mod memory;
pub mod merge;
pub mod metrics;
pub mod output;
pub mod partial;
pub mod preagg;
pub mod routing;
pub mod run;
pub mod simulate;
pub mod stage1;
pub mod stage2;
pub mod stopping;
pub mod store;
pub mod txn;
pub mod user_history;
pub mod user_id;
pub mod validate;
pub mod watermark;
pub mod window;

pub use config::Args;
pub use error::ProcessorError;
pub use run::run;

//! The windowed analytics processor. See docs/processor.md for the design.
//!
//! Pure logic (no Kafka): [`window`] (tumbling windows, fixed point),
//! [`agg`] (mergeable aggregates; [`user_id`] their compact, exact user
//! ids), [`partial`] (partials-topic records),
//! [`preagg`] (stage 1: parse, anomalies, partial aggregation),
//! [`store`] and [`watermark`] and [`merge`] (stage 2: window store,
//! event-time watermark, merge state), [`output`] (final records, ranking),
//! [`simulate`] (the pipeline in memory).
//!
//! Kafka and process: [`config`] (flags and environment), [`kafka`]
//! (client settings and contexts), [`stage1`] (consumer loop) and [`txn`]
//! (its transactional writer), [`stage2`], [`metrics`],
//! [`http`], [`run`].

pub mod agg;
pub mod config;
pub mod error;
pub mod kafka;
pub mod merge;
pub mod metrics;
pub mod output;
pub mod partial;
pub mod preagg;
pub mod run;
pub mod simulate;
pub mod stage1;
pub mod stage2;
pub mod store;
pub mod txn;
pub mod user_id;
pub mod watermark;
pub mod window;

pub use config::Args;
pub use error::ProcessorError;
pub use run::run;

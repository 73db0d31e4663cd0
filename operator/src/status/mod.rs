//! Step 5 of a reconcile: turn what was observed into conditions and a
//! phase. Pure, so every transition is unit-tested.

mod conditions;
pub mod lag_transitions;
pub mod lag_verdict;
pub mod merge;
mod phase;
mod serving_condition;

pub use conditions::{ConditionBuilder, merge_conditions, ready_false_after_error};
pub use phase::{
    LagObservation, MergeObservation, Observations, ProcessorObservation, TopicsState,
    WorkloadObservation, derive_conditions, derive_phase,
};
pub use serving_condition::{ServingObservation, ServingReadyChange, serving_ready_change};

/// Condition types, as Kubernetes conventions want them: positive polarity.
pub const TOPICS_READY: &str = "TopicsReady";
pub const GENERATOR_READY: &str = "GeneratorReady";
pub const PROCESSOR_READY: &str = "ProcessorReady";
/// Stage 2 of the processor (the merge) makes progress and closes windows
/// normally.
pub const MERGE_READY: &str = "MergeReady";
/// The processor's consumer groups keep up with their topics: lag
/// verdict OK or WARN (False on STALL and STOP).
pub const LAG_HEALTHY: &str = "LagHealthy";
/// The serving component writes the results to Redis (True when serving is
/// disabled, reason `Disabled`).
pub const SERVING_READY: &str = "ServingReady";
pub const READY: &str = "Ready";

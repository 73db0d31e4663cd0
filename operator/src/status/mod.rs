//! Step 5 of a reconcile: turn what was observed into conditions and a
//! phase. Pure, so every transition is unit-tested.

mod conditions;
mod phase;

pub use conditions::{ConditionBuilder, merge_conditions};
pub use phase::{
    Observations, ProcessorObservation, TopicsState, WorkloadObservation, derive_conditions,
    derive_phase,
};

/// Condition types, as Kubernetes conventions want them: positive polarity.
pub const TOPICS_READY: &str = "TopicsReady";
pub const GENERATOR_READY: &str = "GeneratorReady";
pub const PROCESSOR_READY: &str = "ProcessorReady";
pub const READY: &str = "Ready";

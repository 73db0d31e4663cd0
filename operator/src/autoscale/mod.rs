//! Scaling the processor on its consumer lag (`spec.processor.autoscaling`).
//! [`decision`] is the pure logic (what to recommend, how to stabilize);
//! the reconcile feeds it each lag sample and applies what it decides to
//! the processor StatefulSet on its next pass.

pub mod decision;

pub use decision::{Decision, Load, Policy, PositionRate, Stabilizer, Throughput, recommend};

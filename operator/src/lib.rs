//! The shopstream operator: reconciles `AnalyticsPipeline` resources into
//! Kafka topics, a generator and a processor, and reports lag and
//! throughput in their status.
//!
//! A reconcile runs in steps (see [`reconcile`]): validate → topics →
//! workloads → observe → status.

pub mod alerts;
pub mod applied_workloads;
pub mod autoscale;
pub mod context;
pub mod controller;
pub mod crd;
pub mod error;
pub mod kafka;
pub mod kafka_security;
pub mod leader;
pub mod metrics;
pub mod model;
pub mod pipeline_state;
pub mod reconcile;
pub mod refresh_pacer;
pub mod status;
pub mod strimzi_api;
pub mod workloads;
pub mod written_status;

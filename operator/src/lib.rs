//! The shopstream operator: reconciles `AnalyticsPipeline` resources into
//! Kafka topics, a generator and a processor.

pub mod crd;

//! Data plane of shopstream: the purchase-event model shared by the
//! `generator` and `processor` binaries, and the processor's fast readers
//! for it ([`fixed_schema`], [`rfc3339`]).

pub mod analytics;
pub mod event;
pub mod fixed_schema;
pub mod generator;
pub mod http;
pub mod product_id;
pub mod rfc3339;

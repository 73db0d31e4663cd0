//! The windowed analytics processor (the `processor` binary), and its fast
//! readers for the purchase-event schema ([`fixed_schema`], [`rfc3339`]).
//! The schema itself is the `purchase-event` crate, re-exported as
//! [`event`]; the generator is a crate of its own.

pub mod analytics;
pub mod fixed_schema;
pub use kafka_security;
pub mod rfc3339;

pub use purchase_event as event;
pub use purchase_event::product_id;

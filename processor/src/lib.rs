//! Data plane of shopstream: the purchase-event model shared by the
//! `generator` and `processor` binaries.

pub mod analytics;
pub mod event;
pub mod generator;
pub mod http;

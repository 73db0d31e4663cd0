//! What every shopstream binary (operator, processor, generator, and the
//! ones to come) shares, so that each of them does it the same way:
//!
//! - [`http`]: the endpoint server (`/metrics`, `/healthz`, `/readyz` with a
//!   [`http::Readiness`] handle) and a hook for a binary's own routes;
//! - [`shutdown`]: SIGTERM/SIGINT and one [`shutdown::Shutdown`] handle
//!   that every task of a binary watches;
//! - [`logging`]: tracing set-up and the one [`logging::LogFormat`];
//! - [`metrics`]: one registry per binary with its name prefix
//!   (`shopstream_<binary>_`) and unit-suffix checks;
//! - [`contract`]: the environment variables the operator writes into the
//!   workloads' ConfigMaps and pods, and that the binaries read — one
//!   constant per key, used on both sides.

pub mod contract;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod shutdown;

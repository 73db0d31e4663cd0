//! The endpoint server every binary runs: `/metrics` (Prometheus text),
//! `/healthz` (the process is up) and `/readyz` (what "ready" means is the
//! binary's own: see [`Readiness`]). A binary may serve more from the same
//! port through [`Routes`] (a dashboard's pages and JSON API, say); the
//! three built-in paths always win.

mod readiness;
mod response;
mod routes;
mod server;

pub use readiness::Readiness;
pub use response::{Body, json, text};
pub use routes::{NoRoutes, RouteFuture, Routes};
pub use server::{EndpointServer, Endpoints, RenderMetrics};

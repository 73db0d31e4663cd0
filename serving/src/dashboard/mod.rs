//! The live dashboard: one page (`page.html`, plain HTML and JavaScript,
//! nothing fetched from elsewhere) and the JSON API it polls, both read
//! from Redis, so every replica serves the same data.

mod read;
mod routes;
pub mod snapshot;

pub use read::Reader;
pub use routes::DashboardRoutes;

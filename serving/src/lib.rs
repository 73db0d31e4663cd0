//! The serving layer: what a pipeline's results become in Redis (pure
//! logic), and the `serving` binary that writes and shows them.
//!
//! - [`records`]: the processor's output records, as read from its topics.
//! - [`keys`] and [`mapping`]: those records as Redis writes — the original
//!   system's keys and values (its dashboard aggregator's `hourly` and
//!   `top_products` rows, its CLV cache), namespaced by pipeline, plus the
//!   indexes a dashboard needs (rankings as sorted sets, latest windows).
//! - [`original_json`]: values byte for byte as the original wrote them
//!   (`json.dumps(row.asDict(), default=str)`).
//! - [`clv`]: per-user customer lifetime value, the original's rules and a
//!   model on each user's purchase history.
//! - [`writer`]: applies a batch of writes to Redis, atomically and
//!   idempotently.
//! - [`service`]: the `serving` binary: consume the output topics, write,
//!   commit; health, metrics, the offsets probe.
//! - [`dashboard`]: the live page and the JSON API, read from Redis.
//!
//! The contract is documented in `docs/serving.md`.

pub mod clv;
pub mod dashboard;
pub mod keys;
pub mod mapping;
pub mod original_json;
pub mod records;
pub mod service;
pub mod time;
pub mod writer;
pub mod writes;

//! The process: metrics/health endpoints, both stages, shutdown.

use std::sync::Arc;

use shopstream_common::http::{EndpointServer, Endpoints, Readiness};
use shopstream_common::shutdown::Shutdown;

use super::config::Args;
use super::error::{ProcessorError, Result};
use super::metrics::Metrics;
use super::stopping::{HARD_LIMIT, Stopping};
use super::{stage1, stage2};

/// Runs both stages until SIGTERM/SIGINT, then lets each finish its
/// in-flight work, commit and leave its group, within the bounds of
/// `stopping.rs`: after [`HARD_LIMIT`] it returns whatever still runs.
pub async fn run(args: Args) -> Result<()> {
    let args = Arc::new(args);
    args.window_config()?;
    let metrics = Arc::new(Metrics::new()?);
    let readiness = Readiness::new("waiting for the consumer group assignment");
    let http = EndpointServer::bind(args.metrics_addr)
        .await?
        .spawn(Endpoints::new(metrics.clone(), readiness.clone()));

    let shutdown = Shutdown::new();
    let signals = shutdown.on_signals();
    let stopping = Stopping::new(shutdown.clone());
    let mut one = tokio::spawn(stage1::run(
        Arc::clone(&args),
        Arc::clone(&metrics),
        readiness.flag(),
        stopping.clone(),
    ));
    let mut two = tokio::spawn(stage2::run(
        Arc::clone(&args),
        Arc::clone(&metrics),
        stopping.clone(),
    ));

    let joined = |r: std::result::Result<Result<()>, tokio::task::JoinError>| match r {
        Ok(r) => r,
        Err(e) => Err(ProcessorError::Task(e.to_string())),
    };
    let stopped = async {
        tokio::select! {
            () = shutdown.triggered() => {
                let a = joined((&mut one).await);
                let b = joined((&mut two).await);
                a.and(b)
            }
            r = &mut one => {
                shutdown.trigger();
                let b = joined((&mut two).await);
                joined(r).and(b)
            }
            r = &mut two => {
                shutdown.trigger();
                let a = joined((&mut one).await);
                joined(r).and(a)
            }
        }
    };
    let result = tokio::select! {
        r = stopped => r,
        () = stopping.hard_limit_expired() => {
            // Blocked in a Kafka call (an unreachable broker): what is not
            // committed by now is re-read by the next owner.
            tracing::warn!(
                limit_s = HARD_LIMIT.as_secs(),
                stage1_done = one.is_finished(),
                stage2_done = two.is_finished(),
                "stopping: not done within the limit; exiting without waiting further"
            );
            one.abort();
            two.abort();
            if signals.is_finished() {
                Ok(())
            } else {
                // Stopping because a stage failed (its error was in the
                // part given up on): still a failure.
                Err(ProcessorError::StopTimeout(
                    "a stage failed and the other did not stop in time".into(),
                ))
            }
        }
    };
    http.abort();
    signals.abort();
    result
}

//! The process: metrics/health endpoints, both stages, shutdown.

use std::sync::Arc;

use shopstream_common::http::{EndpointServer, Endpoints, Readiness};
use shopstream_common::shutdown::Shutdown;

use super::config::Args;
use super::error::{ProcessorError, Result};
use super::metrics::Metrics;
use super::{stage1, stage2};

/// Runs both stages until SIGTERM/SIGINT, then lets each finish its
/// in-flight work, commit and leave its group.
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
    let mut one = tokio::spawn(stage1::run(
        Arc::clone(&args),
        Arc::clone(&metrics),
        readiness.flag(),
        shutdown.subscribe(),
    ));
    let mut two = tokio::spawn(stage2::run(
        Arc::clone(&args),
        Arc::clone(&metrics),
        shutdown.subscribe(),
    ));

    let joined = |r: std::result::Result<Result<()>, tokio::task::JoinError>| match r {
        Ok(r) => r,
        Err(e) => Err(ProcessorError::Task(e.to_string())),
    };
    let result = tokio::select! {
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
    };
    http.abort();
    signals.abort();
    result
}

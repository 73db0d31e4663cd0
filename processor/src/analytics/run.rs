//! The process: logging, metrics/health endpoints, both stages, signals.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::sync::watch;

use super::config::Args;
use super::error::{ProcessorError, Result};
use super::metrics::Metrics;
use super::{stage1, stage2};
use crate::http::{HttpState, bind, serve};

/// Installs the tracing subscriber: RUST_LOG filters, LOG_FORMAT=json for
/// JSON lines.
pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if format.eq_ignore_ascii_case("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs both stages until SIGTERM/SIGINT, then lets each finish its
/// in-flight work, commit and leave its group.
pub async fn run(args: Args) -> Result<()> {
    let args = Arc::new(args);
    args.window_config()?;
    let metrics = Arc::new(Metrics::new()?);
    let ready = Arc::new(AtomicBool::new(false));
    let (listener, local) = bind(args.metrics_addr).await?;
    tracing::info!(addr = %local, "serving /metrics, /healthz, /readyz");
    let http = tokio::spawn(serve(
        listener,
        Arc::new(HttpState {
            metrics: Arc::clone(&metrics) as Arc<dyn crate::http::RenderMetrics>,
            ready: Arc::clone(&ready),
            waiting_for: "waiting for the consumer group assignment\n",
        }),
    ));

    let (stop, stopped) = watch::channel(false);
    let mut one = tokio::spawn(stage1::run(
        Arc::clone(&args),
        Arc::clone(&metrics),
        ready,
        stopped.clone(),
    ));
    let mut two = tokio::spawn(stage2::run(
        Arc::clone(&args),
        Arc::clone(&metrics),
        stopped,
    ));

    let joined = |r: std::result::Result<Result<()>, tokio::task::JoinError>| match r {
        Ok(r) => r,
        Err(e) => Err(ProcessorError::Task(e.to_string())),
    };
    let result = tokio::select! {
        _ = wait_for_signal() => {
            let _ = stop.send(true);
            let a = joined((&mut one).await);
            let b = joined((&mut two).await);
            a.and(b)
        }
        r = &mut one => {
            let _ = stop.send(true);
            let b = joined((&mut two).await);
            joined(r).and(b)
        }
        r = &mut two => {
            let _ = stop.send(true);
            let a = joined((&mut one).await);
            joined(r).and(a)
        }
    };
    http.abort();
    result
}

//! The shopstream operator binary.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use kube::Client;
use operator::context::{Context, Settings};
use operator::kafka_security::operator_credential::OperatorKafkaArgs;
use operator::leader::LeaderElector;
use operator::metrics::Metrics;
use operator::model::{
    DEFAULT_GENERATOR_IMAGE, DEFAULT_PROCESSOR_IMAGE, DEFAULT_REDIS_IMAGE, DEFAULT_SERVING_IMAGE,
    DefaultImages,
};
use shopstream_common::contract::{operator as env, shared};
use shopstream_common::http::{EndpointServer, Endpoints, Readiness};
use shopstream_common::logging::{self, LogFormat};
use shopstream_common::shutdown::Shutdown;
use tracing::error;

/// Reconciles AnalyticsPipeline resources into Kafka topics, a generator and
/// a processor, and reports lag and throughput in their status.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Namespace to watch; all namespaces when unset.
    #[arg(long, env = env::WATCH_NAMESPACE)]
    namespace: Option<String>,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = shared::METRICS_ADDR, default_value = "0.0.0.0:8080")]
    metrics_addr: SocketAddr,
    /// How often lag and throughput are refreshed, e.g. 15s.
    #[arg(long, env = env::STATUS_INTERVAL, default_value = "15s", value_parser = humantime::parse_duration)]
    status_interval: Duration,
    /// How long the processor's merge stage may make no progress, with
    /// partials waiting, before MergeReady turns False (MergeStalled).
    #[arg(long, env = "MERGE_STALL_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    merge_stall_timeout: Duration,
    /// The window over which lag verdicts (OK, WARN, STALL, STOP) judge
    /// each consumer group's lag samples; a group is STALL or STOP once its
    /// committed offset has not moved for this long with records waiting.
    /// At least a few status intervals.
    #[arg(long, env = "LAG_WINDOW", default_value = "2m", value_parser = humantime::parse_duration)]
    lag_window: Duration,
    /// Generator image for pipelines that do not name one.
    #[arg(long, env = env::GENERATOR_IMAGE, default_value = DEFAULT_GENERATOR_IMAGE)]
    generator_image: String,
    /// Processor image for pipelines that do not name one.
    #[arg(long, env = env::PROCESSOR_IMAGE, default_value = DEFAULT_PROCESSOR_IMAGE)]
    processor_image: String,
    /// Serving image for pipelines that do not name one.
    #[arg(long, env = env::SERVING_IMAGE, default_value = DEFAULT_SERVING_IMAGE)]
    serving_image: String,
    /// Image of the Redis the operator deploys for pipelines with
    /// `spec.serving.redis.managed: true` that do not name one.
    #[arg(long, env = env::REDIS_IMAGE, default_value = DEFAULT_REDIS_IMAGE)]
    redis_image: String,
    /// Elect a leader through a Lease so that several replicas can run.
    #[arg(long, env = env::LEADER_ELECTION, default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Name of the leader-election Lease.
    #[arg(long, env = env::LEASE_NAME, default_value = "shopstream-operator")]
    lease_name: String,
    /// Namespace of the Lease; defaults to the operator's own namespace.
    #[arg(long, env = env::POD_NAMESPACE, default_value = "default")]
    lease_namespace: String,
    /// Pipelines reconciled at the same time (at least 1: zero would mean
    /// unbounded in kube-runtime, which is what this bound exists to avoid).
    #[arg(long, env = env::RECONCILE_CONCURRENCY, default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// How long a Lease stays valid without renewal.
    #[arg(long, env = env::LEASE_DURATION, default_value = "15s", value_parser = humantime::parse_duration)]
    lease_duration: Duration,
    /// The operator's own Kafka credential for secured clusters (files of
    /// a mounted Secret; chart `kafka.operatorCredentials`). Unset: the
    /// operator's admin and lag requests use each pipeline's credential.
    #[command(flatten)]
    operator_kafka: OperatorKafkaArgs,
    /// Log format; filter with RUST_LOG (default info,kube=warn).
    #[arg(long, env = shared::LOG_FORMAT, value_enum, ignore_case = true, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    logging::init(args.log_format, "info,kube=warn");
    match run(args).await {
        Ok(code) => code,
        Err(e) => {
            error!(error = %e, "operator failed");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let client = Client::try_default().await?;
    let metrics = Metrics::new()?;
    let operator_kafka = args.operator_kafka.credential();
    if let Some(credential) = &operator_kafka {
        // Read once now so that a wrong mount fails at start, loudly; the
        // reconciles read the files again (a rotation needs no restart).
        credential
            .load()
            .map_err(|e| anyhow::anyhow!("the operator's own Kafka credential: {e}"))?;
        tracing::info!(
            credential = %credential.describe(),
            "the operator's admin and lag requests to secured clusters use its own Kafka credential"
        );
    }
    let ctx = Arc::new(Context::new(
        client.clone(),
        metrics,
        Settings {
            images: DefaultImages {
                generator: args.generator_image.clone(),
                processor: args.processor_image.clone(),
                serving: args.serving_image.clone(),
                redis: args.redis_image.clone(),
            },
            status_interval: args.status_interval,
            merge_stall_timeout: args.merge_stall_timeout,
            lag_window: args.lag_window,
            concurrency: args.concurrency,
            operator_kafka,
        },
    ));
    let readiness = Readiness::new("not ready");
    let server = EndpointServer::bind(args.metrics_addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot serve metrics on {}: {e}", args.metrics_addr))?;
    let _server = server.spawn(Endpoints::new(
        Arc::new(ctx.metrics.registry.clone()),
        readiness.clone(),
    ));
    readiness.set(true);
    let shutdown = Shutdown::new();
    shutdown.on_signals();

    let identity = std::env::var(shared::POD_NAME)
        .unwrap_or_else(|_| format!("{}-{}", hostname(), std::process::id()));
    if args.leader_election {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let elector = LeaderElector::new(
            client.clone(),
            &args.lease_namespace,
            &args.lease_name,
            &identity,
            args.lease_duration,
        );
        let acquired = tokio::select! {
            acquired = elector.acquire() => acquired,
            () = shutdown.triggered() => return Ok(ExitCode::SUCCESS),
        };
        let controller = tokio::spawn(operator::controller::run(
            client,
            args.namespace,
            ctx,
            args.concurrency,
            async move {
                let _ = stop_rx.await;
            },
        ));
        tokio::select! {
            _ = elector.hold(acquired) => {
                // Another replica may lead once the lease runs out: stop
                // writing now. Aborting drops every reconcile in flight;
                // exiting ends the Kafka clients' threads too, and a
                // graceful shutdown could wait on a request that hangs.
                controller.abort();
                error!("lost leadership; exiting so that a standby can take over");
                std::process::exit(1);
            }
            () = shutdown.triggered() => {}
        }
        let _ = stop_tx.send(());
        let _ = controller.await;
    } else {
        operator::controller::run(client, args.namespace, ctx, args.concurrency, async move {
            shutdown.triggered().await
        })
        .await;
    }
    Ok(ExitCode::SUCCESS)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "operator".into())
}

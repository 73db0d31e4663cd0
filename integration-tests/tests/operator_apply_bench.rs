//! Benchmark (ignored; `make bench-apply`): how long from `kubectl apply`
//! of one new pipeline to phase `Running`, in direct mode, topics and pods
//! included (issue 17: "measure it and bring it under 5 s").
//!
//! The operator (its chart's default status interval, 15 s, unless
//! BENCH_STATUS_INTERVAL says otherwise), the local runner (real generator
//! and processor processes) and the local cluster (kube-controller-manager,
//! scheduler, kwok) run as in `make demo`. Each of BENCH_PIPELINES
//! (default 5) pipelines is applied in turn into a warm operator and timed
//! at three points: `TopicsReady` True, the processor's consumer group
//! having a member (ProcessorReady True), and phase `Running`. The pipeline
//! is deleted before the next. Prints each run and the median and maximum.
//!
//! ```text
//! eval "$(hack/env.sh)"
//! cargo test --release -p integration-tests --test operator_apply_bench -- --ignored --nocapture
//! ```

#[path = "operator_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use kube::Api;
use operator::crd::{AnalyticsPipeline, Phase};
use serde_json::json;
use support::secure::RunnerProcess;
use support::{OperatorProcess, apply_pipeline, condition, kafka_bootstrap, unique};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Debug, Default, Clone, Copy)]
struct Timings {
    topics: Option<Duration>,
    processor: Option<Duration>,
    running: Option<Duration>,
}

fn is_true(p: &AnalyticsPipeline, type_: &str) -> bool {
    matches!(condition(p, type_), Some((s, _, _)) if s == "True")
}

fn seconds(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.2}", d.as_secs_f64()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: make bench-apply"]
async fn apply_to_running() {
    let runs: usize = env_or("BENCH_PIPELINES", 5);
    let interval: String = env_or("BENCH_STATUS_INTERVAL", "15s".to_string());
    let bins = integration_tests::binaries::dir();
    support::local_cluster_up();
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "bench-apply").await;
    let _operator = OperatorProcess::start_with(
        &ns,
        "op-1",
        "shopstream-operator",
        &[("STATUS_INTERVAL", interval.as_str())],
    );
    let _runner = RunnerProcess::start(&bins, &ns);
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);

    let mut all = Vec::new();
    for run in 0..runs {
        let name = unique("apply");
        let started = Instant::now();
        apply_pipeline(
            &client,
            &ns,
            &name,
            json!({
                "kafka": {"bootstrapServers": kafka_bootstrap()},
                "topics": {"input": {"partitions": 3}},
                "generator": {"eventsPerSecond": 100},
                "processor": {"replicas": 1},
                "deletionPolicy": "Delete",
            }),
        )
        .await;
        let mut t = Timings::default();
        while t.running.is_none() && started.elapsed() < Duration::from_secs(120) {
            if let Ok(p) = pipelines.get(&name).await {
                let now = started.elapsed();
                if t.topics.is_none() && is_true(&p, "TopicsReady") {
                    t.topics = Some(now);
                }
                if t.processor.is_none() && is_true(&p, "ProcessorReady") {
                    t.processor = Some(now);
                }
                if p.status.as_ref().and_then(|s| s.phase) == Some(Phase::Running) {
                    t.running = Some(now);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!(
            "run {run}: TopicsReady {} s, ProcessorReady {} s, Running {} s",
            seconds(t.topics),
            seconds(t.processor),
            seconds(t.running)
        );
        all.push(t);
        support::delete_pipeline(
            &pipelines,
            &name,
            "pipeline deleted",
            Duration::from_secs(60),
        )
        .await;
        // The local runner starts nothing while it stops the deleted
        // pipeline's processes (up to its 10 s grace each): without this
        // pause the next run would time the runner, not the operator.
        tokio::time::sleep(Duration::from_secs(12)).await;
    }
    let mut running: Vec<Duration> = all.iter().filter_map(|t| t.running).collect();
    running.sort();
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    let load = load.join(" ");
    println!(
        "RESULT apply -> Running over {runs} pipelines (status interval {interval}): median {} s, \
         max {} s, {} of {runs} reached Running within 120 s; load average {load}",
        seconds(running.get(running.len() / 2).copied()),
        seconds(running.last().copied()),
        running.len(),
    );
    support::delete_namespace(&client, &ns).await;
    assert_eq!(running.len(), runs, "every pipeline reaches Running");
}

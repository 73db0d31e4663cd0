//! Scale benchmark of the operator against the local environment:
//! N pipelines in direct mode with the generator disabled. Measures the time
//! until every pipeline has its topics (TopicsReady) and its processor
//! Deployment, then the operator's steady-state CPU and RSS.
//!
//!   make env-up && eval "$(hack/env.sh)"
//!   cargo bench -p operator --bench scale -- [PIPELINES] [PARTITIONS] [STEADY_SECONDS]
//!
//! Defaults: 1000 pipelines, 1 partition per topic, 60 s of steady state.
//! BENCH_OPERATOR_LOG (a RUST_LOG filter, e.g. `operator=debug`) and
//! BENCH_OPERATOR_LOG_FILE keep the operator's log, whose debug lines give
//! each reconcile's time per step.
//! Results go to stdout, with the operator's own metrics on refreshes
//! (effective interval, applies skipped, mean reconcile time);
//! docs/benchmarks.md records them.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use operator::crd::AnalyticsPipeline;
use serde_json::json;

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .filter(|a| !a.starts_with("--"))
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn proc_stat(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // utime + stime (fields 14 and 15, 0-based 11 and 12 after the name)
    (ticks(11) + ticks(12), rss_kib)
}

/// The operator's /metrics lines that say how refreshes went.
fn refresh_metrics(port: u16) -> Vec<String> {
    use std::io::{Read, Write};
    let mut body = String::new();
    let fetched = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
        s.read_to_string(&mut body)
    });
    if let Err(e) = fetched {
        return vec![format!("(cannot read the operator's metrics: {e})")];
    }
    body.lines()
        .filter(|l| {
            l.starts_with("shopstream_operator_workload_applies_total")
                || l.starts_with("shopstream_operator_status_refresh_interval_seconds")
                || l.starts_with("shopstream_operator_reconcile_duration_seconds_sum")
                || l.starts_with("shopstream_operator_reconcile_duration_seconds_count")
        })
        .map(str::to_string)
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let pipelines = arg(1, 1000);
    let partitions = arg(2, 1);
    let steady = arg(3, 60);
    let bootstrap = std::env::var("SHOPSTREAM_KAFKA_BOOTSTRAP").map_err(|_| {
        anyhow::anyhow!(
            "SHOPSTREAM_KAFKA_BOOTSTRAP not set: run make env-up and eval \"$(hack/env.sh)\""
        )
    })?;
    let client = Client::try_default().await?;

    // The CRD, as `make crds` generates it.
    let crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition =
        serde_yaml::from_str(&operator::crd::crd_yaml()?)?;
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    crds.patch(
        "analyticspipelines.analytics.shopstream.dev",
        &PatchParams::apply("shopstream-bench").force(),
        &Patch::Apply(&crd),
    )
    .await?;
    tokio::time::timeout(
        Duration::from_secs(30),
        kube::runtime::wait::await_condition(
            crds,
            "analyticspipelines.analytics.shopstream.dev",
            kube::runtime::wait::conditions::is_crd_established(),
        ),
    )
    .await??;

    let ns = format!("bench-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}}))?,
        )
        .await?;

    // BENCH_OPERATOR_WRAPPER runs the operator under a profiler, e.g.
    // "heaptrack -o /tmp/operator"; CPU and RSS are then the wrapper's.
    let mut command = match std::env::var("BENCH_OPERATOR_WRAPPER") {
        Ok(wrapper) if !wrapper.trim().is_empty() => {
            let mut parts = wrapper.split_whitespace();
            let mut command = Command::new(parts.next().unwrap_or_default());
            command
                .args(parts)
                .arg(env!("CARGO_BIN_EXE_analytics-operator"));
            command
        }
        _ => Command::new(env!("CARGO_BIN_EXE_analytics-operator")),
    };
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let operator = command
        .env("WATCH_NAMESPACE", &ns)
        .env("POD_NAMESPACE", &ns)
        .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
        .env("STATUS_INTERVAL", "15s")
        .env(
            "RUST_LOG",
            std::env::var("BENCH_OPERATOR_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(match std::env::var_os("BENCH_OPERATOR_LOG_FILE") {
            Some(path) => Stdio::from(std::fs::File::create(path)?),
            None => Stdio::null(),
        })
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    let pid = operator.id();
    // Stops the operator however the benchmark ends: the whole process
    // group, so that a profiler wrapper's child goes too.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.0.id())])
                .status();
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let operator = KillOnDrop(operator);

    let api: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let start = Instant::now();
    stream::iter(0..pipelines)
        .for_each_concurrent(16, |i| {
            let api = api.clone();
            let bootstrap = bootstrap.clone();
            let ns = ns.clone();
            async move {
                let name = format!("p{i:04}");
                let topic = json!({"partitions": partitions});
                let object = json!({
                    "apiVersion": "analytics.shopstream.dev/v1alpha1",
                    "kind": "AnalyticsPipeline",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {
                        "kafka": {"bootstrapServers": bootstrap},
                        "topics": {"input": topic, "sales": topic, "segments": topic, "anomalies": topic,
                                   "hourly": topic, "topProducts": topic, "deadLetter": topic},
                        "generator": {"enabled": false},
                        "deletionPolicy": "Delete",
                    }
                });
                if let Err(e) = api
                    .patch(&name, &PatchParams::apply("shopstream-bench"), &Patch::Apply(&object))
                    .await
                {
                    eprintln!("create {name}: {e}");
                }
            }
        })
        .await;
    let created = start.elapsed();

    // Generators are disabled: the processor StatefulSets are the workloads.
    let deployments: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let mut peak_rss = 0;
    let all_ready = loop {
        let list = api.list(&ListParams::default()).await?;
        let ready = list
            .items
            .iter()
            .filter(|p| {
                p.status.as_ref().is_some_and(|s| {
                    s.conditions
                        .iter()
                        .any(|c| c.type_ == "TopicsReady" && c.status == "True")
                })
            })
            .count() as u64;
        let deployed = deployments
            .list_metadata(&ListParams::default())
            .await?
            .items
            .len() as u64;
        peak_rss = peak_rss.max(proc_stat(pid).1);
        eprintln!(
            "{:>6.1}s  topics ready {ready}/{pipelines}  processors {deployed}/{pipelines}",
            start.elapsed().as_secs_f64()
        );
        if ready == pipelines && deployed >= pipelines {
            break start.elapsed();
        }
        if start.elapsed() > Duration::from_secs(3600) {
            anyhow::bail!("not all pipelines ready after an hour");
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    };

    let ticks_per_second = 100.0; // USER_HZ on Linux
    let (cpu0, _) = proc_stat(pid);
    let t0 = Instant::now();
    let mut steady_rss = 0;
    while t0.elapsed() < Duration::from_secs(steady) {
        tokio::time::sleep(Duration::from_secs(5)).await;
        steady_rss = steady_rss.max(proc_stat(pid).1);
    }
    let (cpu1, _) = proc_stat(pid);
    let cpu = (cpu1 - cpu0) as f64 / ticks_per_second / t0.elapsed().as_secs_f64();

    // Keeping up means every status was refreshed within about two status
    // intervals (15 s); a stale lag reading is what a user would notice.
    let now = k8s_openapi::jiff::Timestamp::now();
    let ages: Vec<f64> = api
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.processor.as_ref())
                .and_then(|s| s.last_updated.as_ref())
                .map_or(f64::INFINITY, |t| now.duration_since(t.0).as_secs_f64())
        })
        .collect();
    let fresh = ages.iter().filter(|a| **a <= 30.0).count();
    let oldest = ages.iter().copied().fold(0.0, f64::max);

    println!(
        "pipelines: {pipelines} (8 topics x {partitions} partition(s) each, generator disabled)"
    );
    println!("created (API writes) in {:.1}s", created.as_secs_f64());
    println!(
        "all topics + deployments ready after {:.1}s",
        all_ready.as_secs_f64()
    );
    println!(
        "steady state over {steady}s: {:.1}% of one core, RSS {} MiB (peak during provisioning {} MiB)",
        cpu * 100.0,
        steady_rss / 1024,
        peak_rss.max(steady_rss) / 1024
    );

    println!("status freshness: {fresh}/{pipelines} refreshed within 30s, oldest {oldest:.0}s");
    for line in refresh_metrics(metrics_port) {
        println!("operator metric: {line}");
    }

    // Clean up: deleting the pipelines deletes their topics.
    let _ = api
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await;
    let deadline = Instant::now() + Duration::from_secs(600);
    while Instant::now() < deadline
        && !api
            .list_metadata(&ListParams::default())
            .await?
            .items
            .is_empty()
    {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    drop(operator);
    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
    Ok(())
}

//! The Docker-free `make demo` path end to end: the local cluster
//! (hack/local/up.sh: kube-controller-manager, kube-scheduler and kwok's
//! simulated nodes on the test API server), the operator binary, and the local
//! runner running the operator's workloads (the real `generator` and
//! `processor` binaries) against the local Kafka. Asserts what `make demo`
//! shows: phase Running, events/s > 0, lag bounded or shrinking; the live
//! dashboard of the serving component (real Redis, real headless Chromium)
//! showing the sales topic's numbers; and that the runner follows the
//! workloads (scale-up, deletion).
//!
//! Needs the workspace's binaries (`cargo build --workspace`, which
//! hack/test.sh runs first); a missing one fails the test and names it.

#[path = "operator_support/mod.rs"]
mod support;

mod browser;
#[path = "local_demo_support/dashboard.rs"]
mod dashboard;
mod processor_support;
mod redis_env;

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::api::DeleteParams;
use kube::{Api, Client};
use operator::crd::{AnalyticsPipeline, Phase, ProcessorStatus};
use serde_json::json;
use support::secure::{RunnerProcess, log_dir};
use support::{OperatorProcess, apply_pipeline, kafka_bootstrap, unique, wait_until};

/// Lag bound at 5 events/s with the operator's 2 s status interval: a
/// processor that keeps up commits every few seconds, so its lag stays at a
/// few dozen records; one that does not passes this within a minute.
const LAG_BOUND: i64 = 200;

/// Where the workspace's binaries are: $SHOPSTREAM_BIN_DIR, else the ones
/// this test builds (`integration_tests::binaries`).
fn bin_dir() -> PathBuf {
    std::env::var_os("SHOPSTREAM_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(integration_tests::binaries::dir)
}

fn require_binary(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: the local demo test runs the workspace's binaries. They are built \
         by the test itself (`cargo build --workspace --bins`), or SHOPSTREAM_BIN_DIR points at them.",
        path.display()
    );
    path
}

fn pipeline_spec(processor_replicas: i32) -> serde_json::Value {
    // examples/pipeline.yaml, with the test environment's Kafka and Redis.
    json!({
        "kafka": {"bootstrapServers": kafka_bootstrap()},
        "topics": {"input": {"partitions": 3, "replicationFactor": 1}},
        "generator": {"enabled": true, "eventsPerSecond": 5},
        "processor": {
            "replicas": processor_replicas,
            "salesWindowSeconds": 60,
            "allowedLatenessSeconds": 10,
            "anomalyThreshold": 50000
        },
        "serving": {"enabled": true, "redis": {"address": redis_env::Instance::Open.addr()}},
        "deletionPolicy": "Delete",
    })
}

/// The desired and ready replicas of a Deployment or StatefulSet.
trait Replicas {
    fn replicas(&self) -> (Option<i32>, Option<i32>);
}

impl Replicas for Deployment {
    fn replicas(&self) -> (Option<i32>, Option<i32>) {
        (
            self.spec.as_ref().and_then(|s| s.replicas),
            self.status.as_ref().and_then(|s| s.ready_replicas),
        )
    }
}

impl Replicas for StatefulSet {
    fn replicas(&self) -> (Option<i32>, Option<i32>) {
        (
            self.spec.as_ref().and_then(|s| s.replicas),
            self.status.as_ref().and_then(|s| s.ready_replicas),
        )
    }
}

/// Waits until the workload's Pods (on kwok's simulated nodes) are all
/// ready, as kube-controller-manager reports them.
async fn wait_workload_ready<K>(client: &Client, ns: &str, name: &str, replicas: i32)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Replicas,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    wait_until(
        &format!("{name} with {replicas} ready pods"),
        Duration::from_secs(90),
        || async {
            let d = api
                .get_opt(name)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("{name} missing"))?;
            let (spec, ready) = d.replicas();
            if spec == Some(replicas) && ready == Some(replicas) {
                Ok(())
            } else {
                Err(format!(
                    "spec.replicas {spec:?}, status.readyReplicas {ready:?}"
                ))
            }
        },
    )
    .await;
}

fn processor_status(p: &AnalyticsPipeline) -> Option<&ProcessorStatus> {
    p.status.as_ref()?.processor.as_ref()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_demo_runs_the_pipeline_with_live_lag_and_throughput() {
    let bins = bin_dir();
    require_binary(&bins, "local-runner");
    require_binary(&bins, "processor");
    require_binary(&bins, "generator");
    require_binary(&bins, "serving");
    support::local_cluster_up();

    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "local-demo").await;
    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let runner = RunnerProcess::start(&bins, &ns);
    let name = unique("demo");
    apply_pipeline(&client, &ns, &name, pipeline_spec(1)).await;
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);

    // Pods scheduled onto the simulated nodes and Ready: the controller-manager,
    // scheduler and kwok did their part.
    wait_workload_ready::<Deployment>(&client, &ns, &format!("{name}-generator"), 1).await;
    wait_workload_ready::<StatefulSet>(&client, &ns, &format!("{name}-processor"), 1).await;

    let running = wait_until("phase Running", Duration::from_secs(180), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        match p.status.as_ref().and_then(|s| s.phase.as_ref()) {
            Some(Phase::Running) => Ok(p),
            _ => Err(format!(
                "{:?}\nlocal runner log:\n{}",
                p.status,
                runner.log_text()
            )),
        }
    })
    .await;
    assert!(running.status.is_some());

    // The runner started the real binaries, each with its own log.
    for workload in ["generator", "processor"] {
        let log = log_dir()
            .join("local-runner")
            .join(format!("{ns}.{name}-{workload}-0.log"));
        assert!(
            log.is_file(),
            "the runner did not start {workload}: {} missing; runner log:\n{}",
            log.display(),
            runner.log_text()
        );
    }

    // Events flow: the operator measures a positive input rate from offsets.
    wait_until("input events/s > 0", Duration::from_secs(120), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        match processor_status(&p).and_then(|s| s.input_events_per_second) {
            Some(rate) if rate > 0.0 => Ok(rate),
            _ => Err(format!("{:?}", p.status)),
        }
    })
    .await;

    // Lag is live and the processor keeps up: two observations 10 s apart,
    // the status refreshed in between, the lag bounded or shrinking.
    let lag_of = |p: &AnalyticsPipeline| {
        let s = processor_status(p);
        (
            s.and_then(|s| s.total_lag),
            s.and_then(|s| s.last_updated.clone()),
        )
    };
    let (first_lag, first_time) = wait_until("a measured lag", Duration::from_secs(60), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        match lag_of(&p) {
            (Some(lag), time) => Ok((lag, time)),
            _ => Err(format!("{:?}", p.status)),
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let p = pipelines.get(&name).await.expect("pipeline");
    let (second_lag, second_time) = lag_of(&p);
    let second_lag = second_lag.expect("lag still reported");
    assert_ne!(
        first_time, second_time,
        "the status was not refreshed within 10 s: {:?}",
        p.status
    );
    assert!(
        second_lag <= LAG_BOUND || second_lag < first_lag,
        "lag neither bounded (<= {LAG_BOUND}) nor shrinking: {first_lag} then {second_lag}; status {:?}",
        p.status
    );
    let rate = processor_status(&p)
        .and_then(|s| s.input_events_per_second)
        .unwrap_or_default();
    assert!(
        rate > 0.0,
        "input events/s dropped to {rate}: {:?}",
        p.status
    );

    // The dashboard `make demo` prints: the serving process the runner
    // started, showing the sales topic's numbers once a window closed
    // (60 s windows, 10 s allowed lateness).
    let url = dashboard::wait_dashboard(|| runner.log_text(), &ns, &name).await;
    let sales_topic = p
        .status
        .as_ref()
        .and_then(|s| s.topics.iter().find(|t| t.role == "sales"))
        .map(|t| t.name.clone())
        .expect("the status names the sales topic");
    dashboard::check_against_topic(
        &url,
        &sales_topic,
        &browser::artifacts_dir("local_demo"),
        Duration::from_secs(240),
    )
    .await;

    // The status says serving writes: ServingReady, and a write rate and
    // lag measured from the serving group's commits.
    wait_until(
        "status.serving with writes/s > 0 and ServingReady True",
        Duration::from_secs(120),
        || async {
            let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
            let status = p.status.as_ref().ok_or("no status")?;
            let serving = status.serving.as_ref().ok_or("no status.serving")?;
            let condition = status
                .conditions
                .iter()
                .find(|c| c.type_ == "ServingReady")
                .ok_or("no ServingReady condition")?;
            match (serving.writes_per_second, serving.lag) {
                (Some(rate), Some(_)) if rate > 0.0 && condition.status == "True" => Ok(()),
                _ => Err(format!("{serving:?}; {condition:?}")),
            }
        },
    )
    .await;

    // Scale-up: a second processor Pod, and a second local process.
    apply_pipeline(&client, &ns, &name, pipeline_spec(2)).await;
    wait_workload_ready::<StatefulSet>(&client, &ns, &format!("{name}-processor"), 2).await;
    let second = log_dir()
        .join("local-runner")
        .join(format!("{ns}.{name}-processor-1.log"));
    wait_until(
        "the runner's second processor",
        Duration::from_secs(30),
        || async {
            if second.is_file() {
                Ok(())
            } else {
                Err(runner.log_text())
            }
        },
    )
    .await;

    // Deletion: the operator's workloads go, and the runner stops their
    // processes.
    pipelines
        .delete(&name, &DeleteParams::default())
        .await
        .expect("delete pipeline");
    wait_until("pipeline deleted", Duration::from_secs(90), || async {
        match pipelines.get_opt(&name).await {
            Ok(None) => Ok(()),
            Ok(Some(p)) => Err(format!("still there: {:?}", p.status)),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
    wait_until(
        "the runner stopping the deleted workloads' processes",
        Duration::from_secs(60),
        || async {
            let text = runner.log_text();
            // "stopped" after SIGTERM, "killing" after the grace period,
            // "removed" for one waiting to be restarted.
            let stopping = text.matches("its Deployment is gone").count()
                + text.matches("its StatefulSet is gone").count();
            let ended = text.matches("stopped").count()
                + text.matches("killing").count()
                + text.matches("removed (not running)").count();
            if stopping >= 3 && ended >= 3 {
                Ok(())
            } else {
                Err(text)
            }
        },
    )
    .await;
    support::delete_namespace(&client, &ns).await;
}

//! `spec.serving.redis.managed: true` on the Docker-free local stack: the
//! operator renders the managed Redis's StatefulSet and Service (server-side
//! apply against the real API server), kube-controller-manager creates its
//! claim and pod, and the local runner runs it as a host `redis-server`
//! (Debian's) on a loopback port of its own, its data under the run dir,
//! and points the serving process at it. Asserts that the pipeline's
//! results end up in that Redis, that it requires the password of the
//! pipeline's Secret, that its append-only file is on the claim's
//! directory, and that `ServingReady`'s changes are Events.
//!
//! Needs the workspace's binaries (`cargo build --workspace --bins`) and
//! `redis-server` on the PATH (hack/redis/up.sh, run by hack/env-up.sh,
//! installs it).

#[path = "operator_support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, PersistentVolume, PersistentVolumeSpec, Secret,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::{Api, Client};
use operator::crd::AnalyticsPipeline;
use serde_json::json;
use support::local_cluster_up;
use support::secure::{RunnerProcess, log_dir};
use support::{OperatorProcess, apply_pipeline, kafka_bootstrap, unique, wait_until};

/// Where the workspace's binaries are: $SHOPSTREAM_BIN_DIR, else the ones
/// this test builds (`integration_tests::binaries`).
fn bin_dir() -> PathBuf {
    std::env::var_os("SHOPSTREAM_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(integration_tests::binaries::dir)
}

fn require_binary(dir: &Path, name: &str) {
    assert!(
        dir.join(name).is_file(),
        "{} is missing: this test runs the workspace's binaries (`cargo build --workspace \
         --bins`, or SHOPSTREAM_BIN_DIR pointing at them)",
        dir.join(name).display()
    );
}

const PASSWORD: &str = "managed-redis-test-password-0123456789";

/// The loopback port the runner gave the managed Redis, from its log.
fn redis_port(runner_log: &str, ns: &str, pipeline: &str) -> Option<u16> {
    let workload = format!("workload=StatefulSet {ns}/{pipeline}-redis ");
    runner_log
        .lines()
        .filter(|line| line.contains(&workload) && line.contains("loopback port"))
        .find_map(|line| {
            let (_, rest) = line.split_once("local=127.0.0.1:")?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
}

/// No dynamic provisioner runs in the local cluster: a PersistentVolume of
/// the pipeline's storage class binds its claim, so that the scheduler
/// places the pod (kwok runs nothing in it; the runner does).
async fn volume_for(client: &Client, class: &str) -> String {
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let name = class.to_string();
    pvs.create(
        &PostParams::default(),
        &PersistentVolume {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeSpec {
                capacity: Some(BTreeMap::from([("storage".into(), Quantity("1Gi".into()))])),
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                storage_class_name: Some(class.into()),
                persistent_volume_reclaim_policy: Some("Retain".into()),
                host_path: Some(HostPathVolumeSource {
                    path: format!("/nonexistent/{class}"),
                    type_: None,
                }),
                ..PersistentVolumeSpec::default()
            }),
            ..PersistentVolume::default()
        },
    )
    .await
    .expect("create the PersistentVolume");
    name
}

async fn connect(
    port: u16,
    password: Option<&str>,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let url = match password {
        Some(p) => format!("redis://:{p}@127.0.0.1:{port}/"),
        None => format!("redis://127.0.0.1:{port}/"),
    };
    redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_redis_runs_locally_and_serving_writes_into_it() {
    let bins = bin_dir();
    for binary in ["local-runner", "processor", "generator", "serving"] {
        require_binary(&bins, binary);
    }
    assert!(
        std::process::Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "redis-server is not on the PATH: hack/redis/up.sh (hack/env-up.sh) installs Debian's"
    );
    local_cluster_up();

    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "managed-redis").await;
    let name = unique("mr");
    let class = format!("shopstream-test-{ns}");
    let pv = volume_for(&client, &class).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    secrets
        .create(
            &PostParams::default(),
            &Secret {
                metadata: ObjectMeta {
                    name: Some("redis-auth".into()),
                    ..ObjectMeta::default()
                },
                string_data: Some(BTreeMap::from([("password".into(), PASSWORD.into())])),
                ..Secret::default()
            },
        )
        .await
        .expect("create the password Secret");

    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let runner = RunnerProcess::start(&bins, &ns);
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({
            "kafka": {"bootstrapServers": kafka_bootstrap()},
            "topics": {"input": {"partitions": 1, "replicationFactor": 1}},
            "generator": {"enabled": true, "eventsPerSecond": 20},
            "processor": {"replicas": 1, "salesWindowSeconds": 5, "allowedLatenessSeconds": 0},
            "serving": {"redis": {
                "managed": true,
                "passwordSecret": {"name": "redis-auth"},
                "storage": {"size": "1Gi", "storageClassName": class},
            }},
            "deletionPolicy": "Delete",
        }),
    )
    .await;
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);

    // The runner runs the StatefulSet as redis-server on a port of its own.
    let port = wait_until(
        "the runner's managed Redis",
        Duration::from_secs(90),
        || async { redis_port(&runner.log_text(), &ns, &name).ok_or_else(|| runner.log_text()) },
    )
    .await;

    // It requires the Secret's password: the argument reached redis-server
    // expanded, and only there.
    let mut redis = wait_until(
        "Redis answering with the password",
        Duration::from_secs(60),
        || async {
            connect(port, Some(PASSWORD))
                .await
                .map_err(|e| format!("{e}\n{}", runner.log_text()))
        },
    )
    .await;
    let refused: redis::RedisResult<String> = match connect(port, None).await {
        Ok(mut open) => redis::cmd("GET").arg("x").query_async(&mut open).await,
        Err(e) => Err(e),
    };
    let refused = refused.expect_err("Redis answered a client without the password");
    assert!(
        refused.to_string().contains("NOAUTH") || refused.to_string().contains("Authentication"),
        "{refused}"
    );
    assert!(
        !runner.log_text().contains(PASSWORD),
        "the runner logged the password"
    );

    // Serving writes the pipeline's results into it.
    let prefix = format!("shopstream:{ns}:{name}:");
    let keys: Vec<String> = wait_until(
        "the pipeline's keys in the managed Redis",
        Duration::from_secs(240),
        || {
            let mut redis = redis.clone();
            let prefix = prefix.clone();
            async move {
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(format!("{prefix}*"))
                    .query_async(&mut redis)
                    .await
                    .map_err(|e| e.to_string())?;
                if keys
                    .iter()
                    .any(|k| k.starts_with(&format!("{prefix}sales:")))
                {
                    Ok(keys)
                } else {
                    Err(format!("keys so far: {keys:?}"))
                }
            }
        },
    )
    .await;
    let ttl: i64 = redis::cmd("TTL")
        .arg(&keys[0])
        .query_async(&mut redis)
        .await
        .expect("TTL");
    assert!(ttl > 0, "{} has no TTL ({ttl})", keys[0]);

    // Its append-only file is in the claim's directory under the run dir.
    let data = log_dir()
        .join("local-runner")
        .join("volumes")
        .join(format!("{ns}.{name}-redis-0"))
        .join("data");
    let aof = data.join("appendonlydir");
    assert!(
        aof.is_dir(),
        "no AOF in {}: {:?}",
        data.display(),
        std::fs::read_dir(&data).map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );

    // The status: ServingReady once the Redis pod and serving are ready,
    // the address, the Redis's pods; and the change was an Event.
    wait_until("ServingReady True", Duration::from_secs(120), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        let serving = p
            .status
            .as_ref()
            .and_then(|s| s.serving.clone())
            .ok_or("no status.serving")?;
        let ready = support::condition(&p, "ServingReady");
        match &ready {
            Some((status, _, _))
                if status == "True"
                    && serving.redis_address == format!("{name}-redis.{ns}.svc:6379")
                    && serving.managed_redis_replicas.as_deref() == Some("1/1") =>
            {
                Ok(())
            }
            _ => Err(format!("{ready:?} {serving:?}")),
        }
    })
    .await;
    wait_until("a ServingReady Event", Duration::from_secs(30), || async {
        match support::event_count(&ns, "ServingReady") {
            0 => Err(support::kubectl(&["get", "events", "-n", &ns])),
            n => Ok(n),
        }
    })
    .await;

    // Deleting the pipeline stops the managed Redis.
    support::delete_pipeline(
        &pipelines,
        &name,
        "pipeline deleted",
        Duration::from_secs(90),
    )
    .await;
    wait_until(
        "the managed Redis stopped",
        Duration::from_secs(60),
        || async {
            match connect(port, Some(PASSWORD)).await {
                Err(_) => Ok(()),
                Ok(_) => Err(runner.log_text()),
            }
        },
    )
    .await;
    drop(runner);
    support::delete_namespace(&client, &ns).await;
    let _ = Api::<PersistentVolume>::all(client.clone())
        .delete(&pv, &DeleteParams::default())
        .await;
}

//! Processor restarts and crash loops as alerts, against the real API
//! server and broker. This API server runs no kubelet, so the test writes
//! what a kubelet would: a processor pod with the pipeline's labels, whose
//! status it patches (restart count, last termination, CrashLoopBackOff).
//! The operator (listing pods by label, `pods: list` only) raises a
//! `ProcessorRestarting` Event and a `processor_restarts` record on the
//! pipeline's alerts topic once the restarts within the window reach
//! `spec.alerts.processorRestarts`, and a `ProcessorCrashLooping` Event and
//! a `processor_crash_loop` record for CrashLoopBackOff. Restarts from
//! before it first saw the pod raise nothing.

#[path = "operator_support/mod.rs"]
mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, ServiceAccount};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use operator::crd::AnalyticsPipeline;
use serde_json::json;
use support::kafka::{delete_topics, read_alerts};
use support::{OperatorProcess, apply_pipeline, kafka_bootstrap, unique, wait_until};

fn container_status(restarts: i32, waiting: Option<&str>) -> serde_json::Value {
    let state = match waiting {
        Some(reason) => {
            json!({"waiting": {"reason": reason, "message": "back-off restarting failed container"}})
        }
        None => json!({"running": {"startedAt": "2026-11-30T00:00:00Z"}}),
    };
    let mut status = json!({
        "name": "processor",
        "image": "shopstream/processor:test",
        "imageID": "",
        "ready": waiting.is_none(),
        "restartCount": restarts,
        "state": state,
    });
    if restarts > 0 {
        status["lastState"] = json!({"terminated": {
            "exitCode": 137, "reason": "OOMKilled",
            "startedAt": "2026-11-30T00:00:00Z", "finishedAt": "2026-11-30T00:00:01Z"
        }});
    }
    json!({"status": {"phase": "Running", "containerStatuses": [status]}})
}

async fn set_status(pods: &Api<Pod>, pod: &str, restarts: i32, waiting: Option<&str>) {
    pods.patch_status(
        pod,
        &PatchParams::default(),
        &Patch::Merge(&container_status(restarts, waiting)),
    )
    .await
    .unwrap_or_else(|e| panic!("patching {pod}'s status: {e}"));
}

async fn wait_for_alert(topic: &str, type_: &str) -> serde_json::Value {
    wait_until(
        &format!("a {type_} alert on {topic}"),
        Duration::from_secs(60),
        || async {
            let alerts = read_alerts(topic);
            alerts
                .iter()
                .find(|a| a["type"] == type_)
                .cloned()
                .ok_or_else(|| format!("{alerts:?}"))
        },
    )
    .await
}

async fn wait_for_event(ns: &str, reason: &str) {
    wait_until(
        &format!("a {reason} Event"),
        Duration::from_secs(60),
        || async {
            match support::event_count(ns, reason) {
                0 => Err("no Event yet".to_string()),
                _ => Ok(()),
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_restarts_and_crash_loops_raise_events_and_alerts() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-restarts").await;
    // The ServiceAccount admission plugin wants the pod's ServiceAccount.
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &ns);
    let _ = accounts
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "default"}})).expect("sa"),
        )
        .await;
    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let name = unique("shop");
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({
            "kafka": {"bootstrapServers": kafka_bootstrap()},
            "generator": {"enabled": false},
            "processor": {"replicas": 1},
            "alerts": {"processorRestarts": 2, "processorRestartWindowSeconds": 60},
            "deletionPolicy": "Delete",
        }),
    )
    .await;
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let alerts_topic = format!("{ns}.{name}.alerts");

    // What the StatefulSet controller and the kubelet would make. Where the
    // local demo stack runs (kube-controller-manager and kwok, started by
    // local_demo earlier in `make test`), the real StatefulSet controller
    // would adopt an orphan pod of the selector's labels and replace it, and
    // kwok would overwrite its status: the pod has a controller of its own
    // (a ConfigMap, so nothing adopts it) and a node selector no node
    // matches (so it is never scheduled), and its status is the test's.
    let owners: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let owner = owners
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": format!("{name}-pod-owner")}}))
                .expect("configmap"),
        )
        .await
        .expect("create the pod's owner");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = format!("{name}-processor-0");
    let manifest: Pod = serde_json::from_value(json!({
        "metadata": {"name": pod, "labels": {
            "app.kubernetes.io/instance": name,
            "app.kubernetes.io/component": "processor",
            "app.kubernetes.io/name": "shopstream-processor",
        }, "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": owner.metadata.name,
            "uid": owner.metadata.uid, "controller": true,
        }]},
        "spec": {"automountServiceAccountToken": false,
                 "nodeSelector": {"shopstream.dev/test-only": "no-such-node"},
                 "containers": [
            {"name": "processor", "image": "shopstream/processor:test"}
        ]},
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &manifest)
        .await
        .expect("create the processor pod");
    // Five restarts before the operator looks: the baseline, no alert.
    set_status(&pods, &pod, 5, None).await;
    wait_until(
        "the pipeline's topics and a status refresh",
        Duration::from_secs(60),
        || async {
            let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
            p.status
                .and_then(|s| s.processor)
                .and_then(|s| s.total_lag)
                .map(|_| ())
                .ok_or_else(|| "no lag yet".to_string())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(support::event_count(&ns, "ProcessorRestarting"), 0);
    assert!(
        read_alerts(&alerts_topic)
            .iter()
            .all(|a| a["type"] != "processor_restarts"),
        "old restarts raised an alert"
    );

    // One more restart: below the threshold of 2.
    set_status(&pods, &pod, 6, None).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(support::event_count(&ns, "ProcessorRestarting"), 0);

    // A second one within the window: raised.
    set_status(&pods, &pod, 7, None).await;
    wait_for_event(&ns, "ProcessorRestarting").await;
    let alert = wait_for_alert(&alerts_topic, "processor_restarts").await;
    assert_eq!(alert["severity"], "warning");
    assert_eq!(alert["pipeline"], format!("{ns}/{name}"));
    let message = alert["message"].as_str().expect("message");
    assert_eq!(
        message,
        format!(
            "processor pod {pod} restarted 2 times within 60 s (threshold 2), last terminated: OOMKilled"
        )
    );

    // Crash loop.
    set_status(&pods, &pod, 8, Some("CrashLoopBackOff")).await;
    wait_for_event(&ns, "ProcessorCrashLooping").await;
    let alert = wait_for_alert(&alerts_topic, "processor_crash_loop").await;
    assert_eq!(alert["severity"], "critical");
    assert!(
        alert["message"]
            .as_str()
            .is_some_and(|m| m.contains("CrashLoopBackOff after 8 restarts")),
        "{alert}"
    );
    let restarts = read_alerts(&alerts_topic)
        .iter()
        .filter(|a| a["type"] == "processor_restarts")
        .count();
    assert_eq!(restarts, 1, "one alert per episode, not one per refresh");

    let _ = pods.delete(&pod, &Default::default()).await;
    support::delete_pipeline(
        &pipelines,
        &name,
        "pipeline deleted",
        Duration::from_secs(60),
    )
    .await;
    delete_topics(&support::default_topic_names(&ns, &name)).await;
    support::delete_namespace(&client, &ns).await;
}

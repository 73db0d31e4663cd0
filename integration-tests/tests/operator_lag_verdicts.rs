//! Lag verdicts, their Events and the alerts topic, against the real API
//! server and broker. The test stands in for the processor with consumer
//! group members of its own: one that consumes and commits (OK), none at
//! all while records arrive (STOP), one that stays in the group without
//! committing (STALL). With a 6 s lag window each verdict shows within
//! seconds: in the status and the Verdict column, as the LagHealthy
//! condition and the phase, as an Event and as a record on
//! `<namespace>.<pipeline>.alerts` in the original's `system-alerts` format.
//! Also: `kubectl scale` through the scale subresource.

#[path = "operator_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::Api;
use kube::api::{Patch, PatchParams};
use operator::crd::{AnalyticsPipeline, LagVerdict, Phase};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::json;
use support::kafka::{GroupMember, delete_topics, produce, read_alerts};
use support::{OperatorProcess, apply_pipeline, condition, kafka_bootstrap, unique, wait_until};

/// A member of `group` that polls (so it stays in the group) but never
/// commits: a stuck processor.
struct StuckMember {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StuckMember {
    fn join(group: &str, topic: &str) -> Self {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", kafka_bootstrap())
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                let _ = consumer.poll(Duration::from_millis(200));
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for StuckMember {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn verdict(p: &AnalyticsPipeline) -> Option<LagVerdict> {
    p.status.as_ref()?.processor.as_ref()?.lag_verdict
}

async fn mark_ready(client: &kube::Client, ns: &str, name: &str) {
    // Stands in for kube-controller-manager, which this API server runs without.
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let status = json!({"status": {"replicas": 1, "readyReplicas": 1}});
    wait_until(
        "the processor StatefulSet",
        Duration::from_secs(60),
        || async {
            api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
                .await
                .map_err(|e| e.to_string())
        },
    )
    .await;
}

async fn wait_for_verdict(
    api: &Api<AnalyticsPipeline>,
    name: &str,
    want: LagVerdict,
    phase: Phase,
) -> AnalyticsPipeline {
    wait_until(
        &format!("lag verdict {want:?}, phase {phase:?}"),
        Duration::from_secs(60),
        || async {
            let p = api.get(name).await.map_err(|e| e.to_string())?;
            let s = p.status.clone().unwrap_or_default();
            if verdict(&p) == Some(want) && s.phase == Some(phase) {
                Ok(p)
            } else {
                Err(format!(
                    "phase {:?}, verdicts {:?}",
                    s.phase,
                    s.processor.map(|p| p.lag_verdicts)
                ))
            }
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_and_stuck_consumers_get_verdicts_events_and_alerts() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-lag").await;
    let _operator =
        OperatorProcess::start_with(&ns, "op-1", "shopstream-operator", &[("LAG_WINDOW", "6s")]);
    let name = unique("shop");
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({
            "kafka": {"bootstrapServers": kafka_bootstrap()},
            "generator": {"enabled": false},
            "processor": {"replicas": 1},
            "deletionPolicy": "Delete",
        }),
    )
    .await;
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let input = format!("{ns}.{name}.input");
    let alerts_topic = format!("{ns}.{name}.alerts");
    let group = format!("shopstream.{ns}.{name}");

    // A consuming processor: OK, Running, no alert.
    mark_ready(&client, &ns, &format!("{name}-processor")).await;
    let mut member = GroupMember::join(&group, &input);
    wait_for_verdict(&pipelines, &name, LagVerdict::Ok, Phase::Running).await;
    produce(&input, 30);
    let p = wait_until(
        "the 30 records consumed",
        Duration::from_secs(60),
        || async {
            let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
            let processor = p.status.as_ref().and_then(|s| s.processor.as_ref());
            let lag = processor.and_then(|s| s.total_lag);
            // Lag 0 alone may be a status sampled before the records were
            // produced: the member must have committed all 30 too (else it
            // leaves with some of them unconsumed, and the STOP below counts
            // more than 20).
            let committed: i64 = processor
                .map(|s| {
                    s.partition_lag
                        .iter()
                        .filter_map(|l| l.committed_offset)
                        .sum()
                })
                .unwrap_or(0);
            if lag == Some(0) && committed == 30 && verdict(&p) == Some(LagVerdict::Ok) {
                Ok(p)
            } else {
                Err(format!("{:?}", p.status))
            }
        },
    )
    .await;
    let groups: Vec<String> = p
        .status
        .as_ref()
        .and_then(|s| s.processor.as_ref())
        .map(|s| s.lag_verdicts.iter().map(|v| v.group.clone()).collect())
        .unwrap_or_default();
    assert_eq!(groups, [group.clone(), format!("{group}-merge")]);
    assert_eq!(
        condition(&p, "LagHealthy").map(|c| (c.0, c.1)),
        Some(("True".into(), "LagOK".into()))
    );

    // The processor stops while records keep arriving: STOP, Degraded.
    member.leave();
    produce(&input, 20);
    wait_for_verdict(&pipelines, &name, LagVerdict::Stop, Phase::Degraded).await;
    // The first STOP may name only the partitions whose records arrived a
    // sample earlier than the rest; once the others have waited a whole
    // window too, the message counts all 20.
    let p = wait_until(
        "STOP naming all 20 waiting records",
        Duration::from_secs(30),
        || async {
            let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
            match condition(&p, "LagHealthy") {
                Some((_, _, m)) if m.contains("20 records waited") => Ok(p),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    let (status, reason, message) = condition(&p, "LagHealthy").expect("LagHealthy");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "ConsumerStopped")
    );
    assert!(message.contains("no active member"), "{message}");
    // Ready names the first False condition: the processor has no members.
    assert_eq!(
        condition(&p, "Ready").map(|c| (c.0, c.1)),
        Some(("False".to_string(), "NoActiveConsumers".to_string()))
    );
    let listed = support::kubectl(&["get", "analyticspipelines", "-n", &ns, &name]);
    assert!(
        listed.lines().next().is_some_and(|h| h.contains("VERDICT")) && listed.contains("STOP"),
        "{listed}"
    );
    wait_until(
        "a ConsumerStopped Event",
        Duration::from_secs(30),
        || async {
            match support::event_count(&ns, "ConsumerStopped") {
                0 => Err("no Event yet".to_string()),
                _ => Ok(()),
            }
        },
    )
    .await;

    // It comes back and catches up: OK again, at once.
    let mut member = GroupMember::join(&group, &input);
    wait_for_verdict(&pipelines, &name, LagVerdict::Ok, Phase::Running).await;
    member.leave();
    wait_until("the group empty", Duration::from_secs(60), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        match condition(&p, "ProcessorReady") {
            Some((_, r, _)) if r == "NoActiveConsumers" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    // A member that stays but never commits, records waiting: STALL.
    let stuck = StuckMember::join(&group, &input);
    wait_until(
        "the stuck member in the group",
        Duration::from_secs(60),
        || async {
            let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
            match condition(&p, "ProcessorReady") {
                Some((s, _, _)) if s == "True" => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    produce(&input, 5);
    let p = wait_for_verdict(&pipelines, &name, LagVerdict::Stall, Phase::Degraded).await;
    assert_eq!(
        condition(&p, "LagHealthy").map(|c| c.1),
        Some("LagStalled".to_string())
    );
    // The processor looks fine (a member, ready pods): the lag says why not.
    assert_eq!(
        condition(&p, "Ready").map(|c| c.1),
        Some("LagStalled".to_string())
    );
    drop(stuck);

    // Each change is an alert, in order, in the original's format.
    let alerts = wait_until(
        "alerts lag_stop, lag_ok, lag_stall",
        Duration::from_secs(30),
        || async {
            let alerts = read_alerts(&alerts_topic);
            let types: Vec<&str> = alerts.iter().filter_map(|a| a["type"].as_str()).collect();
            // (Once the stuck member is gone, STALL turns into STOP.)
            if types.starts_with(&["lag_stop", "lag_ok", "lag_stall"]) {
                Ok(alerts.clone())
            } else {
                Err(format!("{alerts:?}"))
            }
        },
    )
    .await;
    let stop = &alerts[0];
    let keys: Vec<&str> = stop
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys.iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        ["message", "pipeline", "severity", "timestamp", "type"].into()
    );
    assert_eq!(stop["severity"], "critical");
    assert_eq!(alerts[1]["severity"], "info");
    assert_eq!(stop["pipeline"], format!("{ns}/{name}"));
    let message = stop["message"].as_str().expect("message");
    assert!(
        message.starts_with(&format!(
            "consumer group {group} on topic {input}: OK → STOP: "
        )),
        "{message}"
    );
    let timestamp = stop["timestamp"].as_str().expect("timestamp");
    chrono::NaiveDateTime::parse_from_str(timestamp, "%Y-%m-%dT%H:%M:%S%.6f")
        .unwrap_or_else(|e| panic!("{timestamp} is not Python's utcnow().isoformat(): {e}"));

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_scale_sets_the_processor_replicas() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-scale").await;
    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let name = unique("shop");
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({
            "kafka": {"bootstrapServers": kafka_bootstrap()},
            "generator": {"enabled": false},
            "deletionPolicy": "Delete",
        }),
    )
    .await;
    let resource = format!("analyticspipeline/{name}");
    support::kubectl(&["scale", &resource, "-n", &ns, "--replicas=3"]);
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    wait_until(
        "the processor StatefulSet at 3 replicas",
        Duration::from_secs(60),
        || async {
            let s = statefulsets
                .get(&format!("{name}-processor"))
                .await
                .map_err(|e| e.to_string())?;
            match s.spec.and_then(|s| s.replicas) {
                Some(3) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    // The scale subresource reads back what it set, and the selector.
    let scale = support::kubectl(&[
        "get",
        &resource,
        "-n",
        &ns,
        "--subresource=scale",
        "-o",
        "jsonpath={.spec.replicas} {.status.selector}",
    ]);
    assert!(scale.starts_with("3 "), "{scale}");
    wait_until(
        "the selector in the status",
        Duration::from_secs(30),
        || async {
            let scale = support::kubectl(&[
                "get",
                &resource,
                "-n",
                &ns,
                "--subresource=scale",
                "-o",
                "jsonpath={.status.selector}",
            ]);
            if scale.contains(&format!("app.kubernetes.io/instance={name}"))
                && scale.contains("app.kubernetes.io/component=processor")
            {
                Ok(())
            } else {
                Err(scale)
            }
        },
    )
    .await;

    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
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

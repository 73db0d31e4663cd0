//! The processor autoscaler against the real API server and broker: a
//! backlog on one partition cannot use more than one replica; a backlog
//! over every partition scales the processor StatefulSet up to the
//! partitions; once a consumer (a stand-in group member) drains it, the
//! StatefulSet goes back down after the down stabilization window. Each
//! decision is in `status.processor.autoscaling` with its reason, and each
//! change is a `ScaledUp` or `ScaledDown` Event.

#[path = "operator_support/mod.rs"]
mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::Api;
use operator::crd::{AnalyticsPipeline, AutoscalingStatus};
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use serde_json::json;
use support::kafka::{GroupMember, delete_topics, produce};
use support::{OperatorProcess, apply_pipeline, kafka_bootstrap, unique, wait_until};

fn produce_to_partition(topic: &str, partition: i32, count: usize) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .expect("producer");
    for _ in 0..count {
        producer
            .send(
                BaseRecord::<(), _>::to(topic)
                    .partition(partition)
                    .payload("{}"),
            )
            .map_err(|(e, _)| e)
            .expect("enqueue record");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
}

fn autoscaling(p: &AnalyticsPipeline) -> Option<AutoscalingStatus> {
    p.status.as_ref()?.processor.as_ref()?.autoscaling.clone()
}

async fn wait_for_replicas(
    pipelines: &Api<AnalyticsPipeline>,
    statefulsets: &Api<StatefulSet>,
    name: &str,
    want: i32,
) -> AutoscalingStatus {
    wait_until(
        &format!("the processor at {want} replicas"),
        Duration::from_secs(90),
        || async {
            let s = statefulsets
                .get(&format!("{name}-processor"))
                .await
                .map_err(|e| e.to_string())?;
            let p = pipelines.get(name).await.map_err(|e| e.to_string())?;
            let replicas = s.spec.and_then(|s| s.replicas);
            match autoscaling(&p) {
                Some(a) if replicas == Some(want) && a.desired_replicas == want => Ok(a),
                other => Err(format!("StatefulSet {replicas:?}, autoscaling {other:?}")),
            }
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_scales_the_processor_up_within_lagging_partitions_and_back_down() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-autoscale").await;
    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let name = unique("shop");
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({
            "kafka": {"bootstrapServers": kafka_bootstrap()},
            "topics": {"input": {"partitions": 4}},
            "generator": {"enabled": false},
            "processor": {"replicas": 1, "autoscaling": {
                "minReplicas": 1, "maxReplicas": 8, "targetLagPerReplica": 10,
                "scaleUpStabilizationSeconds": 0, "scaleDownStabilizationSeconds": 4,
            }},
            "deletionPolicy": "Delete",
        }),
    )
    .await;
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let input = format!("{ns}.{name}.input");
    let group = format!("shopstream.{ns}.{name}");
    wait_for_replicas(&pipelines, &statefulsets, &name, 1).await;

    // 100 records on one partition ask for 10 replicas, but only one
    // partition has lag: one replica is all that can help.
    produce_to_partition(&input, 0, 100);
    wait_until(
        "the cap at the lagging partitions",
        Duration::from_secs(60),
        || async {
            let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
            match autoscaling(&p) {
                Some(a) if a.reason.contains("capped at 1 (1 partitions have lag") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    let s = statefulsets
        .get(&format!("{name}-processor"))
        .await
        .expect("StatefulSet");
    assert_eq!(s.spec.and_then(|s| s.replicas), Some(1));

    // A backlog over every partition: up to the 4 input partitions (the
    // spec's maximum of 8 is capped by them).
    produce(&input, 200);
    let up = wait_for_replicas(&pipelines, &statefulsets, &name, 4).await;
    assert!(up.reason.contains("capped at 4"), "{}", up.reason);
    assert!(up.last_scale_time.is_some());
    assert!(support::event_count(&ns, "ScaledUp") >= 1);

    // Drained by a consumer: back to the minimum after the down window.
    let mut member = GroupMember::join(&group, &input);
    let down = wait_for_replicas(&pipelines, &statefulsets, &name, 1).await;
    assert!(down.last_scale_time > up.last_scale_time);
    // The reason moves on with each refresh; the Event keeps the decision's.
    // The down window holds the highest recommendation of its 4 s, so with
    // refreshes close together the count may come down
    // in steps (4 → 3 → 1): the last step is the one that reaches 1.
    wait_until("a ScaledDown Event", Duration::from_secs(30), || async {
        let events = support::kubectl(&[
            "get",
            "events",
            "-n",
            &ns,
            "--field-selector",
            "reason=ScaledDown",
            "-o",
            "jsonpath={.items[*].message}",
        ]);
        if events.contains(" to 1 replicas: lag 0 records") {
            Ok(())
        } else {
            Err(events)
        }
    })
    .await;
    member.leave();

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

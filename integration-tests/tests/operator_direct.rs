//! The operator binary in direct mode against the real API server and the
//! real Kafka broker: topics, owned workloads, measured lag and throughput,
//! conditions and phase, partition growth, conflicts, deletion policies and
//! an unreachable Kafka.

#[path = "operator_support/mod.rs"]
mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use operator::crd::AnalyticsPipeline;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use serde_json::json;
use support::kafka::{GroupMember, admin, partitions};
use support::{
    OperatorProcess, apply_pipeline, condition, kafka_bootstrap, kubectl, unique, wait_until,
};

fn produce(topic: &str, count: usize) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .expect("producer");
    for i in 0..count {
        let key = format!("user_{i}");
        producer
            .send(BaseRecord::to(topic).key(&key).payload("{}"))
            .map_err(|(e, _)| e)
            .expect("enqueue record");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
}

fn summary(p: &AnalyticsPipeline) -> String {
    format!("{:?}", p.status)
}

async fn mark_ready<K>(client: &Client, ns: &str, workload: &str, ready: i32)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    // Stands in for kube-controller-manager, which this API server runs without.
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let status =
        json!({"status": {"replicas": ready, "readyReplicas": ready, "availableReplicas": ready}});
    api.patch_status(workload, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("workload status patched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisions_topics_workloads_and_reports_lag_and_throughput() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-direct").await;
    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let name = unique("shop");
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({
            "kafka": {"bootstrapServers": kafka_bootstrap()},
            "topics": {"input": {"partitions": 3, "config": {"retention.ms": "3600000"}}},
            "generator": {"eventsPerSecond": 5},
            "processor": {"replicas": 1},
            "deletionPolicy": "Delete",
        }),
    )
    .await;
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);

    // Topics, with the spec's partitions and config.
    let names = support::default_topic_names(&ns, &name);
    wait_until("all topics in Kafka", Duration::from_secs(60), || async {
        let found = partitions(&names).await;
        // Every topic has the spec's 3 partitions but the alerts topic,
        // which has 1 so that alerts stay in order.
        let want: Vec<i32> = support::TOPIC_ROLES
            .iter()
            .map(|role| if *role == "alerts" { 1 } else { 3 })
            .collect();
        if found == want {
            Ok(())
        } else {
            Err(format!("{found:?}"))
        }
    })
    .await;
    let configs = admin()
        .describe_configs([&ResourceSpecifier::Topic(&names[0])], &AdminOptions::new())
        .await
        .expect("describe configs");
    let retention = configs[0]
        .as_ref()
        .expect("config resource")
        .get("retention.ms")
        .and_then(|e| e.value.clone());
    assert_eq!(retention.as_deref(), Some("3600000"));
    // The user-history topic keeps one record per user: compacted.
    let history = names.last().expect("the user-history topic");
    assert!(history.ends_with(".user-history"), "{history}");
    let configs = admin()
        .describe_configs([&ResourceSpecifier::Topic(history)], &AdminOptions::new())
        .await
        .expect("describe configs");
    let policy = configs[0]
        .as_ref()
        .expect("config resource")
        .get("cleanup.policy")
        .and_then(|e| e.value.clone());
    assert_eq!(policy.as_deref(), Some("compact"));

    // Owned workloads, pointing back at the pipeline.
    let pipeline = pipelines.get(&name).await.expect("pipeline");
    let uid = pipeline.uid().expect("uid");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let processor = format!("{name}-processor");
    let sts = wait_until(
        "the processor StatefulSet",
        Duration::from_secs(30),
        || async {
            statefulsets
                .get_opt(&processor)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("{processor} missing"))
        },
    )
    .await;
    let generator = format!("{name}-generator");
    let d = wait_until(
        "the generator Deployment",
        Duration::from_secs(30),
        || async {
            deployments
                .get_opt(&generator)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("{generator} missing"))
        },
    )
    .await;
    assert!(
        deployments
            .get_opt(&processor)
            .await
            .expect("get")
            .is_none(),
        "the processor runs as a StatefulSet only"
    );
    let pods = [
        (
            sts.owner_references()[0].uid.clone(),
            sts.spec.map(|s| s.template),
        ),
        (
            d.owner_references()[0].uid.clone(),
            d.spec.map(|s| s.template),
        ),
    ];
    for (owner, template) in pods {
        assert_eq!(owner, uid);
        let pod = template.and_then(|t| t.spec).expect("pod spec");
        let security = pod.containers[0]
            .security_context
            .clone()
            .expect("security context");
        assert_eq!(security.read_only_root_filesystem, Some(true));
        assert_eq!(security.run_as_non_root, Some(true));
    }
    let config: ConfigMap = Api::namespaced(client.clone(), &ns)
        .get(&format!("{name}-config"))
        .await
        .expect("config map");
    assert_eq!(config.owner_references()[0].uid, uid);
    let data = config.data.expect("config data");
    assert_eq!(data["PROCESSOR_INPUT_TOPIC"], names[0]);
    assert_eq!(data["GENERATOR_EVENTS_PER_SECOND"], "5");
    assert_eq!(data["GENERATOR_SCHEMA"], "shopstream");
    let service: Service = Api::namespaced(client.clone(), &ns)
        .get(&format!("{name}-metrics"))
        .await
        .expect("metrics service");
    assert_eq!(service.owner_references()[0].uid, uid);

    // Nothing consumes yet: topics ready, processor not, lag = backlog.
    produce(&names[0], 120);
    let p = wait_until(
        "lag of the whole backlog",
        Duration::from_secs(30),
        || async {
            let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
            let lag = p
                .status
                .as_ref()
                .and_then(|s| s.processor.as_ref())
                .and_then(|s| s.total_lag);
            if lag == Some(120) {
                Ok(p)
            } else {
                Err(summary(&p))
            }
        },
    )
    .await;
    let status = p.status.clone().expect("status");
    assert_eq!(status.phase, Some(operator::crd::Phase::Provisioning));
    assert_eq!(condition(&p, "TopicsReady").expect("TopicsReady").0, "True");
    // Without a consumer the processor is never ready: either its pods are
    // not ready (no kube-controller-manager) or the group has no members
    // (the local stack runs simulated pods).
    let processor_ready = condition(&p, "ProcessorReady").expect("ProcessorReady");
    assert_eq!(processor_ready.0, "False");
    assert!(
        ["ReplicasNotReady", "NoActiveConsumers"].contains(&processor_ready.1.as_str()),
        "{processor_ready:?}"
    );
    let processor = status.processor.expect("processor status");
    assert_eq!(processor.partition_lag.len(), 3);
    assert!(
        processor
            .partition_lag
            .iter()
            .all(|l| l.committed_offset.is_none())
    );
    assert!(processor.lag_seconds.is_some_and(|s| s >= 0.0));
    assert_eq!(status.observed_generation, p.metadata.generation);

    // The processor comes up and consumes: Running, lag 0.
    mark_ready::<StatefulSet>(&client, &ns, &format!("{name}-processor"), 1).await;
    mark_ready::<Deployment>(&client, &ns, &format!("{name}-generator"), 1).await;
    let group = processor.consumer_group.expect("consumer group");
    let mut member = GroupMember::join(&group, &names[0]);
    wait_until("Running with lag 0", Duration::from_secs(60), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        let s = p.status.clone().unwrap_or_default();
        let lag = s.processor.as_ref().and_then(|s| s.total_lag);
        if s.phase == Some(operator::crd::Phase::Running) && lag == Some(0) {
            Ok(())
        } else {
            Err(summary(&p))
        }
    })
    .await;

    // Throughput from offset deltas while events keep arriving.
    let topic = names[0].clone();
    let producing = tokio::task::spawn_blocking(move || {
        for _ in 0..10 {
            produce(&topic, 50);
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    wait_until("input events/s > 0", Duration::from_secs(30), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        let rate = p
            .status
            .as_ref()
            .and_then(|s| s.processor.as_ref())
            .and_then(|s| s.input_events_per_second);
        if rate.is_some_and(|r| r > 0.0) {
            Ok(())
        } else {
            Err(summary(&p))
        }
    })
    .await;
    producing.await.expect("producer task");
    let table = kubectl(&["get", "analyticspipelines", "-n", &ns]);
    assert!(table.contains("Running"), "{table}");

    // The processor stops: the group empties, the pipeline degrades, and an
    // Event says so. (A refresh whose Kafka requests time out on a loaded
    // machine is also Degraded, with reason LagUnknown; the test waits for
    // the reason the stopped processor must lead to.)
    member.leave();
    produce(&names[0], 30);
    wait_until(
        "Degraded with NoActiveConsumers and the new records as lag after the processor stops",
        Duration::from_secs(60),
        || async {
            let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
            let s = p.status.clone().unwrap_or_default();
            let reason = condition(&p, "ProcessorReady").map(|c| (c.0, c.1));
            // The first Degraded status may come from offsets sampled
            // before the 30 records landed.
            let lag = s.processor.as_ref().and_then(|s| s.total_lag).unwrap_or(0);
            if s.phase == Some(operator::crd::Phase::Degraded)
                && reason == Some(("False".into(), "NoActiveConsumers".into()))
                && lag >= 30
            {
                Ok(())
            } else {
                Err(summary(&p))
            }
        },
    )
    .await;
    let events = kubectl(&[
        "get",
        "events",
        "-n",
        &ns,
        "-o",
        "custom-columns=REASON:.reason,NOTE:.note,MESSAGE:.message",
    ]);
    assert!(events.contains("Degraded"), "{events}");
    assert!(events.contains("TopicsProvisioned"), "{events}");

    // Partitions grow in Kafka when the spec grows, and config changes
    // reach the existing topic.
    let grown = json!({
        "kafka": {"bootstrapServers": kafka_bootstrap()},
        "topics": {"input": {"partitions": 5, "config": {"retention.ms": "7200000"}}},
        "generator": {"eventsPerSecond": 5},
        "processor": {"replicas": 1},
        "deletionPolicy": "Delete",
    });
    apply_pipeline(&client, &ns, &name, grown).await;
    wait_until(
        "input topic with 5 partitions",
        Duration::from_secs(30),
        || async {
            let found = partitions(&names[..1]).await;
            if found == [5] {
                Ok(())
            } else {
                Err(format!("{found:?}"))
            }
        },
    )
    .await;
    wait_until(
        "input topic retention updated",
        Duration::from_secs(30),
        || async {
            let configs = admin()
                .describe_configs([&ResourceSpecifier::Topic(&names[0])], &AdminOptions::new())
                .await
                .map_err(|e| e.to_string())?;
            let retention = configs[0]
                .as_ref()
                .map_err(|e| e.to_string())?
                .get("retention.ms")
                .and_then(|e| e.value.clone());
            if retention.as_deref() == Some("7200000") {
                Ok(())
            } else {
                Err(format!("{retention:?}"))
            }
        },
    )
    .await;

    // deletionPolicy Delete removes the topics from Kafka.
    support::delete_pipeline(&pipelines, &name, "pipeline gone", Duration::from_secs(60)).await;
    wait_until("topics deleted", Duration::from_secs(60), || async {
        let found = partitions(&names).await;
        if found.iter().all(|p| *p == 0) {
            Ok(())
        } else {
            Err(format!("{found:?}"))
        }
    })
    .await;
    support::delete_namespace(&client, &ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_topics_are_not_touched_and_retain_keeps_topics() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-conflict").await;
    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let name = unique("shop");
    let names = support::default_topic_names(&ns, &name);

    // Someone else's topic, with a different partition count, is in the way.
    let foreign = NewTopic::new(&names[1], 6, TopicReplication::Fixed(1));
    for result in admin()
        .create_topics([&foreign], &AdminOptions::new())
        .await
        .expect("create foreign topic")
    {
        result.expect("foreign topic created");
    }

    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({"kafka": {"bootstrapServers": kafka_bootstrap()}, "deletionPolicy": "Retain"}),
    )
    .await;
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let p = wait_until("TopicConflict", Duration::from_secs(60), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        match condition(&p, "TopicsReady") {
            Some((status, reason, _)) if status == "False" && reason == "TopicConflict" => Ok(p),
            _ => Err(summary(&p)),
        }
    })
    .await;
    let (_, _, message) = condition(&p, "TopicsReady").expect("TopicsReady");
    assert!(
        message.contains("was not created by this pipeline"),
        "{message}"
    );
    assert_eq!(
        p.status.as_ref().and_then(|s| s.phase),
        Some(operator::crd::Phase::Degraded)
    );
    assert_eq!(
        partitions(&names[1..2]).await,
        [6],
        "the foreign topic is untouched"
    );
    assert_eq!(
        partitions(&names[..1]).await,
        [3],
        "the other topics are provisioned"
    );

    // Retain: deleting the pipeline leaves every topic in Kafka.
    support::delete_pipeline(&pipelines, &name, "pipeline gone", Duration::from_secs(30)).await;
    assert_eq!(
        partitions(&names[..1]).await,
        [3],
        "Retain keeps the topics"
    );
    let _ = admin()
        .delete_topics(
            &names.iter().map(String::as_str).collect::<Vec<_>>(),
            &AdminOptions::new(),
        )
        .await;
    support::delete_namespace(&client, &ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_kafka_is_reported_and_deletion_still_completes() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-outage").await;
    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let name = unique("shop");
    let names = support::default_topic_names(&ns, &name);
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);

    let spec = |bootstrap: &str| {
        json!({"kafka": {"bootstrapServers": bootstrap}, "deletionPolicy": "Delete",
               "generator": {"enabled": false}})
    };
    apply_pipeline(&client, &ns, &name, spec(&kafka_bootstrap())).await;
    wait_until("topics ready", Duration::from_secs(60), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        match condition(&p, "TopicsReady") {
            Some((status, _, _)) if status == "True" => Ok(()),
            _ => Err(summary(&p)),
        }
    })
    .await;

    // Point the pipeline at a port where no broker listens.
    apply_pipeline(&client, &ns, &name, spec("127.0.0.1:1")).await;
    let p = wait_until("KafkaUnreachable", Duration::from_secs(90), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        match condition(&p, "TopicsReady") {
            Some((status, reason, _)) if status == "False" && reason == "KafkaUnreachable" => Ok(p),
            _ => Err(summary(&p)),
        }
    })
    .await;
    let status = p.status.expect("status");
    assert_ne!(status.phase, Some(operator::crd::Phase::Running));
    assert!(
        status.topics.iter().all(|t| !t.ready),
        "{:?}",
        status.topics
    );
    assert_eq!(condition_of(&status, "Ready").0, "False");

    // Several reconciles fail before the deletion; the deletion still gets
    // its own three attempts.
    wait_until(
        "three failed reconciles",
        Duration::from_secs(120),
        || async {
            let failures = support::event_count(&ns, "KafkaUnavailable");
            if failures >= 3 {
                Ok(())
            } else {
                Err(format!("{failures} KafkaUnavailable events"))
            }
        },
    )
    .await;

    // Deletion gives up on the unreachable cluster after bounded retries.
    support::delete_pipeline(
        &pipelines,
        &name,
        "pipeline gone despite Kafka",
        Duration::from_secs(120),
    )
    .await;
    let events = kubectl(&[
        "get",
        "events",
        "-n",
        &ns,
        "-o",
        "custom-columns=REASON:.reason,NOTE:.note,MESSAGE:.message",
    ]);
    assert!(
        events
            .lines()
            .any(|l| l.starts_with("TopicDeletionAbandoned")
                && l.contains("gave up after 3 attempts")),
        "{events}"
    );
    let _ = admin()
        .delete_topics(
            &names.iter().map(String::as_str).collect::<Vec<_>>(),
            &AdminOptions::new(),
        )
        .await;
    support::delete_namespace(&client, &ns).await;
}

fn condition_of(status: &operator::crd::AnalyticsPipelineStatus, type_: &str) -> (String, String) {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
        .unwrap_or_default()
}

/// Refreshes skip the server-side apply of unchanged workloads; hand edits
/// and deletions of owned objects must still be undone, also after many
/// skipped refreshes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_edits_to_owned_objects_are_undone() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-drift").await;
    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let name = unique("shop");
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({
            "kafka": {"bootstrapServers": kafka_bootstrap()},
            "generator": {"enabled": false},
            "processor": {"replicas": 2},
            "deletionPolicy": "Delete",
        }),
    )
    .await;
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let processor = format!("{name}-processor");

    // Let several refreshes pass (2 s interval), so later ones skip the apply.
    let first = wait_until("a status refresh", Duration::from_secs(60), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        p.status
            .as_ref()
            .and_then(|s| s.processor.as_ref())
            .and_then(|s| s.last_updated.clone())
            .ok_or_else(|| summary(&p))
    })
    .await;
    wait_until("three more refreshes", Duration::from_secs(60), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        let last = p
            .status
            .as_ref()
            .and_then(|s| s.processor.as_ref())
            .and_then(|s| s.last_updated.clone());
        match last {
            Some(t) if t.0.duration_since(first.0).as_secs() >= 6 => Ok(()),
            _ => Err(summary(&p)),
        }
    })
    .await;
    let d = statefulsets
        .get(&processor)
        .await
        .expect("processor statefulset");
    assert_eq!(d.spec.and_then(|s| s.replicas), Some(2));

    // Someone scales the processor by hand (another field manager).
    statefulsets
        .patch(
            &processor,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("scale by hand");
    wait_for_replicas(&statefulsets, &processor, 2, "replicas restored").await;

    // Someone deletes the ConfigMap and the Service.
    let config_map = format!("{name}-config");
    let service = format!("{name}-metrics");
    config_maps
        .delete(&config_map, &Default::default())
        .await
        .expect("delete config map");
    services
        .delete(&service, &Default::default())
        .await
        .expect("delete service");
    wait_until(
        "config map and service recreated",
        Duration::from_secs(30),
        || async {
            let cm = config_maps
                .get_opt(&config_map)
                .await
                .map_err(|e| e.to_string())?;
            let svc = services
                .get_opt(&service)
                .await
                .map_err(|e| e.to_string())?;
            match (cm, svc) {
                (Some(_), Some(_)) => Ok(()),
                (cm, svc) => Err(format!(
                    "config map present: {}, service present: {}",
                    cm.is_some(),
                    svc.is_some()
                )),
            }
        },
    )
    .await;

    // A spec change still rolls out although the objects were untouched.
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({
            "kafka": {"bootstrapServers": kafka_bootstrap()},
            "generator": {"enabled": false},
            "processor": {"replicas": 3},
            "deletionPolicy": "Delete",
        }),
    )
    .await;
    wait_for_replicas(&statefulsets, &processor, 3, "spec change applied").await;

    support::delete_pipeline(
        &pipelines,
        &name,
        "pipeline deleted",
        Duration::from_secs(60),
    )
    .await;
    support::delete_namespace(&client, &ns).await;
}

async fn wait_for_replicas(statefulsets: &Api<StatefulSet>, name: &str, replicas: i32, what: &str) {
    wait_until(what, Duration::from_secs(30), || async {
        let d = statefulsets.get(name).await.map_err(|e| e.to_string())?;
        match d.spec.and_then(|s| s.replicas) {
            Some(n) if n == replicas => Ok(()),
            other => Err(format!("replicas {other:?}, want {replicas}")),
        }
    })
    .await;
}

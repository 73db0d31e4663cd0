//! Strimzi mode against the real API server with Strimzi's own CRDs: the
//! operator's KafkaTopics must pass Strimzi's schema, TopicsReady follows
//! their Ready conditions, and their errors surface in the pipeline.
//! Strimzi's topic operator does not run here; the test plays its part by
//! creating the topics in the real broker and writing KafkaTopic status.

#[path = "operator_support/mod.rs"]
mod support;

use std::time::Duration;

use kube::api::{ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::{Api, ResourceExt};
use operator::crd::AnalyticsPipeline;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use serde_json::json;
use support::strimzi::set_ready;
use support::{OperatorProcess, condition, kafka_bootstrap, unique, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_topics_follow_strimzi_readiness() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-strimzi").await;
    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let name = unique("shop");
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let object = json!({
        "apiVersion": "analytics.shopstream.dev/v1alpha1",
        "kind": "AnalyticsPipeline",
        "metadata": {"name": name},
        "spec": {
            "kafka": {"bootstrapServers": kafka_bootstrap(), "strimziCluster": "my-cluster"},
            "topics": {"input": {"partitions": 4, "config": {"retention.ms": "7200000"}}},
            "generator": {"enabled": false},
        },
    });
    pipelines
        .patch(
            &name,
            &PatchParams::apply(support::FIELD_MANAGER),
            &Patch::Apply(&object),
        )
        .await
        .expect("pipeline applied");

    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kafka.strimzi.io", "v1", "KafkaTopic"),
        "kafkatopics",
    );
    let topics: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource);
    // One KafkaTopic per topic role (the user-history topic is the tenth).
    let want = support::TOPIC_ROLES.len();
    let listed = wait_until("a KafkaTopic per role", Duration::from_secs(60), || async {
        let list = topics
            .list(&ListParams::default().labels("strimzi.io/cluster=my-cluster"))
            .await
            .map_err(|e| e.to_string())?;
        if list.items.len() == want {
            Ok(list.items)
        } else {
            Err(format!("{} KafkaTopics", list.items.len()))
        }
    })
    .await;
    let input = listed
        .iter()
        .find(|t| t.name_any() == format!("{name}-input"))
        .expect("input KafkaTopic");
    assert_eq!(
        input.data["spec"]["topicName"],
        format!("{ns}.{name}.input")
    );
    assert_eq!(input.data["spec"]["partitions"], 4);
    assert_eq!(input.data["spec"]["replicas"], 1);
    assert_eq!(input.data["spec"]["config"]["retention.ms"], "7200000");
    let uid = pipelines.get(&name).await.expect("pipeline").uid();
    assert_eq!(input.owner_references()[0].uid, uid.expect("uid"));

    let p = wait_until(
        "TopicsReady False while Strimzi works",
        Duration::from_secs(30),
        || async {
            let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
            match condition(&p, "TopicsReady") {
                Some((s, r, m)) if s == "False" && r == "Provisioning" => Ok(m),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert!(p.contains("waiting for Strimzi"), "{p}");

    // Play Strimzi's topic operator: topics in Kafka, KafkaTopics Ready.
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .expect("admin");
    let new_topics: Vec<(String, i32)> = listed
        .iter()
        .map(|t| {
            (
                t.data["spec"]["topicName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                t.data["spec"]["partitions"].as_i64().unwrap_or(1) as i32,
            )
        })
        .collect();
    let requests: Vec<NewTopic> = new_topics
        .iter()
        .map(|(n, p)| NewTopic::new(n, *p, TopicReplication::Fixed(1)))
        .collect();
    admin
        .create_topics(&requests, &AdminOptions::new())
        .await
        .expect("create topics");
    for t in &listed {
        set_ready(&topics, &t.name_any(), true, "").await;
    }
    wait_until("TopicsReady True", Duration::from_secs(30), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        match condition(&p, "TopicsReady") {
            Some((s, _, _)) if s == "True" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    // An error on one KafkaTopic surfaces with Strimzi's message.
    set_ready(
        &topics,
        &format!("{name}-sales"),
        false,
        "Invalid config value for retention.ms",
    )
    .await;
    let message = wait_until(
        "the KafkaTopic error in the pipeline",
        Duration::from_secs(30),
        || async {
            let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
            match condition(&p, "TopicsReady") {
                Some((s, r, m)) if s == "False" && r == "TopicError" => Ok(m),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert!(
        message.contains("Invalid config value for retention.ms"),
        "{message}"
    );

    let names: Vec<&str> = new_topics.iter().map(|(n, _)| n.as_str()).collect();
    let _ = admin.delete_topics(&names, &AdminOptions::new()).await;
    support::delete_namespace(&client, &ns).await;
}

/// A KafkaTopic of the wanted name that the pipeline does not own is a
/// conflict, not taken over; a Kafka topic that exists without a KafkaTopic
/// is used but gets none (Strimzi would take it over).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_elses_kafka_topics_are_neither_taken_over_nor_wrapped() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-strimzi-own").await;
    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let name = unique("shop");
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kafka.strimzi.io", "v1", "KafkaTopic"),
        "kafkatopics",
    );
    let topics: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource);
    let theirs: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": format!("{name}-sales"), "labels": {"strimzi.io/cluster": "my-cluster"}},
        "spec": {"topicName": "their-topic", "partitions": 1, "replicas": 1},
    }))
    .expect("KafkaTopic");
    let theirs = topics
        .create(&Default::default(), &theirs)
        .await
        .expect("their KafkaTopic accepted by Strimzi's schema");
    let segments = format!("{ns}.{name}.segments");
    support::kafka::create_topic(&segments, 3, &[]).await;

    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    support::apply_pipeline(
        &client,
        &ns,
        &name,
        json!({
            "kafka": {"bootstrapServers": kafka_bootstrap(), "strimziCluster": "my-cluster"},
            "generator": {"enabled": false},
            "deletionPolicy": "Delete",
        }),
    )
    .await;
    let p = wait_until("TopicConflict", Duration::from_secs(60), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        match condition(&p, "TopicsReady") {
            Some((s, r, _)) if s == "False" && r == "TopicConflict" => Ok(p),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let (_, _, message) = condition(&p, "TopicsReady").expect("TopicsReady");
    assert!(
        message.contains(&format!(
            "KafkaTopic {ns}/{name}-sales already exists and is not owned by this pipeline"
        )),
        "{message}"
    );
    let status = p.status.clone().expect("status");
    let segments_status = status
        .topics
        .iter()
        .find(|t| t.role == "segments")
        .expect("segments status");
    assert_eq!(
        segments_status.origin,
        Some(operator::crd::TopicOrigin::External)
    );
    assert!(segments_status.ready, "{segments_status:?}");

    let after = topics
        .get(&format!("{name}-sales"))
        .await
        .expect("their KafkaTopic");
    assert_eq!(
        after.resource_version(),
        theirs.resource_version(),
        "theirs was written"
    );
    assert!(after.owner_references().is_empty());
    assert!(
        topics
            .get_opt(&format!("{name}-segments"))
            .await
            .expect("get")
            .is_none(),
        "the existing Kafka topic got a KafkaTopic"
    );
    let input = topics
        .get(&format!("{name}-input"))
        .await
        .expect("our KafkaTopic");
    assert_eq!(input.owner_references()[0].uid, p.uid().expect("uid"));

    // Delete removes the pipeline's KafkaTopics only.
    support::delete_pipeline(
        &pipelines,
        &name,
        "pipeline deleted",
        Duration::from_secs(60),
    )
    .await;
    assert!(
        topics
            .get_opt(&format!("{name}-input"))
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        topics
            .get_opt(&format!("{name}-sales"))
            .await
            .expect("get")
            .is_some()
    );
    assert_eq!(
        support::kafka::partitions(std::slice::from_ref(&segments)).await,
        [3]
    );

    support::kafka::delete_topics(&[segments]).await;
    support::delete_namespace(&client, &ns).await;
}

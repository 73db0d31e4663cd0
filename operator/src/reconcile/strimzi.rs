//! Strimzi mode: one `KafkaTopic` per topic, owned by the pipeline, for
//! Strimzi's topic operator to provision. TopicsReady follows their Ready
//! conditions and carries their error messages through.

use std::collections::BTreeMap;

use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::discovery;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use super::FIELD_MANAGER;
use crate::crd::{AnalyticsPipeline, TopicStatus};
use crate::error::{Error, Result};
use crate::reconcile::validate::{DesiredTopic, ValidatedPipeline};
use crate::status::TopicsState;
use crate::workloads::{Component, labels};

pub const STRIMZI_GROUP: &str = "kafka.strimzi.io";
const CLUSTER_LABEL: &str = "strimzi.io/cluster";
/// Strimzi leaves the Kafka topic in place when a KafkaTopic carrying this
/// annotation (`"false"`) is deleted: how `deletionPolicy: Retain` is kept.
pub const MANAGED_ANNOTATION: &str = "strimzi.io/managed";

/// The KafkaTopic API the cluster serves: `v1` (Strimzi 1.x) preferred,
/// `v1beta2` for older Strimzi.
pub async fn kafka_topic_resource(client: &Client) -> Result<ApiResource> {
    let group = discovery::group(client, STRIMZI_GROUP).await.map_err(|e| {
        Error::Strimzi(format!(
            "the spec names a Strimzi cluster but the {STRIMZI_GROUP} API is not served ({e}); install Strimzi or remove spec.kafka.strimziCluster"
        ))
    })?;
    for version in ["v1", "v1beta2"] {
        let found = group
            .versioned_resources(version)
            .into_iter()
            .find(|(resource, _)| resource.kind == "KafkaTopic");
        if let Some((resource, _)) = found {
            return Ok(resource);
        }
    }
    Err(Error::Strimzi(format!(
        "{STRIMZI_GROUP} serves no KafkaTopic in v1 or v1beta2"
    )))
}

pub fn kafka_topic_name(pipeline: &str, role: &str) -> String {
    format!("{pipeline}-{role}")
}

/// The desired KafkaTopic for one topic. Pure.
pub fn build_kafka_topic(
    resource: &ApiResource,
    p: &ValidatedPipeline,
    cluster: &str,
    topic: &DesiredTopic,
    owner: &AnalyticsPipeline,
) -> Result<DynamicObject> {
    let mut topic_labels = labels(&p.name, Component::Pipeline);
    topic_labels.insert(CLUSTER_LABEL.into(), cluster.into());
    let owner_ref = owner
        .controller_owner_ref(&())
        .ok_or_else(|| Error::InvalidSpec("the pipeline has no uid yet".into()))?;
    let object = json!({
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "metadata": {
            "name": kafka_topic_name(&p.name, topic.role),
            "namespace": p.namespace,
            "labels": topic_labels,
            "ownerReferences": [owner_ref],
        },
        "spec": {
            "topicName": topic.name,
            "partitions": topic.partitions,
            "replicas": topic.replication_factor,
            "config": topic.config,
        }
    });
    Ok(serde_json::from_value(object)?)
}

/// Applies every KafkaTopic and reads their readiness back.
pub async fn reconcile_kafka_topics(
    client: &Client,
    p: &ValidatedPipeline,
    cluster: &str,
    owner: &AnalyticsPipeline,
) -> Result<(Vec<TopicStatus>, TopicsState)> {
    let resource = kafka_topic_resource(client).await?;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &p.namespace, &resource);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut statuses = Vec::new();
    let mut not_ready = Vec::new();
    let mut errors = Vec::new();
    for topic in &p.topics {
        let desired = build_kafka_topic(&resource, p, cluster, topic, owner)?;
        let applied = api
            .patch(&desired.name_any(), &params, &Patch::Apply(&desired))
            .await?;
        let (ready, message) = readiness(&applied);
        if !ready {
            match &message {
                Some(m) => errors.push(format!("{}: {m}", topic.name)),
                None => not_ready.push(topic.name.clone()),
            }
        }
        statuses.push(TopicStatus {
            role: topic.role.to_string(),
            name: topic.name.clone(),
            partitions: Some(topic.partitions),
            replication_factor: Some(topic.replication_factor),
            ready,
            managed: true,
            message,
        });
    }
    let state = if !errors.is_empty() {
        TopicsState::Error(errors.join("; "))
    } else if !not_ready.is_empty() {
        TopicsState::Provisioning(format!(
            "waiting for Strimzi to provision {}",
            not_ready.join(", ")
        ))
    } else {
        TopicsState::Ready
    };
    Ok((statuses, state))
}

/// `(ready, error message)` from a KafkaTopic's Ready condition.
pub fn readiness(topic: &DynamicObject) -> (bool, Option<String>) {
    let conditions = topic
        .data
        .pointer("/status/conditions")
        .and_then(|c| c.as_array())
        .cloned()
        .unwrap_or_default();
    let ready = conditions
        .iter()
        .find(|c| c.get("type").and_then(|t| t.as_str()) == Some("Ready"));
    match ready {
        Some(c) if c.get("status").and_then(|s| s.as_str()) == Some("True") => (true, None),
        Some(c) if c.get("status").and_then(|s| s.as_str()) == Some("False") => {
            let reason = c
                .get("reason")
                .and_then(|r| r.as_str())
                .unwrap_or("NotReady");
            let message = c.get("message").and_then(|m| m.as_str()).unwrap_or("");
            (false, Some(format!("{reason}: {message}")))
        }
        _ => (false, None),
    }
}

/// Before the pipeline (and by owner reference its KafkaTopics) goes away
/// with `deletionPolicy: Retain`, tell Strimzi to leave the Kafka topics.
pub async fn unmanage_kafka_topics(client: &Client, p: &ValidatedPipeline) -> Result<()> {
    let resource = kafka_topic_resource(client).await?;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &p.namespace, &resource);
    let patch =
        json!({"metadata": {"annotations": BTreeMap::from([(MANAGED_ANNOTATION, "false")])}});
    for topic in &p.topics {
        let name = kafka_topic_name(&p.name, topic.role);
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Deletes the pipeline's KafkaTopics, which makes Strimzi delete the topics.
pub async fn delete_kafka_topics(client: &Client, p: &ValidatedPipeline) -> Result<()> {
    let resource = kafka_topic_resource(client).await?;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &p.namespace, &resource);
    for topic in &p.topics {
        let name = kafka_topic_name(&p.name, topic.role);
        match api.delete(&name, &Default::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

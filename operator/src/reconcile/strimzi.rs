//! Strimzi mode: one `KafkaTopic` per topic, owned by the pipeline, for
//! Strimzi's topic operator to provision. TopicsReady follows their Ready
//! conditions and carries their error messages through.
//!
//! The rules of `topic_plan.rs` hold here too. A KafkaTopic of the wanted
//! name that this pipeline does not own is a conflict, never taken over.
//! A Kafka topic that exists without a KafkaTopic of this pipeline gets one
//! only if the spec adopts it: Strimzi makes a topic's config exactly its
//! KafkaTopic's, so creating one would take the topic over. Otherwise it is
//! used as it is and checked through the admin API, as in direct mode.

use std::collections::BTreeMap;

use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use super::FIELD_MANAGER;
use super::ownership::{Ownership, conflict_message, delete_exactly, ownership};
use super::topic_plan::RecordedTopics;
use super::topics::{TopicsOutcome, reconcile_topics};
use crate::crd::{AnalyticsPipeline, DeletionPolicy, TopicOrigin, TopicStatus};
use crate::error::{Error, Result};
use crate::kafka::{ClientUse, KafkaAdmin, KafkaConnections};
use crate::model::{DesiredTopic, TopicRole, ValidatedPipeline};
use crate::status::TopicsState;
use crate::strimzi_api::StrimziApi;
use crate::workloads::{Component, labels};

pub use crate::strimzi_api::STRIMZI_GROUP;
const CLUSTER_LABEL: &str = "strimzi.io/cluster";
/// Strimzi leaves the Kafka topic in place when a KafkaTopic carrying this
/// annotation (`"false"`) is deleted: how `deletionPolicy: Retain` is kept.
pub const MANAGED_ANNOTATION: &str = "strimzi.io/managed";

/// Name of the KafkaTopic resource of a role: per pipeline and role, so it
/// stays the same when the Kafka topic is renamed.
pub fn kafka_topic_name(pipeline: &str, role: TopicRole) -> String {
    format!("{pipeline}-{}", role.as_str())
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
        .ok_or_else(Error::missing_uid)?;
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

/// Whether `current` (an owned KafkaTopic) differs from `desired` in what
/// the operator writes: its spec and labels. Pure; an unchanged KafkaTopic
/// is not applied again, so a refresh costs a read, not a write.
pub fn needs_apply(desired: &DynamicObject, current: &DynamicObject) -> bool {
    let labels_missing = desired
        .labels()
        .iter()
        .any(|(k, v)| current.labels().get(k) != Some(v));
    labels_missing || desired.data.get("spec") != current.data.get("spec")
}

/// The Kafka topic a KafkaTopic stands for.
fn spec_topic_name(topic: &DynamicObject) -> Option<&str> {
    topic
        .data
        .pointer("/spec/topicName")
        .and_then(|n| n.as_str())
}

/// What the steps of [`reconcile_kafka_topics`] found, folded into the
/// outcome at the end.
#[derive(Default)]
struct Findings {
    statuses: Vec<TopicStatus>,
    changes: Vec<String>,
    created: bool,
    not_ready: Vec<String>,
    errors: Vec<String>,
    conflicts: Vec<String>,
}

impl Findings {
    /// The outcome, statuses in the spec's order whatever path each topic
    /// took; the worst finding decides the state.
    fn into_outcome(mut self) -> TopicsOutcome {
        self.statuses.sort_by_key(|s| {
            TopicRole::parse(&s.role)
                .and_then(|role| TopicRole::ALL.iter().position(|r| *r == role))
                .unwrap_or(usize::MAX)
        });
        let state = if !self.conflicts.is_empty() {
            TopicsState::Conflict(self.conflicts.join("; "))
        } else if !self.errors.is_empty() {
            TopicsState::Error(self.errors.join("; "))
        } else if !self.not_ready.is_empty() {
            TopicsState::Provisioning(self.not_ready.join("; "))
        } else {
            TopicsState::Ready
        };
        TopicsOutcome {
            statuses: self.statuses,
            state,
            changes: self.changes,
            created: self.created,
        }
    }
}

/// A topic that gets (or keeps) a KafkaTopic now, with the origin to record
/// and the KafkaTopic as it is.
type ToApply<'a> = (&'a DesiredTopic, TopicOrigin, Option<DynamicObject>);

/// Applies every KafkaTopic this pipeline may manage and reads their
/// readiness back; checks the topics it only uses through the admin API.
#[allow(clippy::too_many_arguments)]
pub async fn reconcile_kafka_topics(
    client: &Client,
    strimzi: &StrimziApi,
    kafka: &KafkaConnections,
    p: &ValidatedPipeline,
    cluster: &str,
    owner: &AnalyticsPipeline,
    recorded: &RecordedTopics,
) -> Result<TopicsOutcome> {
    let resource = strimzi.kafka_topic(client).await?;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &p.namespace, &resource);
    let uid = owner.uid().ok_or_else(Error::missing_uid)?;
    let mut found = Findings::default();
    let (undecided, mut to_apply) =
        sort_by_kafka_topic(&api, p, &uid, recorded, &mut found).await?;
    if !undecided.is_empty() {
        let admin = kafka.admin(
            ClientUse::Pipeline(&super::pipeline_key(owner)),
            &p.bootstrap_servers,
        )?;
        decide_by_kafka(&admin, undecided, recorded, &mut to_apply, &mut found).await?;
    }
    let applied = ApplyTarget {
        api: &api,
        resource: &resource,
        cluster,
        owner,
    };
    apply_kafka_topics(&applied, p, to_apply, &mut found).await?;
    Ok(found.into_outcome())
}

/// Sorts the pipeline's topics by their KafkaTopic: owned ones to apply
/// (or to replace, for a renamed or released topic), foreign ones are
/// conflicts, and topics without one are left for Kafka to decide.
async fn sort_by_kafka_topic<'a>(
    api: &Api<DynamicObject>,
    p: &'a ValidatedPipeline,
    uid: &str,
    recorded: &RecordedTopics,
    found: &mut Findings,
) -> Result<(Vec<&'a DesiredTopic>, Vec<ToApply<'a>>)> {
    // Topics without a KafkaTopic of this pipeline: Kafka decides.
    let mut undecided = Vec::new();
    let mut to_apply = Vec::new();
    for topic in &p.topics {
        let kt_name = kafka_topic_name(&p.name, topic.role);
        let current = api.get_opt(&kt_name).await?;
        let recorded_origin = recorded.origin(&topic.name);
        match current {
            None => match recorded_origin {
                // Ours before (someone deleted the KafkaTopic): restore it.
                Some(TopicOrigin::Created) => to_apply.push((topic, TopicOrigin::Created, None)),
                _ => undecided.push(topic),
            },
            Some(current) if ownership(Some(current.meta()), uid) != Ownership::Owned => {
                let why = conflict_message("KafkaTopic", &p.namespace, &kt_name);
                found.conflicts.push(why.clone());
                found.statuses.push(status(topic, None, false, Some(why)));
            }
            Some(current) => {
                let origin = match recorded_origin {
                    Some(TopicOrigin::Adopted) => TopicOrigin::Adopted,
                    _ => TopicOrigin::Created,
                };
                if let Some(current) =
                    replace_if_stale(api, p, topic, origin, current, found).await?
                {
                    to_apply.push((topic, origin, Some(current)));
                }
            }
        }
    }
    Ok((undecided, to_apply))
}

/// An owned KafkaTopic that stands for another (renamed) topic, or for an
/// adopted topic the spec no longer adopts, goes; one being deleted is
/// waited for. `Some` when it is current and can be applied.
async fn replace_if_stale(
    api: &Api<DynamicObject>,
    p: &ValidatedPipeline,
    topic: &DesiredTopic,
    origin: TopicOrigin,
    current: DynamicObject,
    found: &mut Findings,
) -> Result<Option<DynamicObject>> {
    let kt_name = kafka_topic_name(&p.name, topic.role);
    let renamed = spec_topic_name(&current) != Some(topic.name.as_str());
    let released = origin == TopicOrigin::Adopted && !topic.adopt;
    // What this KafkaTopic says about the topic the spec wants: nothing
    // when it stands for another (renamed) topic.
    let known = (!renamed).then_some(origin);
    if current.metadata.deletion_timestamp.is_some() {
        let what = format!("waiting for the old KafkaTopic {kt_name} to be deleted");
        found.not_ready.push(what.clone());
        found.statuses.push(status(topic, known, false, Some(what)));
        return Ok(None);
    }
    if !(renamed || released) {
        return Ok(Some(current));
    }
    // Strimzi cannot rename a topic, and an adopted topic no longer adopted
    // goes back to its owner: the KafkaTopic goes (Strimzi deletes the topic
    // only for a rename under `Delete`), a new one follows once it is gone.
    let old = spec_topic_name(&current).unwrap_or_default().to_string();
    let delete_topic = renamed && p.deletion_policy == DeletionPolicy::Delete;
    retire_kafka_topic(api, &current, delete_topic).await?;
    found.changes.push(if delete_topic {
        format!("KafkaTopic {kt_name} deleted with topic {old}, which the spec no longer uses (deletionPolicy Delete)")
    } else {
        format!("KafkaTopic {kt_name} removed; topic {old} stays in Kafka, no longer managed by this pipeline")
    });
    let what = format!("replacing KafkaTopic {kt_name}");
    found.not_ready.push(what.clone());
    found.statuses.push(status(topic, known, false, Some(what)));
    Ok(None)
}

/// Topics without a KafkaTopic of this pipeline: missing ones are created
/// through a KafkaTopic, existing adopted ones get one, existing others are
/// used as they are and checked through the admin API, as in direct mode.
async fn decide_by_kafka<'a>(
    admin: &KafkaAdmin,
    undecided: Vec<&'a DesiredTopic>,
    recorded: &RecordedTopics,
    to_apply: &mut Vec<ToApply<'a>>,
    found: &mut Findings,
) -> Result<()> {
    let names: Vec<String> = undecided.iter().map(|t| t.name.clone()).collect();
    let existing = admin.describe_topics(&names).await?;
    let mut external = Vec::new();
    for topic in undecided {
        match (existing.contains_key(&topic.name), topic.adopt) {
            (false, _) => to_apply.push((topic, TopicOrigin::Created, None)),
            (true, true) => to_apply.push((topic, TopicOrigin::Adopted, None)),
            (true, false) => external.push(topic.clone()),
        }
    }
    if external.is_empty() {
        return Ok(());
    }
    // Used as they are: verified like direct mode's external topics, never
    // given a KafkaTopic.
    let checked = reconcile_topics(admin, &external, recorded).await?;
    found.created |= checked.created;
    found.changes.extend(checked.changes);
    match checked.state {
        TopicsState::Conflict(why) => found.conflicts.push(why),
        TopicsState::Provisioning(what) => found.not_ready.push(what),
        TopicsState::Error(why) => found.errors.push(why),
        TopicsState::KafkaUnreachable(why) => found.errors.push(why),
        TopicsState::KafkaRefused { message, .. } => found.errors.push(message),
        TopicsState::Ready => {}
    }
    found.statuses.extend(checked.statuses);
    Ok(())
}

/// Where the KafkaTopics go.
struct ApplyTarget<'a> {
    api: &'a Api<DynamicObject>,
    resource: &'a ApiResource,
    cluster: &'a str,
    owner: &'a AnalyticsPipeline,
}

/// Applies the KafkaTopics that changed (an unchanged one costs a read, not
/// a write) and reads their readiness back.
async fn apply_kafka_topics(
    target: &ApplyTarget<'_>,
    p: &ValidatedPipeline,
    to_apply: Vec<ToApply<'_>>,
    found: &mut Findings,
) -> Result<()> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for (topic, origin, current) in to_apply {
        let desired = build_kafka_topic(target.resource, p, target.cluster, topic, target.owner)?;
        let applied = match current {
            Some(current) if !needs_apply(&desired, &current) => current,
            current => {
                if current.is_none() {
                    found.created = true;
                    found
                        .changes
                        .push(format!("KafkaTopic {} created", desired.name_any()));
                }
                target
                    .api
                    .patch(&desired.name_any(), &params, &Patch::Apply(&desired))
                    .await?
            }
        };
        let (ready, message) = readiness(&applied);
        if !ready {
            match &message {
                Some(m) => found.errors.push(format!("{}: {m}", topic.name)),
                None => found
                    .not_ready
                    .push(format!("waiting for Strimzi to provision {}", topic.name)),
            }
        }
        found
            .statuses
            .push(status(topic, Some(origin), ready, message));
    }
    Ok(())
}

fn status(
    topic: &DesiredTopic,
    origin: Option<TopicOrigin>,
    ready: bool,
    message: Option<String>,
) -> TopicStatus {
    TopicStatus {
        role: topic.role.as_str().to_string(),
        name: topic.name.clone(),
        partitions: Some(topic.partitions),
        replication_factor: Some(topic.replication_factor),
        ready,
        origin,
        managed: origin.is_some_and(TopicOrigin::is_managed),
        message,
    }
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

/// Removes one of the pipeline's KafkaTopics; with `delete_topic` false it
/// first tells Strimzi to leave the Kafka topic.
async fn retire_kafka_topic(
    api: &Api<DynamicObject>,
    topic: &DynamicObject,
    delete_topic: bool,
) -> Result<()> {
    let name = topic.name_any();
    if !delete_topic {
        let patch =
            json!({"metadata": {"annotations": BTreeMap::from([(MANAGED_ANNOTATION, "false")])}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    match api.delete(&name, &delete_exactly(topic.meta())).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The pipeline's own KafkaTopics (by owner uid), of the roles it has.
async fn owned_kafka_topics(
    client: &Client,
    strimzi: &StrimziApi,
    p: &ValidatedPipeline,
    owner_uid: &str,
) -> Result<(Api<DynamicObject>, Vec<DynamicObject>)> {
    let resource = strimzi.kafka_topic(client).await?;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &p.namespace, &resource);
    let mut owned = Vec::new();
    for topic in &p.topics {
        let current = api.get_opt(&kafka_topic_name(&p.name, topic.role)).await?;
        if let Some(current) = current
            && ownership(Some(current.meta()), owner_uid) == Ownership::Owned
        {
            owned.push(current);
        }
    }
    Ok((api, owned))
}

/// Before the pipeline (and by owner reference its KafkaTopics) goes away
/// with `deletionPolicy: Retain`, tell Strimzi to leave the Kafka topics.
/// KafkaTopics the pipeline does not own are not touched.
pub async fn unmanage_kafka_topics(
    client: &Client,
    strimzi: &StrimziApi,
    p: &ValidatedPipeline,
    owner_uid: &str,
) -> Result<()> {
    let (api, owned) = owned_kafka_topics(client, strimzi, p, owner_uid).await?;
    let patch =
        json!({"metadata": {"annotations": BTreeMap::from([(MANAGED_ANNOTATION, "false")])}});
    for topic in owned {
        match api
            .patch(
                &topic.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Deletes the pipeline's own KafkaTopics, which makes Strimzi delete the
/// topics. Returns the Kafka topic names.
pub async fn delete_kafka_topics(
    client: &Client,
    strimzi: &StrimziApi,
    p: &ValidatedPipeline,
    owner_uid: &str,
) -> Result<Vec<String>> {
    let (api, owned) = owned_kafka_topics(client, strimzi, p, owner_uid).await?;
    let mut deleted = Vec::new();
    for topic in owned {
        match api
            .delete(&topic.name_any(), &delete_exactly(topic.meta()))
            .await
        {
            Ok(_) => deleted.extend(spec_topic_name(&topic).map(str::to_string)),
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::GroupVersionKind;

    fn kafka_topic(spec: serde_json::Value, labels: serde_json::Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaTopic",
            "metadata": {"name": "shop-input", "labels": labels},
            "spec": spec,
        }))
        .expect("KafkaTopic")
    }

    #[test]
    fn unchanged_kafka_topics_are_not_applied_again() {
        let spec =
            json!({"topicName": "ns.shop.input", "partitions": 3, "replicas": 1, "config": {}});
        let labels = json!({"strimzi.io/cluster": "my-cluster"});
        let desired = kafka_topic(spec.clone(), labels.clone());
        // Strimzi's status and other labels do not matter.
        let mut current = kafka_topic(
            spec,
            json!({"strimzi.io/cluster": "my-cluster", "team": "a"}),
        );
        current.data["status"] = json!({"conditions": [{"type": "Ready", "status": "True"}]});
        assert!(!needs_apply(&desired, &current));

        let grown = kafka_topic(
            json!({"topicName": "ns.shop.input", "partitions": 6, "replicas": 1, "config": {}}),
            labels,
        );
        assert!(needs_apply(&grown, &current));
        let relabelled = kafka_topic(
            json!({"topicName": "ns.shop.input", "partitions": 3, "replicas": 1, "config": {}}),
            json!({"strimzi.io/cluster": "other"}),
        );
        assert!(needs_apply(&relabelled, &current));
    }

    #[test]
    fn readiness_follows_the_ready_condition() {
        let resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(STRIMZI_GROUP, "v1", "KafkaTopic"),
            "kafkatopics",
        );
        let mut topic = DynamicObject::new("shop-input", &resource);
        assert_eq!(readiness(&topic), (false, None));
        topic.data = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False", "reason": "KafkaError", "message": "boom"}
        ]}});
        assert_eq!(
            readiness(&topic),
            (false, Some("KafkaError: boom".to_string()))
        );
    }
}

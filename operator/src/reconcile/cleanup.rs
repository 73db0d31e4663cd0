//! Deletion: what lives outside the cluster (Kafka topics) is handled here;
//! owned Kubernetes objects go by owner reference.

use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use tracing::{info, warn};

use super::topic_plan::{managed_topic_names, used_elsewhere};
use super::validate::validate;
use super::{pipeline_key, publish, strimzi};
use crate::context::Context;
use crate::crd::{AnalyticsPipeline, DeletionPolicy};
use crate::error::{Error, Result};
use crate::kafka::ClientUse;

/// Attempts at deleting topics before the finalizer is released anyway, so
/// a pipeline whose Kafka is gone can still be deleted. Counted from the
/// deletion on: failed reconciles before it do not use them up.
const MAX_DELETE_ATTEMPTS: u32 = 3;

pub async fn cleanup(p: &AnalyticsPipeline, ctx: &Context) -> Result<Action> {
    let key = pipeline_key(p);
    if let Err(error) = delete_topics(p, ctx).await {
        let attempts = ctx.state.record_cleanup_failure(&key);
        if attempts < MAX_DELETE_ATTEMPTS {
            return Err(error);
        }
        warn!(pipeline = %key, %error, attempts, "giving up on topic deletion; releasing the finalizer");
        publish(
            ctx,
            p,
            EventType::Warning,
            "TopicDeletionAbandoned",
            format!("gave up after {attempts} attempts, topics may remain in Kafka: {error}"),
        )
        .await;
    }
    ctx.metrics
        .forget_pipeline(&p.namespace().unwrap_or_default(), &p.name_any());
    ctx.forget(&key);
    Ok(Action::await_change())
}

async fn delete_topics(p: &AnalyticsPipeline, ctx: &Context) -> Result<()> {
    let uid = p.uid().unwrap_or_default();
    match (p.spec.deletion_policy, &p.spec.kafka.strimzi_cluster) {
        (DeletionPolicy::Retain, None) => {
            info!(pipeline = %p.name_any(), "deletionPolicy Retain: topics stay in Kafka");
            Ok(())
        }
        (DeletionPolicy::Retain, Some(_)) => {
            let v = validate(p, &ctx.settings.images)?;
            strimzi::unmanage_kafka_topics(&ctx.client, &ctx.strimzi, &v, &uid).await
        }
        (DeletionPolicy::Delete, Some(_)) => {
            let v = validate(p, &ctx.settings.images)?;
            let deleted = strimzi::delete_kafka_topics(&ctx.client, &ctx.strimzi, &v, &uid).await?;
            if !deleted.is_empty() {
                publish(
                    ctx,
                    p,
                    EventType::Normal,
                    "TopicsDeleted",
                    format!("deleted the KafkaTopics of {}", deleted.join(", ")),
                )
                .await;
            }
            Ok(())
        }
        (DeletionPolicy::Delete, None) => {
            // Only what this pipeline created or adopted, as its status
            // says; topics it only used stay.
            let names = not_used_elsewhere(ctx, p, managed_topic_names(p.status.as_ref())).await;
            if names.is_empty() {
                return Ok(());
            }
            let refs = crate::kafka_security::from_spec(&p.spec.kafka, &p.name_any())?;
            let namespace = p.metadata.namespace.clone().unwrap_or_default();
            let credentials =
                crate::kafka_security::read_credentials(&ctx.client, &namespace, &refs).await?;
            ctx.kafka.set_credentials(&pipeline_key(p), credentials)?;
            let admin = ctx.kafka.admin(
                ClientUse::Pipeline(&pipeline_key(p)),
                &p.spec.kafka.bootstrap_servers,
            )?;
            admin.delete_topics(&names).await?;
            publish(
                ctx,
                p,
                EventType::Normal,
                "TopicsDeleted",
                format!("deleted topics {}", names.join(", ")),
            )
            .await;
            Ok(())
        }
    }
    .map_err(|e| match e {
        Error::InvalidSpec(m) => Error::finalizer(m),
        other => other,
    })
}

/// Of the topics about to be deleted, those no other pipeline lists in its
/// status; for the others a Warning Event says which pipeline keeps them.
pub(super) async fn not_used_elsewhere(
    ctx: &Context,
    p: &AnalyticsPipeline,
    names: Vec<String>,
) -> Vec<String> {
    let others = ctx.other_statuses(&pipeline_key(p));
    let users = used_elsewhere(&names, others.iter().map(|(k, s)| (k.clone(), s)));
    for (topic, pipelines) in &users {
        publish(
            ctx,
            p,
            EventType::Warning,
            "TopicKept",
            format!(
                "topic {topic} is not deleted: pipeline {} uses it too",
                pipelines.join(", ")
            ),
        )
        .await;
    }
    names
        .into_iter()
        .filter(|n| !users.contains_key(n))
        .collect()
}

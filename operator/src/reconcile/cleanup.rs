//! Deletion: what lives outside the cluster (Kafka topics) is handled here;
//! owned Kubernetes objects go by owner reference.

use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use tracing::{info, warn};

use super::validate::validate;
use super::{pipeline_key, publish, strimzi};
use crate::context::Context;
use crate::crd::{AnalyticsPipeline, DeletionPolicy};
use crate::error::{Error, Result};

/// Attempts at deleting topics before the finalizer is released anyway, so
/// a pipeline whose Kafka is gone can still be deleted.
const MAX_DELETE_ATTEMPTS: u32 = 3;

pub async fn cleanup(p: &AnalyticsPipeline, ctx: &Context) -> Result<Action> {
    let key = pipeline_key(p);
    let result = delete_topics(p, ctx).await;
    if let Err(error) = result {
        // error_policy counts each failed attempt.
        let attempts = ctx.failure_count(&key) + 1;
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
    if let Ok(v) = validate(p, &ctx.settings.images) {
        let _ = ctx
            .metrics
            .pipeline_lag
            .remove_label_values(&[&v.namespace, &v.name]);
    }
    ctx.forget(&key);
    Ok(Action::await_change())
}

async fn delete_topics(p: &AnalyticsPipeline, ctx: &Context) -> Result<()> {
    let v = validate(p, &ctx.settings.images)?;
    match (v.deletion_policy, &v.strimzi_cluster) {
        (DeletionPolicy::Retain, None) => {
            info!(pipeline = %p.name_any(), "deletionPolicy Retain: topics stay in Kafka");
            Ok(())
        }
        (DeletionPolicy::Retain, Some(_)) => strimzi::unmanage_kafka_topics(&ctx.client, &v).await,
        (DeletionPolicy::Delete, Some(_)) => strimzi::delete_kafka_topics(&ctx.client, &v).await,
        (DeletionPolicy::Delete, None) => {
            // Only what this pipeline created or adopted, as its status says.
            let names: Vec<String> = p
                .status
                .as_ref()
                .map(|s| {
                    s.topics
                        .iter()
                        .filter(|t| t.managed)
                        .map(|t| t.name.clone())
                        .collect()
                })
                .unwrap_or_default();
            if names.is_empty() {
                return Ok(());
            }
            let admin = ctx.kafka.admin(&v.bootstrap_servers)?;
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
        Error::InvalidSpec(m) => Error::Finalizer(m),
        other => other,
    })
}

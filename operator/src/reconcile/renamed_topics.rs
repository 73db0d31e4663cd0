//! Topics the spec renamed: the pipeline moves to the new name, and the
//! old topic follows `deletionPolicy` instead of being forgotten (direct
//! mode; in Strimzi mode the pipeline's KafkaTopics carry this, see
//! strimzi.rs).

use kube::runtime::events::EventType;
use tracing::warn;

use super::cleanup::not_used_elsewhere;
use super::topic_plan::{Retirement, plan_retirement};
use super::{pipeline_key, publish};
use crate::context::Context;
use crate::crd::{AnalyticsPipeline, RetiredTopic};
use crate::kafka::ClientUse;
use crate::model::ValidatedPipeline;

/// The topics a spec change renamed (direct mode; in Strimzi mode the
/// pipeline's KafkaTopics carry this, see strimzi.rs). Managed ones are
/// returned for deletion under `Delete`; under `Retain`, and for topics the
/// pipeline only used, an Event says they are released.
pub async fn retirement(ctx: &Context, p: &AnalyticsPipeline, v: &ValidatedPipeline) -> Retirement {
    if v.strimzi_cluster.is_some() {
        return Retirement::default();
    }
    let plan = plan_retirement(p.status.as_ref(), &v.topics, v.deletion_policy);
    if !plan.release.is_empty() {
        let names: Vec<&str> = plan.release.iter().map(|t| t.name.as_str()).collect();
        publish(
            ctx,
            p,
            EventType::Normal,
            "TopicsReleased",
            format!(
                "no longer uses {} (renamed in the spec); deletionPolicy Retain keeps them in Kafka, no longer managed by this pipeline",
                names.join(", ")
            ),
        )
        .await;
    }
    if !plan.stop_using.is_empty() {
        publish(
            ctx,
            p,
            EventType::Normal,
            "TopicsReleased",
            format!(
                "no longer uses {} (renamed in the spec); not created by this pipeline, left as they are",
                plan.stop_using.join(", ")
            ),
        )
        .await;
    }
    plan
}

/// Deletes renamed managed topics; returns those that are still there.
pub async fn delete_retired_topics(
    p: &AnalyticsPipeline,
    ctx: &Context,
    v: &ValidatedPipeline,
    retired: Vec<RetiredTopic>,
) -> Vec<RetiredTopic> {
    let names: Vec<String> = retired.iter().map(|t| t.name.clone()).collect();
    let names = not_used_elsewhere(ctx, p, names).await;
    if names.is_empty() {
        return Vec::new();
    }
    let deleted = match ctx
        .kafka
        .admin(ClientUse::Pipeline(&pipeline_key(p)), &v.bootstrap_servers)
    {
        Ok(admin) => admin.delete_topics(&names).await,
        Err(e) => Err(e),
    };
    match deleted {
        Ok(()) => {
            publish(
                ctx,
                p,
                EventType::Normal,
                "TopicsDeleted",
                format!(
                    "deleted {}, which the spec no longer uses (deletionPolicy Delete)",
                    names.join(", ")
                ),
            )
            .await;
            Vec::new()
        }
        Err(error) => {
            // Kept in status.retiredTopics: the next reconcile tries again.
            warn!(pipeline = %pipeline_key(p), %error, "cannot delete renamed topics yet");
            retired
        }
    }
}

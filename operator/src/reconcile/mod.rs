//! One reconcile of one pipeline, in fixed steps:
//! read (the object the controller hands us) → validate (pure) → topics →
//! build desired workloads (pure builders) → apply (server-side apply, one
//! field manager, fixed order) → observe (Deployments, Kafka lag) → status.

mod apply;
mod cleanup;
mod observe;
pub mod strimzi;
pub mod topics;
pub mod validate;

use std::collections::BTreeSet;
use std::sync::Arc;

use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::finalizer::{self, Event as FinalizerEvent, finalizer};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tracing::{debug, info, warn};

use crate::context::Context;
use crate::crd::{AnalyticsPipeline, AnalyticsPipelineStatus, Phase, TopicStatus};
use crate::error::{Error, Result};
use crate::status::{TopicsState, derive_conditions, derive_phase, merge_conditions};

/// The one field manager of every object the operator writes.
pub const FIELD_MANAGER: &str = "shopstream-operator";
/// Guards the Kafka topics, which live outside the cluster.
pub const FINALIZER: &str = "analytics.shopstream.dev/topics";

pub fn pipeline_key(p: &AnalyticsPipeline) -> String {
    format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any())
}

pub async fn reconcile(pipeline: Arc<AnalyticsPipeline>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile_duration.start_timer();
    let started = std::time::Instant::now();
    let namespace = pipeline.namespace().unwrap_or_default();
    let api: Api<AnalyticsPipeline> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = finalizer(&api, FINALIZER, pipeline, |event| async {
        match event {
            FinalizerEvent::Apply(p) => apply_pipeline(&p, &ctx).await,
            FinalizerEvent::Cleanup(p) => cleanup::cleanup(&p, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer(other.to_string()),
    });
    ctx.refresh.record(started.elapsed());
    let label = if result.is_ok() { "success" } else { "error" };
    ctx.metrics
        .reconciliations
        .with_label_values(&[label])
        .inc();
    result
}

/// Retries transient failures with exponential backoff per pipeline; waits
/// for a spec change on permanent ones.
pub fn error_policy(pipeline: Arc<AnalyticsPipeline>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = pipeline_key(&pipeline);
    ctx.metrics
        .failures
        .with_label_values(&[error.category()])
        .inc();
    if error.is_permanent() {
        warn!(pipeline = %key, category = error.category(), %error, "reconcile failed; waiting for a spec change");
        return Action::await_change();
    }
    let failures = ctx.record_failure(&key);
    let delay = crate::error::backoff(failures);
    warn!(pipeline = %key, category = error.category(), %error, failures, retry_in = ?delay, "reconcile failed; retrying");
    Action::requeue(delay)
}

pub async fn publish(
    ctx: &Context,
    p: &AnalyticsPipeline,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &p.object_ref(&())).await {
        warn!(error = %e, "cannot publish event");
    }
}

async fn apply_pipeline(p: &AnalyticsPipeline, ctx: &Context) -> Result<Action> {
    let key = pipeline_key(p);
    let previous = p.status.clone().unwrap_or_default();

    let validated = match validate::validate(p, &ctx.settings.images) {
        Ok(v) => v,
        Err(error) => {
            write_failed_status(p, ctx, &previous, &error).await?;
            return Err(error);
        }
    };

    // Topics first: the workloads need them.
    let managed: BTreeSet<String> = previous
        .topics
        .iter()
        .filter(|t| t.managed)
        .map(|t| t.name.clone())
        .collect();
    let started = std::time::Instant::now();
    let (topic_statuses, topics_state, kafka_failure) =
        provision_topics(p, ctx, &validated, &managed, &previous.topics).await;
    let topics_done = started.elapsed();

    let applied = apply::apply_workloads(ctx, p, &validated).await?;
    ctx.metrics
        .workload_applies
        .with_label_values(&[if applied { "applied" } else { "unchanged" }])
        .inc();
    let workloads_done = started.elapsed();

    let observed = observe::observe(ctx, &validated, &topics_state).await?;
    let observe_done = started.elapsed();
    let (observations, processor_status, generator_status) = observe::summarise(
        ctx,
        &key,
        &validated,
        topics_state,
        observed,
        previous.phase,
    );

    let builders = derive_conditions(&observations);
    let phase = derive_phase(&observations, &builders);
    let now =
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    let status = AnalyticsPipelineStatus {
        observed_generation: p.metadata.generation,
        phase: Some(phase),
        conditions: merge_conditions(&previous.conditions, builders, p.metadata.generation, &now),
        topics: topic_statuses,
        processor: Some(processor_status),
        generator: generator_status,
    };

    if previous.phase != Some(phase) {
        let (type_, reason) = match phase {
            Phase::Running => (EventType::Normal, "Running"),
            Phase::Provisioning | Phase::Pending => (EventType::Normal, "Provisioning"),
            Phase::Degraded => (EventType::Warning, "Degraded"),
            Phase::Failed => (EventType::Warning, "Failed"),
        };
        let ready = status
            .conditions
            .iter()
            .find(|c| c.type_ == crate::status::READY);
        let why = ready.map(|c| c.message.clone()).unwrap_or_default();
        info!(pipeline = %key, ?phase, %why, "phase changed");
        publish(ctx, p, type_, reason, format!("phase {phase:?}: {why}")).await;
    }
    if let Some(lag) = status.processor.as_ref().and_then(|s| s.total_lag) {
        ctx.metrics
            .pipeline_lag
            .with_label_values(&[&validated.namespace, &validated.name])
            .set(lag);
    }
    ctx.set_phase(&key, Some(phase));
    patch_status(p, ctx, &status).await?;
    // Where a slow reconcile spends its time, step by step.
    debug!(
        pipeline = %key,
        topics_ms = topics_done.as_millis() as u64,
        workloads_ms = (workloads_done - topics_done).as_millis() as u64,
        observe_ms = (observe_done - workloads_done).as_millis() as u64,
        status_ms = (started.elapsed() - observe_done).as_millis() as u64,
        applied,
        "reconciled"
    );

    if let Some(error) = kafka_failure {
        // The status says what is wrong; the error drives the backoff.
        return Err(error);
    }
    ctx.reset_failures(&key);
    Ok(Action::requeue(ctx.refresh_delay(&key)))
}

/// Provisions the topics in the mode the spec asks for. Kafka outages do not
/// abort the reconcile: they become the TopicsReady condition, and the error
/// is returned last so the retry backs off.
async fn provision_topics(
    p: &AnalyticsPipeline,
    ctx: &Context,
    v: &validate::ValidatedPipeline,
    managed: &BTreeSet<String>,
    previous: &[TopicStatus],
) -> (Vec<TopicStatus>, TopicsState, Option<Error>) {
    let outcome = match &v.strimzi_cluster {
        Some(cluster) => strimzi::reconcile_kafka_topics(&ctx.client, v, cluster, p)
            .await
            .map(|(statuses, state)| (statuses, state, Vec::new())),
        None => match ctx.kafka.admin(&v.bootstrap_servers) {
            Ok(admin) => topics::reconcile_topics(&admin, &v.topics, managed)
                .await
                .map(|o| (o.statuses, o.state, o.changes)),
            Err(e) => Err(e),
        },
    };
    match outcome {
        Ok((statuses, state, changes)) => {
            if !changes.is_empty() {
                publish(
                    ctx,
                    p,
                    EventType::Normal,
                    "TopicsProvisioned",
                    changes.join("; "),
                )
                .await;
            }
            if let TopicsState::Conflict(why) = &state {
                publish(ctx, p, EventType::Warning, "TopicConflict", why.clone()).await;
            }
            (statuses, state, None)
        }
        Err(error) => {
            let stale: Vec<TopicStatus> = previous
                .iter()
                .cloned()
                .map(|mut t| {
                    t.ready = false;
                    t.message = Some("not verified: Kafka unreachable".into());
                    t
                })
                .collect();
            let state = match &error {
                Error::Kafka(m) => TopicsState::KafkaUnreachable(m.clone()),
                other => TopicsState::Error(other.to_string()),
            };
            publish(
                ctx,
                p,
                EventType::Warning,
                error.category(),
                error.to_string(),
            )
            .await;
            let retry = (!error.is_permanent()).then_some(error);
            (stale, state, retry)
        }
    }
}

async fn write_failed_status(
    p: &AnalyticsPipeline,
    ctx: &Context,
    previous: &AnalyticsPipelineStatus,
    error: &Error,
) -> Result<()> {
    use crate::status::{ConditionBuilder, READY};
    let now =
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    let mut conditions: Vec<_> = previous
        .conditions
        .iter()
        .filter(|c| c.type_ != READY)
        .cloned()
        .collect();
    conditions.extend(merge_conditions(
        &previous.conditions,
        vec![ConditionBuilder::new(
            READY,
            false,
            error.category(),
            error.to_string(),
        )],
        p.metadata.generation,
        &now,
    ));
    let status = AnalyticsPipelineStatus {
        observed_generation: p.metadata.generation,
        phase: Some(Phase::Failed),
        conditions,
        ..previous.clone()
    };
    if previous.phase != Some(Phase::Failed) {
        publish(
            ctx,
            p,
            EventType::Warning,
            error.category(),
            error.to_string(),
        )
        .await;
    }
    ctx.set_phase(&pipeline_key(p), Some(Phase::Failed));
    patch_status(p, ctx, &status).await
}

async fn patch_status(
    p: &AnalyticsPipeline,
    ctx: &Context,
    status: &AnalyticsPipelineStatus,
) -> Result<()> {
    let api: Api<AnalyticsPipeline> =
        Api::namespaced(ctx.client.clone(), &p.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": "analytics.shopstream.dev/v1alpha1",
        "kind": "AnalyticsPipeline",
        "status": status,
    });
    api.patch_status(
        &p.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

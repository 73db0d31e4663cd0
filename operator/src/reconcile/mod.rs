//! One reconcile of one pipeline, in fixed steps:
//! read (the object the controller hands us) → validate (pure) → topics →
//! build desired workloads (pure builders) → apply (server-side apply, one
//! field manager, fixed order) → observe (StatefulSet, Deployment, Kafka lag) → status.

mod apply;
mod autoscale;
mod cleanup;
mod guard;
mod kafka_user;
mod lag_alerts;
pub mod network_policy_settings;
mod observe;
pub mod ownership;
mod processor_alerts;
mod renamed_topics;
mod restart_alerts;
mod serving_settings;
pub mod strimzi;
pub mod topic_names;
pub mod topic_plan;
pub mod topics;
pub mod validate;

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
use crate::kafka::ClientUse;
use crate::kafka_security::read_credentials;
use crate::model::ValidatedPipeline;
use crate::status::{TopicsState, derive_conditions, derive_phase, merge_conditions};
use apply::WorkloadsOutcome;
use renamed_topics::{delete_retired_topics, retirement};
use topic_plan::RecordedTopics;

pub use guard::{catch_panic, reconcile_guarded};

/// The one field manager of every object the operator writes.
pub const FIELD_MANAGER: &str = "shopstream-operator";
/// Guards the Kafka topics, which live outside the cluster.
pub const FINALIZER: &str = "analytics.shopstream.dev/topics";

pub use crate::model::pipeline_key;

pub async fn reconcile(pipeline: Arc<AnalyticsPipeline>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile_duration.start_timer();
    let started = std::time::Instant::now();
    let namespace = pipeline.namespace().unwrap_or_default();
    let api: Api<AnalyticsPipeline> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = finalizer(&api, FINALIZER, pipeline, |event| async {
        match event {
            FinalizerEvent::Apply(p) => {
                let fresher = ctx.freshest(&p);
                apply_pipeline(fresher.as_ref().unwrap_or(&p), &ctx).await
            }
            FinalizerEvent::Cleanup(p) => {
                let fresher = ctx.freshest(&p);
                cleanup::cleanup(fresher.as_ref().unwrap_or(&p), &ctx).await
            }
        }
    })
    .await
    .map_err(|e| match e {
        finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e,
        other => Error::finalizer_caused_by(other.to_string(), other),
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
    let failures = if pipeline.metadata.deletion_timestamp.is_some() {
        // Cleanup counts its own attempts (cleanup.rs), from the deletion on.
        ctx.state.cleanup_failure_count(&key).max(1)
    } else {
        ctx.state.record_failure(&key)
    };
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

    let mut validated = match validate::validate(p, &ctx.settings.images) {
        Ok(v) => v,
        Err(error) => {
            write_failed_status(p, ctx, &previous, &error).await?;
            return Err(error);
        }
    };
    // A created KafkaUser first: Strimzi writes its Secret only then.
    if let Err(error) = kafka_user::reconcile_kafka_user(ctx, p, &validated).await {
        write_failed_status(p, ctx, &previous, &error).await?;
        return Err(error);
    }
    // The operator's own requests authenticate as the pipeline, or with
    // the operator's credential from the chart when it has one: the
    // Secrets (and files) are read on every reconcile, so a rotated
    // password is used from the next one on. The pipeline's Secrets are
    // read either way: the workloads need them, and their revision rolls
    // the pods.
    let credentials = read_credentials(&ctx.client, &validated.namespace, &validated.kafka_security)
        .await
        .map_err(|error| match (error, &validated.kafka_security.created_user) {
            (Error::KafkaCredentials(why), Some(user)) => Error::KafkaCredentials(format!(
                "{why}; it is the Secret of KafkaUser {user}, which Strimzi's User Operator writes once it has created the user (it must watch namespace {})",
                validated.namespace
            )),
            (error, _) => error,
        })
        .and_then(|credentials| {
            validated.kafka_secrets_revision = credentials.as_ref().map(|c| c.revision.clone());
            ctx.kafka.set_credentials(&key, credentials)
        });
    if let Err(error) = credentials {
        write_failed_status(p, ctx, &previous, &error).await?;
        return Err(error);
    }

    autoscale::apply_replicas(ctx, &key, p, &mut validated);

    // Topics first: the workloads need them.
    let recorded = RecordedTopics::from_status(p.status.as_ref());
    let retirement = retirement(ctx, p, &validated).await;
    let started = std::time::Instant::now();
    let (topics, kafka_failure) = provision_topics(p, ctx, &validated, &recorded, &previous).await;
    let topics_done = started.elapsed();
    let mut retired = retirement.delete;
    if topics.created {
        // Which topics the pipeline created is known only now and decides
        // what it may delete later: recorded before anything else can fail.
        let recorded = AnalyticsPipelineStatus {
            topics: topics.statuses.clone(),
            retired_topics: retired.clone(),
            ..previous.clone()
        };
        patch_status(p, ctx, &recorded).await?;
    }

    let workloads = apply::apply_workloads(ctx, p, &validated).await?;
    if let WorkloadsOutcome::Conflict(conflicts) = workloads {
        return block_on_conflict(p, ctx, &validated, &previous, topics, retired, conflicts).await;
    }
    let applied = workloads == WorkloadsOutcome::Applied;
    ctx.metrics
        .workload_applies
        .with_label_values(&[if applied { "applied" } else { "unchanged" }])
        .inc();
    let workloads_done = started.elapsed();
    // The workloads point at the new topics now: the renamed ones can go.
    if !retired.is_empty() {
        retired = delete_retired_topics(p, ctx, &validated, retired).await;
    }

    let observed = observe::observe(ctx, &validated, &topics.state).await?;
    let observe_done = started.elapsed();
    let scaling = autoscale::decide(ctx, &key, p, &validated, observed.lag.as_ref().ok()).await;
    let mut summary = observe::summarise(ctx, &key, &validated, topics.state, observed, &previous);
    let rescaled = scaling.as_ref().is_some_and(|s| s.1);
    summary.processor.autoscaling = scaling.map(|s| s.0);

    let (phase, status) = derived_status(
        p,
        &previous,
        &summary.observations,
        AnalyticsPipelineStatus {
            topics: topics.statuses,
            retired_topics: retired,
            processor: Some(summary.processor),
            generator: summary.generator,
            serving: summary.serving,
            ..AnalyticsPipelineStatus::default()
        },
    );

    publish_phase_change(ctx, p, &previous, &status).await;
    publish_serving_ready_change(ctx, p, &previous, &status).await;
    restart_alerts::report(ctx, p, &validated).await;
    processor_alerts::report(ctx, p, &validated).await;
    lag_alerts::report(ctx, p, &validated, &summary.lag_transitions).await;
    if let Some(processor) = status.processor.as_ref() {
        ctx.metrics.set_pipeline_lag(
            &validated.namespace,
            &validated.name,
            processor.total_lag,
            processor.lag_seconds,
            processor.lag_verdict,
        );
    }
    ctx.set_phase(&key, phase);
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
    ctx.state.reset_failures(&key);
    if rescaled {
        // The StatefulSet gets the new replicas on the next pass.
        return Ok(Action::requeue(std::time::Duration::from_secs(1)));
    }
    let age = p
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| k8s_openapi::jiff::Timestamp::now().as_second() - t.0.as_second())
        .map_or(std::time::Duration::MAX, |s| {
            std::time::Duration::from_secs(s.max(0).unsigned_abs())
        });
    Ok(Action::requeue(ctx.refresh_delay(&key, phase, age)))
}

/// `observed` (topics, workloads…) completed with the conditions and
/// phase derived from `observations` (pure), conditions keeping their
/// transition times from `previous`.
fn derived_status(
    p: &AnalyticsPipeline,
    previous: &AnalyticsPipelineStatus,
    observations: &crate::status::Observations,
    observed: AnalyticsPipelineStatus,
) -> (Phase, AnalyticsPipelineStatus) {
    let builders = derive_conditions(observations);
    let phase = derive_phase(observations, &builders);
    let now =
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    let status = AnalyticsPipelineStatus {
        observed_generation: p.metadata.generation,
        phase: Some(phase),
        conditions: merge_conditions(&previous.conditions, builders, p.metadata.generation, &now),
        ..observed
    };
    (phase, status)
}

async fn publish_phase_change(
    ctx: &Context,
    p: &AnalyticsPipeline,
    previous: &AnalyticsPipelineStatus,
    status: &AnalyticsPipelineStatus,
) {
    let Some(phase) = status.phase else {
        return;
    };
    if previous.phase == Some(phase) {
        return;
    }
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
    info!(pipeline = %pipeline_key(p), ?phase, %why, "phase changed");
    publish(ctx, p, type_, reason, format!("phase {phase:?}: {why}")).await;
}

/// An Event when `ServingReady` turns True or False.
async fn publish_serving_ready_change(
    ctx: &Context,
    p: &AnalyticsPipeline,
    previous: &AnalyticsPipelineStatus,
    status: &AnalyticsPipelineStatus,
) {
    let Some(change) =
        crate::status::serving_ready_change(&previous.conditions, &status.conditions)
    else {
        return;
    };
    info!(pipeline = %pipeline_key(p), note = %change.note, "serving readiness changed");
    let type_ = if change.warning {
        EventType::Warning
    } else {
        EventType::Normal
    };
    publish(ctx, p, type_, change.reason, change.note).await;
}

/// Objects of the pipeline's names belong to someone else: nothing was
/// applied. The status says which, a Warning Event says it once, and the
/// error retries with backoff until the objects are gone.
async fn block_on_conflict(
    p: &AnalyticsPipeline,
    ctx: &Context,
    v: &ValidatedPipeline,
    previous: &AnalyticsPipelineStatus,
    topics: topics::TopicsOutcome,
    retired: Vec<crate::crd::RetiredTopic>,
    conflicts: Vec<String>,
) -> Result<Action> {
    let message = conflicts.join("; ");
    let already_reported = previous
        .conditions
        .iter()
        .any(|c| c.type_ == crate::status::READY && c.reason == "Conflict" && c.message == message);
    if !already_reported {
        warn!(pipeline = %pipeline_key(p), %message, "objects in the way; nothing applied");
        publish(ctx, p, EventType::Warning, "Conflict", message.clone()).await;
    }
    let observations = crate::status::Observations {
        topics: topics.state,
        generator: None,
        serving: None,
        processor: crate::status::ProcessorObservation {
            workload: crate::status::WorkloadObservation {
                ready: 0,
                desired: v.processor.spec.replicas,
            },
            group_members: None,
        },
        merge: None,
        lag: None,
        warnings: Vec::new(),
        previous_phase: previous.phase,
        conflict: Some(message.clone()),
    };
    let (phase, status) = derived_status(
        p,
        previous,
        &observations,
        AnalyticsPipelineStatus {
            topics: topics.statuses,
            retired_topics: retired,
            ..previous.clone()
        },
    );
    publish_phase_change(ctx, p, previous, &status).await;
    ctx.set_phase(&pipeline_key(p), phase);
    patch_status(p, ctx, &status).await?;
    Err(Error::Conflict(message))
}

/// Provisions the topics in the mode the spec asks for. Kafka outages do not
/// abort the reconcile: they become the TopicsReady condition, and the error
/// is returned last so the retry backs off.
async fn provision_topics(
    p: &AnalyticsPipeline,
    ctx: &Context,
    v: &ValidatedPipeline,
    recorded: &RecordedTopics,
    previous: &AnalyticsPipelineStatus,
) -> (topics::TopicsOutcome, Option<Error>) {
    let outcome = match &v.strimzi_cluster {
        Some(cluster) => {
            strimzi::reconcile_kafka_topics(
                &ctx.client,
                &ctx.strimzi,
                &ctx.kafka,
                v,
                cluster,
                p,
                recorded,
            )
            .await
        }
        None => match ctx
            .kafka
            .admin(ClientUse::Pipeline(&pipeline_key(p)), &v.bootstrap_servers)
        {
            Ok(admin) => topics::reconcile_topics(&admin, &v.topics, recorded).await,
            Err(e) => Err(e),
        },
    };
    match outcome {
        Ok(outcome) => {
            if !outcome.changes.is_empty() {
                publish(
                    ctx,
                    p,
                    EventType::Normal,
                    "TopicsProvisioned",
                    outcome.changes.join("; "),
                )
                .await;
            }
            if let TopicsState::Conflict(why) = &outcome.state {
                publish(ctx, p, EventType::Warning, "TopicConflict", why.clone()).await;
            }
            (outcome, None)
        }
        Err(error) => {
            let stale: Vec<TopicStatus> = previous
                .topics
                .iter()
                .cloned()
                .map(|mut t| {
                    t.ready = false;
                    t.message = Some("not verified: Kafka unreachable".into());
                    t
                })
                .collect();
            let state = match (&error, error.kafka_security_failure()) {
                (Error::Kafka { message, .. }, Some(reason)) => TopicsState::KafkaRefused {
                    reason,
                    message: crate::kafka_security::explain(
                        reason,
                        &v.kafka_security,
                        ctx.kafka.operator_credential(),
                        message,
                    ),
                },
                (Error::Kafka { message, .. }, None) => {
                    TopicsState::KafkaUnreachable(message.clone())
                }
                (other, _) => TopicsState::Error(other.to_string()),
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
            let outcome = topics::TopicsOutcome {
                statuses: stale,
                state,
                changes: Vec::new(),
                created: false,
            };
            (outcome, retry)
        }
    }
}

async fn write_failed_status(
    p: &AnalyticsPipeline,
    ctx: &Context,
    previous: &AnalyticsPipelineStatus,
    error: &Error,
) -> Result<()> {
    let now =
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    let conditions = crate::status::ready_false_after_error(
        &previous.conditions,
        error.category(),
        error.to_string(),
        p.metadata.generation,
        &now,
    );
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
    ctx.set_phase(&pipeline_key(p), Phase::Failed);
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
    ctx.state.record_written(&pipeline_key(p), p, status);
    Ok(())
}

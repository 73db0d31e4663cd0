//! The autoscaler's two moments in a reconcile. Before the workloads are
//! built, [`apply_replicas`] puts the replicas it decided into the validated
//! pipeline (the StatefulSet gets them). After lag was observed, [`decide`]
//! feeds the sample to the stabilizer (`autoscale::decision`, pure) and
//! records the new decision, which the next reconcile (requeued at once)
//! applies. A decision survives an operator restart through the status.

use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::events::EventType;
use tracing::info;

use super::publish;
use crate::autoscale::{Load, Policy};
use crate::context::Context;
use crate::crd::autoscaling::DEFAULT_TARGET_LAG_PER_REPLICA;
use crate::crd::{AnalyticsPipeline, AutoscalingSpec, AutoscalingStatus};
use crate::kafka::LagSample;
use crate::model::ValidatedPipeline;

/// The enabled autoscaling section of the spec.
fn enabled(v: &ValidatedPipeline) -> Option<&AutoscalingSpec> {
    v.processor.spec.autoscaling.as_ref().filter(|a| a.enabled)
}

/// The spec's bounds and targets; the maximum capped at the input
/// partitions (never below the minimum, which the spec may set higher).
pub fn policy(spec: &AutoscalingSpec, input_partitions: i32) -> Policy {
    let max = spec
        .max_replicas
        .min(input_partitions)
        .max(spec.min_replicas);
    let (records, seconds) = match (spec.target_lag_per_replica, spec.target_lag_seconds) {
        (None, None) => (Some(DEFAULT_TARGET_LAG_PER_REPLICA), None),
        targets => targets,
    };
    Policy {
        min_replicas: spec.min_replicas,
        max_replicas: max,
        target_lag_per_replica: records,
        target_lag_seconds: seconds,
        up_window: Duration::from_secs(
            u64::try_from(spec.scale_up_stabilization_seconds).unwrap_or(0),
        ),
        down_window: Duration::from_secs(
            u64::try_from(spec.scale_down_stabilization_seconds).unwrap_or(0),
        ),
    }
}

/// With autoscaling enabled, the processor runs the replicas the autoscaler
/// decided (this operator's last decision, else the status's, else the
/// spec's replicas), within the policy's bounds.
pub fn apply_replicas(ctx: &Context, key: &str, p: &AnalyticsPipeline, v: &mut ValidatedPipeline) {
    let Some(spec) = enabled(v) else {
        return;
    };
    let policy = policy(spec, v.input_partitions());
    let decided = ctx
        .state
        .peek(key, |s| s.autoscaled_replicas)
        .flatten()
        .or_else(|| {
            p.status
                .as_ref()
                .and_then(|s| s.processor.as_ref())
                .and_then(|s| s.autoscaling.as_ref())
                .map(|a| a.desired_replicas)
        });
    let replicas = decided
        .unwrap_or(v.processor.spec.replicas)
        .clamp(policy.min_replicas, policy.max_replicas);
    v.processor.spec.replicas = replicas;
    // Replicas beyond the partitions cannot happen: the bounds cap them.
    v.warnings.retain(|w| !w.contains("will sit idle"));
}

/// Decides from this reconcile's lag sample; `None` without autoscaling.
/// Returns the status section and whether the replicas change.
pub async fn decide(
    ctx: &Context,
    key: &str,
    p: &AnalyticsPipeline,
    v: &ValidatedPipeline,
    sample: Option<&LagSample>,
) -> Option<(AutoscalingStatus, bool)> {
    let spec = enabled(v)?;
    let policy = policy(spec, v.input_partitions());
    let current = v.processor.spec.replicas;
    let previous = p
        .status
        .as_ref()
        .and_then(|s| s.processor.as_ref())
        .and_then(|s| s.autoscaling.clone());
    let last_scale_time = ctx
        .state
        .peek(key, |s| s.last_scale_time.clone())
        .flatten()
        .or_else(|| previous.as_ref().and_then(|a| a.last_scale_time.clone()));
    let Some(sample) = sample else {
        return Some((
            AutoscalingStatus {
                desired_replicas: current,
                reason: "lag could not be measured: keeping the replicas".into(),
                last_scale_time,
            },
            false,
        ));
    };
    let input_end: i64 = sample.partitions.iter().map(|p| p.log_end_offset).sum();
    let now = Instant::now();
    let (input_rate, consumed_rate) = ctx.state.with(key, |s| {
        (
            s.throughput.input.observe(input_end, now),
            s.throughput
                .consumed
                .observe(input_end - sample.total_lag, now),
        )
    });
    let load = Load {
        current,
        total_lag: sample.total_lag,
        lag_seconds: sample.lag_seconds,
        partitions_with_lag: i32::try_from(sample.partitions.iter().filter(|p| p.lag > 0).count())
            .unwrap_or(i32::MAX),
        group_settled: matches!(sample.group_state.as_str(), "Stable" | "Empty"),
        input_rate,
        consumed_rate,
    };
    let decision = ctx
        .state
        .with(key, |s| s.autoscaler.decide(&policy, &load, now));
    if decision.replicas == current {
        return Some((
            AutoscalingStatus {
                desired_replicas: current,
                reason: decision.reason,
                last_scale_time,
            },
            false,
        ));
    }
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    ctx.state.with(key, |s| {
        s.autoscaled_replicas = Some(decision.replicas);
        s.last_scale_time = Some(now.clone());
    });
    let message = format!(
        "processor scaled from {current} to {} replicas: {}",
        decision.replicas, decision.reason
    );
    info!(pipeline = %key, from = current, to = decision.replicas, reason = %decision.reason, "autoscaled");
    let (direction, reason) = if decision.replicas > current {
        ("up", "ScaledUp")
    } else {
        ("down", "ScaledDown")
    };
    ctx.metrics
        .autoscaler_changes
        .with_label_values(&[direction])
        .inc();
    publish(ctx, p, EventType::Normal, reason, message).await;
    Some((
        AutoscalingStatus {
            desired_replicas: decision.replicas,
            reason: decision.reason,
            last_scale_time: Some(now),
        },
        true,
    ))
}

//! Step 6a: processor restarts and crash loops. Lists the processor's pods
//! by the pipeline's labels, feeds their restart counts to the pipeline's
//! `RestartWatch` (`alerts::restarts`, pure) and turns what it raises into
//! an Event on the pipeline, a log line and an alert on the alerts topic
//! (written with the lag alerts, `lag_alerts::report`).

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use kube::runtime::events::EventType;
use tracing::{info, warn};

use super::{pipeline_key, publish};
use crate::alerts::restarts::{ContainerObservation, RestartAlert, RestartPolicy};
use crate::alerts::{Alert, Severity};
use crate::context::Context;
use crate::crd::{AlertsSpec, AnalyticsPipeline};
use crate::model::ValidatedPipeline;
use crate::workloads::{Component, selector_labels};

/// The container the processor runs in (workloads::deployment).
const CONTAINER: &str = "processor";

pub fn policy(spec: Option<&AlertsSpec>) -> RestartPolicy {
    let spec = spec.cloned().unwrap_or_default();
    RestartPolicy {
        threshold: spec.processor_restarts,
        window: Duration::from_secs(
            u64::try_from(spec.processor_restart_window_seconds).unwrap_or(900),
        ),
    }
}

/// The processor containers of the pipeline's pods; `Err` when the pods
/// cannot be listed.
async fn processor_containers(
    ctx: &Context,
    v: &ValidatedPipeline,
) -> Result<Vec<ContainerObservation>, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &v.namespace);
    let selector = selector_labels(&v.name, Component::Processor)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let list = pods.list(&ListParams::default().labels(&selector)).await?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|pod| {
            let name = pod.metadata.name?;
            let status = pod
                .status?
                .container_statuses?
                .into_iter()
                .find(|c| c.name == CONTAINER)?;
            Some(ContainerObservation {
                pod: name,
                restarts: status.restart_count,
                waiting_reason: status.state.and_then(|s| s.waiting).and_then(|w| w.reason),
                last_termination: status
                    .last_state
                    .and_then(|s| s.terminated)
                    .and_then(|t| t.reason),
            })
        })
        .collect())
}

pub async fn report(ctx: &Context, p: &AnalyticsPipeline, v: &ValidatedPipeline) {
    let key = pipeline_key(p);
    let containers = match processor_containers(ctx, v).await {
        Ok(containers) => containers,
        Err(error) => {
            warn!(pipeline = %key, %error, "cannot list the processor pods; restarts are not judged this time");
            return;
        }
    };
    let policy = policy(p.spec.alerts.as_ref());
    let raised = ctx.state.with(&key, |s| {
        s.restarts.observe(&containers, &policy, Instant::now())
    });
    let now = chrono::Utc::now();
    for alert in raised {
        let message = alert.message(&policy);
        let (type_, severity, reason, event_type) = match alert {
            RestartAlert::Restarting { .. } => (
                "processor_restarts",
                Severity::Warning,
                "ProcessorRestarting",
                EventType::Warning,
            ),
            RestartAlert::CrashLoop { .. } => (
                "processor_crash_loop",
                Severity::Critical,
                "ProcessorCrashLooping",
                EventType::Warning,
            ),
            RestartAlert::Settled { .. } => (
                "processor_restarts_ok",
                Severity::Info,
                "ProcessorSettled",
                EventType::Normal,
            ),
        };
        info!(pipeline = %key, alert = type_, %message, "processor restart alert");
        let record = Alert::new(&key, type_, severity, message.clone(), now);
        let dropped = ctx.state.with(&key, |s| s.alerts.push(&record, &key));
        ctx.metrics.alerts_dropped.inc_by(dropped as u64);
        publish(ctx, p, event_type, reason, message).await;
    }
}

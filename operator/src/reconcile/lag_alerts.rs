//! Step 6: report lag verdict changes. Each change is a Kubernetes Event on
//! the pipeline (Warning unless the group is OK again), a log line and an
//! alert on the pipeline's alerts topic; alerts Kafka could not take are
//! written on a later reconcile (see `alerts::outbox`). Writes every alert
//! waiting in the outbox, also those `restart_alerts` (step 6a) queued.

use kube::runtime::events::EventType;
use tracing::{info, warn};

use super::{pipeline_key, publish};
use crate::alerts::{self, Alert};
use crate::context::Context;
use crate::crd::{AnalyticsPipeline, LagVerdict};
use crate::kafka::ClientUse;
use crate::model::{TopicRole, ValidatedPipeline};
use crate::status::lag_transitions::Transition;

/// The Event reason of a change to `verdict`, as the LagHealthy condition
/// names it.
pub fn event_reason(verdict: LagVerdict) -> &'static str {
    match verdict {
        LagVerdict::Ok => "LagOK",
        LagVerdict::Warn => "LagGrowing",
        LagVerdict::Stall => "LagStalled",
        LagVerdict::Stop => "ConsumerStopped",
    }
}

pub async fn report(
    ctx: &Context,
    p: &AnalyticsPipeline,
    v: &ValidatedPipeline,
    transitions: &[Transition],
) {
    let key = pipeline_key(p);
    let now = chrono::Utc::now();
    for t in transitions {
        let message = t.message();
        info!(pipeline = %key, group = %t.group, from = ?t.from, to = ?t.to, %message, "lag verdict changed");
        ctx.metrics
            .lag_verdict_changes
            .with_label_values(&[t.to.as_str()])
            .inc();
        let alert = Alert::lag_verdict(&key, t.to, message.clone(), now);
        let dropped = ctx.state.with(&key, |s| s.alerts.push(&alert, &key));
        ctx.metrics.alerts_dropped.inc_by(dropped as u64);
        let type_ = if t.to == LagVerdict::Ok {
            EventType::Normal
        } else {
            EventType::Warning
        };
        publish(ctx, p, type_, event_reason(t.to), message).await;
    }
    write_waiting(ctx, &key, v).await;
}

/// Writes the pipeline's waiting alerts; on failure they wait for the
/// next reconcile.
async fn write_waiting(ctx: &Context, key: &str, v: &ValidatedPipeline) {
    if ctx.state.peek(key, |s| s.alerts.is_empty()).unwrap_or(true) {
        return;
    }
    let admin = match ctx
        .kafka
        .admin(ClientUse::Pipeline(key), &v.bootstrap_servers)
    {
        Ok(admin) => admin,
        Err(error) => {
            warn!(pipeline = %key, %error, "cannot write alerts; retrying on the next reconcile");
            ctx.metrics.alert_write_failures.inc();
            return;
        }
    };
    let records = ctx.state.with(key, |s| s.alerts.take());
    let topic = v.topic_name(TopicRole::Alerts);
    match alerts::write(admin.client(), topic, &records).await {
        Ok(()) => ctx.metrics.alerts_written.inc_by(records.len() as u64),
        Err(error) => {
            warn!(pipeline = %key, topic, waiting = records.len(), %error, "cannot write alerts; retrying on the next reconcile");
            ctx.metrics.alert_write_failures.inc();
            ctx.state.with(key, |s| s.alerts.restore(records));
        }
    }
}

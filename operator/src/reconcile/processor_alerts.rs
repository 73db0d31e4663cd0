//! Step 6b: the alerts the processor wrote to the pipeline's alerts topic
//! (dead-letter rate, bursts of high-value anomalies, slow windows) become
//! Events on the pipeline. Every status refresh reads the topic from where
//! the last read ended, read-committed, with the operator's own Kafka
//! client (no consumer group: the position is the operator's memory,
//! `alerts::processor_alerts::AlertTail`). The first read of a pipeline
//! starts at the topic's end.

use std::time::Duration;

use kafka_admin::{ErrorCode, IsolationLevel, OffsetSpec};
use kube::runtime::events::EventType;
use tracing::{info, warn};

use super::{pipeline_key, publish};
use crate::context::Context;
use crate::crd::AnalyticsPipeline;
use crate::kafka::ClientUse;
use crate::model::{TopicRole, ValidatedPipeline};

/// Bounds each read, so an unreachable broker delays the refresh by no
/// more than this.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Replies read per refresh at most (each up to ~256 KiB): a backlog of
/// alerts is relayed over several refreshes.
const READS_PER_REFRESH: usize = 4;

pub async fn report(ctx: &Context, p: &AnalyticsPipeline, v: &ValidatedPipeline) {
    let key = pipeline_key(p);
    let topic = v.topic_name(TopicRole::Alerts).to_owned();
    let admin = match ctx
        .kafka
        .admin(ClientUse::Pipeline(&key), &v.bootstrap_servers)
    {
        Ok(admin) => admin,
        Err(error) => {
            warn!(pipeline = %key, %error, "cannot read the processor's alerts; retrying on the next refresh");
            return;
        }
    };
    let client = admin.client();
    let position = match ctx.state.with(&key, |s| s.processor_alerts.position) {
        Some(position) => position,
        None => {
            let partition = (topic.clone(), 0);
            let end = client
                .list_offsets(
                    std::slice::from_ref(&partition),
                    OffsetSpec::Latest,
                    IsolationLevel::ReadCommitted,
                    READ_TIMEOUT,
                )
                .await
                .ok()
                .and_then(|mut ends| ends.remove(&partition))
                .and_then(Result::ok);
            let Some(end) = end else {
                warn!(pipeline = %key, %topic, "cannot find the end of the alerts topic; retrying on the next refresh");
                return;
            };
            ctx.state
                .with(&key, |s| s.processor_alerts.position = Some(end));
            return;
        }
    };
    let mut from = position;
    for _ in 0..READS_PER_REFRESH {
        let read = match client.read_committed(&topic, 0, from, READ_TIMEOUT).await {
            Ok(read) => read,
            Err(error) => {
                if error
                    .broker_error()
                    .is_some_and(|e| e.code == ErrorCode::OFFSET_OUT_OF_RANGE)
                {
                    // Retention deleted what was not read (or the topic
                    // was recreated): start again at its end.
                    warn!(pipeline = %key, %topic, from, "alerts topic position out of range; starting at its end");
                    ctx.state.with(&key, |s| s.processor_alerts.position = None);
                } else {
                    warn!(pipeline = %key, %topic, %error, "cannot read the processor's alerts; retrying on the next refresh");
                }
                return;
            }
        };
        let events: Vec<_> = ctx.state.with(&key, |s| {
            read.records
                .iter()
                .filter_map(|r| s.processor_alerts.admit(r.value.as_deref()?))
                .collect()
        });
        for event in events {
            info!(pipeline = %key, reason = event.reason, message = %event.message, "processor alert");
            ctx.metrics
                .processor_alert_events
                .with_label_values(&[event.reason])
                .inc();
            publish(ctx, p, EventType::Warning, event.reason, event.message).await;
        }
        let done = read.next >= read.end || read.next <= from;
        from = read.next.max(from);
        ctx.state
            .with(&key, |s| s.processor_alerts.position = Some(from));
        if done {
            return;
        }
    }
}

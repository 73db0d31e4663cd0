//! The last status the operator wrote for each pipeline.
//!
//! A reconcile reads the previous status from the controller's cache. That
//! cache learns of the operator's own status write only when the watch
//! delivers it; a reconcile triggered in between (by the workloads the same
//! reconcile just created, or a pod becoming ready) would see an older
//! status:
//! - without the topics it created: it would find them existing and record
//!   them as someone else's, never deleted, never changed;
//! - without the conditions it wrote: a change of `ServingReady` or of the
//!   phase would be judged against the wrong past, and its Event lost or
//!   repeated.
//!
//! Only this operator writes the status (and only while it holds the
//! lease: a replica that loses it exits), so what it wrote last is never
//! older than the cache: it is used instead, until the process restarts
//! (and the cache starts from a fresh list).

use kube::ResourceExt;

use crate::crd::{AnalyticsPipeline, AnalyticsPipelineStatus};
use crate::pipeline_state::PipelineStates;

/// One pipeline's last written status (a part of its
/// [`crate::pipeline_state::PipelineState`]).
pub struct WrittenStatus {
    /// The pipeline object (a re-created pipeline of the same name is
    /// another one).
    uid: String,
    status: AnalyticsPipelineStatus,
}

impl PipelineStates {
    /// The status `key` was just written with.
    pub fn record_written(
        &self,
        key: &str,
        pipeline: &AnalyticsPipeline,
        status: &AnalyticsPipelineStatus,
    ) {
        let Some(uid) = pipeline.uid() else {
            return;
        };
        let written = WrittenStatus {
            uid,
            status: status.clone(),
        };
        self.with(key, |s| s.written = Some(written));
    }

    /// `pipeline`'s status as last written, when the operator wrote it
    /// since it started.
    pub fn freshen(
        &self,
        key: &str,
        pipeline: &AnalyticsPipeline,
    ) -> Option<AnalyticsPipelineStatus> {
        let uid = pipeline.uid()?;
        let states = self.lock();
        let written = states
            .get(key)
            .and_then(|s| s.written.as_ref())
            .filter(|w| w.uid == uid)?;
        Some(written.status.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{TopicOrigin, TopicStatus};

    fn pipeline(uid: &str, topics: Vec<TopicStatus>) -> AnalyticsPipeline {
        let mut p: AnalyticsPipeline = serde_yaml::from_str(
            "
apiVersion: analytics.shopstream.dev/v1alpha1
kind: AnalyticsPipeline
metadata: {name: shop, namespace: team-a}
spec:
  kafka: {bootstrapServers: 'kafka:9092'}
",
        )
        .expect("pipeline");
        p.metadata.uid = Some(uid.into());
        p.status = Some(AnalyticsPipelineStatus {
            topics,
            ..AnalyticsPipelineStatus::default()
        });
        p
    }

    fn created(name: &str) -> TopicStatus {
        TopicStatus {
            role: "input".into(),
            name: name.into(),
            partitions: Some(3),
            replication_factor: Some(1),
            ready: true,
            origin: Some(TopicOrigin::Created),
            managed: true,
            message: None,
        }
    }

    /// A `ServingReady` the stale cache has not seen yet: the next
    /// reconcile must judge its change against it (or its Event is lost).
    fn fresh_conditions() -> Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
        serde_yaml::from_str(
            "
- {type: ServingReady, status: 'False', reason: RedisNotReady, message: waiting,
   lastTransitionTime: '2026-11-30T09:00:00Z', observedGeneration: 1}
",
        )
        .expect("conditions")
    }

    #[test]
    fn what_was_written_wins_over_a_stale_cache() {
        let written = PipelineStates::default();
        let stale = pipeline("uid-1", vec![]);
        assert_eq!(written.freshen("team-a/shop", &stale), None);

        let mut fresh = pipeline("uid-1", vec![created("team-a.shop.input")]);
        if let Some(status) = fresh.status.as_mut() {
            status.conditions = fresh_conditions();
        }
        written.record_written(
            "team-a/shop",
            &fresh,
            fresh.status.as_ref().expect("status"),
        );
        let seen = written.freshen("team-a/shop", &stale).expect("written");
        assert_eq!(seen.topics, [created("team-a.shop.input")]);
        assert_eq!(seen.conditions, fresh_conditions());

        // A pipeline re-created under the same name starts from its own status.
        let other = pipeline("uid-2", vec![]);
        assert_eq!(written.freshen("team-a/shop", &other), None);
        written.forget("team-a/shop");
        assert_eq!(written.freshen("team-a/shop", &stale), None);
    }
}

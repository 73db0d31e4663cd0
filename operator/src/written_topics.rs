//! The topic part of the last status the operator wrote for each pipeline.
//!
//! Which topics a pipeline created is recorded in its status, and a
//! reconcile reads it from the controller's cache. That cache learns of the
//! operator's own status write only when the watch delivers it; a reconcile
//! triggered in between (by the workloads the same reconcile just created)
//! would see a status without the topics it created, find them existing,
//! and record them as someone else's: never deleted, never changed. Only
//! this operator writes the status, so what it wrote last is never older
//! than the cache: it is used instead, until the process restarts (and the
//! cache starts from a fresh list).

use kube::ResourceExt;

use crate::crd::{AnalyticsPipeline, AnalyticsPipelineStatus, RetiredTopic, TopicStatus};
use crate::pipeline_state::PipelineStates;

/// One pipeline's last written topics (a part of its
/// [`crate::pipeline_state::PipelineState`]).
pub struct WrittenStatus {
    /// The pipeline object (a re-created pipeline of the same name is
    /// another one).
    uid: String,
    topics: Vec<TopicStatus>,
    retired_topics: Vec<RetiredTopic>,
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
            topics: status.topics.clone(),
            retired_topics: status.retired_topics.clone(),
        };
        self.with(key, |s| s.written = Some(written));
    }

    /// `pipeline`'s status with the topics as last written, when the
    /// operator wrote them since it started.
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
        Some(AnalyticsPipelineStatus {
            topics: written.topics.clone(),
            retired_topics: written.retired_topics.clone(),
            ..pipeline.status.clone().unwrap_or_default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::TopicOrigin;

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

    #[test]
    fn what_was_written_wins_over_a_stale_cache() {
        let written = PipelineStates::default();
        let stale = pipeline("uid-1", vec![]);
        assert_eq!(written.freshen("team-a/shop", &stale), None);

        let fresh = pipeline("uid-1", vec![created("team-a.shop.input")]);
        written.record_written(
            "team-a/shop",
            &fresh,
            fresh.status.as_ref().expect("status"),
        );
        let seen = written.freshen("team-a/shop", &stale).expect("written");
        assert_eq!(seen.topics, [created("team-a.shop.input")]);

        // A pipeline re-created under the same name starts from its own status.
        let other = pipeline("uid-2", vec![]);
        assert_eq!(written.freshen("team-a/shop", &other), None);
        written.forget("team-a/shop");
        assert_eq!(written.freshen("team-a/shop", &stale), None);
    }
}

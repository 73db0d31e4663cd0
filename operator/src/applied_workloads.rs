//! What the operator last applied for each pipeline, so that a periodic
//! status refresh can skip the server-side apply of objects that cannot
//! have changed.
//!
//! Without this, every refresh (every 15 s per pipeline) re-sent four
//! objects through server-side apply: the API server decodes, merges and
//! compares each one only to find nothing to do. With 1,000 pipelines that
//! is most of a reconcile's time and of the API server's load.
//!
//! An apply is skipped only when both sides are known to be unchanged:
//! - the operator's side: the desired objects hash to the same fingerprint
//!   as at the last apply (spec, defaults and operator flags all feed the
//!   builders, so any change there changes the fingerprint);
//! - the cluster's side: since that apply, the watches on the owned objects
//!   reported no object at another resourceVersion than the one the apply
//!   returned, no deletion and no watch restart (which could hide either).
//!
//! Anything else invalidates the entry, and the next reconcile applies
//! again.
//!
//! The same entry remembers which children were seen to be the pipeline's
//! own (read back with its controller owner reference), so an apply only
//! reads first the objects it has not verified since the last
//! invalidation: the check that keeps the operator from taking over
//! someone else's object costs nothing on refreshes. Versions seen while an apply is in flight are compared with what
//! the apply returned once it completes: the echo of the operator's own
//! write is expected, any later version is not. As a safety net against a
//! change the watches never delivered, entries also expire after
//! [`MAX_AGE`].

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::pipeline_state::PipelineStates;

/// Re-apply at least this often even if nothing was seen to change.
pub const MAX_AGE: Duration = Duration::from_secs(600);

/// The kind of the owner whose children are tracked.
const OWNER_KIND: &str = "AnalyticsPipeline";

/// An owned object: (kind, name).
pub type ChildId = (&'static str, String);

/// One pipeline's record (a part of its [`crate::pipeline_state::PipelineState`]).
#[derive(Default)]
pub struct AppliedRecord {
    /// `None` until an apply completed without interference, or after an
    /// invalidation.
    fingerprint: Option<u64>,
    versions: HashMap<ChildId, String>,
    applied_at: Option<Instant>,
    /// Bumped by every invalidation; an apply records its result only if
    /// no invalidation happened since it began.
    epoch: u64,
    /// While an apply is in flight: the last version the watches reported
    /// for each child.
    seen_during_apply: Option<HashMap<ChildId, String>>,
    /// Children read back as owned by the pipeline since the last
    /// invalidation.
    verified_owned: HashSet<ChildId>,
}

/// Hashes the desired objects as they would be sent.
pub fn fingerprint<T: Serialize>(objects: &T) -> serde_json::Result<u64> {
    let mut hasher = DefaultHasher::new();
    serde_json::to_vec(objects)?.hash(&mut hasher);
    Ok(hasher.finish())
}

impl PipelineStates {
    /// Whether the objects with this fingerprint were applied and nothing
    /// has touched them since.
    pub fn is_current(&self, pipeline: &str, fingerprint: u64) -> bool {
        self.lock()
            .get(pipeline)
            .map(|s| &s.applied)
            .is_some_and(|e| {
                e.fingerprint == Some(fingerprint)
                    && e.applied_at.is_some_and(|t| t.elapsed() < MAX_AGE)
            })
    }

    /// Call before applying; pass the result to [`Self::record`].
    pub fn begin(&self, pipeline: &str) -> u64 {
        let mut states = self.lock();
        let entry = &mut states.entry(pipeline.to_string()).or_default().applied;
        // Until this apply completes, nothing is known to be current (it
        // may fail half-way).
        entry.fingerprint = None;
        entry.seen_during_apply = Some(HashMap::new());
        entry.epoch
    }

    /// Records a completed apply and the resourceVersions it returned,
    /// unless a change was seen since [`Self::begin`].
    pub fn record(
        &self,
        pipeline: &str,
        epoch: u64,
        fingerprint: u64,
        versions: HashMap<ChildId, String>,
    ) {
        let mut states = self.lock();
        let entry = &mut states.entry(pipeline.to_string()).or_default().applied;
        let seen = entry.seen_during_apply.take().unwrap_or_default();
        // A version the apply did not return came after it.
        let changed_since = seen
            .iter()
            .any(|(child, rv)| versions.get(child) != Some(rv));
        if changed_since {
            invalidate(entry);
        } else if entry.epoch == epoch {
            entry.fingerprint = Some(fingerprint);
            entry.versions = versions;
            entry.applied_at = Some(Instant::now());
        }
    }

    /// A watch saw `child` (of `kind`) as it is now, or deleted.
    pub fn observe_child(&self, kind: &'static str, child: &ObjectMeta, deleted: bool) {
        let (Some(namespace), Some(name)) = (&child.namespace, &child.name) else {
            return;
        };
        let Some(owner) = child
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.kind == OWNER_KIND && o.controller == Some(true))
        else {
            return;
        };
        let key = format!("{namespace}/{}", owner.name);
        let mut states = self.lock();
        let Some(entry) = states.get_mut(&key).map(|s| &mut s.applied) else {
            return;
        };
        let id = (kind, name.clone());
        if let (Some(seen), Some(rv), false) = (
            &mut entry.seen_during_apply,
            &child.resource_version,
            deleted,
        ) {
            seen.insert(id, rv.clone());
            return;
        }
        let known = entry.versions.get(&id);
        if deleted || known.is_none() || known != child.resource_version.as_ref() {
            invalidate(entry);
        }
    }

    /// Whether `child` was read back as the pipeline's own since the last
    /// invalidation.
    pub fn is_verified_owned(&self, pipeline: &str, child: &ChildId) -> bool {
        self.lock()
            .get(pipeline)
            .is_some_and(|s| s.applied.verified_owned.contains(child))
    }

    /// `child` was read back as the pipeline's own.
    pub fn verified_owned(&self, pipeline: &str, child: ChildId) {
        self.lock()
            .entry(pipeline.to_string())
            .or_default()
            .applied
            .verified_owned
            .insert(child);
    }

    /// A watch restarted: deletions may have been missed.
    pub fn invalidate_all(&self) {
        self.lock()
            .values_mut()
            .for_each(|s| invalidate(&mut s.applied));
    }
}

fn invalidate(entry: &mut AppliedRecord) {
    entry.fingerprint = None;
    entry.epoch += 1;
    // A deleted child may have been replaced by someone else's object.
    entry.verified_owned.clear();
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    use super::*;

    const KEY: &str = "shop/orders";

    fn child(name: &str, rv: &str, owner: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("shop".into()),
            resource_version: Some(rv.into()),
            owner_references: Some(vec![OwnerReference {
                kind: OWNER_KIND.into(),
                name: owner.into(),
                controller: Some(true),
                ..OwnerReference::default()
            }]),
            ..ObjectMeta::default()
        }
    }

    fn applied(cache: &PipelineStates, rv: &str) {
        let epoch = cache.begin(KEY);
        cache.record(KEY, epoch, 7, processor_versions(rv));
    }

    #[test]
    fn unchanged_objects_skip_the_apply() {
        let cache = PipelineStates::default();
        assert!(!cache.is_current(KEY, 7), "never applied");
        applied(&cache, "10");
        assert!(cache.is_current(KEY, 7));
        assert!(!cache.is_current(KEY, 8), "another desired state");
        // The watch echoing the operator's own write changes nothing.
        cache.observe_child(
            "Deployment",
            &child("orders-processor", "10", "orders"),
            false,
        );
        assert!(cache.is_current(KEY, 7));
    }

    #[test]
    fn a_changed_or_deleted_child_forces_an_apply() {
        let cache = PipelineStates::default();
        applied(&cache, "10");
        cache.observe_child(
            "Deployment",
            &child("orders-processor", "11", "orders"),
            false,
        );
        assert!(!cache.is_current(KEY, 7), "modified");

        applied(&cache, "11");
        cache.observe_child(
            "Deployment",
            &child("orders-processor", "11", "orders"),
            true,
        );
        assert!(!cache.is_current(KEY, 7), "deleted");

        applied(&cache, "12");
        cache.observe_child(
            "Deployment",
            &child("orders-generator", "3", "orders"),
            false,
        );
        assert!(
            !cache.is_current(KEY, 7),
            "an object this apply did not write"
        );

        applied(&cache, "12");
        cache.invalidate_all();
        assert!(!cache.is_current(KEY, 7), "watch restarted");
    }

    #[test]
    fn other_pipelines_children_do_not_matter() {
        let cache = PipelineStates::default();
        applied(&cache, "10");
        cache.observe_child(
            "Deployment",
            &child("orders-processor", "99", "returns"),
            false,
        );
        assert!(cache.is_current(KEY, 7));
    }

    fn processor_versions(rv: &str) -> HashMap<ChildId, String> {
        HashMap::from([(("Deployment", "orders-processor".to_string()), rv.into())])
    }

    fn seen(cache: &PipelineStates, rv: &str, deleted: bool) {
        cache.observe_child(
            "Deployment",
            &child("orders-processor", rv, "orders"),
            deleted,
        );
    }

    #[test]
    fn a_change_during_the_apply_is_not_overwritten() {
        let cache = PipelineStates::default();
        applied(&cache, "10");
        let epoch = cache.begin(KEY);
        // The echo of the apply's own write (11), then someone else's (12).
        seen(&cache, "11", false);
        seen(&cache, "12", false);
        cache.record(KEY, epoch, 7, processor_versions("11"));
        assert!(!cache.is_current(KEY, 7));
    }

    #[test]
    fn the_echo_of_the_own_write_during_the_apply_is_expected() {
        let cache = PipelineStates::default();
        let epoch = cache.begin(KEY);
        // Someone else's version (9) before the apply's own write (10).
        seen(&cache, "9", false);
        seen(&cache, "10", false);
        cache.record(KEY, epoch, 7, processor_versions("10"));
        assert!(cache.is_current(KEY, 7));
    }

    #[test]
    fn a_deletion_during_the_apply_forces_another() {
        let cache = PipelineStates::default();
        let epoch = cache.begin(KEY);
        seen(&cache, "10", true);
        cache.record(KEY, epoch, 7, processor_versions("10"));
        assert!(!cache.is_current(KEY, 7));
    }

    #[test]
    fn an_apply_that_failed_half_way_is_not_current() {
        let cache = PipelineStates::default();
        applied(&cache, "10");
        cache.begin(KEY);
        assert!(!cache.is_current(KEY, 7));
    }

    #[test]
    fn ownership_is_verified_until_a_child_changes_or_goes() {
        let cache = PipelineStates::default();
        let processor = ("Deployment", "orders-processor".to_string());
        assert!(!cache.is_verified_owned(KEY, &processor));
        cache.verified_owned(KEY, processor.clone());
        applied(&cache, "10");
        assert!(
            cache.is_verified_owned(KEY, &processor),
            "an apply keeps it"
        );
        seen(&cache, "10", true);
        assert!(
            !cache.is_verified_owned(KEY, &processor),
            "deleted: the name may be someone else's now"
        );
        cache.verified_owned(KEY, processor.clone());
        cache.invalidate_all();
        assert!(!cache.is_verified_owned(KEY, &processor), "watch restarted");
    }

    #[test]
    fn fingerprints_follow_content() {
        let a = fingerprint(&serde_json::json!({"replicas": 1})).expect("serialisable");
        let b = fingerprint(&serde_json::json!({"replicas": 2})).expect("serialisable");
        assert_ne!(a, b);
        assert_eq!(
            a,
            fingerprint(&serde_json::json!({"replicas": 1})).expect("serialisable")
        );
    }
}

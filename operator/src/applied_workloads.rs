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
//! Anything else, including a change seen while an apply is in flight,
//! invalidates the entry, and the next reconcile applies again. As a
//! safety net against a change the watches never delivered, entries also
//! expire after [`MAX_AGE`].

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

/// Re-apply at least this often even if nothing was seen to change.
pub const MAX_AGE: Duration = Duration::from_secs(600);

/// The kind of the owner whose children are tracked.
const OWNER_KIND: &str = "AnalyticsPipeline";

/// An owned object: (kind, name).
pub type ChildId = (&'static str, String);

#[derive(Default)]
struct Entry {
    /// `None` until an apply completed without interference, or after an
    /// invalidation.
    fingerprint: Option<u64>,
    versions: HashMap<ChildId, String>,
    applied_at: Option<Instant>,
    /// Bumped by every invalidation; an apply records its result only if
    /// no invalidation happened since it began.
    epoch: u64,
}

#[derive(Default)]
pub struct AppliedWorkloads {
    entries: Mutex<HashMap<String, Entry>>,
}

/// Hashes the desired objects as they would be sent.
pub fn fingerprint<T: Serialize>(objects: &T) -> serde_json::Result<u64> {
    let mut hasher = DefaultHasher::new();
    serde_json::to_vec(objects)?.hash(&mut hasher);
    Ok(hasher.finish())
}

impl AppliedWorkloads {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the objects with this fingerprint were applied and nothing
    /// has touched them since.
    pub fn is_current(&self, pipeline: &str, fingerprint: u64) -> bool {
        self.lock().get(pipeline).is_some_and(|e| {
            e.fingerprint == Some(fingerprint)
                && e.applied_at.is_some_and(|t| t.elapsed() < MAX_AGE)
        })
    }

    /// Call before applying; pass the result to [`Self::record`].
    pub fn begin(&self, pipeline: &str) -> u64 {
        self.lock().entry(pipeline.to_string()).or_default().epoch
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
        let mut entries = self.lock();
        let entry = entries.entry(pipeline.to_string()).or_default();
        if entry.epoch == epoch {
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
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(&key) else {
            return;
        };
        let known = entry.versions.get(&(kind, name.clone()));
        if deleted || known.is_none() || known != child.resource_version.as_ref() {
            invalidate(entry);
        }
    }

    /// A watch restarted: deletions may have been missed.
    pub fn invalidate_all(&self) {
        self.lock().values_mut().for_each(invalidate);
    }

    /// The pipeline is gone.
    pub fn forget(&self, pipeline: &str) {
        self.lock().remove(pipeline);
    }
}

fn invalidate(entry: &mut Entry) {
    entry.fingerprint = None;
    entry.epoch += 1;
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

    fn applied(cache: &AppliedWorkloads, rv: &str) {
        let epoch = cache.begin(KEY);
        let versions = HashMap::from([(("Deployment", "orders-processor".to_string()), rv.into())]);
        cache.record(KEY, epoch, 7, versions);
    }

    #[test]
    fn unchanged_objects_skip_the_apply() {
        let cache = AppliedWorkloads::default();
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
        let cache = AppliedWorkloads::default();
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
        let cache = AppliedWorkloads::default();
        applied(&cache, "10");
        cache.observe_child(
            "Deployment",
            &child("orders-processor", "99", "returns"),
            false,
        );
        assert!(cache.is_current(KEY, 7));
    }

    #[test]
    fn a_change_during_the_apply_is_not_overwritten() {
        let cache = AppliedWorkloads::default();
        applied(&cache, "10");
        let epoch = cache.begin(KEY);
        cache.observe_child(
            "Deployment",
            &child("orders-processor", "12", "orders"),
            false,
        );
        let versions =
            HashMap::from([(("Deployment", "orders-processor".to_string()), "11".into())]);
        cache.record(KEY, epoch, 7, versions);
        assert!(!cache.is_current(KEY, 7));
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

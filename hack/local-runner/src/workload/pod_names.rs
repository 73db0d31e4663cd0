//! Which Pod each process stands in for.
//!
//! kube-controller-manager creates the Pods (kwok runs them, doing nothing);
//! a process takes the name of one of them so that what it reports (its
//! replica id, its `HOSTNAME`) matches what `kubectl get pods` shows.

use std::collections::{BTreeMap, HashSet};

use anyhow::Result;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt as _};

use super::desired::REVISION_ANNOTATION;

/// The label a ReplicaSet and its Pods carry: a hash of their pod template.
const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// The names of a Deployment's live Pods from its current ReplicaSet (oldest
/// first); empty when it has no selector or no current ReplicaSet yet.
pub async fn current_pod_names(
    client: &Client,
    ns: &str,
    uid: &str,
    revision: Option<&str>,
    match_labels: Option<&BTreeMap<String, String>>,
) -> Result<Vec<String>> {
    let Some(match_labels) = match_labels else {
        return Ok(Vec::new());
    };
    let selector = label_selector(match_labels);
    let replica_sets = Api::<ReplicaSet>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&selector))
        .await?
        .items;
    let Some(hash) = current_template_hash(&replica_sets, uid, revision) else {
        return Ok(Vec::new());
    };
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&format!("{selector},{POD_TEMPLATE_HASH}={hash}")))
        .await?
        .items;
    Ok(live_pod_names_oldest_first(pods))
}

/// Equality-based `matchLabels` as a list selector.
fn label_selector(match_labels: &BTreeMap<String, String>) -> String {
    match_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The pod-template hash of the Deployment's ReplicaSet at its revision:
/// owned by it (by uid, not by labels, which another Deployment may share)
/// and annotated with the same revision.
fn current_template_hash(
    replica_sets: &[ReplicaSet],
    owner_uid: &str,
    revision: Option<&str>,
) -> Option<String> {
    let revision = revision?;
    replica_sets
        .iter()
        .filter(|rs| rs.owner_references().iter().any(|o| o.uid == owner_uid))
        .find(|rs| {
            rs.annotations()
                .get(REVISION_ANNOTATION)
                .map(String::as_str)
                == Some(revision)
        })
        .and_then(|rs| rs.labels().get(POD_TEMPLATE_HASH).cloned())
}

/// Pods not being deleted, oldest first (by name within a second), so that
/// replica 0 keeps the oldest Pod's name from pass to pass.
fn live_pod_names_oldest_first(pods: Vec<Pod>) -> Vec<String> {
    let mut live: Vec<_> = pods
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| {
            (
                p.metadata.creation_timestamp.as_ref().map(|t| t.0),
                p.name_any(),
            )
        })
        .collect();
    live.sort();
    live.into_iter().map(|(_, name)| name).collect()
}

/// A pod name for each replica to start: the controller's Pods not already
/// stood in for by a running process, in order, then `fallback(index)` once
/// they run out (no Pods yet, or the API could not list them).
pub fn assign_pod_names(
    to_start: &[usize],
    current_pods: Vec<String>,
    in_use: &HashSet<String>,
    fallback: impl Fn(usize) -> String,
) -> Vec<(usize, String)> {
    let mut free = current_pods.into_iter().filter(|n| !in_use.contains(n));
    to_start
        .iter()
        .map(|&index| (index, free.next().unwrap_or_else(|| fallback(index))))
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
    use kube::api::ObjectMeta;

    use super::*;

    fn replica_set(owner: &str, revision: &str, hash: &str) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                owner_references: Some(vec![OwnerReference {
                    uid: owner.into(),
                    ..OwnerReference::default()
                }]),
                annotations: Some(BTreeMap::from([(
                    REVISION_ANNOTATION.to_string(),
                    revision.to_string(),
                )])),
                labels: Some(BTreeMap::from([(
                    POD_TEMPLATE_HASH.to_string(),
                    hash.to_string(),
                )])),
                ..ObjectMeta::default()
            },
            ..ReplicaSet::default()
        }
    }

    fn pod(name: &str, created_secs: Option<i64>, deleting: bool) -> Pod {
        let at = |s| Time(k8s_openapi::jiff::Timestamp::from_second(s).expect("valid timestamp"));
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                creation_timestamp: created_secs.map(at),
                deletion_timestamp: deleting.then(|| at(2_000_000_000)),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        }
    }

    #[test]
    fn the_selector_lists_every_label() {
        let labels = BTreeMap::from([
            ("app.kubernetes.io/instance".to_string(), "shop".to_string()),
            (
                "app.kubernetes.io/component".to_string(),
                "processor".to_string(),
            ),
        ]);
        assert_eq!(
            label_selector(&labels),
            "app.kubernetes.io/component=processor,app.kubernetes.io/instance=shop"
        );
    }

    #[test]
    fn the_current_replica_set_is_the_owned_one_at_the_deployments_revision() {
        let sets = [
            replica_set("other-deployment", "2", "foreign"),
            replica_set("uid-1", "1", "old"),
            replica_set("uid-1", "2", "current"),
        ];
        assert_eq!(
            current_template_hash(&sets, "uid-1", Some("2")).as_deref(),
            Some("current")
        );
        assert_eq!(current_template_hash(&sets, "uid-1", Some("3")), None);
        // Before the controller annotated the Deployment: no guess.
        assert_eq!(current_template_hash(&sets, "uid-1", None), None);
    }

    #[test]
    fn live_pods_come_oldest_first_and_deleting_ones_are_left_out() {
        let pods = vec![
            pod("p-new", Some(300), false),
            pod("p-b", Some(100), false),
            pod("p-going", Some(50), true),
            pod("p-a", Some(100), false),
        ];
        assert_eq!(
            live_pod_names_oldest_first(pods),
            vec!["p-a", "p-b", "p-new"]
        );
    }

    #[test]
    fn free_pod_names_are_handed_out_in_order_then_fallbacks() {
        let in_use = HashSet::from(["p-a".to_string()]);
        let names = assign_pod_names(&[1, 2, 4], vec!["p-a".into(), "p-b".into()], &in_use, |i| {
            format!("fallback-{i}")
        });
        assert_eq!(
            names,
            vec![
                (1, "p-b".to_string()),
                (2, "fallback-2".to_string()),
                (4, "fallback-4".to_string()),
            ]
        );
    }
}

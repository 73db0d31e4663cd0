//! Whether an object of the name the pipeline wants belongs to it. Pure.
//!
//! The operator writes its objects with server-side apply and a controller
//! owner reference, which takes over whatever object has that name: someone
//! else's ConfigMap would be rewritten and, once the pipeline is deleted,
//! garbage-collected. So before it writes an object that it has not seen
//! as its own, it looks: an object that exists without a controller owner
//! reference to this pipeline (by uid, so a deleted and re-created pipeline
//! of the same name does not count) is a conflict, and nothing is written.

use kube::api::{DeleteParams, ObjectMeta, Preconditions};

/// An object of the wanted name, as far as the pipeline is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// No object of that name: the pipeline may create it.
    Absent,
    /// Controlled by this pipeline (by uid).
    Owned,
    /// Exists and is not controlled by this pipeline.
    Foreign,
}

/// The ownership of `existing` (as read from the API server) with respect
/// to the pipeline whose uid is `owner_uid`.
pub fn ownership(existing: Option<&ObjectMeta>, owner_uid: &str) -> Ownership {
    let Some(meta) = existing else {
        return Ownership::Absent;
    };
    let controlled = meta
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && o.uid == owner_uid);
    if controlled {
        Ownership::Owned
    } else {
        Ownership::Foreign
    }
}

/// The condition message and Event note for an object in the way. Names
/// the object, not its owner or content: it may be another tenant's.
pub fn conflict_message(kind: &str, namespace: &str, name: &str) -> String {
    format!(
        "{kind} {namespace}/{name} already exists and is not owned by this pipeline; the operator takes nothing over: delete or rename that {kind}, or rename the pipeline"
    )
}

/// Deletes only the object that was checked, never one that replaced it
/// since.
pub fn delete_exactly(meta: &ObjectMeta) -> DeleteParams {
    DeleteParams {
        preconditions: Some(Preconditions {
            uid: meta.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    use super::*;

    fn meta(owners: Vec<OwnerReference>) -> ObjectMeta {
        ObjectMeta {
            name: Some("shop-config".into()),
            owner_references: Some(owners),
            ..ObjectMeta::default()
        }
    }

    fn owner(uid: &str, controller: Option<bool>) -> OwnerReference {
        OwnerReference {
            api_version: "analytics.shopstream.dev/v1alpha1".into(),
            kind: "AnalyticsPipeline".into(),
            name: "shop".into(),
            uid: uid.into(),
            controller,
            block_owner_deletion: Some(true),
        }
    }

    #[test]
    fn absent_objects_may_be_created() {
        assert_eq!(ownership(None, "uid-1"), Ownership::Absent);
    }

    #[test]
    fn only_a_controller_reference_with_this_uid_owns() {
        assert_eq!(
            ownership(Some(&meta(vec![owner("uid-1", Some(true))])), "uid-1"),
            Ownership::Owned
        );
        // Someone's own object, without any owner.
        assert_eq!(
            ownership(Some(&ObjectMeta::default()), "uid-1"),
            Ownership::Foreign
        );
        // A pipeline of the same name that was deleted and re-created.
        assert_eq!(
            ownership(Some(&meta(vec![owner("uid-0", Some(true))])), "uid-1"),
            Ownership::Foreign
        );
        // A mere (non-controller) reference to this pipeline.
        assert_eq!(
            ownership(Some(&meta(vec![owner("uid-1", None)])), "uid-1"),
            Ownership::Foreign
        );
    }

    #[test]
    fn conflicts_name_the_object_only() {
        let message = conflict_message("ConfigMap", "team-a", "shop-config");
        assert!(
            message.starts_with("ConfigMap team-a/shop-config already exists"),
            "{message}"
        );
    }

    #[test]
    fn deletions_are_pinned_to_the_checked_object() {
        let checked = ObjectMeta {
            uid: Some("uid-9".into()),
            ..ObjectMeta::default()
        };
        let params = delete_exactly(&checked);
        assert_eq!(
            params.preconditions.and_then(|p| p.uid),
            Some("uid-9".to_string())
        );
    }
}

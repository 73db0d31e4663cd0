//! `spec.kafka.user.create`: the pipeline's Strimzi `KafkaUser`, applied
//! before the operator reads the user's Secret, since Strimzi's User
//! Operator writes that Secret only once the user exists. Owned by the
//! pipeline (garbage-collected with it); one the pipeline does not own is a
//! conflict and is never taken over; an owned one is deleted when `create`
//! is turned off.

use kube::api::{DynamicObject, Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use tracing::info;

use super::FIELD_MANAGER;
use super::ownership::{Ownership, conflict_message, delete_exactly, ownership};
use crate::context::Context;
use crate::crd::AnalyticsPipeline;
use crate::error::{Error, Result};
use crate::kafka_security::kafka_user::build_kafka_user;
use crate::kafka_security::kafka_user_name;
use crate::model::ValidatedPipeline;

/// Applies (or removes) the pipeline's KafkaUser. Only Strimzi-mode
/// pipelines have one; the others cost nothing here.
pub async fn reconcile_kafka_user(
    ctx: &Context,
    owner: &AnalyticsPipeline,
    v: &ValidatedPipeline,
) -> Result<()> {
    if v.strimzi_cluster.is_none() {
        return Ok(());
    }
    let wanted = v.kafka_security.created_user.is_some();
    let resource = match ctx.strimzi.kafka_user(&ctx.client).await {
        Ok(resource) => resource,
        // Nothing to clean up where Strimzi has no KafkaUser API.
        Err(_) if !wanted => return Ok(()),
        Err(e) => return Err(e),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &v.namespace, &resource);
    let name = v
        .kafka_security
        .created_user
        .clone()
        .unwrap_or_else(|| kafka_user_name(&v.name));
    let uid = owner.uid().ok_or_else(Error::missing_uid)?;
    let current = api.get_opt(&name).await?;
    let owned = ownership(current.as_ref().map(|c| c.meta()), &uid);
    if !wanted {
        if let (Ownership::Owned, Some(current)) = (owned, current) {
            api.delete(&name, &delete_exactly(current.meta())).await?;
            info!(pipeline = %super::pipeline_key(owner), user = %name, "KafkaUser deleted: spec.kafka.user.create is off");
        }
        return Ok(());
    }
    if owned == Ownership::Foreign {
        return Err(Error::Conflict(conflict_message(
            "KafkaUser",
            &v.namespace,
            &name,
        )));
    }
    let owner_ref = owner
        .controller_owner_ref(&())
        .ok_or_else(Error::missing_uid)?;
    let mut object = build_kafka_user(v, &serde_json::to_value(owner_ref)?).ok_or_else(|| {
        Error::InvalidSpec("spec.kafka.user.create needs strimziCluster and authentication".into())
    })?;
    // The version the cluster serves (v1, or v1beta2 on older Strimzi).
    object["apiVersion"] = resource.api_version.clone().into();
    let unchanged = current.as_ref().is_some_and(|c| {
        c.data.get("spec") == object.get("spec")
            && object["metadata"]["labels"]
                .as_object()
                .into_iter()
                .flatten()
                .all(|(k, val)| c.labels().get(k).map(String::as_str) == val.as_str())
    });
    if !unchanged {
        api.patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&object),
        )
        .await?;
        info!(pipeline = %super::pipeline_key(owner), user = %name, "KafkaUser applied");
    }
    Ok(())
}

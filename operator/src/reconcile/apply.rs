//! Step 4: server-side apply of the owned objects, in a fixed order
//! (ConfigMap before the workloads that read it), after checking that none
//! of them is someone else's (see `ownership.rs`). The processor is a
//! StatefulSet (stable replica identities, `workloads/statefulset.rs`); a
//! processor Deployment left by an earlier version is deleted once the
//! StatefulSet is applied. NetworkPolicies (`spec.networkPolicy`) go
//! before the workloads, so that no pod of a pipeline that asks for them
//! runs without them.

use std::collections::HashMap;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ownership::{Ownership, conflict_message, delete_exactly, ownership};
use super::{FIELD_MANAGER, pipeline_key};
use crate::applied_workloads::{ChildId, fingerprint};
use crate::context::Context;
use crate::crd::AnalyticsPipeline;
use crate::error::{Error, Result};
use crate::model::ValidatedPipeline;
use crate::workloads::{
    build_config_map, build_generator_deployment, build_managed_redis_service,
    build_managed_redis_statefulset, build_metrics_service, build_network_policies,
    build_processor_statefulset, build_serving_deployment, build_serving_service, config_map_name,
    generator_name, managed_redis_name, metrics_service_name, network_policy_names, processor_name,
    serving_name,
};

/// What the workload step did.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkloadsOutcome {
    Applied,
    /// Exactly these objects were applied before and nothing touched them.
    Unchanged,
    /// Objects of the wanted names exist and are not the pipeline's; nothing
    /// was written. One message per object.
    Conflict(Vec<String>),
}

/// Applies the pipeline's ConfigMap, Deployments and Service, unless
/// exactly these objects were applied before and nothing has touched them
/// since (see [`crate::applied_workloads`]), or one of them is someone
/// else's.
pub async fn apply_workloads(
    ctx: &Context,
    owner: &AnalyticsPipeline,
    p: &ValidatedPipeline,
) -> Result<WorkloadsOutcome> {
    let owner_ref = owner
        .controller_owner_ref(&())
        .ok_or_else(Error::missing_uid)?;
    let owned = |mut meta: ObjectMeta| {
        meta.owner_references = Some(vec![owner_ref.clone()]);
        meta
    };

    let mut config_map = build_config_map(p);
    let config = config_map.data.clone().unwrap_or_default();
    config_map.metadata = owned(config_map.metadata);
    let mut processor = build_processor_statefulset(p, &config);
    processor.metadata = owned(processor.metadata);
    let generator = build_generator_deployment(p, &config).map(|mut g| {
        g.metadata = owned(g.metadata);
        g
    });
    let mut service = build_metrics_service(p);
    service.metadata = owned(service.metadata);
    let serving = build_serving_deployment(p, &config).map(|mut d| {
        d.metadata = owned(d.metadata);
        d
    });
    let serving_service = build_serving_service(p).map(|mut s| {
        s.metadata = owned(s.metadata);
        s
    });
    let redis = build_managed_redis_statefulset(p).map(|mut r| {
        r.metadata = owned(r.metadata);
        r
    });
    let redis_service = build_managed_redis_service(p).map(|mut s| {
        s.metadata = owned(s.metadata);
        s
    });
    let policies: Vec<NetworkPolicy> = build_network_policies(p)
        .into_iter()
        .map(|mut n| {
            n.metadata = owned(n.metadata);
            n
        })
        .collect();

    let key = pipeline_key(owner);
    let desired = fingerprint(&(
        &config_map,
        &processor,
        &generator,
        &service,
        (&serving, &serving_service),
        (&redis, &redis_service),
        &policies,
    ))
    .map_err(|e| Error::internal_caused_by(format!("cannot serialise the workloads: {e}"), e))?;
    if ctx.state.is_current(&key, desired) {
        return Ok(WorkloadsOutcome::Unchanged);
    }

    let policy_names: Vec<String> = policies.iter().map(|n| n.name_any()).collect();
    let mut conflicts = foreign_children(
        ctx,
        owner,
        p,
        Wanted {
            generator: generator.is_some(),
            serving: serving.is_some(),
            managed_redis: redis.is_some(),
        },
    )
    .await?;
    conflicts.extend(foreign_network_policies(ctx, owner, p, &policy_names).await?);
    if !conflicts.is_empty() {
        return Ok(WorkloadsOutcome::Conflict(conflicts));
    }

    let epoch = ctx.state.begin(&key);
    let mut versions = HashMap::new();

    let config_map = apply(ctx, &p.namespace, config_map).await?;
    remember(&mut versions, "ConfigMap", config_map.meta());
    for policy in policies {
        let policy = apply(ctx, &p.namespace, policy).await?;
        remember(&mut versions, "NetworkPolicy", policy.meta());
    }
    let processor = apply(ctx, &p.namespace, processor).await?;
    remember(&mut versions, "StatefulSet", processor.meta());
    delete_own_deployment(ctx, owner, p, &processor_name(&p.name)).await?;
    match generator {
        Some(generator) => {
            let generator = apply(ctx, &p.namespace, generator).await?;
            remember(&mut versions, "Deployment", generator.meta());
        }
        None => delete_own_deployment(ctx, owner, p, &generator_name(&p.name)).await?,
    }
    let service = apply(ctx, &p.namespace, service).await?;
    remember(&mut versions, "Service", service.meta());
    // The managed Redis before serving, which writes to it.
    match (redis, redis_service) {
        (Some(mut redis), Some(redis_service)) => {
            keep_claim_templates(ctx, p, &mut redis).await?;
            let redis = apply(ctx, &p.namespace, redis).await?;
            remember(&mut versions, "StatefulSet", redis.meta());
            let redis_service = apply(ctx, &p.namespace, redis_service).await?;
            remember(&mut versions, "Service", redis_service.meta());
        }
        _ => {
            // Its claim stays or goes by the StatefulSet's retention policy.
            let name = managed_redis_name(&p.name);
            delete_own::<StatefulSet>(ctx, owner, p, &name).await?;
            delete_own::<Service>(ctx, owner, p, &name).await?;
        }
    }
    match (serving, serving_service) {
        (Some(serving), Some(serving_service)) => {
            let serving = apply(ctx, &p.namespace, serving).await?;
            remember(&mut versions, "Deployment", serving.meta());
            let serving_service = apply(ctx, &p.namespace, serving_service).await?;
            remember(&mut versions, "Service", serving_service.meta());
        }
        _ => {
            let name = serving_name(&p.name);
            delete_own_deployment(ctx, owner, p, &name).await?;
            delete_own_service(ctx, owner, p, &name).await?;
        }
    }
    // Policies of workloads that no longer run, or of a spec that turned
    // them off, go once the workloads are as wanted.
    for (_, name) in network_policy_names(&p.name) {
        if !policy_names.contains(&name) {
            delete_own::<NetworkPolicy>(ctx, owner, p, &name).await?;
        }
    }

    ctx.state.record(&key, epoch, desired, versions);
    Ok(WorkloadsOutcome::Applied)
}

/// Which optional objects the apply writes.
struct Wanted {
    generator: bool,
    serving: bool,
    managed_redis: bool,
}

/// The objects the apply would write that exist and are not the
/// pipeline's, as conflict messages. Objects verified as the pipeline's own
/// since the last change the watches saw are not read again.
async fn foreign_children(
    ctx: &Context,
    owner: &AnalyticsPipeline,
    p: &ValidatedPipeline,
    wanted: Wanted,
) -> Result<Vec<String>> {
    let key = pipeline_key(owner);
    let uid = owner.uid().ok_or_else(Error::missing_uid)?;
    let mut conflicts = Vec::new();
    let mut check = |kind: &'static str, name: String, meta: Option<ObjectMeta>| match ownership(
        meta.as_ref(),
        &uid,
    ) {
        Ownership::Absent => {}
        Ownership::Owned => ctx.state.verified_owned(&key, (kind, name)),
        Ownership::Foreign => conflicts.push(conflict_message(kind, &p.namespace, &name)),
    };
    let name = config_map_name(&p.name);
    if !ctx
        .state
        .is_verified_owned(&key, &("ConfigMap", name.clone()))
    {
        let meta = read_meta::<ConfigMap>(ctx, &p.namespace, &name).await?;
        check("ConfigMap", name, meta);
    }
    let name = processor_name(&p.name);
    if !ctx
        .state
        .is_verified_owned(&key, &("StatefulSet", name.clone()))
    {
        let meta = read_meta::<StatefulSet>(ctx, &p.namespace, &name).await?;
        check("StatefulSet", name, meta);
    }
    if wanted.generator {
        let name = generator_name(&p.name);
        if !ctx
            .state
            .is_verified_owned(&key, &("Deployment", name.clone()))
        {
            let meta = read_meta::<Deployment>(ctx, &p.namespace, &name).await?;
            check("Deployment", name, meta);
        }
    }
    if wanted.serving {
        let name = serving_name(&p.name);
        if !ctx
            .state
            .is_verified_owned(&key, &("Deployment", name.clone()))
        {
            let meta = read_meta::<Deployment>(ctx, &p.namespace, &name).await?;
            check("Deployment", name.clone(), meta);
        }
        if !ctx
            .state
            .is_verified_owned(&key, &("Service", name.clone()))
        {
            let meta = read_meta::<Service>(ctx, &p.namespace, &name).await?;
            check("Service", name, meta);
        }
    }
    if wanted.managed_redis {
        let name = managed_redis_name(&p.name);
        if !ctx
            .state
            .is_verified_owned(&key, &("StatefulSet", name.clone()))
        {
            let meta = read_meta::<StatefulSet>(ctx, &p.namespace, &name).await?;
            check("StatefulSet", name.clone(), meta);
        }
        if !ctx
            .state
            .is_verified_owned(&key, &("Service", name.clone()))
        {
            let meta = read_meta::<Service>(ctx, &p.namespace, &name).await?;
            check("Service", name, meta);
        }
    }
    let name = metrics_service_name(&p.name);
    if !ctx
        .state
        .is_verified_owned(&key, &("Service", name.clone()))
    {
        let meta = read_meta::<Service>(ctx, &p.namespace, &name).await?;
        check("Service", name, meta);
    }
    Ok(conflicts)
}

async fn read_meta<K>(ctx: &Context, namespace: &str, name: &str) -> Result<Option<ObjectMeta>>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), namespace);
    Ok(api
        .get_metadata_opt(name)
        .await?
        .map(|partial| partial.metadata))
}

/// A Deployment the pipeline no longer wants goes, if it is the
/// pipeline's: a disabled generator's, or the processor Deployment of an
/// earlier version (the processor is a StatefulSet now). One of that name
/// that belongs to someone else is none of the operator's business.
async fn delete_own_deployment(
    ctx: &Context,
    owner: &AnalyticsPipeline,
    p: &ValidatedPipeline,
    name: &str,
) -> Result<()> {
    delete_own::<Deployment>(ctx, owner, p, name).await
}

/// The serving Service of a pipeline whose serving was disabled goes, if
/// it is the pipeline's.
async fn delete_own_service(
    ctx: &Context,
    owner: &AnalyticsPipeline,
    p: &ValidatedPipeline,
    name: &str,
) -> Result<()> {
    delete_own::<Service>(ctx, owner, p, name).await
}

/// Deletes the object `name` of kind `K` if it is the pipeline's; one of
/// that name that belongs to someone else is left alone.
async fn delete_own<K>(
    ctx: &Context,
    owner: &AnalyticsPipeline,
    p: &ValidatedPipeline,
    name: &str,
) -> Result<()>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    let uid = owner.uid().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &p.namespace);
    let Some(current) = api.get_metadata_opt(name).await? else {
        return Ok(());
    };
    if ownership(Some(&current.metadata), &uid) != Ownership::Owned {
        return Ok(());
    }
    match api.delete(name, &delete_exactly(&current.metadata)).await {
        Ok(_) => Ok(()),
        // Gone already, or replaced since the read: not ours to delete.
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Conflict messages for the wanted NetworkPolicies that exist and are not
/// the pipeline's (a hand-written policy of the same name is never taken
/// over).
async fn foreign_network_policies(
    ctx: &Context,
    owner: &AnalyticsPipeline,
    p: &ValidatedPipeline,
    names: &[String],
) -> Result<Vec<String>> {
    let key = pipeline_key(owner);
    let uid = owner.uid().ok_or_else(Error::missing_uid)?;
    let mut conflicts = Vec::new();
    for name in names {
        let id = ("NetworkPolicy", name.clone());
        if ctx.state.is_verified_owned(&key, &id) {
            continue;
        }
        let meta = read_meta::<NetworkPolicy>(ctx, &p.namespace, name).await?;
        match ownership(meta.as_ref(), &uid) {
            Ownership::Absent => {}
            Ownership::Owned => ctx.state.verified_owned(&key, id),
            Ownership::Foreign => {
                conflicts.push(conflict_message("NetworkPolicy", &p.namespace, name))
            }
        }
    }
    Ok(conflicts)
}

fn remember(versions: &mut HashMap<ChildId, String>, kind: &'static str, meta: &ObjectMeta) {
    if let (Some(name), Some(rv)) = (&meta.name, &meta.resource_version) {
        versions.insert((kind, name.clone()), rv.clone());
    }
}

async fn apply<K>(ctx: &Context, namespace: &str, object: K) -> Result<K>
where
    K: Resource<Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), namespace);
    let name = object.name_any();
    Ok(api
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&object),
        )
        .await?)
}

/// A StatefulSet's claim templates cannot change once created: a changed
/// `redis.storage` would fail every apply. The existing templates are kept
/// (the claim is what it is; docs/serving.md says how to resize it) and the
/// difference is logged.
async fn keep_claim_templates(
    ctx: &Context,
    p: &ValidatedPipeline,
    desired: &mut StatefulSet,
) -> Result<()> {
    let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &p.namespace);
    let Some(current) = api.get_opt(&desired.name_any()).await? else {
        return Ok(());
    };
    let existing = current.spec.and_then(|s| s.volume_claim_templates);
    let Some(spec) = desired.spec.as_mut() else {
        return Ok(());
    };
    let requests = |templates: &Option<Vec<k8s_openapi::api::core::v1::PersistentVolumeClaim>>| {
        templates
            .iter()
            .flatten()
            .map(|t| {
                let spec = t.spec.as_ref();
                (
                    spec.and_then(|s| s.resources.as_ref())
                        .and_then(|r| r.requests.clone()),
                    spec.and_then(|s| s.storage_class_name.clone()),
                )
            })
            .collect::<Vec<_>>()
    };
    if existing.is_some() && requests(&existing) != requests(&spec.volume_claim_templates) {
        tracing::warn!(
            pipeline = %format!("{}/{}", p.namespace, p.name),
            "spec.serving.redis.storage changed, but the managed Redis's claim was created with the earlier size and class and keeps them (see docs/serving.md to resize)"
        );
    }
    if existing.is_some() {
        spec.volume_claim_templates = existing;
    }
    Ok(())
}

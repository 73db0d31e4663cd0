//! Step 4: server-side apply of the owned objects, in a fixed order
//! (ConfigMap before the Deployments that read it).

use std::collections::HashMap;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::validate::ValidatedPipeline;
use super::{FIELD_MANAGER, pipeline_key};
use crate::applied_workloads::{ChildId, fingerprint};
use crate::context::Context;
use crate::crd::AnalyticsPipeline;
use crate::error::{Error, Result};
use crate::workloads::{
    build_config_map, build_generator_deployment, build_metrics_service,
    build_processor_deployment, generator_name,
};

/// Applies the pipeline's ConfigMap, Deployments and Service, unless
/// exactly these objects were applied before and nothing has touched them
/// since (see [`crate::applied_workloads`]). Returns whether it applied.
pub async fn apply_workloads(
    ctx: &Context,
    owner: &AnalyticsPipeline,
    p: &ValidatedPipeline,
) -> Result<bool> {
    let owner_ref = owner
        .controller_owner_ref(&())
        .ok_or_else(|| Error::InvalidSpec("the pipeline has no uid yet".into()))?;
    let owned = |mut meta: ObjectMeta| {
        meta.owner_references = Some(vec![owner_ref.clone()]);
        meta
    };

    let mut config_map = build_config_map(p);
    let config = config_map.data.clone().unwrap_or_default();
    config_map.metadata = owned(config_map.metadata);
    let mut processor = build_processor_deployment(p, &config);
    processor.metadata = owned(processor.metadata);
    let generator = build_generator_deployment(p, &config).map(|mut g| {
        g.metadata = owned(g.metadata);
        g
    });
    let mut service = build_metrics_service(p);
    service.metadata = owned(service.metadata);

    let key = pipeline_key(owner);
    let desired = fingerprint(&(&config_map, &processor, &generator, &service))
        .map_err(|e| Error::InvalidSpec(format!("cannot serialise the workloads: {e}")))?;
    if ctx.applied.is_current(&key, desired) {
        return Ok(false);
    }
    let epoch = ctx.applied.begin(&key);
    let mut versions = HashMap::new();

    let config_map = apply(ctx, &p.namespace, config_map).await?;
    remember(&mut versions, "ConfigMap", config_map.meta());
    let processor = apply(ctx, &p.namespace, processor).await?;
    remember(&mut versions, "Deployment", processor.meta());
    match generator {
        Some(generator) => {
            let generator = apply(ctx, &p.namespace, generator).await?;
            remember(&mut versions, "Deployment", generator.meta());
        }
        None => {
            let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &p.namespace);
            match api
                .delete(&generator_name(&p.name), &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let service = apply(ctx, &p.namespace, service).await?;
    remember(&mut versions, "Service", service.meta());

    ctx.applied.record(&key, epoch, desired, versions);
    Ok(true)
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

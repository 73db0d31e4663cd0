//! Step 4: server-side apply of the owned objects, in a fixed order
//! (ConfigMap before the Deployments that read it).

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::FIELD_MANAGER;
use super::validate::ValidatedPipeline;
use crate::context::Context;
use crate::crd::AnalyticsPipeline;
use crate::error::{Error, Result};
use crate::workloads::{
    build_config_map, build_generator_deployment, build_metrics_service,
    build_processor_deployment, generator_name,
};

pub async fn apply_workloads(
    ctx: &Context,
    owner: &AnalyticsPipeline,
    p: &ValidatedPipeline,
) -> Result<()> {
    let owner_ref = owner
        .controller_owner_ref(&())
        .ok_or_else(|| Error::InvalidSpec("the pipeline has no uid yet".into()))?;

    let mut config_map = build_config_map(p);
    let config = config_map.data.clone().unwrap_or_default();
    config_map.metadata.owner_references = Some(vec![owner_ref.clone()]);
    apply(ctx, &p.namespace, config_map).await?;

    let mut processor = build_processor_deployment(p, &config);
    processor.metadata.owner_references = Some(vec![owner_ref.clone()]);
    apply(ctx, &p.namespace, processor).await?;

    match build_generator_deployment(p, &config) {
        Some(mut generator) => {
            generator.metadata.owner_references = Some(vec![owner_ref.clone()]);
            apply(ctx, &p.namespace, generator).await?;
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

    let mut service = build_metrics_service(p);
    service.metadata.owner_references = Some(vec![owner_ref]);
    apply(ctx, &p.namespace, service).await?;
    Ok(())
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

//! Wires the reconciler into kube-runtime's Controller: watches pipelines
//! and the objects they own, in one namespace or all.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::DynamicObject;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Controller};
use kube::runtime::utils::Predicate;
use kube::runtime::{WatchStreamExt, predicates, reflector, watcher};
use kube::{Api, Client, ResourceExt};
use tracing::{info, warn};

use crate::context::Context;
use crate::crd::AnalyticsPipeline;
use crate::reconcile::{error_policy, reconcile_guarded};

fn being_deleted(p: &AnalyticsPipeline) -> Option<u64> {
    p.metadata.deletion_timestamp.as_ref().map(|_| 1)
}

fn api<K>(client: &Client, namespace: &Option<String>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Changes to the objects the operator owns, as triggers for their
/// pipelines. Metadata is all a trigger needs (the owner reference), and
/// it is all that is decoded. Every change is also shown to the
/// applied-workloads cache, so that a refresh re-applies what someone else
/// changed or deleted.
fn owned_changes<K>(
    client: &Client,
    namespace: &Option<String>,
    selector: &watcher::Config,
    ctx: &Arc<Context>,
) -> impl futures::Stream<Item = Result<PartialObjectMeta<K>, watcher::Error>> + Send + 'static
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
{
    let ctx = ctx.clone();
    let kind: &'static str = match K::kind(&()) {
        std::borrow::Cow::Borrowed(kind) => kind,
        std::borrow::Cow::Owned(_) => "unknown",
    };
    watcher::watcher(
        api::<PartialObjectMeta<K>>(client, namespace),
        selector.clone(),
    )
    .default_backoff()
    .map(move |event| {
        match &event {
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                ctx.state.observe_child(kind, &o.metadata, false)
            }
            Ok(watcher::Event::Delete(o)) => ctx.state.observe_child(kind, &o.metadata, true),
            Ok(watcher::Event::Init) => ctx.state.invalidate_all(),
            Ok(watcher::Event::InitDone) | Err(_) => {}
        }
        event
    })
    .touched_objects()
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    client: Client,
    namespace: Option<String>,
    ctx: Arc<Context>,
    concurrency: u16,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let pipelines: Api<AnalyticsPipeline> = api(&client, &namespace);
    if let Err(e) = pipelines.list(&Default::default()).await {
        warn!(error = %e, "cannot list AnalyticsPipelines; is the CRD installed? (make crds, kubectl apply -f crds/)");
    }
    let owned =
        watcher::Config::default().labels("app.kubernetes.io/managed-by=shopstream-operator");
    info!(
        namespace = namespace.as_deref().unwrap_or("<all>"),
        "starting controller"
    );
    // Status writes change the object too; reacting to them would make
    // every reconcile trigger the next. React to spec (generation),
    // finalizer and deletion changes; the status interval requeue does the rest.
    let (reader, writer) = reflector::store();
    // Deletions check that no other pipeline still lists a topic.
    let _ = ctx.pipelines.set(reader.clone());
    let triggers = watcher::watcher(pipelines, watcher::Config::default())
        .default_backoff()
        // Nothing reads managedFields; with 1,000 pipelines they would be
        // a large part of the cache.
        .modify(|p| p.managed_fields_mut().clear())
        .reflect(writer)
        .applied_objects()
        .predicate_filter(
            predicates::generation
                .combine(predicates::finalizers)
                .combine(being_deleted),
            Default::default(),
        );
    let mut controller = Controller::for_stream(triggers, reader)
        // Each reconcile makes a handful of Kafka requests; an unbounded
        // number at once (1,000 pipelines after a restart) turns into
        // timeouts. Keys still never reconcile concurrently with themselves.
        .with_config(controller::Config::default().concurrency(concurrency))
        .owns_stream(owned_changes::<Deployment>(
            &client, &namespace, &owned, &ctx,
        ))
        .owns_stream(owned_changes::<StatefulSet>(
            &client, &namespace, &owned, &ctx,
        ))
        .owns_stream(owned_changes::<ConfigMap>(
            &client, &namespace, &owned, &ctx,
        ))
        .owns_stream(owned_changes::<Service>(&client, &namespace, &owned, &ctx))
        .owns_stream(owned_changes::<NetworkPolicy>(
            &client, &namespace, &owned, &ctx,
        ));
    // The KafkaUsers of spec.kafka.user.create, where Strimzi's CRD is
    // installed: a deleted or edited user is re-applied at once instead of
    // at the next periodic reconcile. Strimzi installed after the operator
    // started is watched from its next restart; until then the periodic
    // reconcile corrects the users.
    match ctx.strimzi.kafka_user(&client).await {
        Ok(resource) => {
            let users: Api<PartialObjectMeta<DynamicObject>> = match &namespace {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
                None => Api::all_with(client.clone(), &resource),
            };
            let changes = watcher::watcher(users, owned.clone())
                .default_backoff()
                .touched_objects();
            controller = controller.owns_stream_with(changes, resource);
        }
        Err(e) => info!(
            reason = %e,
            "Strimzi's KafkaUser API is not served: created KafkaUsers are not watched"
        ),
    }
    controller
        .graceful_shutdown_on(shutdown)
        .run(reconcile_guarded, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile error (handled by error_policy)");
            }
        })
        .await;
    info!("controller stopped");
}

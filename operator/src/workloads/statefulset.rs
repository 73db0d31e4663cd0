//! The processor runs as a StatefulSet, so every replica has a stable
//! identity: pod `<pipeline>-processor-<ordinal>`, which the processor uses
//! as its replica id (`PROCESSOR_REPLICA_ID`) and so in its transactional
//! id. A pod that is replaced comes back under the same name, and its first
//! `init_transactions` aborts the transaction its predecessor left open at
//! once. With a Deployment's random pod names that transaction stayed open
//! until its 60 s timeout, and every stage 2 reading the partials topic
//! (read_committed) stalled meanwhile. A StatefulSet also never runs two
//! pods of one identity at the same time.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec, StatefulSetUpdateStrategy};
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::ObjectMeta;

use super::configmap::processor_env_keys;
use super::deployment::{WorkloadSettings, pod_template, processor_name, quantity};
use super::labels::{Component, labels, selector_labels};
use super::service::metrics_service_name;
use crate::model::ValidatedPipeline;

pub fn build_processor_statefulset(
    p: &ValidatedPipeline,
    config: &BTreeMap<String, String>,
) -> StatefulSet {
    let resources = p.processor.spec.resources.clone().unwrap_or_else(|| {
        // Sized for the default 5 events/s demo; the benchmark in
        // docs/benchmarks.md gives the memory needed at higher rates.
        ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".into(), quantity("100m")),
                ("memory".into(), quantity("64Mi")),
            ])),
            limits: Some(BTreeMap::from([("memory".into(), quantity("256Mi"))])),
            ..ResourceRequirements::default()
        }
    });
    let component = Component::Processor;
    let template = pod_template(
        p,
        component,
        WorkloadSettings {
            name: processor_name(&p.name),
            image: &p.processor.image,
            command: "processor",
            replicas: p.processor.spec.replicas,
            env_keys: processor_env_keys(),
            pod_name_env: &[shopstream_common::contract::processor::REPLICA_ID],
            resources,
            config,
        },
    );
    StatefulSet {
        metadata: ObjectMeta {
            name: Some(processor_name(&p.name)),
            namespace: Some(p.namespace.clone()),
            labels: Some(labels(&p.name, component)),
            ..ObjectMeta::default()
        },
        spec: Some(StatefulSetSpec {
            replicas: Some(p.processor.spec.replicas),
            selector: LabelSelector {
                match_labels: Some(selector_labels(&p.name, component)),
                ..LabelSelector::default()
            },
            service_name: Some(metrics_service_name(&p.name)),
            // Replicas start and stop together (a consumer group needs no
            // ordering); only the identities are stable.
            pod_management_policy: Some("Parallel".into()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                ..StatefulSetUpdateStrategy::default()
            }),
            template,
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

//! The serving component (`spec.serving`): a Deployment that consumes the
//! output topics into Redis and serves the dashboard, and the Service
//! `<pipeline>-serving` in front of it (port 8080, what `kubectl
//! port-forward svc/<pipeline>-serving 8080` opens).
//!
//! Topic names and the bootstrap servers come from the pipeline's ConfigMap
//! like the other workloads' settings; the serving settings are literal
//! values of the pod template (a change rolls the pods); the Redis password
//! is an environment variable from the user's Secret, never copied.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    EnvVar, EnvVarSource, ResourceRequirements, SecretKeySelector, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ObjectMeta;
use shopstream_common::contract::{processor, serving, shared};

use super::deployment::{WorkloadSettings, build_deployment, quantity};
use super::labels::{Component, labels, selector_labels};
use crate::model::{TopicRole, ValidatedPipeline};

/// The Deployment's and the Service's name.
pub fn serving_name(pipeline: &str) -> String {
    format!("{pipeline}-serving")
}

/// The serving component's consumer group. It commits after Redis
/// acknowledged, so the operator measures its writes from this group.
pub fn serving_group(p: &ValidatedPipeline) -> String {
    format!("{}-serving", p.consumer_group)
}

/// The topics the serving component reads (and the operator measures it on).
pub const SERVED_TOPICS: [TopicRole; 6] = [
    TopicRole::Sales,
    TopicRole::Segments,
    TopicRole::Anomalies,
    TopicRole::Hourly,
    TopicRole::TopProducts,
    TopicRole::UserHistory,
];

/// The Service's port (the dashboard, the JSON API, `/metrics`).
pub const SERVING_SERVICE_PORT: i32 = serving::HTTP_PORT as i32;

/// The dashboard's URL inside the cluster.
pub fn serving_url(p: &ValidatedPipeline) -> String {
    format!(
        "http://{}.{}.svc:{SERVING_SERVICE_PORT}/",
        serving_name(&p.name),
        p.namespace
    )
}

/// Keys of the ConfigMap the serving container reads.
fn serving_env_keys() -> Vec<&'static str> {
    vec![
        shared::KAFKA_BOOTSTRAP_SERVERS,
        processor::GROUP_ID,
        processor::INPUT_TOPIC,
        processor::SALES_TOPIC,
        processor::SEGMENTS_TOPIC,
        processor::HOURLY_TOPIC,
        processor::TOP_PRODUCTS_TOPIC,
        processor::ANOMALIES_TOPIC,
        processor::USER_HISTORY_TOPIC,
    ]
}

fn literal(name: &str, value: String) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value),
        ..EnvVar::default()
    }
}

/// `None` unless `spec.serving.enabled`.
pub fn build_serving_deployment(
    p: &ValidatedPipeline,
    config: &BTreeMap<String, String>,
) -> Option<Deployment> {
    let settings = p.serving.as_ref()?;
    let spec = &settings.spec;
    let mut deployment = build_deployment(
        p,
        Component::Serving,
        WorkloadSettings {
            name: serving_name(&p.name),
            image: &settings.image,
            command: "serving",
            replicas: spec.replicas,
            env_keys: serving_env_keys(),
            pod_name_env: &[],
            resources: ResourceRequirements {
                requests: Some(BTreeMap::from([
                    ("cpu".into(), quantity("50m")),
                    ("memory".into(), quantity("32Mi")),
                ])),
                limits: Some(BTreeMap::from([("memory".into(), quantity("256Mi"))])),
                ..ResourceRequirements::default()
            },
            config,
        },
    );
    let mut env = vec![
        literal(serving::GROUP_ID, serving_group(p)),
        literal(serving::REDIS_ADDRESS, settings.redis_address.clone()),
        literal(serving::PIPELINE_NAMESPACE, p.namespace.clone()),
        literal(serving::PIPELINE_NAME, p.name.clone()),
        literal(
            serving::AGGREGATES_TTL_SECONDS,
            spec.ttl.aggregates_seconds.to_string(),
        ),
        literal(serving::CLV_TTL_SECONDS, spec.ttl.clv_seconds.to_string()),
        literal(serving::CLV_MODEL, spec.clv.model.as_str().to_string()),
    ];
    if let Some(secret) = &spec.redis.password_secret {
        env.push(EnvVar {
            name: serving::REDIS_PASSWORD.into(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret.name.clone(),
                    key: secret.key.clone(),
                    optional: Some(false),
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        });
    }
    let containers = deployment
        .spec
        .as_mut()
        .and_then(|s| s.template.spec.as_mut())
        .map(|pod| &mut pod.containers);
    if let Some(container) = containers.and_then(|c| c.first_mut()) {
        container.env.get_or_insert_with(Vec::new).extend(env);
    }
    Some(deployment)
}

/// `None` unless `spec.serving.enabled`.
pub fn build_serving_service(p: &ValidatedPipeline) -> Option<Service> {
    p.serving.as_ref()?;
    Some(Service {
        metadata: ObjectMeta {
            name: Some(serving_name(&p.name)),
            namespace: Some(p.namespace.clone()),
            labels: Some(labels(&p.name, Component::Serving)),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(&p.name, Component::Serving)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: SERVING_SERVICE_PORT,
                // The workloads' one HTTP port (dashboard and metrics).
                target_port: Some(IntOrString::String("metrics".into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    })
}

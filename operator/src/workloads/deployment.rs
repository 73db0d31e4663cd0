use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapKeySelector, Container, ContainerPort, EnvVar, EnvVarSource,
    HTTPGetAction, ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ObjectMeta;
use shopstream_common::contract::{WORKLOAD_METRICS_PORT, shared};
use shopstream_common::logging::LogFormat;

use super::configmap::{config_map_name, generator_env_keys};
use super::labels::{Component, labels, selector_labels};
use crate::kafka_security::pod::pod_kafka_security;
use crate::model::ValidatedPipeline;

/// Port of `/metrics`, `/healthz` and `/readyz` in both containers.
pub const METRICS_PORT: i32 = WORKLOAD_METRICS_PORT as i32;

/// Annotation holding a hash of the settings a pod runs with, so that a
/// ConfigMap change rolls exactly the Deployments whose settings changed.
const CONFIG_HASH_ANNOTATION: &str = "analytics.shopstream.dev/config-hash";
/// A digest of the resourceVersions of the Kafka Secrets the pods mount.
pub const KAFKA_SECRETS_ANNOTATION: &str = "analytics.shopstream.dev/kafka-secrets-revision";

/// The processor's StatefulSet (and, before it, its Deployment).
pub fn processor_name(pipeline: &str) -> String {
    format!("{pipeline}-processor")
}

pub fn generator_name(pipeline: &str) -> String {
    format!("{pipeline}-generator")
}

/// `None` when the spec disables the generator.
pub fn build_generator_deployment(
    p: &ValidatedPipeline,
    config: &BTreeMap<String, String>,
) -> Option<Deployment> {
    let generator = p.generator.as_ref()?;
    Some(build_deployment(
        p,
        Component::Generator,
        WorkloadSettings {
            name: generator_name(&p.name),
            image: &generator.image,
            command: "generator",
            replicas: generator.replicas,
            env_keys: generator_env_keys(),
            pod_name_env: &[],
            resources: ResourceRequirements {
                requests: Some(BTreeMap::from([
                    ("cpu".into(), quantity("50m")),
                    ("memory".into(), quantity("32Mi")),
                ])),
                limits: Some(BTreeMap::from([("memory".into(), quantity("128Mi"))])),
                ..ResourceRequirements::default()
            },
            config,
        },
    ))
}

pub(super) struct WorkloadSettings<'a> {
    pub name: String,
    pub image: &'a str,
    pub command: &'a str,
    pub replicas: i32,
    pub env_keys: Vec<&'static str>,
    /// Environment variables set to the pod's name.
    pub pod_name_env: &'a [&'static str],
    pub resources: ResourceRequirements,
    pub config: &'a BTreeMap<String, String>,
}

pub(super) fn build_deployment(
    p: &ValidatedPipeline,
    component: Component,
    w: WorkloadSettings,
) -> Deployment {
    let replicas = w.replicas;
    let name = w.name.clone();
    Deployment {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(p.namespace.clone()),
            labels: Some(labels(&p.name, component)),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(selector_labels(&p.name, component)),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                ..DeploymentStrategy::default()
            }),
            template: pod_template(p, component, w),
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// The pod template of a workload: the container reads its settings from
/// the pipeline's ConfigMap, runs non-root and read-only, exposes metrics.
pub(super) fn pod_template(
    p: &ValidatedPipeline,
    component: Component,
    w: WorkloadSettings,
) -> PodTemplateSpec {
    let mut env = container_env(&p.name, &w);
    let security = pod_kafka_security(&p.kafka_security);
    env.extend(security.env.iter().cloned());
    let settings_hash = config_hash(w.env_keys.iter().map(|k| (*k, w.config.get(*k))));
    let mut pod_annotations = BTreeMap::from([
        ("prometheus.io/scrape".to_string(), "true".to_string()),
        ("prometheus.io/port".to_string(), METRICS_PORT.to_string()),
        ("prometheus.io/path".to_string(), "/metrics".to_string()),
        (CONFIG_HASH_ANNOTATION.to_string(), settings_hash),
    ]);
    // The pods read their Kafka credentials once, at start: a changed
    // Secret (rotated password, renewed certificate) rolls them.
    if let Some(revision) = &p.kafka_secrets_revision {
        pod_annotations.insert(KAFKA_SECRETS_ANNOTATION.to_string(), revision.clone());
    }

    let probe = |path: &str, period: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String("metrics".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(3),
        ..Probe::default()
    };

    let container = Container {
        name: component.as_str().into(),
        image: Some(w.image.to_string()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec![w.command.to_string()]),
        env: Some(env),
        ports: Some(vec![ContainerPort {
            name: Some("metrics".into()),
            container_port: METRICS_PORT,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        liveness_probe: Some(probe("/healthz", 10)),
        readiness_probe: Some(probe("/readyz", 5)),
        resources: Some(w.resources),
        security_context: Some(restricted_container_security()),
        volume_mounts: (!security.is_empty()).then(|| security.mounts.clone()),
        ..Container::default()
    };

    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(&p.name, component)),
            annotations: Some(pod_annotations),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container],
            automount_service_account_token: Some(false),
            // Lets the processor finish its batch, commit and leave
            // the consumer group on a rolling update.
            termination_grace_period_seconds: Some(30),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(65532),
                run_as_group: Some(65532),
                // The Secret files are group-readable only (0440): the
                // container's group must own them.
                fs_group: (!security.is_empty()).then_some(65532),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    ..SeccompProfile::default()
                }),
                ..PodSecurityContext::default()
            }),
            volumes: (!security.is_empty()).then_some(security.volumes),
            ..PodSpec::default()
        }),
    }
}

/// The container's environment, the operator's side of the contract
/// (`shopstream_common::contract`): every setting from the pipeline's
/// ConfigMap (a missing key fails the pod, never a default), the pod's name
/// (for logs, and as the replica id where the workload asks), and the
/// endpoint address and JSON logs.
fn container_env(pipeline: &str, w: &WorkloadSettings) -> Vec<EnvVar> {
    let config_map = config_map_name(pipeline);
    let mut env: Vec<EnvVar> = w
        .env_keys
        .iter()
        .map(|key| EnvVar {
            name: (*key).to_string(),
            value_from: Some(EnvVarSource {
                config_map_key_ref: Some(ConfigMapKeySelector {
                    name: config_map.clone(),
                    key: (*key).to_string(),
                    optional: Some(false),
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        })
        .collect();
    for name in std::iter::once(&shared::POD_NAME).chain(w.pod_name_env) {
        env.push(EnvVar {
            name: (*name).into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "metadata.name".into(),
                    ..ObjectFieldSelector::default()
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        });
    }
    env.push(literal_env(
        shared::METRICS_ADDR,
        &format!("0.0.0.0:{METRICS_PORT}"),
    ));
    env.push(literal_env(shared::LOG_FORMAT, LogFormat::Json.as_str()));
    env
}

pub(super) fn restricted_container_security() -> SecurityContext {
    SecurityContext {
        run_as_non_root: Some(true),
        read_only_root_filesystem: Some(true),
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..SeccompProfile::default()
        }),
        ..SecurityContext::default()
    }
}

fn literal_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..EnvVar::default()
    }
}

pub(super) fn quantity(q: &str) -> k8s_openapi::apimachinery::pkg::api::resource::Quantity {
    k8s_openapi::apimachinery::pkg::api::resource::Quantity(q.into())
}

/// FNV-1a over the settings: stable across Rust versions and processes,
/// unlike `DefaultHasher`, so the annotation only changes with the settings.
fn config_hash<'a>(entries: impl Iterator<Item = (&'a str, Option<&'a String>)>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (key, value) in entries {
        for byte in key
            .bytes()
            .chain([0u8])
            .chain(value.map(String::as_str).unwrap_or("").bytes())
            .chain([0u8])
        {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

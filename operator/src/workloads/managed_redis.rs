//! The Redis the operator deploys for serving (`spec.serving.redis.managed:
//! true`): a one-replica StatefulSet `<pipeline>-redis` whose data lives on
//! a PersistentVolumeClaim, and the headless Service of the same name that
//! serving reaches it through (`<pipeline>-redis.<namespace>.svc:6379`).
//!
//! Durability: Redis appends every write to its append-only file before it
//! replies (`appendonly yes`), so a restart or a rescheduled pod keeps
//! every write serving saw acknowledged, and serving commits its Kafka
//! offsets only after that acknowledgement. `appendfsync everysec` is
//! Redis's default: only a crash of the node itself can lose the last
//! second, which serving writes again from Kafka if its offsets were not
//! committed yet. No RDB snapshots (`save ""`): their fork doubles memory.
//!
//! The password, when `redis.passwordSecret` is set, reaches the container
//! only as an environment variable from the Secret; the argument list holds
//! the reference `$(REDIS_PASSWORD)`, which the kubelet expands, so the pod
//! spec, the status and the logs never show it.
//!
//! Why headless: a StatefulSet's governing Service, and the name resolves to
//! the ready pod itself, so a client never connects through a Service IP to
//! a pod that is still loading its data (the readiness probe waits for
//! `PONG`, which Redis answers only once the AOF is loaded).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, EnvVarSource, ExecAction, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, SeccompProfile,
    SecretKeySelector, Service, ServicePort, ServiceSpec, TCPSocketAction, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ObjectMeta;

use super::deployment::restricted_container_security;
use super::labels::{Component, labels, selector_labels};
use crate::crd::{DeletionPolicy, SecretKey};
use crate::model::{ManagedRedisSettings, ValidatedPipeline};

/// The port Redis listens on, and the Service's.
pub const REDIS_PORT: i32 = 6379;
/// Where the claim is mounted: Redis's `dir` (the append-only files).
const DATA_DIR: &str = "/data";
/// The claim template's (and the volume's) name: claims are
/// `data-<pipeline>-redis-0`.
pub const REDIS_DATA_VOLUME: &str = "data";
/// The official Redis images' `redis` user and group.
const REDIS_UID: i64 = 999;
/// The password's variable in the container: `redis-server` gets
/// `--requirepass $(REDIS_PASSWORD)`.
const PASSWORD_ENV: &str = "REDIS_PASSWORD";
/// What `redis-cli` (the readiness probe) authenticates with.
const REDISCLI_AUTH_ENV: &str = "REDISCLI_AUTH";

/// The StatefulSet's and the Service's name.
pub fn managed_redis_name(pipeline: &str) -> String {
    format!("{pipeline}-redis")
}

/// Where serving reaches the managed Redis.
pub fn managed_redis_address(namespace: &str, pipeline: &str) -> String {
    format!(
        "{}.{namespace}.svc:{REDIS_PORT}",
        managed_redis_name(pipeline)
    )
}

/// `None` unless serving is enabled with `redis.managed: true`.
pub fn build_managed_redis_statefulset(p: &ValidatedPipeline) -> Option<StatefulSet> {
    let serving = p.serving.as_ref()?;
    let redis = serving.managed_redis.as_ref()?;
    let name = managed_redis_name(&p.name);
    let component = Component::Redis;
    Some(StatefulSet {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(p.namespace.clone()),
            labels: Some(labels(&p.name, component)),
            ..ObjectMeta::default()
        },
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(selector_labels(&p.name, component)),
                ..LabelSelector::default()
            },
            service_name: Some(name),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                ..StatefulSetUpdateStrategy::default()
            }),
            persistent_volume_claim_retention_policy: Some(retention(p.deletion_policy)),
            template: pod_template(p, redis, serving.spec.redis.password_secret.as_ref()),
            volume_claim_templates: Some(vec![claim_template(p, redis)]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    })
}

/// The claim follows the pipeline's `deletionPolicy`, like its topics: with
/// `Delete` the data goes when the pipeline (so the StatefulSet) is
/// deleted; with `Retain` (the default) it stays, and a pipeline recreated
/// under the same name finds it again. Turning `managed` off deletes the
/// StatefulSet, so the same rule applies. Scaling never happens (one replica).
fn retention(policy: DeletionPolicy) -> StatefulSetPersistentVolumeClaimRetentionPolicy {
    let when_deleted = match policy {
        DeletionPolicy::Delete => "Delete",
        DeletionPolicy::Retain => "Retain",
    };
    StatefulSetPersistentVolumeClaimRetentionPolicy {
        when_deleted: Some(when_deleted.into()),
        when_scaled: Some("Retain".into()),
    }
}

fn claim_template(p: &ValidatedPipeline, redis: &ManagedRedisSettings) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(REDIS_DATA_VOLUME.into()),
            labels: Some(labels(&p.name, Component::Redis)),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: redis.storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".into(),
                    redis.storage.size.clone(),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}

/// `redis-server`'s arguments: every setting on the command line, so the
/// image needs no config file and the root filesystem stays read-only.
fn redis_args(with_password: bool) -> Vec<String> {
    let mut args: Vec<String> = [
        ("--port", REDIS_PORT.to_string()),
        // Reached through the Service from serving's pods; with a password
        // Redis refuses unauthenticated clients, without one the
        // namespace's network policy is the boundary (docs/serving.md).
        ("--bind", "0.0.0.0".into()),
        ("--protected-mode", "no".into()),
        ("--dir", DATA_DIR.into()),
        ("--appendonly", "yes".into()),
        ("--appendfsync", "everysec".into()),
        ("--save", String::new()),
    ]
    .into_iter()
    .flat_map(|(flag, value)| [flag.to_string(), value])
    .collect();
    if with_password {
        // Expanded by the kubelet from the container's environment.
        args.push("--requirepass".into());
        args.push(format!("$({PASSWORD_ENV})"));
    }
    args
}

fn secret_env(name: &str, secret: &SecretKey) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.name.clone(),
                key: secret.key.clone(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn pod_template(
    p: &ValidatedPipeline,
    redis: &ManagedRedisSettings,
    password: Option<&SecretKey>,
) -> PodTemplateSpec {
    let env = password.map(|secret| {
        vec![
            secret_env(PASSWORD_ENV, secret),
            secret_env(REDISCLI_AUTH_ENV, secret),
        ]
    });
    let container = Container {
        name: "redis".into(),
        image: Some(redis.image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec!["redis-server".into()]),
        args: Some(redis_args(password.is_some())),
        env,
        ports: Some(vec![ContainerPort {
            name: Some("redis".into()),
            container_port: REDIS_PORT,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        // Ready once Redis answers PONG: not while it loads its AOF
        // (LOADING), and not with a wrong password (NOAUTH).
        readiness_probe: Some(Probe {
            exec: Some(ExecAction {
                command: Some(vec![
                    "sh".into(),
                    "-c".into(),
                    format!("redis-cli -p {REDIS_PORT} ping | grep -qx PONG"),
                ]),
            }),
            period_seconds: Some(5),
            timeout_seconds: Some(3),
            failure_threshold: Some(3),
            ..Probe::default()
        }),
        // Alive while it accepts connections, which it does while loading
        // a large AOF too: a restart would only start the load again.
        liveness_probe: Some(Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::String("redis".into()),
                ..TCPSocketAction::default()
            }),
            initial_delay_seconds: Some(10),
            period_seconds: Some(10),
            failure_threshold: Some(6),
            ..Probe::default()
        }),
        resources: Some(redis.resources.clone()),
        security_context: Some(restricted_container_security()),
        volume_mounts: Some(vec![VolumeMount {
            name: REDIS_DATA_VOLUME.into(),
            mount_path: DATA_DIR.into(),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    };
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(&p.name, Component::Redis)),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container],
            automount_service_account_token: Some(false),
            // Redis flushes its AOF and exits on SIGTERM.
            termination_grace_period_seconds: Some(30),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(REDIS_UID),
                run_as_group: Some(REDIS_UID),
                // The claim's files belong to Redis's group: writable
                // although the root filesystem is read-only.
                fs_group: Some(REDIS_UID),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    ..SeccompProfile::default()
                }),
                ..PodSecurityContext::default()
            }),
            ..PodSpec::default()
        }),
    }
}

/// `None` unless serving is enabled with `redis.managed: true`.
pub fn build_managed_redis_service(p: &ValidatedPipeline) -> Option<Service> {
    p.serving.as_ref()?.managed_redis.as_ref()?;
    Some(Service {
        metadata: ObjectMeta {
            name: Some(managed_redis_name(&p.name)),
            namespace: Some(p.namespace.clone()),
            labels: Some(labels(&p.name, Component::Redis)),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            selector: Some(selector_labels(&p.name, Component::Redis)),
            ports: Some(vec![ServicePort {
                name: Some("redis".into()),
                port: REDIS_PORT,
                target_port: Some(IntOrString::String("redis".into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    })
}

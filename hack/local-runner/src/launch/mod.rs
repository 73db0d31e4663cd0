//! Turning a pod template's container into a host process's launch spec:
//! program, arguments and environment, as the kubelet would run it.

mod command;
mod env;
mod expand;
mod metrics_port;
mod objects;
mod services;
mod volumes;

use std::path::{Path, PathBuf};

use anyhow::Result;
use k8s_openapi::api::core::v1::{Container, Volume};

pub use command::CommandLine;
pub use env::{Environment, container_environment};
pub use metrics_port::{assign_metrics_port, free_loopback_port};
pub use objects::ReferencedObjects;
pub use services::{ServiceAddresses, listening_port};

/// What is needed to start one process.
#[derive(Debug)]
pub struct LaunchSpec {
    /// As logged: `$(VAR)` references not expanded.
    pub command: CommandLine,
    /// The arguments the process gets: `command.args` with `$(VAR)`
    /// references expanded from `env`.
    pub argv: Vec<String>,
    pub env: Environment,
    /// The loopback port its `METRICS_ADDR` points at, if it serves metrics.
    pub metrics_port: Option<u16>,
}

/// Where a process's Secret volumes go on the host, and the Pod's volumes.
pub struct PodVolumes<'a> {
    pub volumes: &'a [Volume],
    /// The names of the workload's claim templates (a StatefulSet's).
    pub claims: &'a [String],
    /// A directory of this Pod alone (its Secret files are written there).
    pub host_dir: PathBuf,
}

/// The launch spec of `container` for a process standing in for Pod
/// `pod_name`, with the ConfigMaps and Secrets it refers to already read;
/// its Secret volumes are written to files first.
/// How a process reaches the servers on this host, and listens if it is
/// one (see `services`).
#[derive(Default)]
pub struct Network<'a> {
    /// Its loopback port, if the container is a server (`listening_port`).
    pub listen_port: Option<u16>,
    pub services: Option<&'a ServiceAddresses>,
}

pub fn resolve(
    container: &Container,
    pod_name: &str,
    bin_dir: &Path,
    objects: &ReferencedObjects,
    pod_volumes: &PodVolumes<'_>,
    network: &Network<'_>,
) -> Result<LaunchSpec> {
    let mut command = CommandLine::of(container, bin_dir)?;
    command.ensure_program_exists()?;
    let mut env = container_environment(container, pod_name, objects)?;
    let mounts = volumes::materialize(
        container,
        pod_volumes.volumes,
        pod_volumes.claims,
        objects,
        &pod_volumes.host_dir,
    )?;
    volumes::rewrite_paths(&mut env, &mounts);
    volumes::rewrite_arg_paths(&mut command.args, &mounts);
    if let Some(port) = network.listen_port {
        services::relocate(&mut command.args, port);
    }
    if let Some(services) = network.services {
        services.rewrite(&mut env);
    }
    let metrics_port = assign_metrics_port(&mut env, free_loopback_port)?;
    let argv = command
        .args
        .iter()
        .map(|arg| expand::expand_references(arg, &env))
        .collect();
    Ok(LaunchSpec {
        command,
        argv,
        env,
        metrics_port,
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::EnvVar;

    use super::*;

    fn no_volumes() -> PodVolumes<'static> {
        PodVolumes {
            volumes: &[],
            claims: &[],
            host_dir: PathBuf::from("/nonexistent-dir"),
        }
    }

    #[test]
    fn a_workspace_binary_gets_its_env_and_a_metrics_port() {
        let exe = std::env::current_exe().expect("test binary");
        let bin_dir = exe.parent().expect("its directory");
        let name = exe.file_name().expect("a name").to_string_lossy();
        let container = Container {
            name: "processor".into(),
            command: Some(vec![name.to_string()]),
            env: Some(vec![EnvVar {
                name: "METRICS_ADDR".into(),
                value: Some("0.0.0.0:9090".into()),
                ..EnvVar::default()
            }]),
            ..Container::default()
        };
        let spec = resolve(
            &container,
            "shop-processor-0",
            bin_dir,
            &ReferencedObjects::empty("shop"),
            &no_volumes(),
            &Network::default(),
        )
        .expect("resolves");
        assert_eq!(spec.command.program, exe);
        assert_eq!(spec.env.get("HOSTNAME"), Some("shop-processor-0"));
        let port = spec.metrics_port.expect("a metrics port");
        assert_eq!(
            spec.env.get("METRICS_ADDR"),
            Some(format!("127.0.0.1:{port}").as_str())
        );
    }

    #[test]
    fn a_missing_binary_fails_before_the_environment_is_resolved() {
        let container = Container {
            name: "processor".into(),
            command: Some(vec!["no-such-binary".into()]),
            // Would fail too: the ConfigMap was not read.
            env: Some(vec![EnvVar {
                name: "A".into(),
                value_from: Some(k8s_openapi::api::core::v1::EnvVarSource {
                    config_map_key_ref: Some(k8s_openapi::api::core::v1::ConfigMapKeySelector {
                        name: "unread".into(),
                        key: "a".into(),
                        optional: None,
                    }),
                    ..Default::default()
                }),
                ..EnvVar::default()
            }]),
            ..Container::default()
        };
        let err = resolve(
            &container,
            "p",
            Path::new("/nonexistent-dir"),
            &ReferencedObjects::empty("shop"),
            &no_volumes(),
            &Network::default(),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("no binary"), "{err}");
    }

    #[test]
    fn a_server_moves_to_loopback_with_its_claim_and_its_secret_expanded() {
        let dir = std::env::temp_dir().join(format!("local-runner-resolve-{}", std::process::id()));
        let container = Container {
            name: "redis".into(),
            // Any program on the host's PATH stands in for an image's.
            command: Some(vec!["sh".into()]),
            args: Some(
                ["--port", "6379", "--bind", "0.0.0.0", "--dir", "/data"]
                    .iter()
                    .chain(&["--requirepass", "$(REDIS_PASSWORD)"])
                    .map(|a| a.to_string())
                    .collect(),
            ),
            env: Some(vec![EnvVar {
                name: "REDIS_PASSWORD".into(),
                value: Some("s3cret".into()),
                ..EnvVar::default()
            }]),
            ports: Some(vec![k8s_openapi::api::core::v1::ContainerPort {
                container_port: 6379,
                ..Default::default()
            }]),
            volume_mounts: Some(vec![k8s_openapi::api::core::v1::VolumeMount {
                name: "data".into(),
                mount_path: "/data".into(),
                ..Default::default()
            }]),
            ..Container::default()
        };
        assert_eq!(listening_port(&container), Some(6379));
        let claims = ["data".to_string()];
        let spec = resolve(
            &container,
            "shop-redis-0",
            Path::new("/nonexistent-dir"),
            &ReferencedObjects::empty("shop"),
            &PodVolumes {
                volumes: &[],
                claims: &claims,
                host_dir: dir.clone(),
            },
            &Network {
                listen_port: Some(41000),
                services: None,
            },
        )
        .expect("resolves");
        let data = dir.join("data").display().to_string();
        assert_eq!(
            spec.argv,
            [
                "--port",
                "41000",
                "--bind",
                "127.0.0.1",
                "--dir",
                &data,
                "--requirepass",
                "s3cret"
            ]
        );
        // What is logged keeps the reference.
        assert!(
            spec.command
                .display()
                .ends_with("--requirepass $(REDIS_PASSWORD)")
        );
        assert!(!spec.command.display().contains("s3cret"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn clients_get_the_loopback_address_of_a_service() {
        let mut services = ServiceAddresses::default();
        services.register("shop", "p-redis", 6379, 41000);
        let exe = std::env::current_exe().expect("test binary");
        let container = Container {
            name: "serving".into(),
            command: Some(vec![exe.display().to_string()]),
            env: Some(vec![EnvVar {
                name: "SERVING_REDIS_ADDRESS".into(),
                value: Some("p-redis.shop.svc:6379".into()),
                ..EnvVar::default()
            }]),
            ..Container::default()
        };
        let spec = resolve(
            &container,
            "p-serving-x",
            Path::new("/nonexistent-dir"),
            &ReferencedObjects::empty("shop"),
            &no_volumes(),
            &Network {
                listen_port: None,
                services: Some(&services),
            },
        )
        .expect("resolves");
        assert_eq!(
            spec.env.get("SERVING_REDIS_ADDRESS"),
            Some("127.0.0.1:41000")
        );
    }
}

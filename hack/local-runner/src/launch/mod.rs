//! Turning a pod template's container into a host process's launch spec:
//! program, arguments and environment, as the kubelet would run it.

mod command;
mod env;
mod metrics_port;
mod objects;
mod volumes;

use std::path::{Path, PathBuf};

use anyhow::Result;
use k8s_openapi::api::core::v1::{Container, Volume};

pub use command::CommandLine;
pub use env::{Environment, container_environment};
pub use metrics_port::{assign_metrics_port, free_loopback_port};
pub use objects::ReferencedObjects;

/// What is needed to start one process.
#[derive(Debug)]
pub struct LaunchSpec {
    pub command: CommandLine,
    pub env: Environment,
    /// The loopback port its `METRICS_ADDR` points at, if it serves metrics.
    pub metrics_port: Option<u16>,
}

/// Where a process's Secret volumes go on the host, and the Pod's volumes.
pub struct PodVolumes<'a> {
    pub volumes: &'a [Volume],
    /// A directory of this Pod alone (its Secret files are written there).
    pub host_dir: PathBuf,
}

/// The launch spec of `container` for a process standing in for Pod
/// `pod_name`, with the ConfigMaps and Secrets it refers to already read;
/// its Secret volumes are written to files first.
pub fn resolve(
    container: &Container,
    pod_name: &str,
    bin_dir: &Path,
    objects: &ReferencedObjects,
    pod_volumes: &PodVolumes<'_>,
) -> Result<LaunchSpec> {
    let command = CommandLine::of(container, bin_dir)?;
    command.ensure_program_exists()?;
    let mut env = container_environment(container, pod_name, objects)?;
    let mounts = volumes::materialize(
        container,
        pod_volumes.volumes,
        objects,
        &pod_volumes.host_dir,
    )?;
    volumes::rewrite_paths(&mut env, &mounts);
    let metrics_port = assign_metrics_port(&mut env, free_loopback_port)?;
    Ok(LaunchSpec {
        command,
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
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("no binary"), "{err}");
    }
}

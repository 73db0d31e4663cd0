//! Secret volumes, the way the kubelet projects them: each key (or the
//! `items` listed) becomes a file under the container's mount path. A host
//! process cannot see `/etc/...` paths of its own, so the files go to a
//! private directory per Pod and every environment value that names a file
//! under a mount path is rewritten to the host file (the workloads get file
//! *paths* in their environment, e.g. `KAFKA_SASL_PASSWORD_FILE`).
//!
//! Only Secret volumes and a StatefulSet's claim templates are supported; a
//! mount of any other volume type is an error naming it, not a process that
//! silently misses its files. A claim is a directory of the Pod's that is
//! kept across restarts of the process (a PersistentVolumeClaim outlives
//! its pod), and arguments naming a path under its mount path are
//! rewritten too (`redis-server --dir /data`).

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use k8s_openapi::api::core::v1::{Container, Volume};

use super::env::Environment;
use super::objects::ReferencedObjects;

/// A mount path of the container and the host directory standing in for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMount {
    pub mount_path: String,
    pub host_dir: PathBuf,
}

/// The Secrets the container's mounts need, by name.
pub fn mounted_secrets<'a>(container: &Container, volumes: &'a [Volume]) -> Vec<&'a str> {
    container
        .volume_mounts
        .iter()
        .flatten()
        .filter_map(|m| volumes.iter().find(|v| v.name == m.name))
        .filter_map(|v| v.secret.as_ref()?.secret_name.as_deref())
        .collect()
}

/// Writes every mounted Secret volume of `container` under `pod_dir`
/// (created private, 0700; files 0600), replacing what a previous start
/// left there.
pub fn materialize(
    container: &Container,
    volumes: &[Volume],
    claims: &[String],
    objects: &ReferencedObjects,
    pod_dir: &Path,
) -> Result<Vec<HostMount>> {
    let mut mounts = Vec::new();
    for mount in container.volume_mounts.iter().flatten() {
        if claims.contains(&mount.name) {
            // Kept: the data of a claim survives its pod.
            let host_dir = pod_dir.join(&mount.name);
            create_private_dir(&host_dir)?;
            mounts.push(HostMount {
                mount_path: mount.mount_path.trim_end_matches('/').to_string(),
                host_dir,
            });
            continue;
        }
        let Some(volume) = volumes.iter().find(|v| v.name == mount.name) else {
            bail!("volume mount {} names no volume of the pod", mount.name);
        };
        let Some(source) = &volume.secret else {
            bail!(
                "volume {} is not a Secret volume; the local runner supports only those",
                volume.name
            );
        };
        let secret_name = source.secret_name.as_deref().unwrap_or_default();
        let secret = objects.secret(secret_name)?;
        let data = secret.data.clone().unwrap_or_default();
        let items: Vec<(String, String)> = match &source.items {
            Some(items) => items
                .iter()
                .map(|i| (i.key.clone(), i.path.clone()))
                .collect(),
            None => data.keys().map(|k| (k.clone(), k.clone())).collect(),
        };
        let host_dir = pod_dir.join(&volume.name);
        if host_dir.exists() {
            std::fs::remove_dir_all(&host_dir)
                .with_context(|| format!("clearing {}", host_dir.display()))?;
        }
        create_private_dir(&host_dir)?;
        for (key, path) in items {
            if path.contains("..") || path.starts_with('/') {
                bail!(
                    "volume {}: item path {path:?} leaves the volume",
                    volume.name
                );
            }
            let Some(value) = data.get(&key) else {
                bail!(
                    "Secret {}/{secret_name} has no key {key:?} (volume {})",
                    objects.namespace(),
                    volume.name
                );
            };
            let file = host_dir.join(&path);
            if let Some(parent) = file.parent() {
                create_private_dir(parent)?;
            }
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&file)
                .with_context(|| format!("writing {}", file.display()))?;
            out.write_all(&value.0)
                .with_context(|| format!("writing {}", file.display()))?;
        }
        mounts.push(HostMount {
            mount_path: mount.mount_path.trim_end_matches('/').to_string(),
            host_dir,
        });
    }
    Ok(mounts)
}

fn create_private_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", dir.display()))
}

/// Environment values naming a file under a mount path now name the host
/// file. Pure.
pub fn rewrite_paths(env: &mut Environment, mounts: &[HostMount]) {
    let rewritten: Vec<(String, String)> = env
        .iter()
        .filter_map(|(name, value)| Some((name.to_string(), host_path(value, mounts)?)))
        .collect();
    for (name, value) in rewritten {
        env.set(name, value);
    }
}

/// Arguments naming a path under a mount path now name the host path. Pure.
pub fn rewrite_arg_paths(args: &mut [String], mounts: &[HostMount]) {
    for arg in args.iter_mut() {
        if let Some(host) = host_path(arg, mounts) {
            *arg = host;
        }
    }
}

fn host_path(value: &str, mounts: &[HostMount]) -> Option<String> {
    mounts.iter().find_map(|m| {
        let rest = value.strip_prefix(&m.mount_path)?;
        if rest.is_empty() {
            // The mount path itself (`--dir /data`): no trailing slash.
            return Some(m.host_dir.display().to_string());
        }
        Some(
            m.host_dir
                .join(rest.strip_prefix('/')?)
                .display()
                .to_string(),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::{KeyToPath, Secret, SecretVolumeSource, VolumeMount};
    use kube::api::ObjectMeta;

    use super::*;

    fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        }
    }

    fn volume(name: &str, secret: &str, keys: &[&str]) -> Volume {
        Volume {
            name: name.into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.into()),
                items: Some(
                    keys.iter()
                        .map(|k| KeyToPath {
                            key: k.to_string(),
                            path: k.to_string(),
                            mode: None,
                        })
                        .collect(),
                ),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        }
    }

    fn container(mounts: &[(&str, &str)]) -> Container {
        Container {
            name: "processor".into(),
            volume_mounts: Some(
                mounts
                    .iter()
                    .map(|(name, path)| VolumeMount {
                        name: name.to_string(),
                        mount_path: path.to_string(),
                        read_only: Some(true),
                        ..VolumeMount::default()
                    })
                    .collect(),
            ),
            ..Container::default()
        }
    }

    #[test]
    fn listed_keys_become_private_files_and_env_paths_follow() {
        let dir = std::env::temp_dir().join(format!("local-runner-volumes-{}", std::process::id()));
        let container = container(&[("kafka-user", "/etc/shopstream/kafka/user")]);
        let volumes = [volume("kafka-user", "shop", &["password"])];
        assert_eq!(mounted_secrets(&container, &volumes), ["shop"]);
        let objects = ReferencedObjects::empty("team-a").with_secret(
            "shop",
            Ok(secret(
                "shop",
                &[("password", "s3cret"), ("sasl.jaas.config", "x")],
            )),
        );
        let mounts = materialize(&container, &volumes, &[], &objects, &dir).expect("written");
        let file = dir.join("kafka-user/password");
        assert_eq!(std::fs::read_to_string(&file).expect("file"), "s3cret");
        assert_eq!(
            std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        assert!(
            !dir.join("kafka-user/sasl.jaas.config").exists(),
            "not listed"
        );

        let mut env = Environment::default();
        env.set(
            "KAFKA_SASL_PASSWORD_FILE",
            "/etc/shopstream/kafka/user/password",
        );
        env.set("OTHER", "/etc/shopstream/kafka/username");
        rewrite_paths(&mut env, &mounts);
        assert_eq!(
            env.get("KAFKA_SASL_PASSWORD_FILE"),
            Some(file.display().to_string().as_str())
        );
        assert_eq!(env.get("OTHER"), Some("/etc/shopstream/kafka/username"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_key_or_volume_type_is_named() {
        let dir =
            std::env::temp_dir().join(format!("local-runner-volumes-bad-{}", std::process::id()));
        let container = container(&[("kafka-user", "/u")]);
        let objects = ReferencedObjects::empty("team-a")
            .with_secret("shop", Ok(secret("shop", &[("user.password", "x")])));
        let error = materialize(
            &container,
            &[volume("kafka-user", "shop", &["password"])],
            &[],
            &objects,
            &dir,
        )
        .expect_err("no such key");
        assert!(
            error.to_string().contains("has no key \"password\""),
            "{error}"
        );
        let empty_dir = Volume {
            name: "kafka-user".into(),
            ..Volume::default()
        };
        let error =
            materialize(&container, &[empty_dir], &[], &objects, &dir).expect_err("not a Secret");
        assert!(error.to_string().contains("not a Secret volume"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_claim_is_a_kept_directory_and_arguments_follow_it() {
        let dir =
            std::env::temp_dir().join(format!("local-runner-volumes-claim-{}", std::process::id()));
        let container = container(&[("data", "/data/")]);
        let objects = ReferencedObjects::empty("team-a");
        let claims = ["data".to_string()];
        let mounts = materialize(&container, &[], &claims, &objects, &dir).expect("created");
        let data = dir.join("data");
        std::fs::write(data.join("appendonly.aof"), "kept").expect("write");
        // A restart of the process: the claim's files are still there.
        let again = materialize(&container, &[], &claims, &objects, &dir).expect("again");
        assert_eq!(again, mounts);
        assert_eq!(
            std::fs::read_to_string(data.join("appendonly.aof")).expect("kept"),
            "kept"
        );
        let mut args: Vec<String> = ["--dir", "/data", "--other", "/database"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        rewrite_arg_paths(&mut args, &mounts);
        assert_eq!(args[1], data.display().to_string());
        assert_eq!(args[3], "/database");
        // Without the claim the mount names no volume: an error, not a
        // process writing to a path that does not exist.
        let error = materialize(&container, &[], &[], &objects, &dir).expect_err("no volume");
        assert!(error.to_string().contains("names no volume"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

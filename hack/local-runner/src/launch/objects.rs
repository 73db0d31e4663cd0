//! The ConfigMaps and Secrets a container's environment refers to.
//!
//! They are read once per pass (for every replica started in it) before the
//! environment is resolved, so that resolving it is a pure function of the
//! container, the Pod's identity and these objects.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Result, anyhow};
use k8s_openapi::api::core::v1::{ConfigMap, Container, Secret, Volume};
use kube::{Api, Client};

/// The names of the ConfigMaps and Secrets a container refers to, through
/// `envFrom` or `env[].valueFrom`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct References {
    pub config_maps: BTreeSet<String>,
    pub secrets: BTreeSet<String>,
}

impl References {
    pub fn of(container: &Container) -> Self {
        let mut refs = Self::default();
        for source in container.env_from.iter().flatten() {
            if let Some(r) = &source.config_map_ref {
                refs.config_maps.insert(r.name.clone());
            }
            if let Some(r) = &source.secret_ref {
                refs.secrets.insert(r.name.clone());
            }
        }
        for from in container
            .env
            .iter()
            .flatten()
            .filter_map(|v| v.value_from.as_ref())
        {
            if let Some(r) = &from.config_map_key_ref {
                refs.config_maps.insert(r.name.clone());
            }
            if let Some(r) = &from.secret_key_ref {
                refs.secrets.insert(r.name.clone());
            }
        }
        refs
    }
}

/// Each referenced object as read, or why it could not be read (kept as a
/// message: an optional reference ignores it, a required one reports it).
#[derive(Debug, Default)]
pub struct ReferencedObjects {
    namespace: String,
    config_maps: HashMap<String, Result<ConfigMap, String>>,
    secrets: HashMap<String, Result<Secret, String>>,
}

impl ReferencedObjects {
    /// Reads every object `container` refers to from namespace `ns`:
    /// through its environment, and the Secrets of the `volumes` it mounts.
    pub async fn read(
        client: &Client,
        ns: &str,
        container: &Container,
        volumes: &[Volume],
    ) -> Self {
        let mut refs = References::of(container);
        refs.secrets.extend(
            super::volumes::mounted_secrets(container, volumes)
                .into_iter()
                .map(str::to_string),
        );
        let mut objects = Self::empty(ns);
        let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
        for name in refs.config_maps {
            let read = config_maps
                .get(&name)
                .await
                .map_err(|e| describe(e, "ConfigMap", ns, &name));
            objects.config_maps.insert(name, read);
        }
        let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
        for name in refs.secrets {
            let read = secrets
                .get(&name)
                .await
                .map_err(|e| describe(e, "Secret", ns, &name));
            objects.secrets.insert(name, read);
        }
        objects
    }

    pub fn empty(ns: &str) -> Self {
        Self {
            namespace: ns.to_string(),
            ..Self::default()
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn config_map(&self, name: &str) -> Result<&ConfigMap> {
        lookup(&self.config_maps, "ConfigMap", &self.namespace, name)
    }

    pub fn secret(&self, name: &str) -> Result<&Secret> {
        lookup(&self.secrets, "Secret", &self.namespace, name)
    }

    #[cfg(test)]
    pub fn with_config_map(mut self, name: &str, read: Result<ConfigMap, String>) -> Self {
        self.config_maps.insert(name.to_string(), read);
        self
    }

    #[cfg(test)]
    pub fn with_secret(mut self, name: &str, read: Result<Secret, String>) -> Self {
        self.secrets.insert(name.to_string(), read);
        self
    }
}

/// The failed read with its whole cause chain, as `{:#}` prints it.
fn describe(e: kube::Error, kind: &str, ns: &str, name: &str) -> String {
    format!(
        "{:#}",
        anyhow::Error::new(e).context(format!("reading {kind} {ns}/{name}"))
    )
}

fn lookup<'a, T>(
    objects: &'a HashMap<String, Result<T, String>>,
    kind: &str,
    ns: &str,
    name: &str,
) -> Result<&'a T> {
    match objects.get(name) {
        Some(Ok(object)) => Ok(object),
        Some(Err(message)) => Err(anyhow!("{message}")),
        // References::of and the resolution walk the same fields, so this
        // means the two disagree: say so rather than pretend it is absent.
        None => Err(anyhow!(
            "{kind} {ns}/{name} was not read (the local runner missed a reference)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ConfigMapEnvSource, ConfigMapKeySelector, EnvFromSource, EnvVar, EnvVarSource,
        SecretEnvSource, SecretKeySelector,
    };

    #[test]
    fn references_cover_env_from_and_value_from_once_each() {
        let container = Container {
            env_from: Some(vec![
                EnvFromSource {
                    config_map_ref: Some(ConfigMapEnvSource {
                        name: "settings".into(),
                        optional: None,
                    }),
                    ..EnvFromSource::default()
                },
                EnvFromSource {
                    secret_ref: Some(SecretEnvSource {
                        name: "credentials".into(),
                        optional: Some(true),
                    }),
                    ..EnvFromSource::default()
                },
            ]),
            env: Some(vec![
                EnvVar {
                    name: "A".into(),
                    value_from: Some(EnvVarSource {
                        config_map_key_ref: Some(ConfigMapKeySelector {
                            name: "settings".into(),
                            key: "a".into(),
                            optional: None,
                        }),
                        ..EnvVarSource::default()
                    }),
                    ..EnvVar::default()
                },
                EnvVar {
                    name: "B".into(),
                    value_from: Some(EnvVarSource {
                        secret_key_ref: Some(SecretKeySelector {
                            name: "token".into(),
                            key: "b".into(),
                            optional: None,
                        }),
                        ..EnvVarSource::default()
                    }),
                    ..EnvVar::default()
                },
                EnvVar {
                    name: "C".into(),
                    value: Some("literal".into()),
                    ..EnvVar::default()
                },
            ]),
            ..Container::default()
        };
        let refs = References::of(&container);
        assert_eq!(
            refs,
            References {
                config_maps: BTreeSet::from(["settings".to_string()]),
                secrets: BTreeSet::from(["credentials".to_string(), "token".to_string()]),
            }
        );
    }

    #[test]
    fn a_failed_read_is_reported_with_its_cause_and_an_unread_name_is_named() {
        let objects = ReferencedObjects::empty("shop")
            .with_config_map("here", Ok(ConfigMap::default()))
            .with_config_map("gone", Err("reading ConfigMap shop/gone: 404".into()));
        assert!(objects.config_map("here").is_ok());
        assert_eq!(
            objects.config_map("gone").unwrap_err().to_string(),
            "reading ConfigMap shop/gone: 404"
        );
        let unread = objects.secret("never").unwrap_err().to_string();
        assert!(
            unread.contains("Secret shop/never was not read"),
            "{unread}"
        );
    }
}

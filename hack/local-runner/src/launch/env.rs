//! A container's environment, resolved the way the kubelet does: `HOSTNAME`,
//! then `envFrom` (ConfigMaps, Secrets), then `env` (literal values, ConfigMap
//! and Secret keys, the downward API's pod fields), a later definition of a
//! name replacing an earlier one.

use anyhow::{Result, anyhow, bail};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    ConfigMapKeySelector, Container, EnvFromSource, EnvVar, ObjectFieldSelector, SecretKeySelector,
};

use super::objects::ReferencedObjects;

/// A process environment in definition order; setting a name again replaces
/// its value (and moves it to the end, which only matters to readers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment(Vec<(String, String)>);

impl Environment {
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.0.retain(|(existing, _)| *existing != name);
        self.0.push((name, value.into()));
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The environment of `container` for a process standing in for Pod
/// `pod_name` in the namespace of `objects`.
pub fn container_environment(
    container: &Container,
    pod_name: &str,
    objects: &ReferencedObjects,
) -> Result<Environment> {
    // A container runtime sets HOSTNAME to the pod name (the processor, for
    // one, derives its replica identity from it); the container's env wins.
    let mut env = Environment::default();
    env.set("HOSTNAME", pod_name);
    for source in container.env_from.iter().flatten() {
        add_env_from(&mut env, source, objects)?;
    }
    for var in container.env.iter().flatten() {
        if let Some(value) = env_value(var, pod_name, objects)? {
            env.set(var.name.clone(), value);
        }
    }
    Ok(env)
}

/// Every key of an `envFrom` ConfigMap or Secret, with the source's prefix.
fn add_env_from(
    env: &mut Environment,
    source: &EnvFromSource,
    objects: &ReferencedObjects,
) -> Result<()> {
    let prefix = source.prefix.as_deref().unwrap_or_default();
    if let Some(r) = &source.config_map_ref {
        match objects.config_map(&r.name) {
            Ok(cm) => {
                for (k, v) in cm.data.iter().flatten() {
                    env.set(format!("{prefix}{k}"), v.clone());
                }
            }
            Err(_) if r.optional == Some(true) => {}
            Err(e) => return Err(e),
        }
    }
    if let Some(r) = &source.secret_ref {
        match objects.secret(&r.name) {
            Ok(secret) => {
                for (k, v) in secret.data.iter().flatten() {
                    env.set(format!("{prefix}{k}"), text(v));
                }
            }
            Err(_) if r.optional == Some(true) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One `env` entry's value; `None` for an optional reference that is absent.
fn env_value(var: &EnvVar, pod_name: &str, objects: &ReferencedObjects) -> Result<Option<String>> {
    let Some(from) = &var.value_from else {
        return Ok(Some(var.value.clone().unwrap_or_default()));
    };
    if let Some(r) = &from.config_map_key_ref {
        return config_map_key(var, r, objects);
    }
    if let Some(r) = &from.secret_key_ref {
        return secret_key(var, r, objects);
    }
    if let Some(r) = &from.field_ref {
        return pod_field(var, r, pod_name, objects.namespace()).map(Some);
    }
    bail!(
        "env {}: this kind of valueFrom is not supported by the local runner",
        var.name
    )
}

fn config_map_key(
    var: &EnvVar,
    r: &ConfigMapKeySelector,
    objects: &ReferencedObjects,
) -> Result<Option<String>> {
    let value = objects
        .config_map(&r.name)
        .map(|cm| cm.data.as_ref().and_then(|d| d.get(&r.key)).cloned());
    optional_key(value, r.optional == Some(true), || {
        anyhow!(
            "env {}: ConfigMap {}/{} has no key {}",
            var.name,
            objects.namespace(),
            r.name,
            r.key
        )
    })
}

fn secret_key(
    var: &EnvVar,
    r: &SecretKeySelector,
    objects: &ReferencedObjects,
) -> Result<Option<String>> {
    let value = objects
        .secret(&r.name)
        .map(|s| s.data.as_ref().and_then(|d| d.get(&r.key)).map(text));
    optional_key(value, r.optional == Some(true), || {
        anyhow!(
            "env {}: Secret {}/{} has no key {}",
            var.name,
            objects.namespace(),
            r.name,
            r.key
        )
    })
}

/// A key's value from a read object (`Ok(None)`: no such key), with the
/// kubelet's rule for optional references: an unreadable object or a missing
/// key leaves the variable unset instead of failing the container.
fn optional_key(
    value: Result<Option<String>>,
    optional: bool,
    missing_key: impl FnOnce() -> anyhow::Error,
) -> Result<Option<String>> {
    match value {
        Ok(Some(v)) => Ok(Some(v)),
        Ok(None) | Err(_) if optional => Ok(None),
        Ok(None) => Err(missing_key()),
        Err(e) => Err(e),
    }
}

/// The downward API's pod fields, as they are for a process on this host.
fn pod_field(var: &EnvVar, r: &ObjectFieldSelector, pod_name: &str, ns: &str) -> Result<String> {
    match r.field_path.as_str() {
        "metadata.name" => Ok(pod_name.to_string()),
        "metadata.namespace" => Ok(ns.to_string()),
        "spec.nodeName" => Ok("local".to_string()),
        "status.podIP" | "status.hostIP" => Ok("127.0.0.1".to_string()),
        other => bail!(
            "env {}: fieldRef {other} is not supported by the local runner",
            var.name
        ),
    }
}

/// Secret bytes as an environment value (not UTF-8: replaced, as a lossy
/// stand-in for the raw bytes a container would get).
fn text(bytes: &ByteString) -> String {
    String::from_utf8_lossy(&bytes.0).into_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{
        ConfigMap, ConfigMapEnvSource, EnvVarSource, Secret, SecretEnvSource,
    };

    use super::*;

    const POD: &str = "shop-processor-7d9c-x2x4q";

    fn config_map(pairs: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..ConfigMap::default()
        }
    }

    fn secret(pairs: &[(&str, &[u8])]) -> Secret {
        Secret {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                    .collect(),
            ),
            ..Secret::default()
        }
    }

    fn literal(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: Some(value.into()),
            ..EnvVar::default()
        }
    }

    fn from(name: &str, source: EnvVarSource) -> EnvVar {
        EnvVar {
            name: name.into(),
            value_from: Some(source),
            ..EnvVar::default()
        }
    }

    fn cm_key(cm: &str, key: &str, optional: Option<bool>) -> EnvVarSource {
        EnvVarSource {
            config_map_key_ref: Some(ConfigMapKeySelector {
                name: cm.into(),
                key: key.into(),
                optional,
            }),
            ..EnvVarSource::default()
        }
    }

    fn field(path: &str) -> EnvVarSource {
        EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }
    }

    fn with_env(env: Vec<EnvVar>) -> Container {
        Container {
            name: "processor".into(),
            env: Some(env),
            ..Container::default()
        }
    }

    fn as_map(env: &Environment) -> BTreeMap<&str, &str> {
        env.iter().collect()
    }

    #[test]
    fn set_replaces_an_earlier_definition() {
        let mut env = Environment::default();
        env.set("A", "1");
        env.set("B", "2");
        env.set("A", "3");
        assert_eq!(env.get("A"), Some("3"));
        assert_eq!(env.iter().collect::<Vec<_>>(), vec![("B", "2"), ("A", "3")]);
    }

    /// The operator's own Deployment env: ConfigMap keys, the pod name through
    /// the downward API, literal values.
    #[test]
    fn the_operators_env_resolves_from_its_config_map_and_the_pod() {
        let container = with_env(vec![
            from(
                "KAFKA_BOOTSTRAP_SERVERS",
                cm_key("shop-config", "KAFKA_BOOTSTRAP_SERVERS", Some(false)),
            ),
            from(
                "INPUT_TOPIC",
                cm_key("shop-config", "INPUT_TOPIC", Some(false)),
            ),
            from("POD_NAME", field("metadata.name")),
            from("POD_NAMESPACE", field("metadata.namespace")),
            literal("METRICS_ADDR", "0.0.0.0:9090"),
            literal("LOG_FORMAT", "json"),
        ]);
        let objects = ReferencedObjects::empty("shop").with_config_map(
            "shop-config",
            Ok(config_map(&[
                ("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"),
                ("INPUT_TOPIC", "shop-input"),
                ("UNREFERENCED", "ignored"),
            ])),
        );
        let env = container_environment(&container, POD, &objects).expect("resolves");
        assert_eq!(
            as_map(&env),
            BTreeMap::from([
                ("HOSTNAME", POD),
                ("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"),
                ("INPUT_TOPIC", "shop-input"),
                ("POD_NAME", POD),
                ("POD_NAMESPACE", "shop"),
                ("METRICS_ADDR", "0.0.0.0:9090"),
                ("LOG_FORMAT", "json"),
            ])
        );
    }

    #[test]
    fn env_from_adds_prefixed_keys_and_env_overrides_them_and_hostname() {
        let container = Container {
            env_from: Some(vec![
                EnvFromSource {
                    config_map_ref: Some(ConfigMapEnvSource {
                        name: "settings".into(),
                        optional: None,
                    }),
                    prefix: Some("APP_".into()),
                    ..EnvFromSource::default()
                },
                EnvFromSource {
                    secret_ref: Some(SecretEnvSource {
                        name: "credentials".into(),
                        optional: None,
                    }),
                    ..EnvFromSource::default()
                },
            ]),
            env: Some(vec![
                literal("APP_MODE", "override"),
                literal("HOSTNAME", "mine"),
            ]),
            ..Container::default()
        };
        let objects = ReferencedObjects::empty("shop")
            .with_config_map(
                "settings",
                Ok(config_map(&[("MODE", "base"), ("LEVEL", "2")])),
            )
            .with_secret("credentials", Ok(secret(&[("PASSWORD", b"s3cret")])));
        let env = container_environment(&container, POD, &objects).expect("resolves");
        assert_eq!(
            as_map(&env),
            BTreeMap::from([
                ("HOSTNAME", "mine"),
                ("APP_MODE", "override"),
                ("APP_LEVEL", "2"),
                ("PASSWORD", "s3cret"),
            ])
        );
    }

    #[test]
    fn a_secret_key_is_decoded_lossily() {
        let container = with_env(vec![from(
            "TOKEN",
            EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: "token".into(),
                    key: "value".into(),
                    optional: None,
                }),
                ..EnvVarSource::default()
            },
        )]);
        let objects = ReferencedObjects::empty("shop")
            .with_secret("token", Ok(secret(&[("value", b"ab\xffc")])));
        let env = container_environment(&container, POD, &objects).expect("resolves");
        assert_eq!(env.get("TOKEN"), Some("ab\u{fffd}c"));
    }

    #[test]
    fn a_required_reference_fails_naming_the_variable_object_and_key() {
        let objects = ReferencedObjects::empty("shop")
            .with_config_map("settings", Ok(config_map(&[("OTHER", "x")])))
            .with_config_map("gone", Err("reading ConfigMap shop/gone: not found".into()));

        let missing_key = with_env(vec![from("A", cm_key("settings", "A", None))]);
        let err = container_environment(&missing_key, POD, &objects).unwrap_err();
        assert_eq!(
            err.to_string(),
            "env A: ConfigMap shop/settings has no key A"
        );

        let missing_object = with_env(vec![from("A", cm_key("gone", "A", Some(false)))]);
        let err = container_environment(&missing_object, POD, &objects).unwrap_err();
        assert_eq!(err.to_string(), "reading ConfigMap shop/gone: not found");

        let missing_env_from = Container {
            env_from: Some(vec![EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource {
                    name: "gone".into(),
                    optional: None,
                }),
                ..EnvFromSource::default()
            }]),
            ..Container::default()
        };
        let err = container_environment(&missing_env_from, POD, &objects).unwrap_err();
        assert_eq!(err.to_string(), "reading ConfigMap shop/gone: not found");
    }

    #[test]
    fn an_optional_reference_to_something_absent_leaves_the_variable_unset() {
        let container = Container {
            env_from: Some(vec![EnvFromSource {
                secret_ref: Some(SecretEnvSource {
                    name: "gone".into(),
                    optional: Some(true),
                }),
                ..EnvFromSource::default()
            }]),
            env: Some(vec![
                from("NO_KEY", cm_key("settings", "absent", Some(true))),
                from("NO_MAP", cm_key("gone", "absent", Some(true))),
                literal("KEPT", "yes"),
            ]),
            ..Container::default()
        };
        let objects = ReferencedObjects::empty("shop")
            .with_config_map("settings", Ok(config_map(&[])))
            .with_config_map("gone", Err("not found".into()))
            .with_secret("gone", Err("not found".into()));
        let env = container_environment(&container, POD, &objects).expect("resolves");
        assert_eq!(
            as_map(&env),
            BTreeMap::from([("HOSTNAME", POD), ("KEPT", "yes")])
        );
    }

    #[test]
    fn pod_fields_are_the_hosts_and_unknown_ones_fail() {
        let container = with_env(vec![
            from("NODE", field("spec.nodeName")),
            from("POD_IP", field("status.podIP")),
            from("HOST_IP", field("status.hostIP")),
        ]);
        let objects = ReferencedObjects::empty("shop");
        let env = container_environment(&container, POD, &objects).expect("resolves");
        assert_eq!(env.get("NODE"), Some("local"));
        assert_eq!(env.get("POD_IP"), Some("127.0.0.1"));
        assert_eq!(env.get("HOST_IP"), Some("127.0.0.1"));

        let unknown = with_env(vec![from("UID", field("metadata.uid"))]);
        let err = container_environment(&unknown, POD, &objects).unwrap_err();
        assert_eq!(
            err.to_string(),
            "env UID: fieldRef metadata.uid is not supported by the local runner"
        );
    }

    #[test]
    fn an_unsupported_value_from_fails_and_an_empty_literal_is_empty() {
        let objects = ReferencedObjects::empty("shop");
        let resource = with_env(vec![from("CPU", EnvVarSource::default())]);
        let err = container_environment(&resource, POD, &objects).unwrap_err();
        assert!(err.to_string().starts_with("env CPU:"), "{err}");

        let empty = with_env(vec![EnvVar {
            name: "EMPTY".into(),
            ..EnvVar::default()
        }]);
        let env = container_environment(&empty, POD, &objects).expect("resolves");
        assert_eq!(env.get("EMPTY"), Some(""));
    }
}

//! The generator's and processor's side of the pipeline's Kafka security:
//! Secret volumes (only the keys named in the spec), their read-only
//! mounts, and environment variables holding file paths. Pure.

use k8s_openapi::api::core::v1::{EnvVar, KeyToPath, SecretVolumeSource, Volume, VolumeMount};
use shopstream_common::contract::shared;

use super::refs::{AuthenticationRefs, KafkaSecurityRefs, SecretKeyRef};

/// Where the CA Secret's key is mounted.
pub const CA_DIR: &str = "/etc/shopstream/kafka/ca";
/// Where the user Secret's keys are mounted.
pub const USER_DIR: &str = "/etc/shopstream/kafka/user";
const CA_VOLUME: &str = "kafka-ca";
const USER_VOLUME: &str = "kafka-user";
/// Owner and group may read; the pod's `fsGroup` is the container's group,
/// so nobody else in the pod's user namespace can.
const SECRET_FILE_MODE: i32 = 0o440;

/// What a pod needs for the pipeline's Kafka security; empty for plaintext.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodKafkaSecurity {
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
    pub env: Vec<EnvVar>,
}

impl PodKafkaSecurity {
    pub fn is_empty(&self) -> bool {
        self.volumes.is_empty()
    }
}

pub fn pod_kafka_security(refs: &KafkaSecurityRefs) -> PodKafkaSecurity {
    let mut parts = PodKafkaSecurity::default();
    if let Some(ca) = &refs.trusted_ca {
        parts.add_volume(CA_VOLUME, CA_DIR, &ca.secret, &[ca]);
        parts.env(shared::KAFKA_TLS_CA_FILE, file(CA_DIR, ca));
    }
    match &refs.authentication {
        Some(AuthenticationRefs::Scram {
            mechanism,
            username,
            password,
        }) => {
            parts.add_volume(USER_VOLUME, USER_DIR, &password.secret, &[password]);
            parts.env(shared::KAFKA_SASL_MECHANISM, (*mechanism).to_string());
            parts.env(shared::KAFKA_SASL_USERNAME, username.clone());
            parts.env(shared::KAFKA_SASL_PASSWORD_FILE, file(USER_DIR, password));
        }
        Some(AuthenticationRefs::Tls { certificate, key }) => {
            parts.add_volume(
                USER_VOLUME,
                USER_DIR,
                &certificate.secret,
                &[certificate, key],
            );
            parts.env(
                shared::KAFKA_TLS_CERTIFICATE_FILE,
                file(USER_DIR, certificate),
            );
            parts.env(shared::KAFKA_TLS_KEY_FILE, file(USER_DIR, key));
        }
        None => {}
    }
    parts
}

fn file(dir: &str, key: &SecretKeyRef) -> String {
    format!("{dir}/{}", key.key)
}

impl PodKafkaSecurity {
    fn add_volume(&mut self, name: &str, dir: &str, secret: &str, keys: &[&SecretKeyRef]) {
        self.volumes.push(Volume {
            name: name.into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.into()),
                // Only the named keys: a Strimzi user Secret also holds
                // `sasl.jaas.config` or a PKCS#12 keystore and its password,
                // which the pod has no use for.
                items: Some(
                    keys.iter()
                        .map(|k| KeyToPath {
                            key: k.key.clone(),
                            path: k.key.clone(),
                            mode: None,
                        })
                        .collect(),
                ),
                default_mode: Some(SECRET_FILE_MODE),
                optional: Some(false),
            }),
            ..Volume::default()
        });
        self.mounts.push(VolumeMount {
            name: name.into(),
            mount_path: dir.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }

    fn env(&mut self, name: &str, value: String) {
        self.env.push(EnvVar {
            name: name.into(),
            value: Some(value),
            ..EnvVar::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka_security::from_spec;

    fn parts(yaml: &str) -> PodKafkaSecurity {
        pod_kafka_security(
            &from_spec(&serde_yaml::from_str(yaml).expect("parses"), "shop").expect("valid"),
        )
    }

    fn env(parts: &PodKafkaSecurity) -> Vec<(String, String)> {
        parts
            .env
            .iter()
            .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn plaintext_adds_nothing() {
        assert!(parts("bootstrapServers: 'k:9092'").is_empty());
    }

    #[test]
    fn scram_mounts_the_ca_and_the_password_only() {
        let p = parts(
            "
bootstrapServers: 'k:9093'
tls: {trustedCertificates: [{secretName: c-cluster-ca-cert, certificate: ca.crt}]}
authentication: {type: scram-sha-512, username: shop, passwordSecret: {secretName: shop, password: password}}
",
        );
        assert_eq!(
            env(&p),
            [
                (
                    "KAFKA_TLS_CA_FILE".into(),
                    "/etc/shopstream/kafka/ca/ca.crt".into()
                ),
                ("KAFKA_SASL_MECHANISM".into(), "SCRAM-SHA-512".into()),
                ("KAFKA_SASL_USERNAME".into(), "shop".into()),
                (
                    "KAFKA_SASL_PASSWORD_FILE".into(),
                    "/etc/shopstream/kafka/user/password".into()
                ),
            ]
        );
        let user = p.volumes[1].secret.as_ref().expect("secret volume");
        assert_eq!(user.secret_name.as_deref(), Some("shop"));
        let keys: Vec<&str> = user
            .items
            .iter()
            .flatten()
            .map(|i| i.key.as_str())
            .collect();
        assert_eq!(keys, ["password"]);
        assert!(p.mounts.iter().all(|m| m.read_only == Some(true)));
        // Nothing but paths and the user name: no value is a secret.
        assert!(p.env.iter().all(|e| e.value_from.is_none()));
    }

    #[test]
    fn tls_user_mounts_the_key_pair() {
        let p = parts(
            "
bootstrapServers: 'k:9093'
tls: {trustedCertificates: [{secretName: c-cluster-ca-cert, certificate: ca.crt}]}
authentication: {type: tls, certificateAndKey: {secretName: shop, certificate: user.crt, key: user.key}}
",
        );
        let names: Vec<String> = env(&p).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            [
                "KAFKA_TLS_CA_FILE",
                "KAFKA_TLS_CERTIFICATE_FILE",
                "KAFKA_TLS_KEY_FILE"
            ]
        );
        assert_eq!(p.volumes.len(), 2);
    }
}

//! The operator's own credentials for a pipeline's cluster: the Secrets
//! named in the spec, read through the API (the operator's RBAC allows
//! `get` on Secrets in the namespaces it watches), turned into
//! `kafka-admin` settings. Values are held in `kafka_admin::Secret`,
//! whose `Debug` redacts them, and never copied into errors.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kafka_admin::{SaslConfig, SecurityConfig, TlsConfig};
use kube::{Api, Client};
use ring::digest;

use super::refs::{AuthenticationRefs, KafkaSecurityRefs, SecretKeyRef};
use crate::error::{Error, Result};

/// What the operator connects to one pipeline's cluster with.
#[derive(Clone, Debug)]
pub struct ClusterCredentials {
    pub security: SecurityConfig,
    /// Tells clients of the same bootstrap servers apart: two pipelines
    /// share a client only with the same CA and credential. A SHA-256
    /// digest of the material, never shown anywhere.
    pub identity: String,
    /// The Secrets' names and `resourceVersion`s, digested: changes when a
    /// Secret is written (a rotated password, a renewed certificate), and
    /// reveals nothing about the material. The pods' template carries it,
    /// so they restart and read the new files.
    pub revision: String,
}

/// Reads the Secret keys `refs` names from `namespace`. `None` for a
/// plaintext, anonymous pipeline. A missing Secret or key is an
/// [`Error::KafkaCredentials`]: retried with backoff, because a Strimzi
/// `KafkaUser`'s Secret appears some time after the user.
pub async fn read_credentials(
    client: &Client,
    namespace: &str,
    refs: &KafkaSecurityRefs,
) -> Result<Option<ClusterCredentials>> {
    if refs.is_plaintext() {
        return Ok(None);
    }
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut secrets: BTreeMap<String, Option<Secret>> = BTreeMap::new();
    for key in refs.secret_keys() {
        if !secrets.contains_key(&key.secret) {
            let secret = api.get_opt(&key.secret).await.map_err(|e| {
                Error::KafkaCredentials(format!(
                    "cannot read Secret {namespace}/{} ({}): {e}",
                    key.secret, key.field
                ))
            })?;
            secrets.insert(key.secret.clone(), secret);
        }
    }
    credentials(namespace, refs, &secrets).map(Some)
}

/// The credentials from the Secrets already read (by name; `None`: not
/// found). Pure.
pub fn credentials(
    namespace: &str,
    refs: &KafkaSecurityRefs,
    secrets: &BTreeMap<String, Option<Secret>>,
) -> Result<ClusterCredentials> {
    let value = |key: &SecretKeyRef| -> Result<Vec<u8>> {
        let secret = secrets
            .get(&key.secret)
            .and_then(Option::as_ref)
            .ok_or_else(|| {
                Error::KafkaCredentials(format!(
                    "Secret {namespace}/{} ({}) not found",
                    key.secret, key.field
                ))
            })?;
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(&key.key))
            .map(|b| b.0.clone())
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|d| d.get(&key.key))
                    .map(|s| s.clone().into_bytes())
            })
            .ok_or_else(|| {
                Error::KafkaCredentials(format!(
                    "Secret {namespace}/{} has no key {:?} ({})",
                    key.secret, key.key, key.field
                ))
            })?;
        if bytes.is_empty() {
            return Err(Error::KafkaCredentials(format!(
                "key {:?} of Secret {namespace}/{} is empty ({})",
                key.key, key.secret, key.field
            )));
        }
        Ok(bytes)
    };
    let ca = refs.trusted_ca.as_ref().map(value).transpose()?;
    let authentication = match &refs.authentication {
        Some(AuthenticationRefs::Scram {
            mechanism,
            username,
            password,
        }) => Some(Material::Scram {
            mechanism,
            username: username.clone(),
            password: value(password)?,
        }),
        Some(AuthenticationRefs::Tls { certificate, key }) => Some(Material::Tls {
            certificate: value(certificate)?,
            key: value(key)?,
        }),
        None => None,
    };
    let (security, identity) = security_config(ca, authentication);
    let mut versions = digest::Context::new(&digest::SHA256);
    for (name, secret) in secrets {
        let version = secret
            .as_ref()
            .and_then(|s| s.metadata.resource_version.as_deref())
            .unwrap_or_default();
        for part in [name.as_str(), version] {
            versions.update(&(part.len() as u64).to_be_bytes());
            versions.update(part.as_bytes());
        }
    }
    Ok(ClusterCredentials {
        security,
        identity,
        revision: hex(versions.finish().as_ref())[..16].to_string(),
    })
}

/// A credential's key material, read from a pipeline's Secrets or from the
/// operator's own mounted files.
pub enum Material<'a> {
    Scram {
        /// `SCRAM-SHA-512` or `SCRAM-SHA-256`.
        mechanism: &'a str,
        username: String,
        password: Vec<u8>,
    },
    Tls {
        certificate: Vec<u8>,
        key: Vec<u8>,
    },
}

/// The `kafka-admin` settings for a CA (`Some`: TLS) and a credential, and
/// the credential's identity: a SHA-256 digest of all the material, which
/// tells clients apart and reveals nothing. Pure.
pub fn security_config(
    ca: Option<Vec<u8>>,
    authentication: Option<Material<'_>>,
) -> (SecurityConfig, String) {
    let mut digest = digest::Context::new(&digest::SHA256);
    let mut material = |part: &[u8]| {
        digest.update(&(part.len() as u64).to_be_bytes());
        digest.update(part);
    };
    let mut tls = ca.map(|pem| {
        material(&pem);
        TlsConfig::new(pem)
    });
    let sasl = match authentication {
        Some(Material::Scram {
            mechanism,
            username,
            mut password,
        }) => {
            // A password written with `echo` into a Secret ends with a line
            // break that is not part of it (the binaries strip it too).
            if password.ends_with(b"\n") {
                password.pop();
                if password.ends_with(b"\r") {
                    password.pop();
                }
            }
            material(mechanism.as_bytes());
            material(username.as_bytes());
            material(&password);
            Some(if mechanism == "SCRAM-SHA-256" {
                SaslConfig::scram_sha256(username, password)
            } else {
                SaslConfig::scram_sha512(username, password)
            })
        }
        Some(Material::Tls { certificate, key }) => {
            material(&certificate);
            material(&key);
            tls = tls.map(|t| t.with_client_certificate(certificate, key));
            None
        }
        None => None,
    };
    (SecurityConfig { tls, sasl }, hex(digest.finish().as_ref()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use kube::api::ObjectMeta;

    fn secret(name: &str, data: &[(&str, &str)]) -> (String, Option<Secret>) {
        (
            name.to_string(),
            Some(Secret {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    ..ObjectMeta::default()
                },
                data: Some(
                    data.iter()
                        .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                        .collect(),
                ),
                ..Secret::default()
            }),
        )
    }

    fn refs(yaml: &str) -> KafkaSecurityRefs {
        crate::kafka_security::from_spec(&serde_yaml::from_str(yaml).expect("parses"), "shop")
            .expect("valid")
    }

    const SCRAM: &str = "
bootstrapServers: 'k:9093'
tls: {trustedCertificates: [{secretName: c-cluster-ca-cert, certificate: ca.crt}]}
authentication: {type: scram-sha-512, username: shop, passwordSecret: {secretName: shop, password: password}}
";

    #[test]
    fn missing_secrets_and_keys_are_named_without_values() {
        let refs = refs(SCRAM);
        let only_ca = BTreeMap::from([
            secret("c-cluster-ca-cert", &[("ca.crt", "PEM")]),
            ("shop".to_string(), None),
        ]);
        let error = credentials("team-a", &refs, &only_ca).expect_err("no user Secret");
        assert_eq!(error.category(), "KafkaCredentialsUnavailable");
        assert!(!error.is_permanent(), "the Secret may appear later");
        assert!(
            error.to_string().contains(
                "Secret team-a/shop (spec.kafka.authentication.passwordSecret) not found"
            ),
            "{error}"
        );

        let wrong_key = BTreeMap::from([
            secret("c-cluster-ca-cert", &[("ca.crt", "PEM")]),
            secret("shop", &[("user.password", "s3cret-value")]),
        ]);
        let error = credentials("team-a", &refs, &wrong_key).expect_err("no key");
        let message = error.to_string();
        assert!(message.contains("has no key \"password\""), "{message}");
        assert!(!message.contains("s3cret-value"), "{message}");
    }

    #[test]
    fn identity_changes_with_the_password_and_hides_it() {
        let refs = refs(SCRAM);
        let with = |password: &str| {
            let secrets = BTreeMap::from([
                secret("c-cluster-ca-cert", &[("ca.crt", "PEM")]),
                secret("shop", &[("password", password)]),
            ]);
            credentials("team-a", &refs, &secrets).expect("complete")
        };
        let a = with("s3cret-value");
        assert_eq!(a.identity, with("s3cret-value\n").identity);
        assert_ne!(a.identity, with("rotated-value").identity);
        assert!(!a.identity.contains("s3cret"));
        assert_eq!(a.security.protocol(), "SASL_SSL");
        assert!(!format!("{a:?}").contains("s3cret-value"));
        // The revision follows the Secrets' resourceVersions, not their
        // content (which it must not reveal).
        let versioned = |version: &str| {
            let mut secrets = BTreeMap::from([
                secret("c-cluster-ca-cert", &[("ca.crt", "PEM")]),
                secret("shop", &[("password", "s3cret-value")]),
            ]);
            if let Some(Some(s)) = secrets.get_mut("shop") {
                s.metadata.resource_version = Some(version.into());
            }
            credentials("team-a", &refs, &secrets)
                .expect("complete")
                .revision
        };
        assert_eq!(versioned("41"), versioned("41"));
        assert_ne!(versioned("41"), versioned("42"));
        assert_eq!(versioned("41").len(), 16);
    }
}

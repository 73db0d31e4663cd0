//! The spec's security settings, checked: which keys of which Secrets hold
//! the CA, the password or the client key pair. Pure.

use crate::crd::{AuthenticationType, KafkaConnection};
use crate::error::{Error, Result};

/// One key of a Secret in the pipeline's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretKeyRef {
    pub secret: String,
    pub key: String,
    /// The spec field that names it, for messages.
    pub field: &'static str,
}

/// How the pipeline authenticates, by reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthenticationRefs {
    Scram {
        /// `SCRAM-SHA-512` or `SCRAM-SHA-256`.
        mechanism: &'static str,
        username: String,
        password: SecretKeyRef,
    },
    Tls {
        certificate: SecretKeyRef,
        key: SecretKeyRef,
    },
}

/// The pipeline's Kafka security; the default is plaintext, anonymous.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KafkaSecurityRefs {
    /// `Some`: TLS, trusting this CA.
    pub trusted_ca: Option<SecretKeyRef>,
    pub authentication: Option<AuthenticationRefs>,
    /// `spec.kafka.user.create`: the name of the Strimzi `KafkaUser` the
    /// operator creates, whose Secret `authentication` refers to.
    pub created_user: Option<String>,
}

impl KafkaSecurityRefs {
    pub fn is_plaintext(&self) -> bool {
        self.trusted_ca.is_none() && self.authentication.is_none()
    }

    /// Every Secret key the pipeline needs, CA first.
    pub fn secret_keys(&self) -> Vec<&SecretKeyRef> {
        let mut keys: Vec<&SecretKeyRef> = self.trusted_ca.iter().collect();
        match &self.authentication {
            Some(AuthenticationRefs::Scram { password, .. }) => keys.push(password),
            Some(AuthenticationRefs::Tls { certificate, key }) => {
                keys.extend([certificate, key]);
            }
            None => {}
        }
        keys
    }

    /// Kafka's `security.protocol` for these settings.
    pub fn protocol(&self) -> &'static str {
        let sasl = matches!(self.authentication, Some(AuthenticationRefs::Scram { .. }));
        match (self.trusted_ca.is_some(), sasl) {
            (false, false) => "PLAINTEXT",
            (true, false) => "SSL",
            (false, true) => "SASL_PLAINTEXT",
            (true, true) => "SASL_SSL",
        }
    }
}

/// The spec's `tls` and `authentication`, checked. The CRD's schema and
/// rules refuse most mistakes at `kubectl apply`; this repeats them for
/// objects stored before those rules, so they get a condition, not a
/// crash loop.
pub fn from_spec(kafka: &KafkaConnection, pipeline: &str) -> Result<KafkaSecurityRefs> {
    let invalid = |m: String| Error::InvalidSpec(m);
    let trusted_ca = match &kafka.tls {
        None => None,
        Some(tls) => match tls.trusted_certificates.as_slice() {
            [only] => Some(secret_key(
                &only.secret_name,
                &only.certificate,
                "spec.kafka.tls.trustedCertificates[0]",
            )?),
            [] => {
                return Err(invalid(
                    "spec.kafka.tls.trustedCertificates needs the Secret and key of the cluster's CA certificate, e.g. {secretName: my-cluster-cluster-ca-cert, certificate: ca.crt}".into(),
                ));
            }
            _ => {
                return Err(invalid(
                    "spec.kafka.tls.trustedCertificates takes one entry; put every CA certificate in its PEM".into(),
                ));
            }
        },
    };
    if kafka.user.as_ref().is_some_and(|u| u.create) {
        return created_user(kafka, pipeline, trusted_ca);
    }
    let authentication = match &kafka.authentication {
        None => None,
        Some(auth) => {
            const FIELD: &str = "spec.kafka.authentication";
            let type_ = auth.type_.as_str();
            match auth.type_ {
                AuthenticationType::ScramSha512 | AuthenticationType::ScramSha256 => {
                    if auth.certificate_and_key.is_some() {
                        return Err(invalid(format!(
                            "{FIELD}.certificateAndKey is for type tls, not {type_}"
                        )));
                    }
                    let username = auth
                        .username
                        .as_deref()
                        .map(str::trim)
                        .filter(|u| !u.is_empty())
                        .ok_or_else(|| {
                            invalid(format!("{FIELD}.username is required for type {type_}"))
                        })?;
                    let password = auth.password_secret.as_ref().ok_or_else(|| {
                        invalid(format!(
                            "{FIELD}.passwordSecret is required for type {type_}, e.g. {{secretName: {username}, password: password}}"
                        ))
                    })?;
                    Some(AuthenticationRefs::Scram {
                        mechanism: if auth.type_ == AuthenticationType::ScramSha512 {
                            "SCRAM-SHA-512"
                        } else {
                            "SCRAM-SHA-256"
                        },
                        username: username.to_string(),
                        password: secret_key(
                            &password.secret_name,
                            &password.password,
                            "spec.kafka.authentication.passwordSecret",
                        )?,
                    })
                }
                AuthenticationType::Tls => {
                    if auth.username.is_some() || auth.password_secret.is_some() {
                        return Err(invalid(format!(
                            "{FIELD}.username and passwordSecret are for SCRAM, not type tls"
                        )));
                    }
                    let pair = auth.certificate_and_key.as_ref().ok_or_else(|| {
                        invalid(format!(
                            "{FIELD}.certificateAndKey is required for type tls, e.g. {{secretName: my-user, certificate: user.crt, key: user.key}}"
                        ))
                    })?;
                    if trusted_ca.is_none() {
                        return Err(invalid(format!(
                            "{FIELD} type tls is a client certificate, which needs spec.kafka.tls"
                        )));
                    }
                    const PAIR: &str = "spec.kafka.authentication.certificateAndKey";
                    Some(AuthenticationRefs::Tls {
                        certificate: secret_key(&pair.secret_name, &pair.certificate, PAIR)?,
                        key: secret_key(&pair.secret_name, &pair.key, PAIR)?,
                    })
                }
            }
        }
    };
    Ok(KafkaSecurityRefs {
        trusted_ca,
        authentication,
        created_user: None,
    })
}

/// The name of the `KafkaUser` the operator creates for `pipeline`: the
/// pipeline's, as Strimzi users are usually named after their application.
/// It is also the SCRAM user name (the certificate's `CN` for `tls`) and
/// the name of the Secret Strimzi writes.
pub fn kafka_user_name(pipeline: &str) -> String {
    pipeline.to_string()
}

/// Strimzi refuses a `tls` user whose name does not fit a certificate's
/// common name.
const MAX_TLS_USER_NAME: usize = 64;

/// `spec.kafka.user.create`: authentication by the Secret Strimzi's User
/// Operator writes for the created `KafkaUser`, in its layout.
fn created_user(
    kafka: &KafkaConnection,
    pipeline: &str,
    trusted_ca: Option<SecretKeyRef>,
) -> Result<KafkaSecurityRefs> {
    const FIELD: &str = "spec.kafka.user";
    let invalid = |m: String| Error::InvalidSpec(m);
    if kafka.strimzi_cluster.is_none() {
        return Err(invalid(format!(
            "{FIELD}.create needs spec.kafka.strimziCluster: the KafkaUser is labelled strimzi.io/cluster=<strimziCluster> for that cluster's User Operator"
        )));
    }
    let auth = kafka.authentication.as_ref().ok_or_else(|| {
        invalid(format!(
            "{FIELD}.create needs spec.kafka.authentication.type: scram-sha-512 or tls"
        ))
    })?;
    if auth.username.is_some()
        || auth.password_secret.is_some()
        || auth.certificate_and_key.is_some()
    {
        return Err(invalid(format!(
            "with {FIELD}.create, give only spec.kafka.authentication.type: the operator takes the user name and Secret from the KafkaUser it creates"
        )));
    }
    let name = kafka_user_name(pipeline);
    let key = |key: &str| secret_key(&name, key, FIELD);
    let authentication = match auth.type_ {
        AuthenticationType::ScramSha512 => AuthenticationRefs::Scram {
            mechanism: "SCRAM-SHA-512",
            username: name.clone(),
            password: key("password")?,
        },
        AuthenticationType::Tls => {
            if trusted_ca.is_none() {
                return Err(invalid(
                    "spec.kafka.authentication type tls is a client certificate, which needs spec.kafka.tls".into(),
                ));
            }
            if name.len() > MAX_TLS_USER_NAME {
                return Err(invalid(format!(
                    "{FIELD}.create with type tls: Strimzi needs the user name (the pipeline's, {name}) to fit a certificate's common name, {MAX_TLS_USER_NAME} characters"
                )));
            }
            AuthenticationRefs::Tls {
                certificate: key("user.crt")?,
                key: key("user.key")?,
            }
        }
        AuthenticationType::ScramSha256 => {
            return Err(invalid(format!(
                "{FIELD}.create needs authentication type scram-sha-512 or tls: a Strimzi KafkaUser has no scram-sha-256"
            )));
        }
    };
    Ok(KafkaSecurityRefs {
        trusted_ca,
        authentication: Some(authentication),
        created_user: Some(name),
    })
}

fn secret_key(secret: &str, key: &str, field: &'static str) -> Result<SecretKeyRef> {
    if !is_dns_subdomain(secret) {
        return Err(Error::InvalidSpec(format!(
            "{field}.secretName {secret:?} is not a valid Secret name"
        )));
    }
    // Kubernetes' rule for Secret keys: [-._a-zA-Z0-9]+, not `.` or `..`.
    let key_ok = !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    if !key_ok {
        return Err(Error::InvalidSpec(format!(
            "{field}: {key:?} is not a valid Secret key"
        )));
    }
    Ok(SecretKeyRef {
        secret: secret.to_string(),
        key: key.to_string(),
        field,
    })
}

fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            let b = label.as_bytes();
            b.first().is_some_and(u8::is_ascii_alphanumeric)
                && b.last().is_some_and(u8::is_ascii_alphanumeric)
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_spec_(kafka: &KafkaConnection) -> Result<KafkaSecurityRefs> {
        from_spec(kafka, "shop")
    }

    fn kafka(yaml: &str) -> KafkaConnection {
        serde_yaml::from_str(yaml).expect("test spec parses")
    }

    const SCRAM: &str = "
bootstrapServers: 'kafka:9093'
tls:
  trustedCertificates: [{secretName: my-cluster-cluster-ca-cert, certificate: ca.crt}]
authentication:
  type: scram-sha-512
  username: shop
  passwordSecret: {secretName: shop, password: password}
";

    const MTLS: &str = "
bootstrapServers: 'kafka:9093'
tls:
  trustedCertificates: [{secretName: my-cluster-cluster-ca-cert, certificate: ca.crt}]
authentication:
  type: tls
  certificateAndKey: {secretName: shop, certificate: user.crt, key: user.key}
";

    #[test]
    fn plaintext_without_settings() {
        let refs = from_spec_(&kafka("bootstrapServers: 'kafka:9092'")).expect("valid");
        assert!(refs.is_plaintext());
        assert_eq!(refs.protocol(), "PLAINTEXT");
        assert!(refs.secret_keys().is_empty());
    }

    #[test]
    fn strimzi_scram_user() {
        let refs = from_spec_(&kafka(SCRAM)).expect("valid");
        assert_eq!(refs.protocol(), "SASL_SSL");
        let keys: Vec<(&str, &str)> = refs
            .secret_keys()
            .iter()
            .map(|k| (k.secret.as_str(), k.key.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("my-cluster-cluster-ca-cert", "ca.crt"),
                ("shop", "password")
            ]
        );
        assert!(matches!(
            refs.authentication,
            Some(AuthenticationRefs::Scram { mechanism: "SCRAM-SHA-512", ref username, .. }) if username == "shop"
        ));
    }

    #[test]
    fn strimzi_tls_user() {
        let refs = from_spec_(&kafka(MTLS)).expect("valid");
        assert_eq!(refs.protocol(), "SSL");
        assert_eq!(refs.secret_keys().len(), 3);
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (
                MTLS.replace("tls:\n  trustedCertificates: [{secretName: my-cluster-cluster-ca-cert, certificate: ca.crt}]\n", ""),
                "needs spec.kafka.tls",
            ),
            (SCRAM.replace("  username: shop\n", ""), "username is required"),
            (
                SCRAM.replace("  passwordSecret: {secretName: shop, password: password}\n", ""),
                "passwordSecret is required",
            ),
            (
                MTLS.replace("  certificateAndKey: {secretName: shop, certificate: user.crt, key: user.key}\n", ""),
                "certificateAndKey is required",
            ),
            (
                SCRAM.replace("secretName: shop,", "secretName: Shop_1,"),
                "not a valid Secret name",
            ),
            (SCRAM.replace("password: password", "password: 'a/b'"), "not a valid Secret key"),
            (
                SCRAM.replace("[{secretName: my-cluster-cluster-ca-cert, certificate: ca.crt}]", "[]"),
                "needs the Secret and key",
            ),
            (
                format!("{SCRAM}  certificateAndKey: {{secretName: shop, certificate: user.crt, key: user.key}}\n"),
                "is for type tls",
            ),
            (
                format!("{MTLS}  username: shop\n"),
                "are for SCRAM",
            ),
        ];
        for (yaml, expected) in cases {
            let error = from_spec_(&kafka(&yaml)).expect_err(expected);
            assert!(error.is_permanent(), "{error}");
            assert!(error.to_string().contains(expected), "{expected}: {error}");
        }
    }

    const CREATED: &str = "
bootstrapServers: 'kafka:9093'
strimziCluster: my-cluster
tls:
  trustedCertificates: [{secretName: my-cluster-cluster-ca-cert, certificate: ca.crt}]
user: {create: true}
authentication: {type: scram-sha-512}
";

    #[test]
    fn a_created_user_authenticates_with_strimzis_secret() {
        let refs = from_spec_(&kafka(CREATED)).expect("valid");
        assert_eq!(refs.created_user.as_deref(), Some("shop"));
        assert_eq!(refs.protocol(), "SASL_SSL");
        assert!(matches!(
            refs.authentication,
            Some(AuthenticationRefs::Scram { mechanism: "SCRAM-SHA-512", ref username, ref password })
                if username == "shop" && password.secret == "shop" && password.key == "password"
        ));
        let tls = from_spec_(&kafka(&CREATED.replace("type: scram-sha-512", "type: tls")))
            .expect("valid");
        let keys: Vec<(&str, &str)> = tls
            .secret_keys()
            .iter()
            .map(|k| (k.secret.as_str(), k.key.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("my-cluster-cluster-ca-cert", "ca.crt"),
                ("shop", "user.crt"),
                ("shop", "user.key")
            ]
        );
    }

    #[test]
    fn created_user_mistakes_are_named() {
        let cases = [
            (
                CREATED.replace("strimziCluster: my-cluster\n", ""),
                "needs spec.kafka.strimziCluster",
            ),
            (
                CREATED.replace("type: scram-sha-512", "type: scram-sha-256"),
                "no scram-sha-256",
            ),
            (
                CREATED.replace(
                    "{type: scram-sha-512}",
                    "{type: scram-sha-512, username: x}",
                ),
                "give only spec.kafka.authentication.type",
            ),
            (
                CREATED.replace("authentication: {type: scram-sha-512}\n", ""),
                "needs spec.kafka.authentication.type",
            ),
        ];
        for (yaml, expected) in cases {
            let error = from_spec_(&kafka(&yaml)).expect_err(expected);
            assert!(error.to_string().contains(expected), "{expected}: {error}");
        }
    }
}

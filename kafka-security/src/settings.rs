//! TLS and authentication settings, and the librdkafka properties they become.

use std::fs::File;
use std::path::{Path, PathBuf};

use rdkafka::ClientConfig;

/// How a client secures its connections to Kafka. The default is plaintext
/// without authentication.
///
/// Like Strimzi's client settings: TLS with a trusted CA, and on top of that
/// (or, for SCRAM, also without it) an authentication. Secrets are held as
/// file paths, never as values, so this type can be logged and compared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaSecurity {
    /// TLS to the brokers; `None` connects in plaintext.
    pub tls: Option<Tls>,
    /// How the client proves who it is; `None` connects anonymously.
    pub authentication: Option<Authentication>,
}

/// TLS to the brokers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    /// PEM file with the CA certificate(s) the brokers' certificates chain to
    /// (Strimzi: `ca.crt` of the Secret `<cluster>-cluster-ca-cert`). `None`
    /// trusts the system's CA store (librdkafka's `probe`), for brokers with
    /// publicly signed certificates.
    pub ca_file: Option<PathBuf>,
}

/// How the client authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// SASL SCRAM; Strimzi's `scram-sha-512` users get the password in the
    /// key `password` of the user's Secret.
    Scram {
        mechanism: ScramMechanism,
        username: String,
        /// File holding the password; one trailing line break is ignored.
        password_file: PathBuf,
    },
    /// A client certificate (mutual TLS); Strimzi's `tls` users get
    /// `user.crt` and `user.key` (PEM, unencrypted PKCS#8) in their Secret.
    /// The principal is the certificate's subject, e.g. `User:CN=<name>`.
    Tls {
        certificate_file: PathBuf,
        key_file: PathBuf,
    },
}

/// The SCRAM hash; Strimzi supports SHA-512 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

impl ScramMechanism {
    /// The `sasl.mechanism` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }
}

/// Settings that cannot work. Messages name files, never their contents.
#[derive(Debug, thiserror::Error)]
pub enum SecurityConfigError {
    #[error("TLS client authentication needs TLS to the brokers, which is not enabled")]
    ClientCertificateWithoutTls,
    #[error("SCRAM authentication needs a username")]
    EmptyUsername,
    #[error("cannot read the {what} {path}: {source}")]
    Unreadable {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the SASL password file {path} is empty")]
    EmptyPassword { path: PathBuf },
}

impl KafkaSecurity {
    /// Checks the combination of settings, without touching files.
    pub fn validate(&self) -> Result<(), SecurityConfigError> {
        match &self.authentication {
            Some(Authentication::Tls { .. }) if self.tls.is_none() => {
                Err(SecurityConfigError::ClientCertificateWithoutTls)
            }
            Some(Authentication::Scram { username, .. }) if username.trim().is_empty() => {
                Err(SecurityConfigError::EmptyUsername)
            }
            _ => Ok(()),
        }
    }

    /// librdkafka's `security.protocol` for these settings.
    pub fn security_protocol(&self) -> &'static str {
        let sasl = matches!(self.authentication, Some(Authentication::Scram { .. }));
        match (self.tls.is_some(), sasl) {
            (false, false) => "plaintext",
            (true, false) => "ssl",
            (false, true) => "sasl_plaintext",
            (true, true) => "sasl_ssl",
        }
    }

    /// Sets the properties on `config`, after checking that every file can
    /// be read; reads the password file. Call it again to pick up a rotated
    /// password or certificate for a new client.
    pub fn apply(&self, config: &mut ClientConfig) -> Result<(), SecurityConfigError> {
        self.validate()?;
        if let Some(Tls { ca_file: Some(ca) }) = &self.tls {
            readable("CA file", ca)?;
        }
        let password = match &self.authentication {
            Some(Authentication::Scram { password_file, .. }) => {
                Some(read_password(password_file)?)
            }
            Some(Authentication::Tls {
                certificate_file,
                key_file,
            }) => {
                readable("client certificate file", certificate_file)?;
                readable("client key file", key_file)?;
                None
            }
            None => None,
        };
        for (key, value) in self.properties(password) {
            config.set(key, value);
        }
        Ok(())
    }

    /// The librdkafka properties, given the SASL password. Pure, so the
    /// mapping is unit-tested; private, so the password does not travel.
    fn properties(&self, password: Option<String>) -> Vec<(&'static str, String)> {
        let mut properties = vec![("security.protocol", self.security_protocol().to_string())];
        if let Some(tls) = &self.tls {
            let ca = tls
                .ca_file
                .as_ref()
                .map_or_else(|| "probe".to_string(), |p| p.display().to_string());
            properties.push(("ssl.ca.location", ca));
            // librdkafka's default since 2.0; explicit, because a client
            // that skips the hostname check trusts any certificate the CA
            // ever signed.
            properties.push(("ssl.endpoint.identification.algorithm", "https".into()));
        }
        match &self.authentication {
            Some(Authentication::Scram {
                mechanism,
                username,
                ..
            }) => {
                properties.push(("sasl.mechanism", mechanism.as_str().into()));
                properties.push(("sasl.username", username.clone()));
                properties.push(("sasl.password", password.unwrap_or_default()));
            }
            Some(Authentication::Tls {
                certificate_file,
                key_file,
            }) => {
                properties.push((
                    "ssl.certificate.location",
                    certificate_file.display().to_string(),
                ));
                properties.push(("ssl.key.location", key_file.display().to_string()));
            }
            None => {}
        }
        properties
    }
}

fn readable(what: &'static str, path: &Path) -> Result<(), SecurityConfigError> {
    File::open(path)
        .map(drop)
        .map_err(|source| SecurityConfigError::Unreadable {
            what,
            path: path.to_path_buf(),
            source,
        })
}

/// The password file's content without one trailing line break (a file
/// written with `echo`); a Kubernetes Secret mounted as a file has none.
fn read_password(path: &Path) -> Result<String, SecurityConfigError> {
    let mut password =
        std::fs::read_to_string(path).map_err(|source| SecurityConfigError::Unreadable {
            what: "SASL password file",
            path: path.to_path_buf(),
            source,
        })?;
    if password.ends_with('\n') {
        password.pop();
        if password.ends_with('\r') {
            password.pop();
        }
    }
    if password.is_empty() {
        return Err(SecurityConfigError::EmptyPassword {
            path: path.to_path_buf(),
        });
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scram(file: &str) -> Authentication {
        Authentication::Scram {
            mechanism: ScramMechanism::Sha512,
            username: "pipeline-a".into(),
            password_file: file.into(),
        }
    }

    fn tls_user() -> Authentication {
        Authentication::Tls {
            certificate_file: "/secrets/user/user.crt".into(),
            key_file: "/secrets/user/user.key".into(),
        }
    }

    fn ca(path: &str) -> Option<Tls> {
        Some(Tls {
            ca_file: Some(path.into()),
        })
    }

    fn properties(security: &KafkaSecurity, password: Option<&str>) -> Vec<(&'static str, String)> {
        security.properties(password.map(str::to_string))
    }

    fn expected(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[test]
    fn plaintext_by_default() {
        let security = KafkaSecurity::default();
        assert_eq!(
            properties(&security, None),
            expected(&[("security.protocol", "plaintext")])
        );
    }

    #[test]
    fn scram_over_tls_is_sasl_ssl() {
        let security = KafkaSecurity {
            tls: ca("/secrets/cluster-ca/ca.crt"),
            authentication: Some(scram("/secrets/user/password")),
        };
        assert_eq!(
            properties(&security, Some("s3cret")),
            expected(&[
                ("security.protocol", "sasl_ssl"),
                ("ssl.ca.location", "/secrets/cluster-ca/ca.crt"),
                ("ssl.endpoint.identification.algorithm", "https"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.username", "pipeline-a"),
                ("sasl.password", "s3cret"),
            ])
        );
    }

    #[test]
    fn scram_without_tls_is_sasl_plaintext() {
        let security = KafkaSecurity {
            tls: None,
            authentication: Some(Authentication::Scram {
                mechanism: ScramMechanism::Sha256,
                username: "u".into(),
                password_file: "/p".into(),
            }),
        };
        assert_eq!(
            properties(&security, Some("pw")),
            expected(&[
                ("security.protocol", "sasl_plaintext"),
                ("sasl.mechanism", "SCRAM-SHA-256"),
                ("sasl.username", "u"),
                ("sasl.password", "pw"),
            ])
        );
    }

    #[test]
    fn client_certificate_is_ssl_with_key_pair() {
        let security = KafkaSecurity {
            tls: ca("/secrets/cluster-ca/ca.crt"),
            authentication: Some(tls_user()),
        };
        assert_eq!(
            properties(&security, None),
            expected(&[
                ("security.protocol", "ssl"),
                ("ssl.ca.location", "/secrets/cluster-ca/ca.crt"),
                ("ssl.endpoint.identification.algorithm", "https"),
                ("ssl.certificate.location", "/secrets/user/user.crt"),
                ("ssl.key.location", "/secrets/user/user.key"),
            ])
        );
    }

    #[test]
    fn tls_without_ca_file_probes_the_system_store() {
        let security = KafkaSecurity {
            tls: Some(Tls::default()),
            authentication: None,
        };
        assert_eq!(
            properties(&security, None),
            expected(&[
                ("security.protocol", "ssl"),
                ("ssl.ca.location", "probe"),
                ("ssl.endpoint.identification.algorithm", "https"),
            ])
        );
    }

    #[test]
    fn client_certificate_needs_tls() {
        let security = KafkaSecurity {
            tls: None,
            authentication: Some(tls_user()),
        };
        let error = security.validate().unwrap_err();
        assert!(matches!(
            error,
            SecurityConfigError::ClientCertificateWithoutTls
        ));
        assert!(error.to_string().contains("needs TLS"), "{error}");
    }

    #[test]
    fn scram_needs_a_username() {
        let security = KafkaSecurity {
            tls: ca("/ca.crt"),
            authentication: Some(Authentication::Scram {
                mechanism: ScramMechanism::Sha512,
                username: " ".into(),
                password_file: "/p".into(),
            }),
        };
        assert!(matches!(
            security.validate(),
            Err(SecurityConfigError::EmptyUsername)
        ));
    }

    /// A scratch directory of this test process, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("kafka-security-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn file(&self, name: &str, content: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, content).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn scram_with(ca_file: PathBuf, password_file: PathBuf) -> KafkaSecurity {
        KafkaSecurity {
            tls: Some(Tls {
                ca_file: Some(ca_file),
            }),
            authentication: Some(Authentication::Scram {
                mechanism: ScramMechanism::Sha512,
                username: "pipeline-a".into(),
                password_file,
            }),
        }
    }

    #[test]
    fn apply_reads_the_password_without_its_line_break() {
        let scratch = Scratch::new("apply");
        let security = scram_with(
            scratch.file("ca.crt", "PEM"),
            scratch.file("password", "s3cret\r\n"),
        );
        let mut config = ClientConfig::new();
        security.apply(&mut config).unwrap();
        assert_eq!(config.get("sasl.password"), Some("s3cret"));
        assert_eq!(config.get("security.protocol"), Some("sasl_ssl"));
    }

    #[test]
    fn apply_names_the_unreadable_file_and_not_its_content() {
        let scratch = Scratch::new("unreadable");
        let missing = scratch.0.join("no-such-password");
        let security = scram_with(scratch.file("ca.crt", "PEM"), missing.clone());
        let error = security.apply(&mut ClientConfig::new()).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("cannot read the SASL password file")
                && message.contains(&missing.display().to_string()),
            "{message}"
        );

        let security = scram_with(
            scratch.0.join("no-such-ca.crt"),
            scratch.file("password", "s3cret"),
        );
        let message = security
            .apply(&mut ClientConfig::new())
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("cannot read the CA file"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[test]
    fn apply_refuses_an_empty_password() {
        let scratch = Scratch::new("empty");
        let security = scram_with(
            scratch.file("ca.crt", "PEM"),
            scratch.file("password", "\n"),
        );
        assert!(matches!(
            security.apply(&mut ClientConfig::new()),
            Err(SecurityConfigError::EmptyPassword { .. })
        ));
    }

    #[test]
    fn apply_checks_the_client_key_pair() {
        let scratch = Scratch::new("keypair");
        let security = KafkaSecurity {
            tls: Some(Tls {
                ca_file: Some(scratch.file("ca.crt", "PEM")),
            }),
            authentication: Some(Authentication::Tls {
                certificate_file: scratch.file("user.crt", "PEM"),
                key_file: scratch.0.join("user.key"),
            }),
        };
        let message = security
            .apply(&mut ClientConfig::new())
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("cannot read the client key file"),
            "{message}"
        );
    }
}

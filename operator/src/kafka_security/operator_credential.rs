//! The operator's own Kafka credential (the chart's
//! `kafka.operatorCredentials`): a Secret of the operator's namespace,
//! mounted into its pod as files, named by flags. When set, the operator's
//! admin and lag requests to every *secured* pipeline's cluster use it
//! instead of the pipeline's credential; a plaintext pipeline's cluster is
//! still reached in plaintext (the credential's TLS would not talk to a
//! plaintext listener). The files are read again on every reconcile that
//! needs them, so a rotated Secret (the kubelet updates the files) is used
//! without a restart: the changed material is a new client identity.

use std::path::{Path, PathBuf};

use clap::Args;
use shopstream_common::contract::operator as env;

use super::secrets::{ClusterCredentials, Material, security_config};
use crate::error::{Error, Result};

/// The flags; none set: the operator uses each pipeline's credential.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorKafkaArgs {
    /// PEM file of the CA the brokers' certificates chain to, for the
    /// operator's own connections (Strimzi: `ca.crt` of
    /// `<cluster>-cluster-ca-cert`).
    #[arg(long = "kafka-tls-ca-file", env = env::OPERATOR_KAFKA_TLS_CA_FILE)]
    pub tls_ca_file: Option<PathBuf>,
    /// SASL mechanism of the operator's own credential: SCRAM-SHA-512 or
    /// SCRAM-SHA-256.
    #[arg(
        long = "kafka-sasl-mechanism",
        env = env::OPERATOR_KAFKA_SASL_MECHANISM,
        value_parser = ["SCRAM-SHA-512", "SCRAM-SHA-256"],
        requires_all = ["sasl_username", "sasl_password_file"],
        conflicts_with = "tls_certificate_file"
    )]
    pub sasl_mechanism: Option<String>,
    /// The operator's SASL user name.
    #[arg(long = "kafka-sasl-username", env = env::OPERATOR_KAFKA_SASL_USERNAME, requires = "sasl_mechanism")]
    pub sasl_username: Option<String>,
    /// File holding the operator's SASL password (a Strimzi user Secret's
    /// `password`); never the password itself.
    #[arg(long = "kafka-sasl-password-file", env = env::OPERATOR_KAFKA_SASL_PASSWORD_FILE, requires = "sasl_mechanism")]
    pub sasl_password_file: Option<PathBuf>,
    /// PEM client certificate of the operator (Strimzi TLS user:
    /// `user.crt`); needs --kafka-tls-ca-file and --kafka-tls-key-file.
    #[arg(
        long = "kafka-tls-certificate-file",
        env = env::OPERATOR_KAFKA_TLS_CERTIFICATE_FILE,
        requires_all = ["tls_ca_file", "tls_key_file"]
    )]
    pub tls_certificate_file: Option<PathBuf>,
    /// Its unencrypted PEM key (`user.key`).
    #[arg(long = "kafka-tls-key-file", env = env::OPERATOR_KAFKA_TLS_KEY_FILE, requires = "tls_certificate_file")]
    pub tls_key_file: Option<PathBuf>,
}

impl OperatorKafkaArgs {
    /// The configured credential; `None` when no flag is set.
    pub fn credential(&self) -> Option<OperatorCredential> {
        let authentication = match (
            &self.sasl_mechanism,
            &self.sasl_username,
            &self.sasl_password_file,
            &self.tls_certificate_file,
            &self.tls_key_file,
        ) {
            (Some(mechanism), Some(username), Some(password_file), _, _) => {
                Some(OperatorAuthentication::Scram {
                    mechanism: mechanism.clone(),
                    username: username.clone(),
                    password_file: password_file.clone(),
                })
            }
            (_, _, _, Some(certificate_file), Some(key_file)) => {
                Some(OperatorAuthentication::Tls {
                    certificate_file: certificate_file.clone(),
                    key_file: key_file.clone(),
                })
            }
            _ => None,
        };
        (self.tls_ca_file.is_some() || authentication.is_some()).then(|| OperatorCredential {
            ca_file: self.tls_ca_file.clone(),
            authentication,
        })
    }
}

/// The operator's credential, by file; no value is held here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorCredential {
    pub ca_file: Option<PathBuf>,
    pub authentication: Option<OperatorAuthentication>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OperatorAuthentication {
    Scram {
        mechanism: String,
        username: String,
        password_file: PathBuf,
    },
    Tls {
        certificate_file: PathBuf,
        key_file: PathBuf,
    },
}

impl OperatorCredential {
    /// Reads the files. An unreadable or empty file is a
    /// `KafkaCredentialsUnavailable` naming the file, never its content.
    pub fn load(&self) -> Result<ClusterCredentials> {
        let ca = self.ca_file.as_deref().map(read).transpose()?;
        let authentication = match &self.authentication {
            Some(OperatorAuthentication::Scram {
                mechanism,
                username,
                password_file,
            }) => Some(Material::Scram {
                mechanism,
                username: username.clone(),
                password: read(password_file)?,
            }),
            Some(OperatorAuthentication::Tls {
                certificate_file,
                key_file,
            }) => Some(Material::Tls {
                certificate: read(certificate_file)?,
                key: read(key_file)?,
            }),
            None => None,
        };
        let (security, identity) = security_config(ca, authentication);
        Ok(ClusterCredentials {
            security,
            // Tagged, so the operator's client is never shared with a
            // pipeline whose own credential happens to be the same.
            identity: format!("operator-{identity}"),
            // The workloads' Secrets decide their rollouts, not this.
            revision: String::new(),
        })
    }

    /// The user the operator authenticates as, for messages.
    pub fn describe(&self) -> String {
        match &self.authentication {
            Some(OperatorAuthentication::Scram { username, .. }) => format!("user {username:?}"),
            Some(OperatorAuthentication::Tls {
                certificate_file, ..
            }) => {
                format!("the client certificate {}", certificate_file.display())
            }
            None => "TLS without authentication".to_string(),
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::KafkaCredentials(format!(
            "cannot read the operator's Kafka credential file {} (chart kafka.operatorCredentials): {e}",
            path.display()
        ))
    })?;
    if bytes.is_empty() {
        return Err(Error::KafkaCredentials(format!(
            "the operator's Kafka credential file {} is empty (chart kafka.operatorCredentials)",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Which credential the operator's clients for a pipeline's cluster use:
/// the operator's own when it has one and the pipeline's cluster is
/// secured, otherwise the pipeline's (plaintext: none). Pure but for
/// reading the operator's files.
pub fn effective_credentials(
    pipeline: Option<ClusterCredentials>,
    operator: Option<&OperatorCredential>,
) -> Result<Option<ClusterCredentials>> {
    match (pipeline, operator) {
        (Some(_), Some(operator)) => operator.load().map(Some),
        (pipeline, _) => Ok(pipeline),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        kafka: OperatorKafkaArgs,
    }

    fn parse(args: &[&str]) -> std::result::Result<Option<OperatorCredential>, clap::Error> {
        Cli::try_parse_from(std::iter::once("operator").chain(args.iter().copied()))
            .map(|c| c.kafka.credential())
    }

    fn pipeline_credentials(password: &str) -> ClusterCredentials {
        let (security, identity) = security_config(
            Some(b"PIPELINE CA".to_vec()),
            Some(Material::Scram {
                mechanism: "SCRAM-SHA-512",
                username: "shop".into(),
                password: password.as_bytes().to_vec(),
            }),
        );
        ClusterCredentials {
            security,
            identity,
            revision: "0123456789abcdef".into(),
        }
    }

    #[test]
    fn nothing_set_is_no_operator_credential() {
        assert_eq!(parse(&[]).expect("parses"), None);
    }

    #[test]
    fn incomplete_or_mixed_flags_are_refused() {
        for args in [
            &["--kafka-sasl-mechanism=SCRAM-SHA-512"][..],
            &["--kafka-sasl-username=u"][..],
            &[
                "--kafka-sasl-mechanism=PLAIN",
                "--kafka-sasl-username=u",
                "--kafka-sasl-password-file=/p",
            ][..],
            &["--kafka-tls-certificate-file=/c", "--kafka-tls-key-file=/k"][..],
        ] {
            assert!(parse(args).is_err(), "{args:?} accepted");
        }
    }

    /// The precedence: the operator's credential for a secured pipeline,
    /// the pipeline's own without one, plaintext stays plaintext.
    #[test]
    fn the_operator_credential_wins_for_secured_clusters_only() {
        let dir = std::env::temp_dir().join(format!("op-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("ca.crt"), "OPERATOR CA").expect("ca");
        std::fs::write(dir.join("password"), "op-s3cret\n").expect("password");
        let operator = parse(&[
            &format!("--kafka-tls-ca-file={}", dir.join("ca.crt").display()),
            "--kafka-sasl-mechanism=SCRAM-SHA-512",
            "--kafka-sasl-username=shopstream-operator",
            &format!(
                "--kafka-sasl-password-file={}",
                dir.join("password").display()
            ),
        ])
        .expect("parses")
        .expect("configured");

        let pipeline = pipeline_credentials("pipeline-s3cret");
        let used = effective_credentials(Some(pipeline.clone()), Some(&operator))
            .expect("readable")
            .expect("secured");
        assert_ne!(used.identity, pipeline.identity);
        assert!(used.identity.starts_with("operator-"));
        assert_eq!(used.security.protocol(), "SASL_SSL");
        assert!(!format!("{used:?}").contains("op-s3cret"));

        let own = effective_credentials(Some(pipeline.clone()), None)
            .expect("no files")
            .expect("secured");
        assert_eq!(own.identity, pipeline.identity);
        assert!(
            effective_credentials(None, Some(&operator))
                .expect("no files")
                .is_none(),
            "a plaintext pipeline stays plaintext"
        );

        // A rotated file is a new identity (a new client) at the next use.
        std::fs::write(dir.join("password"), "rotated").expect("password");
        let rotated = effective_credentials(Some(pipeline.clone()), Some(&operator))
            .expect("readable")
            .expect("secured");
        assert_ne!(rotated.identity, used.identity);

        // A missing file: named, retried, its content nowhere.
        std::fs::remove_file(dir.join("password")).expect("rm");
        let error = effective_credentials(Some(pipeline), Some(&operator)).expect_err("missing");
        assert_eq!(error.category(), "KafkaCredentialsUnavailable");
        assert!(error.to_string().contains("password"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

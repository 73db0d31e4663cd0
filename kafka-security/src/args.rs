//! The flags and environment variables that configure Kafka security in
//! the processor and the generator; the operator sets the variables and
//! mounts the files from the pipeline's Secrets.

use std::path::PathBuf;

use clap::Args;
use shopstream_common::contract::shared;

use crate::{Authentication, KafkaSecurity, ScramMechanism, Tls};

/// Kafka TLS and authentication. Nothing set: plaintext, anonymous.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaSecurityArgs {
    /// PEM file of the CA certificate(s) the brokers' certificates chain
    /// to (Strimzi: `ca.crt` of `<cluster>-cluster-ca-cert`). Set: TLS.
    #[arg(long = "kafka-tls-ca-file", env = shared::KAFKA_TLS_CA_FILE)]
    pub tls_ca_file: Option<PathBuf>,
    /// PEM client certificate for mutual TLS (Strimzi: `user.crt`); needs
    /// --kafka-tls-ca-file and --kafka-tls-key-file.
    #[arg(
        long = "kafka-tls-certificate-file",
        env = shared::KAFKA_TLS_CERTIFICATE_FILE,
        requires_all = ["tls_ca_file", "tls_key_file"]
    )]
    pub tls_certificate_file: Option<PathBuf>,
    /// Unencrypted PEM key of the client certificate (Strimzi: `user.key`).
    #[arg(
        long = "kafka-tls-key-file",
        env = shared::KAFKA_TLS_KEY_FILE,
        requires = "tls_certificate_file"
    )]
    pub tls_key_file: Option<PathBuf>,
    /// SASL mechanism: SCRAM-SHA-512 or SCRAM-SHA-256. Set: SASL, with
    /// --kafka-sasl-username and --kafka-sasl-password-file.
    #[arg(
        long = "kafka-sasl-mechanism",
        env = shared::KAFKA_SASL_MECHANISM,
        value_parser = parse_mechanism,
        requires_all = ["sasl_username", "sasl_password_file"],
        conflicts_with = "tls_certificate_file"
    )]
    pub sasl_mechanism: Option<ScramMechanism>,
    /// SASL user name.
    #[arg(
        long = "kafka-sasl-username",
        env = shared::KAFKA_SASL_USERNAME,
        requires = "sasl_mechanism"
    )]
    pub sasl_username: Option<String>,
    /// File holding the SASL password (Strimzi: `password` of the user's
    /// Secret); the password itself is never a flag.
    #[arg(
        long = "kafka-sasl-password-file",
        env = shared::KAFKA_SASL_PASSWORD_FILE,
        requires = "sasl_mechanism"
    )]
    pub sasl_password_file: Option<PathBuf>,
}

fn parse_mechanism(value: &str) -> Result<ScramMechanism, String> {
    match value.to_ascii_uppercase().as_str() {
        "SCRAM-SHA-512" => Ok(ScramMechanism::Sha512),
        "SCRAM-SHA-256" => Ok(ScramMechanism::Sha256),
        other => Err(format!(
            "unsupported SASL mechanism {other:?}: SCRAM-SHA-512 or SCRAM-SHA-256"
        )),
    }
}

impl KafkaSecurityArgs {
    /// The settings these flags describe (clap has checked that the flags
    /// that belong together are given together).
    pub fn security(&self) -> KafkaSecurity {
        let tls = self.tls_ca_file.clone().map(|ca| Tls { ca_file: Some(ca) });
        let authentication = match (
            &self.sasl_mechanism,
            &self.sasl_username,
            &self.sasl_password_file,
            &self.tls_certificate_file,
            &self.tls_key_file,
        ) {
            (Some(mechanism), Some(username), Some(password_file), _, _) => {
                Some(Authentication::Scram {
                    mechanism: *mechanism,
                    username: username.clone(),
                    password_file: password_file.clone(),
                })
            }
            (_, _, _, Some(certificate_file), Some(key_file)) => Some(Authentication::Tls {
                certificate_file: certificate_file.clone(),
                key_file: key_file.clone(),
            }),
            _ => None,
        };
        KafkaSecurity {
            tls,
            authentication,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        security: KafkaSecurityArgs,
    }

    fn parse(args: &[&str]) -> Result<KafkaSecurity, clap::Error> {
        Cli::try_parse_from(std::iter::once("test").chain(args.iter().copied()))
            .map(|cli| cli.security.security())
    }

    #[test]
    fn nothing_set_is_plaintext() {
        assert_eq!(parse(&[]).expect("parses"), KafkaSecurity::default());
    }

    #[test]
    fn scram_over_tls() {
        let security = parse(&[
            "--kafka-tls-ca-file=/ca/ca.crt",
            "--kafka-sasl-mechanism=SCRAM-SHA-512",
            "--kafka-sasl-username=pipeline-a",
            "--kafka-sasl-password-file=/user/password",
        ])
        .expect("parses");
        assert_eq!(security.security_protocol(), "sasl_ssl");
        assert_eq!(
            security.authentication,
            Some(Authentication::Scram {
                mechanism: ScramMechanism::Sha512,
                username: "pipeline-a".into(),
                password_file: "/user/password".into(),
            })
        );
    }

    #[test]
    fn client_certificate() {
        let security = parse(&[
            "--kafka-tls-ca-file=/ca/ca.crt",
            "--kafka-tls-certificate-file=/user/user.crt",
            "--kafka-tls-key-file=/user/user.key",
        ])
        .expect("parses");
        assert_eq!(security.security_protocol(), "ssl");
    }

    #[test]
    fn incomplete_or_mixed_settings_are_refused() {
        for args in [
            &["--kafka-sasl-mechanism=SCRAM-SHA-512"][..],
            &["--kafka-sasl-username=u"][..],
            &[
                "--kafka-sasl-mechanism=PLAIN",
                "--kafka-sasl-username=u",
                "--kafka-sasl-password-file=/p",
            ][..],
            &["--kafka-tls-certificate-file=/c", "--kafka-tls-key-file=/k"][..],
            &[
                "--kafka-tls-ca-file=/ca",
                "--kafka-tls-certificate-file=/c",
                "--kafka-tls-key-file=/k",
                "--kafka-sasl-mechanism=SCRAM-SHA-512",
                "--kafka-sasl-username=u",
                "--kafka-sasl-password-file=/p",
            ][..],
        ] {
            assert!(parse(args).is_err(), "{args:?} accepted");
        }
    }
}

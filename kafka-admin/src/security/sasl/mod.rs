//! SASL on a fresh connection (KIP-152): SaslHandshake v1 names the
//! mechanism, then SaslAuthenticate requests carry its messages. PLAIN
//! sends the credential once (only sensible inside TLS); SCRAM proves it
//! without sending it and checks that the broker knows it too.

pub(crate) mod scram;

use std::fmt;

use bytes::Bytes;
use kafka_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
};
use kafka_protocol::protocol::StrBytes;

use crate::connection::Handshake;
use crate::error::{Error, ErrorCode, Result};
use crate::security::secret::Secret;
use crate::transport::{Authenticator, BoxFuture};
pub use scram::{ScramError, ScramHash};

/// Longest broker message kept in an error, so a misbehaving broker
/// cannot make errors (and the conditions and logs made from them)
/// arbitrarily large.
const MAX_REASON_CHARS: usize = 300;

/// A SASL mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaslMechanism {
    Plain,
    Scram(ScramHash),
}

impl SaslMechanism {
    pub const SCRAM_SHA_256: SaslMechanism = SaslMechanism::Scram(ScramHash::Sha256);
    pub const SCRAM_SHA_512: SaslMechanism = SaslMechanism::Scram(ScramHash::Sha512);

    /// The name Kafka uses (`sasl.mechanism`).
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::Scram(hash) => hash.mechanism(),
        }
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A SASL user. `Debug` shows the mechanism and user, never the password.
#[derive(Clone, Debug)]
pub struct SaslConfig {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: Secret,
}

impl SaslConfig {
    pub fn new(mechanism: SaslMechanism, username: impl Into<String>, password: Secret) -> Self {
        Self {
            mechanism,
            username: username.into(),
            password,
        }
    }

    pub fn scram_sha512(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::new(SaslMechanism::SCRAM_SHA_512, username, password.into())
    }

    pub fn scram_sha256(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::new(SaslMechanism::SCRAM_SHA_256, username, password.into())
    }

    pub fn plain(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::new(SaslMechanism::Plain, username, password.into())
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.username.is_empty() {
            return Err(Error::Config("SASL: the user name is empty".into()));
        }
        if self.password.is_empty() {
            return Err(Error::Config(format!(
                "SASL: the password of user {:?} is empty",
                self.username
            )));
        }
        if self.mechanism == SaslMechanism::Plain
            && (self.username.contains('\0') || self.password.expose().contains(&0))
        {
            return Err(Error::Config(
                "SASL PLAIN: the user name and password cannot contain NUL".into(),
            ));
        }
        Ok(())
    }
}

/// Runs the configured mechanism on every new connection.
pub(crate) struct SaslAuthenticator {
    config: SaslConfig,
}

impl SaslAuthenticator {
    pub(crate) fn new(config: SaslConfig) -> Self {
        Self { config }
    }

    fn failed(&self, session: &Handshake, reason: impl Into<String>) -> Error {
        Error::Authentication {
            broker: session.broker().to_string(),
            mechanism: self.config.mechanism.name(),
            reason: self.scrub(reason.into()),
        }
    }

    /// Bounded, and never the password even if a broker echoed it.
    fn scrub(&self, mut reason: String) -> String {
        if let Ok(password) = std::str::from_utf8(self.config.password.expose())
            && !password.is_empty()
            && reason.contains(password)
        {
            reason = reason.replace(password, "<redacted>");
        }
        reason.chars().take(MAX_REASON_CHARS).collect()
    }

    async fn run(&self, session: &mut Handshake) -> Result<()> {
        self.handshake(session).await?;
        match self.config.mechanism {
            SaslMechanism::Plain => {
                let mut message = Vec::new();
                message.push(0);
                message.extend_from_slice(self.config.username.as_bytes());
                message.push(0);
                message.extend_from_slice(self.config.password.expose());
                let message = Secret::new(message);
                self.step(session, message.expose()).await?;
                Ok(())
            }
            SaslMechanism::Scram(hash) => {
                let nonce = scram::new_nonce()
                    .map_err(|_| self.failed(session, "no randomness for the SCRAM nonce"))?;
                let first = scram::ClientFirst::new(hash, &self.config.username, nonce);
                let server_first = self.step(session, first.message().as_bytes()).await?;
                let (client_final, last) = first
                    .answer(&server_first, &self.config.password)
                    .map_err(|e| self.failed(session, e.to_string()))?;
                let server_final = self.step(session, client_final.as_bytes()).await?;
                last.verify(&server_final)
                    .map_err(|e| self.failed(session, e.to_string()))
            }
        }
    }

    /// SaslHandshake v1: the listener must offer the mechanism.
    async fn handshake(&self, session: &mut Handshake) -> Result<()> {
        // Version 0 means raw SASL tokens outside Kafka framing (brokers
        // before 1.0); this client speaks only the framed exchange.
        if session.version::<SaslHandshakeRequest>().unwrap_or(0) < 1
            || session.version::<SaslAuthenticateRequest>().is_none()
        {
            return Err(Error::UnsupportedApi {
                api: "SaslHandshake v1 / SaslAuthenticate",
                broker: session.broker().to_string(),
            });
        }
        let mechanism = self.config.mechanism.name();
        let request =
            SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
        let response = session.request(&request).await?;
        match ErrorCode::from_code(response.error_code) {
            None => Ok(()),
            Some(code)
                if code.kind() == kafka_protocol::ResponseError::UnsupportedSaslMechanism =>
            {
                let offered: Vec<&str> = response.mechanisms.iter().map(|m| m.as_str()).collect();
                Err(self.failed(
                    session,
                    format!(
                        "the listener does not offer {mechanism}; it offers [{}]",
                        offered.join(", ")
                    ),
                ))
            }
            Some(code) if code.kind() == kafka_protocol::ResponseError::IllegalSaslState => {
                Err(self.failed(session, format!("{code}: is this listener SASL?")))
            }
            Some(code) => Err(self.failed(session, code.to_string())),
        }
    }

    /// One SaslAuthenticate round trip; the broker's error message (e.g.
    /// "invalid credentials") becomes the reason.
    async fn step(&self, session: &mut Handshake, message: &[u8]) -> Result<Bytes> {
        let request =
            SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(message));
        let response: SaslAuthenticateResponse = session.request(&request).await?;
        if let Some(code) = ErrorCode::from_code(response.error_code) {
            let reason = match response.error_message.as_ref().map(|m| m.as_str()) {
                Some(message) if !message.is_empty() => format!("{code}: {message}"),
                _ => code.to_string(),
            };
            return Err(self.failed(session, reason));
        }
        Ok(response.auth_bytes)
    }
}

impl Authenticator for SaslAuthenticator {
    fn authenticate<'a>(&'a self, session: &'a mut Handshake) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.run(session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_user_but_not_the_password() {
        let config = SaslConfig::scram_sha512("pipeline-a", "s3cr3t-p4ss");
        let shown = format!("{config:?}");
        assert!(
            shown.contains("pipeline-a") && shown.contains("Sha512"),
            "{shown}"
        );
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn empty_or_unusable_credentials_are_config_errors() {
        for config in [
            SaslConfig::scram_sha512("", "p"),
            SaslConfig::scram_sha256("u", ""),
            SaslConfig::plain("u\0x", "p"),
        ] {
            let error = config.validate().expect_err("invalid");
            assert!(matches!(error, Error::Config(_)), "{error}");
        }
        SaslConfig::plain("u", "p").validate().expect("valid");
    }

    #[test]
    fn reasons_are_bounded_and_scrubbed() {
        let authenticator = SaslAuthenticator::new(SaslConfig::plain("u", "topsecret"));
        let scrubbed = authenticator.scrub(format!("bad password topsecret {}", "x".repeat(1000)));
        assert!(!scrubbed.contains("topsecret"), "{scrubbed}");
        assert_eq!(scrubbed.chars().count(), MAX_REASON_CHARS);
    }

    #[test]
    fn mechanism_names_are_kafkas() {
        assert_eq!(SaslMechanism::SCRAM_SHA_512.name(), "SCRAM-SHA-512");
        assert_eq!(SaslMechanism::SCRAM_SHA_256.name(), "SCRAM-SHA-256");
        assert_eq!(SaslMechanism::Plain.to_string(), "PLAIN");
    }
}

//! Connecting to secured Kafka listeners: TLS (server verification, client
//! certificates) and SASL (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN), the
//! combinations Strimzi's listeners use. GSSAPI (Kerberos) and OAUTHBEARER
//! are not supported.
//!
//! | listener | configuration |
//! | --- | --- |
//! | `PLAINTEXT` | `SecurityConfig::default()` |
//! | `SSL` | `tls: Some(TlsConfig::new(ca))`, with a client certificate for mTLS |
//! | `SASL_SSL` | `tls` and `sasl` |
//! | `SASL_PLAINTEXT` | `sasl` only (the credential crosses the network readable with PLAIN) |

pub(crate) mod sasl;
mod secret;
pub(crate) mod tls;

use std::sync::Arc;

pub use sasl::{SaslConfig, SaslMechanism, ScramError, ScramHash};
pub use secret::Secret;
pub use tls::{ClientIdentity, TlsConfig};

use crate::config::ClientConfig;
use crate::error::Result;
use crate::transport::PlainTcp;

/// How to reach a secured listener. The default is plaintext without
/// authentication.
#[derive(Clone, Debug, Default)]
pub struct SecurityConfig {
    pub tls: Option<TlsConfig>,
    pub sasl: Option<SaslConfig>,
}

impl SecurityConfig {
    /// Kafka's name for the combination (`security.protocol`).
    pub fn protocol(&self) -> &'static str {
        match (&self.tls, &self.sasl) {
            (None, None) => "PLAINTEXT",
            (Some(_), None) => "SSL",
            (None, Some(_)) => "SASL_PLAINTEXT",
            (Some(_), Some(_)) => "SASL_SSL",
        }
    }
}

impl ClientConfig {
    /// Connects with TLS and/or authenticates with SASL as `security`
    /// says. Invalid certificates, keys or credentials are an
    /// [`Error::Config`](crate::Error::Config) here, before any connection.
    pub fn security(mut self, security: SecurityConfig) -> Result<Self> {
        self.connector = match &security.tls {
            Some(tls) => Arc::new(tls::TlsConnector::new(tls)?),
            None => Arc::new(PlainTcp),
        };
        self.authenticator = match &security.sasl {
            Some(sasl) => {
                sasl.validate()?;
                Some(Arc::new(sasl::SaslAuthenticator::new(sasl.clone())))
            }
            None => None,
        };
        self.security_summary = match &security.sasl {
            Some(sasl) => format!(
                "{}/{} user {:?}",
                security.protocol(),
                sasl.mechanism,
                sasl.username
            ),
            None => security.protocol().to_string(),
        };
        Ok(self)
    }
}

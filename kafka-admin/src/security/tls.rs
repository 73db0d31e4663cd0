//! TLS to the brokers with rustls (ring provider): server certificates are
//! verified against the CA given in PEM (a Strimzi cluster's `ca.crt`),
//! including the broker's address unless explicitly turned off; a client
//! certificate and key (a Strimzi TLS user's `user.crt`/`user.key`) are
//! presented when given (mTLS).

use std::io;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;

use crate::config::BrokerAddress;
use crate::error::{Error, Result};
use crate::security::secret::Secret;
use crate::transport::{BoxFuture, BoxStream, Connector};

/// Which servers to trust and who the client is.
#[derive(Clone)]
pub struct TlsConfig {
    /// One or more CA certificates in PEM (public; several during a CA
    /// renewal).
    pub trusted_ca_pem: Vec<u8>,
    /// A client certificate for mutual TLS.
    pub client_identity: Option<ClientIdentity>,
    /// Whether the broker's certificate must name the address the client
    /// connects to. On by default; off only for brokers whose
    /// certificates do not carry their advertised names (the chain is
    /// still verified).
    pub verify_hostname: bool,
}

/// A client certificate chain and its private key, both PEM. `Debug`
/// never shows the key.
#[derive(Clone)]
pub struct ClientIdentity {
    pub certificate_pem: Vec<u8>,
    pub private_key_pem: Secret,
}

/// PEM is shown by size: certificates are public but long, keys secret.
struct PemSize(usize);

impl std::fmt::Debug for PemSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes of PEM>", self.0)
    }
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("trusted_ca_pem", &PemSize(self.trusted_ca_pem.len()))
            .field("client_identity", &self.client_identity)
            .field("verify_hostname", &self.verify_hostname)
            .finish()
    }
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("certificate_pem", &PemSize(self.certificate_pem.len()))
            .field("private_key_pem", &self.private_key_pem)
            .finish()
    }
}

impl TlsConfig {
    pub fn new(trusted_ca_pem: impl Into<Vec<u8>>) -> Self {
        Self {
            trusted_ca_pem: trusted_ca_pem.into(),
            client_identity: None,
            verify_hostname: true,
        }
    }

    /// Presents this certificate (PEM chain, leaf first) and key (PEM,
    /// PKCS#8, PKCS#1 or SEC1) to brokers that ask for one.
    pub fn with_client_certificate(
        mut self,
        certificate_pem: impl Into<Vec<u8>>,
        private_key_pem: impl Into<Secret>,
    ) -> Self {
        self.client_identity = Some(ClientIdentity {
            certificate_pem: certificate_pem.into(),
            private_key_pem: private_key_pem.into(),
        });
        self
    }

    /// Accepts a broker certificate from a trusted CA even if it does not
    /// name the broker's address.
    pub fn without_hostname_verification(mut self) -> Self {
        self.verify_hostname = false;
        self
    }

    /// Parses the PEM and builds the rustls configuration; every problem is
    /// an [`Error::Config`] naming the part, never quoting key material.
    pub(crate) fn build(&self) -> Result<rustls::ClientConfig> {
        let invalid = |what: String| Error::Config(format!("TLS: {what}"));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(&self.trusted_ca_pem) {
            let certificate = certificate
                .map_err(|e| invalid(format!("the trusted CA PEM cannot be read: {e}")))?;
            roots
                .add(certificate)
                .map_err(|e| invalid(format!("a trusted CA certificate is invalid: {e}")))?;
        }
        if roots.is_empty() {
            return Err(invalid("the trusted CA PEM holds no certificate".into()));
        }
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| invalid(format!("cannot use the trusted CAs: {e}")))?;
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(e.to_string()))?;
        let builder = if self.verify_hostname {
            builder.with_webpki_verifier(verifier)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyNameVerifier(verifier)))
        };
        let Some(identity) = &self.client_identity else {
            return Ok(builder.with_no_client_auth());
        };
        let chain = CertificateDer::pem_slice_iter(&identity.certificate_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("the client certificate PEM cannot be read: {e}")))?;
        if chain.is_empty() {
            return Err(invalid(
                "the client certificate PEM holds no certificate".into(),
            ));
        }
        // The parser's message names the PEM section, never its content.
        let key =
            PrivateKeyDer::from_pem_slice(identity.private_key_pem.expose()).map_err(|e| {
                invalid(format!(
                    "the client key PEM holds no usable private key: {e}"
                ))
            })?;
        builder.with_client_auth_cert(chain, key).map_err(|e| {
            invalid(format!(
                "the client certificate and key cannot be used: {e}"
            ))
        })
    }
}

/// Opens TCP, then TLS with the broker's host as the server name.
pub(crate) struct TlsConnector {
    connector: tokio_rustls::TlsConnector,
}

impl TlsConnector {
    pub(crate) fn new(config: &TlsConfig) -> Result<Self> {
        Ok(Self {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config.build()?)),
        })
    }
}

impl Connector for TlsConnector {
    fn connect<'a>(&'a self, address: &'a BrokerAddress) -> BoxFuture<'a, io::Result<BoxStream>> {
        Box::pin(async move {
            let name = ServerName::try_from(address.host.clone()).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{:?} is not a valid TLS server name: {e}", address.host),
                )
            })?;
            let tcp = TcpStream::connect((address.host.as_str(), address.port)).await?;
            tcp.set_nodelay(true)?;
            let tls = self.connector.connect(name, tcp).await?;
            Ok(Box::new(tls) as BoxStream)
        })
    }
}

/// The TLS failure inside an I/O error, if it is one. With TLS 1.3 a
/// refused client certificate only shows on the first read after the
/// handshake (the broker's alert), so this is applied to every error of
/// connection setup, not only to the connector's.
pub(crate) fn tls_failure(error: &io::Error) -> Option<&rustls::Error> {
    error.get_ref()?.downcast_ref::<rustls::Error>()
}

/// A sentence for a TLS failure, saying which side refused what.
pub(crate) fn describe(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the broker's certificate is not signed by a trusted CA (UnknownIssuer)".into()
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => "the broker's certificate does not name the address the client connected to".into(),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "the broker's certificate has expired".into(),
        rustls::Error::InvalidCertificate(other) => {
            format!("the broker's certificate is not acceptable: {other:?}")
        }
        rustls::Error::AlertReceived(alert) => format!(
            "the broker refused the handshake ({alert:?}); a client certificate is missing, expired or not from a CA it trusts"
        ),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            format!("the peer does not speak TLS as expected (is this a TLS listener?): {error}")
        }
        other => other.to_string(),
    }
}

/// The standard verifier with one difference: a certificate that does not
/// name the address is accepted. The chain, validity and signatures are
/// still checked.
#[derive(Debug)]
struct AnyNameVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOT_PEM: &[u8] = b"hello";
    const KEY_LOOKALIKE: &str =
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n";

    #[test]
    fn a_ca_file_without_certificates_is_a_config_error() {
        for pem in [NOT_PEM, b"".as_slice()] {
            let error = TlsConfig::new(pem).build().expect_err("no CA");
            assert!(matches!(error, Error::Config(_)), "{error}");
            assert!(error.to_string().contains("trusted CA"), "{error}");
        }
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let config = TlsConfig::new(NOT_PEM).with_client_certificate(NOT_PEM, KEY_LOOKALIKE);
        let shown = format!("{config:?} {config:#?}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        // Not even as the bytes' numbers.
        let as_numbers = format!("{:?}", KEY_LOOKALIKE.as_bytes());
        assert!(!shown.contains(&as_numbers[1..20]), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(shown.contains("<5 bytes of PEM>"), "{shown}");
    }

    #[test]
    fn hostname_verification_is_on_by_default() {
        assert!(TlsConfig::new(NOT_PEM).verify_hostname);
        assert!(
            !TlsConfig::new(NOT_PEM)
                .without_hostname_verification()
                .verify_hostname
        );
    }
}

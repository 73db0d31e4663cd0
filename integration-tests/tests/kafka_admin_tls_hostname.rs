//! Hostname verification with the local broker's real certificate
//! (hack/kafka/certs.sh: SAN `localhost`, `127.0.0.1`), served by a small
//! TLS listener on `[::1]`, an address the certificate does not name. The
//! broker itself listens on 127.0.0.1 only, so this is the one way to reach
//! its certificate under another name.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kafka_admin::{ClientConfig, ErrorKind, KafkaClient, SecurityConfig, TlsConfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

fn security_file(path: &str) -> Vec<u8> {
    let dir = std::env::var("SHOPSTREAM_KAFKA_SECURITY_DIR").unwrap_or_else(|_| {
        panic!(
            "SHOPSTREAM_KAFKA_SECURITY_DIR is not set: this test needs the local broker's \
             certificates. Run it with `make test`, or `make env-up` and `eval \"$(hack/env.sh)\"`."
        )
    });
    let path = PathBuf::from(dir).join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run hack/env-up.sh)", path.display()))
}

/// A TLS listener on [::1] with the broker's certificate; reports the size
/// prefix of the first frame a client sends after the handshake.
async fn listener_with_broker_certificate() -> (u16, oneshot::Receiver<i32>) {
    let chain = CertificateDer::pem_slice_iter(&security_file("broker/tls.crt"))
        .collect::<Result<Vec<_>, _>>()
        .expect("broker certificate");
    let key = PrivateKeyDer::from_pem_slice(&security_file("broker/tls.key")).expect("broker key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("[::1]:0")
        .await
        .expect("IPv6 loopback [::1] must be available for this test");
    let port = listener.local_addr().expect("address").port();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut tx = Some(tx);
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                continue;
            };
            if let (Ok(size), Some(tx)) = (tls.read_i32().await, tx.take()) {
                let _ = tx.send(size);
            }
        }
    });
    (port, rx)
}

fn client(port: u16, tls: TlsConfig) -> KafkaClient {
    KafkaClient::new(
        ClientConfig::new(&format!("[::1]:{port}"))
            .expect("bootstrap")
            .security(SecurityConfig {
                tls: Some(tls),
                sasl: None,
            })
            .expect("valid"),
    )
}

fn cluster_ca() -> TlsConfig {
    TlsConfig::new(security_file("cluster-ca/ca.crt"))
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let (port, _) = listener_with_broker_certificate().await;
    let error = client(port, cluster_ca())
        .describe_topics(&["t".to_string()], Duration::from_secs(5))
        .await
        .expect_err("[::1] is not in the certificate");
    assert_eq!(error.kind(), ErrorKind::TlsHandshakeFailed, "{error}");
    assert!(error.to_string().contains("does not name"), "{error}");
}

#[tokio::test]
async fn without_hostname_verification_the_chain_alone_decides() {
    let (port, first_frame) = listener_with_broker_certificate().await;
    let tls = cluster_ca().without_hostname_verification();
    // The listener is not Kafka, so the call fails after the handshake;
    // what matters is that a Kafka request arrived over TLS.
    let _ = client(port, tls)
        .describe_topics(&["t".to_string()], Duration::from_secs(2))
        .await;
    let size = tokio::time::timeout(Duration::from_secs(5), first_frame)
        .await
        .expect("a request within 5 s")
        .expect("the listener saw a frame");
    assert!(size > 0, "ApiVersions frame size {size}");

    // An untrusted chain is still refused.
    let (port, _) = listener_with_broker_certificate().await;
    let untrusted =
        TlsConfig::new(security_file("untrusted-ca/ca.crt")).without_hostname_verification();
    let error = client(port, untrusted)
        .describe_topics(&["t".to_string()], Duration::from_secs(5))
        .await
        .expect_err("untrusted CA");
    assert_eq!(error.kind(), ErrorKind::TlsHandshakeFailed, "{error}");
    assert!(error.to_string().contains("UnknownIssuer"), "{error}");
}

//! The client against the local broker's secured listeners
//! (hack/kafka/README.md): SASL_SSL with SCRAM (SHA-512 and SHA-256) and
//! SSL with required client certificates, behind KRaft's
//! StandardAuthorizer with deny-by-default.
//!
//! Every test needs those listeners and fails, naming what is missing,
//! when they are not there: nothing is skipped. Users and ACLs are made
//! with Kafka's own tools (hack/kafka/user.sh, `kafka-cli.sh acls`) over
//! the PLAINTEXT listener, so the broker, not this client, decides.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kafka_admin::{
    ClientConfig, Creation, Error, ErrorKind, IsolationLevel, KafkaClient, NewTopic, OffsetSpec,
    SaslConfig, SecurityConfig, TlsConfig, TopicDescription,
};
use tokio::process::Command;

const TIMEOUT: Duration = Duration::from_secs(15);

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: this test needs the local broker's secured listeners. \
             Run it with `make test`, or `make env-up` and `eval \"$(hack/env.sh)\"`."
        )
    })
}

fn read(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env(name));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{name}={}: {e} (run hack/env-up.sh)", path.display()))
}

fn read_in(dir_var: &str, file: &str) -> Vec<u8> {
    let path = PathBuf::from(env(dir_var)).join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run hack/env-up.sh)", path.display()))
}

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{prefix}-{:x}{nanos:x}", std::process::id())
}

/// Runs a hack/kafka script, bounded in time; its stdout.
async fn run_hack(script: &str, args: &[&str]) -> String {
    let path = integration_tests::checkout::workspace_root()
        .join("hack/kafka")
        .join(script);
    let mut command = Command::new(path);
    command.args(args).kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .unwrap_or_else(|_| panic!("{script} {args:?} did not finish within 120 s"))
        .unwrap_or_else(|e| panic!("{script} does not start: {e}"));
    assert!(
        output.status.success(),
        "{script} {args:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A SCRAM user (SHA-512 and SHA-256 credentials) with a random password;
/// its directory is removed when dropped.
struct ScramUser {
    name: String,
    dir: PathBuf,
}

impl ScramUser {
    async fn new(prefix: &str) -> Self {
        let name = unique(prefix);
        let dir = std::env::temp_dir().join(format!("shopstream-{name}"));
        let printed = run_hack("user.sh", &["scram", &name, &dir.display().to_string()]).await;
        assert_eq!(Path::new(printed.trim()), dir);
        Self { name, dir }
    }

    fn password(&self) -> String {
        std::fs::read_to_string(self.dir.join("password")).expect("user.sh wrote the password")
    }
}

impl Drop for ScramUser {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn allow(principal: &str, resource: &[&str], operations: &[&str]) {
    let bootstrap = env("SHOPSTREAM_KAFKA_BOOTSTRAP");
    let mut args = vec!["acls", "--bootstrap-server", &bootstrap, "--add"];
    args.extend(["--allow-principal", principal]);
    args.extend(resource);
    for operation in operations {
        args.extend(["--operation", operation]);
    }
    run_hack("kafka-cli.sh", &args).await;
}

fn trusted_ca() -> TlsConfig {
    TlsConfig::new(read("SHOPSTREAM_KAFKA_CA_FILE"))
}

fn admin_password() -> String {
    String::from_utf8(read("SHOPSTREAM_KAFKA_ADMIN_PASSWORD_FILE")).expect("UTF-8 password")
}

fn sasl_ssl(sasl: SaslConfig, tls: TlsConfig) -> KafkaClient {
    let config = ClientConfig::new(&env("SHOPSTREAM_KAFKA_SASL_SSL_BOOTSTRAP"))
        .expect("bootstrap")
        .security(SecurityConfig {
            tls: Some(tls),
            sasl: Some(sasl),
        })
        .expect("valid security settings");
    KafkaClient::new(config)
}

fn mtls(tls: TlsConfig) -> KafkaClient {
    let config = ClientConfig::new(&env("SHOPSTREAM_KAFKA_MTLS_BOOTSTRAP"))
        .expect("bootstrap")
        .security(SecurityConfig {
            tls: Some(tls),
            sasl: None,
        })
        .expect("valid security settings");
    KafkaClient::new(config)
}

fn admin_tls() -> TlsConfig {
    trusted_ca().with_client_certificate(
        read_in("SHOPSTREAM_KAFKA_ADMIN_TLS_DIR", "user.crt"),
        read_in("SHOPSTREAM_KAFKA_ADMIN_TLS_DIR", "user.key"),
    )
}

/// Creates a topic, reads it back, lists its offsets and reads a group's
/// committed offsets (none): the admin calls the operator makes.
async fn admin_round_trip(client: &KafkaClient, prefix: &str) {
    let topic = unique(prefix);
    let created = client
        .create_topics(
            &[NewTopic {
                name: topic.clone(),
                partitions: 2,
                replication_factor: 1,
                configs: Default::default(),
            }],
            TIMEOUT,
        )
        .await
        .expect("create topics over the secured listener");
    assert_eq!(created[&topic], Ok(Creation::Created));
    // A new topic reaches the broker's metadata cache a moment after
    // CreateTopics answers (seen on a freshly started broker): ask again,
    // bounded.
    let started = Instant::now();
    loop {
        let described = client
            .describe_topics(std::slice::from_ref(&topic), TIMEOUT)
            .await
            .expect("describe");
        match &described[&topic] {
            TopicDescription::Exists(info) => {
                assert_eq!(info.partition_count(), 2);
                break;
            }
            other if started.elapsed() > TIMEOUT => panic!("{topic}: {other:?}"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let partitions = [(topic.clone(), 0), (topic.clone(), 1)];
    let offsets = client
        .list_offsets(
            &partitions,
            OffsetSpec::Latest,
            IsolationLevel::ReadCommitted,
            TIMEOUT,
        )
        .await
        .expect("list offsets");
    for partition in &partitions {
        assert_eq!(offsets[partition], Ok(0), "{partition:?}");
    }
    let committed = client
        .committed_offsets(&unique("group"), &partitions, TIMEOUT)
        .await
        .expect("committed offsets");
    for partition in &partitions {
        assert_eq!(committed[partition], Ok(None), "{partition:?}");
    }
    let deleted = client
        .delete_topics(std::slice::from_ref(&topic), TIMEOUT)
        .await
        .expect("delete");
    assert_eq!(deleted[&topic], Ok(()));
}

/// The error and how long it took; a security failure is permanent, so it
/// must come back at once, not after the call's deadline of retries.
async fn first_failure(client: &KafkaClient) -> Error {
    let started = Instant::now();
    let error = client
        .describe_topics(&["any-topic".to_string()], TIMEOUT)
        .await
        .expect_err("the connection must be refused");
    assert!(
        started.elapsed() < TIMEOUT / 2,
        "a permanent failure took {:?} (retried until the deadline?): {error}",
        started.elapsed()
    );
    error
}

/// Fails the test when nothing listens on `bootstrap` (so a test that
/// expects a failure cannot pass because the listener is missing).
async fn assert_listening(bootstrap: &str) {
    tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(bootstrap),
    )
    .await
    .unwrap_or_else(|_| panic!("connecting to {bootstrap} timed out"))
    .unwrap_or_else(|e| panic!("no Kafka listener on {bootstrap} ({e}): run hack/env-up.sh"));
}

/// The full error chain, as a log line or a condition would show it.
fn chain(error: &Error) -> String {
    let mut text = format!("{error} | {error:?}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(" | {cause}"));
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn sasl_ssl_scram_sha512_admin_round_trip() {
    let password = admin_password();
    let client = sasl_ssl(
        SaslConfig::scram_sha512("admin", password.as_str()),
        trusted_ca(),
    );
    admin_round_trip(&client, "sec-scram512").await;
    let shown = format!("{client:?}");
    assert!(shown.contains("SASL_SSL/SCRAM-SHA-512"), "{shown}");
    assert!(!shown.contains(&password), "{shown}");
}

#[tokio::test]
async fn mtls_admin_round_trip() {
    admin_round_trip(&mtls(admin_tls()), "sec-mtls").await;
}

#[tokio::test]
async fn scram_sha256_user_reads_what_its_acls_allow() {
    let user = ScramUser::new("sec-sha256").await;
    let topic = unique("sec-sha256-topic");
    let admin = sasl_ssl(
        SaslConfig::scram_sha512("admin", admin_password()),
        trusted_ca(),
    );
    let created = admin
        .create_topics(
            &[NewTopic {
                name: topic.clone(),
                partitions: 1,
                replication_factor: 1,
                configs: Default::default(),
            }],
            TIMEOUT,
        )
        .await
        .expect("create");
    assert_eq!(created[&topic], Ok(Creation::Created));
    allow(
        &format!("User:{}", user.name),
        &["--topic", &topic],
        &["Describe"],
    )
    .await;

    let client = sasl_ssl(
        SaslConfig::scram_sha256(user.name.as_str(), user.password()),
        trusted_ca(),
    );
    let described = client
        .describe_topics(std::slice::from_ref(&topic), TIMEOUT)
        .await
        .expect("describe over SCRAM-SHA-256");
    assert!(
        matches!(described[&topic], TopicDescription::Exists(_)),
        "{described:?}"
    );
    let offsets = client
        .list_offsets(
            &[(topic.clone(), 0)],
            OffsetSpec::Latest,
            IsolationLevel::ReadUncommitted,
            TIMEOUT,
        )
        .await
        .expect("list offsets");
    assert_eq!(offsets[&(topic.clone(), 0)], Ok(0));
    admin
        .delete_topics(std::slice::from_ref(&topic), TIMEOUT)
        .await
        .expect("delete");
}

#[tokio::test]
async fn wrong_password_is_an_authentication_failure() {
    let user = ScramUser::new("sec-wrongpw").await;
    let real = user.password();
    let wrong = format!("{real}-but-not-quite");
    let error = first_failure(&sasl_ssl(
        SaslConfig::scram_sha512(user.name.as_str(), wrong.as_str()),
        trusted_ca(),
    ))
    .await;
    let text = chain(&error);
    println!("wrong password: {text}");
    assert_eq!(error.kind(), ErrorKind::AuthenticationFailed, "{text}");
    assert!(!error.is_retriable());
    assert!(!text.contains(&real) && !text.contains(&wrong), "{text}");
}

#[tokio::test]
async fn unknown_user_and_unoffered_mechanism_are_authentication_failures() {
    let error = first_failure(&sasl_ssl(
        SaslConfig::scram_sha512(unique("nobody"), "whatever-password"),
        trusted_ca(),
    ))
    .await;
    assert_eq!(
        error.kind(),
        ErrorKind::AuthenticationFailed,
        "{}",
        chain(&error)
    );
    assert!(!chain(&error).contains("whatever-password"));

    let error = first_failure(&sasl_ssl(
        SaslConfig::plain("admin", admin_password()),
        trusted_ca(),
    ))
    .await;
    let text = chain(&error);
    println!("PLAIN on a SCRAM listener: {text}");
    assert_eq!(error.kind(), ErrorKind::AuthenticationFailed, "{text}");
    assert!(
        text.contains("SCRAM-SHA-512"),
        "names what the listener offers: {text}"
    );
    assert!(!text.contains(&admin_password()), "{text}");
}

#[tokio::test]
async fn untrusted_ca_is_a_tls_handshake_failure() {
    let untrusted = || TlsConfig::new(read("SHOPSTREAM_KAFKA_UNTRUSTED_CA_FILE"));
    let password = admin_password();
    for (listener, client) in [
        (
            "SASL_SSL",
            sasl_ssl(
                SaslConfig::scram_sha512("admin", password.as_str()),
                untrusted(),
            ),
        ),
        (
            "mTLS",
            mtls(untrusted().with_client_certificate(
                read_in("SHOPSTREAM_KAFKA_ADMIN_TLS_DIR", "user.crt"),
                read_in("SHOPSTREAM_KAFKA_ADMIN_TLS_DIR", "user.key"),
            )),
        ),
    ] {
        let error = first_failure(&client).await;
        let text = chain(&error);
        println!("{listener}, untrusted CA: {text}");
        assert_eq!(
            error.kind(),
            ErrorKind::TlsHandshakeFailed,
            "{listener}: {text}"
        );
        assert!(text.contains("UnknownIssuer"), "{listener}: {text}");
        assert!(!text.contains(&password), "{text}");
    }
}

#[tokio::test]
async fn client_certificate_the_broker_does_not_trust_is_a_tls_handshake_failure() {
    // Issued by a CA the broker does not know; and no certificate at all.
    let foreign = trusted_ca().with_client_certificate(
        read_in("SHOPSTREAM_KAFKA_UNTRUSTED_TLS_DIR", "user.crt"),
        read_in("SHOPSTREAM_KAFKA_UNTRUSTED_TLS_DIR", "user.key"),
    );
    for (case, tls) in [
        ("foreign client certificate", foreign),
        ("no client certificate", trusted_ca()),
    ] {
        let error = first_failure(&mtls(tls)).await;
        let text = chain(&error);
        println!("{case}: {text}");
        assert_eq!(
            error.kind(),
            ErrorKind::TlsHandshakeFailed,
            "{case}: {text}"
        );
    }
}

#[tokio::test]
async fn user_without_acls_gets_authorization_failures() {
    let user = ScramUser::new("sec-noacl").await;
    let topic = unique("sec-noacl-topic");
    let client = sasl_ssl(
        SaslConfig::scram_sha512(user.name.as_str(), user.password()),
        trusted_ca(),
    );

    // Authenticated, so the connection works; every resource is denied.
    let created = client
        .create_topics(
            &[NewTopic {
                name: topic.clone(),
                partitions: 1,
                replication_factor: 1,
                configs: Default::default(),
            }],
            TIMEOUT,
        )
        .await
        .expect("the request itself is answered");
    let refused = created[&topic].clone().expect_err("creating is denied");
    assert_eq!(refused.kind(), ErrorKind::AuthorizationFailed, "{refused}");

    let described = client
        .describe_topics(&["__consumer_offsets".to_string()], TIMEOUT)
        .await
        .expect("the request itself is answered");
    match &described["__consumer_offsets"] {
        TopicDescription::Unreadable(e) => {
            assert_eq!(e.kind(), ErrorKind::AuthorizationFailed, "{e}")
        }
        other => panic!("described without Describe permission: {other:?}"),
    }

    let started = Instant::now();
    let error = client
        .committed_offsets(&unique("group"), &[(topic.clone(), 0)], TIMEOUT)
        .await
        .expect_err("reading a group is denied");
    let text = chain(&error);
    println!("group without ACLs: {text}");
    assert_eq!(error.kind(), ErrorKind::AuthorizationFailed, "{text}");
    assert!(started.elapsed() < TIMEOUT / 2, "retried a denial: {text}");
    assert!(!text.contains(&user.password()), "{text}");
}

#[tokio::test]
async fn plaintext_client_cannot_use_a_tls_listener() {
    // What a client without TLS gets from these listeners: no answer it
    // can use (the check that the secured tests above need the feature).
    for bootstrap in [
        env("SHOPSTREAM_KAFKA_SASL_SSL_BOOTSTRAP"),
        env("SHOPSTREAM_KAFKA_MTLS_BOOTSTRAP"),
    ] {
        assert_listening(&bootstrap).await;
        let client = KafkaClient::new(ClientConfig::new(&bootstrap).expect("bootstrap"));
        let error = client
            .describe_topics(&["any".to_string()], Duration::from_secs(3))
            .await
            .expect_err("plaintext Kafka on a TLS port");
        assert_ne!(
            error.kind(),
            ErrorKind::AuthorizationFailed,
            "{}",
            chain(&error)
        );
    }
}

#[tokio::test]
async fn tls_client_on_the_plaintext_listener_fails_as_tls() {
    assert_listening(&env("SHOPSTREAM_KAFKA_BOOTSTRAP")).await;
    let client = KafkaClient::new(
        ClientConfig::new(&env("SHOPSTREAM_KAFKA_BOOTSTRAP"))
            .expect("bootstrap")
            .security(SecurityConfig {
                tls: Some(trusted_ca()),
                sasl: None,
            })
            .expect("valid"),
    );
    let error = client
        .describe_topics(&["any".to_string()], Duration::from_secs(3))
        .await
        .expect_err("TLS to a plaintext port");
    println!("TLS to PLAINTEXT: {}", chain(&error));
    assert!(
        matches!(
            error.kind(),
            ErrorKind::TlsHandshakeFailed | ErrorKind::Unreachable
        ),
        "{}",
        chain(&error)
    );
}

//! librdkafka against the local broker's secured listeners (hack/kafka/README.md):
//! SASL_SSL with SCRAM-SHA-512 and SSL with client certificates (mTLS), both
//! behind KRaft's StandardAuthorizer with deny-by-default.
//!
//! - A transactional produce and read_committed consume round trip, offsets
//!   committed in the transaction as stage 1 does, works with exactly the
//!   ACLs granted here (topic Read+Write, group Read, transactional-id prefix
//!   Write), and nothing beyond them is allowed.
//! - A wrong password, an untrusted CA, an untrusted or missing client
//!   certificate and a user without ACLs each surface as the error class
//!   `SecurityFailure` names; the exact librdkafka messages are printed
//!   (`--nocapture`) and recorded in docs/librdkafka.md.
//! - No librdkafka log line (at debug level `all`) contains the password.
//!
//! Users and ACLs are created with Kafka's own tools (hack/kafka/user.sh,
//! `kafka-cli.sh acls`) over the all-powerful PLAINTEXT listener, as the
//! operator will create them through Strimzi.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use integration_tests::kafka::{create_topic, delete_topics};
use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use shopstream_processor::kafka_security::{
    Authentication, KafkaSecurity, ScramMechanism, SecurityFailure, Tls,
};
use tokio::process::Command;

/// Every wait of this file ends by then; a broken setup fails, never hangs.
const WAIT: Duration = Duration::from_secs(30);

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: this test needs the local broker's secured listeners. \
             Run it with `make test`, or `make env-up` and export what `hack/env.sh` prints."
        )
    })
}

fn env_path(name: &str) -> PathBuf {
    let path = PathBuf::from(env(name));
    assert!(
        path.exists(),
        "{name}={} does not exist: run hack/env-up.sh",
        path.display()
    );
    path
}

fn hack(script: &str) -> PathBuf {
    integration_tests::checkout::workspace_root()
        .join("hack/kafka")
        .join(script)
}

/// Runs a hack/kafka script, bounded in time; its stdout.
async fn run_hack(script: &str, args: &[&str]) -> String {
    let mut command = Command::new(hack(script));
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

/// A user's files, laid out as in a Strimzi KafkaUser's Secret; removed when
/// the test ends (the user stays on the broker, which tests throw away).
struct UserDir(PathBuf);

impl UserDir {
    fn join(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for UserDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn user(kind: &str, name: &str) -> UserDir {
    let dir = std::env::temp_dir().join(format!("shopstream-{name}"));
    let printed = run_hack("user.sh", &[kind, name, &dir.display().to_string()]).await;
    assert_eq!(
        Path::new(printed.trim()),
        dir,
        "user.sh prints the user's directory"
    );
    UserDir(dir)
}

/// A SCRAM-SHA-512 user with a random password (`password` in its directory).
async fn scram_user(name: &str) -> UserDir {
    user("scram", name).await
}

/// A client certificate from the clients CA (`user.crt`, `user.key`),
/// principal `User:CN=<name>`.
async fn tls_user(name: &str) -> UserDir {
    user("tls", name).await
}

/// Grants `principal` what a pipeline's transactional stage needs on its own
/// names, and nothing else: Read and Write on the topic (Describe is
/// implied), Read on the consumer group (join, offsets, offsets committed in
/// a transaction), Write on transactional ids starting with `txn_prefix`.
async fn grant(principal: &str, topic: &str, group: &str, txn_prefix: &str) {
    let bootstrap = env("SHOPSTREAM_KAFKA_BOOTSTRAP");
    let acl = |resource: &[&str], operations: &[&str]| {
        let mut args = vec!["acls", "--bootstrap-server", &bootstrap, "--add"];
        args.extend(["--allow-principal", principal]);
        args.extend(resource);
        for op in operations {
            args.extend(["--operation", op]);
        }
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let calls = [
        acl(&["--topic", topic], &["Read", "Write"]),
        acl(&["--group", group], &["Read"]),
        acl(
            &[
                "--transactional-id",
                txn_prefix,
                "--resource-pattern-type",
                "prefixed",
            ],
            &["Write"],
        ),
    ];
    futures::future::join_all(calls.iter().map(|args| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        async move { run_hack("kafka-cli.sh", &args).await }
    }))
    .await;
}

/// Everything librdkafka tells a client: log lines and error callbacks.
#[derive(Default)]
struct Capture {
    logs: Mutex<Vec<String>>,
    errors: Mutex<Vec<(KafkaError, String)>>,
}

impl Capture {
    fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// The first error callback that is a security problem, with its message.
    fn failure(&self) -> Option<(SecurityFailure, KafkaError, String)> {
        self.errors.lock().unwrap().iter().find_map(|(e, reason)| {
            SecurityFailure::from_client_error(e, reason).map(|f| (f, e.clone(), reason.clone()))
        })
    }

    /// Panics on an authentication or TLS error: the client authenticated.
    /// (Authorization errors reach the error callback too, and may.)
    fn assert_authenticated(&self) {
        let errors = self.errors.lock().unwrap();
        let failed: Vec<String> = errors
            .iter()
            .filter(|(e, reason)| {
                SecurityFailure::from_client_error(e, reason)
                    .is_some_and(|f| f != SecurityFailure::AuthorizationFailed)
            })
            .map(|(e, reason)| format!("{e}: {reason}"))
            .collect();
        assert!(
            failed.is_empty(),
            "authentication or TLS errors: {failed:?}"
        );
    }

    fn assert_never_logged(&self, secret: &str) {
        let logs = self.logs();
        assert!(!logs.is_empty(), "librdkafka logged nothing at debug level");
        let leaks: Vec<&String> = logs.iter().filter(|l| l.contains(secret)).collect();
        assert!(
            leaks.is_empty(),
            "librdkafka logged the password: {leaks:?}"
        );
        let errors = self.errors.lock().unwrap();
        assert!(
            !errors.iter().any(|(_, reason)| reason.contains(secret)),
            "an error callback carried the password"
        );
    }
}

#[derive(Clone)]
struct Ctx(Arc<Capture>);

impl ClientContext for Ctx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        if let Ok(mut logs) = self.0.logs.lock() {
            logs.push(format!("{level:?} {fac} {message}"));
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if let Ok(mut errors) = self.0.errors.lock() {
            errors.push((error, reason.to_string()));
        }
    }
}

impl ConsumerContext for Ctx {}

/// A client configuration over `bootstrap` with `security`, logging
/// everything librdkafka has (debug `all`) into the capture.
fn client(bootstrap: &str, security: &KafkaSecurity) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("debug", "all")
        .set_log_level(RDKafkaLogLevel::Debug);
    security
        .apply(&mut config)
        .expect("security settings apply");
    config
}

fn producer(config: &ClientConfig, capture: &Arc<Capture>) -> FutureProducer<Ctx> {
    config
        .clone()
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "20000")
        .create_with_context(Ctx(Arc::clone(capture)))
        .expect("producer")
}

fn transactional_producer(
    config: &ClientConfig,
    transactional_id: &str,
    capture: &Arc<Capture>,
) -> FutureProducer<Ctx> {
    producer(
        config.clone().set("transactional.id", transactional_id),
        capture,
    )
}

fn consumer(config: &ClientConfig, group: &str, capture: &Arc<Capture>) -> StreamConsumer<Ctx> {
    config
        .clone()
        .set("group.id", group)
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .create_with_context(Ctx(Arc::clone(capture)))
        .expect("consumer")
}

fn scram(username: &str, password_file: PathBuf, ca_file: PathBuf) -> KafkaSecurity {
    KafkaSecurity {
        tls: Some(Tls {
            ca_file: Some(ca_file),
        }),
        authentication: Some(Authentication::Scram {
            mechanism: ScramMechanism::Sha512,
            username: username.into(),
            password_file,
        }),
    }
}

fn mtls(user_dir: &Path, ca_file: PathBuf) -> KafkaSecurity {
    KafkaSecurity {
        tls: Some(Tls {
            ca_file: Some(ca_file),
        }),
        authentication: Some(Authentication::Tls {
            certificate_file: user_dir.join("user.crt"),
            key_file: user_dir.join("user.key"),
        }),
    }
}

/// Partitions of the round trip's topic.
const PARTITIONS: i32 = 2;

async fn send(producer: &FutureProducer<Ctx>, topic: &str, key: &str) {
    send_to(producer, topic, key, None).await;
}

async fn send_to(producer: &FutureProducer<Ctx>, topic: &str, key: &str, partition: Option<i32>) {
    let mut record = FutureRecord::to(topic).key(key).payload(key);
    if let Some(p) = partition {
        record = record.partition(p);
    }
    producer
        .send(record, Duration::from_secs(10))
        .await
        .unwrap_or_else(|(e, _)| panic!("delivery of {key} to {topic} failed: {e}"));
}

/// Reads committed records until the `end-<partition>` marker of every
/// partition arrived; their keys.
async fn read_until_markers(consumer: &StreamConsumer<Ctx>) -> Vec<String> {
    let mut keys = Vec::new();
    let mut markers = 0;
    let mut stream = consumer.stream();
    let deadline = tokio::time::Instant::now() + WAIT;
    while markers < PARTITIONS {
        let message = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("end markers not read within {WAIT:?}; read {keys:?}"))
            .expect("consumer stream ended")
            .unwrap_or_else(|e| panic!("consume error after {keys:?}: {e}"));
        let key = String::from_utf8_lossy(message.key().expect("key")).into_owned();
        if key.starts_with("end-") {
            markers += 1;
        }
        keys.push(key);
    }
    keys
}

/// The first error of a consumer's stream, within `WAIT`.
async fn first_consume_error(consumer: &StreamConsumer<Ctx>) -> KafkaError {
    let mut stream = consumer.stream();
    match tokio::time::timeout(WAIT, stream.next()).await {
        Ok(Some(Err(e))) => e,
        Ok(Some(Ok(m))) => panic!("read a record at offset {} it may not read", m.offset()),
        Ok(None) => panic!("consumer stream ended"),
        Err(_) => panic!("no consume error within {WAIT:?}"),
    }
}

/// Waits for the client's first security error callback.
async fn wait_for_failure(capture: &Capture) -> (SecurityFailure, KafkaError, String) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(found) = capture.failure() {
            return found;
        }
        if tokio::time::Instant::now() >= deadline {
            let errors: Vec<String> = capture
                .errors
                .lock()
                .unwrap()
                .iter()
                .map(|(e, r)| format!("{e}: {r}"))
                .collect();
            panic!("no security error within {WAIT:?}; errors: {errors:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What a pipeline's transactional stage does, as `principal` with exactly
/// the ACLs [`grant`] gives, then what it may not do.
async fn transactional_round_trip(
    listener: &str,
    bootstrap: &str,
    security: &KafkaSecurity,
    principal: &str,
    secret: Option<&str>,
) {
    let topic = create_topic(&format!("secure-{listener}"), PARTITIONS, &[]).await;
    let other_topic = create_topic(&format!("secure-{listener}-other"), 1, &[]).await;
    let group = format!("{topic}-group");
    let txn_prefix = format!("{topic}-txn-");
    grant(principal, &topic, &group, &txn_prefix).await;

    let capture = Arc::new(Capture::default());
    let config = client(bootstrap, security);
    let producer = transactional_producer(&config, &format!("{txn_prefix}0"), &capture);
    producer
        .init_transactions(WAIT)
        .expect("init_transactions with Write on the transactional-id prefix");

    producer.begin_transaction().expect("begin");
    for i in 0..10 {
        send(&producer, &topic, &format!("committed-{i}")).await;
    }
    producer.commit_transaction(WAIT).expect("commit");
    producer.begin_transaction().expect("begin");
    for i in 0..5 {
        send(&producer, &topic, &format!("aborted-{i}")).await;
    }
    producer.abort_transaction(WAIT).expect("abort");
    // A committed marker on each partition: reading up to all of them means
    // every record before them was either read or filtered as aborted.
    producer.begin_transaction().expect("begin");
    for partition in 0..PARTITIONS {
        send_to(
            &producer,
            &topic,
            &format!("end-{partition}"),
            Some(partition),
        )
        .await;
    }
    producer.commit_transaction(WAIT).expect("commit");

    let consumer = consumer(&config, &group, &capture);
    consumer.subscribe(&[&topic]).expect("subscribe");
    let mut keys = read_until_markers(&consumer).await;
    keys.sort();
    let mut expected: Vec<String> = (0..10).map(|i| format!("committed-{i}")).collect();
    expected.extend((0..PARTITIONS).map(|p| format!("end-{p}")));
    expected.sort();
    assert_eq!(
        keys, expected,
        "read_committed: every committed record, no aborted one"
    );

    // Stage 1's commit: the consumer's offsets inside the producer's transaction.
    let position = consumer.position().expect("position");
    let metadata = consumer.group_metadata().expect("group metadata");
    producer.begin_transaction().expect("begin");
    producer
        .send_offsets_to_transaction(&position, &metadata, WAIT)
        .expect("offsets into the transaction with Read on the group");
    producer.commit_transaction(WAIT).expect("commit offsets");
    let committed = consumer.committed(WAIT).expect("committed offsets");
    assert_eq!(
        committed.to_topic_map(),
        position.to_topic_map(),
        "the transaction committed the group's offsets"
    );

    // Nothing beyond the grant: another topic, group or transactional id.
    let denied = transactional_producer(&config, &format!("other-{topic}"), &capture)
        .init_transactions(WAIT)
        .expect_err("a transactional id outside the prefix");
    assert_eq!(
        denied.rdkafka_error_code(),
        Some(RDKafkaErrorCode::TransactionalIdAuthorizationFailed),
        "{denied}"
    );
    println!("[{listener}] transactional id outside the ACLs: {denied}");

    let plain = config
        .clone()
        .set("enable.idempotence", "false")
        .set("message.timeout.ms", "10000")
        .create_with_context::<_, FutureProducer<Ctx>>(Ctx(Arc::clone(&capture)))
        .expect("producer");
    let (denied, _) = plain
        .send(
            FutureRecord::to(&other_topic).key("k").payload("v"),
            Duration::from_secs(10),
        )
        .await
        .expect_err("a topic outside the ACLs");
    assert_eq!(
        SecurityFailure::from_error(&denied),
        Some(SecurityFailure::AuthorizationFailed),
        "{denied:?}"
    );
    println!("[{listener}] topic outside the ACLs: {denied}");

    let outsider = consumer_in(&config, &format!("{topic}-other-group"), &topic, &capture);
    let denied = first_consume_error(&outsider).await;
    assert_eq!(
        SecurityFailure::from_error(&denied),
        Some(SecurityFailure::AuthorizationFailed),
        "{denied:?}"
    );
    println!("[{listener}] group outside the ACLs: {denied}");

    if let Some(secret) = secret {
        capture.assert_never_logged(secret);
    }
    capture.assert_authenticated();
    delete_topics(&[&topic, &other_topic]).await;
}

fn consumer_in(
    config: &ClientConfig,
    group: &str,
    topic: &str,
    capture: &Arc<Capture>,
) -> StreamConsumer<Ctx> {
    let consumer = consumer(config, group, capture);
    consumer.subscribe(&[topic]).expect("subscribe");
    consumer
}

/// Connects with `security` and returns the first security error, printing
/// what librdkafka said.
async fn connection_failure(
    label: &str,
    bootstrap: &str,
    security: &KafkaSecurity,
) -> Arc<Capture> {
    let capture = Arc::new(Capture::default());
    let producer = producer(&client(bootstrap, security), &capture);
    // A request, so the client connects and fails even if it were lazy.
    let probe = producer.clone();
    let metadata = tokio::task::spawn_blocking(move || {
        probe
            .client()
            .fetch_metadata(None, Duration::from_secs(5))
            .map(|_| ())
    })
    .await
    .expect("metadata task");
    assert!(metadata.is_err(), "[{label}] metadata must not be readable");
    let (failure, error, reason) = wait_for_failure(&capture).await;
    println!("[{label}] {failure}: {error:?}: {reason}");
    capture
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_ssl_transactional_round_trip_with_exact_acls() {
    let user = integration_tests::kafka::unique("scram");
    let dir = scram_user(&user).await;
    let password = std::fs::read_to_string(dir.join("password")).expect("password file");
    let security = scram(
        &user,
        dir.join("password"),
        env_path("SHOPSTREAM_KAFKA_CA_FILE"),
    );
    transactional_round_trip(
        "sasl_ssl",
        &env("SHOPSTREAM_KAFKA_SASL_SSL_BOOTSTRAP"),
        &security,
        &format!("User:{user}"),
        Some(&password),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_transactional_round_trip_with_exact_acls() {
    let user = integration_tests::kafka::unique("tls");
    let dir = tls_user(&user).await;
    let security = mtls(&dir.0, env_path("SHOPSTREAM_KAFKA_CA_FILE"));
    transactional_round_trip(
        "mtls",
        &env("SHOPSTREAM_KAFKA_MTLS_BOOTSTRAP"),
        &security,
        &format!("User:CN={user}"),
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_an_authentication_failure() {
    let wrong = std::env::temp_dir().join(integration_tests::kafka::unique("wrong-password"));
    let secret = format!("wrong-{}", integration_tests::kafka::unique("pw"));
    std::fs::write(&wrong, &secret).expect("password file");
    // The admin user exists; Kafka answers an unknown user the same way.
    let security = scram("admin", wrong.clone(), env_path("SHOPSTREAM_KAFKA_CA_FILE"));
    let capture = connection_failure(
        "wrong password",
        &env("SHOPSTREAM_KAFKA_SASL_SSL_BOOTSTRAP"),
        &security,
    )
    .await;
    let (failure, error, reason) = capture.failure().expect("failure");
    assert_eq!(failure, SecurityFailure::AuthenticationFailed);
    assert_eq!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::Authentication)
    );
    assert!(
        reason.contains("SASL authentication error: Authentication failed"),
        "{reason}"
    );
    capture.assert_never_logged(&secret);
    let _ = std::fs::remove_file(wrong);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_ca_is_a_tls_handshake_failure() {
    let untrusted = env_path("SHOPSTREAM_KAFKA_UNTRUSTED_CA_FILE");
    let cases = [
        (
            "untrusted CA, SASL_SSL",
            env("SHOPSTREAM_KAFKA_SASL_SSL_BOOTSTRAP"),
            scram(
                "admin",
                env_path("SHOPSTREAM_KAFKA_ADMIN_PASSWORD_FILE"),
                untrusted.clone(),
            ),
        ),
        (
            "untrusted CA, mTLS",
            env("SHOPSTREAM_KAFKA_MTLS_BOOTSTRAP"),
            mtls(&env_path("SHOPSTREAM_KAFKA_ADMIN_TLS_DIR"), untrusted),
        ),
    ];
    for (label, bootstrap, security) in cases {
        let capture = connection_failure(label, &bootstrap, &security).await;
        let (failure, error, reason) = capture.failure().expect("failure");
        assert_eq!(failure, SecurityFailure::TlsHandshakeFailed, "[{label}]");
        assert_eq!(error.rdkafka_error_code(), Some(RDKafkaErrorCode::SSL));
        assert!(
            reason.contains("SSL handshake failed") && reason.contains("certificate verify failed"),
            "[{label}] {reason}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_the_broker_does_not_trust_is_refused() {
    let ca = env_path("SHOPSTREAM_KAFKA_CA_FILE");
    let bootstrap = env("SHOPSTREAM_KAFKA_MTLS_BOOTSTRAP");
    let untrusted = mtls(&env_path("SHOPSTREAM_KAFKA_UNTRUSTED_TLS_DIR"), ca.clone());
    let capture = connection_failure(
        "client certificate from an untrusted CA",
        &bootstrap,
        &untrusted,
    )
    .await;
    assert_eq!(
        capture.failure().map(|(f, _, _)| f),
        Some(SecurityFailure::TlsHandshakeFailed)
    );

    let without_certificate = KafkaSecurity {
        tls: Some(Tls { ca_file: Some(ca) }),
        authentication: None,
    };
    let capture =
        connection_failure("no client certificate", &bootstrap, &without_certificate).await;
    assert_eq!(
        capture.failure().map(|(f, _, _)| f),
        Some(SecurityFailure::TlsHandshakeFailed)
    );
}

/// An authenticated user without ACLs may do nothing: no transactional id,
/// no topic, no group.
async fn refused_without_acls(
    listener: &str,
    bootstrap: &str,
    security: &KafkaSecurity,
    secret: Option<&str>,
) {
    let topic = create_topic(&format!("secure-noacl-{listener}"), 1, &[]).await;
    let capture = Arc::new(Capture::default());
    let config = client(bootstrap, security);

    let denied = transactional_producer(&config, &format!("{topic}-txn"), &capture)
        .init_transactions(WAIT)
        .expect_err("no ACL for the transactional id");
    assert_eq!(
        denied.rdkafka_error_code(),
        Some(RDKafkaErrorCode::TransactionalIdAuthorizationFailed),
        "{denied}"
    );
    println!("[{listener}, no ACLs] init_transactions: {denied}");

    let consumer = consumer_in(&config, &format!("{topic}-group"), &topic, &capture);
    let denied = first_consume_error(&consumer).await;
    assert_eq!(
        SecurityFailure::from_error(&denied),
        Some(SecurityFailure::AuthorizationFailed),
        "{denied:?}"
    );
    println!("[{listener}, no ACLs] consume: {denied}");

    let metadata = consumer
        .client()
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .expect("metadata request");
    let error = metadata.topics()[0].error().map(RDKafkaErrorCode::from);
    assert_eq!(error, Some(RDKafkaErrorCode::TopicAuthorizationFailed));

    if let Some(secret) = secret {
        capture.assert_never_logged(secret);
    }
    capture.assert_authenticated();
    delete_topics(&[&topic]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_without_acls_is_refused() {
    let ca = env_path("SHOPSTREAM_KAFKA_CA_FILE");
    let user = integration_tests::kafka::unique("noacl");
    let dir = scram_user(&user).await;
    let password = std::fs::read_to_string(dir.join("password")).expect("password file");
    refused_without_acls(
        "sasl_ssl",
        &env("SHOPSTREAM_KAFKA_SASL_SSL_BOOTSTRAP"),
        &scram(&user, dir.join("password"), ca.clone()),
        Some(&password),
    )
    .await;

    let dir = tls_user(&integration_tests::kafka::unique("noacl-tls")).await;
    refused_without_acls(
        "mtls",
        &env("SHOPSTREAM_KAFKA_MTLS_BOOTSTRAP"),
        &mtls(&dir.0, ca),
        None,
    )
    .await;
}

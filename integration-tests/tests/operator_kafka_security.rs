//! A pipeline on the local broker's secured listeners (hack/kafka/README.md),
//! with the operator binary, the real API server and, for the end-to-end
//! run, the local runner running the real generator and processor:
//!
//! - wrong password, untrusted CA, missing Secret: a clear condition on the
//!   first reconcile, the operator alive, no password in its log;
//! - right credentials over SASL_SSL, for a user holding exactly the ACLs a
//!   pipeline needs (prefixed on its topic, group and transactional-id
//!   names): topics created, the generator and processor running through
//!   Secret volumes, results written, lag in the status, topics deleted by
//!   the deletion policy; and the password in none of the logs;
//! - the operator's own credential (chart `kafka.operatorCredentials`)
//!   takes precedence over the pipeline's for its own requests.
//!
//! Users and ACLs are made with Kafka's own tools over the PLAINTEXT
//! listener (its ANONYMOUS principal is a super user). Nothing is skipped:
//! a missing listener or variable fails the test and names it.

#[path = "operator_support/mod.rs"]
mod support;

use std::time::Duration;

use kube::Api;
use operator::crd::{AnalyticsPipeline, Phase};
use serde_json::json;
use support::secure::{
    RunnerProcess, assert_not_in, create_secret, env, read_file, run_hack, scram_user,
    workload_logs,
};
use support::{OperatorProcess, apply_pipeline, condition, unique, wait_until};

/// Exactly what pipeline `ns/name` needs, on its own names (the README's
/// KafkaUser):
/// - topics prefixed `<ns>.<name>.`: Create, Describe, DescribeConfigs,
///   AlterConfigs, Alter (partitions), Delete (deletion policy) for the
///   operator; Read, Write for the generator and processor;
/// - groups `shopstream.<ns>.<name>` and `…-merge` (the two stages): Read,
///   Describe;
/// - transactional ids prefixed `shopstream.<ns>.<name>-stage1-`: Write,
///   Describe.
fn grant_pipeline_acls(principal: &str, ns: &str, name: &str) {
    let bootstrap = env("SHOPSTREAM_KAFKA_BOOTSTRAP");
    let topics = format!("{ns}.{name}.");
    let group = format!("shopstream.{ns}.{name}");
    let merge_group = format!("{group}-merge");
    let transactional_ids = format!("{group}-stage1-");
    let grants: [(&str, &str, &str, &[&str]); 4] = [
        (
            "--topic",
            &topics,
            "prefixed",
            &[
                "Create",
                "Describe",
                "DescribeConfigs",
                "AlterConfigs",
                "Alter",
                "Delete",
                "Read",
                "Write",
            ],
        ),
        ("--group", &group, "literal", &["Read", "Describe"]),
        ("--group", &merge_group, "literal", &["Read", "Describe"]),
        (
            "--transactional-id",
            &transactional_ids,
            "prefixed",
            &["Write", "Describe"],
        ),
    ];
    for (kind, resource, pattern, operations) in grants {
        let mut args = vec![
            "acls",
            "--bootstrap-server",
            &bootstrap,
            "--add",
            "--allow-principal",
            principal,
            kind,
            resource,
            "--resource-pattern-type",
            pattern,
        ];
        for op in operations {
            args.extend(["--operation", op]);
        }
        run_hack("kafka-cli.sh", &args);
    }
}

/// The secured spec: SASL_SSL, the CA from `ca_secret`, SCRAM-SHA-512 user
/// `username` with the password in `password_secret`.
fn secured_kafka(username: &str, ca_secret: &str, password_secret: &str) -> serde_json::Value {
    json!({
        "bootstrapServers": env("SHOPSTREAM_KAFKA_SASL_SSL_BOOTSTRAP"),
        "tls": {"trustedCertificates": [{"secretName": ca_secret, "certificate": "ca.crt"}]},
        "authentication": {
            "type": "scram-sha-512",
            "username": username,
            "passwordSecret": {"secretName": password_secret, "password": "password"},
        },
    })
}

/// Waits until `Ready` is False with `reason`; returns its message.
async fn wait_ready_reason(
    api: &Api<AnalyticsPipeline>,
    name: &str,
    reason: &str,
    timeout: Duration,
) -> String {
    wait_until(&format!("Ready False/{reason}"), timeout, || async {
        let p = api.get(name).await.map_err(|e| e.to_string())?;
        match condition(&p, "Ready") {
            Some((status, r, message)) if status == "False" && r == reason => Ok(message),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_untrusted_ca_and_missing_secret_are_conditions() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-sec-fail").await;
    let mut operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let user = unique("sec-fail");
    let password = scram_user(&user);
    let wrong = format!("{password}-wrong");
    create_secret(
        &client,
        &ns,
        "cluster-ca-cert",
        &[("ca.crt", &read_file("SHOPSTREAM_KAFKA_CA_FILE"))],
    )
    .await;
    create_secret(
        &client,
        &ns,
        "untrusted-ca-cert",
        &[("ca.crt", &read_file("SHOPSTREAM_KAFKA_UNTRUSTED_CA_FILE"))],
    )
    .await;
    create_secret(
        &client,
        &ns,
        "wrong-user",
        &[("password", wrong.as_bytes())],
    )
    .await;
    create_secret(&client, &ns, "user", &[("password", password.as_bytes())]).await;
    let api: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let name = unique("shop");

    // One reconcile: the operator's first connection is refused, and says so.
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({"kafka": secured_kafka(&user, "cluster-ca-cert", "wrong-user"), "generator": {"enabled": false}}),
    )
    .await;
    let message =
        wait_ready_reason(&api, &name, "AuthenticationFailed", Duration::from_secs(30)).await;
    assert!(
        message.contains(&format!("user {user:?}")) && message.contains("wrong-user"),
        "the message names the user and the Secret: {message}"
    );
    let p = api.get(&name).await.expect("pipeline");
    let topics = condition(&p, "TopicsReady").expect("TopicsReady");
    assert_eq!(
        (topics.0.as_str(), topics.1.as_str()),
        ("False", "AuthenticationFailed")
    );

    // A CA that did not sign the broker's certificate.
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({"kafka": secured_kafka(&user, "untrusted-ca-cert", "user"), "generator": {"enabled": false}}),
    )
    .await;
    let message =
        wait_ready_reason(&api, &name, "TlsHandshakeFailed", Duration::from_secs(30)).await;
    assert!(message.contains("trustedCertificates"), "{message}");

    // A Secret that does not exist (yet): named, retried, never a crash.
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({"kafka": secured_kafka(&user, "cluster-ca-cert", "no-such-user"), "generator": {"enabled": false}}),
    )
    .await;
    let message = wait_ready_reason(
        &api,
        &name,
        "KafkaCredentialsUnavailable",
        Duration::from_secs(30),
    )
    .await;
    assert!(
        message.contains(&format!("Secret {ns}/no-such-user")) && message.contains("not found"),
        "{message}"
    );
    let p = api.get(&name).await.expect("pipeline");
    assert_eq!(p.status.as_ref().and_then(|s| s.phase), Some(Phase::Failed));

    assert!(
        operator.child.try_wait().expect("operator state").is_none(),
        "the operator keeps running:\n{}",
        operator.log(&ns)
    );
    let log = operator.log(&ns);
    assert!(
        log.contains("AuthenticationFailed"),
        "the failure is logged:\n{log}"
    );
    assert_not_in(&log, &password, "the operator log");
    assert_not_in(&log, &wrong, "the operator log");
    let status =
        serde_json::to_string(&api.get(&name).await.expect("pipeline").status).expect("json");
    assert_not_in(&status, &password, "the status");
    let events = support::kubectl(&["get", "events", "-n", &ns, "-o", "json"]);
    assert_not_in(&events, &wrong, "the Events");
    operator.kill();
    support::delete_namespace(&client, &ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_runs_over_sasl_ssl_with_exactly_its_acls() {
    let bins = integration_tests::binaries::dir();
    support::local_cluster_up();
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-sec").await;
    let name = unique("shop");
    let user = unique("sec-run");
    let password = scram_user(&user);
    grant_pipeline_acls(&format!("User:{user}"), &ns, &name);
    create_secret(
        &client,
        &ns,
        "cluster-ca-cert",
        &[("ca.crt", &read_file("SHOPSTREAM_KAFKA_CA_FILE"))],
    )
    .await;
    // A Strimzi KafkaUser's Secret holds more than the password; only the
    // named key is mounted.
    let jaas = format!(
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{user}\" password=\"{password}\";"
    );
    create_secret(
        &client,
        &ns,
        &user,
        &[
            ("password", password.as_bytes()),
            ("sasl.jaas.config", jaas.as_bytes()),
        ],
    )
    .await;

    let mut operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let runner = RunnerProcess::start(&bins, &ns);
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({
            "kafka": secured_kafka(&user, "cluster-ca-cert", &user),
            "topics": {"input": {"partitions": 2}},
            "generator": {"eventsPerSecond": 20},
            "processor": {
                "replicas": 1,
                "salesWindowSeconds": 2,
                "segmentWindowSeconds": 2,
                "hourlyWindowSeconds": 4,
                "allowedLatenessSeconds": 1,
                "idlePartitionTimeoutSeconds": 5,
            },
            "deletionPolicy": "Delete",
        }),
    )
    .await;
    let api: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);

    let diagnostics = |p: &AnalyticsPipeline| {
        let mut text = format!("{:?}\nrunner log:\n{}", p.status, runner.log_text());
        for (file, log) in workload_logs(&ns) {
            let tail: String = log.lines().rev().take(15).collect::<Vec<_>>().join("\n");
            text.push_str(&format!("\n--- {file} (last lines, newest first)\n{tail}"));
        }
        text
    };
    // Topics over SASL_SSL, then results: the generator's events went
    // through the processor's two stages to the output topics.
    wait_until("TopicsReady", Duration::from_secs(60), || async {
        let p = api.get(&name).await.map_err(|e| e.to_string())?;
        match condition(&p, "TopicsReady") {
            Some((s, _, _)) if s == "True" => Ok(()),
            _ => Err(diagnostics(&p)),
        }
    })
    .await;
    let status = wait_until(
        "input and output records/s > 0, lag measured",
        Duration::from_secs(150),
        || async {
            let p = api.get(&name).await.map_err(|e| e.to_string())?;
            let processor = p.status.as_ref().and_then(|s| s.processor.clone());
            match processor {
                Some(s)
                    if s.input_events_per_second.unwrap_or(0.0) > 0.0
                        && s.output_records_per_second.unwrap_or(0.0) > 0.0
                        && s.total_lag.is_some() =>
                {
                    Ok(p)
                }
                _ => Err(diagnostics(&p)),
            }
        },
    )
    .await;
    let processor = status
        .status
        .as_ref()
        .and_then(|s| s.processor.as_ref())
        .expect("processor status");
    assert!(processor.total_lag.is_some());

    // The password reached the pods only as a file: not in a pod template,
    // a ConfigMap or any log.
    let templates = support::kubectl(&[
        "get",
        "statefulsets,deployments,configmaps",
        "-n",
        &ns,
        "-o",
        "yaml",
    ]);
    assert_not_in(&templates, &password, "the workloads or ConfigMaps");
    assert!(
        templates.contains("KAFKA_SASL_PASSWORD_FILE"),
        "the password is a mounted file"
    );
    support::delete_pipeline(
        &api,
        &name,
        "topics deleted over SASL_SSL",
        Duration::from_secs(60),
    )
    .await;

    let operator_log = operator.log(&ns);
    assert_not_in(&operator_log, &password, "the operator log");
    assert_not_in(&runner.log_text(), &password, "the local runner log");
    let logs = workload_logs(&ns);
    assert!(
        logs.len() >= 2,
        "generator and processor logs: {:?}",
        logs.iter().map(|l| &l.0).collect::<Vec<_>>()
    );
    for (file, log) in &logs {
        assert_not_in(log, &password, file);
    }
    operator.kill();
    drop(runner);
    support::delete_namespace(&client, &ns).await;
}

/// The operator's own credential (chart `kafka.operatorCredentials`, here
/// its variables) takes precedence for a secured pipeline: with the
/// pipeline's password wrong, the operator still creates and checks the
/// topics as its own user; with its own password wrong, the condition
/// names the operator's credential, not the pipeline's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_own_credential_takes_precedence() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-sec-own").await;
    create_secret(
        &client,
        &ns,
        "cluster-ca-cert",
        &[("ca.crt", &read_file("SHOPSTREAM_KAFKA_CA_FILE"))],
    )
    .await;
    create_secret(
        &client,
        &ns,
        "wrong-user",
        &[("password", b"not-the-password".as_slice())],
    )
    .await;
    // The operator's user: the broker's SCRAM super user, its password in
    // a file as the chart mounts it.
    let ca_file = env("SHOPSTREAM_KAFKA_CA_FILE");
    let admin_password_file = env("SHOPSTREAM_KAFKA_ADMIN_PASSWORD_FILE");
    let admin_password = String::from_utf8(read_file("SHOPSTREAM_KAFKA_ADMIN_PASSWORD_FILE"))
        .expect("utf-8")
        .trim()
        .to_string();
    let own = |password_file: &str| -> Vec<(&'static str, String)> {
        vec![
            ("OPERATOR_KAFKA_TLS_CA_FILE", ca_file.clone()),
            ("OPERATOR_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512".into()),
            ("OPERATOR_KAFKA_SASL_USERNAME", "admin".into()),
            ("OPERATOR_KAFKA_SASL_PASSWORD_FILE", password_file.into()),
        ]
    };
    let start = |identity: &str, env: &[(&'static str, String)]| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        OperatorProcess::start_with(&ns, identity, &format!("lease-{identity}"), &env)
    };
    let mut operator = start("op-own", &own(&admin_password_file));
    let api: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let name = unique("shop");
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({
            "kafka": secured_kafka("nobody", "cluster-ca-cert", "wrong-user"),
            "generator": {"enabled": false},
        }),
    )
    .await;
    wait_until(
        "TopicsReady True through the operator's own credential",
        Duration::from_secs(60),
        || async {
            let p = api.get(&name).await.map_err(|e| e.to_string())?;
            match condition(&p, "TopicsReady") {
                Some((s, _, _)) if s == "True" => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    let log = operator.log(&ns);
    assert!(log.contains("use its own Kafka credential"), "{log}");
    assert_not_in(&log, &admin_password, "the operator log");
    let topics: Vec<String> = api
        .get(&name)
        .await
        .expect("pipeline")
        .status
        .map(|s| s.topics.into_iter().map(|t| t.name).collect())
        .unwrap_or_default();
    assert!(!topics.is_empty(), "topics in the status");
    operator.kill();

    // Its own password wrong: the condition says whose credential failed.
    let wrong_file = std::env::temp_dir().join(format!("{ns}-operator-password"));
    std::fs::write(&wrong_file, "not-the-admin-password").expect("write");
    let mut operator = start("op-wrong", &own(&wrong_file.display().to_string()));
    let message =
        wait_ready_reason(&api, &name, "AuthenticationFailed", Duration::from_secs(60)).await;
    assert!(
        message.contains("operator's own credential") && message.contains("\"admin\""),
        "names the operator's credential: {message}"
    );
    assert!(!message.contains("wrong-user"), "{message}");
    operator.kill();
    let _ = std::fs::remove_file(&wrong_file);
    support::kafka::delete_topics(&topics).await;
    support::delete_namespace(&client, &ns).await;
}

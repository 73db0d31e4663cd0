//! `spec.kafka.user.create` against the real API server (with Strimzi's
//! own KafkaUser CRD) and the local broker's SASL_SSL listener:
//!
//! - the KafkaUsers the operator's builder renders (SCRAM and TLS) pass a
//!   server-side dry run against Strimzi's schema;
//! - the operator creates the pipeline's KafkaUser, owned by the pipeline,
//!   and reports `KafkaCredentialsUnavailable` until its Secret exists;
//! - playing Strimzi's user operator (a SCRAM user and exactly the
//!   KafkaUser's ACLs, translated rule by rule into `kafka-acls`, and the
//!   user's Secret) and topic operator, the whole pipeline runs over
//!   SASL_SSL with those ACLs alone, lag in the status: the builder's ACL
//!   set is sufficient. The password appears in no log.

#[path = "operator_support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Duration;

use kube::api::{PostParams, ResourceExt};
use kube::{Api, Resource};
use operator::crd::AnalyticsPipeline;
use operator::kafka_security::kafka_user::build_kafka_user;
use operator::model::DefaultImages;
use operator::reconcile::validate::validate;
use serde_json::{Value, json};
use support::secure::{
    RunnerProcess, assert_not_in, create_secret, env, read_file, run_hack, scram_user,
    workload_logs,
};
use support::strimzi::{acl_arguments, kafka_users, play_topic_operator};
use support::{OperatorProcess, apply_pipeline, condition, unique, wait_until};

const CLUSTER: &str = "my-cluster";

fn created_user_kafka(authentication: &str) -> Value {
    json!({
        "bootstrapServers": env("SHOPSTREAM_KAFKA_SASL_SSL_BOOTSTRAP"),
        "strimziCluster": CLUSTER,
        "tls": {"trustedCertificates": [{"secretName": "cluster-ca-cert", "certificate": "ca.crt"}]},
        "user": {"create": true},
        "authentication": {"type": authentication},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendered_kafka_users_pass_strimzis_schema() {
    let client = support::client().await;
    let ns = support::namespace(&client, "op-ku-dry").await;
    let users = kafka_users(&client, &ns);
    for authentication in ["scram-sha-512", "tls"] {
        let pipeline: AnalyticsPipeline = serde_json::from_value(json!({
            "apiVersion": "analytics.shopstream.dev/v1alpha1",
            "kind": "AnalyticsPipeline",
            "metadata": {"name": "shop", "namespace": ns, "uid": "00000000-0000-0000-0000-000000000001"},
            "spec": {"kafka": created_user_kafka(authentication)},
        }))
        .expect("pipeline");
        let v = validate(&pipeline, &DefaultImages::default()).expect("valid");
        let owner = serde_json::to_value(pipeline.controller_owner_ref(&()).expect("owner ref"))
            .expect("json");
        let user = build_kafka_user(&v, &owner).expect("user.create");
        let object: kube::api::DynamicObject = serde_json::from_value(user).expect("object");
        let accepted = users
            .create(
                &PostParams {
                    dry_run: true,
                    ..PostParams::default()
                },
                &object,
            )
            .await
            .unwrap_or_else(|e| {
                panic!("{authentication}: Strimzi's schema refused the KafkaUser: {e}")
            });
        assert_eq!(
            accepted.data["spec"]["authentication"]["type"],
            authentication
        );
    }
    support::delete_namespace(&client, &ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_kafka_user_is_all_a_pipeline_needs() {
    let bins = integration_tests::binaries::dir();
    let up = support::repo_root().join("hack/local/up.sh");
    let output = Command::new(&up)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", up.display()));
    assert!(
        output.status.success(),
        "hack/local/up.sh failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-ku").await;
    // The pipeline's name is the Kafka user's: unique across test runs.
    let name = unique("shop");
    create_secret(
        &client,
        &ns,
        "cluster-ca-cert",
        &[("ca.crt", &read_file("SHOPSTREAM_KAFKA_CA_FILE"))],
    )
    .await;
    let mut operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let runner = RunnerProcess::start(&bins, &ns);
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({
            "kafka": created_user_kafka("scram-sha-512"),
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
        }),
    )
    .await;
    let api: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let users = kafka_users(&client, &ns);

    // The operator's KafkaUser, owned by the pipeline.
    let user = wait_until("the KafkaUser", Duration::from_secs(30), || async {
        users.get(&name).await.map_err(|e| e.to_string())
    })
    .await;
    let uid = api.get(&name).await.expect("pipeline").uid().expect("uid");
    let owner = &user.owner_references()[0];
    assert_eq!(
        (owner.uid.as_str(), owner.controller),
        (uid.as_str(), Some(true))
    );
    assert_eq!(
        user.labels().get("strimzi.io/cluster").map(String::as_str),
        Some(CLUSTER)
    );
    let user_json = serde_json::to_value(&user).expect("json");
    assert_eq!(user_json["spec"]["authentication"]["type"], "scram-sha-512");

    // No Secret yet: said so, and retried.
    let message = wait_until(
        "Ready False/KafkaCredentialsUnavailable",
        Duration::from_secs(30),
        || async {
            let p = api.get(&name).await.map_err(|e| e.to_string())?;
            match condition(&p, "Ready") {
                Some((s, r, m)) if s == "False" && r == "KafkaCredentialsUnavailable" => Ok(m),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert!(message.contains(&format!("KafkaUser {name}")), "{message}");

    // Play the user operator: the SCRAM user and exactly its ACLs.
    let password = scram_user(&name);
    let bootstrap = env("SHOPSTREAM_KAFKA_BOOTSTRAP");
    let principal = format!("User:{name}");
    let rules = acl_arguments(&user_json);
    assert!(
        rules.len() >= 12,
        "topics, groups and transactional ids: {rules:?}"
    );
    for rule in &rules {
        let mut args = vec![
            "acls",
            "--bootstrap-server",
            &bootstrap,
            "--add",
            "--allow-principal",
            &principal,
        ];
        args.extend(rule.iter().map(String::as_str));
        run_hack("kafka-cli.sh", &args);
    }
    let jaas = format!(
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{name}\" password=\"{password}\";"
    );
    create_secret(
        &client,
        &ns,
        &name,
        &[
            ("password", password.as_bytes()),
            ("sasl.jaas.config", jaas.as_bytes()),
        ],
    )
    .await;
    // …and the topic operator.
    let topics = play_topic_operator(&client, &ns, CLUSTER, support::TOPIC_ROLES.len()).await;

    let diagnostics = |p: &AnalyticsPipeline| {
        let mut text = format!("{:?}\nrunner log:\n{}", p.status, runner.log_text());
        for (file, log) in workload_logs(&ns) {
            let tail: String = log.lines().rev().take(15).collect::<Vec<_>>().join("\n");
            text.push_str(&format!("\n--- {file} (last lines, newest first)\n{tail}"));
        }
        text
    };
    wait_until(
        "input and output records/s > 0, lag measured",
        Duration::from_secs(180),
        || async {
            let p = api.get(&name).await.map_err(|e| e.to_string())?;
            let processor = p.status.as_ref().and_then(|s| s.processor.clone());
            match processor {
                Some(s)
                    if s.input_events_per_second.unwrap_or(0.0) > 0.0
                        && s.output_records_per_second.unwrap_or(0.0) > 0.0
                        && s.total_lag.is_some() =>
                {
                    Ok(())
                }
                _ => Err(diagnostics(&p)),
            }
        },
    )
    .await;

    let templates = support::kubectl(&[
        "get",
        "statefulsets,deployments,configmaps,kafkausers",
        "-n",
        &ns,
        "-o",
        "yaml",
    ]);
    assert_not_in(
        &templates,
        &password,
        "the workloads, ConfigMaps or the KafkaUser",
    );
    let operator_log = operator.log(&ns);
    assert!(operator_log.contains("KafkaUser applied"), "{operator_log}");
    assert_not_in(&operator_log, &password, "the operator log");
    assert_not_in(&runner.log_text(), &password, "the local runner log");
    let logs = workload_logs(&ns);
    assert!(logs.len() >= 2, "generator and processor logs");
    for (file, log) in &logs {
        assert_not_in(log, &password, file);
    }
    operator.kill();
    drop(runner);
    support::kafka::delete_topics(&topics).await;
    support::delete_namespace(&client, &ns).await;
}

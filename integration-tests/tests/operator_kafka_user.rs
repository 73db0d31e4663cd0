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
//!   SASL_SSL (a `scram-sha-512` user) and over mutual TLS (a `tls` user,
//!   principal `CN=<pipeline>`) with those ACLs alone, lag in the status,
//!   and the serving component (`spec.serving`) consumes the outputs over
//!   the same listener into the local Redis, its writes measured in the
//!   status: the builder's ACL set is sufficient. The password, or the
//!   private key, appears in no log;
//! - the operator watches the KafkaUser it owns: deleted, it is applied
//!   again at once.

mod redis_env;
#[path = "operator_support/mod.rs"]
mod support;

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

/// SCRAM users connect to the SASL_SSL listener, TLS users to the mTLS one.
fn created_user_kafka(authentication: &str) -> Value {
    let bootstrap = if authentication == "tls" {
        env("SHOPSTREAM_KAFKA_MTLS_BOOTSTRAP")
    } else {
        env("SHOPSTREAM_KAFKA_SASL_SSL_BOOTSTRAP")
    };
    json!({
        "bootstrapServers": bootstrap,
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
async fn a_created_scram_user_is_all_a_pipeline_needs() {
    pipeline_with_created_user("scram-sha-512").await;
}

/// Mutual TLS end to end: the client certificate `CN=<pipeline>` is the
/// principal the created `tls` KafkaUser's ACLs are for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_tls_user_is_all_a_pipeline_needs() {
    pipeline_with_created_user("tls").await;
}

/// Plays Strimzi's user operator for KafkaUser `name`: the credential in
/// the broker and its Secret in `ns`, in Strimzi's layout. Returns the
/// principal and the key material no log may contain.
async fn play_user_operator(
    client: &kube::Client,
    ns: &str,
    name: &str,
    authentication: &str,
) -> (String, String) {
    if authentication == "tls" {
        let dir = std::env::temp_dir().join(format!("shopstream-{name}"));
        run_hack("user.sh", &["tls", name, &dir.display().to_string()]);
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        let (crt, key, ca) = (read("user.crt"), read("user.key"), read("ca.crt"));
        let _ = std::fs::remove_dir_all(&dir);
        create_secret(
            client,
            ns,
            name,
            &[("user.crt", &crt), ("user.key", &key), ("ca.crt", &ca)],
        )
        .await;
        // A line from the middle of the private key's PEM body.
        let key_text = String::from_utf8(key).expect("PEM");
        let lines: Vec<&str> = key_text
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert!(lines.len() >= 2, "a PEM key");
        (
            format!("User:CN={name}"),
            lines[lines.len() / 2].to_string(),
        )
    } else {
        let password = scram_user(name);
        let jaas = format!(
            "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{name}\" password=\"{password}\";"
        );
        create_secret(
            client,
            ns,
            name,
            &[
                ("password", password.as_bytes()),
                ("sasl.jaas.config", jaas.as_bytes()),
            ],
        )
        .await;
        (format!("User:{name}"), password)
    }
}

async fn pipeline_with_created_user(authentication: &str) {
    let bins = integration_tests::binaries::dir();
    support::local_cluster_up();
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
            "kafka": created_user_kafka(authentication),
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
            "serving": {"redis": {"address": redis_env::Instance::Open.addr()}},
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
    assert_eq!(user_json["spec"]["authentication"]["type"], authentication);

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

    // Play the user operator: the credential, its Secret, and exactly the
    // KafkaUser's ACLs for its principal.
    let (principal, key_material) = play_user_operator(&client, &ns, &name, authentication).await;
    let bootstrap = env("SHOPSTREAM_KAFKA_BOOTSTRAP");
    let rules = acl_arguments(&user_json);
    assert!(
        rules.len() >= 12,
        "topics, groups and transactional ids: {rules:?}"
    );
    assert!(
        rules.iter().any(|r| r.join(" ").contains("-serving")),
        "the serving component's group: {rules:?}"
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

    // The serving component, over the same listener with the same user:
    // the operator measures its writes from its group's commits (the
    // consumer committed after Redis acknowledged), and its keys are there.
    wait_until(
        "status.serving with writes/s > 0 and ServingReady True",
        Duration::from_secs(180),
        || async {
            let p = api.get(&name).await.map_err(|e| e.to_string())?;
            let status = p.status.as_ref().ok_or("no status")?;
            let serving = status.serving.as_ref().ok_or("no status.serving")?;
            let ready = condition(&p, "ServingReady");
            match (serving.writes_per_second, &ready) {
                (Some(rate), Some((s, _, _))) if rate > 0.0 && s == "True" => Ok(()),
                _ => Err(format!("{serving:?}; {ready:?}\n{}", diagnostics(&p))),
            }
        },
    )
    .await;
    let prefix = format!("shopstream:{ns}:{name}:");
    let mut redis = redis_env::connect(redis_env::Instance::Open).await;
    let keys: Vec<String> = wait_until(
        "the pipeline's sales and clv keys in Redis",
        Duration::from_secs(60),
        || {
            let mut conn = redis.clone();
            let prefix = prefix.clone();
            async move {
                let keys: Vec<String> = redis::AsyncCommands::keys(&mut conn, format!("{prefix}*"))
                    .await
                    .map_err(|e| e.to_string())?;
                let has = |kind: &str| {
                    keys.iter()
                        .any(|k| k.starts_with(&format!("{prefix}{kind}:")))
                };
                if has("sales") && has("clv") {
                    Ok(keys)
                } else {
                    Err(format!(
                        "{} keys: {:?}",
                        keys.len(),
                        keys.iter().take(10).collect::<Vec<_>>()
                    ))
                }
            }
        },
    )
    .await;
    let () = redis::AsyncCommands::del(&mut redis, keys)
        .await
        .expect("keys deleted");

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
        &key_material,
        "the workloads, ConfigMaps or the KafkaUser",
    );
    let operator_log = operator.log(&ns);
    assert!(operator_log.contains("KafkaUser applied"), "{operator_log}");
    assert_not_in(&operator_log, &key_material, "the operator log");
    assert_not_in(&runner.log_text(), &key_material, "the local runner log");
    let logs = workload_logs(&ns);
    assert!(
        logs.iter().any(|(file, _)| file.contains("-serving-")),
        "the serving log among {:?}",
        logs.iter().map(|(f, _)| f).collect::<Vec<_>>()
    );
    assert!(logs.len() >= 3, "generator, processor and serving logs");
    for (file, log) in &logs {
        assert_not_in(log, &key_material, file);
    }
    operator.kill();

    // The operator watches the KafkaUser it owns: one deleted behind its
    // back is applied again at once, not at the next periodic reconcile
    // (10 minutes for this operator, started with the user in place).
    let mut operator = OperatorProcess::start_with(
        &ns,
        "op-2",
        "shopstream-operator-2",
        &[("STATUS_INTERVAL", "10m")],
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    let before = users.get(&name).await.expect("the KafkaUser").uid();
    users
        .delete(&name, &Default::default())
        .await
        .expect("KafkaUser deleted");
    wait_until(
        "the deleted KafkaUser applied again",
        Duration::from_secs(30),
        || async {
            match users.get_opt(&name).await.map_err(|e| e.to_string())? {
                Some(user) if user.uid() != before => Ok(()),
                other => Err(format!("{:?}", other.map(|u| u.uid()))),
            }
        },
    )
    .await;
    operator.kill();
    drop(runner);
    support::kafka::delete_topics(&topics).await;
    support::delete_namespace(&client, &ns).await;
}

/// A KafkaUser of the pipeline's name that someone else made is never
/// taken over; the pipeline's own is removed when `create` is turned off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_users_are_not_taken_over_and_owned_ones_follow_create() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-ku-own").await;
    let mut operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let name = unique("shop");
    let users = kafka_users(&client, &ns);
    let foreign: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaUser",
        "metadata": {"name": name, "labels": {"strimzi.io/cluster": CLUSTER}},
        "spec": {"authentication": {"type": "scram-sha-512"}},
    }))
    .expect("object");
    users
        .create(&PostParams::default(), &foreign)
        .await
        .expect("someone else's KafkaUser");
    let generator_off = |kafka: Value| json!({"kafka": kafka, "generator": {"enabled": false}});
    apply_pipeline(
        &client,
        &ns,
        &name,
        generator_off(created_user_kafka("scram-sha-512")),
    )
    .await;
    let api: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let message = wait_until("Ready False/Conflict", Duration::from_secs(30), || async {
        let p = api.get(&name).await.map_err(|e| e.to_string())?;
        match condition(&p, "Ready") {
            Some((s, r, m)) if s == "False" && r == "Conflict" => Ok(m),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(
        message.contains(&format!("KafkaUser {ns}/{name}")),
        "{message}"
    );
    let untouched = users.get(&name).await.expect("still there");
    assert!(untouched.owner_references().is_empty(), "not taken over");
    assert!(
        untouched.data["spec"].get("authorization").is_none(),
        "spec untouched"
    );

    // Gone: the pipeline creates its own.
    users
        .delete(&name, &Default::default())
        .await
        .expect("delete the foreign user");
    let uid = api.get(&name).await.expect("pipeline").uid().expect("uid");
    wait_until(
        "the pipeline's own KafkaUser",
        Duration::from_secs(60),
        || async {
            let user = users.get(&name).await.map_err(|e| e.to_string())?;
            match user.owner_references().first() {
                Some(o) if o.uid == uid => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;

    // create off (a user managed elsewhere): the owned KafkaUser goes.
    let mut kafka = created_user_kafka("scram-sha-512");
    kafka["user"] = json!({"create": false});
    kafka["authentication"] = json!({
        "type": "scram-sha-512",
        "username": "someone",
        "passwordSecret": {"secretName": "someone", "password": "password"},
    });
    apply_pipeline(&client, &ns, &name, generator_off(kafka)).await;
    wait_until(
        "the owned KafkaUser deleted",
        Duration::from_secs(60),
        || async {
            match users.get_opt(&name).await.map_err(|e| e.to_string())? {
                None => Ok(()),
                Some(_) => Err("still there".to_string()),
            }
        },
    )
    .await;
    operator.kill();
    support::delete_namespace(&client, &ns).await;
}

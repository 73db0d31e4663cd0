//! The contract between the operator and the workloads it runs: every
//! environment variable the operator gives the processor's and the
//! generator's containers (ConfigMap keys, literal values, the pod's name)
//! must be read by that binary's own argument parser, and what it holds must
//! parse. A flag renamed on one side only fails here, in a plain
//! `cargo test`, instead of in an end-to-end run. The keys themselves are the
//! constants of `shopstream_common::contract`, used on both sides.

use std::collections::BTreeMap;

use clap::{Command, CommandFactory, Parser};
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodTemplateSpec};
use operator::crd::AnalyticsPipeline;
use operator::model::{DefaultImages, TopicRole, ValidatedPipeline};
use operator::reconcile::validate::validate;
use operator::workloads::{
    build_config_map, build_generator_deployment, build_processor_statefulset,
    build_serving_deployment,
};
use shopstream_common::contract::shared;

/// Every optional feature on: generator enabled with a schema, every
/// processor setting the CRD has, explicit topic names.
const FULL: &str = "
apiVersion: analytics.shopstream.dev/v1alpha1
kind: AnalyticsPipeline
metadata: {name: shop, namespace: analytics}
spec:
  kafka: {bootstrapServers: 'kafka-0.kafka:9092,kafka-1.kafka:9092'}
  topics:
    input: {name: purchases, partitions: 6}
    topProducts: {name: top-products-v2}
  generator: {eventsPerSecond: 7, replicas: 2, schema: original}
  processor:
    replicas: 3
    salesWindowSeconds: 30
    segmentWindowSeconds: 90
    hourlyWindowSeconds: 1800
    allowedLatenessSeconds: 20
    anomalyThreshold: 12345.5
    idlePartitionTimeoutSeconds: 45
    maxEventTimeSkewSeconds: 600
    resources: {limits: {memory: 512Mi}}
  serving:
    redis: {address: 'redis.cache:6379', passwordSecret: {name: shop-redis}}
    ttl: {aggregatesSeconds: 900, clvSeconds: 300}
    clv: {model: original-rules}
";

/// Set in the pods for people (`kubectl exec … env`, logs), read by no flag.
const NOT_FLAGS: [&str; 1] = [shared::POD_NAME];

fn validated() -> ValidatedPipeline {
    let pipeline: AnalyticsPipeline = serde_yaml::from_str(FULL).expect("pipeline parses");
    validate(&pipeline, &DefaultImages::default()).expect("valid pipeline")
}

/// The container's environment as the kubelet resolves it: literals,
/// ConfigMap keys (which must exist), the pod's name.
fn resolve(container: &Container, config_map: &ConfigMap) -> BTreeMap<String, String> {
    let data = config_map.data.clone().unwrap_or_default();
    let mut env = BTreeMap::new();
    for var in container.env.iter().flatten() {
        let value = match (&var.value, &var.value_from) {
            (Some(value), _) => value.clone(),
            (None, Some(from)) => {
                if let Some(key) = &from.config_map_key_ref {
                    data.get(&key.key).cloned().unwrap_or_else(|| {
                        panic!(
                            "{} refers to ConfigMap key {} that the operator does not write",
                            var.name, key.key
                        )
                    })
                } else if from.field_ref.is_some() {
                    "shop-pod-0".to_string()
                } else if from.secret_key_ref.is_some() {
                    "secret-from-the-secret".to_string()
                } else {
                    panic!("{}: a source this test does not resolve", var.name)
                }
            }
            (None, None) => String::new(),
        };
        env.insert(var.name.clone(), value);
    }
    env
}

fn container(template: &PodTemplateSpec) -> &Container {
    &template.spec.as_ref().expect("pod spec").containers[0]
}

/// Turns the environment into the flags the binary's parser maps each
/// variable to, failing for a variable no flag reads.
fn argv(command: &Command, env: &BTreeMap<String, String>) -> Vec<String> {
    let mut argv = vec![command.get_name().to_string()];
    for (name, value) in env {
        if NOT_FLAGS.contains(&name.as_str()) {
            continue;
        }
        let arg = command
            .get_arguments()
            .find(|a| a.get_env().is_some_and(|e| e == name.as_str()))
            .unwrap_or_else(|| {
                panic!(
                    "the operator sets {name} in the {} container, but no flag of `{}` reads it",
                    command.get_name(),
                    command.get_name()
                )
            });
        let long = arg
            .get_long()
            .expect("every env-backed flag has a long name");
        argv.push(format!("--{long}={value}"));
    }
    argv
}

#[test]
fn every_processor_variable_is_a_processor_flag() {
    let p = validated();
    let config_map = build_config_map(&p);
    let data = config_map.data.clone().unwrap_or_default();
    let workload = build_processor_statefulset(&p, &data);
    let template = &workload.spec.as_ref().expect("spec").template;
    let env = resolve(container(template), &config_map);

    let command = shopstream_processor::analytics::Args::command();
    let argv = argv(&command, &env);
    let args = shopstream_processor::analytics::Args::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("the processor refuses what the operator sets: {e}\n{argv:?}"));
    assert_eq!(args.bootstrap_servers, p.bootstrap_servers);
    assert_eq!(args.group_id, p.consumer_group);
    assert_eq!(args.input_topic, "purchases");
    assert_eq!(args.top_products_topic, "top-products-v2");
    assert_eq!(args.partials_topic, p.topic_name(TopicRole::Partials));
    assert_eq!(args.dead_letter_topic, p.topic_name(TopicRole::DeadLetter));
    assert_eq!(
        (
            args.sales_window_seconds,
            args.segment_window_seconds,
            args.hourly_window_seconds
        ),
        (30, 90, 1800)
    );
    assert_eq!(args.allowed_lateness_seconds, 20);
    assert_eq!(args.anomaly_threshold, 12345.5);
    assert_eq!(args.idle_partition_timeout_seconds, 45);
    assert_eq!(args.max_event_time_skew_seconds, 600);
    assert_eq!(
        args.replica_id.as_deref(),
        Some("shop-pod-0"),
        "the pod's name"
    );
    assert_eq!(args.metrics_addr.port(), 9090);
    assert_eq!(args.log_format, shopstream_common::logging::LogFormat::Json);
}

#[test]
fn every_generator_variable_is_a_generator_flag() {
    let p = validated();
    let config_map = build_config_map(&p);
    let data = config_map.data.clone().unwrap_or_default();
    let workload = build_generator_deployment(&p, &data).expect("generator enabled");
    let template = &workload.spec.as_ref().expect("spec").template;
    let env = resolve(container(template), &config_map);

    let command = shopstream_generator::Args::command();
    let argv = argv(&command, &env);
    let args = shopstream_generator::Args::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("the generator refuses what the operator sets: {e}\n{argv:?}"));
    assert_eq!(args.bootstrap_servers, p.bootstrap_servers);
    assert_eq!(args.topic, "purchases");
    assert_eq!(
        args.events_per_second, 3.5,
        "the rate is split between replicas"
    );
    assert_eq!(args.schema, shopstream_generator::config::Schema::Original);
    assert_eq!(args.metrics_addr.port(), 9090);
    assert_eq!(args.log_format, shopstream_common::logging::LogFormat::Json);
    args.check().expect("a combination the generator runs");
}

#[test]
fn every_serving_variable_is_a_serving_flag() {
    let p = validated();
    let config_map = build_config_map(&p);
    let data = config_map.data.clone().unwrap_or_default();
    let workload = build_serving_deployment(&p, &data).expect("serving enabled");
    let template = &workload.spec.as_ref().expect("spec").template;
    let env = resolve(container(template), &config_map);

    let command = shopstream_serving::service::Args::command();
    let argv = argv(&command, &env);
    let args = shopstream_serving::service::Args::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("serving refuses what the operator sets: {e}"));
    assert_eq!(args.bootstrap_servers, p.bootstrap_servers);
    assert_eq!(args.group_id, format!("{}-serving", p.consumer_group));
    assert_eq!(args.processor_group_id, p.consumer_group);
    assert_eq!(args.input_topic, "purchases");
    assert_eq!(args.top_products_topic, "top-products-v2");
    assert_eq!(args.sales_topic, p.topic_name(TopicRole::Sales));
    assert_eq!(args.redis_address, "redis.cache:6379");
    assert_eq!(
        args.redis_password.as_deref(),
        Some("secret-from-the-secret")
    );
    assert_eq!(
        (args.aggregates_ttl_seconds, args.clv_ttl_seconds),
        (900, 300)
    );
    assert_eq!(
        args.clv_model,
        shopstream_serving::service::config::ClvModel::OriginalRules
    );
    assert_eq!(
        args.user_history_topic.as_deref(),
        Some(p.topic_name(TopicRole::UserHistory))
    );
    assert_eq!(
        args.keys(),
        shopstream_serving::keys::KeySpace::for_pipeline("analytics", "shop")
    );
    assert_eq!(args.http_addr.port(), 9090);
    assert_eq!(args.log_format, shopstream_common::logging::LogFormat::Json);
}

/// On a secured cluster the serving container gets the same path variables
/// as the processor (the pipeline's Secrets, mounted), and `serving` reads
/// every one of them: its consumer authenticates as the pipeline.
#[test]
fn every_secured_serving_variable_is_a_serving_flag() {
    let yaml = FULL.replace(
        "  kafka: {bootstrapServers: 'kafka-0.kafka:9092,kafka-1.kafka:9092'}\n",
        "  kafka:
    bootstrapServers: 'kafka-0.kafka:9093'
    tls: {trustedCertificates: [{secretName: c-cluster-ca-cert, certificate: ca.crt}]}
    authentication: {type: scram-sha-512, username: shop, passwordSecret: {secretName: shop, password: password}}
",
    );
    let pipeline: AnalyticsPipeline = serde_yaml::from_str(&yaml).expect("pipeline parses");
    let p = validate(&pipeline, &DefaultImages::default()).expect("valid pipeline");
    let config_map = build_config_map(&p);
    let data = config_map.data.clone().unwrap_or_default();
    let workload = build_serving_deployment(&p, &data).expect("serving enabled");
    let template = &workload.spec.as_ref().expect("spec").template;
    let env = resolve(container(template), &config_map);
    assert!(
        env.contains_key(shared::KAFKA_SASL_PASSWORD_FILE),
        "{env:?}"
    );

    let command = shopstream_serving::service::Args::command();
    let argv = argv(&command, &env);
    let args = shopstream_serving::service::Args::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("serving refuses what the operator sets: {e}"));
    let security = args.kafka_security.security();
    assert_eq!(security.security_protocol(), "sasl_ssl");
    assert_eq!(args.kafka_security.sasl_username.as_deref(), Some("shop"));
    assert_eq!(
        args.kafka_security.sasl_password_file,
        Some("/etc/shopstream/kafka/user/password".into())
    );
    assert_eq!(
        args.kafka_security.tls_ca_file,
        Some("/etc/shopstream/kafka/ca/ca.crt".into())
    );
}

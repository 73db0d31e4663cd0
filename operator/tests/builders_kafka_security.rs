//! The workloads of a pipeline on a secured Kafka cluster against YAML
//! fixtures: Secret volumes with only the named keys, read-only mounts,
//! file paths in the environment, and nothing secret in the ConfigMap.
//! Regenerate after an intended change with
//! `UPDATE_FIXTURES=1 cargo test -p operator --test builders_kafka_security`.

mod builders_support;

use builders_support::{assert_matches_fixture, validated};
use operator::model::ValidatedPipeline;
use operator::workloads::{
    build_config_map, build_generator_deployment, build_processor_statefulset,
    build_serving_deployment,
};

const SCRAM: &str = "
apiVersion: analytics.shopstream.dev/v1alpha1
kind: AnalyticsPipeline
metadata: {name: shop, namespace: analytics}
spec:
  kafka:
    bootstrapServers: 'my-cluster-kafka-bootstrap.kafka:9093'
    tls:
      trustedCertificates:
      - {secretName: my-cluster-cluster-ca-cert, certificate: ca.crt}
    authentication:
      type: scram-sha-512
      username: shop
      passwordSecret: {secretName: shop, password: password}
";

const MTLS: &str = "
apiVersion: analytics.shopstream.dev/v1alpha1
kind: AnalyticsPipeline
metadata: {name: shop, namespace: analytics}
spec:
  kafka:
    bootstrapServers: 'my-cluster-kafka-bootstrap.kafka:9093'
    tls:
      trustedCertificates:
      - {secretName: my-cluster-cluster-ca-cert, certificate: ca.crt}
    authentication:
      type: tls
      certificateAndKey: {secretName: shop, certificate: user.crt, key: user.key}
";

#[test]
fn scram_processor_statefulset_matches_fixture() {
    let p = validated(SCRAM);
    let config = build_config_map(&p).data.unwrap_or_default();
    assert_matches_fixture(
        "processor-statefulset-scram.yaml",
        &build_processor_statefulset(&p, &config),
    );
}

/// The serving component authenticates as the pipeline, exactly as the
/// processor does: the same Secret volumes, mounts and path variables.
#[test]
fn scram_serving_deployment_matches_fixture() {
    let p = validated(&with_serving(SCRAM));
    let config = build_config_map(&p).data.unwrap_or_default();
    assert_matches_fixture(
        "serving-deployment-scram.yaml",
        &build_serving_deployment(&p, &config).expect("serving enabled"),
    );
}

fn with_serving(yaml: &str) -> String {
    format!("{yaml}  serving: {{redis: {{address: 'redis.cache:6379'}}}}\n")
}

#[test]
fn mtls_generator_deployment_matches_fixture() {
    let p = validated(MTLS);
    let config = build_config_map(&p).data.unwrap_or_default();
    assert_matches_fixture(
        "generator-deployment-mtls.yaml",
        &build_generator_deployment(&p, &config).expect("generator enabled"),
    );
}

/// The ConfigMap is the same as a plaintext pipeline's but for the bootstrap
/// servers: no Secret name, key or value reaches it.
#[test]
fn config_map_holds_no_credentials() {
    for yaml in [SCRAM, MTLS] {
        let secured = build_config_map(&validated(yaml));
        let plain_yaml = yaml.split("    tls:").next().expect("prefix").to_string();
        let plain = build_config_map(&validated(&plain_yaml));
        assert_eq!(secured, plain);
        let text = serde_yaml::to_string(&secured).expect("serializes");
        for word in ["password", "user.key", "ca.crt", "cluster-ca-cert"] {
            assert!(!text.contains(word), "{word} in the ConfigMap:\n{text}");
        }
    }
}

/// Once the reconcile has read the Secrets, their revision is in every pod
/// template: a rotated password or renewed certificate rolls the pods,
/// which read their files only at start. Without it (plaintext, or before
/// the read) the templates are unchanged.
#[test]
fn a_secret_revision_rolls_every_workload() {
    use operator::workloads::KAFKA_SECRETS_ANNOTATION;
    let annotation = |p: &ValidatedPipeline| {
        let config = build_config_map(p).data.unwrap_or_default();
        let generator = build_generator_deployment(p, &config).expect("generator enabled");
        let processor = build_processor_statefulset(p, &config);
        let serving = build_serving_deployment(p, &config).expect("serving enabled");
        [
            generator
                .spec
                .and_then(|s| s.template.metadata)
                .and_then(|m| m.annotations),
            processor
                .spec
                .and_then(|s| s.template.metadata)
                .and_then(|m| m.annotations),
            serving
                .spec
                .and_then(|s| s.template.metadata)
                .and_then(|m| m.annotations),
        ]
        .map(|a| a.and_then(|a| a.get(KAFKA_SECRETS_ANNOTATION).cloned()))
    };
    let mut p = validated(&with_serving(SCRAM));
    assert_eq!(annotation(&p), [None, None, None]);
    p.kafka_secrets_revision = Some("0123456789abcdef".into());
    assert_eq!(
        annotation(&p),
        std::array::from_fn::<_, 3, _>(|_| Some("0123456789abcdef".to_string()))
    );
}

//! The pure object builders against YAML fixtures. A change in what the
//! operator writes shows up as a fixture diff in review. Regenerate after an
//! intended change with `UPDATE_FIXTURES=1 cargo test -p operator --test builders`.

mod builders_support;

use builders_support::{assert_matches_fixture, validated};
use operator::crd::AnalyticsPipeline;
use operator::model::ValidatedPipeline;
use operator::workloads::{
    build_config_map, build_generator_deployment, build_metrics_service,
    build_processor_statefulset, build_serving_deployment, build_serving_service,
};

const EXAMPLE: &str = "
apiVersion: analytics.shopstream.dev/v1alpha1
kind: AnalyticsPipeline
metadata: {name: shop, namespace: analytics}
spec:
  kafka: {bootstrapServers: 'kafka-bootstrap.kafka:9092'}
  generator: {eventsPerSecond: 10, replicas: 2}
  processor:
    replicas: 3
    resources:
      requests: {cpu: 250m, memory: 128Mi}
      limits: {memory: 512Mi}
";

#[test]
fn config_map_matches_fixture() {
    assert_matches_fixture("configmap.yaml", &build_config_map(&validated(EXAMPLE)));
}

#[test]
fn processor_statefulset_matches_fixture() {
    let p = validated(EXAMPLE);
    let config = build_config_map(&p).data.unwrap_or_default();
    assert_matches_fixture(
        "processor-statefulset.yaml",
        &build_processor_statefulset(&p, &config),
    );
}

/// Each processor pod carries its own stable name as its replica id, so a
/// replaced pod reuses its predecessor's transactional id.
#[test]
fn processor_replicas_have_stable_identities() {
    let p = validated(EXAMPLE);
    let config = build_config_map(&p).data.unwrap_or_default();
    let sts = build_processor_statefulset(&p, &config);
    let spec = sts.spec.expect("spec");
    assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
    let container = &spec.template.spec.expect("pod spec").containers[0];
    let replica_id = container
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "PROCESSOR_REPLICA_ID")
        .expect("PROCESSOR_REPLICA_ID is set");
    let field = replica_id
        .value_from
        .as_ref()
        .and_then(|v| v.field_ref.as_ref())
        .map(|f| f.field_path.as_str());
    assert_eq!(field, Some("metadata.name"));
}

#[test]
fn generator_deployment_matches_fixture() {
    let p = validated(EXAMPLE);
    let config = build_config_map(&p).data.unwrap_or_default();
    let generator = build_generator_deployment(&p, &config).expect("generator enabled");
    assert_matches_fixture("generator-deployment.yaml", &generator);
}

/// `spec.generator.schema` reaches the generator as GENERATOR_SCHEMA, and
/// a change of it rolls the generator only.
#[test]
fn generator_schema_is_configured_and_rolls_the_generator() {
    let base = validated(EXAMPLE);
    let original = validated(&EXAMPLE.replace("replicas: 2}", "replicas: 2, schema: original}"));
    let base_config = build_config_map(&base).data.unwrap_or_default();
    let config = build_config_map(&original).data.unwrap_or_default();
    assert_eq!(base_config["GENERATOR_SCHEMA"], "shopstream");
    assert_eq!(config["GENERATOR_SCHEMA"], "original");
    let generator = |p, c| build_generator_deployment(p, c).expect("enabled");
    assert_ne!(
        generator(&base, &base_config).spec,
        generator(&original, &config).spec
    );
    assert_eq!(
        build_processor_statefulset(&base, &base_config).spec,
        build_processor_statefulset(&original, &config).spec
    );
    let bad: Result<AnalyticsPipeline, _> =
        serde_yaml::from_str(&EXAMPLE.replace("replicas: 2}", "replicas: 2, schema: spark}"));
    assert!(bad.is_err(), "unknown schemas are rejected");
}

#[test]
fn metrics_service_matches_fixture() {
    assert_matches_fixture(
        "metrics-service.yaml",
        &build_metrics_service(&validated(EXAMPLE)),
    );
}

/// A change to processor settings rolls the processor only; a change to the
/// generator rate rolls the generator only.
#[test]
fn a_spec_change_rolls_exactly_what_it_affects() {
    let of_template = |t: Option<&k8s_openapi::api::core::v1::PodTemplateSpec>| {
        t.and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get("analytics.shopstream.dev/config-hash"))
            .cloned()
            .expect("config hash annotation")
    };
    let hash = |d: &k8s_openapi::api::apps::v1::Deployment| {
        of_template(d.spec.as_ref().map(|s| &s.template))
    };
    let processor_hash = |p: &ValidatedPipeline, config| {
        let sts = build_processor_statefulset(p, config);
        of_template(sts.spec.as_ref().map(|s| &s.template))
    };
    let base = validated(EXAMPLE);
    let base_config = build_config_map(&base).data.unwrap_or_default();

    let faster = validated(&EXAMPLE.replace("eventsPerSecond: 10", "eventsPerSecond: 20"));
    let faster_config = build_config_map(&faster).data.unwrap_or_default();
    assert_eq!(
        processor_hash(&base, &base_config),
        processor_hash(&faster, &faster_config)
    );
    assert_ne!(
        hash(&build_generator_deployment(&base, &base_config).expect("enabled")),
        hash(&build_generator_deployment(&faster, &faster_config).expect("enabled"))
    );

    let threshold =
        validated(&EXAMPLE.replace("replicas: 3", "replicas: 3\n    anomalyThreshold: 90000"));
    let threshold_config = build_config_map(&threshold).data.unwrap_or_default();
    assert_ne!(
        processor_hash(&base, &base_config),
        processor_hash(&threshold, &threshold_config)
    );
    assert_eq!(
        hash(&build_generator_deployment(&base, &base_config).expect("enabled")),
        hash(&build_generator_deployment(&threshold, &threshold_config).expect("enabled"))
    );
}

const WITH_SERVING: &str = "
apiVersion: analytics.shopstream.dev/v1alpha1
kind: AnalyticsPipeline
metadata: {name: shop, namespace: analytics}
spec:
  kafka: {bootstrapServers: 'kafka-bootstrap.kafka:9092'}
  serving:
    redis:
      address: 'redis.cache:6379'
      passwordSecret: {name: shop-redis}
    ttl: {aggregatesSeconds: 3600}
";

#[test]
fn serving_deployment_and_service_match_fixtures() {
    let p = validated(WITH_SERVING);
    let config = build_config_map(&p).data.unwrap_or_default();
    let deployment = build_serving_deployment(&p, &config).expect("serving is enabled");
    assert_matches_fixture("serving-deployment.yaml", &deployment);
    let service = build_serving_service(&p).expect("serving is enabled");
    assert_matches_fixture("serving-service.yaml", &service);
    // The password comes from the Secret; the operator never sees it.
    let yaml = serde_yaml::to_string(&deployment).unwrap();
    assert!(yaml.contains("secretKeyRef"), "{yaml}");
}

#[test]
fn serving_is_off_unless_enabled() {
    let p = validated(EXAMPLE);
    let config = build_config_map(&p).data.unwrap_or_default();
    assert!(build_serving_deployment(&p, &config).is_none());
    assert!(build_serving_service(&p).is_none());
    let disabled = WITH_SERVING.replace("  serving:\n", "  serving:\n    enabled: false\n");
    assert!(build_serving_service(&validated(&disabled)).is_none());
}

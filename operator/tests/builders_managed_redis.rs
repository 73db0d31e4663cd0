//! The managed Redis (`spec.serving.redis.managed: true`) against YAML
//! fixtures: its StatefulSet and headless Service, and the serving
//! Deployment that writes to it. Regenerate after an intended change with
//! `UPDATE_FIXTURES=1 cargo test -p operator --test builders_managed_redis`.

mod builders_support;

use builders_support::{assert_matches_fixture, validated};
use k8s_openapi::api::core::v1::Container;
use operator::model::ValidatedPipeline;
use operator::workloads::{
    build_config_map, build_managed_redis_service, build_managed_redis_statefulset,
    build_serving_deployment,
};

const MANAGED: &str = "
apiVersion: analytics.shopstream.dev/v1alpha1
kind: AnalyticsPipeline
metadata: {name: shop, namespace: analytics}
spec:
  kafka: {bootstrapServers: 'kafka-bootstrap.kafka:9092'}
  deletionPolicy: Delete
  serving:
    redis:
      managed: true
      passwordSecret: {name: shop-redis}
      storage: {size: 2Gi, storageClassName: fast-ssd}
";

fn redis_container(p: &ValidatedPipeline) -> Container {
    build_managed_redis_statefulset(p)
        .and_then(|s| s.spec)
        .and_then(|s| s.template.spec)
        .map(|s| s.containers[0].clone())
        .expect("a redis container")
}

#[test]
fn managed_redis_matches_fixtures() {
    let p = validated(MANAGED);
    let statefulset = build_managed_redis_statefulset(&p).expect("managed");
    assert_matches_fixture("managed-redis-statefulset.yaml", &statefulset);
    let service = build_managed_redis_service(&p).expect("managed");
    assert_matches_fixture("managed-redis-service.yaml", &service);
    let config = build_config_map(&p).data.unwrap_or_default();
    let serving = build_serving_deployment(&p, &config).expect("serving");
    assert_matches_fixture("serving-deployment-managed-redis.yaml", &serving);
}

#[test]
fn serving_writes_to_the_managed_service() {
    let p = validated(MANAGED);
    let config = build_config_map(&p).data.unwrap_or_default();
    let serving = build_serving_deployment(&p, &config).expect("serving");
    let yaml = serde_yaml::to_string(&serving).expect("serializes");
    assert!(
        yaml.contains("value: shop-redis.analytics.svc:6379"),
        "{yaml}"
    );
}

#[test]
fn the_password_is_a_reference_never_a_value() {
    let p = validated(MANAGED);
    let c = redis_container(&p);
    let args = c.args.expect("args");
    let at = args
        .iter()
        .position(|a| a == "--requirepass")
        .expect("requirepass with a password Secret");
    assert_eq!(args[at + 1], "$(REDIS_PASSWORD)");
    let env = c.env.expect("env");
    let password = env
        .iter()
        .find(|e| e.name == "REDIS_PASSWORD")
        .expect("REDIS_PASSWORD");
    assert!(password.value.is_none());
    let secret = password
        .value_from
        .as_ref()
        .and_then(|v| v.secret_key_ref.as_ref())
        .expect("from the Secret");
    assert_eq!(
        (secret.name.as_str(), secret.key.as_str()),
        ("shop-redis", "password")
    );

    // Without a Secret there is nothing to require.
    let open = validated(&MANAGED.replace("      passwordSecret: {name: shop-redis}\n", ""));
    let c = redis_container(&open);
    assert!(!c.args.expect("args").contains(&"--requirepass".to_string()));
    assert!(c.env.is_none());
}

#[test]
fn durable_non_root_and_read_only() {
    let p = validated(MANAGED);
    let statefulset = build_managed_redis_statefulset(&p).expect("managed");
    let spec = statefulset.spec.expect("spec");
    assert_eq!(spec.replicas, Some(1));
    let retention = spec
        .persistent_volume_claim_retention_policy
        .expect("retention");
    assert_eq!(retention.when_deleted.as_deref(), Some("Delete"));
    let c = redis_container(&p);
    let args = c.args.expect("args").join(" ");
    assert!(args.contains("--appendonly yes"), "{args}");
    assert!(args.contains("--dir /data"), "{args}");
    let security = c.security_context.expect("security context");
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.run_as_non_root, Some(true));

    // deletionPolicy Retain (the default) keeps the data.
    let retained = validated(&MANAGED.replace("  deletionPolicy: Delete\n", ""));
    let policy = build_managed_redis_statefulset(&retained)
        .and_then(|s| s.spec)
        .and_then(|s| s.persistent_volume_claim_retention_policy)
        .expect("retention");
    assert_eq!(policy.when_deleted.as_deref(), Some("Retain"));
}

#[test]
fn no_managed_redis_with_an_address_or_without_serving() {
    let existing = validated(
        &MANAGED
            .replace(
                "      managed: true\n",
                "      address: 'redis.cache:6379'\n",
            )
            .replace(
                "      storage: {size: 2Gi, storageClassName: fast-ssd}\n",
                "",
            ),
    );
    assert!(build_managed_redis_statefulset(&existing).is_none());
    assert!(build_managed_redis_service(&existing).is_none());
    let disabled = validated(&MANAGED.replace("  serving:\n", "  serving:\n    enabled: false\n"));
    assert!(build_managed_redis_statefulset(&disabled).is_none());
    assert!(build_managed_redis_service(&disabled).is_none());
}

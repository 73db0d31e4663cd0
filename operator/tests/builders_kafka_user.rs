//! The Strimzi `KafkaUser` of `spec.kafka.user.create` against a YAML
//! fixture, and the README's KafkaUser, which must be what the builder
//! renders (so the documented ACLs cannot drift from the operator's).
//! Regenerate both after an intended change with
//! `UPDATE_FIXTURES=1 cargo test -p operator --test builders_kafka_user`.

use std::path::PathBuf;

use operator::crd::AnalyticsPipeline;
use operator::kafka_security::kafka_user::{build_kafka_user, pipeline_acls};
use operator::model::{DefaultImages, ValidatedPipeline};
use operator::reconcile::validate::validate;
use operator::workloads::{build_config_map, build_processor_statefulset};
use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn update() -> bool {
    std::env::var_os("UPDATE_FIXTURES").is_some()
}

fn validated(yaml: &str) -> ValidatedPipeline {
    let pipeline: AnalyticsPipeline = serde_yaml::from_str(yaml).expect("pipeline parses");
    validate(&pipeline, &DefaultImages::default()).expect("valid pipeline")
}

fn owner() -> Value {
    json!({
        "apiVersion": "analytics.shopstream.dev/v1alpha1",
        "kind": "AnalyticsPipeline",
        "name": "shop",
        "uid": "00000000-0000-0000-0000-000000000001",
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// The README's example pipeline.
const CREATED_SCRAM: &str = "
apiVersion: analytics.shopstream.dev/v1alpha1
kind: AnalyticsPipeline
metadata: {name: shop, namespace: analytics}
spec:
  kafka:
    bootstrapServers: 'my-cluster-kafka-bootstrap.analytics:9093'
    strimziCluster: my-cluster
    tls:
      trustedCertificates:
      - {secretName: my-cluster-cluster-ca-cert, certificate: ca.crt}
    user: {create: true}
    authentication: {type: scram-sha-512}
";

/// The README's pipeline with the serving component.
fn created_scram_serving() -> String {
    format!("{CREATED_SCRAM}  serving: {{redis: {{address: 'redis.cache:6379'}}}}\n")
}

#[test]
fn kafka_user_matches_fixture() {
    assert_user_matches_fixture(CREATED_SCRAM, "kafka-user-scram.yaml");
}

#[test]
fn kafka_user_with_serving_matches_fixture() {
    assert_user_matches_fixture(&created_scram_serving(), "kafka-user-scram-serving.yaml");
}

fn assert_user_matches_fixture(pipeline: &str, fixture: &str) {
    let user = build_kafka_user(&validated(pipeline), &owner()).expect("user.create");
    let actual = serde_yaml::to_string(&user).expect("serializes");
    let path = root().join("tests/fixtures").join(fixture);
    if update() {
        std::fs::write(&path, &actual).expect("write fixture");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        actual == expected,
        "differs from the fixture.\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

const README_BEGIN: &str =
    "<!-- BEGIN generated KafkaUser spec (operator/tests/builders_kafka_user.rs) -->\n";
const README_END: &str = "<!-- END generated KafkaUser spec -->";

/// The README shows the spec of the KafkaUser the operator creates for its
/// example pipeline; this is that spec, as the builder renders it.
#[test]
fn readme_shows_the_builders_acls() {
    let user = build_kafka_user(&validated(CREATED_SCRAM), &owner()).expect("user.create");
    let rendered = format!(
        "```yaml\n# KafkaUser analytics/shop, spec as the operator renders it\n{}```\n",
        serde_yaml::to_string(&json!({"spec": user["spec"]})).expect("serializes")
    );
    let path = root().join("../README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let start = readme
        .find(README_BEGIN)
        .expect("README has the BEGIN marker")
        + README_BEGIN.len();
    let end = start
        + readme[start..]
            .find(README_END)
            .expect("README has the END marker");
    if update() {
        let updated = format!("{}{rendered}{}", &readme[..start], &readme[end..]);
        std::fs::write(&path, updated).expect("write README");
        return;
    }
    assert_eq!(
        &readme[start..end],
        rendered,
        "the README's KafkaUser differs from what the operator renders; UPDATE_FIXTURES=1 rewrites it"
    );
}

#[test]
fn acls_cover_exactly_the_pipelines_names() {
    let p = validated(CREATED_SCRAM);
    let acls = pipeline_acls(&p);
    let names: Vec<(&str, &str, &str)> = acls
        .iter()
        .map(|a| (a.resource_type.as_str(), a.name.as_str(), a.pattern_type()))
        .collect();
    let mut expected: Vec<(&str, &str, &str)> = p
        .topics
        .iter()
        .map(|t| ("topic", t.name.as_str(), "literal"))
        .collect();
    expected.extend([
        ("group", "shopstream.analytics.shop", "literal"),
        ("group", "shopstream.analytics.shop-merge", "literal"),
        (
            "transactionalId",
            "shopstream.analytics.shop-stage1-",
            "prefix",
        ),
    ]);
    assert_eq!(names, expected);
    // Strimzi mode: topic administration is the topic operator's.
    let ops = |a: &operator::kafka_security::kafka_user::AclRule| -> Vec<&str> {
        a.operations.iter().map(|o| o.as_str()).collect()
    };
    assert!(
        acls.iter()
            .all(|a| !ops(a).contains(&"Create") && !ops(a).contains(&"Delete"))
    );
    // Without the generator, nobody in the pipeline writes the input topic.
    let no_generator = validated(&format!("{CREATED_SCRAM}  generator: {{enabled: false}}\n"));
    assert_eq!(
        ops(&pipeline_acls(&no_generator)[0]),
        ["Read", "Describe", "DescribeConfigs"]
    );
    assert_eq!(
        ops(&acls[0]),
        ["Read", "Write", "Describe", "DescribeConfigs"]
    );
}

/// `spec.serving` adds exactly what the serving component needs: `Read`
/// on the output topics it consumes (user-history already has it) and its
/// own consumer group; every other rule is unchanged.
#[test]
fn serving_adds_only_its_reads_and_its_group() {
    use operator::kafka_security::kafka_user::{AclRule, Operation};
    let without = pipeline_acls(&validated(CREATED_SCRAM));
    let with = pipeline_acls(&validated(&created_scram_serving()));
    let p = validated(&created_scram_serving());
    let role_of = |name: &str| p.topics.iter().find(|t| t.name == name).map(|t| t.role);
    let served: Vec<&str> = ["sales", "segments", "anomalies", "hourly", "top-products"]
        .into_iter()
        .collect();
    let group_rule = AclRule {
        resource_type: operator::kafka_security::kafka_user::ResourceType::Group,
        name: "shopstream.analytics.shop-serving".into(),
        prefix: false,
        operations: [Operation::Read, Operation::Describe].into_iter().collect(),
    };
    assert_eq!(with.len(), without.len() + 1, "one rule more: {with:?}");
    assert!(with.contains(&group_rule), "{with:?}");
    for rule in with.iter().filter(|r| **r != group_rule) {
        let before = without
            .iter()
            .find(|r| r.resource_type == rule.resource_type && r.name == rule.name)
            .unwrap_or_else(|| panic!("a new rule {rule:?}"));
        let added: Vec<Operation> = rule
            .operations
            .difference(&before.operations)
            .copied()
            .collect();
        let role = role_of(&rule.name).map(|r| r.as_str());
        if role.is_some_and(|r| served.contains(&r)) {
            assert_eq!(added, [Operation::Read], "{rule:?}");
        } else {
            assert!(added.is_empty(), "{rule:?} gained {added:?}");
        }
        assert!(before.operations.is_subset(&rule.operations), "{rule:?}");
    }
}

#[test]
fn no_user_without_create() {
    let yaml = CREATED_SCRAM
        .replace("    user: {create: true}\n", "")
        .replace("{type: scram-sha-512}", "{type: scram-sha-512, username: shop, passwordSecret: {secretName: shop, password: password}}");
    assert!(build_kafka_user(&validated(&yaml), &owner()).is_none());
}

/// The processor authenticates with the Secret Strimzi writes for the
/// user: its name, key `password`.
#[test]
fn the_processor_mounts_the_created_users_secret() {
    let p = validated(CREATED_SCRAM);
    let config = build_config_map(&p).data.unwrap_or_default();
    let sts = serde_json::to_value(build_processor_statefulset(&p, &config)).expect("json");
    let pod = &sts["spec"]["template"]["spec"];
    let user_volume = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == "kafka-user")
        .expect("the user's Secret volume");
    assert_eq!(user_volume["secret"]["secretName"], "shop");
    assert_eq!(user_volume["secret"]["items"][0]["key"], "password");
    let env = pod["containers"][0]["env"].as_array().expect("env");
    assert!(
        env.iter()
            .any(|e| e["name"] == "KAFKA_SASL_USERNAME" && e["value"] == "shop")
    );
}

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;

use super::labels::{Component, labels};
use crate::crd::TopicRole;
use crate::reconcile::validate::{PARTIALS_ROLE, ValidatedPipeline};

pub fn config_map_name(pipeline: &str) -> String {
    format!("{pipeline}-config")
}

/// Environment variables the processor reads, as `(variable, topic role)`
/// for topics; see `processor --help`.
const PROCESSOR_TOPIC_VARS: [(&str, &str); 8] = [
    ("PROCESSOR_INPUT_TOPIC", "input"),
    ("PROCESSOR_SALES_TOPIC", "sales"),
    ("PROCESSOR_SEGMENTS_TOPIC", "segments"),
    ("PROCESSOR_ANOMALIES_TOPIC", "anomalies"),
    ("PROCESSOR_HOURLY_TOPIC", "hourly"),
    ("PROCESSOR_TOP_PRODUCTS_TOPIC", "top-products"),
    ("PROCESSOR_DEAD_LETTER_TOPIC", "dead-letter"),
    ("PROCESSOR_PARTIALS_TOPIC", PARTIALS_ROLE),
];

/// The generator's and the processor's settings, one key per environment
/// variable, so `kubectl get configmap` shows exactly what the pods run with.
pub fn build_config_map(p: &ValidatedPipeline) -> ConfigMap {
    let mut data = BTreeMap::new();
    data.insert(
        "KAFKA_BOOTSTRAP_SERVERS".to_string(),
        p.bootstrap_servers.clone(),
    );
    for (var, role) in PROCESSOR_TOPIC_VARS {
        data.insert(var.to_string(), p.topic_name(role).to_string());
    }
    let spec = &p.processor.spec;
    data.insert("PROCESSOR_GROUP_ID".into(), p.consumer_group.clone());
    data.insert(
        "PROCESSOR_SALES_WINDOW_SECONDS".into(),
        spec.sales_window_seconds.to_string(),
    );
    data.insert(
        "PROCESSOR_SEGMENT_WINDOW_SECONDS".into(),
        spec.segment_window_seconds.to_string(),
    );
    data.insert(
        "PROCESSOR_HOURLY_WINDOW_SECONDS".into(),
        spec.hourly_window_seconds.to_string(),
    );
    data.insert(
        "PROCESSOR_ALLOWED_LATENESS_SECONDS".into(),
        spec.allowed_lateness_seconds.to_string(),
    );
    data.insert(
        "PROCESSOR_ANOMALY_THRESHOLD".into(),
        spec.anomaly_threshold.to_string(),
    );
    data.insert(
        "PROCESSOR_IDLE_PARTITION_TIMEOUT_SECONDS".into(),
        spec.idle_partition_timeout_seconds.to_string(),
    );
    data.insert(
        "PROCESSOR_MAX_EVENT_TIME_SKEW_SECONDS".into(),
        spec.max_event_time_skew_seconds.to_string(),
    );
    if let Some(generator) = &p.generator {
        data.insert(
            "GENERATOR_TOPIC".into(),
            p.topic_name(TopicRole::Input.as_str()).to_string(),
        );
        data.insert(
            "GENERATOR_EVENTS_PER_SECOND".into(),
            generator.events_per_second_per_replica.to_string(),
        );
        data.insert(
            "GENERATOR_SCHEMA".into(),
            generator.schema.as_str().to_string(),
        );
    }
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(config_map_name(&p.name)),
            namespace: Some(p.namespace.clone()),
            labels: Some(labels(&p.name, Component::Pipeline)),
            ..ObjectMeta::default()
        },
        data: Some(data),
        ..ConfigMap::default()
    }
}

/// Keys of the ConfigMap the processor container reads.
pub fn processor_env_keys() -> Vec<&'static str> {
    let mut keys = vec!["KAFKA_BOOTSTRAP_SERVERS", "PROCESSOR_GROUP_ID"];
    keys.extend(PROCESSOR_TOPIC_VARS.iter().map(|(var, _)| *var));
    keys.extend([
        "PROCESSOR_SALES_WINDOW_SECONDS",
        "PROCESSOR_SEGMENT_WINDOW_SECONDS",
        "PROCESSOR_HOURLY_WINDOW_SECONDS",
        "PROCESSOR_ALLOWED_LATENESS_SECONDS",
        "PROCESSOR_ANOMALY_THRESHOLD",
        "PROCESSOR_IDLE_PARTITION_TIMEOUT_SECONDS",
        "PROCESSOR_MAX_EVENT_TIME_SKEW_SECONDS",
    ]);
    keys
}

/// Keys of the ConfigMap the generator container reads.
pub fn generator_env_keys() -> Vec<&'static str> {
    vec![
        "KAFKA_BOOTSTRAP_SERVERS",
        "GENERATOR_TOPIC",
        "GENERATOR_EVENTS_PER_SECOND",
        "GENERATOR_SCHEMA",
    ]
}

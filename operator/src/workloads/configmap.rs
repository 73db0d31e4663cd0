use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;

use super::labels::{Component, labels};
use shopstream_common::contract::{generator, processor, shared};

use crate::model::{TopicRole, ValidatedPipeline};

pub fn config_map_name(pipeline: &str) -> String {
    format!("{pipeline}-config")
}

/// The processor's topic variables, one per role (`processor --help`).
const PROCESSOR_TOPIC_VARS: [(&str, TopicRole); 9] = [
    (processor::INPUT_TOPIC, TopicRole::Input),
    (processor::SALES_TOPIC, TopicRole::Sales),
    (processor::SEGMENTS_TOPIC, TopicRole::Segments),
    (processor::ANOMALIES_TOPIC, TopicRole::Anomalies),
    (processor::HOURLY_TOPIC, TopicRole::Hourly),
    (processor::TOP_PRODUCTS_TOPIC, TopicRole::TopProducts),
    (processor::DEAD_LETTER_TOPIC, TopicRole::DeadLetter),
    (processor::PARTIALS_TOPIC, TopicRole::Partials),
    (processor::USER_HISTORY_TOPIC, TopicRole::UserHistory),
];

/// The generator's and the processor's settings, one key per environment
/// variable, so `kubectl get configmap` shows exactly what the pods run with.
pub fn build_config_map(p: &ValidatedPipeline) -> ConfigMap {
    let mut data = BTreeMap::new();
    data.insert(
        shared::KAFKA_BOOTSTRAP_SERVERS.to_string(),
        p.bootstrap_servers.clone(),
    );
    for (var, role) in PROCESSOR_TOPIC_VARS {
        data.insert(var.to_string(), p.topic_name(role).to_string());
    }
    let spec = &p.processor.spec;
    data.insert(processor::GROUP_ID.into(), p.consumer_group.clone());
    data.insert(
        processor::SALES_WINDOW_SECONDS.into(),
        spec.sales_window_seconds.to_string(),
    );
    data.insert(
        processor::SEGMENT_WINDOW_SECONDS.into(),
        spec.segment_window_seconds.to_string(),
    );
    data.insert(
        processor::HOURLY_WINDOW_SECONDS.into(),
        spec.hourly_window_seconds.to_string(),
    );
    data.insert(
        processor::ALLOWED_LATENESS_SECONDS.into(),
        spec.allowed_lateness_seconds.to_string(),
    );
    data.insert(
        processor::ANOMALY_THRESHOLD.into(),
        spec.anomaly_threshold.to_string(),
    );
    data.insert(
        processor::IDLE_PARTITION_TIMEOUT_SECONDS.into(),
        spec.idle_partition_timeout_seconds.to_string(),
    );
    data.insert(
        processor::MAX_EVENT_TIME_SKEW_SECONDS.into(),
        spec.max_event_time_skew_seconds.to_string(),
    );
    // The processor judges its own alerts (docs/alerts.md) and writes
    // them to the pipeline's alerts topic.
    data.insert(
        processor::ALERTS_TOPIC.into(),
        p.topic_name(TopicRole::Alerts).to_string(),
    );
    data.insert(
        processor::PIPELINE.into(),
        format!("{}/{}", p.namespace, p.name),
    );
    data.insert(
        processor::ALERT_DEAD_LETTERS_PER_MINUTE.into(),
        p.alerts.dead_letters_per_minute.to_string(),
    );
    data.insert(
        processor::ALERT_HIGH_VALUE_ANOMALIES_PER_MINUTE.into(),
        p.alerts.high_value_anomalies_per_minute.to_string(),
    );
    data.insert(
        processor::ALERT_WINDOW_CLOSE_SLOWER_THAN_SECONDS.into(),
        p.alerts.window_close_slower_than_seconds.to_string(),
    );
    if let Some(generator) = &p.generator {
        data.insert(
            generator::TOPIC.into(),
            p.topic_name(TopicRole::Input).to_string(),
        );
        data.insert(
            generator::EVENTS_PER_SECOND.into(),
            generator.events_per_second_per_replica.to_string(),
        );
        data.insert(
            generator::SCHEMA.into(),
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
    let mut keys = vec![shared::KAFKA_BOOTSTRAP_SERVERS, processor::GROUP_ID];
    keys.extend(PROCESSOR_TOPIC_VARS.iter().map(|(var, _)| *var));
    keys.extend([
        processor::SALES_WINDOW_SECONDS,
        processor::SEGMENT_WINDOW_SECONDS,
        processor::HOURLY_WINDOW_SECONDS,
        processor::ALLOWED_LATENESS_SECONDS,
        processor::ANOMALY_THRESHOLD,
        processor::IDLE_PARTITION_TIMEOUT_SECONDS,
        processor::MAX_EVENT_TIME_SKEW_SECONDS,
        processor::ALERTS_TOPIC,
        processor::PIPELINE,
        processor::ALERT_DEAD_LETTERS_PER_MINUTE,
        processor::ALERT_HIGH_VALUE_ANOMALIES_PER_MINUTE,
        processor::ALERT_WINDOW_CLOSE_SLOWER_THAN_SECONDS,
    ]);
    keys
}

/// Keys of the ConfigMap the generator container reads.
pub fn generator_env_keys() -> Vec<&'static str> {
    vec![
        shared::KAFKA_BOOTSTRAP_SERVERS,
        generator::TOPIC,
        generator::EVENTS_PER_SECOND,
        generator::SCHEMA,
    ]
}

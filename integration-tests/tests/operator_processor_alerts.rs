//! The alerts the processor writes to the pipeline's alerts topic
//! (`dead_letter_rate`, `high_value_anomaly_burst`, `window_close_slow`)
//! become Events on the pipeline, against the real API server and broker:
//! the operator reads the topic from where it first found its end, raises
//! one Event per processor alert with the alert's message, none for a
//! byte-identical repeat (a window the processor emitted again after a
//! crash), and none for the operator's own alert types. The processor
//! side (that it writes these records) is `processor_alerts.rs`; here the
//! test writes them, byte for byte as the processor does.

#[path = "operator_support/mod.rs"]
mod support;

use std::time::Duration;

use kube::Api;
use operator::crd::AnalyticsPipeline;
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;
use support::kafka::delete_topics;
use support::{OperatorProcess, apply_pipeline, kafka_bootstrap, unique, wait_until};

async fn write(topic: &str, key: &str, values: &[String]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    for value in values {
        producer
            .send(
                FutureRecord::to(topic).partition(0).key(key).payload(value),
                Duration::from_secs(30),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("writing an alert: {e}"));
    }
}

fn alert(pipeline: &str, type_: &str, message: &str) -> String {
    json!({
        "timestamp": "2026-11-30T06:01:00.000000",
        "type": type_,
        "message": message,
        "severity": "warning",
        "pipeline": pipeline,
    })
    .to_string()
}

/// The messages of the Events with `reason` in `ns`.
fn event_messages(ns: &str, reason: &str) -> String {
    support::kubectl(&[
        "get",
        "events",
        "-n",
        ns,
        "--field-selector",
        &format!("reason={reason}"),
        "-o",
        "jsonpath={.items[*].message}",
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_alerts_become_events_once() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-palerts").await;
    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let name = unique("shop");
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({
            "kafka": {"bootstrapServers": kafka_bootstrap()},
            "generator": {"enabled": false},
            "processor": {"replicas": 1},
            "alerts": {"deadLettersPerMinute": 5, "highValueAnomaliesPerMinute": 3,
                       "windowCloseSlowerThanSeconds": 30},
            "deletionPolicy": "Delete",
        }),
    )
    .await;
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let topic = format!("{ns}.{name}.alerts");
    let pipeline = format!("{ns}/{name}");

    // The thresholds reach the processor through the ConfigMap.
    let config = wait_until(
        "the pipeline's ConfigMap",
        Duration::from_secs(60),
        || async {
            let maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
                Api::namespaced(client.clone(), &ns);
            maps.get(&format!("{name}-config"))
                .await
                .map_err(|e| e.to_string())
        },
    )
    .await;
    let data = config.data.expect("data");
    for (key, want) in [
        ("PROCESSOR_ALERTS_TOPIC", topic.as_str()),
        ("PROCESSOR_PIPELINE", pipeline.as_str()),
        ("PROCESSOR_ALERT_DEAD_LETTERS_PER_MINUTE", "5"),
        ("PROCESSOR_ALERT_HIGH_VALUE_ANOMALIES_PER_MINUTE", "3"),
        ("PROCESSOR_ALERT_WINDOW_CLOSE_SLOWER_THAN_SECONDS", "30"),
    ] {
        assert_eq!(data.get(key).map(String::as_str), Some(want), "{key}");
    }

    // A status refresh after the topics exist: the operator took the
    // alerts topic's end as its start.
    wait_until(
        "the pipeline's topics and a status refresh",
        Duration::from_secs(60),
        || async {
            let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
            p.status
                .and_then(|s| s.processor)
                .and_then(|s| s.total_lag)
                .map(|_| ())
                .ok_or_else(|| "no lag yet".to_string())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;

    let dead = alert(
        &pipeline,
        "dead_letter_rate",
        &format!(
            "pipeline {pipeline}: 7 input records went to the dead-letter topic in the minute 2026-11-30T06:00:00Z–2026-11-30T06:01:00Z (threshold 5 per minute)"
        ),
    );
    let burst = alert(
        &pipeline,
        "high_value_anomaly_burst",
        &format!(
            "pipeline {pipeline}: 4 high-value transactions above 50000 in the minute 2026-11-30T06:00:00Z–2026-11-30T06:01:00Z (threshold 3 per minute)"
        ),
    );
    let slow = alert(
        &pipeline,
        "window_close_slow",
        &format!(
            "pipeline {pipeline}: the sales window 2026-11-30T06:00:00Z–2026-11-30T06:01:00Z closed 45.5 s after its deadline (window end + allowed lateness; threshold 30 s)"
        ),
    );
    // The operator's own type: its Event was raised when it was written.
    let own = alert(&pipeline, "processor_restarts", "not from the processor");
    write(
        &topic,
        &pipeline,
        &[dead.clone(), own, burst, dead.clone(), slow],
    )
    .await;

    for reason in [
        "DeadLetterRateHigh",
        "HighValueAnomalyBurst",
        "WindowCloseSlow",
    ] {
        wait_until(
            &format!("a {reason} Event"),
            Duration::from_secs(60),
            || async {
                match support::event_count(&ns, reason) {
                    0 => Err("no Event yet".to_string()),
                    _ => Ok(()),
                }
            },
        )
        .await;
    }
    assert_eq!(
        event_messages(&ns, "DeadLetterRateHigh"),
        format!(
            "pipeline {pipeline}: 7 input records went to the dead-letter topic in the minute 2026-11-30T06:00:00Z–2026-11-30T06:01:00Z (threshold 5 per minute)"
        )
    );
    // A few more refreshes: the repeat and the operator's own type raise
    // nothing.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(support::event_count(&ns, "DeadLetterRateHigh"), 1);
    assert_eq!(support::event_count(&ns, "HighValueAnomalyBurst"), 1);
    assert_eq!(support::event_count(&ns, "ProcessorRestarting"), 0);

    support::delete_pipeline(
        &pipelines,
        &name,
        "pipeline deleted",
        Duration::from_secs(60),
    )
    .await;
    delete_topics(&support::default_topic_names(&ns, &name)).await;
    support::delete_namespace(&client, &ns).await;
}

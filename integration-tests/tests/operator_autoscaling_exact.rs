//! The autoscaler with the real processor (operator, local runner, real
//! broker and API server): a backlog scales the processor from 0 to the 3
//! input partitions, more input arrives at 3 replicas, the drained
//! processor is scaled back to 1 after the down stabilization, and the rest
//! of the input (and the events that close every window) is processed by
//! that one replica. Windows stay open across every scaling step, so their
//! partial state crosses two rebalances. The outputs must equal an
//! independent recomputation of the whole input, every anomaly and dead
//! letter exactly once (issue 15: "the results stay exact across the
//! scaling").

mod processor_support;
#[path = "operator_support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::Api;
use operator::crd::{AnalyticsPipeline, AutoscalingStatus};
use processor_support::dataset::{
    self, HOURLY_S, LATENESS_S, SALES_S, SEGMENT_S, T0_MS, THRESHOLD,
};
use processor_support::pipeline::{OUTPUTS, Topics, produce, read_records, read_results};
use processor_support::recompute::{assert_matches, is_valid};
use serde_json::json;
use support::secure::{RunnerProcess, workload_logs};
use support::{OperatorProcess, apply_pipeline, kafka_bootstrap, unique, wait_until};

/// Records per input partition and batch.
const PER_PARTITION: usize = 3000;
/// Event time each batch spans: two hourly windows (60 s in this test).
const BATCH_SPAN_S: i64 = 120;

fn autoscaling(p: &AnalyticsPipeline) -> Option<AutoscalingStatus> {
    p.status.as_ref()?.processor.as_ref()?.autoscaling.clone()
}

/// Batch `n` (0, 1, 2): its event time follows the previous batch's.
fn batch(n: i64) -> Vec<(i32, String)> {
    dataset::data_set_on(
        100 + n as u64,
        PER_PARTITION,
        T0_MS + n * BATCH_SPAN_S * 1000,
        BATCH_SPAN_S,
        0..3,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_stay_exact_while_the_autoscaler_scales_the_processor() {
    let bins = integration_tests::binaries::dir();
    support::local_cluster_up();
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-scale-exact").await;
    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let runner = RunnerProcess::start(&bins, &ns);
    let name = unique("shop");
    // No processor yet, so the first batch waits as a backlog. The windows
    // are the recomputation's; partitions never count as idle (their
    // events arrive batch by batch, and an idle partition would let the
    // watermark pass events of the others still in flight).
    let processor = json!({
        "replicas": 0,
        "salesWindowSeconds": SALES_S,
        "segmentWindowSeconds": SEGMENT_S,
        "hourlyWindowSeconds": HOURLY_S,
        "allowedLatenessSeconds": LATENESS_S,
        "anomalyThreshold": THRESHOLD,
        "idlePartitionTimeoutSeconds": 0,
        "maxEventTimeSkewSeconds": 0,
    });
    let spec = |processor: &serde_json::Value| {
        json!({
            "kafka": {"bootstrapServers": kafka_bootstrap()},
            "topics": {"input": {"partitions": 3}},
            "generator": {"enabled": false},
            "processor": processor,
            "deletionPolicy": "Delete",
        })
    };
    apply_pipeline(&client, &ns, &name, spec(&processor)).await;
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let topic = |role: &str| format!("{ns}.{name}.{role}");
    let input = topic("input");
    wait_until("the topics", Duration::from_secs(60), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        match support::condition(&p, "TopicsReady") {
            Some((s, _, _)) if s == "True" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    let diagnostics = |p: &AnalyticsPipeline, replicas: Option<i32>| {
        let mut text = format!(
            "StatefulSet replicas {replicas:?}\nstatus {:?}\nrunner log (tail):\n{}",
            p.status,
            tail(&runner.log_text(), 20)
        );
        for (file, log) in workload_logs(&ns) {
            text.push_str(&format!("\n--- {file}\n{}", tail(&log, 10)));
        }
        text
    };
    let wait_for_replicas = |want: i32, within: Duration| {
        let (pipelines, statefulsets, name) = (&pipelines, &statefulsets, &name);
        let diagnostics = &diagnostics;
        async move {
            wait_until(
                &format!("the autoscaler at {want} processor replicas"),
                within,
                || async move {
                    let s = statefulsets
                        .get(&format!("{name}-processor"))
                        .await
                        .map_err(|e| e.to_string())?;
                    let p = pipelines.get(name).await.map_err(|e| e.to_string())?;
                    let replicas = s.spec.and_then(|s| s.replicas);
                    match autoscaling(&p) {
                        Some(a) if replicas == Some(want) && a.desired_replicas == want => Ok(a),
                        _ => Err(diagnostics(&p, replicas)),
                    }
                },
            )
            .await
        }
    };

    // Batch 0 waits for a processor; autoscaling on asks for one replica
    // per lagging partition.
    let batches = [batch(0), batch(1), batch(2)];
    produce(&input, &batches[0]).await;
    let mut patched = processor.clone();
    patched["autoscaling"] = json!({
        "minReplicas": 1, "maxReplicas": 3, "targetLagPerReplica": 100,
        "scaleUpStabilizationSeconds": 0, "scaleDownStabilizationSeconds": 15,
    });
    apply_pipeline(&client, &ns, &name, spec(&patched)).await;
    let up = wait_for_replicas(3, Duration::from_secs(120)).await;
    assert!(up.reason.contains("capped at 3"), "{}", up.reason);

    // Batch 1 at three replicas, then the drained processor goes back to
    // one: the replicas that leave hand their partitions (and the state of
    // open windows) over.
    produce(&input, &batches[1]).await;
    let down = wait_for_replicas(1, Duration::from_secs(180)).await;
    assert!(down.last_scale_time > up.last_scale_time);
    assert!(support::event_count(&ns, "ScaledUp") >= 1);
    assert!(support::event_count(&ns, "ScaledDown") >= 1);

    // Batch 2 and the events that close every window, at one replica.
    produce(&input, &batches[2]).await;
    let closing = dataset::closing_events(7);
    produce(&input, &closing).await;

    let all: Vec<(i32, String)> = batches.iter().flatten().cloned().collect();
    let want = dataset::expected(&all);
    let outputs: BTreeMap<&'static str, String> = OUTPUTS
        .iter()
        .map(|o| (*o, topic(&o.replace('_', "-"))))
        .collect();
    let topics = Topics {
        input: input.clone(),
        partials: topic("partials"),
        outputs,
        dead_letter: topic("dead-letter"),
    };
    let got = read_results(&topics, &want, Duration::from_secs(240)).await;
    assert_matches(&got, &want);
    let malformed = all.iter().filter(|(_, v)| !is_valid(v)).count();
    assert!(malformed > 0, "the data set has malformed records");
    let dead = read_records(&topics.dead_letter, malformed, Duration::from_secs(60)).await;
    assert_eq!(
        dead.len(),
        malformed,
        "every malformed record dead-lettered once"
    );

    support::delete_pipeline(
        &pipelines,
        &name,
        "pipeline deleted",
        Duration::from_secs(60),
    )
    .await;
    drop(runner);
    support::kafka::delete_topics(&support::default_topic_names(&ns, &name)).await;
    support::delete_namespace(&client, &ns).await;
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

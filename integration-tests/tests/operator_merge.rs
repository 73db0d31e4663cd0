//! The processor's merge stage (stage 2) as the operator reports it, read
//! from Kafka only: the checkpoints the processor commits as offset
//! metadata on the partials topic (docs/processor.md, "The checkpoint").
//! The test stands in for the processor: it writes partials records and
//! commits checkpoints for `<group>-merge`. Against the real API server and
//! broker: merge lag, watermark and the partitions holding it back in the
//! status; a merge that stops advancing while partials wait, and windows
//! closed early at the memory bound, degrade a running pipeline.

#[path = "operator_support/mod.rs"]
mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::Api;
use kube::api::{Patch, PatchParams};
use operator::crd::{AnalyticsPipeline, Phase};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::json;
use support::kafka::{GroupMember, delete_topics};
use support::{OperatorProcess, apply_pipeline, condition, kafka_bootstrap, unique, wait_until};

/// 2026-01-01T00:00:00Z.
const WATERMARK_MS: i64 = 1_767_225_600_000;

/// `count` records on partition `partition` of `topic`.
fn produce_to(topic: &str, partition: i32, count: usize) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .expect("producer");
    for _ in 0..count {
        producer
            .send(
                BaseRecord::<(), _>::to(topic)
                    .partition(partition)
                    .payload("{}"),
            )
            .map_err(|(e, _)| e)
            .expect("enqueue record");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
}

/// Commits `offset` with `checkpoint` as metadata for `group` on
/// `topic`[0], as the processor's stage 2 does.
fn commit_checkpoint(group: &str, topic: &str, offset: i64, checkpoint: serde_json::Value) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(offset))
        .expect("offset");
    tpl.find_partition(topic, 0)
        .expect("partition")
        .set_metadata(checkpoint.to_string());
    consumer.commit(&tpl, CommitMode::Sync).expect("commit");
}

async fn mark_ready(client: &kube::Client, ns: &str, name: &str) {
    // Stands in for kube-controller-manager, which this API server runs without.
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let status = json!({"status": {"replicas": 1, "readyReplicas": 1}});
    wait_until(
        "the processor StatefulSet",
        Duration::from_secs(60),
        || async {
            api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
                .await
                .map_err(|e| e.to_string())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_progress_stalls_and_the_memory_bound_are_reported() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-merge").await;
    let _operator = OperatorProcess::start_with(
        &ns,
        "op-1",
        "shopstream-operator",
        &[("MERGE_STALL_TIMEOUT", "6s")],
    );
    let name = unique("shop");
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({
            "kafka": {"bootstrapServers": kafka_bootstrap()},
            "generator": {"enabled": false},
            "processor": {"replicas": 1},
            "deletionPolicy": "Delete",
        }),
    )
    .await;
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let input = format!("{ns}.{name}.input");
    let partials = format!("{ns}.{name}.partials");
    let group = format!("shopstream.{ns}.{name}");
    let merge_group = format!("{group}-merge");

    // A running pipeline: its stage 1 consumes (a stand-in member), and its
    // merge stage has processed 45 of 50 partials records; input partition
    // 2 has no data and holds the watermark, one partition is idle.
    mark_ready(&client, &ns, &format!("{name}-processor")).await;
    let mut member = GroupMember::join(&group, &input);
    produce_to(&partials, 0, 50);
    let checkpoint = |position: i64, closed_early: Option<i64>| {
        let mut c = json!({"v": 2, "p": position, "g": WATERMARK_MS, "h": [[2, null]],
            "hn": 1, "i": 1});
        if let Some(at) = closed_early {
            c["fc"] = json!(at);
        }
        c
    };
    commit_checkpoint(&merge_group, &partials, 40, checkpoint(45, None));
    let status_of = |p: &AnalyticsPipeline| format!("{:?}", p.status);
    wait_until(
        "Running with merge lag 5, the watermark and what holds it",
        Duration::from_secs(90),
        || async {
            let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
            let s = p.status.clone().unwrap_or_default();
            let proc = s.processor.clone().unwrap_or_default();
            let held = proc
                .watermark_held_by
                .iter()
                .map(|h| (h.partition, h.event_time.is_some()))
                .collect::<Vec<_>>();
            let merging = condition(&p, "MergeReady").is_some_and(|c| c.0 == "True");
            let watermark = proc.watermark.as_ref().map(|t| t.0.as_millisecond());
            if s.phase == Some(Phase::Running)
                && merging
                && proc.merge_lag == Some(5)
                && watermark == Some(WATERMARK_MS)
                && held == [(2, false)]
                && proc.idle_partitions == Some(1)
            {
                Ok(p)
            } else {
                Err(status_of(&p))
            }
        },
    )
    .await;

    // Partials keep coming, the merge does not move: after the stall
    // timeout (6 s here, 60 s by default) the pipeline degrades.
    produce_to(&partials, 0, 20);
    let p = wait_until("MergeStalled", Duration::from_secs(60), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        match condition(&p, "MergeReady") {
            Some((s, r, _)) if s == "False" && r == "MergeStalled" => Ok(p),
            _ => Err(status_of(&p)),
        }
    })
    .await;
    let (_, _, message) = condition(&p, "MergeReady").expect("MergeReady");
    assert!(message.contains(&merge_group), "{message}");
    assert!(
        message.contains("while 25 partials records waited"),
        "{message}"
    );
    assert!(
        message.contains("input partition 2 (no data yet)"),
        "{message}"
    );
    assert_eq!(
        p.status.as_ref().and_then(|s| s.phase),
        Some(Phase::Degraded)
    );
    assert_eq!(
        condition(&p, "Ready").map(|c| c.1),
        Some("MergeStalled".to_string())
    );

    // It catches up, but closed windows early at its memory bound: still
    // degraded, with what to do.
    let now_ms = chrono_now_ms();
    commit_checkpoint(&merge_group, &partials, 70, checkpoint(70, Some(now_ms)));
    let p = wait_until("MemoryBoundReached", Duration::from_secs(60), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        match condition(&p, "MergeReady") {
            Some((s, r, _)) if s == "False" && r == "MemoryBoundReached" => Ok(p),
            _ => Err(status_of(&p)),
        }
    })
    .await;
    assert_eq!(
        p.status
            .as_ref()
            .and_then(|s| s.processor.as_ref())
            .and_then(|s| s.merge_lag),
        Some(0)
    );
    assert_eq!(
        p.status.as_ref().and_then(|s| s.phase),
        Some(Phase::Degraded)
    );

    // A checkpoint without an early close: Running again.
    commit_checkpoint(&merge_group, &partials, 70, checkpoint(70, None));
    wait_until("Running again", Duration::from_secs(60), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        if p.status.as_ref().and_then(|s| s.phase) == Some(Phase::Running) {
            Ok(())
        } else {
            Err(status_of(&p))
        }
    })
    .await;

    member.leave();
    support::delete_pipeline(
        &pipelines,
        &name,
        "pipeline deleted",
        Duration::from_secs(60),
    )
    .await;
    let topics = support::default_topic_names(&ns, &name);
    delete_topics(&topics).await;
    support::delete_namespace(&client, &ns).await;
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

//! Step 5a: observe what the cluster and Kafka say right now.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::Api;

use crate::context::Context;
use crate::crd::{
    AnalyticsPipelineStatus, GeneratorStatus, GroupLagVerdict, LagVerdict, ProcessorStatus,
    ServingStatus, WatermarkHold,
};
use crate::error::Result;
use crate::kafka::{ClientUse, GroupProgress, LagQuery, LagSample, MergeCommit, MergeQuery};
use crate::model::{TopicRole, ValidatedPipeline};
use crate::status::lag_transitions::{Judged, Transition, carry_over};
use crate::status::lag_verdict::{GroupSample, PartitionPoint};
use crate::status::merge::{
    Checkpoint, PartialsPartition, describe_holding, health, rfc3339, summarize,
};
use crate::status::{
    LagObservation, MergeObservation, Observations, ProcessorObservation, ServingObservation,
    TopicsState, WorkloadObservation,
};
use crate::workloads::{
    SERVED_TOPICS, generator_name, managed_redis_name, processor_name, serving_group, serving_name,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub struct Observed {
    pub processor: WorkloadObservation,
    pub generator: Option<WorkloadObservation>,
    /// `None` unless serving is enabled.
    pub serving: Option<WorkloadObservation>,
    /// `None` unless serving is enabled with a managed Redis.
    pub managed_redis: Option<WorkloadObservation>,
    /// `Err(message)` when Kafka could not be asked.
    pub lag: std::result::Result<LagSample, String>,
    /// The merge stage's commits; `Err(message)` when they could not be read.
    pub merge: std::result::Result<Vec<MergeCommit>, String>,
    /// The serving group's progress; `None` unless serving is enabled and
    /// Kafka answered.
    pub serving_progress: Option<std::result::Result<GroupProgress, String>>,
}

pub async fn observe(
    ctx: &Context,
    p: &ValidatedPipeline,
    topics: &TopicsState,
) -> Result<Observed> {
    let statefulsets: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &p.namespace);
    let processor = WorkloadObservation {
        ready: statefulsets
            .get_opt(&processor_name(&p.name))
            .await?
            .and_then(|s| s.status)
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0),
        desired: p.processor.spec.replicas,
    };
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &p.namespace);
    let generator = match &p.generator {
        Some(g) => Some(WorkloadObservation {
            ready: deployments
                .get_opt(&generator_name(&p.name))
                .await?
                .and_then(|d| d.status)
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0),
            desired: g.replicas,
        }),
        None => None,
    };
    let serving = match &p.serving {
        Some(s) => Some(WorkloadObservation {
            ready: deployments
                .get_opt(&serving_name(&p.name))
                .await?
                .and_then(|d| d.status)
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0),
            desired: s.spec.replicas,
        }),
        None => None,
    };
    let managed_redis = match p.serving.as_ref().and_then(|s| s.managed_redis.as_ref()) {
        Some(_) => Some(WorkloadObservation {
            ready: statefulsets
                .get_opt(&managed_redis_name(&p.name))
                .await?
                .and_then(|s| s.status)
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0),
            desired: 1,
        }),
        None => None,
    };

    let lag = match topics {
        TopicsState::KafkaUnreachable(m) | TopicsState::KafkaRefused { message: m, .. } => {
            (Err(m.clone()), Err(m.clone()))
        }
        _ => {
            let query = LagQuery {
                group: p.consumer_group.clone(),
                input_topic: p.topic_name(TopicRole::Input).to_string(),
                output_topics: TopicRole::OUTPUTS
                    .iter()
                    .map(|role| p.topic(*role))
                    .map(|t| (t.name.clone(), t.partitions))
                    .collect(),
            };
            let merge_query = MergeQuery {
                group: format!("{}-merge", p.consumer_group),
                partials_topic: p.topic_name(TopicRole::Partials).to_string(),
                partitions: p.topic(TopicRole::Partials).partitions,
            };
            let key = format!("{}/{}", p.namespace, p.name);
            match ctx
                .kafka
                .lag_sampler(ClientUse::Pipeline(&key), &p.bootstrap_servers)
            {
                Ok(sampler) => match sampler.sample(query).await {
                    Ok(sample) => {
                        let merge = sampler.merge(&merge_query).await.map_err(|e| e.to_string());
                        (Ok(sample), merge)
                    }
                    Err(e) => (Err(e.to_string()), Err("lag not measured".to_string())),
                },
                Err(e) => (Err(e.to_string()), Err(e.to_string())),
            }
        }
    };
    let (lag, merge) = lag;
    // Only when Kafka answered for the processor: otherwise the serving
    // group's measurement would fail the same way, a timeout later.
    let serving_progress = match (&p.serving, &lag) {
        (Some(_), Ok(_)) => Some(serving_progress(ctx, p).await),
        _ => None,
    };
    Ok(Observed {
        processor,
        generator,
        serving,
        managed_redis,
        lag,
        merge,
        serving_progress,
    })
}

/// The serving group's progress over the topics it reads.
async fn serving_progress(
    ctx: &Context,
    p: &ValidatedPipeline,
) -> std::result::Result<GroupProgress, String> {
    let key = format!("{}/{}", p.namespace, p.name);
    let topics: Vec<(String, i32)> = SERVED_TOPICS
        .iter()
        .map(|role| p.topic(*role))
        .map(|t| (t.name.clone(), t.partitions))
        .collect();
    let sampler = ctx
        .kafka
        .lag_sampler(ClientUse::Pipeline(&key), &p.bootstrap_servers)
        .map_err(|e| e.to_string())?;
    sampler
        .group_progress(&serving_group(p), &topics)
        .await
        .map_err(|e| e.to_string())
}

/// What a reconcile observed, in the status's terms.
pub struct Summary {
    pub observations: Observations,
    pub processor: ProcessorStatus,
    pub generator: Option<GeneratorStatus>,
    pub serving: Option<ServingStatus>,
    /// Lag verdicts that changed since the status written last.
    pub lag_transitions: Vec<Transition>,
}

/// Turns observations into the status's processor and generator sections.
/// Rates need two observations, so the first reconcile reports none.
pub fn summarise(
    ctx: &Context,
    key: &str,
    p: &ValidatedPipeline,
    topics: TopicsState,
    observed: Observed,
    previous: &AnalyticsPipelineStatus,
) -> Summary {
    let mut processor_status = ProcessorStatus {
        replicas: Some(format!(
            "{}/{}",
            observed.processor.ready, observed.processor.desired
        )),
        ready_replicas: observed.processor.ready,
        desired_replicas: observed.processor.desired,
        consumer_group: Some(p.consumer_group.clone()),
        selector: Some(processor_selector(&p.name)),
        ..ProcessorStatus::default()
    };
    let mut input_rate = None;
    let mut group_members = None;
    let mut topics = topics;
    match &observed.lag {
        Ok(sample) => {
            let rates = ctx.state.observe_rates(key, sample.offsets);
            input_rate = rates.map(|r| round2(r.0));
            processor_status.total_lag = Some(sample.total_lag);
            processor_status.partition_lag = sample
                .partitions
                .iter()
                .map(|p| crate::crd::PartitionLag {
                    partition: p.partition,
                    log_end_offset: p.log_end_offset,
                    committed_offset: p.committed_offset,
                    lag: p.lag,
                })
                .collect();
            processor_status.lag_seconds = sample.lag_seconds.map(round2);
            processor_status.input_events_per_second = input_rate;
            processor_status.output_records_per_second = rates.map(|r| round2(r.1));
            processor_status.last_updated =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    k8s_openapi::jiff::Timestamp::now(),
                ));
            group_members = Some(sample.group_members);
        }
        Err(message) => {
            // Never show old numbers as if they were current.
            if matches!(topics, TopicsState::Ready) {
                topics = TopicsState::KafkaUnreachable(format!("cannot measure lag: {message}"));
            }
        }
    }
    let merge = match (&observed.lag, &observed.merge) {
        (Ok(_), Ok(commits)) => Some(merge_observation(
            ctx,
            key,
            p,
            commits,
            &mut processor_status,
        )),
        _ => None,
    };
    let (lag, lag_transitions) = match &observed.lag {
        Ok(sample) => {
            let judged = judge_groups(ctx, key, p, sample, observed.merge.as_ref().ok());
            // The verdicts this operator wrote last, else the status's (the
            // cache may not show the last write yet).
            let previous_verdicts = ctx
                .state
                .peek(key, |s| s.lag_verdicts.clone())
                .flatten()
                .unwrap_or_else(|| {
                    previous
                        .processor
                        .as_ref()
                        .map(|s| s.lag_verdicts.clone())
                        .unwrap_or_default()
                });
            let now = Time(k8s_openapi::jiff::Timestamp::now());
            let (verdicts, transitions) = carry_over(&previous_verdicts, judged, &now);
            ctx.state
                .with(key, |s| s.lag_verdicts = Some(verdicts.clone()));
            let lag = lag_observation(&verdicts);
            processor_status.lag_verdict = lag.as_ref().map(|l| l.verdict);
            processor_status.lag_verdicts = verdicts;
            (lag, transitions)
        }
        Err(_) => (None, Vec::new()),
    };
    let generator_status = observed.generator.map(|g| GeneratorStatus {
        ready_replicas: g.ready,
        desired_replicas: g.desired,
        measured_events_per_second: input_rate,
    });
    let serving = serving_summary(
        ctx,
        key,
        p,
        observed.serving,
        observed.managed_redis,
        observed.serving_progress,
    );
    let observations = Observations {
        topics,
        generator: observed.generator,
        serving: serving.as_ref().map(|(observation, _)| observation.clone()),
        processor: ProcessorObservation {
            workload: observed.processor,
            group_members,
        },
        merge,
        lag,
        warnings: p.warnings.clone(),
        previous_phase: previous.phase,
        conflict: None,
    };
    Summary {
        observations,
        processor: processor_status,
        generator: generator_status,
        serving: serving.map(|(_, status)| status),
        lag_transitions,
    }
}

/// The serving component's readiness and, from its consumer group, how far
/// its Redis writes have come; `None` when serving is disabled.
fn serving_summary(
    ctx: &Context,
    key: &str,
    p: &ValidatedPipeline,
    workload: Option<WorkloadObservation>,
    managed_redis: Option<WorkloadObservation>,
    progress: Option<std::result::Result<GroupProgress, String>>,
) -> Option<(ServingObservation, ServingStatus)> {
    let workload = workload?;
    let (writes_per_second, lag) = match &progress {
        Some(Ok(progress)) => (
            ctx.state
                .with(key, |s| s.serving_writes.observe(progress))
                .map(round2),
            Some(progress.lag()),
        ),
        Some(Err(message)) => {
            tracing::debug!(pipeline = %key, %message, "cannot measure the serving group");
            (None, None)
        }
        None => (None, None),
    };
    let status = ServingStatus {
        replicas: format!("{}/{}", workload.ready, workload.desired),
        ready: workload.ready > 0,
        url: crate::workloads::serving_url(p),
        writes_per_second,
        lag,
        redis_address: p
            .serving
            .as_ref()
            .map(|s| s.redis_address.clone())
            .unwrap_or_default(),
        managed_redis_replicas: managed_redis.map(|r| format!("{}/{}", r.ready, r.desired)),
    };
    Some((
        ServingObservation {
            workload,
            managed_redis,
            lag,
        },
        status,
    ))
}

/// Samples both consumer groups of the processor into their windows and
/// judges them: its group on the input topic, and its merge stage's on
/// the partials topic (when its commits could be read). Both stages run
/// in the same pods, so the processor group's members stand for both.
fn judge_groups(
    ctx: &Context,
    key: &str,
    p: &ValidatedPipeline,
    sample: &LagSample,
    merge: Option<&Vec<MergeCommit>>,
) -> Vec<Judged> {
    let at = std::time::Instant::now();
    let window = ctx.settings.lag_window;
    let mut groups = vec![(
        p.consumer_group.clone(),
        p.topic_name(TopicRole::Input).to_string(),
        GroupSample {
            at,
            partitions: sample
                .partitions
                .iter()
                .map(|p| PartitionPoint {
                    partition: p.partition,
                    committed: p.committed_offset,
                    lag: p.lag,
                })
                .collect(),
            active_members: sample.group_members,
        },
    )];
    if let Some(commits) = merge {
        groups.push((
            merge_group(p),
            p.topic_name(TopicRole::Partials).to_string(),
            GroupSample {
                at,
                partitions: partials_partitions(commits)
                    .iter()
                    .map(|c| {
                        // Where stage 2 is, as the merge summary reads it.
                        let position = c.checkpoint.as_ref().map(|c| c.position).or(c.committed);
                        PartitionPoint {
                            partition: c.partition,
                            committed: position,
                            lag: (c.end_offset - position.unwrap_or(0)).max(0),
                        }
                    })
                    .collect(),
                active_members: sample.group_members,
            },
        ));
    }
    groups
        .into_iter()
        .map(|(group, topic, sample)| {
            let judgement = ctx.state.judge_lag(key, &group, sample, window);
            Judged {
                verdict: GroupLagVerdict {
                    group,
                    topic,
                    verdict: judgement.verdict,
                    reason: judgement.reason,
                    partitions: judgement.partitions,
                    since: None,
                },
                settled: judgement.settled,
            }
        })
        .collect()
}

/// The worst verdict, and the groups that have it with their reasons.
fn lag_observation(verdicts: &[GroupLagVerdict]) -> Option<LagObservation> {
    let worst = verdicts.iter().map(|v| v.verdict).max()?;
    let message = verdicts
        .iter()
        .filter(|v| v.verdict == worst || worst == LagVerdict::Ok)
        .map(|v| format!("consumer group {}: {}", v.group, v.reason))
        .collect::<Vec<_>>()
        .join("; ");
    Some(LagObservation {
        verdict: worst,
        message,
    })
}

fn merge_group(p: &ValidatedPipeline) -> String {
    p.merge_group()
}

fn partials_partitions(commits: &[MergeCommit]) -> Vec<PartialsPartition> {
    commits
        .iter()
        .map(|c| PartialsPartition {
            partition: c.partition,
            end_offset: c.end_offset,
            committed: c.committed.as_ref().map(|(offset, _)| *offset),
            checkpoint: c
                .committed
                .as_ref()
                .and_then(|(_, metadata)| Checkpoint::decode(metadata)),
        })
        .collect()
}

/// The merge stage's summary into the status fields, and its health.
fn merge_observation(
    ctx: &Context,
    key: &str,
    p: &ValidatedPipeline,
    commits: &[MergeCommit],
    status: &mut ProcessorStatus,
) -> MergeObservation {
    let partitions = partials_partitions(commits);
    let summary = summarize(&partitions);
    let stalled_for = ctx.observe_merge(key, &summary);
    let now_ms = k8s_openapi::jiff::Timestamp::now().as_millisecond();
    let health = health(
        &summary,
        stalled_for,
        ctx.settings.merge_stall_timeout,
        now_ms,
    );
    let time = |ms: i64| {
        k8s_openapi::jiff::Timestamp::from_millisecond(ms)
            .ok()
            .map(Time)
    };
    status.merge_lag = Some(summary.lag);
    status.watermark = summary.watermark.and_then(time);
    status.watermark_held_by = summary
        .holding
        .iter()
        .map(|&(partition, event_time)| WatermarkHold {
            partition,
            event_time: event_time.and_then(time),
        })
        .collect();
    status.idle_partitions = Some(i32::try_from(summary.idle).unwrap_or(i32::MAX));
    MergeObservation {
        group: merge_group(p),
        health,
        watermark: summary.watermark.and_then(rfc3339),
        holding: describe_holding(&summary),
        idle: summary.idle,
    }
}

/// The processor pods' selector as a label query, `k=v,k=v`.
fn processor_selector(pipeline: &str) -> String {
    crate::workloads::selector_labels(pipeline, crate::workloads::Component::Processor)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

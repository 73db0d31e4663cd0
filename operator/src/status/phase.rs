use super::conditions::ConditionBuilder;
use super::merge::MergeHealth;
use super::serving_condition::{ServingObservation, serving_condition};
use super::{GENERATOR_READY, LAG_HEALTHY, MERGE_READY, PROCESSOR_READY, READY, TOPICS_READY};
use crate::crd::{LagVerdict, Phase};

/// What a reconcile saw, in the terms the status speaks.
#[derive(Clone, Debug, PartialEq)]
pub struct Observations {
    pub topics: TopicsState,
    /// `None` when the generator is disabled.
    pub generator: Option<WorkloadObservation>,
    /// `None` when serving is disabled.
    pub serving: Option<ServingObservation>,
    pub processor: ProcessorObservation,
    /// The processor's merge stage; `None` when it could not be read.
    pub merge: Option<MergeObservation>,
    /// The worst lag verdict over the processor's consumer groups; `None`
    /// when lag could not be measured.
    pub lag: Option<LagObservation>,
    /// Non-fatal findings, appended to the ProcessorReady message.
    pub warnings: Vec<String>,
    /// Objects of the pipeline's names that belong to someone else: the
    /// workloads were not applied, so their readiness says nothing.
    pub conflict: Option<String>,
    pub previous_phase: Option<Phase>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TopicsState {
    Ready,
    /// Being created or waiting for Strimzi; the message says which.
    Provisioning(String),
    /// A topic exists in a state the operator refuses to change.
    Conflict(String),
    /// Kafka (or Strimzi's topic) reported an error for a topic.
    Error(String),
    KafkaUnreachable(String),
    /// Kafka refused the pipeline's credentials, TLS handshake or (by ACL)
    /// request; `reason` is `AuthenticationFailed`, `TlsHandshakeFailed` or
    /// `AuthorizationFailed`, the condition's reason.
    KafkaRefused {
        reason: &'static str,
        message: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorkloadObservation {
    pub ready: i32,
    pub desired: i32,
}

/// The processor's stage 2, from its commits on the partials topic.
#[derive(Clone, Debug, PartialEq)]
pub struct MergeObservation {
    pub group: String,
    pub health: MergeHealth,
    /// RFC 3339 event time up to which windows are final.
    pub watermark: Option<String>,
    /// Which input partitions hold the watermark back, in words; empty
    /// when none do.
    pub holding: String,
    pub idle: usize,
}

/// The lag verdicts, summed up for the LagHealthy condition.
#[derive(Clone, Debug, PartialEq)]
pub struct LagObservation {
    pub verdict: LagVerdict,
    /// Each group with the worst verdict and its reason.
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProcessorObservation {
    pub workload: WorkloadObservation,
    /// Active members of the consumer group; `None` when Kafka could not be
    /// asked, which is never reported as ready.
    pub group_members: Option<usize>,
}

pub fn derive_conditions(o: &Observations) -> Vec<ConditionBuilder> {
    let topics = topics_condition(&o.topics);
    let generator = generator_condition(o.generator);
    let mut processor = processor_condition(o.processor);
    if !o.warnings.is_empty() {
        processor.message = format!("{}; {}", processor.message, o.warnings.join("; "));
    }

    if let Some(conflict) = &o.conflict {
        let blocked = |type_| ConditionBuilder::new(type_, false, "Conflict", conflict.clone());
        return vec![
            topics,
            blocked(GENERATOR_READY),
            blocked(PROCESSOR_READY),
            blocked(READY),
        ];
    }

    let merge = merge_condition(o.merge.as_ref());
    let lag = lag_condition(o.lag.as_ref());
    let serving = serving_condition(o.serving.as_ref());
    let parts = [&topics, &generator, &processor, &merge, &lag, &serving];
    let ready = match parts.iter().find(|c| !c.status) {
        None => ConditionBuilder::new(
            READY,
            true,
            "PipelineRunning",
            "topics ready, processor consuming",
        ),
        Some(first) => ConditionBuilder::new(
            READY,
            false,
            first.reason,
            format!("{}: {}", first.type_, first.message),
        ),
    };
    vec![topics, generator, processor, merge, lag, serving, ready]
}

/// True on OK and WARN (a growing lag is worth a look, not an outage);
/// False on STALL and STOP, which degrade a running pipeline.
fn lag_condition(lag: Option<&LagObservation>) -> ConditionBuilder {
    let Some(l) = lag else {
        return ConditionBuilder::new(
            LAG_HEALTHY,
            false,
            "LagUnknown",
            "the consumer groups' lag could not be measured",
        );
    };
    let (status, reason) = match l.verdict {
        LagVerdict::Ok => (true, "LagOK"),
        LagVerdict::Warn => (true, "LagGrowing"),
        LagVerdict::Stall => (false, "LagStalled"),
        LagVerdict::Stop => (false, "ConsumerStopped"),
    };
    ConditionBuilder::new(LAG_HEALTHY, status, reason, l.message.clone())
}

fn topics_condition(topics: &TopicsState) -> ConditionBuilder {
    match topics {
        TopicsState::Ready => ConditionBuilder::new(
            TOPICS_READY,
            true,
            "TopicsReady",
            "all topics exist and match the spec",
        ),
        TopicsState::Provisioning(m) => {
            ConditionBuilder::new(TOPICS_READY, false, "Provisioning", m.clone())
        }
        TopicsState::Conflict(m) => {
            ConditionBuilder::new(TOPICS_READY, false, "TopicConflict", m.clone())
        }
        TopicsState::Error(m) => {
            ConditionBuilder::new(TOPICS_READY, false, "TopicError", m.clone())
        }
        TopicsState::KafkaUnreachable(m) => {
            ConditionBuilder::new(TOPICS_READY, false, "KafkaUnreachable", m.clone())
        }
        TopicsState::KafkaRefused { reason, message } => {
            ConditionBuilder::new(TOPICS_READY, false, reason, message.clone())
        }
    }
}

fn generator_condition(generator: Option<WorkloadObservation>) -> ConditionBuilder {
    match generator {
        None => ConditionBuilder::new(
            GENERATOR_READY,
            true,
            "Disabled",
            "the generator is disabled in the spec",
        ),
        Some(w) if w.desired == 0 => ConditionBuilder::new(
            GENERATOR_READY,
            true,
            "ScaledToZero",
            "the generator has 0 replicas",
        ),
        Some(w) if w.ready >= w.desired => ConditionBuilder::new(
            GENERATOR_READY,
            true,
            "Ready",
            format!("{}/{} replicas ready", w.ready, w.desired),
        ),
        Some(w) => ConditionBuilder::new(
            GENERATOR_READY,
            false,
            "ReplicasNotReady",
            format!("{}/{} replicas ready", w.ready, w.desired),
        ),
    }
}

/// Ready only with every replica ready and live members in the consumer
/// group (pods can be ready while nothing consumes).
fn processor_condition(p: ProcessorObservation) -> ConditionBuilder {
    let replicas = format!("{}/{} replicas ready", p.workload.ready, p.workload.desired);
    if p.workload.desired == 0 {
        return ConditionBuilder::new(
            PROCESSOR_READY,
            false,
            "ScaledToZero",
            "the processor has 0 replicas: nothing consumes the input topic",
        );
    }
    if p.workload.ready < p.workload.desired {
        return ConditionBuilder::new(PROCESSOR_READY, false, "ReplicasNotReady", replicas);
    }
    match p.group_members {
        None => ConditionBuilder::new(
            PROCESSOR_READY,
            false,
            "LagUnknown",
            format!("{replicas}, but the consumer group could not be read from Kafka"),
        ),
        Some(0) => ConditionBuilder::new(
            PROCESSOR_READY,
            false,
            "NoActiveConsumers",
            format!("{replicas}, but the consumer group has no active members"),
        ),
        Some(n) => ConditionBuilder::new(
            PROCESSOR_READY,
            true,
            "Consuming",
            format!("{replicas}, {n} active consumers"),
        ),
    }
}

fn merge_condition(merge: Option<&MergeObservation>) -> ConditionBuilder {
    let Some(m) = merge else {
        return ConditionBuilder::new(
            MERGE_READY,
            false,
            "MergeUnknown",
            "the merge stage's progress could not be read from Kafka",
        );
    };
    let mut context = Vec::new();
    if let Some(w) = &m.watermark {
        context.push(format!("windows final up to {w}"));
    }
    if !m.holding.is_empty() {
        context.push(format!("watermark held back by {}", m.holding));
    }
    if m.idle > 0 {
        context.push(format!("{} idle input partitions left out", m.idle));
    }
    let context = if context.is_empty() {
        String::new()
    } else {
        format!("; {}", context.join("; "))
    };
    match &m.health {
        MergeHealth::Merging { lag } => ConditionBuilder::new(
            MERGE_READY,
            true,
            "Merging",
            format!("merge lag {lag} records{context}"),
        ),
        MergeHealth::Stalled { lag, stalled_for } => ConditionBuilder::new(
            MERGE_READY,
            false,
            "MergeStalled",
            format!(
                "the merge stage (consumer group {}) made no progress for {} s while {lag} \
                 partials records waited{context}",
                m.group,
                stalled_for.as_secs()
            ),
        ),
        MergeHealth::MemoryBound { ago } => ConditionBuilder::new(
            MERGE_READY,
            false,
            "MemoryBoundReached",
            format!(
                "the merge stage closed windows early {} s ago at its memory bound: their \
                 results lack events that arrived later (counted as late); raise the \
                 processor's memory limit, or let idle partitions time out \
                 (idlePartitionTimeoutSeconds){context}",
                ago.as_secs()
            ),
        ),
    }
}

/// The phase summarises the conditions for `kubectl get`.
pub fn derive_phase(o: &Observations, conditions: &[ConditionBuilder]) -> Phase {
    let ready = conditions.iter().any(|c| c.type_ == READY && c.status);
    if ready {
        return Phase::Running;
    }
    let was_running = matches!(
        o.previous_phase,
        Some(Phase::Running) | Some(Phase::Degraded)
    );
    if o.conflict.is_some() {
        return Phase::Degraded;
    }
    match &o.topics {
        TopicsState::Conflict(_) | TopicsState::Error(_) => Phase::Degraded,
        TopicsState::KafkaUnreachable(_) | TopicsState::KafkaRefused { .. } if was_running => {
            Phase::Degraded
        }
        _ if was_running => Phase::Degraded,
        _ => Phase::Provisioning,
    }
}

#[cfg(test)]
mod tests {
    use super::super::merge::MergeHealth;
    use super::*;

    fn healthy() -> Observations {
        Observations {
            topics: TopicsState::Ready,
            generator: Some(WorkloadObservation {
                ready: 1,
                desired: 1,
            }),
            serving: None,
            processor: ProcessorObservation {
                workload: WorkloadObservation {
                    ready: 2,
                    desired: 2,
                },
                group_members: Some(2),
            },
            merge: Some(MergeObservation {
                group: "g-merge".into(),
                health: MergeHealth::Merging { lag: 0 },
                watermark: None,
                holding: String::new(),
                idle: 0,
            }),
            lag: Some(LagObservation {
                verdict: LagVerdict::Ok,
                message: "consumer group g: caught up".into(),
            }),
            warnings: vec![],
            previous_phase: Some(Phase::Provisioning),
            conflict: None,
        }
    }

    #[test]
    fn stall_and_stop_degrade_a_running_pipeline_and_warn_does_not() {
        let mut o = healthy();
        o.previous_phase = Some(Phase::Running);
        let with = |verdict| LagObservation {
            verdict,
            message: format!("consumer group g: {verdict:?}"),
        };
        o.lag = Some(with(LagVerdict::Warn));
        let c = derive_conditions(&o);
        assert_eq!(
            (find(&c, LAG_HEALTHY).status, find(&c, LAG_HEALTHY).reason),
            (true, "LagGrowing")
        );
        assert_eq!(derive_phase(&o, &c), Phase::Running);
        for (verdict, reason) in [
            (LagVerdict::Stall, "LagStalled"),
            (LagVerdict::Stop, "ConsumerStopped"),
        ] {
            o.lag = Some(with(verdict));
            let c = derive_conditions(&o);
            let lag = find(&c, LAG_HEALTHY);
            assert_eq!((lag.status, lag.reason), (false, reason));
            assert_eq!(find(&c, READY).reason, reason);
            assert!(
                find(&c, READY)
                    .message
                    .starts_with("LagHealthy: consumer group g")
            );
            assert_eq!(derive_phase(&o, &c), Phase::Degraded);
        }
    }

    #[test]
    fn a_stalled_merge_degrades_a_running_pipeline() {
        let mut o = healthy();
        o.previous_phase = Some(Phase::Running);
        o.merge = Some(MergeObservation {
            group: "g-merge".into(),
            health: MergeHealth::Stalled {
                lag: 500,
                stalled_for: std::time::Duration::from_secs(75),
            },
            watermark: Some("2026-01-01T00:00:00Z".into()),
            holding: "input partition 4 (no data yet)".into(),
            idle: 0,
        });
        let c = derive_conditions(&o);
        let merge = find(&c, MERGE_READY);
        assert_eq!((merge.status, merge.reason), (false, "MergeStalled"));
        assert!(
            merge.message.contains("75 s while 500"),
            "{}",
            merge.message
        );
        assert!(
            merge.message.contains("input partition 4"),
            "{}",
            merge.message
        );
        assert_eq!(find(&c, READY).reason, "MergeStalled");
        assert_eq!(derive_phase(&o, &c), Phase::Degraded);
    }

    #[test]
    fn windows_closed_at_the_memory_bound_degrade_and_say_what_to_do() {
        let mut o = healthy();
        o.previous_phase = Some(Phase::Running);
        o.merge = Some(MergeObservation {
            group: "g-merge".into(),
            health: MergeHealth::MemoryBound {
                ago: std::time::Duration::from_secs(30),
            },
            watermark: None,
            holding: String::new(),
            idle: 0,
        });
        let c = derive_conditions(&o);
        let merge = find(&c, MERGE_READY);
        assert_eq!((merge.status, merge.reason), (false, "MemoryBoundReached"));
        assert!(merge.message.contains("memory limit"));
        assert_eq!(derive_phase(&o, &c), Phase::Degraded);
    }

    #[test]
    fn a_merging_pipeline_names_what_holds_its_watermark() {
        let mut o = healthy();
        o.merge = Some(MergeObservation {
            group: "g-merge".into(),
            health: MergeHealth::Merging { lag: 3 },
            watermark: Some("2026-01-01T00:00:00Z".into()),
            holding: "input partition 2 (no data yet)".into(),
            idle: 1,
        });
        let c = derive_conditions(&o);
        let merge = find(&c, MERGE_READY);
        assert!(merge.status);
        assert_eq!(
            merge.message,
            "merge lag 3 records; windows final up to 2026-01-01T00:00:00Z; watermark held back \
             by input partition 2 (no data yet); 1 idle input partitions left out"
        );
        assert_eq!(derive_phase(&o, &c), Phase::Running);
    }

    fn find<'a>(c: &'a [ConditionBuilder], t: &str) -> &'a ConditionBuilder {
        c.iter().find(|c| c.type_ == t).expect("condition present")
    }

    #[test]
    fn healthy_pipeline_runs() {
        let o = healthy();
        let c = derive_conditions(&o);
        assert!(c.iter().all(|c| c.status), "{c:?}");
        assert_eq!(derive_phase(&o, &c), Phase::Running);
    }

    #[test]
    fn stopped_processor_degrades_a_running_pipeline() {
        let mut o = healthy();
        o.previous_phase = Some(Phase::Running);
        o.processor.group_members = Some(0);
        let c = derive_conditions(&o);
        let p = find(&c, PROCESSOR_READY);
        assert_eq!((p.status, p.reason), (false, "NoActiveConsumers"));
        let ready = find(&c, READY);
        assert_eq!((ready.status, ready.reason), (false, "NoActiveConsumers"));
        assert_eq!(derive_phase(&o, &c), Phase::Degraded);
    }

    #[test]
    fn unreachable_kafka_is_never_ready() {
        let mut o = healthy();
        o.topics = TopicsState::KafkaUnreachable("connection refused".into());
        o.processor.group_members = None;
        let c = derive_conditions(&o);
        assert_eq!(find(&c, TOPICS_READY).reason, "KafkaUnreachable");
        assert_eq!(find(&c, PROCESSOR_READY).reason, "LagUnknown");
        assert!(!find(&c, READY).status);
        assert_eq!(derive_phase(&o, &c), Phase::Provisioning);
        o.previous_phase = Some(Phase::Running);
        assert_eq!(derive_phase(&o, &c), Phase::Degraded);
    }

    #[test]
    fn topic_conflict_degrades_and_explains() {
        let mut o = healthy();
        o.topics =
            TopicsState::Conflict("topic shop-input has 6 partitions, the spec asks for 3".into());
        let c = derive_conditions(&o);
        let ready = find(&c, READY);
        assert_eq!(ready.reason, "TopicConflict");
        assert!(ready.message.contains("6 partitions"));
        assert_eq!(derive_phase(&o, &c), Phase::Degraded);
    }

    #[test]
    fn disabled_generator_is_ready_and_idle_replicas_are_reported() {
        let mut o = healthy();
        o.generator = None;
        o.warnings = vec!["5 processor replicas but only 3 input partitions".into()];
        let c = derive_conditions(&o);
        assert_eq!(find(&c, GENERATOR_READY).reason, "Disabled");
        assert!(
            find(&c, PROCESSOR_READY)
                .message
                .contains("only 3 input partitions")
        );
        assert_eq!(derive_phase(&o, &c), Phase::Running);
    }

    #[test]
    fn an_object_in_the_way_blocks_the_workloads() {
        let mut o = healthy();
        o.conflict = Some("ConfigMap team-a/shop-config already exists".into());
        let c = derive_conditions(&o);
        assert!(find(&c, TOPICS_READY).status, "topics are not affected");
        for t in [GENERATOR_READY, PROCESSOR_READY, READY] {
            let condition = find(&c, t);
            assert_eq!((condition.status, condition.reason), (false, "Conflict"));
            assert!(condition.message.contains("shop-config"));
        }
        assert_eq!(derive_phase(&o, &c), Phase::Degraded);
    }

    #[test]
    fn new_pipeline_is_provisioning() {
        let mut o = healthy();
        o.previous_phase = None;
        o.processor.workload.ready = 0;
        let c = derive_conditions(&o);
        assert_eq!(derive_phase(&o, &c), Phase::Provisioning);
    }
}

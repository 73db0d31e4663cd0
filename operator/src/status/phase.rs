use super::conditions::ConditionBuilder;
use super::{GENERATOR_READY, PROCESSOR_READY, READY, TOPICS_READY};
use crate::crd::Phase;

/// What a reconcile saw, in the terms the status speaks.
#[derive(Clone, Debug, PartialEq)]
pub struct Observations {
    pub topics: TopicsState,
    /// `None` when the generator is disabled.
    pub generator: Option<WorkloadObservation>,
    pub processor: ProcessorObservation,
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
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorkloadObservation {
    pub ready: i32,
    pub desired: i32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProcessorObservation {
    pub workload: WorkloadObservation,
    /// Active members of the consumer group; `None` when Kafka could not be
    /// asked, which is never reported as ready.
    pub group_members: Option<usize>,
}

pub fn derive_conditions(o: &Observations) -> Vec<ConditionBuilder> {
    let topics = match &o.topics {
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
    };

    let generator = match o.generator {
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
    };

    let p = o.processor;
    let replicas = format!("{}/{} replicas ready", p.workload.ready, p.workload.desired);
    let mut processor = if p.workload.desired == 0 {
        ConditionBuilder::new(
            PROCESSOR_READY,
            false,
            "ScaledToZero",
            "the processor has 0 replicas: nothing consumes the input topic",
        )
    } else if p.workload.ready < p.workload.desired {
        ConditionBuilder::new(PROCESSOR_READY, false, "ReplicasNotReady", replicas)
    } else {
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
    };
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

    let parts = [&topics, &generator, &processor];
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
    vec![topics, generator, processor, ready]
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
        TopicsState::KafkaUnreachable(_) if was_running => Phase::Degraded,
        _ if was_running => Phase::Degraded,
        _ => Phase::Provisioning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Observations {
        Observations {
            topics: TopicsState::Ready,
            generator: Some(WorkloadObservation {
                ready: 1,
                desired: 1,
            }),
            processor: ProcessorObservation {
                workload: WorkloadObservation {
                    ready: 2,
                    desired: 2,
                },
                group_members: Some(2),
            },
            warnings: vec![],
            previous_phase: Some(Phase::Provisioning),
            conflict: None,
        }
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

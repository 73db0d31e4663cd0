//! The `ServingReady` condition: whether the serving component writes the
//! results to Redis. A serving pod is ready only while it reaches both
//! Kafka and Redis (its `/readyz`), so ready pods mean writes flow. With a
//! managed Redis, its pod's readiness comes first: while it is not ready
//! (claim not bound, image not pulled, loading its data) the condition says
//! so rather than pointing at the serving pods. A change of the
//! condition's status is an Event ([`serving_ready_change`]).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::{ConditionBuilder, SERVING_READY, WorkloadObservation};

#[derive(Clone, Debug, PartialEq)]
pub struct ServingObservation {
    pub workload: WorkloadObservation,
    /// The managed Redis's StatefulSet; `None` with an existing Redis.
    pub managed_redis: Option<WorkloadObservation>,
    /// Output records not written to Redis yet; `None` when not measured.
    pub lag: Option<i64>,
}

pub fn serving_condition(serving: Option<&ServingObservation>) -> ConditionBuilder {
    let Some(s) = serving else {
        return ConditionBuilder::new(
            SERVING_READY,
            true,
            "Disabled",
            "serving is disabled in the spec",
        );
    };
    let pods = format!(
        "{}/{} serving pods ready",
        s.workload.ready, s.workload.desired
    );
    if s.workload.desired == 0 {
        return ConditionBuilder::new(
            SERVING_READY,
            true,
            "ScaledToZero",
            "serving has 0 replicas",
        );
    }
    if let Some(redis) = s.managed_redis.filter(|r| r.ready < r.desired) {
        return ConditionBuilder::new(
            SERVING_READY,
            false,
            "RedisNotReady",
            format!(
                "{pods}; the managed Redis has {}/{} pods ready: its pod waits for its \
                 PersistentVolumeClaim to be bound, its image, or the loading of its data \
                 (kubectl describe pod of the <pipeline>-redis StatefulSet)",
                redis.ready, redis.desired
            ),
        );
    }
    if s.workload.ready == 0 {
        return ConditionBuilder::new(
            SERVING_READY,
            false,
            "NotReady",
            format!(
                "{pods}: a serving pod is ready only while it reaches Kafka and Redis; \
                 its log and /readyz say which is missing"
            ),
        );
    }
    let message = match s.lag {
        Some(lag) => format!("{pods}; {lag} output records not written to Redis yet"),
        None => pods,
    };
    ConditionBuilder::new(SERVING_READY, true, "Ready", message)
}

/// An Event for a change of `ServingReady`'s status.
#[derive(Clone, Debug, PartialEq)]
pub struct ServingReadyChange {
    /// True → False is a Warning; False → True is Normal.
    pub warning: bool,
    /// The Event's reason: `ServingReady` or `ServingNotReady`.
    pub reason: &'static str,
    pub note: String,
}

/// The change of `ServingReady`'s status between the previous conditions
/// and the new ones, if any. A condition seen for the first time is a
/// change only when it is False (as with the lag verdicts): a new pipeline
/// whose serving is ready says nothing, one whose serving is not says why.
/// The status written last is the memory, so an operator restart neither
/// repeats nor loses a change.
pub fn serving_ready_change(
    previous: &[Condition],
    next: &[Condition],
) -> Option<ServingReadyChange> {
    let next = next.iter().find(|c| c.type_ == SERVING_READY)?;
    let before = previous.iter().find(|c| c.type_ == SERVING_READY);
    let ready = next.status == "True";
    match before {
        Some(before) if before.status == next.status => return None,
        None if ready => return None,
        _ => {}
    }
    let from = before.map_or("none", |b| b.status.as_str());
    Some(ServingReadyChange {
        warning: !ready,
        reason: if ready {
            "ServingReady"
        } else {
            "ServingNotReady"
        },
        note: format!(
            "ServingReady {from} → {} ({}): {}",
            next.status, next.reason, next.message
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(ready: i32, desired: i32, lag: Option<i64>) -> ServingObservation {
        ServingObservation {
            workload: WorkloadObservation { ready, desired },
            managed_redis: None,
            lag,
        }
    }

    fn condition(status: &str, reason: &str) -> Condition {
        Condition {
            type_: SERVING_READY.into(),
            status: status.into(),
            reason: reason.into(),
            message: format!("{reason} message"),
            last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ),
            observed_generation: None,
        }
    }

    #[test]
    fn a_managed_redis_that_is_not_ready_comes_first() {
        let mut s = observed(0, 1, None);
        s.managed_redis = Some(WorkloadObservation {
            ready: 0,
            desired: 1,
        });
        let c = serving_condition(Some(&s));
        assert!(!c.status);
        assert_eq!(c.reason, "RedisNotReady");
        assert!(c.message.contains("0/1 pods ready"), "{}", c.message);

        s.managed_redis = Some(WorkloadObservation {
            ready: 1,
            desired: 1,
        });
        assert_eq!(serving_condition(Some(&s)).reason, "NotReady");
        s.workload.ready = 1;
        assert_eq!(serving_condition(Some(&s)).reason, "Ready");
    }

    #[test]
    fn status_changes_are_events_and_the_rest_is_not() {
        let ready = condition("True", "Ready");
        let not_ready = condition("False", "RedisNotReady");
        let other = Condition {
            type_: "Ready".into(),
            ..condition("False", "X")
        };

        let down = serving_ready_change(
            std::slice::from_ref(&ready),
            &[other.clone(), not_ready.clone()],
        )
        .expect("a change");
        assert!(down.warning);
        assert_eq!(down.reason, "ServingNotReady");
        assert_eq!(
            down.note,
            "ServingReady True → False (RedisNotReady): RedisNotReady message"
        );
        let up = serving_ready_change(
            std::slice::from_ref(&not_ready),
            std::slice::from_ref(&ready),
        )
        .expect("a change");
        assert!(!up.warning);
        assert_eq!(up.reason, "ServingReady");

        // Same status, another reason or message: no Event.
        let other_reason = condition("False", "NotReady");
        assert_eq!(
            serving_ready_change(std::slice::from_ref(&not_ready), &[other_reason]),
            None
        );
        assert_eq!(
            serving_ready_change(std::slice::from_ref(&ready), std::slice::from_ref(&ready)),
            None
        );
        // First seen: only a False one is news.
        assert_eq!(
            serving_ready_change(&[], std::slice::from_ref(&ready)),
            None
        );
        let first = serving_ready_change(&[other], &[not_ready]).expect("a change");
        assert!(
            first.note.starts_with("ServingReady none → False"),
            "{}",
            first.note
        );
        // No ServingReady now (a failed reconcile keeps the old list): nothing.
        assert_eq!(serving_ready_change(&[ready], &[]), None);
    }

    #[test]
    fn reasons_follow_the_pods() {
        let c = serving_condition(None);
        assert!(c.status);
        assert_eq!(c.reason, "Disabled");

        let c = serving_condition(Some(&observed(0, 2, None)));
        assert!(!c.status);
        assert_eq!(c.reason, "NotReady");
        assert!(
            c.message.starts_with("0/2 serving pods ready"),
            "{}",
            c.message
        );
        assert!(c.message.contains("Kafka and Redis"), "{}", c.message);

        let c = serving_condition(Some(&observed(1, 2, Some(42))));
        assert!(c.status);
        assert_eq!(c.reason, "Ready");
        assert_eq!(
            c.message,
            "1/2 serving pods ready; 42 output records not written to Redis yet"
        );

        let c = serving_condition(Some(&observed(0, 0, None)));
        assert!(c.status);
        assert_eq!(c.reason, "ScaledToZero");
    }
}

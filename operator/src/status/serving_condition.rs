//! The `ServingReady` condition: whether the serving component writes the
//! results to Redis. A serving pod is ready only while it reaches both
//! Kafka and Redis (its `/readyz`), so ready pods mean writes flow.

use super::{ConditionBuilder, SERVING_READY, WorkloadObservation};

#[derive(Clone, Debug, PartialEq)]
pub struct ServingObservation {
    pub workload: WorkloadObservation,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(ready: i32, desired: i32, lag: Option<i64>) -> ServingObservation {
        ServingObservation {
            workload: WorkloadObservation { ready, desired },
            lag,
        }
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

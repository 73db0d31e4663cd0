use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// A condition before it meets the previous status: type, status, reason
/// and message. Transition time and generation are filled in by `merge`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConditionBuilder {
    pub type_: &'static str,
    pub status: bool,
    pub reason: &'static str,
    pub message: String,
}

impl ConditionBuilder {
    pub fn new(
        type_: &'static str,
        status: bool,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason,
            message: message.into(),
        }
    }
}

/// The new condition list: `lastTransitionTime` is kept from the previous
/// condition of the same type when its status did not change, so the time
/// says when the state began, not when it was last observed.
pub fn merge_conditions(
    previous: &[Condition],
    next: Vec<ConditionBuilder>,
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    next.into_iter()
        .map(|c| {
            let status = if c.status { "True" } else { "False" }.to_string();
            let last_transition_time = previous
                .iter()
                .find(|p| p.type_ == c.type_ && p.status == status)
                .map(|p| p.last_transition_time.clone())
                .unwrap_or_else(|| now.clone());
            Condition {
                type_: c.type_.to_string(),
                status,
                reason: c.reason.to_string(),
                // Kubernetes caps condition messages at 32768 bytes.
                message: truncate(&c.message, 32_000),
                last_transition_time,
                observed_generation: generation,
            }
        })
        .collect()
}

/// The conditions after an error that ended the reconcile early: `Ready`
/// turns False with the error's reason and message; every other condition
/// keeps what it last said, because the reconcile never re-checked it.
pub fn ready_false_after_error(
    previous: &[Condition],
    reason: &'static str,
    message: String,
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    let mut conditions: Vec<_> = previous
        .iter()
        .filter(|c| c.type_ != super::READY)
        .cloned()
        .collect();
    conditions.extend(merge_conditions(
        previous,
        vec![ConditionBuilder::new(super::READY, false, reason, message)],
        generation,
        now,
    ));
    conditions
}

fn truncate(message: &str, max: usize) -> String {
    if message.len() <= max {
        return message.to_string();
    }
    let mut end = max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(secs).expect("valid time"))
    }

    #[test]
    fn an_error_turns_only_ready_false() {
        let previous = merge_conditions(
            &[],
            vec![
                ConditionBuilder::new("TopicsReady", true, "TopicsReady", "8 topics"),
                ConditionBuilder::new(super::super::READY, true, "PipelineRunning", "ok"),
            ],
            Some(1),
            &time(100),
        );
        let next = ready_false_after_error(
            &previous,
            "KafkaError",
            "broker down".into(),
            Some(2),
            &time(200),
        );
        assert_eq!(next.len(), 2);
        assert_eq!(
            next[0], previous[0],
            "other conditions are kept as they were"
        );
        let ready = &next[1];
        assert_eq!(ready.type_, super::super::READY);
        assert_eq!(ready.status, "False");
        assert_eq!(ready.reason, "KafkaError");
        assert_eq!(ready.message, "broker down");
        assert_eq!(ready.last_transition_time, time(200));
        assert_eq!(ready.observed_generation, Some(2));
    }

    #[test]
    fn transition_time_survives_an_unchanged_status() {
        let first = merge_conditions(
            &[],
            vec![ConditionBuilder::new(
                "Ready",
                false,
                "Provisioning",
                "creating topics",
            )],
            Some(1),
            &time(100),
        );
        let second = merge_conditions(
            &first,
            vec![ConditionBuilder::new(
                "Ready",
                false,
                "ProcessorNotReady",
                "0/1 ready",
            )],
            Some(2),
            &time(200),
        );
        assert_eq!(second[0].last_transition_time, time(100));
        assert_eq!(second[0].reason, "ProcessorNotReady");
        assert_eq!(second[0].observed_generation, Some(2));

        let third = merge_conditions(
            &second,
            vec![ConditionBuilder::new("Ready", true, "Running", "all good")],
            Some(2),
            &time(300),
        );
        assert_eq!(third[0].last_transition_time, time(300));
        assert_eq!(third[0].status, "True");
    }

    #[test]
    fn long_messages_are_truncated_on_a_char_boundary() {
        let long = "ノ".repeat(20_000);
        let merged = merge_conditions(
            &[],
            vec![ConditionBuilder::new("Ready", false, "X", long)],
            None,
            &time(0),
        );
        assert!(merged[0].message.len() <= 32_003);
        assert!(merged[0].message.ends_with('…'));
    }
}

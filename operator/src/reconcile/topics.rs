//! Direct mode: topics created and changed through the Kafka admin API.
//! Only additive changes are made; anything destructive is refused with a
//! message that says why.

use std::collections::BTreeSet;

use crate::crd::TopicStatus;
use crate::error::Result;
use crate::kafka::{ExistingTopic, KafkaAdmin};
use crate::reconcile::validate::DesiredTopic;
use crate::status::TopicsState;

/// What happened to one topic.
#[derive(Clone, Debug, PartialEq)]
pub enum TopicAction {
    Unchanged,
    Created,
    PartitionsAdded { from: i32, to: i32 },
    Refused(String),
}

/// The decision for one topic, given what exists. Pure.
pub fn plan_topic(
    desired: &DesiredTopic,
    existing: Option<&ExistingTopic>,
    managed_before: bool,
) -> TopicAction {
    let Some(existing) = existing else {
        return TopicAction::Created;
    };
    if !managed_before
        && (existing.partitions != desired.partitions
            || existing.replication_factor != desired.replication_factor)
    {
        return TopicAction::Refused(format!(
            "topic {} already exists with {} partitions and replication factor {} and was not created by this pipeline; it is adopted only if it matches the spec ({} partitions, replication factor {})",
            desired.name,
            existing.partitions,
            existing.replication_factor,
            desired.partitions,
            desired.replication_factor
        ));
    }
    if existing.replication_factor != desired.replication_factor {
        return TopicAction::Refused(format!(
            "topic {} has replication factor {}, the spec asks for {}; the operator never reassigns replicas",
            desired.name, existing.replication_factor, desired.replication_factor
        ));
    }
    if existing.partitions > desired.partitions {
        return TopicAction::Refused(format!(
            "topic {} has {} partitions, the spec asks for {}; Kafka cannot remove partitions",
            desired.name, existing.partitions, desired.partitions
        ));
    }
    if existing.partitions < desired.partitions {
        return TopicAction::PartitionsAdded {
            from: existing.partitions,
            to: desired.partitions,
        };
    }
    TopicAction::Unchanged
}

/// Outcome of provisioning all topics.
pub struct TopicsOutcome {
    pub statuses: Vec<TopicStatus>,
    pub state: TopicsState,
    /// Human-readable changes made, for Events.
    pub changes: Vec<String>,
}

/// Brings every desired topic to the spec in Kafka. `managed` lists topic
/// names this pipeline created or adopted earlier (from its status).
///
/// Requests are batched (one CreateTopics for all missing topics, one
/// DescribeConfigs for all existing ones), so a pipeline costs a handful of
/// round trips however many topics it has.
pub async fn reconcile_topics(
    admin: &KafkaAdmin,
    desired: &[DesiredTopic],
    managed: &BTreeSet<String>,
) -> Result<TopicsOutcome> {
    let names: Vec<String> = desired.iter().map(|t| t.name.clone()).collect();
    let existing = admin.describe_topics(&names).await?;
    let actions: Vec<TopicAction> = desired
        .iter()
        .map(|t| plan_topic(t, existing.get(&t.name), managed.contains(&t.name)))
        .collect();

    let mut changes = Vec::new();
    let to_create: Vec<&DesiredTopic> = desired
        .iter()
        .zip(&actions)
        .filter(|(_, a)| matches!(a, TopicAction::Created))
        .map(|(t, _)| t)
        .collect();
    if !to_create.is_empty() {
        admin.create_topics(&to_create).await?;
        changes.extend(to_create.iter().map(|t| {
            format!(
                "created topic {} ({} partitions, replication {})",
                t.name, t.partitions, t.replication_factor
            )
        }));
    }
    for (topic, action) in desired.iter().zip(&actions) {
        if let TopicAction::PartitionsAdded { from, to } = action {
            admin.add_partitions(&topic.name, *to).await?;
            changes.push(format!("topic {}: partitions {from} → {to}", topic.name));
        }
    }

    // Config drift of topics that existed already (new ones got theirs at
    // creation).
    let config_checked: Vec<&DesiredTopic> = desired
        .iter()
        .zip(&actions)
        .filter(|(t, a)| {
            !t.config.is_empty()
                && matches!(
                    a,
                    TopicAction::Unchanged | TopicAction::PartitionsAdded { .. }
                )
        })
        .map(|(t, _)| t)
        .collect();
    if !config_checked.is_empty() {
        let check_names: Vec<String> = config_checked.iter().map(|t| t.name.clone()).collect();
        let current = admin.topic_configs(&check_names).await?;
        for topic in config_checked {
            let differs = current
                .get(&topic.name)
                .is_none_or(|current| topic.config.iter().any(|(k, v)| current.get(k) != Some(v)));
            if differs {
                admin.set_topic_config(&topic.name, &topic.config).await?;
                changes.push(format!("topic {}: config updated", topic.name));
            }
        }
    }

    let mut statuses = Vec::with_capacity(desired.len());
    let mut refused = Vec::new();
    for (topic, action) in desired.iter().zip(actions) {
        let current = existing.get(&topic.name);
        let (partitions, message) = match &action {
            TopicAction::Created => (Some(topic.partitions), None),
            TopicAction::PartitionsAdded { to, .. } => (Some(*to), None),
            TopicAction::Unchanged => (current.map(|c| c.partitions), None),
            TopicAction::Refused(why) => {
                refused.push(why.clone());
                (current.map(|c| c.partitions), Some(why.clone()))
            }
        };
        let ready = message.is_none();
        statuses.push(TopicStatus {
            role: topic.role.to_string(),
            name: topic.name.clone(),
            partitions,
            replication_factor: Some(
                current
                    .map(|c| c.replication_factor)
                    .unwrap_or(topic.replication_factor),
            ),
            ready,
            managed: ready || managed.contains(&topic.name),
            message,
        });
    }
    let state = if refused.is_empty() {
        TopicsState::Ready
    } else {
        TopicsState::Conflict(refused.join("; "))
    };
    Ok(TopicsOutcome {
        statuses,
        state,
        changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn desired(partitions: i32, rf: i32) -> DesiredTopic {
        DesiredTopic {
            role: "input",
            name: "shop-input".into(),
            partitions,
            replication_factor: rf,
            config: BTreeMap::new(),
        }
    }

    fn existing(partitions: i32, rf: i32) -> ExistingTopic {
        ExistingTopic {
            partitions,
            replication_factor: rf,
        }
    }

    #[test]
    fn missing_topics_are_created() {
        assert_eq!(
            plan_topic(&desired(3, 1), None, false),
            TopicAction::Created
        );
    }

    #[test]
    fn partitions_grow_on_managed_topics() {
        assert_eq!(
            plan_topic(&desired(6, 1), Some(&existing(3, 1)), true),
            TopicAction::PartitionsAdded { from: 3, to: 6 }
        );
    }

    #[test]
    fn partition_decrease_is_refused() {
        let TopicAction::Refused(why) = plan_topic(&desired(3, 1), Some(&existing(6, 1)), true)
        else {
            panic!("a decrease must be refused");
        };
        assert!(why.contains("Kafka cannot remove partitions"), "{why}");
    }

    #[test]
    fn replication_change_is_refused() {
        let TopicAction::Refused(why) = plan_topic(&desired(3, 3), Some(&existing(3, 1)), true)
        else {
            panic!("a replication change must be refused");
        };
        assert!(
            why.contains("replication factor 1, the spec asks for 3"),
            "{why}"
        );
    }

    #[test]
    fn foreign_topics_are_adopted_only_when_they_match() {
        assert_eq!(
            plan_topic(&desired(3, 1), Some(&existing(3, 1)), false),
            TopicAction::Unchanged
        );
        assert!(matches!(
            plan_topic(&desired(6, 1), Some(&existing(3, 1)), false),
            TopicAction::Refused(_)
        ));
    }
}

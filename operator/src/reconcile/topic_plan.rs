//! What to do with each topic, decided from the spec, what Kafka has and
//! what the status recorded. Pure: the I/O lives in `topics.rs` (direct
//! mode) and `strimzi.rs`.
//!
//! The rules:
//! - A missing topic is created, and recorded as `Created`.
//! - A topic that exists is managed (partitions added, the config keys the
//!   spec names set, deleted with `deletionPolicy: Delete`) only if the
//!   status records that this pipeline created it, or the spec adopts it
//!   (`adopt: true`). Otherwise it is `External`: used if it matches the
//!   spec, refused if it does not, and never changed.
//! - Refusals state partitions and replication factors (needed to fix the
//!   spec) and the names of the spec's config keys that differ, never
//!   another tenant's config values.
//! - A managed topic the spec no longer names (a rename) follows
//!   `deletionPolicy`: deleted, or released with an Event.

use std::collections::{BTreeMap, BTreeSet};

use crate::crd::{AnalyticsPipelineStatus, DeletionPolicy, RetiredTopic, TopicOrigin};
use crate::kafka::ExistingTopic;
use crate::model::DesiredTopic;

/// What the status recorded about topics, by Kafka name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordedTopics {
    origins: BTreeMap<String, TopicOrigin>,
}

impl RecordedTopics {
    pub fn from_status(status: Option<&AnalyticsPipelineStatus>) -> Self {
        let mut origins = BTreeMap::new();
        if let Some(status) = status {
            for retired in &status.retired_topics {
                origins.insert(retired.name.clone(), retired.origin);
            }
            for topic in &status.topics {
                if let Some(origin) = topic.recorded_origin() {
                    origins.insert(topic.name.clone(), origin);
                }
            }
        }
        Self { origins }
    }

    pub fn origin(&self, name: &str) -> Option<TopicOrigin> {
        self.origins.get(name).copied()
    }
}

/// Who manages a topic that exists: the pipeline if it created it (and the
/// status says so) or the spec adopts it; nobody otherwise.
pub fn origin_of_existing(desired: &DesiredTopic, recorded: Option<TopicOrigin>) -> TopicOrigin {
    match recorded {
        Some(TopicOrigin::Created) => TopicOrigin::Created,
        _ if desired.adopt => TopicOrigin::Adopted,
        // Adopted before, but no longer in the spec: released.
        _ => TopicOrigin::External,
    }
}

/// The decision for one topic.
#[derive(Clone, Debug, PartialEq)]
pub enum TopicAction {
    /// Missing: create it.
    Create,
    /// Exists and matches (a managed topic may first get more partitions).
    Use {
        origin: TopicOrigin,
        add_partitions: Option<(i32, i32)>,
    },
    /// Exists in a state the operator will not or cannot change.
    Refuse { origin: TopicOrigin, reason: String },
}

/// The decision for one topic, given what exists in Kafka and what the
/// status recorded for its name.
pub fn plan_topic(
    desired: &DesiredTopic,
    existing: Option<&ExistingTopic>,
    recorded: Option<TopicOrigin>,
) -> TopicAction {
    let Some(existing) = existing else {
        return TopicAction::Create;
    };
    let origin = origin_of_existing(desired, recorded);
    let name = &desired.name;
    let refuse = |reason: String| TopicAction::Refuse { origin, reason };
    let foreign = match origin {
        TopicOrigin::External => " was not created by this pipeline and",
        TopicOrigin::Created | TopicOrigin::Adopted => "",
    };
    if existing.replication_factor != desired.replication_factor {
        return refuse(format!(
            "topic {name}{foreign} has replication factor {}, the spec asks for {}; the operator never reassigns replicas",
            existing.replication_factor, desired.replication_factor
        ));
    }
    if existing.partitions > desired.partitions {
        return refuse(format!(
            "topic {name}{foreign} has {} partitions, the spec asks for {}; Kafka cannot remove partitions",
            existing.partitions, desired.partitions
        ));
    }
    if existing.partitions < desired.partitions {
        if origin == TopicOrigin::External {
            return refuse(format!(
                "topic {name} was not created by this pipeline and has {} partitions, the spec asks for {}; set adopt: true on the {} topic to let the pipeline add partitions, or ask for {}",
                existing.partitions,
                desired.partitions,
                desired.role.as_str(),
                existing.partitions
            ));
        }
        return TopicAction::Use {
            origin,
            add_partitions: Some((existing.partitions, desired.partitions)),
        };
    }
    TopicAction::Use {
        origin,
        add_partitions: None,
    }
}

/// The keys of `wanted` whose value in `current` differs: exactly what an
/// incremental config change must set. Keys the spec does not name are
/// never touched.
pub fn config_changes(
    wanted: &BTreeMap<String, String>,
    current: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    wanted
        .iter()
        .filter(|(key, value)| current.and_then(|c| c.get(*key)) != Some(*value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// Why an external topic whose config differs from the spec is refused:
/// names the spec's keys, never the topic's values.
pub fn external_config_refusal(desired: &DesiredTopic, differing: &BTreeSet<&str>) -> String {
    let keys: Vec<&str> = differing.iter().copied().collect();
    format!(
        "topic {} was not created by this pipeline and its config differs from the spec in {}; set adopt: true on the {} topic to let the pipeline set these keys, or remove them from the spec",
        desired.name,
        keys.join(", "),
        desired.role.as_str()
    )
}

/// What to do with the topics a previous status lists that the spec no
/// longer uses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Retirement {
    /// Managed topics to delete (`deletionPolicy: Delete`).
    pub delete: Vec<RetiredTopic>,
    /// Managed topics left in Kafka and forgotten (`Retain`).
    pub release: Vec<RetiredTopic>,
    /// External topics the pipeline stops using; nothing to do in Kafka.
    pub stop_using: Vec<String>,
}

pub fn plan_retirement(
    previous: Option<&AnalyticsPipelineStatus>,
    desired: &[DesiredTopic],
    policy: DeletionPolicy,
) -> Retirement {
    let mut plan = Retirement::default();
    let Some(previous) = previous else {
        return plan;
    };
    let in_use: BTreeSet<&str> = desired.iter().map(|t| t.name.as_str()).collect();
    let mut seen = BTreeSet::new();
    let candidates = previous
        .retired_topics
        .iter()
        .map(|t| (t.name.as_str(), t.role.as_str(), Some(t.origin)))
        .chain(
            previous
                .topics
                .iter()
                .map(|t| (t.name.as_str(), t.role.as_str(), t.recorded_origin())),
        );
    for (name, role, origin) in candidates {
        if in_use.contains(name) || !seen.insert(name) {
            continue;
        }
        match origin {
            Some(origin) if origin.is_managed() => {
                let retired = RetiredTopic {
                    name: name.to_string(),
                    role: role.to_string(),
                    origin,
                };
                match policy {
                    DeletionPolicy::Delete => plan.delete.push(retired),
                    DeletionPolicy::Retain => plan.release.push(retired),
                }
            }
            _ => plan.stop_using.push(name.to_string()),
        }
    }
    plan
}

/// The names a deletion with `deletionPolicy: Delete` removes: every topic
/// the status records as created or adopted, retired ones included.
pub fn managed_topic_names(status: Option<&AnalyticsPipelineStatus>) -> Vec<String> {
    let Some(status) = status else {
        return Vec::new();
    };
    let mut names = BTreeSet::new();
    for topic in &status.topics {
        if topic.recorded_origin().is_some_and(TopicOrigin::is_managed) {
            names.insert(topic.name.clone());
        }
    }
    for retired in &status.retired_topics {
        if retired.origin.is_managed() {
            names.insert(retired.name.clone());
        }
    }
    names.into_iter().collect()
}

/// Of `names`, those another pipeline still lists in its status, each with
/// those pipelines (`namespace/name`). Two pipelines that ran before topic
/// names carried the namespace may share topics, and each recorded them as
/// its own: deleting one must not delete what the other still uses.
pub fn used_elsewhere<'a>(
    names: &[String],
    others: impl IntoIterator<Item = (String, &'a AnalyticsPipelineStatus)>,
) -> BTreeMap<String, Vec<String>> {
    let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, status) in others {
        let listed = status
            .topics
            .iter()
            .map(|t| t.name.as_str())
            .chain(status.retired_topics.iter().map(|t| t.name.as_str()));
        for name in listed.filter(|n| wanted.contains(n)) {
            let entry = users.entry(name.to_string()).or_default();
            if !entry.contains(&key) {
                entry.push(key.clone());
            }
        }
    }
    users
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::TopicStatus;

    fn desired(partitions: i32, rf: i32) -> DesiredTopic {
        DesiredTopic {
            role: crate::model::TopicRole::Input,
            name: "team-a.shop.input".into(),
            partitions,
            replication_factor: rf,
            config: BTreeMap::new(),
            adopt: false,
        }
    }

    fn adopted(partitions: i32, rf: i32) -> DesiredTopic {
        DesiredTopic {
            adopt: true,
            ..desired(partitions, rf)
        }
    }

    fn existing(partitions: i32, rf: i32) -> ExistingTopic {
        ExistingTopic {
            partitions,
            replication_factor: rf,
        }
    }

    const CREATED: Option<TopicOrigin> = Some(TopicOrigin::Created);

    fn use_(origin: TopicOrigin) -> TopicAction {
        TopicAction::Use {
            origin,
            add_partitions: None,
        }
    }

    #[test]
    fn missing_topics_are_created() {
        assert_eq!(plan_topic(&desired(3, 1), None, None), TopicAction::Create);
        // Also when the status says it existed: someone deleted it.
        assert_eq!(
            plan_topic(&desired(3, 1), None, CREATED),
            TopicAction::Create
        );
    }

    #[test]
    fn a_foreign_topic_that_matches_is_used_but_not_managed() {
        assert_eq!(
            plan_topic(&desired(3, 1), Some(&existing(3, 1)), None),
            use_(TopicOrigin::External)
        );
        // Still external after an earlier reconcile recorded it so.
        assert_eq!(
            plan_topic(
                &desired(3, 1),
                Some(&existing(3, 1)),
                Some(TopicOrigin::External)
            ),
            use_(TopicOrigin::External)
        );
    }

    #[test]
    fn adopt_makes_a_foreign_topic_managed() {
        assert_eq!(
            plan_topic(&adopted(6, 1), Some(&existing(3, 1)), None),
            TopicAction::Use {
                origin: TopicOrigin::Adopted,
                add_partitions: Some((3, 6))
            }
        );
        // Dropping adopt releases it again.
        assert_eq!(
            plan_topic(
                &desired(3, 1),
                Some(&existing(3, 1)),
                Some(TopicOrigin::Adopted)
            ),
            use_(TopicOrigin::External)
        );
        // Created stays created, with or without adopt.
        assert_eq!(
            plan_topic(&adopted(3, 1), Some(&existing(3, 1)), CREATED),
            use_(TopicOrigin::Created)
        );
    }

    #[test]
    fn partitions_grow_only_on_managed_topics() {
        assert_eq!(
            plan_topic(&desired(6, 1), Some(&existing(3, 1)), CREATED),
            TopicAction::Use {
                origin: TopicOrigin::Created,
                add_partitions: Some((3, 6))
            }
        );
        let TopicAction::Refuse { origin, reason } =
            plan_topic(&desired(6, 1), Some(&existing(3, 1)), None)
        else {
            panic!("a foreign topic is never grown");
        };
        assert_eq!(origin, TopicOrigin::External);
        assert!(
            reason.contains("was not created by this pipeline"),
            "{reason}"
        );
        assert!(
            reason.contains("set adopt: true on the input topic"),
            "{reason}"
        );
    }

    #[test]
    fn partition_decrease_and_replication_change_are_refused() {
        let TopicAction::Refuse { reason, .. } =
            plan_topic(&desired(3, 1), Some(&existing(6, 1)), CREATED)
        else {
            panic!("a decrease must be refused");
        };
        assert!(
            reason.contains("Kafka cannot remove partitions"),
            "{reason}"
        );
        let TopicAction::Refuse { origin, reason } =
            plan_topic(&desired(3, 3), Some(&existing(3, 1)), CREATED)
        else {
            panic!("a replication change must be refused");
        };
        assert_eq!(origin, TopicOrigin::Created);
        assert!(
            reason.contains("replication factor 1, the spec asks for 3"),
            "{reason}"
        );
        let TopicAction::Refuse { reason, .. } =
            plan_topic(&adopted(3, 3), Some(&existing(3, 1)), None)
        else {
            panic!("adopting never reassigns replicas");
        };
        assert!(reason.contains("never reassigns replicas"), "{reason}");
    }

    #[test]
    fn config_changes_name_only_the_keys_that_differ() {
        let wanted = BTreeMap::from([
            ("retention.ms".to_string(), "3600000".to_string()),
            ("cleanup.policy".to_string(), "delete".to_string()),
        ]);
        let current = BTreeMap::from([
            ("retention.ms".to_string(), "7200000".to_string()),
            ("cleanup.policy".to_string(), "delete".to_string()),
            ("segment.bytes".to_string(), "1048576".to_string()),
        ]);
        assert_eq!(
            config_changes(&wanted, Some(&current)),
            BTreeMap::from([("retention.ms".to_string(), "3600000".to_string())])
        );
        assert_eq!(config_changes(&wanted, None), wanted);
        assert!(config_changes(&BTreeMap::new(), Some(&current)).is_empty());
    }

    #[test]
    fn external_config_refusals_name_keys_not_values() {
        let mut topic = desired(3, 1);
        topic.config = BTreeMap::from([("retention.ms".to_string(), "3600000".to_string())]);
        let why = external_config_refusal(&topic, &BTreeSet::from(["retention.ms"]));
        assert!(
            why.contains("differs from the spec in retention.ms"),
            "{why}"
        );
        assert!(!why.contains("3600000"), "{why}");
    }

    fn status(topics: &[(&str, &str, Option<TopicOrigin>, bool)]) -> AnalyticsPipelineStatus {
        AnalyticsPipelineStatus {
            topics: topics
                .iter()
                .map(|(role, name, origin, managed)| TopicStatus {
                    role: role.to_string(),
                    name: name.to_string(),
                    partitions: Some(3),
                    replication_factor: Some(1),
                    ready: true,
                    origin: *origin,
                    managed: *managed,
                    message: None,
                })
                .collect(),
            ..AnalyticsPipelineStatus::default()
        }
    }

    #[test]
    fn legacy_statuses_count_managed_topics_as_created() {
        let s = status(&[
            ("input", "shop-input", None, true),
            ("sales", "shop-sales", None, false),
        ]);
        let recorded = RecordedTopics::from_status(Some(&s));
        assert_eq!(recorded.origin("shop-input"), CREATED);
        assert_eq!(recorded.origin("shop-sales"), None);
        assert_eq!(managed_topic_names(Some(&s)), ["shop-input"]);
    }

    #[test]
    fn topics_another_pipeline_lists_are_found() {
        let staging = status(&[("input", "shop-input", None, true)]);
        let other = status(&[("input", "orders-input", CREATED, true)]);
        let names = vec!["shop-input".to_string(), "shop-sales".to_string()];
        let users = used_elsewhere(
            &names,
            [
                ("prod/shop".to_string(), &staging),
                ("prod/orders".to_string(), &other),
            ],
        );
        assert_eq!(
            users,
            BTreeMap::from([("shop-input".to_string(), vec!["prod/shop".to_string()])])
        );
    }

    #[test]
    fn renamed_topics_follow_the_deletion_policy() {
        let mut s = status(&[
            ("input", "old-input", Some(TopicOrigin::Created), true),
            ("sales", "old-sales", Some(TopicOrigin::External), false),
            ("hourly", "team-a.shop.hourly", CREATED, true),
        ]);
        s.retired_topics = vec![RetiredTopic {
            name: "older-input".into(),
            role: "input".into(),
            origin: TopicOrigin::Adopted,
        }];
        let mut hourly = desired(3, 1);
        hourly.role = crate::model::TopicRole::Hourly;
        hourly.name = "team-a.shop.hourly".into();
        let now = [desired(3, 1), hourly];

        let plan = plan_retirement(Some(&s), &now, DeletionPolicy::Delete);
        let names: Vec<&str> = plan.delete.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["older-input", "old-input"]);
        assert!(plan.release.is_empty());
        assert_eq!(plan.stop_using, ["old-sales"]);

        let plan = plan_retirement(Some(&s), &now, DeletionPolicy::Retain);
        assert!(plan.delete.is_empty());
        assert_eq!(plan.release.len(), 2);

        // Nothing renamed: nothing retired.
        assert_eq!(
            plan_retirement(None, &now, DeletionPolicy::Delete),
            Retirement::default()
        );
        assert_eq!(
            managed_topic_names(Some(&s)),
            ["old-input", "older-input", "team-a.shop.hourly"]
        );
    }
}

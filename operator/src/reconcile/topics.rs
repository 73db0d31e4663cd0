//! Direct mode: topics created and changed through the Kafka admin API,
//! following the decisions of `topic_plan.rs`. Only additive changes are
//! made, only to topics the pipeline manages; anything else is refused
//! with a message that says why.

use std::collections::{BTreeMap, BTreeSet};

use super::topic_plan::{
    RecordedTopics, TopicAction, config_changes, external_config_refusal, origin_of_existing,
    plan_topic,
};
use crate::crd::{TopicOrigin, TopicStatus};
use crate::error::Result;
use crate::kafka::{ExistingTopic, KafkaAdmin};
use crate::model::DesiredTopic;
use crate::status::TopicsState;

/// Outcome of provisioning all topics.
pub struct TopicsOutcome {
    pub statuses: Vec<TopicStatus>,
    pub state: TopicsState,
    /// Human-readable changes made, for Events.
    pub changes: Vec<String>,
    /// Whether topics were created: their origin must reach the status
    /// before anything else can fail.
    pub created: bool,
}

/// One topic's result, before it becomes a status entry.
struct Verdict {
    origin: TopicOrigin,
    partitions: Option<i32>,
    replication_factor: Option<i32>,
    /// `Some(why)` when the topic cannot be used as the spec asks.
    refused: Option<String>,
    /// `Some(what)` when it is not ready yet for a reason that resolves by
    /// itself.
    pending: Option<String>,
}

/// Brings every desired topic to the spec in Kafka, as far as the pipeline
/// may: see `topic_plan.rs`.
///
/// Requests are batched (one DescribeTopics, one CreateTopics for all
/// missing topics, one DescribeConfigs for all existing ones with a
/// `config`), so a pipeline costs a handful of round trips however many
/// topics it has.
pub async fn reconcile_topics(
    admin: &KafkaAdmin,
    desired: &[DesiredTopic],
    recorded: &RecordedTopics,
) -> Result<TopicsOutcome> {
    let names: Vec<String> = desired.iter().map(|t| t.name.clone()).collect();
    let existing = admin.describe_topics(&names).await?;
    let actions: Vec<TopicAction> = desired
        .iter()
        .map(|t| plan_topic(t, existing.get(&t.name), recorded.origin(&t.name)))
        .collect();

    let mut changes = Vec::new();
    let to_create: Vec<&DesiredTopic> = desired
        .iter()
        .zip(&actions)
        .filter(|(_, a)| matches!(a, TopicAction::Create))
        .map(|(t, _)| t)
        .collect();
    let raced = create_missing(admin, &to_create, &mut changes).await?;
    add_partitions(admin, desired, &actions, &mut changes).await?;
    let config_refusals = converge_configs(admin, desired, &actions, &mut changes).await?;

    let mut statuses = Vec::with_capacity(desired.len());
    let mut refused = Vec::new();
    let mut pending = Vec::new();
    for (topic, action) in desired.iter().zip(actions) {
        let raced = raced
            .contains(&topic.name)
            .then(|| origin_of_existing(topic, recorded.origin(&topic.name)));
        let verdict = verdict(topic, &action, existing.get(&topic.name), raced);
        let refusal = verdict
            .refused
            .or_else(|| config_refusals.get(topic.name.as_str()).cloned());
        if let Some(why) = &refusal {
            refused.push(why.clone());
        }
        if let Some(what) = &verdict.pending {
            pending.push(what.clone());
        }
        if let Some(change) = adoption_change(topic, recorded.origin(&topic.name), verdict.origin) {
            changes.push(change);
        }
        let message = refusal.or(verdict.pending);
        statuses.push(TopicStatus {
            role: topic.role.as_str().to_string(),
            name: topic.name.clone(),
            partitions: verdict.partitions,
            replication_factor: verdict.replication_factor,
            ready: message.is_none(),
            origin: Some(verdict.origin),
            managed: verdict.origin.is_managed(),
            message,
        });
    }
    let state = if !refused.is_empty() {
        TopicsState::Conflict(refused.join("; "))
    } else if !pending.is_empty() {
        TopicsState::Provisioning(pending.join("; "))
    } else {
        TopicsState::Ready
    };
    let created = to_create.len() > raced.len();
    Ok(TopicsOutcome {
        statuses,
        state,
        changes,
        created,
    })
}

/// Creates the missing topics in one request; returns the names someone
/// else created first (raced), which are then treated as existing.
async fn create_missing(
    admin: &KafkaAdmin,
    to_create: &[&DesiredTopic],
    changes: &mut Vec<String>,
) -> Result<BTreeSet<String>> {
    if to_create.is_empty() {
        return Ok(BTreeSet::new());
    }
    let raced: BTreeSet<String> = admin.create_topics(to_create).await?.into_iter().collect();
    changes.extend(
        to_create
            .iter()
            .filter(|t| !raced.contains(&t.name))
            .map(|t| {
                format!(
                    "created topic {} ({} partitions, replication {})",
                    t.name, t.partitions, t.replication_factor
                )
            }),
    );
    Ok(raced)
}

/// Grows the topics the plan grows.
async fn add_partitions(
    admin: &KafkaAdmin,
    desired: &[DesiredTopic],
    actions: &[TopicAction],
    changes: &mut Vec<String>,
) -> Result<()> {
    for (topic, action) in desired.iter().zip(actions) {
        if let TopicAction::Use {
            add_partitions: Some((from, to)),
            ..
        } = action
        {
            admin.add_partitions(&topic.name, *to).await?;
            changes.push(format!("topic {}: partitions {from} → {to}", topic.name));
        }
    }
    Ok(())
}

/// Config of topics that existed already (new ones got theirs at
/// creation): managed topics get the keys that differ, external ones are
/// only compared. Returns the refusals, by topic name.
async fn converge_configs<'a>(
    admin: &KafkaAdmin,
    desired: &'a [DesiredTopic],
    actions: &[TopicAction],
    changes: &mut Vec<String>,
) -> Result<BTreeMap<&'a str, String>> {
    let mut refusals: BTreeMap<&str, String> = BTreeMap::new();
    let check_names: Vec<String> = desired
        .iter()
        .zip(actions)
        .filter(|(t, a)| !t.config.is_empty() && matches!(a, TopicAction::Use { .. }))
        .map(|(t, _)| t.name.clone())
        .collect();
    if check_names.is_empty() {
        return Ok(refusals);
    }
    let current = admin.topic_configs(&check_names).await?;
    for (topic, action) in desired.iter().zip(actions) {
        let TopicAction::Use { origin, .. } = action else {
            continue;
        };
        if topic.config.is_empty() {
            continue;
        }
        let differing = config_changes(&topic.config, current.get(&topic.name));
        if differing.is_empty() {
            continue;
        }
        if origin.is_managed() {
            admin.alter_topic_config(&topic.name, &differing).await?;
            let keys: Vec<&str> = differing.keys().map(String::as_str).collect();
            changes.push(format!("topic {}: set {}", topic.name, keys.join(", ")));
        } else {
            let keys = differing.keys().map(String::as_str).collect();
            refusals.insert(&topic.name, external_config_refusal(topic, &keys));
        }
    }
    Ok(refusals)
}

/// The Event text for a topic that became adopted or stopped being so.
fn adoption_change(
    topic: &DesiredTopic,
    before: Option<TopicOrigin>,
    now: TopicOrigin,
) -> Option<String> {
    match (before, now) {
        (Some(TopicOrigin::Adopted), TopicOrigin::External) => Some(format!(
            "topic {}: no longer adopted, left as it is and never deleted",
            topic.name
        )),
        (before, TopicOrigin::Adopted) if before != Some(TopicOrigin::Adopted) => {
            Some(format!("topic {}: adopted", topic.name))
        }
        _ => None,
    }
}

/// `raced`: the topic was missing when described but existed when created,
/// with the origin that gives it.
fn verdict(
    topic: &DesiredTopic,
    action: &TopicAction,
    existing: Option<&ExistingTopic>,
    raced: Option<TopicOrigin>,
) -> Verdict {
    let actual = |origin| Verdict {
        origin,
        partitions: existing.map(|e| e.partitions),
        replication_factor: existing.map(|e| e.replication_factor),
        refused: None,
        pending: None,
    };
    match (action, raced) {
        // It exists although the description said it did not: someone else
        // created it in between (theirs, unless the status says the pipeline
        // created it: then the description was stale). The next reconcile
        // looks at it as it is.
        (TopicAction::Create, Some(origin)) => Verdict {
            pending: Some(format!(
                "topic {} appeared while the pipeline was creating it; checking it again",
                topic.name
            )),
            ..actual(origin)
        },
        (TopicAction::Create, None) => Verdict {
            partitions: Some(topic.partitions),
            replication_factor: Some(topic.replication_factor),
            ..actual(TopicOrigin::Created)
        },
        (
            TopicAction::Use {
                origin,
                add_partitions,
            },
            _,
        ) => Verdict {
            partitions: add_partitions
                .map(|(_, to)| to)
                .or(existing.map(|e| e.partitions)),
            ..actual(*origin)
        },
        (TopicAction::Refuse { origin, reason }, _) => Verdict {
            refused: Some(reason.clone()),
            ..actual(*origin)
        },
    }
}

//! The Strimzi `KafkaUser` of `spec.kafka.user.create`: the ACLs a pipeline
//! needs, derived from the same topic plan, consumer group and
//! transactional-id names the workloads use, so the user and the pipeline
//! cannot drift apart. Pure.
//!
//! Who needs what (every topic ACL is literal, on the topic's resolved
//! name, so a renamed or spec-named topic is covered and nothing else is):
//!
//! | resource | operations | why |
//! | --- | --- | --- |
//! | every topic | `Describe`, `DescribeConfigs` | the operator: checking topics, end offsets for lag and throughput |
//! | every topic, direct mode only | `Create`, `Alter`, `AlterConfigs`, `Delete` | the operator provisions topics itself (with `strimziCluster`, the topic operator does) |
//! | input | `Write` | the generator, when enabled |
//! | input, partials | `Read` | the processor's stage 1 and stage 2 |
//! | partials, every output topic | `Write` | the processor (transactional) |
//! | alerts | `Write`, `Read` | the operator's alerts and the processor's (stage 2); the operator reads the processor's back to raise their Events |
//! | group `<group>`, `<group>-merge` | `Read`, `Describe` | the two stages; the operator reads their offsets |
//! | sales, segments, anomalies, hourly, top-products (with `spec.serving`) | `Read` | the serving component's consumer (user-history: already `Read`) |
//! | group `<group>-serving` (with `spec.serving`) | `Read`, `Describe` | the serving component; the operator reads its offsets |
//! | transactional ids `<group>-stage1-` (prefix) | `Write`, `Describe` | stage 1's transactional producer per replica |

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::refs::AuthenticationRefs;
use crate::model::{TopicRole, ValidatedPipeline};
use crate::workloads::{Component, SERVED_TOPICS, labels, serving_group};

/// Strimzi 1.x serves KafkaUser in `v1` only.
pub const KAFKA_USER_API_VERSION: &str = "kafka.strimzi.io/v1";
pub const KAFKA_USER_KIND: &str = "KafkaUser";
const CLUSTER_LABEL: &str = "strimzi.io/cluster";

/// A Kafka ACL operation, as Strimzi (and Kafka) spell it; ordered as
/// rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    AlterConfigs,
    DescribeConfigs,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "Read",
            Operation::Write => "Write",
            Operation::Create => "Create",
            Operation::Delete => "Delete",
            Operation::Alter => "Alter",
            Operation::Describe => "Describe",
            Operation::AlterConfigs => "AlterConfigs",
            Operation::DescribeConfigs => "DescribeConfigs",
        }
    }
}

/// The kind of resource an ACL is on (Strimzi's `resource.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceType {
    Topic,
    Group,
    TransactionalId,
}

impl ResourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Topic => "topic",
            ResourceType::Group => "group",
            ResourceType::TransactionalId => "transactionalId",
        }
    }
}

/// One allow rule of the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclRule {
    pub resource_type: ResourceType,
    pub name: String,
    /// `false`: the literal name; `true`: every name with this prefix.
    pub prefix: bool,
    pub operations: BTreeSet<Operation>,
}

impl AclRule {
    fn literal(resource_type: ResourceType, name: &str, operations: &[Operation]) -> Self {
        Self {
            resource_type,
            name: name.to_string(),
            prefix: false,
            operations: operations.iter().copied().collect(),
        }
    }

    pub fn pattern_type(&self) -> &'static str {
        if self.prefix { "prefix" } else { "literal" }
    }

    /// Strimzi's `AclRule` (type `allow` is its default).
    fn to_strimzi(&self) -> Value {
        json!({
            "resource": {
                "type": self.resource_type.as_str(),
                "name": self.name,
                "patternType": self.pattern_type(),
            },
            "operations": self.operations.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
        })
    }
}

/// Exactly the ACLs pipeline `p` needs (see the module's table), topics in
/// [`TopicRole::ALL`] order, then groups, then transactional ids.
pub fn pipeline_acls(p: &ValidatedPipeline) -> Vec<AclRule> {
    use Operation::*;
    let mut rules = Vec::new();
    for topic in &p.topics {
        let mut ops = vec![Describe, DescribeConfigs];
        if p.strimzi_cluster.is_none() {
            ops.extend([Create, Alter, AlterConfigs, Delete]);
        }
        match topic.role {
            TopicRole::Input => {
                ops.push(Read);
                if p.generator.is_some() {
                    ops.push(Write);
                }
            }
            TopicRole::Partials => ops.extend([Read, Write]),
            // Stage 2 reads its users' histories back (assigned, never
            // committed: no group) before it writes new ones.
            TopicRole::UserHistory => ops.extend([Read, Write]),
            // The processor writes its alerts; the operator (with the
            // pipeline's credentials) writes its own and reads them all.
            TopicRole::Alerts => ops.extend([Read, Write]),
            role if TopicRole::OUTPUTS.contains(&role) => ops.push(Write),
            _ => {}
        }
        // The serving component consumes the outputs it serves; its probe
        // needs only `Describe` (end offsets of the input topic, the
        // processor group's commits), which every topic and group has.
        if p.serving.is_some() && SERVED_TOPICS.contains(&topic.role) && !ops.contains(&Read) {
            ops.push(Read);
        }
        rules.push(AclRule::literal(ResourceType::Topic, &topic.name, &ops));
    }
    let serving = p.serving.is_some().then(|| serving_group(p));
    for group in [p.consumer_group.clone(), p.merge_group()]
        .into_iter()
        .chain(serving)
    {
        rules.push(AclRule::literal(
            ResourceType::Group,
            &group,
            &[Read, Describe],
        ));
    }
    rules.push(AclRule {
        resource_type: ResourceType::TransactionalId,
        name: p.transactional_id_prefix(),
        prefix: true,
        operations: [Write, Describe].into_iter().collect(),
    });
    rules
}

/// The `KafkaUser` for `p` (which must have `spec.kafka.user.create`):
/// `None` otherwise. `owner_reference` is the pipeline's controller
/// reference, as JSON.
pub fn build_kafka_user(p: &ValidatedPipeline, owner_reference: &Value) -> Option<Value> {
    let name = p.kafka_security.created_user.as_ref()?;
    let cluster = p.strimzi_cluster.as_ref()?;
    let authentication = match p.kafka_security.authentication.as_ref()? {
        AuthenticationRefs::Scram { .. } => "scram-sha-512",
        AuthenticationRefs::Tls { .. } => "tls",
    };
    let mut user_labels = labels(&p.name, Component::Pipeline);
    user_labels.insert(CLUSTER_LABEL.into(), cluster.clone());
    let acls: Vec<Value> = pipeline_acls(p).iter().map(AclRule::to_strimzi).collect();
    Some(json!({
        "apiVersion": KAFKA_USER_API_VERSION,
        "kind": KAFKA_USER_KIND,
        "metadata": {
            "name": name,
            "namespace": p.namespace,
            "labels": user_labels,
            "ownerReferences": [owner_reference],
        },
        "spec": {
            "authentication": {"type": authentication},
            "authorization": {"type": "simple", "acls": acls},
        }
    }))
}

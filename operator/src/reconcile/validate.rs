//! Step 2 of a reconcile: turn the user's spec into a `ValidatedPipeline`
//! (every default resolved, every name computed) or a clear error. Pure: no
//! API calls, so every rule is unit-tested.

use std::collections::{BTreeMap, BTreeSet};

use crate::crd::{AnalyticsPipeline, DeletionPolicy, ProcessorSpec, TopicRole};
use crate::error::{Error, Result};

/// Role name of the internal topic carrying partial aggregates between the
/// processor's two stages (see docs/processor.md).
pub const PARTIALS_ROLE: &str = "partials";

/// A topic as the pipeline needs it in Kafka.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredTopic {
    pub role: &'static str,
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub config: BTreeMap<String, String>,
}

/// Everything the later reconcile steps need, resolved and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedPipeline {
    pub name: String,
    pub namespace: String,
    pub bootstrap_servers: String,
    pub strimzi_cluster: Option<String>,
    /// Topics in provisioning order; the input topic comes first.
    pub topics: Vec<DesiredTopic>,
    pub consumer_group: String,
    pub generator: Option<GeneratorSettings>,
    pub processor: ProcessorSettings,
    pub deletion_policy: DeletionPolicy,
    /// Non-fatal findings worth telling the user (e.g. idle replicas).
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GeneratorSettings {
    pub image: String,
    pub replicas: i32,
    /// Per replica: the spec's rate is split evenly.
    pub events_per_second_per_replica: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProcessorSettings {
    pub image: String,
    pub spec: ProcessorSpec,
}

/// Images used when the spec does not name one; set by operator flags.
#[derive(Clone, Debug)]
pub struct DefaultImages {
    pub generator: String,
    pub processor: String,
}

impl ValidatedPipeline {
    pub fn topic(&self, role: &str) -> Option<&DesiredTopic> {
        self.topics.iter().find(|t| t.role == role)
    }

    /// Name of the topic playing `role`; roles are fixed, so a missing one
    /// is a programming error caught by the unit tests.
    pub fn topic_name(&self, role: &str) -> &str {
        self.topic(role)
            .map(|t| t.name.as_str())
            .unwrap_or_default()
    }

    pub fn input_partitions(&self) -> i32 {
        self.topic(TopicRole::Input.as_str())
            .map(|t| t.partitions)
            .unwrap_or(0)
    }
}

pub fn validate(pipeline: &AnalyticsPipeline, images: &DefaultImages) -> Result<ValidatedPipeline> {
    let name = pipeline
        .metadata
        .name
        .clone()
        .ok_or_else(|| Error::InvalidSpec("the pipeline has no name".into()))?;
    let namespace = pipeline
        .metadata
        .namespace
        .clone()
        .ok_or_else(|| Error::InvalidSpec("the pipeline has no namespace".into()))?;
    let spec = &pipeline.spec;

    let mut topics = Vec::with_capacity(TopicRole::ALL.len() + 1);
    for role in TopicRole::ALL {
        let topic = spec.topics.get(role);
        topics.push(DesiredTopic {
            role: role.as_str(),
            name: spec.topics.resolved_name(&name, role),
            partitions: topic.partitions,
            replication_factor: topic.replication_factor,
            config: topic.config.clone(),
        });
    }
    // The partials topic follows the input topic's size: the processor's
    // merge stage parallelises over it exactly like the first stage does
    // over the input.
    let input = &spec.topics.input;
    topics.push(DesiredTopic {
        role: PARTIALS_ROLE,
        name: format!("{name}-{PARTIALS_ROLE}"),
        partitions: input.partitions,
        replication_factor: input.replication_factor,
        config: BTreeMap::from([("retention.ms".to_string(), "86400000".to_string())]),
    });

    let mut seen = BTreeSet::new();
    for topic in &topics {
        if topic.name.len() > 249 {
            return Err(Error::InvalidSpec(format!(
                "topic name {} for role {} is longer than Kafka's 249 characters; set spec.topics.<role>.name",
                topic.name, topic.role
            )));
        }
        if !seen.insert(topic.name.as_str()) {
            return Err(Error::InvalidSpec(format!(
                "topic name {} is used for more than one role; every role needs its own topic",
                topic.name
            )));
        }
    }

    let mut warnings = Vec::new();
    if spec.processor.replicas > input.partitions {
        warnings.push(format!(
            "{} processor replicas but only {} input partitions: {} replicas will sit idle",
            spec.processor.replicas,
            input.partitions,
            spec.processor.replicas - input.partitions
        ));
    }

    let generator = spec.generator.enabled.then(|| GeneratorSettings {
        image: spec
            .generator
            .image
            .clone()
            .unwrap_or_else(|| images.generator.clone()),
        replicas: spec.generator.replicas,
        events_per_second_per_replica: if spec.generator.replicas > 0 {
            f64::from(spec.generator.events_per_second) / f64::from(spec.generator.replicas)
        } else {
            0.0
        },
    });

    Ok(ValidatedPipeline {
        consumer_group: format!("shopstream.{namespace}.{name}"),
        name,
        namespace,
        bootstrap_servers: spec.kafka.bootstrap_servers.clone(),
        strimzi_cluster: spec.kafka.strimzi_cluster.clone(),
        topics,
        generator,
        processor: ProcessorSettings {
            image: spec
                .processor
                .image
                .clone()
                .unwrap_or_else(|| images.processor.clone()),
            spec: spec.processor.clone(),
        },
        deletion_policy: spec.deletion_policy,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn images() -> DefaultImages {
        DefaultImages {
            generator: "shopstream/generator:test".into(),
            processor: "shopstream/processor:test".into(),
        }
    }

    pub(crate) fn pipeline(yaml: &str) -> AnalyticsPipeline {
        serde_yaml::from_str(yaml).expect("test pipeline parses")
    }

    const MINIMAL: &str = "
apiVersion: analytics.shopstream.dev/v1alpha1
kind: AnalyticsPipeline
metadata: {name: shop, namespace: team-a}
spec:
  kafka: {bootstrapServers: 'kafka:9092'}
";

    #[test]
    fn defaults_resolve_to_named_topics_and_group() {
        let v = validate(&pipeline(MINIMAL), &images()).expect("valid");
        let names: Vec<&str> = v.topics.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "shop-input",
                "shop-sales",
                "shop-segments",
                "shop-anomalies",
                "shop-hourly",
                "shop-top-products",
                "shop-dead-letter",
                "shop-partials"
            ]
        );
        assert_eq!(v.consumer_group, "shopstream.team-a.shop");
        assert_eq!(v.processor.image, "shopstream/processor:test");
        let generator = v.generator.expect("generator enabled by default");
        assert_eq!(generator.events_per_second_per_replica, 5.0);
        assert!(v.warnings.is_empty());
    }

    #[test]
    fn duplicate_topic_names_are_rejected() {
        let mut p = pipeline(MINIMAL);
        p.spec.topics.sales.name = Some("shop-input".into());
        let err = validate(&p, &images()).expect_err("duplicate names");
        assert!(err.is_permanent());
        assert!(
            err.to_string()
                .contains("shop-input is used for more than one role")
        );
    }

    #[test]
    fn idle_replicas_are_a_warning_not_an_error() {
        let mut p = pipeline(MINIMAL);
        p.spec.processor.replicas = 5;
        let v = validate(&p, &images()).expect("valid");
        assert_eq!(
            v.warnings,
            ["5 processor replicas but only 3 input partitions: 2 replicas will sit idle"]
        );
    }

    #[test]
    fn generator_rate_is_split_between_replicas() {
        let mut p = pipeline(MINIMAL);
        p.spec.generator.replicas = 4;
        p.spec.generator.events_per_second = 1000;
        let v = validate(&p, &images()).expect("valid");
        assert_eq!(
            v.generator.expect("enabled").events_per_second_per_replica,
            250.0
        );
    }

    #[test]
    fn disabled_generator_has_no_settings() {
        let mut p = pipeline(MINIMAL);
        p.spec.generator.enabled = false;
        assert!(validate(&p, &images()).expect("valid").generator.is_none());
    }
}

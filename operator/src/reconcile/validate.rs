//! Step 2 of a reconcile: turn the user's spec into a `ValidatedPipeline`
//! (every default resolved, every name computed) or a clear error. Pure: no
//! API calls, so every rule is unit-tested.

use std::collections::{BTreeMap, BTreeSet};

use super::topic_names::{check_length, resolve_topic_name};
use crate::crd::{AnalyticsPipeline, DeletionPolicy, GeneratorSchema, ProcessorSpec, TopicRole};
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
    /// The spec adopts the topic if it exists and was not created by the
    /// pipeline (`spec.topics.<role>.adopt`).
    pub adopt: bool,
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
    pub schema: GeneratorSchema,
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

    // The names the pipeline runs with now, per role: they win over the
    // default (see topic_names.rs).
    let in_use = |role: &str| {
        pipeline.status.as_ref().and_then(|s| {
            s.topics
                .iter()
                .find(|t| t.role == role)
                .map(|t| t.name.as_str())
        })
    };
    let mut topics = Vec::with_capacity(TopicRole::ALL.len() + 1);
    for role in TopicRole::ALL {
        let topic = spec.topics.get(role);
        let (topic_name, source) = resolve_topic_name(
            topic.name.as_deref(),
            in_use(role.as_str()),
            &namespace,
            &name,
            role.as_str(),
        );
        check_length(&topic_name, role.as_str(), source, Some(role.spec_field()))
            .map_err(Error::InvalidSpec)?;
        topics.push(DesiredTopic {
            role: role.as_str(),
            name: topic_name,
            partitions: topic.partitions,
            replication_factor: topic.replication_factor,
            config: topic.config.clone(),
            adopt: topic.adopt,
        });
    }
    // The partials topic follows the input topic's size: the processor's
    // merge stage parallelises over it exactly like the first stage does
    // over the input.
    let input = &spec.topics.input;
    let (partials_name, source) = resolve_topic_name(
        None,
        in_use(PARTIALS_ROLE),
        &namespace,
        &name,
        PARTIALS_ROLE,
    );
    check_length(&partials_name, PARTIALS_ROLE, source, None).map_err(Error::InvalidSpec)?;
    topics.push(DesiredTopic {
        role: PARTIALS_ROLE,
        name: partials_name,
        partitions: input.partitions,
        replication_factor: input.replication_factor,
        config: BTreeMap::from([("retention.ms".to_string(), "86400000".to_string())]),
        adopt: false,
    });

    let mut seen = BTreeSet::new();
    for topic in &topics {
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
        schema: spec.generator.schema,
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
                "team-a.shop.input",
                "team-a.shop.sales",
                "team-a.shop.segments",
                "team-a.shop.anomalies",
                "team-a.shop.hourly",
                "team-a.shop.top-products",
                "team-a.shop.dead-letter",
                "team-a.shop.partials"
            ]
        );
        assert!(v.topics.iter().all(|t| !t.adopt));
        assert_eq!(v.consumer_group, "shopstream.team-a.shop");
        assert_eq!(v.processor.image, "shopstream/processor:test");
        let generator = v.generator.expect("generator enabled by default");
        assert_eq!(generator.events_per_second_per_replica, 5.0);
        assert!(v.warnings.is_empty());
    }

    #[test]
    fn duplicate_topic_names_are_rejected() {
        let mut p = pipeline(MINIMAL);
        p.spec.topics.sales.name = Some("team-a.shop.input".into());
        let err = validate(&p, &images()).expect_err("duplicate names");
        assert!(err.is_permanent());
        assert!(
            err.to_string()
                .contains("team-a.shop.input is used for more than one role")
        );
    }

    /// A status written by an operator that named topics `<pipeline>-<role>`.
    const LEGACY_STATUS: &str = "
status:
  topics:
  - {role: input, name: shop-input, ready: true, managed: true}
  - {role: partials, name: shop-partials, ready: true, managed: true}
";

    #[test]
    fn running_pipelines_keep_their_topic_names() {
        let p = pipeline(&format!("{MINIMAL}{LEGACY_STATUS}"));
        let v = validate(&p, &images()).expect("valid");
        assert_eq!(v.topic_name("input"), "shop-input");
        assert_eq!(v.topic_name(PARTIALS_ROLE), "shop-partials");
        // Roles the status does not list yet get the new default.
        assert_eq!(v.topic_name("sales"), "team-a.shop.sales");
        // The consumer group never depended on the topic names.
        assert_eq!(v.consumer_group, "shopstream.team-a.shop");

        // An explicit name wins over the one in use.
        let mut p = p;
        p.spec.topics.input.name = Some("purchases".into());
        let v = validate(&p, &images()).expect("valid");
        assert_eq!(v.topic_name("input"), "purchases");
    }

    #[test]
    fn adopt_reaches_the_desired_topic() {
        let mut p = pipeline(MINIMAL);
        p.spec.topics.sales.adopt = true;
        let v = validate(&p, &images()).expect("valid");
        assert!(v.topic("sales").expect("sales").adopt);
        assert!(!v.topic("input").expect("input").adopt);
    }

    #[test]
    fn too_long_default_names_are_a_spec_error() {
        let mut p = pipeline(MINIMAL);
        p.metadata.name = Some("p".repeat(240));
        let err = validate(&p, &images()).expect_err("too long");
        assert!(err.is_permanent());
        assert!(err.to_string().contains("Kafka allows 249"), "{err}");
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

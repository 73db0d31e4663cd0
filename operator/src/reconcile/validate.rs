//! Step 2 of a reconcile: turn the user's spec into a
//! [`ValidatedPipeline`](crate::model::ValidatedPipeline)
//! (every default resolved, every name computed) or a clear error. Pure: no
//! API calls, so every rule is unit-tested.

use std::collections::{BTreeMap, BTreeSet};

use super::network_policy_settings::network_policy_settings;
use super::serving_settings::serving_settings;
use super::topic_names::{check_length, resolve_topic_name};
use crate::crd::AnalyticsPipeline;
use crate::error::{Error, Result};
use crate::model::{
    DefaultImages, DesiredTopic, GeneratorSettings, ProcessorSettings, TopicRole, ValidatedPipeline,
};

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
    check_pipeline_name(&name)?;
    let spec = &pipeline.spec;
    let topics = desired_topics(pipeline, &namespace, &name)?;
    Ok(ValidatedPipeline {
        consumer_group: format!("shopstream.{namespace}.{name}"),
        bootstrap_servers: spec.kafka.bootstrap_servers.clone(),
        strimzi_cluster: spec.kafka.strimzi_cluster.clone(),
        kafka_security: crate::kafka_security::from_spec(&spec.kafka, &name)?,
        kafka_secrets_revision: None,
        warnings: idle_replica_warnings(pipeline),
        topics,
        generator: generator_settings(pipeline, images),
        processor: ProcessorSettings {
            image: spec
                .processor
                .image
                .clone()
                .unwrap_or_else(|| images.processor.clone()),
            spec: spec.processor.clone(),
        },
        serving: serving_settings(spec.serving.as_ref(), &namespace, &name, images)?,
        deletion_policy: spec.deletion_policy,
        network_policy: network_policy_settings(&name, spec)?,
        alerts: spec.alerts.clone().unwrap_or_default(),
        name,
        namespace,
    })
}

/// One topic per role, named (spec, else the name in use, else the
/// default), sized, and checked: within Kafka's name length, one topic per
/// role.
fn desired_topics(
    pipeline: &AnalyticsPipeline,
    namespace: &str,
    name: &str,
) -> Result<[DesiredTopic; 10]> {
    let spec = &pipeline.spec;
    // The names the pipeline runs with now, per role: they win over the
    // default (see topic_names.rs).
    let in_use = |role: TopicRole| {
        pipeline.status.as_ref().and_then(|s| {
            s.topics
                .iter()
                .find(|t| t.role == role.as_str())
                .map(|t| t.name.as_str())
        })
    };
    let input = &spec.topics.input;
    let mut topics = Vec::with_capacity(TopicRole::ALL.len());
    for role in TopicRole::ALL {
        let topic_spec = role.spec(&spec.topics);
        let (topic_name, source) = resolve_topic_name(
            topic_spec.and_then(|t| t.name.as_deref()),
            in_use(role),
            namespace,
            name,
            role.as_str(),
        );
        check_length(&topic_name, role.as_str(), source, role.spec_field())
            .map_err(Error::InvalidSpec)?;
        topics.push(match topic_spec {
            Some(topic) => DesiredTopic {
                role,
                name: topic_name,
                partitions: topic.partitions,
                replication_factor: topic.replication_factor,
                config: topic.config.clone(),
                adopt: topic.adopt,
            },
            // One partition keeps the alerts in order; a week of them is
            // kept, like the original's default retention.
            None if role == TopicRole::Alerts => DesiredTopic {
                role,
                name: topic_name,
                partitions: 1,
                replication_factor: input.replication_factor,
                config: BTreeMap::from([("retention.ms".to_string(), "604800000".to_string())]),
                adopt: false,
            },
            // One record per user (the latest history wins), so
            // compacted; sized like the sales topic, another output.
            None if role == TopicRole::UserHistory => DesiredTopic {
                role,
                name: topic_name,
                partitions: spec.topics.sales.partitions,
                replication_factor: spec.topics.sales.replication_factor,
                config: BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]),
                adopt: false,
            },
            // The partials topic follows the input topic's size: the
            // processor's merge stage parallelises over it exactly like the
            // first stage does over the input.
            None => DesiredTopic {
                role,
                name: topic_name,
                partitions: input.partitions,
                replication_factor: input.replication_factor,
                config: BTreeMap::from([("retention.ms".to_string(), "86400000".to_string())]),
                adopt: false,
            },
        });
    }
    let mut seen = BTreeSet::new();
    for topic in &topics {
        if !seen.insert(topic.name.as_str()) {
            return Err(Error::InvalidSpec(format!(
                "topic name {} is used for more than one role; every role needs its own topic",
                topic.name
            )));
        }
    }
    topics
        .try_into()
        .map_err(|_| Error::internal("validate built a topic list without one topic per role"))
}

/// Non-fatal findings: processor replicas beyond the input partitions.
fn idle_replica_warnings(pipeline: &AnalyticsPipeline) -> Vec<String> {
    let spec = &pipeline.spec;
    let partitions = spec.topics.input.partitions;
    let mut warnings = Vec::new();
    if spec.processor.replicas > partitions {
        warnings.push(format!(
            "{} processor replicas but only {} input partitions: {} replicas will sit idle",
            spec.processor.replicas,
            partitions,
            spec.processor.replicas - partitions
        ));
    }
    warnings
}

/// `None` when the spec disables the generator; the rate is split evenly
/// between its replicas.
fn generator_settings(
    pipeline: &AnalyticsPipeline,
    images: &DefaultImages,
) -> Option<GeneratorSettings> {
    let generator = &pipeline.spec.generator;
    generator.enabled.then(|| GeneratorSettings {
        image: generator
            .image
            .clone()
            .unwrap_or_else(|| images.generator.clone()),
        replicas: generator.replicas,
        events_per_second_per_replica: if generator.replicas > 0 {
            f64::from(generator.events_per_second) / f64::from(generator.replicas)
        } else {
            0.0
        },
        schema: generator.schema,
    })
}

/// Longest pipeline name whose child objects all fit Kubernetes' limits:
/// the StatefulSet's pods carry `<name>-processor-<revision hash>` (up to 10
/// hash characters) in a label of at most 63 characters.
const MAX_PIPELINE_NAME_LEN: usize = 42;

/// The CRD refuses such names at admission; this repeats the check for
/// resources stored before that rule existed, so they get a condition
/// instead of failing applies on every reconcile.
fn check_pipeline_name(name: &str) -> Result<()> {
    let bytes = name.as_bytes();
    let dns_label = bytes.first().is_some_and(u8::is_ascii_lowercase)
        && bytes
            .last()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    if dns_label && name.len() <= MAX_PIPELINE_NAME_LEN {
        return Ok(());
    }
    Err(Error::InvalidSpec(format!(
        "the pipeline name {name:?} cannot be used: it must be at most {MAX_PIPELINE_NAME_LEN} \
         characters of lowercase letters, digits and '-', start with a letter and end with a \
         letter or digit, because it names the pipeline's Service and StatefulSet; recreate \
         the pipeline under another name"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn images() -> DefaultImages {
        DefaultImages {
            generator: "shopstream/generator:test".into(),
            processor: "shopstream/processor:test".into(),
            serving: "shopstream/serving:test".into(),
            redis: "redis:test".into(),
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
                "team-a.shop.partials",
                "team-a.shop.alerts",
                "team-a.shop.user-history"
            ]
        );
        assert!(v.topics.iter().all(|t| !t.adopt));
        let alerts = v.topic(TopicRole::Alerts);
        assert_eq!((alerts.partitions, alerts.replication_factor), (1, 1));
        let history = v.topic(TopicRole::UserHistory);
        assert_eq!(
            history.config.get("cleanup.policy").map(String::as_str),
            Some("compact")
        );
        assert_eq!(v.consumer_group, "shopstream.team-a.shop");
        assert_eq!(v.processor.image, "shopstream/processor:test");
        let generator = v.generator.expect("generator enabled by default");
        assert_eq!(generator.events_per_second_per_replica, 5.0);
        assert!(v.warnings.is_empty());
    }

    #[test]
    fn names_that_children_cannot_carry_are_refused() {
        let longest = format!("a{}", "b".repeat(MAX_PIPELINE_NAME_LEN - 1));
        for ok in ["shop", "a", "shop-2", longest.as_str()] {
            let mut p = pipeline(MINIMAL);
            p.metadata.name = Some(ok.into());
            assert!(validate(&p, &images()).is_ok(), "{ok} is a valid name");
        }
        let too_long = format!("{longest}c");
        for bad in ["my.shop", "2shop", "shop-", "Shop", "", too_long.as_str()] {
            let mut p = pipeline(MINIMAL);
            p.metadata.name = Some(bad.into());
            let err = validate(&p, &images()).expect_err(bad);
            assert!(err.is_permanent(), "{bad}: waits for a new name");
            assert!(err.to_string().contains("cannot be used"), "{bad}: {err}");
        }
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
        assert_eq!(v.topic_name(TopicRole::Input), "shop-input");
        assert_eq!(v.topic_name(TopicRole::Partials), "shop-partials");
        // Roles the status does not list yet get the new default.
        assert_eq!(v.topic_name(TopicRole::Sales), "team-a.shop.sales");
        // The consumer group never depended on the topic names.
        assert_eq!(v.consumer_group, "shopstream.team-a.shop");

        // An explicit name wins over the one in use.
        let mut p = p;
        p.spec.topics.input.name = Some("purchases".into());
        let v = validate(&p, &images()).expect("valid");
        assert_eq!(v.topic_name(TopicRole::Input), "purchases");
    }

    #[test]
    fn adopt_reaches_the_desired_topic() {
        let mut p = pipeline(MINIMAL);
        p.spec.topics.sales.adopt = true;
        let v = validate(&p, &images()).expect("valid");
        assert!(v.topic(TopicRole::Sales).adopt);
        assert!(!v.topic(TopicRole::Input).adopt);
    }

    #[test]
    fn too_long_topic_names_are_a_spec_error() {
        let mut p = pipeline(MINIMAL);
        p.spec.topics.sales.name = Some("p".repeat(250));
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

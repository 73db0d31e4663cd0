//! Pipelines sharing one Kafka cluster, against the real API server and the
//! real broker: topic names unique per namespace, topics the pipeline did
//! not create used but never changed or deleted (unless adopted), renamed
//! topics following the deletion policy, and pipelines from before the
//! namespaced names keeping theirs.

#[path = "operator_support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use kube::Api;
use kube::api::{Patch, PatchParams};
use operator::crd::{AnalyticsPipeline, TopicOrigin, TopicStatus};
use serde_json::json;
use support::kafka::{create_topic, delete_topics, partitions, produce, topic_config};
use support::{
    OperatorProcess, apply_pipeline, condition, kafka_bootstrap, kubectl, unique, wait_until,
};

fn topic_status<'a>(p: &'a AnalyticsPipeline, role: &str) -> &'a TopicStatus {
    p.status
        .as_ref()
        .and_then(|s| s.topics.iter().find(|t| t.role == role))
        .unwrap_or_else(|| panic!("no status for the {role} topic: {:?}", p.status))
}

async fn wait_for_condition(
    api: &Api<AnalyticsPipeline>,
    name: &str,
    type_: &str,
    status: &str,
    reason: Option<&str>,
) -> AnalyticsPipeline {
    wait_until(
        &format!("{type_}={status} {reason:?} on {name}"),
        Duration::from_secs(60),
        || async {
            let p = api.get(name).await.map_err(|e| e.to_string())?;
            match condition(&p, type_) {
                Some((s, r, _)) if s == status && reason.is_none_or(|want| want == r) => Ok(p),
                _ => Err(format!("{:?}", p.status)),
            }
        },
    )
    .await
}

async fn total_lag(api: &Api<AnalyticsPipeline>, name: &str, want: i64) {
    wait_until(
        &format!("total lag {want} on {name}"),
        Duration::from_secs(60),
        || async {
            let p = api.get(name).await.map_err(|e| e.to_string())?;
            let lag = p
                .status
                .as_ref()
                .and_then(|s| s.processor.as_ref())
                .and_then(|s| s.total_lag);
            if lag == Some(want) {
                Ok(())
            } else {
                Err(format!("lag {lag:?}"))
            }
        },
    )
    .await;
}

fn events(ns: &str) -> String {
    kubectl(&[
        "get",
        "events",
        "-n",
        ns,
        "-o",
        "custom-columns=REASON:.reason,NOTE:.note,MESSAGE:.message",
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_pipeline_name_in_two_namespaces_shares_nothing() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let staging = support::namespace(&client, "op-staging").await;
    let prod = support::namespace(&client, "op-prod").await;
    // One operator per namespace, as two teams' namespaced installs would.
    let _staging_operator = OperatorProcess::start(&staging, "op-s", "shopstream-operator");
    let _prod_operator = OperatorProcess::start(&prod, "op-p", "shopstream-operator");
    let name = unique("shop");
    let spec = json!({
        "kafka": {"bootstrapServers": kafka_bootstrap()},
        "generator": {"enabled": false},
        "deletionPolicy": "Delete",
    });
    apply_pipeline(&client, &staging, &name, spec.clone()).await;
    apply_pipeline(&client, &prod, &name, spec).await;
    let staging_api: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &staging);
    let prod_api: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &prod);
    let s = wait_for_condition(&staging_api, &name, "TopicsReady", "True", None).await;
    let p = wait_for_condition(&prod_api, &name, "TopicsReady", "True", None).await;

    let staging_topics = support::default_topic_names(&staging, &name);
    let prod_topics = support::default_topic_names(&prod, &name);
    for (pipeline, names) in [(&s, &staging_topics), (&p, &prod_topics)] {
        for (role, topic) in support::TOPIC_ROLES.iter().zip(names.iter()) {
            let status = topic_status(pipeline, role);
            assert_eq!(&status.name, topic);
            assert_eq!(status.origin, Some(TopicOrigin::Created));
        }
    }
    // Every topic has 3 partitions but the alerts topic, which has 1 (the
    // user-history topic is sized like the sales topic).
    let sizes = [3, 3, 3, 3, 3, 3, 3, 3, 1, 3];
    assert_eq!(partitions(&staging_topics).await, sizes);
    assert_eq!(partitions(&prod_topics).await, sizes);
    let group = |p: &AnalyticsPipeline| {
        p.status
            .as_ref()
            .and_then(|s| s.processor.as_ref())
            .and_then(|s| s.consumer_group.clone())
    };
    assert_eq!(group(&s), Some(format!("shopstream.{staging}.{name}")));
    assert_eq!(group(&p), Some(format!("shopstream.{prod}.{name}")));

    // Each pipeline counts its own events only.
    produce(&staging_topics[0], 50);
    produce(&prod_topics[0], 7);
    total_lag(&staging_api, &name, 50).await;
    total_lag(&prod_api, &name, 7).await;

    // Deleting one with deletionPolicy Delete leaves the other's topics.
    support::delete_pipeline(
        &staging_api,
        &name,
        "staging deleted",
        Duration::from_secs(60),
    )
    .await;
    wait_until(
        "staging's topics deleted",
        Duration::from_secs(60),
        || async {
            let found = partitions(&staging_topics).await;
            if found.iter().all(|p| *p == 0) {
                Ok(())
            } else {
                Err(format!("{found:?}"))
            }
        },
    )
    .await;
    assert_eq!(
        partitions(&prod_topics).await,
        sizes,
        "prod keeps its topics"
    );
    total_lag(&prod_api, &name, 7).await;

    support::delete_pipeline(&prod_api, &name, "prod deleted", Duration::from_secs(60)).await;
    support::delete_namespace(&client, &staging).await;
    support::delete_namespace(&client, &prod).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_topic_is_used_but_changed_or_deleted_only_when_adopted() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-foreign").await;
    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let name = unique("shop");
    let names = support::default_topic_names(&ns, &name);
    let (sales, hourly) = (&names[1], &names[4]);

    // Two topics someone else made, with config the spec does not name.
    create_topic(
        sales,
        3,
        &[("segment.ms", "7200000"), ("max.message.bytes", "2000000")],
    )
    .await;
    create_topic(hourly, 3, &[("segment.ms", "7200000")]).await;
    let sales_config = topic_config(sales).await;

    let spec = |sales_config: serde_json::Value| {
        json!({
            "kafka": {"bootstrapServers": kafka_bootstrap()},
            "generator": {"enabled": false},
            "topics": {
                "sales": {"config": sales_config},
                "hourly": {"adopt": true, "partitions": 4, "config": {"retention.ms": "3600000"}},
            },
            "deletionPolicy": "Delete",
        })
    };
    apply_pipeline(&client, &ns, &name, spec(json!({}))).await;
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let p = wait_for_condition(&pipelines, &name, "TopicsReady", "True", None).await;

    // Used as it is: external, untouched.
    let status = topic_status(&p, "sales");
    assert_eq!(
        (status.origin, status.managed),
        (Some(TopicOrigin::External), false)
    );
    assert_eq!(topic_config(sales).await, sales_config);
    // Adopted: managed, grown, and only the named key changed.
    let status = topic_status(&p, "hourly");
    assert_eq!(
        (status.origin, status.managed),
        (Some(TopicOrigin::Adopted), true)
    );
    let hourly_name = hourly.clone();
    wait_until(
        "the adopted topic grown and configured",
        Duration::from_secs(30),
        || async {
            let config = topic_config(&hourly_name).await;
            let want = BTreeMap::from([
                ("retention.ms".to_string(), "3600000".to_string()),
                ("segment.ms".to_string(), "7200000".to_string()),
            ]);
            let found = partitions(std::slice::from_ref(&hourly_name)).await;
            if config == want && found == [4] {
                Ok(())
            } else {
                Err(format!("partitions {found:?}, config {config:?}"))
            }
        },
    )
    .await;
    assert_eq!(topic_status(&p, "input").origin, Some(TopicOrigin::Created));
    let events = events(&ns);
    assert!(
        events.contains(&format!("topic {hourly}: adopted")),
        "{events}"
    );

    // A spec that asks the foreign topic for other config is refused, and
    // says which keys without showing the topic's values.
    apply_pipeline(
        &client,
        &ns,
        &name,
        spec(json!({"max.message.bytes": "1000000"})),
    )
    .await;
    let p = wait_for_condition(
        &pipelines,
        &name,
        "TopicsReady",
        "False",
        Some("TopicConflict"),
    )
    .await;
    let (_, _, message) = condition(&p, "TopicsReady").expect("TopicsReady");
    assert!(
        message.contains(&format!("topic {sales} was not created by this pipeline")),
        "{message}"
    );
    assert!(message.contains("max.message.bytes"), "{message}");
    assert!(
        !message.contains("2000000") && !message.contains("7200000"),
        "{message}"
    );
    assert_eq!(
        topic_config(sales).await,
        sales_config,
        "the foreign topic is untouched"
    );

    // Delete removes what the pipeline created or adopted, nothing else.
    support::delete_pipeline(
        &pipelines,
        &name,
        "pipeline deleted",
        Duration::from_secs(60),
    )
    .await;
    wait_until(
        "created and adopted topics deleted",
        Duration::from_secs(60),
        || async {
            let gone: Vec<String> = names.iter().filter(|n| *n != sales).cloned().collect();
            let found = partitions(&gone).await;
            if found.iter().all(|p| *p == 0) {
                Ok(())
            } else {
                Err(format!("{found:?}"))
            }
        },
    )
    .await;
    assert_eq!(
        partitions(std::slice::from_ref(sales)).await,
        [3],
        "the foreign topic survives Delete"
    );
    assert_eq!(topic_config(sales).await, sales_config, "with its config");

    delete_topics(&names).await;
    support::delete_namespace(&client, &ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renamed_topics_follow_the_deletion_policy() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-rename").await;
    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let spec = |policy: &str, input: Option<&str>| {
        let mut spec = json!({
            "kafka": {"bootstrapServers": kafka_bootstrap()},
            "generator": {"enabled": false},
            "deletionPolicy": policy,
        });
        if let Some(input) = input {
            spec["topics"] = json!({"input": {"name": input}});
        }
        spec
    };

    for policy in ["Delete", "Retain"] {
        let name = unique("shop");
        let first = format!("{ns}.{name}.input");
        let second = unique("renamed-input");
        apply_pipeline(&client, &ns, &name, spec(policy, None)).await;
        wait_for_condition(&pipelines, &name, "TopicsReady", "True", None).await;
        apply_pipeline(&client, &ns, &name, spec(policy, Some(&second))).await;
        let (old, new) = (first.clone(), second.clone());
        let want_old = if policy == "Delete" { 0 } else { 3 };
        wait_until(
            &format!("the old input topic handled by {policy}"),
            Duration::from_secs(60),
            || async {
                let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
                let status = p.status.clone().unwrap_or_default();
                let moved = status
                    .topics
                    .iter()
                    .any(|t| t.role == "input" && t.name == new);
                let found = partitions(&[old.clone(), new.clone()]).await;
                if moved && found == [want_old, 3] && status.retired_topics.is_empty() {
                    Ok(())
                } else {
                    Err(format!("partitions {found:?}, status {status:?}"))
                }
            },
        )
        .await;
        let config_map: k8s_openapi::api::core::v1::ConfigMap =
            Api::namespaced(client.clone(), &ns)
                .get(&format!("{name}-config"))
                .await
                .expect("config map");
        assert_eq!(
            config_map
                .data
                .unwrap_or_default()
                .get("PROCESSOR_INPUT_TOPIC"),
            Some(&second)
        );
        let reason = if policy == "Delete" {
            "TopicsDeleted"
        } else {
            "TopicsReleased"
        };
        let events = events(&ns);
        assert!(
            events
                .lines()
                .any(|l| l.starts_with(reason) && l.contains(&first)),
            "no {reason} event about {first}:\n{events}"
        );
        support::delete_pipeline(
            &pipelines,
            &name,
            "pipeline deleted",
            Duration::from_secs(60),
        )
        .await;
        delete_topics(&[first, second]).await;
    }
    support::delete_namespace(&client, &ns).await;
}

/// A pipeline reconciled by an operator that named topics `<pipeline>-<role>`
/// (its status written in that operator's form) keeps its topics after the
/// upgrade instead of moving to new, empty ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_from_before_the_upgrade_keeps_its_topic_names() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-upgrade").await;
    let name = unique("shop");
    // That operator had no alerts topic (the last role).
    let old_names: Vec<String> = support::TOPIC_ROLES[..8]
        .iter()
        .map(|r| format!("{name}-{r}"))
        .collect();
    for topic in &old_names {
        create_topic(topic, 3, &[]).await;
    }
    produce(&old_names[0], 25);

    // The old operator's work: the pipeline and its status.
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({"kafka": {"bootstrapServers": kafka_bootstrap()},
               "generator": {"enabled": false}, "deletionPolicy": "Delete"}),
    )
    .await;
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    write_old_status(&pipelines, &name, &old_names).await;

    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let p = wait_until(
        "the upgraded operator's status",
        Duration::from_secs(60),
        || async {
            let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
            let topics = p
                .status
                .as_ref()
                .map(|s| s.topics.clone())
                .unwrap_or_default();
            let upgraded = topics.iter().all(|t| t.origin.is_some()) && !topics.is_empty();
            let ready = condition(&p, "TopicsReady").is_some_and(|c| c.0 == "True");
            if upgraded && ready {
                Ok(p)
            } else {
                Err(format!("{:?}", p.status))
            }
        },
    )
    .await;
    for (role, old) in support::TOPIC_ROLES.iter().zip(&old_names) {
        let status = topic_status(&p, role);
        assert_eq!(&status.name, old, "the {role} topic was renamed");
        assert_eq!(status.origin, Some(TopicOrigin::Created));
    }
    let new_names = support::default_topic_names(&ns, &name);
    assert_eq!(
        partitions(&new_names).await,
        [0, 0, 0, 0, 0, 0, 0, 0, 1, 3],
        "no new topics but the alerts and user-history topics, which the old operator did not have"
    );
    let config_map: k8s_openapi::api::core::v1::ConfigMap = Api::namespaced(client.clone(), &ns)
        .get(&format!("{name}-config"))
        .await
        .expect("config map");
    let data = config_map.data.unwrap_or_default();
    assert_eq!(data.get("PROCESSOR_INPUT_TOPIC"), Some(&old_names[0]));
    assert_eq!(data.get("PROCESSOR_PARTIALS_TOPIC"), Some(&old_names[7]));
    assert_eq!(
        data.get("PROCESSOR_GROUP_ID"),
        Some(&format!("shopstream.{ns}.{name}")),
        "the consumer group, and with it the committed offsets, stay"
    );
    total_lag(&pipelines, &name, 25).await;

    support::delete_pipeline(
        &pipelines,
        &name,
        "pipeline deleted",
        Duration::from_secs(60),
    )
    .await;
    delete_topics(&old_names).await;
    support::delete_namespace(&client, &ns).await;
}

/// The status an operator before `origin` wrote: names `<pipeline>-<role>`,
/// `managed: true`, under the operator's field manager.
async fn write_old_status(api: &Api<AnalyticsPipeline>, name: &str, topics: &[String]) {
    let topics: Vec<serde_json::Value> = support::TOPIC_ROLES
        .iter()
        .zip(topics)
        .map(|(role, topic)| {
            json!({"role": role, "name": topic, "partitions": 3, "replicationFactor": 1,
                   "ready": true, "managed": true})
        })
        .collect();
    let patch = json!({
        "apiVersion": "analytics.shopstream.dev/v1alpha1",
        "kind": "AnalyticsPipeline",
        "status": {"phase": "Running", "topics": topics},
    });
    api.patch_status(
        name,
        &PatchParams::apply("shopstream-operator").force(),
        &Patch::Apply(&patch),
    )
    .await
    .expect("old-form status accepted by the CRD");
}

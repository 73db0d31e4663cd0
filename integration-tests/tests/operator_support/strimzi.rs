//! Playing Strimzi's operators, which do not run in the local environment:
//! the topic operator (topics in the real broker, KafkaTopic status) and
//! the user operator (a SCRAM user and ACLs in the real broker, exactly as
//! a KafkaUser says, and the user's Secret).

use std::time::Duration;

use kube::api::{ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::{Api, Client, ResourceExt};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use serde_json::{Value, json};

use super::{kafka_bootstrap, wait_until};

fn strimzi_api(client: &Client, ns: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kafka.strimzi.io", "v1", kind),
        plural,
    );
    Api::namespaced_with(client.clone(), ns, &resource)
}

pub fn kafka_topics(client: &Client, ns: &str) -> Api<DynamicObject> {
    strimzi_api(client, ns, "KafkaTopic", "kafkatopics")
}

pub fn kafka_users(client: &Client, ns: &str) -> Api<DynamicObject> {
    strimzi_api(client, ns, "KafkaUser", "kafkausers")
}

/// Writes a KafkaTopic's Ready condition, as the topic operator does.
pub async fn set_ready(api: &Api<DynamicObject>, name: &str, ready: bool, message: &str) {
    let status = json!({"status": {"conditions": [{
        "type": "Ready",
        "status": if ready { "True" } else { "False" },
        "reason": if ready { "" } else { "KafkaError" },
        "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("KafkaTopic status accepted by Strimzi's schema");
}

/// A KafkaTopic's topic: name, partitions, config.
type TopicSpec = (String, i32, Vec<(String, String)>);

/// The topic operator's part for `cluster`'s KafkaTopics in `ns` (waits
/// for `count` of them): each topic created in the broker with its
/// partitions and config, then marked Ready. Returns the Kafka topic names.
pub async fn play_topic_operator(
    client: &Client,
    ns: &str,
    cluster: &str,
    count: usize,
) -> Vec<String> {
    let api = kafka_topics(client, ns);
    let listed = wait_until(
        "the pipeline's KafkaTopics",
        Duration::from_secs(60),
        || async {
            let list = api
                .list(&ListParams::default().labels(&format!("strimzi.io/cluster={cluster}")))
                .await
                .map_err(|e| e.to_string())?;
            if list.items.len() == count {
                Ok(list.items)
            } else {
                Err(format!("{} KafkaTopics", list.items.len()))
            }
        },
    )
    .await;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", kafka_bootstrap())
        .create()
        .expect("admin");
    let specs: Vec<TopicSpec> = listed
        .iter()
        .map(|t| {
            let spec = &t.data["spec"];
            let config = spec["config"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect();
            (
                spec["topicName"].as_str().expect("topicName").to_string(),
                spec["partitions"].as_i64().unwrap_or(1) as i32,
                config,
            )
        })
        .collect();
    let requests: Vec<NewTopic> = specs
        .iter()
        .map(|(name, partitions, config)| {
            config.iter().fold(
                NewTopic::new(name, *partitions, TopicReplication::Fixed(1)),
                |t, (k, v)| t.set(k, v),
            )
        })
        .collect();
    for result in admin
        .create_topics(&requests, &AdminOptions::new())
        .await
        .expect("create topics")
    {
        result.expect("topic created");
    }
    for t in &listed {
        set_ready(&api, &t.name_any(), true, "").await;
    }
    specs.into_iter().map(|(name, _, _)| name).collect()
}

/// The `kafka-acls` arguments (after `--add --allow-principal P`) for
/// each of a KafkaUser's `spec.authorization.acls`: a faithful
/// translation, so a test using them grants exactly the user's ACLs.
pub fn acl_arguments(user: &Value) -> Vec<Vec<String>> {
    assert_eq!(user["spec"]["authorization"]["type"], "simple");
    user["spec"]["authorization"]["acls"]
        .as_array()
        .expect("acls")
        .iter()
        .map(|acl| {
            assert!(
                acl.get("type").is_none() || acl["type"] == "allow",
                "only allow rules: {acl}"
            );
            assert!(acl.get("host").is_none(), "no host restriction: {acl}");
            let resource = &acl["resource"];
            let flag = match resource["type"].as_str().expect("resource type") {
                "topic" => "--topic",
                "group" => "--group",
                "transactionalId" => "--transactional-id",
                "cluster" => "--cluster",
                other => panic!("unknown resource type {other}"),
            };
            let pattern = match resource["patternType"].as_str().unwrap_or("literal") {
                "literal" => "literal",
                "prefix" => "prefixed",
                other => panic!("unknown pattern type {other}"),
            };
            let mut args = vec![flag.to_string()];
            if flag != "--cluster" {
                args.push(resource["name"].as_str().expect("name").to_string());
            }
            args.extend(["--resource-pattern-type".to_string(), pattern.to_string()]);
            for op in acl["operations"].as_array().expect("operations") {
                args.extend([
                    "--operation".to_string(),
                    op.as_str().expect("op").to_string(),
                ]);
            }
            args
        })
        .collect()
}

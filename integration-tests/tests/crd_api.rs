//! The AnalyticsPipeline CRD against the real API server of the test
//! environment: installation, printer columns, `kubectl explain`, and the
//! server-side validation that rejects bad specs before the operator sees them.

#[path = "operator_support/mod.rs"]
mod support;

use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::{Api, Client};
use operator::crd::AnalyticsPipeline;
use serde_json::{Value, json};
use support::{FIELD_MANAGER, kubectl};

fn pipelines(client: &Client, ns: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(
        operator::crd::GROUP,
        operator::crd::VERSION,
        "AnalyticsPipeline",
    );
    let resource = ApiResource::from_gvk_with_plural(&gvk, "analyticspipelines");
    Api::namespaced_with(client.clone(), ns, &resource)
}

fn pipeline(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "analytics.shopstream.dev/v1alpha1",
        "kind": "AnalyticsPipeline",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .expect("pipeline object")
}

fn minimal_spec() -> Value {
    json!({"kafka": {"bootstrapServers": "127.0.0.1:19092"}})
}

/// Creates `spec` and returns the API server's rejection message, failing the
/// test if the object is accepted.
async fn rejection(api: &Api<DynamicObject>, name: &str, spec: Value) -> String {
    match api
        .create(&PostParams::default(), &pipeline(name, spec))
        .await
    {
        Ok(_) => panic!("the API server accepted invalid pipeline {name}"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn example_is_listed_with_printer_columns_and_defaults() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "crd-columns").await;

    let example = support::repo_root().join("examples/pipeline.yaml");
    kubectl(&[
        "apply",
        "-n",
        &ns,
        "-f",
        example.to_str().expect("utf-8 path"),
    ]);

    // The API server fills schema defaults: a pipeline that only sets the
    // input topic still has every output topic with 3 partitions.
    let typed: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let stored = typed.get("shop").await.expect("example pipeline stored");
    assert_eq!(stored.spec.topics.top_products.partitions, 3);
    assert_eq!(stored.spec.processor.segment_window_seconds, 120);

    // Write a status as the operator would, through the status subresource.
    let status = json!({"status": {
        "phase": "Running",
        "processor": {"replicas": "1/1", "readyReplicas": 1, "desiredReplicas": 1,
                      "totalLag": 42, "lagVerdict": "WARN", "inputEventsPerSecond": 5.2}
    }});
    typed
        .patch_status("shop", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status subresource accepts a status");

    let table = kubectl(&["get", "analyticspipelines", "-n", &ns]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "PHASE",
            "PARTITIONS",
            "PROCESSORS",
            "LAG",
            "VERDICT",
            "EVENTS/S",
            "AGE"
        ]
    );
    let row: Vec<&str> = lines.next().expect("one row").split_whitespace().collect();
    assert_eq!(
        &row[..7],
        ["shop", "Running", "3", "1/1", "42", "WARN", "5.2"]
    );

    // Short name and category resolve too.
    assert!(kubectl(&["get", "ap", "-n", &ns, "-o", "name"]).contains("shop"));
    assert!(kubectl(&["get", "analytics", "-n", &ns, "-o", "name"]).contains("shop"));

    support::delete_namespace(&client, &ns).await;
}

#[tokio::test]
async fn kubectl_explain_shows_the_field_docs() {
    let client = support::client().await;
    support::install_crd(&client).await;

    let spec = kubectl(&["explain", "analyticspipeline.spec"]);
    assert!(spec.contains("deletionPolicy"), "{spec}");
    assert!(
        spec.contains("What happens to the Kafka topics the pipeline created"),
        "{spec}"
    );
    // kubectl wraps the text; compare it with single spaces.
    let flat = |text: String| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let adopt = flat(kubectl(&[
        "explain",
        "analyticspipeline.spec.topics.sales.adopt",
    ]));
    assert!(
        adopt.contains("not created by this pipeline") && adopt.contains("never deleted"),
        "{adopt}"
    );
    let name = flat(kubectl(&[
        "explain",
        "analyticspipeline.spec.topics.input.name",
    ]));
    assert!(name.contains("<namespace>.<pipeline>.<role>"), "{name}");
    let partitions = kubectl(&["explain", "analyticspipeline.spec.topics.input.partitions"]);
    assert!(
        partitions.contains("this value may only grow"),
        "{partitions}"
    );
    let lag = kubectl(&["explain", "analyticspipeline.status.processor.partitionLag"]);
    assert!(lag.contains("whole retained backlog"), "{lag}");
}

#[tokio::test]
async fn invalid_specs_are_rejected_with_a_clear_message() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "crd-invalid").await;
    let api = pipelines(&client, &ns);

    let mut spec = minimal_spec();
    spec["topics"] = json!({"input": {"partitions": 0}});
    let msg = rejection(&api, "zero-partitions", spec).await;
    assert!(msg.contains("spec.topics.input.partitions"), "{msg}");
    assert!(msg.contains("greater than or equal to 1"), "{msg}");

    let mut spec = minimal_spec();
    spec["generator"] = json!({"eventsPerSecond": -5});
    let msg = rejection(&api, "negative-rate", spec).await;
    assert!(msg.contains("spec.generator.eventsPerSecond"), "{msg}");
    assert!(msg.contains("greater than or equal to 0"), "{msg}");

    let mut spec = minimal_spec();
    spec["generator"] = json!({"schema": "spark"});
    let msg = rejection(&api, "unknown-schema", spec).await;
    assert!(msg.contains("spec.generator.schema"), "{msg}");
    assert!(msg.contains("\"shopstream\", \"original\""), "{msg}");

    let mut spec = minimal_spec();
    spec["topics"] = json!({"sales": {"name": "sales by region!"}});
    let msg = rejection(&api, "illegal-name", spec).await;
    assert!(msg.contains("spec.topics.sales.name"), "{msg}");
    assert!(msg.contains("should match"), "{msg}");

    let mut spec = minimal_spec();
    spec["topics"] = json!({"hourly": {"name": ".."}});
    let msg = rejection(&api, "dot-dot-name", spec).await;
    assert!(msg.contains("may not be named '.' or '..'"), "{msg}");

    let mut spec = minimal_spec();
    spec["processor"] = json!({"salesWindowSeconds": 7200});
    let msg = rejection(&api, "window-order", spec).await;
    assert!(
        msg.contains("hourlyWindowSeconds must be at least salesWindowSeconds"),
        "{msg}"
    );

    let mut spec = minimal_spec();
    spec["kafka"] = json!({"bootstrapServers": "no-port-here"});
    let msg = rejection(&api, "bad-bootstrap", spec).await;
    assert!(msg.contains("spec.kafka.bootstrapServers"), "{msg}");

    // spec.serving.redis: an existing Redis or a managed one, exactly one.
    for (name, redis) in [
        (
            "redis-both",
            json!({"address": "redis.cache:6379", "managed": true}),
        ),
        ("redis-neither", json!({})),
        ("redis-neither-managed-false", json!({"managed": false})),
    ] {
        let mut spec = minimal_spec();
        spec["serving"] = json!({"redis": redis});
        let msg = rejection(&api, name, spec).await;
        assert!(
            msg.contains("give either redis.address (an existing Redis) or redis.managed: true"),
            "{name}: {msg}"
        );
    }
    let mut spec = minimal_spec();
    spec["serving"] = json!({"redis": {"address": "redis.cache:6379", "storage": {"size": "2Gi"}}});
    let msg = rejection(&api, "redis-storage-unmanaged", spec).await;
    assert!(msg.contains("they need redis.managed: true"), "{msg}");
    let mut spec = minimal_spec();
    spec["serving"] = json!({"redis": {"managed": true, "storage": {"size": "2Gi"}}});
    api.create(&PostParams::default(), &pipeline("redis-managed", spec))
        .await
        .expect("a managed Redis is accepted");

    // Valid object names that the pipeline's Service or StatefulSet could
    // not carry: a dot, and one character over the 42 the pods' labels allow.
    for name in ["my.shop", &"s".repeat(43)] {
        let msg = rejection(&api, name, minimal_spec()).await;
        assert!(
            msg.contains("the pipeline name must be at most 42"),
            "{name}: {msg}"
        );
    }
    api.create(
        &PostParams::default(),
        &pipeline(&"s".repeat(42), minimal_spec()),
    )
    .await
    .expect("a 42-character name is accepted");

    support::delete_namespace(&client, &ns).await;
}

/// `spec.kafka.user.create`: the operator fills in the user and its
/// Secret, so the spec gives only the authentication type, one a Strimzi
/// KafkaUser has, and the Strimzi cluster the user is for.
#[tokio::test]
async fn kafka_user_create_is_checked_at_apply() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "crd-kafka-user").await;
    let api = pipelines(&client, &ns);
    let kafka = |extra: Value| {
        let mut kafka = json!({
            "bootstrapServers": "kafka:9093",
            "strimziCluster": "my-cluster",
            "tls": {"trustedCertificates": [{"secretName": "ca", "certificate": "ca.crt"}]},
            "user": {"create": true},
            "authentication": {"type": "scram-sha-512"},
        });
        for (k, v) in extra.as_object().expect("object") {
            if v.is_null() {
                kafka.as_object_mut().expect("object").remove(k);
            } else {
                kafka[k] = v.clone();
            }
        }
        json!({"kafka": kafka})
    };
    let cases = [
        (
            json!({"strimziCluster": null}),
            "user.create needs strimziCluster",
        ),
        (
            json!({"authentication": {"type": "scram-sha-256"}}),
            "user.create needs authentication.type scram-sha-512 or tls",
        ),
        (
            json!({"authentication": null}),
            "user.create needs authentication.type",
        ),
        (
            json!({"authentication": {"type": "scram-sha-512", "username": "shop"}}),
            "give only authentication.type",
        ),
    ];
    for (i, (extra, expected)) in cases.into_iter().enumerate() {
        let msg = rejection(&api, &format!("user-{i}"), kafka(extra)).await;
        assert!(msg.contains(expected), "{expected}: {msg}");
    }
    // Without user.create a SCRAM spec still needs its user and Secret.
    let msg = rejection(&api, "no-user", kafka(json!({"user": null}))).await;
    assert!(msg.contains("need username and passwordSecret"), "{msg}");
    for (name, extra) in [
        ("scram", json!({})),
        ("tls", json!({"authentication": {"type": "tls"}})),
    ] {
        api.create(&PostParams::default(), &pipeline(name, kafka(extra)))
            .await
            .unwrap_or_else(|e| panic!("{name}: a valid user.create spec is refused: {e}"));
    }
    support::delete_namespace(&client, &ns).await;
}

#[tokio::test]
async fn partitions_may_grow_but_never_shrink_and_replication_is_fixed() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "crd-update").await;
    let api = pipelines(&client, &ns);
    let apply = PatchParams::apply(FIELD_MANAGER);

    let mut spec = minimal_spec();
    spec["topics"] = json!({"input": {"partitions": 6, "replicationFactor": 1}});
    api.patch(
        "grow",
        &apply,
        &Patch::Apply(pipeline("grow", spec.clone())),
    )
    .await
    .expect("valid pipeline accepted");

    spec["topics"]["input"]["partitions"] = json!(12);
    api.patch(
        "grow",
        &apply,
        &Patch::Apply(pipeline("grow", spec.clone())),
    )
    .await
    .expect("a partition increase is accepted");

    spec["topics"]["input"]["partitions"] = json!(4);
    let msg = api
        .patch(
            "grow",
            &apply,
            &Patch::Apply(pipeline("grow", spec.clone())),
        )
        .await
        .expect_err("a partition decrease must be refused")
        .to_string();
    assert!(
        msg.contains("spec.topics.input.partitions")
            && msg.contains("partitions may not decrease: Kafka cannot remove partitions"),
        "{msg}"
    );

    spec["topics"]["input"]["partitions"] = json!(12);
    spec["topics"]["input"]["replicationFactor"] = json!(3);
    let msg = api
        .patch("grow", &apply, &Patch::Apply(pipeline("grow", spec)))
        .await
        .expect_err("a replication change must be refused")
        .to_string();
    assert!(msg.contains("replicationFactor cannot be changed"), "{msg}");

    support::delete_namespace(&client, &ns).await;
}

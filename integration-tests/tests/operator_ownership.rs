//! Objects of the names a pipeline wants that someone else made: the
//! operator stops with a Conflict and takes nothing over, against the real
//! API server.

#[path = "operator_support/mod.rs"]
mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::PostParams;
use kube::{Api, ResourceExt};
use operator::crd::{AnalyticsPipeline, Phase};
use serde_json::json;
use support::kafka::delete_topics;
use support::{
    OperatorProcess, apply_pipeline, condition, kafka_bootstrap, kubectl, unique, wait_until,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_of_someone_else_are_never_taken_over() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-owner").await;
    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let name = unique("shop");
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);

    // A team's own ConfigMap and StatefulSet happen to have the names the
    // pipeline would use.
    let theirs_cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": format!("{name}-config")},
        "data": {"owner": "another team"},
    }))
    .expect("config map");
    let theirs_cm = config_maps
        .create(&PostParams::default(), &theirs_cm)
        .await
        .expect("create their config map");
    let theirs_deploy: StatefulSet = serde_json::from_value(json!({
        "metadata": {"name": format!("{name}-processor")},
        "spec": {
            "replicas": 0,
            "serviceName": "theirs",
            "selector": {"matchLabels": {"app": "theirs"}},
            "template": {
                "metadata": {"labels": {"app": "theirs"}},
                "spec": {"containers": [{"name": "app", "image": "theirs:1"}]},
            },
        },
    }))
    .expect("statefulset");
    let theirs_deploy = statefulsets
        .create(&PostParams::default(), &theirs_deploy)
        .await
        .expect("create their statefulset");

    let spec = json!({
        "kafka": {"bootstrapServers": kafka_bootstrap()},
        "generator": {"enabled": false},
        "deletionPolicy": "Delete",
    });
    apply_pipeline(&client, &ns, &name, spec).await;
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let p = wait_until("Ready=False Conflict", Duration::from_secs(60), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        match condition(&p, "Ready") {
            Some((s, r, _)) if s == "False" && r == "Conflict" => Ok(p),
            _ => Err(format!("{:?}", p.status)),
        }
    })
    .await;
    let (_, _, message) = condition(&p, "Ready").expect("Ready");
    assert!(
        message.contains(&format!("ConfigMap {ns}/{name}-config already exists")),
        "{message}"
    );
    assert!(
        message.contains(&format!("StatefulSet {ns}/{name}-processor already exists")),
        "{message}"
    );
    assert!(
        !message.contains("another team"),
        "no foreign content: {message}"
    );
    assert_eq!(
        p.status.as_ref().and_then(|s| s.phase),
        Some(Phase::Degraded)
    );
    let events = kubectl(&[
        "get",
        "events",
        "-n",
        &ns,
        "--field-selector",
        "type=Warning",
        "-o",
        "custom-columns=REASON:.reason,NOTE:.note,MESSAGE:.message",
    ]);
    assert!(
        events
            .lines()
            .any(|l| l.starts_with("Conflict") && l.contains(&format!("{name}-config"))),
        "{events}"
    );

    // A few retries later their objects are still exactly theirs.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cm = config_maps
        .get(&format!("{name}-config"))
        .await
        .expect("their config map");
    assert_eq!(
        cm.resource_version(),
        theirs_cm.resource_version(),
        "config map written"
    );
    assert!(cm.owner_references().is_empty());
    // A StatefulSet's status is written by kube-controller-manager where it
    // runs: what matters is that the operator never wrote it.
    let d = statefulsets
        .get(&format!("{name}-processor"))
        .await
        .expect("their statefulset");
    assert!(d.owner_references().is_empty());
    assert_eq!(d.spec, theirs_deploy.spec, "deployment spec written");
    assert_eq!(
        d.labels(),
        theirs_deploy.labels(),
        "deployment labels written"
    );
    let managers: Vec<String> = d
        .managed_fields()
        .iter()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert!(
        !managers.iter().any(|m| m == "shopstream-operator"),
        "the operator wrote their deployment: {managers:?}"
    );

    // Once they are gone, the pipeline creates its own.
    config_maps
        .delete(&format!("{name}-config"), &Default::default())
        .await
        .expect("delete their config map");
    statefulsets
        .delete(&format!("{name}-processor"), &Default::default())
        .await
        .expect("delete their statefulset");
    let uid = p.uid().expect("uid");
    wait_until(
        "the pipeline's own objects",
        Duration::from_secs(90),
        || async {
            let cm = config_maps
                .get_opt(&format!("{name}-config"))
                .await
                .map_err(|e| e.to_string())?;
            let d = statefulsets
                .get_opt(&format!("{name}-processor"))
                .await
                .map_err(|e| e.to_string())?;
            let owned =
                |refs: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference]| {
                    refs.iter()
                        .any(|o| o.uid == uid && o.controller == Some(true))
                };
            match (cm, d) {
                (Some(cm), Some(d))
                    if owned(cm.owner_references()) && owned(d.owner_references()) =>
                {
                    Ok(())
                }
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;

    support::delete_pipeline(
        &pipelines,
        &name,
        "pipeline deleted",
        Duration::from_secs(60),
    )
    .await;
    let topics = support::default_topic_names(&ns, &name);
    delete_topics(&topics).await;
    support::delete_namespace(&client, &ns).await;
}

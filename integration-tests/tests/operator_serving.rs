//! `spec.serving` through the operator binary against the real API server:
//! the `<pipeline>-serving` Deployment and Service are created and owned,
//! the Redis password is a reference to the user's Secret (never its value
//! in a ConfigMap or the status), `status.serving` reports readiness and the
//! dashboard's URL, and disabling serving removes both objects.

#[path = "operator_support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use operator::crd::AnalyticsPipeline;
use serde_json::json;
use support::{OperatorProcess, apply_pipeline, kafka_bootstrap, unique, wait_until};

const PASSWORD: &str = "s3rving-t3st-passw0rd";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_is_deployed_owned_reported_and_removed() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-serving").await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    secrets
        .create(
            &PostParams::default(),
            &Secret {
                metadata: kube::api::ObjectMeta {
                    name: Some("shop-redis".into()),
                    ..Default::default()
                },
                string_data: Some(BTreeMap::from([("auth".into(), PASSWORD.into())])),
                ..Default::default()
            },
        )
        .await
        .expect("the Secret is created");
    let _operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let name = unique("shop");
    apply_pipeline(
        &client,
        &ns,
        &name,
        json!({
            "kafka": {"bootstrapServers": kafka_bootstrap()},
            "generator": {"enabled": false},
            "serving": {
                "redis": {
                    "address": "redis.cache:6379",
                    "passwordSecret": {"name": "shop-redis", "key": "auth"},
                },
                "ttl": {"aggregatesSeconds": 600},
            },
            "deletionPolicy": "Delete",
        }),
    )
    .await;
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let serving = format!("{name}-serving");

    let deployment = wait_until(
        "the serving Deployment",
        Duration::from_secs(60),
        || async {
            deployments
                .get_opt(&serving)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("{serving} missing"))
        },
    )
    .await;
    let service = wait_until("the serving Service", Duration::from_secs(30), || async {
        services
            .get_opt(&serving)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{serving} Service missing"))
    })
    .await;
    let uid = pipelines.get(&name).await.expect("pipeline").uid();
    for owners in [deployment.owner_references(), service.owner_references()] {
        assert_eq!(owners.len(), 1);
        assert_eq!(Some(owners[0].uid.clone()), uid, "owned by the pipeline");
        assert_eq!(owners[0].controller, Some(true));
    }
    let port = &service.spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
    assert_eq!(port.port, 8080);

    let container = &deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    let env: BTreeMap<String, serde_json::Value> = container
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), serde_json::to_value(e).unwrap()))
        .collect();
    assert_eq!(
        env["SERVING_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"],
        json!({"name": "shop-redis", "key": "auth", "optional": false}),
    );
    assert_eq!(env["SERVING_REDIS_ADDRESS"]["value"], "redis.cache:6379");
    assert_eq!(env["SERVING_AGGREGATES_TTL_SECONDS"]["value"], "600");
    assert_eq!(env["SERVING_CLV_TTL_SECONDS"]["value"], "3600");
    assert_eq!(env["SERVING_PIPELINE_NAMESPACE"]["value"], ns.as_str());
    assert!(
        env["PROCESSOR_SALES_TOPIC"]["valueFrom"]["configMapKeyRef"].is_object(),
        "topic names come from the pipeline's ConfigMap"
    );

    // Stands in for kube-controller-manager, which this API server runs without.
    deployments
        .patch_status(
            &serving,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 1, "readyReplicas": 1}})),
        )
        .await
        .expect("Deployment status patched");
    let status = wait_until("status.serving ready", Duration::from_secs(60), || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        let serving = p
            .status
            .and_then(|s| s.serving)
            .ok_or("no status.serving")?;
        if serving.ready {
            Ok(serving)
        } else {
            Err(format!("{serving:?}"))
        }
    })
    .await;
    assert_eq!(status.replicas, "1/1");
    assert_eq!(status.url, format!("http://{name}-serving.{ns}.svc:8080/"));

    // The password is nowhere the operator writes.
    let config_map: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let config = config_map
        .get(&format!("{name}-config"))
        .await
        .expect("ConfigMap");
    let pipeline = pipelines.get(&name).await.expect("pipeline");
    for text in [
        serde_json::to_string(&config).unwrap(),
        serde_json::to_string(&pipeline.status).unwrap(),
        serde_json::to_string(&deployment).unwrap(),
    ] {
        assert!(!text.contains(PASSWORD), "the password leaked: {text}");
    }

    // Disabled: both objects go, the status section too.
    pipelines
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"serving": {"enabled": false}}})),
        )
        .await
        .expect("serving disabled");
    wait_until(
        "the serving objects deleted",
        Duration::from_secs(60),
        || async {
            let d = deployments
                .get_opt(&serving)
                .await
                .map_err(|e| e.to_string())?;
            let s = services
                .get_opt(&serving)
                .await
                .map_err(|e| e.to_string())?;
            let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
            let reported = p.status.and_then(|s| s.serving);
            if d.is_none() && s.is_none() && reported.is_none() {
                Ok(())
            } else {
                Err(format!(
                    "Deployment {}, Service {}, status {reported:?}",
                    d.is_some(),
                    s.is_some()
                ))
            }
        },
    )
    .await;
    support::delete_pipeline(
        &pipelines,
        &name,
        "the pipeline deleted",
        Duration::from_secs(60),
    )
    .await;
    support::delete_namespace(&client, &ns).await;
}

//! `spec.networkPolicy` with the operator binary against the real API
//! server: the policies it renders pass server-side apply (the real
//! kube-apiserver validates NetworkPolicy) and are stored exactly as the
//! builder renders them, owned by the pipeline; a hand-deleted policy comes
//! back; a disabled workload's policy and, once the spec turns them off,
//! all of them go; a malformed peer is an `InvalidSpec` condition, and a
//! spec without Kafka peers is refused at admission.
//!
//! The local stack runs no network plugin, so whether the policies are
//! enforced is not tested here (docs/security.md).

#[path = "operator_support/mod.rs"]
mod support;

use std::time::Duration;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use operator::crd::AnalyticsPipeline;
use operator::model::DefaultImages;
use operator::reconcile::validate::validate;
use operator::workloads::build_network_policies;
use serde_json::{Value, json};
use support::{OperatorProcess, apply_pipeline, condition, kafka_bootstrap, unique, wait_until};

const WAIT: Duration = Duration::from_secs(60);

fn spec(serving: bool, network_policy: Value) -> Value {
    let mut spec = json!({
        "kafka": {"bootstrapServers": kafka_bootstrap()},
        "generator": {"eventsPerSecond": 1},
        "deletionPolicy": "Delete",
        "networkPolicy": network_policy,
    });
    if serving {
        spec["serving"] = json!({"redis": {"address": "redis.cache:6379"}});
    }
    spec
}

fn enabled() -> Value {
    json!({
        "enabled": true,
        "kafkaPeers": [{"ipBlock": {"cidr": "127.0.0.0/8", "except": ["127.0.0.2/32"]}}],
        "redisPeers": [{
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "cache"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis"}},
        }],
        "metricsFrom": [{
            "namespaceSelector": {"matchExpressions": [{
                "key": "kubernetes.io/metadata.name", "operator": "In", "values": ["monitoring"],
            }]},
        }],
    })
}

async fn policy_names(api: &Api<NetworkPolicy>, pipeline: &str) -> Result<Vec<String>, String> {
    let list = api
        .list(&kube::api::ListParams::default().labels(&format!(
            "app.kubernetes.io/instance={pipeline},app.kubernetes.io/managed-by=shopstream-operator"
        )))
        .await
        .map_err(|e| e.to_string())?;
    let mut names: Vec<String> = list.items.iter().map(|n| n.name_any()).collect();
    names.sort();
    Ok(names)
}

#[tokio::test]
async fn network_policies_are_applied_owned_restored_and_removed() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-netpol").await;
    let operator = OperatorProcess::start(&ns, "op-1", "shopstream-operator");
    let name = unique("shop");
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);
    let all = [
        format!("{name}-generator"),
        format!("{name}-processor"),
        format!("{name}-serving"),
    ];

    apply_pipeline(&client, &ns, &name, spec(true, enabled())).await;
    wait_until("the three NetworkPolicies", WAIT, || async {
        let names = policy_names(&policies, &name).await?;
        if names == all {
            Ok(())
        } else {
            Err(format!("{names:?}; log:\n{}", operator.log(&ns)))
        }
    })
    .await;

    // Stored as rendered (the API server accepted every field and
    // defaulted none away), owned by the pipeline.
    let pipeline = pipelines.get(&name).await.expect("the pipeline");
    let uid = pipeline.uid().expect("uid");
    let validated = validate(&pipeline, &DefaultImages::default()).expect("valid pipeline");
    let rendered = build_network_policies(&validated);
    assert_eq!(rendered.len(), 3);
    for want in rendered {
        let stored = policies.get(&want.name_any()).await.expect("stored policy");
        assert_eq!(
            serde_json::to_value(&stored.spec).expect("json"),
            serde_json::to_value(&want.spec).expect("json"),
            "{}",
            want.name_any()
        );
        let owner = stored.owner_references();
        assert!(
            owner
                .iter()
                .any(|o| o.uid == uid && o.controller == Some(true)),
            "{} is owned by the pipeline: {owner:?}",
            want.name_any()
        );
    }

    // A policy deleted by hand comes back.
    policies
        .delete(&all[1], &Default::default())
        .await
        .expect("delete the processor's policy");
    wait_until("the processor's policy to come back", WAIT, || async {
        match policies.get_opt(&all[1]).await.map_err(|e| e.to_string())? {
            Some(_) => Ok(()),
            None => Err(format!("still gone; log:\n{}", operator.log(&ns))),
        }
    })
    .await;

    // Serving off: its policy goes, the others stay.
    apply_pipeline(&client, &ns, &name, spec(false, enabled())).await;
    wait_until("the serving policy to go", WAIT, || async {
        let names = policy_names(&policies, &name).await?;
        if names == all[..2] {
            Ok(())
        } else {
            Err(format!("{names:?}"))
        }
    })
    .await;

    // A malformed peer: a condition naming the field, no apply.
    let mut bad = enabled();
    bad["kafkaPeers"] = json!([{"ipBlock": {"cidr": "10.0.0.0/33"}}]);
    apply_pipeline(&client, &ns, &name, spec(false, bad)).await;
    wait_until("Ready=False InvalidSpec", WAIT, || async {
        let p = pipelines.get(&name).await.map_err(|e| e.to_string())?;
        match condition(&p, "Ready") {
            Some((status, reason, message))
                if status == "False"
                    && reason == "InvalidSpec"
                    && message.contains("networkPolicy.kafkaPeers[0]") =>
            {
                Ok(())
            }
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    // Without Kafka peers (and no Strimzi cluster) the API server refuses
    // the spec: nothing can be derived from a bootstrap string.
    let refused = pipelines
        .patch(
            &name,
            &PatchParams::apply(support::FIELD_MANAGER).force(),
            &Patch::Apply(json!({
                "apiVersion": "analytics.shopstream.dev/v1alpha1",
                "kind": "AnalyticsPipeline",
                "metadata": {"name": name},
                "spec": spec(false, json!({"enabled": true})),
            })),
        )
        .await
        .expect_err("refused at admission");
    assert!(
        refused.to_string().contains("networkPolicy.kafkaPeers"),
        "{refused}"
    );

    // Turned off: every policy goes.
    apply_pipeline(&client, &ns, &name, spec(false, json!({"enabled": false}))).await;
    wait_until("every policy to go", WAIT, || async {
        let names = policy_names(&policies, &name).await?;
        if names.is_empty() {
            Ok(())
        } else {
            Err(format!("{names:?}; log:\n{}", operator.log(&ns)))
        }
    })
    .await;
    let log = operator.log(&ns);
    assert!(!log.contains("forbidden"), "{log}");

    support::delete_pipeline(&pipelines, &name, "pipeline deleted", WAIT).await;
    support::delete_namespace(&client, &ns).await;
}

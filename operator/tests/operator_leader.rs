//! Two operator processes share one Lease: only the leader reconciles, and
//! killing it hands over to the other.

mod support;

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use operator::crd::AnalyticsPipeline;
use serde_json::json;
use support::{OperatorProcess, kafka_bootstrap, unique, wait_until};

async fn holder(client: &Client, ns: &str, lease: &str) -> Result<String, String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), ns);
    leases
        .get_opt(lease)
        .await
        .map_err(|e| e.to_string())?
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .ok_or_else(|| "no lease holder yet".to_string())
}

async fn create_pipeline(client: &Client, ns: &str, name: &str) {
    let api: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), ns);
    let object = json!({
        "apiVersion": "analytics.shopstream.dev/v1alpha1",
        "kind": "AnalyticsPipeline",
        "metadata": {"name": name},
        "spec": {"kafka": {"bootstrapServers": kafka_bootstrap()},
                 "generator": {"enabled": false}, "deletionPolicy": "Delete"},
    });
    api.patch(
        name,
        &PatchParams::apply(support::FIELD_MANAGER),
        &Patch::Apply(&object),
    )
    .await
    .expect("pipeline applied");
}

async fn reconciled_by_someone(client: &Client, ns: &str, name: &str) {
    let api: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), ns);
    wait_until(
        "the pipeline to get a status",
        Duration::from_secs(60),
        || async {
            let p = api.get(name).await.map_err(|e| e.to_string())?;
            match p.status.and_then(|s| s.phase) {
                Some(phase) => Ok(phase),
                None => Err("no phase yet".into()),
            }
        },
    )
    .await;
}

fn log_of(ns: &str, identity: &str) -> String {
    let dir = std::env::var("SHOPSTREAM_LOG_DIR").unwrap_or_else(|_| "/tmp".into());
    std::fs::read_to_string(format!("{dir}/operator-test-{ns}-{identity}.log")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_reconciles_and_leadership_moves_when_it_dies() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-leader").await;
    let lease = unique("lease");
    let mut first = OperatorProcess::start(&ns, "op-a", &lease);
    let leader = wait_until("a leader", Duration::from_secs(30), || {
        holder(&client, &ns, &lease)
    })
    .await;
    assert_eq!(leader, "op-a");
    let mut second = OperatorProcess::start(&ns, "op-b", &lease);

    let name = unique("shop");
    create_pipeline(&client, &ns, &name).await;
    reconciled_by_someone(&client, &ns, &name).await;
    // Give the standby time to (wrongly) start; it must not.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(log_of(&ns, "op-a").contains("starting controller"));
    assert!(
        !log_of(&ns, "op-b").contains("starting controller"),
        "the standby reconciles too:\n{}",
        log_of(&ns, "op-b")
    );
    assert_eq!(holder(&client, &ns, &lease).await, Ok("op-a".to_string()));

    // Kill the leader without a chance to clean up; the standby takes over
    // once the lease expires and reconciles new pipelines.
    first.kill();
    let next = wait_until("the standby to lead", Duration::from_secs(40), || async {
        match holder(&client, &ns, &lease).await? {
            h if h == "op-b" => Ok(h),
            h => Err(format!("holder is still {h}")),
        }
    })
    .await;
    assert_eq!(next, "op-b");
    let second_name = unique("shop");
    create_pipeline(&client, &ns, &second_name).await;
    reconciled_by_someone(&client, &ns, &second_name).await;
    assert!(log_of(&ns, "op-b").contains("starting controller"));

    // Clean up the topics through the operator (deletionPolicy Delete).
    let api: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    for n in [&name, &second_name] {
        support::delete_pipeline(&api, n, "pipeline deleted", Duration::from_secs(60)).await;
    }
    second.kill();
    support::delete_namespace(&client, &ns).await;
}

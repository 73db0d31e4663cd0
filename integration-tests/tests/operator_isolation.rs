//! A panic while reconciling one pipeline is that pipeline's condition and
//! Event; the operator keeps reconciling the others. The panic comes from
//! the operator's test hook `SHOPSTREAM_TEST_PANIC_PIPELINE`.

#[path = "operator_support/mod.rs"]
mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use kube::Api;
use kube::api::ListParams;
use operator::crd::AnalyticsPipeline;
use serde_json::json;
use support::{OperatorProcess, apply_pipeline, condition, kafka_bootstrap, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_pipeline_does_not_stop_the_others() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "isolation").await;
    let hook = format!("{ns}/broken");
    let mut operator = OperatorProcess::start_with(
        &ns,
        "op-1",
        "shopstream-operator",
        &[("SHOPSTREAM_TEST_PANIC_PIPELINE", &hook)],
    );
    let spec = json!({
        "kafka": {"bootstrapServers": kafka_bootstrap()},
        "generator": {"enabled": false},
    });
    apply_pipeline(&client, &ns, "broken", spec.clone()).await;
    apply_pipeline(&client, &ns, "healthy", spec).await;
    let pipelines: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);

    let ready = wait_until(
        "the panic on broken's Ready condition",
        Duration::from_secs(60),
        || async {
            let p = pipelines.get("broken").await.map_err(|e| e.to_string())?;
            match condition(&p, "Ready") {
                Some((status, reason, message)) if reason == "InternalError" => {
                    Ok((status, message))
                }
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert_eq!(ready.0, "False");
    assert!(ready.1.contains("panicked"), "{}", ready.1);

    wait_until(
        "healthy reconciled with topics",
        Duration::from_secs(60),
        || async {
            let p = pipelines.get("healthy").await.map_err(|e| e.to_string())?;
            match condition(&p, "TopicsReady") {
                Some((status, _, _)) if status == "True" => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;

    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    wait_until(
        "a Warning Event InternalError for broken",
        Duration::from_secs(30),
        || async {
            let list = events
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            list.items
                .iter()
                .find(|e| {
                    e.reason.as_deref() == Some("InternalError")
                        && e.type_.as_deref() == Some("Warning")
                        && e.involved_object.name.as_deref() == Some("broken")
                })
                .map(|_| ())
                .ok_or_else(|| format!("{} events, none matching", list.items.len()))
        },
    )
    .await;

    // It is retried (with backoff), and the operator is still alive.
    assert!(
        operator.child.try_wait().expect("process state").is_none(),
        "the operator exited"
    );
    operator.kill();
    support::delete_namespace(&client, &ns).await;
}

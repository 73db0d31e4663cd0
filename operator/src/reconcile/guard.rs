//! Isolation between pipelines: a panic while reconciling one pipeline
//! becomes that pipeline's error (a `Ready=False, InternalError` condition
//! and a Warning Event, retried with backoff), never the operator's end.
//! Without this, a panic inside the reconcile future would unwind through
//! the controller's stream and stop reconciling every pipeline.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};

use futures::FutureExt;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use tracing::error;

use super::{patch_status, pipeline_key, publish, reconcile};
use crate::context::Context;
use crate::crd::{AnalyticsPipeline, AnalyticsPipelineStatus, Phase};
use crate::error::{Error, Result};
use crate::status::ready_false_after_error;

/// Test hook: a pipeline with this name (`namespace/name`) panics in its
/// reconcile, so the integration tests can show the isolation. Read once
/// from `SHOPSTREAM_TEST_PANIC_PIPELINE`; unset in every real deployment.
fn panic_hook() -> Option<&'static str> {
    static HOOK: OnceLock<Option<String>> = OnceLock::new();
    HOOK.get_or_init(|| std::env::var("SHOPSTREAM_TEST_PANIC_PIPELINE").ok())
        .as_deref()
}

/// `reconcile`, with panics caught and reported on the pipeline.
pub async fn reconcile_guarded(
    pipeline: Arc<AnalyticsPipeline>,
    ctx: Arc<Context>,
) -> Result<Action> {
    let key = pipeline_key(&pipeline);
    let run = async {
        if panic_hook() == Some(key.as_str()) {
            panic!("test hook SHOPSTREAM_TEST_PANIC_PIPELINE={key}");
        }
        reconcile(pipeline.clone(), ctx.clone()).await
    };
    match catch_panic(run).await {
        Ok(result) => result,
        Err(error) => {
            error!(pipeline = %key, %error, "reconcile panicked; reporting it on the pipeline and retrying");
            report(&pipeline, &ctx, &error).await;
            Err(error)
        }
    }
}

/// Runs `future`, turning a panic into [`Error::Internal`].
pub async fn catch_panic<T>(future: impl std::future::Future<Output = T>) -> Result<T> {
    AssertUnwindSafe(future)
        .catch_unwind()
        .await
        .map_err(|panic| Error::internal(format!("reconcile panicked: {}", panic_message(&*panic))))
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(message) = panic.downcast_ref::<&str>() {
        (*message).to_string()
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// The error as the pipeline's Ready condition (phase Degraded) and a
/// Warning Event. Best effort: failures to report are logged only.
async fn report(p: &AnalyticsPipeline, ctx: &Context, error: &Error) {
    publish(
        ctx,
        p,
        EventType::Warning,
        error.category(),
        error.to_string(),
    )
    .await;
    let previous = p.status.clone().unwrap_or_default();
    let now =
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    let conditions = ready_false_after_error(
        &previous.conditions,
        error.category(),
        error.to_string(),
        p.metadata.generation,
        &now,
    );
    let status = AnalyticsPipelineStatus {
        phase: Some(Phase::Degraded),
        conditions,
        ..previous
    };
    ctx.set_phase(&pipeline_key(p), Phase::Degraded);
    if let Err(e) = patch_status(p, ctx, &status).await {
        error!(pipeline = %p.name_any(), error = %e, "cannot report the internal error in the status");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn panics_become_internal_errors() {
        let error = catch_panic(async { panic!("boom {}", 7) })
            .await
            .expect_err("caught");
        assert!(
            matches!(&error, Error::Internal { message, .. } if message.contains("boom 7")),
            "{error}"
        );
        assert_eq!(error.category(), "InternalError");
        assert!(!error.is_permanent(), "retried with backoff");
        let static_message = catch_panic(async { panic!("static") })
            .await
            .expect_err("caught");
        assert!(static_message.to_string().contains("static"));
    }

    #[tokio::test]
    async fn results_pass_through() {
        assert_eq!(catch_panic(async { 5 }).await.expect("no panic"), 5);
    }
}

//! `GET /` (the page), `GET /api/dashboard` (everything the page shows),
//! `GET /api/status` (the component's own state).

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use serde_json::json;
use shopstream_common::http::{Body, RouteFuture, Routes, json, text};

use super::read::Reader;
use super::snapshot::assemble;
use crate::service::health::Health;

const PAGE: &str = include_str!("page.html");

pub struct DashboardRoutes {
    inner: Arc<Inner>,
}

struct Inner {
    reader: Reader,
    health: Arc<Health>,
    namespace: String,
    pipeline: String,
}

impl DashboardRoutes {
    pub fn new(
        reader: Reader,
        health: Arc<Health>,
        namespace: String,
        pipeline: String,
    ) -> DashboardRoutes {
        DashboardRoutes {
            inner: Arc::new(Inner {
                reader,
                health,
                namespace,
                pipeline,
            }),
        }
    }
}

fn no_store(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

impl Inner {
    fn pipeline(&self) -> serde_json::Value {
        json!({ "namespace": self.namespace, "name": self.pipeline })
    }

    async fn dashboard(&self) -> Response<Body> {
        let status = self.health.status();
        match self.reader.read().await {
            Ok(raw) => {
                let mut body = assemble(raw);
                body["pipeline"] = self.pipeline();
                body["serving"] = json!(status);
                no_store(json(StatusCode::OK, body.to_string()))
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the dashboard from Redis failed");
                let body = json!({
                    "pipeline": self.pipeline(),
                    "serving": status,
                    "error": e.to_string(),
                });
                no_store(json(StatusCode::SERVICE_UNAVAILABLE, body.to_string()))
            }
        }
    }
}

impl Routes for DashboardRoutes {
    fn route(&self, parts: &Parts, _body: Incoming) -> Option<RouteFuture> {
        let path = parts.uri.path();
        if !matches!(path, "/" | "/index.html" | "/api/dashboard" | "/api/status") {
            return None;
        }
        if parts.method != Method::GET && parts.method != Method::HEAD {
            return Some(Box::pin(async {
                text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n")
            }));
        }
        let inner = Arc::clone(&self.inner);
        let path = path.to_owned();
        Some(Box::pin(async move {
            match path.as_str() {
                "/api/dashboard" => inner.dashboard().await,
                "/api/status" => {
                    let mut body = json!(inner.health.status());
                    body["pipeline"] = inner.pipeline();
                    no_store(json(StatusCode::OK, body.to_string()))
                }
                _ => {
                    let mut response = text(StatusCode::OK, PAGE);
                    response.headers_mut().insert(
                        CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=utf-8"),
                    );
                    no_store(response)
                }
            }
        }))
    }
}

//! The listener and the built-in routes.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::response::with_type;
use super::{Body, NoRoutes, Readiness, Routes, text};

/// Something that renders the Prometheus text format: each binary's metrics.
pub trait RenderMetrics: Send + Sync + 'static {
    fn render(&self) -> String;
}

/// What the server answers with.
pub struct Endpoints {
    pub metrics: Arc<dyn RenderMetrics>,
    pub readiness: Readiness,
    pub routes: Arc<dyn Routes>,
}

impl Endpoints {
    /// The three built-in paths only.
    pub fn new(metrics: Arc<dyn RenderMetrics>, readiness: Readiness) -> Self {
        Self {
            metrics,
            readiness,
            routes: Arc::new(NoRoutes),
        }
    }

    /// Serves `routes` too, after the built-in paths.
    pub fn with_routes(mut self, routes: Arc<dyn Routes>) -> Self {
        self.routes = routes;
        self
    }
}

/// A bound listener, not serving yet: binding first lets a binary fail at
/// start-up on a taken port, and tests bind port 0 and read the port back.
pub struct EndpointServer {
    listener: TcpListener,
    local_addr: SocketAddr,
}

impl EndpointServer {
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves on a task of its own until that task is aborted (the binary
    /// aborts it last, so `/metrics` stays readable while it shuts down).
    pub fn spawn(self, endpoints: Endpoints) -> JoinHandle<()> {
        tracing::info!(addr = %self.local_addr, "serving /metrics, /healthz, /readyz");
        tokio::spawn(self.serve(Arc::new(endpoints)))
    }

    async fn serve(self, endpoints: Arc<Endpoints>) {
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait instead of spinning.
                    tracing::warn!(error = %e, "accepting an HTTP connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let endpoints = Arc::clone(&endpoints);
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let endpoints = Arc::clone(&endpoints);
                    async move { Ok::<_, Infallible>(route(&endpoints, req).await) }
                });
                if let Err(e) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
                }
            });
        }
    }
}

async fn route(endpoints: &Endpoints, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    if let Some(response) = builtin(endpoints, &parts.method, parts.uri.path()) {
        return response;
    }
    match endpoints.routes.route(&parts, body) {
        Some(response) => response.await,
        None => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn builtin(endpoints: &Endpoints, method: &Method, path: &str) -> Option<Response<Body>> {
    if !matches!(path, "/metrics" | "/healthz" | "/readyz") {
        return None;
    }
    if method != Method::GET && method != Method::HEAD {
        return Some(text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n"));
    }
    let readiness = &endpoints.readiness;
    Some(match path {
        "/metrics" => with_type(
            StatusCode::OK,
            endpoints.metrics.render().into(),
            "text/plain; version=0.0.4; charset=utf-8",
        ),
        "/healthz" => text(StatusCode::OK, "ok\n"),
        _ if readiness.is_ready() => text(StatusCode::OK, "ready\n"),
        _ => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}\n", readiness.waiting_for()),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::RouteFuture;
    use hyper::http::request::Parts;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    struct Fixed;
    impl RenderMetrics for Fixed {
        fn render(&self) -> String {
            "shopstream_test_up 1\n".into()
        }
    }

    struct Dashboard;
    impl Routes for Dashboard {
        fn route(&self, parts: &Parts, _body: Incoming) -> Option<RouteFuture> {
            (parts.uri.path() == "/api/pipelines")
                .then(|| Box::pin(async { crate::http::json(StatusCode::OK, "[]") }) as RouteFuture)
        }
    }

    async fn get(addr: SocketAddr, method: &str, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.expect("read");
        reply
    }

    #[tokio::test]
    async fn builtin_paths_readiness_and_extra_routes() {
        let server = EndpointServer::bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let addr = server.local_addr();
        let readiness = Readiness::new("waiting for the test");
        let task = server.spawn(
            Endpoints::new(Arc::new(Fixed), readiness.clone()).with_routes(Arc::new(Dashboard)),
        );

        let metrics = get(addr, "GET", "/metrics").await;
        assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
        assert!(metrics.contains("version=0.0.4"), "{metrics}");
        assert!(metrics.ends_with("shopstream_test_up 1\n"), "{metrics}");
        assert!(
            get(addr, "GET", "/healthz")
                .await
                .starts_with("HTTP/1.1 200")
        );
        let waiting = get(addr, "GET", "/readyz").await;
        assert!(waiting.starts_with("HTTP/1.1 503"), "{waiting}");
        assert!(waiting.ends_with("waiting for the test\n"), "{waiting}");
        readiness.set(true);
        assert!(
            get(addr, "GET", "/readyz")
                .await
                .starts_with("HTTP/1.1 200")
        );
        assert!(
            get(addr, "POST", "/metrics")
                .await
                .starts_with("HTTP/1.1 405")
        );
        let api = get(addr, "GET", "/api/pipelines").await;
        assert!(api.starts_with("HTTP/1.1 200"), "{api}");
        assert!(
            api.contains("application/json") && api.ends_with("[]"),
            "{api}"
        );
        assert!(
            get(addr, "GET", "/nothing")
                .await
                .starts_with("HTTP/1.1 404")
        );
        task.abort();
    }
}

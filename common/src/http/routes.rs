//! The hook through which a binary serves its own paths.

use std::future::Future;
use std::pin::Pin;

use hyper::Response;
use hyper::body::Incoming;
use hyper::http::request::Parts;

use super::Body;

/// A response being computed (a route may read state asynchronously).
pub type RouteFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// A binary's own routes, tried after the built-in ones. Any method may
/// reach them (the built-in paths answer GET and HEAD only).
pub trait Routes: Send + Sync + 'static {
    /// `None` when the path is not one of these routes (then 404).
    fn route(&self, parts: &Parts, body: Incoming) -> Option<RouteFuture>;
}

/// No routes beyond the built-in ones.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRoutes;

impl Routes for NoRoutes {
    fn route(&self, _parts: &Parts, _body: Incoming) -> Option<RouteFuture> {
        None
    }
}

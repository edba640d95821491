//! HTTP requests by route, method and status, and their time to the
//! response head, for `/metrics`.
//!
//! Runs as axum middleware added with `Router::layer`, which runs after
//! routing, so it reads the route *template* (`/api/sse/tasks/{id}`,
//! from axum's `MatchedPath`), never the raw path: the label set stays
//! bounded whatever clients request. Requests no route matched (static
//! files, 404s) share the route label `fallback`, and a method outside
//! the standard nine is counted as `other` (a client can send any token of
//! any length as a method). The access log (`server::startup`) names
//! requests with the same two labels, [`method_label`] and [`route_label`],
//! so it never prints a path that carries a task id, a stream id or a
//! token. tower-http offers a
//! request log (used for the access log, see `server::startup`) but no
//! request counter by route, hence this small layer.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

/// Labels of a request series.
pub type RequestLabels = Vec<(&'static str, String)>;

/// The request series; clones share the values.
#[derive(Clone)]
pub struct HttpMetrics {
    /// Requests answered, by method, route and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Seconds until the response head (for a stream: until it opened),
    /// by route.
    pub duration: Family<RequestLabels, Histogram>,
    /// TCP connections accepted, by the path that served them (`stream`:
    /// a stream request on a connection of its own, served without hyper's
    /// buffers; `hyper`: everything else). Counted by `server::http`.
    pub connections: Family<ConnectionLabels, Counter>,
}

/// Labels of a connection series.
pub type ConnectionLabels = [(&'static str, &'static str); 1];

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            connections: Family::default(),
            duration: Family::new_with_constructor(|| {
                // 1 ms … ~16 s.
                Histogram::new(exponential_buckets(0.001, 2.0, 15))
            }),
        }
    }
}

/// The label of a request's method: one of the nine standard methods, or
/// `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The label of a request's route: the template the router matched
/// (`/api/sse/tasks/{id}`), or `fallback` for static files and 404s.
/// Valid once routing has run (inside `Router::layer`).
pub fn route_label<B>(request: &axum::http::Request<B>) -> &str {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or("fallback", MatchedPath::as_str)
}

/// Middleware: counts and times every request.
pub async fn track(State(metrics): State<HttpMetrics>, request: Request, next: Next) -> Response {
    let route = route_label(&request).to_owned();
    let method = method_label(request.method()).to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .duration
        .get_or_create(&vec![("route", route.clone())])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&vec![
            ("method", method),
            ("route", route),
            ("status", response.status().as_str().to_owned()),
        ])
        .inc();
    response
}

//! Cross-site request refusal (CSRF): a browser request that changes state
//! must come from the site's own origin, or from one the operator listed
//! (`BELFRY_ALLOWED_ORIGINS`).
//!
//! Runs as middleware on every route. Safe methods pass. So do requests
//! with an `Authorization` header: a cross-site page cannot set one without
//! a CORS preflight, which Belfry never grants, and the publishing API's
//! callers are backends. For the rest:
//! - `Sec-Fetch-Site: same-origin` (or `none`, typed by the user) passes;
//!   `same-site` and `cross-site` pass only from a listed origin, so a
//!   sibling subdomain, which `SameSite=Lax` does not stop, is refused.
//! - Without `Sec-Fetch-Site` (older browsers), `Origin` must name this
//!   host (compared with `Host`) or a listed origin.
//! - With neither header the caller is not a browser and carries no
//!   ambient cookie risk: it passes.
//!
//! Refusals are 403 with the API's JSON error, before any handler runs, so
//! nothing is stored. This module must not look at bodies or sessions.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::server::error::ApiError;

/// The origins allowed besides the site's own; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    allowed: Arc<[String]>,
}

fn normalise(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl OriginPolicy {
    /// A policy that also allows `allowed` (`scheme://host[:port]`).
    pub fn new(allowed: &[String]) -> Self {
        Self {
            allowed: allowed
                .iter()
                .map(|origin| normalise(origin))
                .filter(|origin| !origin.is_empty())
                .collect(),
        }
    }

    fn listed(&self, origin: &str) -> bool {
        let origin = normalise(origin);
        self.allowed.contains(&origin)
    }

    /// Whether a request with this method and these headers may proceed.
    pub fn allows(&self, method: &Method, headers: &HeaderMap) -> bool {
        if method.is_safe() || headers.contains_key(header::AUTHORIZATION) {
            return true;
        }
        let origin = headers
            .get(header::ORIGIN)
            .and_then(|value| value.to_str().ok());
        match headers
            .get("sec-fetch-site")
            .and_then(|value| value.to_str().ok())
        {
            Some("same-origin" | "none") => return true,
            Some(_) => return origin.is_some_and(|origin| self.listed(origin)),
            None => {}
        }
        let Some(origin) = origin else {
            return true;
        };
        if self.listed(origin) {
            return true;
        }
        let host = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok());
        let origin_host = origin
            .split_once("://")
            .map(|(_, host)| host.trim_end_matches('/'));
        matches!((origin_host, host), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
    }
}

/// Middleware: refuses cross-site state changes with 403.
pub async fn refuse_cross_site(
    State(policy): State<OriginPolicy>,
    request: Request,
    next: Next,
) -> Response {
    if policy.allows(request.method(), request.headers()) {
        next.run(request).await
    } else {
        tracing::info!(
            path = request.uri().path(),
            origin = ?request.headers().get(header::ORIGIN),
            "refused a cross-site request"
        );
        ApiError::Forbidden("cross-site request refused: this origin may not change state here")
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn policy() -> OriginPolicy {
        OriginPolicy::new(&["https://app.example.com/".to_owned()])
    }

    #[test]
    fn safe_methods_and_non_browsers_pass() {
        let policy = policy();
        assert!(policy.allows(
            &Method::GET,
            &headers(&[("origin", "https://evil.example")])
        ));
        assert!(policy.allows(&Method::POST, &headers(&[])));
        assert!(policy.allows(
            &Method::POST,
            &headers(&[
                ("authorization", "Bearer k"),
                ("origin", "https://evil.example")
            ])
        ));
    }

    #[test]
    fn fetch_metadata_decides_when_present() {
        let policy = policy();
        assert!(policy.allows(
            &Method::POST,
            &headers(&[("sec-fetch-site", "same-origin")])
        ));
        assert!(!policy.allows(
            &Method::POST,
            &headers(&[
                ("sec-fetch-site", "same-site"),
                ("origin", "https://sib.example.com")
            ])
        ));
        assert!(!policy.allows(&Method::POST, &headers(&[("sec-fetch-site", "cross-site")])));
        assert!(policy.allows(
            &Method::POST,
            &headers(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://APP.example.com")
            ])
        ));
    }

    #[test]
    fn without_fetch_metadata_the_origin_must_be_this_host_or_listed() {
        let policy = policy();
        let own = [
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000"),
        ];
        assert!(policy.allows(&Method::POST, &headers(&own)));
        let foreign = [
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:3000"),
        ];
        assert!(!policy.allows(&Method::POST, &headers(&foreign)));
        let null = [("origin", "null"), ("host", "127.0.0.1:3000")];
        assert!(!policy.allows(&Method::POST, &headers(&null)));
        assert!(policy.allows(
            &Method::DELETE,
            &headers(&[("origin", "https://app.example.com")])
        ));
    }
}

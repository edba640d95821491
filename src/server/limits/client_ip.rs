//! Which address a request counts against: the connection's peer, or,
//! behind a trusted proxy, the header that proxy sets
//! (`BELFRY_CLIENT_IP_HEADER`).
//!
//! [`resolve`] runs as middleware once per request and leaves a
//! [`ClientIp`] in the request's extensions, where stream admission and
//! server functions read it. It must only be trusted when the proxy
//! overwrites the header: otherwise clients choose their own address.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::Response;

/// The client's address, when known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

/// Where the client's address comes from; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ClientIpSource {
    header: Option<Arc<HeaderName>>,
}

impl ClientIpSource {
    /// From `header` when given (an invalid header name is refused).
    pub fn new(header: Option<&str>) -> Result<Self, String> {
        let header = header
            .filter(|name| !name.trim().is_empty())
            .map(|name| {
                HeaderName::try_from(name.trim())
                    .map(Arc::new)
                    .map_err(|_| format!("BELFRY_CLIENT_IP_HEADER: {name:?} is not a header name"))
            })
            .transpose()?;
        Ok(Self { header })
    }

    /// The address of a request with these parts.
    pub fn of(&self, parts: &Parts) -> Option<IpAddr> {
        match &self.header {
            // The proxy appends the address it saw last: the one entry a
            // client cannot forge.
            Some(header) => parts
                .headers
                .get_all(header.as_ref())
                .iter()
                .next_back()
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.rsplit(',').next())
                .and_then(|entry| entry.trim().parse().ok()),
            None => parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
        }
    }
}

/// Middleware: records the request's [`ClientIp`].
pub async fn resolve(
    State(source): State<ClientIpSource>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let ip = ClientIp(source.of(&parts));
    parts.extensions.insert(ip);
    next.run(Request::from_parts(parts, body)).await
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientIp>()
            .copied()
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)], peer: Option<&str>) -> Parts {
        let mut request = axum::http::Request::builder();
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        if let Some(peer) = peer {
            parts
                .extensions
                .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        }
        parts
    }

    #[test]
    fn without_a_header_the_peer_counts_and_headers_are_ignored() {
        let source = ClientIpSource::new(None).unwrap();
        let parts = parts(
            &[("x-forwarded-for", "203.0.113.9")],
            Some("192.0.2.7:5000"),
        );
        assert_eq!(source.of(&parts), Some("192.0.2.7".parse().unwrap()));
    }

    #[test]
    fn with_a_trusted_header_its_last_entry_counts() {
        let source = ClientIpSource::new(Some("X-Forwarded-For")).unwrap();
        let parts = parts(
            &[("x-forwarded-for", "10.9.9.9, 203.0.113.9")],
            Some("127.0.0.1:5000"),
        );
        assert_eq!(source.of(&parts), Some("203.0.113.9".parse().unwrap()));
        let garbage = super::tests::parts(&[("x-forwarded-for", "nonsense")], None);
        assert_eq!(source.of(&garbage), None);
    }

    #[test]
    fn an_invalid_header_name_is_refused() {
        assert!(ClientIpSource::new(Some("bad header")).is_err());
    }
}

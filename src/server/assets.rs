//! How long browsers may keep the site's built assets.
//!
//! The release build names the WASM, JS and CSS under `/pkg/` by content
//! hash (`hash-files`) and writes brotli and gzip copies beside them
//! (`cargo leptos build --release --precompress`), which leptos_axum's file
//! handler serves by `Accept-Encoding` (this module adds the `Vary`). A
//! hashed name never changes content, so it may be cached for a year
//! without revalidating; unhashed builds (a debug build) revalidate every
//! time. This module only sets `Cache-Control` on `/pkg/` answers; it must
//! not serve files.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The path prefix of built assets.
const PKG: &str = "/pkg/";

/// Whether asset names carry content hashes (from `LeptosOptions`).
#[derive(Debug, Clone, Copy)]
pub struct HashedAssets(pub bool);

/// Adds the cache lifetime to successful `/pkg/` answers.
pub async fn cache_lifetimes(
    State(HashedAssets(hashed)): State<HashedAssets>,
    request: Request,
    next: Next,
) -> Response {
    let is_asset = request.uri().path().starts_with(PKG);
    let mut response = next.run(request).await;
    if is_asset && response.status().is_success() {
        let lifetime = if hashed {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(lifetime));
        // The same name answers brotli, gzip or identity by Accept-Encoding;
        // shared caches must keep them apart.
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::middleware::from_fn_with_state;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    use super::*;

    async fn headers(hashed: bool, path: &str) -> axum::http::HeaderMap {
        let app = Router::new()
            .route("/pkg/belfry.abc.wasm", get(|| async { "wasm" }))
            .route("/notifications", get(|| async { "page" }))
            .layer(from_fn_with_state(HashedAssets(hashed), cache_lifetimes));
        let request = Request::builder().uri(path).body(Body::empty()).unwrap();
        app.oneshot(request).await.unwrap().headers().clone()
    }

    #[tokio::test]
    async fn hashed_assets_are_immutable_for_a_year_and_vary_by_encoding() {
        let asset = headers(true, "/pkg/belfry.abc.wasm").await;
        assert_eq!(
            asset[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(asset[header::VARY], "accept-encoding");
        let unhashed = headers(false, "/pkg/belfry.abc.wasm").await;
        assert_eq!(unhashed[header::CACHE_CONTROL], "no-cache");
        let page = headers(true, "/notifications").await;
        assert!(
            page.get(header::CACHE_CONTROL).is_none(),
            "pages are not assets"
        );
        let missing = headers(true, "/pkg/gone.wasm").await;
        assert!(
            missing.get(header::CACHE_CONTROL).is_none(),
            "a 404 is not cached for a year"
        );
    }
}

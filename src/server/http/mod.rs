//! The connection loop: accepts TCP connections and serves HTTP/1.1 on
//! each, through one of two paths (below): hyper's own connection builder,
//! or Belfry's stream path for a connection that opens a stream. Either way
//! every connection gets the timeouts `axum::serve` does not set.
//!
//! - **Header-read timeout** (`BELFRY_HEADER_READ_TIMEOUT_SECS`): a client
//!   that trickles its request head is disconnected (hyper's timer, or the
//!   stream path's own).
//! - **Write timeout** (`BELFRY_WRITE_TIMEOUT_SECS`): a client that stops
//!   reading, so that nothing written makes progress for that long, is
//!   disconnected and its stream's memory freed (tokio-io-timeout on the
//!   socket; reads have no timeout, since an SSE client never writes).
//! - **The peer address** goes into each request as `ConnectInfo`, for the
//!   limits (`server::limits::client_ip`).
//! - **Stop**: when `stop` resolves (after the drain, see
//!   `server::startup`), the listener closes and open connections get
//!   `grace` to finish their responses; requests in flight complete.
//!
//! - **Two paths** ([`stream_connection`]): a connection whose first bytes
//!   are `GET /api/sse/` is served by Belfry's own one-request HTTP/1.1
//!   writer, which keeps no per-connection buffers while the stream is
//!   open; every other connection by hyper. Both go through the same
//!   router. (A stream request sent on a connection hyper already serves,
//!   such as a browser's kept-alive one, stays with hyper.)
//!   `BELFRY_STREAM_PATH=off` sends every connection to hyper, for an
//!   operator who would rather trust the well-kept crate (about 7 KiB more
//!   per idle stream).
//!
//! Routing and handlers are the router's business; this module looks at a
//! connection's first bytes only to pick its path.

pub mod stream_connection;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio::net::{TcpListener, TcpStream};
use tokio_io_timeout::TimeoutStream;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use self::stream_connection::STREAM_PREFIX;
use super::metrics::http::ConnectionLabels;

/// Per-connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time a client has to send a request's head.
    pub header_read_timeout: Duration,
    /// Time written bytes may sit unread by the client.
    pub write_timeout: Duration,
    /// Whether stream requests take the stream path (off: every
    /// connection is hyper's, `BELFRY_STREAM_PATH=off`).
    pub stream_path: bool,
}

/// Serves `router` on `listener` until `stop` resolves, then waits up to
/// `grace` for open connections to finish. Each connection is counted in
/// `connections` by the path that serves it.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    connections: Family<ConnectionLabels, Counter>,
    stop: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let streams = TaskTracker::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let (builder, watcher) = (builder.clone(), graceful.watcher());
                    let (router, streams) = (router.clone(), streams.clone());
                    let connections = connections.clone();
                    // Each path runs in a task of its own, so a stream's
                    // task is sized for the stream path only.
                    tokio::spawn(async move {
                        // Events should leave at once, not wait for Nagle's
                        // algorithm.
                        let _ = stream.set_nodelay(true);
                        // One budget for the whole head: the peek below and
                        // the stream path's read share it.
                        let head_by = tokio::time::Instant::now() + limits.header_read_timeout;
                        let path = if limits.stream_path {
                            is_stream_request(&stream, head_by).await
                        } else {
                            Some(false)
                        };
                        match path {
                            Some(true) => {
                                connections.get_or_create(&[("path", "stream")]).inc();
                                let served = stream_connection::serve(stream, peer, router, limits.write_timeout, head_by);
                                tokio::spawn(streams.track_future(served));
                            }
                            Some(false) => {
                                connections.get_or_create(&[("path", "hyper")]).inc();
                                let connection = serve_connection(&builder, stream, peer, router, limits);
                                tokio::spawn(async move {
                                    if let Err(error) = watcher.watch(connection).await {
                                        tracing::debug!(%error, "connection closed with an error");
                                    }
                                });
                            }
                            None => {}
                        }
                    });
                }
                Err(error) => {
                    // Out of file descriptors, most likely: wait for some
                    // to be freed instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = &mut stop => break,
        }
    }
    drop(listener);
    streams.close();
    let finished = async {
        tokio::join!(graceful.shutdown(), streams.wait());
    };
    tokio::select! {
        () = finished => Ok(()),
        () = tokio::time::sleep(grace) => {
            tracing::warn!(?grace, "connections still open after the grace period; exiting anyway");
            Ok(())
        }
    }
}

/// Whether the connection's first bytes are a stream request; `None` when
/// the client sends nothing before `head_by` (the header-read deadline), or
/// closes.
/// Bytes are only peeked at: they stay for whichever path reads them. A
/// request line split across packets before the prefix is complete goes to
/// hyper (served the same, with hyper's buffers).
async fn is_stream_request(stream: &TcpStream, head_by: tokio::time::Instant) -> Option<bool> {
    let mut start = [0u8; STREAM_PREFIX.len()];
    match tokio::time::timeout_at(head_by, stream.peek(&mut start)).await {
        Ok(Ok(read)) if read > 0 => Some(read == start.len() && start == *STREAM_PREFIX),
        _ => None,
    }
}

/// One connection served by hyper; the caller has the drain watch it.
fn serve_connection(
    builder: &http1::Builder,
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
) -> impl hyper_util::server::graceful::GracefulConnection<Error = hyper::Error> + Send + 'static {
    let mut io = TimeoutStream::new(stream);
    io.set_write_timeout(Some(limits.write_timeout));
    let service = router.map_request(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    builder.serve_connection(
        TokioIo::new(Box::pin(io)),
        TowerToHyperService::new(service),
    )
}

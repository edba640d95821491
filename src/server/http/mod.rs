//! The connection loop: accepts TCP connections and serves HTTP/1.1 on each
//! with hyper's own connection builder, so every connection gets the
//! timeouts `axum::serve` does not set.
//!
//! - **Header-read timeout** (`BELFRY_HEADER_READ_TIMEOUT_SECS`): a client
//!   that trickles its request head is disconnected (hyper's timer).
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
//! Routing and handlers are the router's business; this module must not
//! look at requests.

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
use tokio::net::{TcpListener, TcpStream};
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt;

/// Per-connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time a client has to send a request's head.
    pub header_read_timeout: Duration,
    /// Time written bytes may sit unread by the client.
    pub write_timeout: Duration,
}

/// Serves `router` on `listener` until `stop` resolves, then waits up to
/// `grace` for open connections to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let connection =
                        serve_connection(&builder, &graceful, stream, peer, &router, limits);
                    tokio::spawn(async move {
                        if let Err(error) = connection.await {
                            tracing::debug!(%error, "connection closed with an error");
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
    tokio::select! {
        () = graceful.shutdown() => Ok(()),
        () = tokio::time::sleep(grace) => {
            tracing::warn!(?grace, "connections still open after the grace period; exiting anyway");
            Ok(())
        }
    }
}

/// One connection's future, watched by the drain.
fn serve_connection(
    builder: &http1::Builder,
    graceful: &GracefulShutdown,
    stream: TcpStream,
    peer: SocketAddr,
    router: &Router,
    limits: ConnectionLimits,
) -> impl Future<Output = hyper::Result<()>> + Send + 'static {
    // Events should leave at once, not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    let mut io = TimeoutStream::new(stream);
    io.set_write_timeout(Some(limits.write_timeout));
    let service = router
        .clone()
        .map_request(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
    let connection = builder.serve_connection(
        TokioIo::new(Box::pin(io)),
        TowerToHyperService::new(service),
    );
    graceful.watch(connection)
}

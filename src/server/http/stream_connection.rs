//! The stream path: connections whose request line is `GET /api/sse/…` are
//! served here instead of by hyper, so an open stream keeps none of hyper's
//! per-connection buffers (two 8 KiB buffers per connection, about 7 KiB of
//! RSS each idle stream; docs/architecture.md, "Memory per stream").
//!
//! The request head is read into a buffer that is freed once parsed
//! (httparse, hyper's own parser), the request goes through the same
//! router as every other (limits, auth, CSRF, access log), and the response
//! is written straight to the socket: the head once, then each body frame
//! as an HTTP/1.1 chunk. One request per connection: the response says
//! `connection: close`, and the connection closes when the body ends, when
//! the client closes or sends anything more (an SSE client sends nothing
//! after its request), or when a write makes no progress for the write
//! timeout. The head must arrive within the header-read timeout, counted
//! from the connection's start (the peek that chose this path included).
//! Refusals answer with the API's JSON error and codes, and every response
//! carries a `Date`, as hyper's do.
//!
//! Why not hyper here: hyper keeps two 8 KiB buffers per connection for a
//! keep-alive a stream never uses, about 7 KiB of RSS per idle stream
//! (measured at 10,000 streams, docs/architecture.md); this path holds
//! 3.7 KiB in all. The head parser is httparse (hyper's), fed arbitrary
//! bytes by the `arbitrary_bytes_never_panic_the_parser` test, and
//! `BELFRY_STREAM_PATH=off` falls back to hyper.
//!
//! Owns the HTTP/1.1 framing of that one request and response; it must not
//! look at what the router does with the request, and it never reads a
//! request body (a stream request with one is refused with 400).

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::HttpBody as _;
use axum::body::{Body, BodyDataStream};
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderName, HeaderValue, Method, Request, Response, Version};
use axum::Router;
use bytes::{Buf, Bytes, BytesMut};
use futures::{FutureExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

/// The request-line prefix that selects this path.
pub const STREAM_PREFIX: &[u8] = b"GET /api/sse/";

/// The largest request head accepted (hyper's default limit is about the
/// same); a larger one gets 431.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The most header fields accepted; more get 431.
const MAX_HEADERS: usize = 64;

/// Why a request head was refused before it reached the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Not valid HTTP/1.x.
    Malformed,
    /// Longer than [`MAX_HEAD_BYTES`] or more than [`MAX_HEADERS`] fields.
    TooLarge,
    /// A stream request that carries a body.
    HasBody,
}

impl Refusal {
    fn status(self) -> u16 {
        match self {
            Self::Malformed | Self::HasBody => 400,
            Self::TooLarge => 431,
        }
    }

    /// The API's JSON error (`server::error`): its codes and shape.
    fn body(self) -> &'static str {
        match self {
            Self::Malformed => {
                r#"{"error":{"code":"invalid_request","message":"the request head is not valid HTTP/1.1"}}"#
            }
            Self::TooLarge => {
                r#"{"error":{"code":"payload_too_large","message":"the request head is over 16 KiB or has over 64 fields"}}"#
            }
            Self::HasBody => {
                r#"{"error":{"code":"invalid_request","message":"a stream request must not have a body"}}"#
            }
        }
    }
}

/// Serves one stream request on `socket` and closes it; its head must be
/// in by `head_by`, and a write that makes no progress for `write_timeout`
/// ends it. (Only what the whole stream needs is passed in: this future is
/// the stream's task, and every byte of it is paid per idle stream.)
pub async fn serve(
    mut socket: TcpStream,
    peer: SocketAddr,
    router: Router,
    write_timeout: Duration,
    head_by: tokio::time::Instant,
) {
    let request = match tokio::time::timeout_at(head_by, read_request(&mut socket)).await {
        Ok(Ok(Ok(request))) => request,
        Ok(Ok(Err(refusal))) => {
            let _ = write_refusal(&mut socket, refusal, write_timeout).await;
            return;
        }
        // The client closed, or trickled its head past the timeout.
        Ok(Err(_)) | Err(_) => return,
    };
    let mut request = request;
    request.extensions_mut().insert(ConnectInfo(peer));
    // HTTP/1.0 clients know no chunks: their body ends with the connection.
    let chunked = request.version() == Version::HTTP_11;
    let Ok(response) = router.oneshot(request).await;
    let _ = respond(&mut socket, response, chunked, write_timeout).await;
}

/// Reads and parses the request head. The outer error is I/O (or the client
/// closing); the inner one a head to refuse.
async fn read_request(socket: &mut TcpStream) -> std::io::Result<Result<Request<Body>, Refusal>> {
    let mut head = Vec::with_capacity(1024);
    loop {
        if head.len() >= MAX_HEAD_BYTES {
            return Ok(Err(Refusal::TooLarge));
        }
        head.reserve(1024.min(MAX_HEAD_BYTES - head.len()));
        if socket.read_buf(&mut head).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        match parse(&head) {
            Ok(Some(request)) => return Ok(Ok(request)),
            Ok(None) => continue,
            Err(refusal) => return Ok(Err(refusal)),
        }
    }
}

/// Parses a complete head into a request with an empty body; `None` while
/// the head is incomplete. Bytes after the head (a pipelined request) are
/// ignored: the connection closes after this response.
fn parse(bytes: &[u8]) -> Result<Option<Request<Body>>, Refusal> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut fields);
    match head.parse(bytes) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Refusal::TooLarge),
        Err(_) => return Err(Refusal::Malformed),
    }
    if head.method != Some("GET") {
        return Err(Refusal::Malformed);
    }
    let version = match head.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let mut request = Request::new(Body::empty());
    *request.method_mut() = Method::GET;
    *request.version_mut() = version;
    *request.uri_mut() = head
        .path
        .unwrap_or_default()
        .parse()
        .map_err(|_| Refusal::Malformed)?;
    let headers = request.headers_mut();
    for field in head.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes()).map_err(|_| Refusal::Malformed)?;
        let value = HeaderValue::from_bytes(field.value).map_err(|_| Refusal::Malformed)?;
        headers.append(name, value);
    }
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0");
    if has_body {
        return Err(Refusal::HasBody);
    }
    Ok(Some(request))
}

/// Writes `response`: its head, then its body, with its length when the
/// body's size is known (error answers), else as chunks if `chunked`, else
/// delimited by the close. Stops when the client closes or sends more
/// bytes.
async fn respond(
    socket: &mut TcpStream,
    response: Response<Body>,
    chunked: bool,
    write_timeout: Duration,
) -> std::io::Result<()> {
    let (parts, body) = response.into_parts();
    let length = body.size_hint().exact();
    let chunked = chunked && length.is_none();
    let head = response_head(&parts, length, chunked);
    drop(parts);
    let (mut reader, mut writer) = socket.split();
    write_progressing(&mut writer, &mut &head[..], write_timeout).await?;
    drop(head);

    let mut frames = body.into_data_stream();
    // An SSE client sends nothing after its request: any byte, or the end
    // of its side, ends the response.
    let closed = async move {
        let mut probe = [0u8; 1];
        let _ = reader.read(&mut probe).await;
    };
    tokio::pin!(closed);
    loop {
        let first = tokio::select! {
            biased;
            () = &mut closed => return Ok(()),
            frame = frames.next() => frame,
        };
        let (data, after) = match first {
            Some(Ok(first)) => gather(&mut frames, first),
            Some(Err(_)) => return Ok(()),
            None => break,
        };
        if !data.is_empty() {
            if chunked {
                let mut size = [0u8; 18];
                let size = chunk_size_line(data.len(), &mut size);
                let mut chunk = Buf::chain(Buf::chain(size, data), &b"\r\n"[..]);
                write_progressing(&mut writer, &mut chunk, write_timeout).await?;
            } else {
                let mut data = data;
                write_progressing(&mut writer, &mut data, write_timeout).await?;
            }
        }
        match after {
            After::More => {}
            After::End => break,
            // A body that fails mid-way: close without the last chunk, so
            // the client sees the response cut short.
            After::Failed => return Ok(()),
        }
    }
    if chunked {
        write_progressing(&mut writer, &mut &b"0\r\n\r\n"[..], write_timeout).await?;
    }
    writer.shutdown().await
}

/// How many bytes of frames already waiting go out in one write.
const BATCH_BYTES: usize = 64 * 1024;

/// What the body does after a gathered batch.
enum After {
    /// More frames may come.
    More,
    /// It ended.
    End,
    /// It failed.
    Failed,
}

/// `first`, followed by the frames the body already has ready (a stream
/// that fell behind, or a burst), up to [`BATCH_BYTES`]: one write, one
/// chunk and one system call for all of them, as hyper's write queue does.
/// A lone frame, the usual case, is passed on as it is (no copy).
fn gather(frames: &mut BodyDataStream, first: Bytes) -> (Bytes, After) {
    let mut batch: Option<BytesMut> = None;
    let after = loop {
        if batch.as_ref().map_or(first.len(), BytesMut::len) >= BATCH_BYTES {
            break After::More;
        }
        match frames.next().now_or_never() {
            None => break After::More,
            Some(Some(Ok(next))) => batch
                .get_or_insert_with(|| BytesMut::from(&first[..]))
                .extend_from_slice(&next),
            Some(Some(Err(_))) => break After::Failed,
            Some(None) => break After::End,
        }
    };
    (batch.map_or(first, BytesMut::freeze), after)
}

/// The status line and header fields, ending in the blank line.
fn response_head(
    parts: &axum::http::response::Parts,
    length: Option<u64>,
    chunked: bool,
) -> Vec<u8> {
    let mut head = Vec::with_capacity(512);
    let status = parts.status;
    head.extend_from_slice(
        format!(
            "HTTP/1.1 {} {}\r\n",
            status.as_str(),
            status.canonical_reason().unwrap_or("")
        )
        .as_bytes(),
    );
    for (name, value) in &parts.headers {
        if name == header::CONNECTION
            || name == header::TRANSFER_ENCODING
            || name == header::CONTENT_LENGTH
        {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    if let Some(length) = length {
        head.extend_from_slice(format!("content-length: {length}\r\n").as_bytes());
    } else if chunked {
        head.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    if !parts.headers.contains_key(header::DATE) {
        head.extend_from_slice(b"date: ");
        head.extend_from_slice(httpdate::fmt_http_date(std::time::SystemTime::now()).as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"connection: close\r\n\r\n");
    head
}

/// `len` in hex followed by CRLF, written into `buf`.
fn chunk_size_line(len: usize, buf: &mut [u8; 18]) -> &[u8] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut at = 16;
    let mut rest = len;
    loop {
        at -= 1;
        buf[at] = HEX[rest & 0xf];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    buf[16] = b'\r';
    buf[17] = b'\n';
    &buf[at..]
}

/// A refused head's answer, then the close.
async fn write_refusal(
    socket: &mut TcpStream,
    refusal: Refusal,
    write_timeout: Duration,
) -> std::io::Result<()> {
    let body = refusal.body();
    let answer = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\ndate: {}\r\nconnection: close\r\n\r\n{body}",
        refusal.status(),
        if refusal == Refusal::TooLarge { "Request Header Fields Too Large" } else { "Bad Request" },
        body.len(),
        httpdate::fmt_http_date(std::time::SystemTime::now()),
    );
    write_progressing(socket, &mut answer.as_bytes(), write_timeout).await?;
    socket.shutdown().await
}

/// Writes all of `bytes`, failing with `TimedOut` only when one write makes
/// no progress for `limit` (a client that stopped reading), as hyper's
/// socket timeout does: a slow reader that keeps taking bytes is served. A
/// write the socket takes at once (the usual case) sets no timer.
async fn write_progressing<W: tokio::io::AsyncWrite + Unpin>(
    writer: &mut W,
    bytes: &mut impl Buf,
    limit: Duration,
) -> std::io::Result<()> {
    while bytes.has_remaining() {
        let written = match writer.write_buf(bytes).now_or_never() {
            Some(written) => written?,
            None => tokio::time::timeout(limit, writer.write_buf(bytes))
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))?,
        };
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_are_lowercase_hex() {
        let mut buf = [0u8; 18];
        assert_eq!(chunk_size_line(0, &mut buf), b"0\r\n");
        assert_eq!(chunk_size_line(10, &mut buf), b"a\r\n");
        assert_eq!(chunk_size_line(0x1f40, &mut buf), b"1f40\r\n");
        assert_eq!(
            chunk_size_line(usize::MAX, &mut buf),
            b"ffffffffffffffff\r\n"
        );
    }

    #[test]
    fn a_complete_head_parses_into_a_request() {
        let head = b"GET /api/sse/feeds?feeds=clock HTTP/1.1\r\nHost: a\r\nCookie: x=1\r\n\r\n";
        let request = parse(head).ok().flatten().expect("a request");
        assert_eq!(request.uri(), "/api/sse/feeds?feeds=clock");
        assert_eq!(request.version(), Version::HTTP_11);
        assert_eq!(request.headers()["cookie"], "x=1");
        assert!(matches!(
            parse(b"GET /api/sse/feeds HTTP/1.1\r\nHost: a\r\n"),
            Ok(None)
        ));
    }

    /// A small deterministic generator (xorshift), so a failure reruns.
    struct Bytes64(u64);

    impl Bytes64 {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap()
        }
    }

    /// The head parser sees whatever a client sends. Fed random bytes, and
    /// valid heads with random bytes flipped, cut or spliced in, it never
    /// panics, and whatever it accepts is a bodiless GET of a valid URI.
    #[test]
    fn arbitrary_bytes_never_panic_the_parser() {
        let valid = b"GET /api/sse/feeds?feeds=clock HTTP/1.1\r\nHost: a\r\nCookie: x=1\r\nLast-Event-ID: 1-0\r\n\r\n";
        let alphabet = b"GET /api/sse:?=&%\r\n\t :HTTP/1.01Content-Length\x00\xff\x7f";
        let mut random = Bytes64(0x9E37_79B9_7F4A_7C15);
        let mut accepted = 0;
        for case in 0..200_000 {
            let input: Vec<u8> = match case % 3 {
                0 => (0..random.below(300))
                    .map(|_| u8::try_from(random.next() & 0xff).unwrap())
                    .collect(),
                1 => (0..random.below(200))
                    .map(|_| alphabet[random.below(alphabet.len())])
                    .collect(),
                _ => {
                    let mut head = valid.to_vec();
                    for _ in 0..=random.below(4) {
                        let at = random.below(head.len());
                        match random.below(3) {
                            0 => head[at] = u8::try_from(random.next() & 0xff).unwrap(),
                            1 => head.truncate(at),
                            _ => head.insert(at, alphabet[random.below(alphabet.len())]),
                        }
                        if head.is_empty() {
                            break;
                        }
                    }
                    head
                }
            };
            if let Ok(Some(request)) = parse(&input) {
                accepted += 1;
                assert_eq!(request.method(), Method::GET, "{input:?}");
                assert!(!request.headers().contains_key(header::TRANSFER_ENCODING));
                assert!(
                    request.uri().path().starts_with('/') || request.uri().path() == "*",
                    "{input:?}"
                );
            }
        }
        assert!(
            accepted > 1_000,
            "mutated valid heads still parse: {accepted}"
        );
    }

    #[test]
    fn bad_heads_are_refused_with_the_reason() {
        let body = b"GET /api/sse/clock HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(parse(body).err(), Some(Refusal::HasBody));
        let chunked = b"GET /api/sse/clock HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse(chunked).err(), Some(Refusal::HasBody));
        assert_eq!(
            parse(b"GET /api/sse/clock HTTP/1.1\r\nBad Header\r\n\r\n").err(),
            Some(Refusal::Malformed)
        );
        let mut many = b"GET /api/sse/clock HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("x-{i}: 1\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse(&many).err(), Some(Refusal::TooLarge));
    }
}

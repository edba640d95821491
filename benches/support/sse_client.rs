//! The benches' SSE clients: raw TCP connections (cheap, identical for
//! every target) that record, for every `bench-<seq>-<µs>;` marker, the time
//! from the publisher stamping it to its arrival, and which sequence numbers
//! arrived, so loss and duplicates are counted, not assumed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// One stream's record: latency (µs) per event and which events it saw.
pub struct Received {
    pub latencies: Vec<u64>,
    pub seen: Vec<bool>,
    pub duplicates: usize,
}

/// Opens one stream: sends the request head, reads the response head.
/// Returns the socket and whatever body bytes came with the head.
pub async fn open_stream(
    port: u16,
    path: &str,
    cookie: &str,
) -> std::io::Result<(TcpStream, Vec<u8>)> {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).await?;
    let head = format!(
        "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\ncookie: {cookie}\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await?;
    let mut buffer = Vec::with_capacity(1024);
    loop {
        if socket.read_buf(&mut buffer).await? == 0 {
            return Err(std::io::Error::other("closed before the response head"));
        }
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            if !buffer.starts_with(b"HTTP/1.1 200") {
                let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                return Err(std::io::Error::other(head));
            }
            return Ok((socket, buffer.split_off(end + 4)));
        }
    }
}

/// Reads events until `stop`, recording each `bench-<seq>-<µs>;` marker.
pub async fn read_events(
    mut socket: TcpStream,
    mut buffer: Vec<u8>,
    base: Instant,
    events: usize,
    delivered: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> Received {
    let mut received = Received {
        latencies: Vec::with_capacity(events),
        seen: vec![false; events],
        duplicates: 0,
    };
    buffer.reserve(4096);
    loop {
        if let Some(last) = buffer.iter().rposition(|&b| b == b'\n') {
            let found = record_markers(&buffer[..=last], base, &mut received);
            delivered.fetch_add(found, Ordering::Relaxed);
            buffer.drain(..=last);
        }
        tokio::select! {
            read = socket.read_buf(&mut buffer) => match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            },
            _ = stop.changed() => break,
        }
    }
    received
}

fn record_markers(bytes: &[u8], base: Instant, received: &mut Received) -> u64 {
    const MARKER: &[u8] = b"bench-";
    let now = base.elapsed().as_micros() as u64;
    let mut found = 0;
    let mut rest = bytes;
    while let Some(at) = rest.windows(MARKER.len()).position(|w| w == MARKER) {
        rest = &rest[at + MARKER.len()..];
        let (Some(seq), after) = number(rest) else {
            continue;
        };
        let Some(after) = after.strip_prefix(b"-") else {
            continue;
        };
        let (Some(sent), _) = number(after) else {
            continue;
        };
        let seq = seq as usize;
        match received.seen.get_mut(seq) {
            Some(seen) if *seen => received.duplicates += 1,
            Some(seen) => {
                *seen = true;
                received.latencies.push(now.saturating_sub(sent));
                found += 1;
            }
            None => {}
        }
    }
    found
}

fn number(bytes: &[u8]) -> (Option<u64>, &[u8]) {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let value = std::str::from_utf8(&bytes[..digits])
        .ok()
        .and_then(|s| s.parse().ok());
    (value, &bytes[digits..])
}

/// Starts a reader ([`read_events`]) on every opened stream.
pub fn spawn_readers(
    opened: Vec<std::io::Result<(TcpStream, Vec<u8>)>>,
    base: Instant,
    events: usize,
    delivered: &Arc<AtomicU64>,
    stopped: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<Received>> {
    opened
        .into_iter()
        .map(|stream| {
            let (socket, buffer) = stream.expect("a stream opens");
            tokio::spawn(read_events(
                socket,
                buffer,
                base,
                events,
                Arc::clone(delivered),
                stopped.clone(),
            ))
        })
        .collect()
}

/// What every reader of a run saw, together.
pub struct Tally {
    /// Every delivery's latency in µs, sorted.
    pub latencies: Vec<u64>,
    /// Distinct events delivered, over all streams.
    pub unique: usize,
    /// Events a stream received more than once.
    pub duplicates: usize,
}

/// Waits for the (stopped) readers and adds up what they saw.
pub async fn tally(readers: Vec<tokio::task::JoinHandle<Received>>) -> Tally {
    let mut tally = Tally {
        latencies: Vec::new(),
        unique: 0,
        duplicates: 0,
    };
    for reader in readers {
        if let Ok(mut received) = reader.await {
            tally.unique += received.latencies.len();
            tally.duplicates += received.duplicates;
            tally.latencies.append(&mut received.latencies);
        }
    }
    tally.latencies.sort_unstable();
    tally
}

/// Waits until the readers have counted `expected` deliveries in
/// `delivered`, or `within` has passed (what is missing then is lost).
pub async fn await_deliveries(delivered: &AtomicU64, expected: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while (delivered.load(Ordering::Relaxed) as usize) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

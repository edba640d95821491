//! The server clock: one ticker task for the whole process, and
//! `GET /api/sse/clock`, which streams its ticks.
//!
//! Each tick is framed once and shared by every open clock stream. A clock
//! stream that falls behind skips to the newest tick: for a clock only the
//! current time matters (unlike notifications, which are never skipped).

use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::{Stream, StreamExt};
use tokio::sync::broadcast;
use tokio::time::{Duration, Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::error::ApiError;
use super::limits::client_ip::ClientIp;
use super::sse::framing::Framing;
use super::sse::SseHub;
use crate::clock::ClockTick;
use crate::wire::frame;

/// Handle to the ticker; cheap to clone.
#[derive(Clone)]
pub struct Clock {
    ticks: broadcast::Sender<Tick>,
}

/// One tick, framed once for each kind of stream.
#[derive(Clone)]
struct Tick {
    plain: Bytes,
    tagged: Bytes,
}

impl Tick {
    fn at(now: DateTime<Utc>) -> Self {
        let data = tick_data(now);
        Self {
            plain: frame::event(None, None, &data),
            tagged: frame::tagged(FEED, None, None, &data),
        }
    }

    fn framed(self, framing: &Framing) -> Bytes {
        match framing {
            Framing::Plain => self.plain,
            Framing::Tagged(_) => self.tagged,
        }
    }
}

/// The clock's name as a feed of a multiplexed stream.
const FEED: &str = "clock";

impl Clock {
    /// Starts the ticker task, which stops when `shutdown` fires. Ticks land
    /// on whole seconds so every stream shows the same second at once.
    pub fn start(shutdown: CancellationToken) -> Self {
        let (ticks, _) = broadcast::channel(4);
        let sender = ticks.clone();
        tokio::spawn(async move {
            let now = Utc::now();
            let to_next_second = 1000 - u64::from(now.timestamp_subsec_millis() % 1000);
            let start = Instant::now() + Duration::from_millis(to_next_second);
            let mut interval = tokio::time::interval_at(start, Duration::from_secs(1));
            interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = interval.tick() => {
                        // No receivers is fine: nobody is watching the clock.
                        let _ = sender.send(Tick::at(Utc::now()));
                    }
                }
            }
        });
        Self { ticks }
    }

    /// The current time at once, then every tick, framed by `framing` (a
    /// tagged clock is always the `clock` feed).
    pub fn frames(&self, framing: Framing) -> impl Stream<Item = Bytes> + Send + 'static {
        let receiver = self.ticks.subscribe();
        let first = framing.clone();
        let now = futures::stream::once(async move { Tick::at(Utc::now()).framed(&first) });
        let ticks =
            futures::stream::unfold((receiver, framing), |(mut receiver, framing)| async move {
                loop {
                    match receiver.recv().await {
                        Ok(tick) => return Some((tick.framed(&framing), (receiver, framing))),
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            });
        now.chain(ticks)
    }
}

/// The payload of the tick at `now`.
fn tick_data(now: DateTime<Utc>) -> Vec<u8> {
    let tick = ClockTick {
        time: now.to_rfc3339_opts(SecondsFormat::Millis, true),
        timestamp: now.timestamp_millis(),
    };
    // Serialising two plain fields cannot fail.
    serde_json::to_vec(&tick).unwrap_or_default()
}

/// The SSE frame of the tick at `now`.
pub fn tick_frame(now: DateTime<Utc>) -> Bytes {
    frame::event(None, None, &tick_data(now))
}

/// `GET /api/sse/clock`: `data: {"time": <RFC 3339>, "timestamp": <ms>}` every second.
pub async fn clock_stream(
    State(clock): State<Clock>,
    State(sse): State<SseHub>,
    ip: ClientIp,
) -> Result<Response, ApiError> {
    let permit = sse.admit(None, ip)?;
    Ok(sse.respond(permit, clock.frames(Framing::Plain)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_carries_rfc3339_time_and_milliseconds() {
        let at = DateTime::parse_from_rfc3339("2026-11-28T10:00:01.250Z")
            .unwrap()
            .with_timezone(&Utc);
        let frame = tick_frame(at);
        assert_eq!(
            std::str::from_utf8(&frame).unwrap(),
            "data: {\"time\":\"2026-11-28T10:00:01.250Z\",\"timestamp\":1795860001250}\n\n"
        );
    }
}

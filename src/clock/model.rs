//! The clock tick sent on `GET /api/sse/clock`.

use serde::{Deserialize, Serialize};

/// One tick of the server clock, sent every second on `GET /api/sse/clock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockTick {
    /// The server's time, RFC 3339 in UTC.
    pub time: String,
    /// The same instant in milliseconds since the Unix epoch.
    pub timestamp: i64,
}

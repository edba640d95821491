//! Turning what Redis sends back into engine events.
//!
//! Owns the parsing of stream entries (`XRANGE` shape) and of the Pub/Sub
//! envelope written by `publish.lua`. It must not talk to Redis; anything it
//! cannot read is an error for the caller to report, never a panic.

use std::sync::Arc;

use bytes::Bytes;
use redis::Value;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::engine::{Event, EventId};

/// A reply that does not have the shape Belfry writes.
#[derive(Debug, thiserror::Error)]
#[error("unexpected Redis reply: {0}")]
pub struct ReplyError(pub &'static str);

/// Stream entries (`[[id, [field, value, …]], …]`) as events, in reply order.
pub fn entries(value: Value) -> Result<Vec<Arc<Event>>, ReplyError> {
    let Value::Array(items) = value else {
        return Err(ReplyError("stream entries are not an array"));
    };
    items.into_iter().map(entry).collect()
}

fn entry(value: Value) -> Result<Arc<Event>, ReplyError> {
    let Value::Array(mut parts) = value else {
        return Err(ReplyError("a stream entry is not an array"));
    };
    if parts.len() != 2 {
        return Err(ReplyError("a stream entry is not [id, fields]"));
    }
    let fields = parts.pop().unwrap_or_default();
    let id = text(parts.pop().unwrap_or_default())?
        .parse::<EventId>()
        .map_err(|_| ReplyError("a stream entry id is not <ms>-<seq>"))?;
    let Value::Array(fields) = fields else {
        return Err(ReplyError("stream entry fields are not an array"));
    };
    let (mut name, mut data) = (None, None);
    let mut fields = fields.into_iter();
    while let (Some(field), Some(value)) = (fields.next(), fields.next()) {
        match bytes(field)?.as_ref() {
            b"event" => name = Some(text(value)?),
            b"data" => data = Some(bytes(value)?),
            _ => {}
        }
    }
    match (name, data) {
        (Some(name), Some(data)) => Ok(Arc::new(Event::new(id, name, data))),
        _ => Err(ReplyError("a stream entry lacks its event or data field")),
    }
}

/// An id as returned by `publish.lua`.
pub fn event_id(value: Value) -> Result<EventId, ReplyError> {
    text(value)?
        .parse()
        .map_err(|_| ReplyError("an event id is not <ms>-<seq>"))
}

/// The result of `history.lua`: `Some(entries)` for an exact replay, `None`
/// when events may be missing.
pub fn history(value: Value) -> Result<Option<Vec<Arc<Event>>>, ReplyError> {
    let Value::Array(mut parts) = value else {
        return Err(ReplyError("a history reply is not an array"));
    };
    match (parts.first(), parts.len()) {
        (Some(Value::Int(0)), 1) => Ok(None),
        (Some(Value::Int(1)), 2) => entries(parts.pop().unwrap_or_default()).map(Some),
        _ => Err(ReplyError("a history reply is not {0} or {1, entries}")),
    }
}

/// Members of a set.
pub fn strings(value: Value) -> Result<Vec<String>, ReplyError> {
    match value {
        Value::Array(items) | Value::Set(items) => items.into_iter().map(text).collect(),
        _ => Err(ReplyError("a set reply is not an array")),
    }
}

/// An integer reply (`SCARD`).
pub fn integer(value: Value) -> Result<i64, ReplyError> {
    match value {
        Value::Int(n) => Ok(n),
        _ => Err(ReplyError("expected an integer")),
    }
}

/// A list of integers (the set scripts' one answer per member).
pub fn integers(value: Value) -> Result<Vec<i64>, ReplyError> {
    match value {
        Value::Array(items) => items.into_iter().map(integer).collect(),
        _ => Err(ReplyError("expected a list of integers")),
    }
}

/// An `SSCAN` reply: the next cursor and this page's members.
pub fn scan(value: Value) -> Result<(String, Vec<String>), ReplyError> {
    let Value::Array(mut parts) = value else {
        return Err(ReplyError("a scan reply is not an array"));
    };
    if parts.len() != 2 {
        return Err(ReplyError("a scan reply is not [cursor, members]"));
    }
    let members = strings(parts.pop().unwrap_or_default())?;
    let cursor = text(parts.pop().unwrap_or_default())?;
    Ok((cursor, members))
}

#[derive(Deserialize)]
struct Envelope<'a> {
    id: &'a str,
    event: &'a str,
    #[serde(borrow)]
    data: &'a RawValue,
}

/// The event announced by a Pub/Sub message from `publish.lua`.
pub fn announcement(payload: &[u8]) -> Result<Event, ReplyError> {
    let envelope: Envelope<'_> = serde_json::from_slice(payload)
        .map_err(|_| ReplyError("a Pub/Sub message is not {id, event, data}"))?;
    let id = envelope
        .id
        .parse::<EventId>()
        .map_err(|_| ReplyError("a Pub/Sub message id is not <ms>-<seq>"))?;
    let data = Bytes::copy_from_slice(envelope.data.get().as_bytes());
    Ok(Event::new(id, envelope.event, data))
}

fn bytes(value: Value) -> Result<Bytes, ReplyError> {
    match value {
        Value::BulkString(bytes) => Ok(Bytes::from(bytes)),
        Value::SimpleString(text) => Ok(Bytes::from(text)),
        _ => Err(ReplyError("expected a string")),
    }
}

fn text(value: Value) -> Result<String, ReplyError> {
    let bytes = bytes(value)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| ReplyError("expected UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn stream_entries_become_framed_events() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("5-1"),
            Value::Array(vec![bulk("event"), bulk("read"), bulk("data"), bulk("{}")]),
        ])]);
        let events = entries(reply).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].id, EventId::new(5, 1));
        assert_eq!(&events[0].frame[..], b"id: 5-1\nevent: read\ndata: {}\n\n");
    }

    #[test]
    fn an_entry_without_data_is_an_error_not_a_panic() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("5-1"),
            Value::Array(vec![bulk("event"), bulk("read")]),
        ])]);
        assert!(entries(reply).is_err());
        assert!(entries(Value::Int(3)).is_err());
    }

    #[test]
    fn the_envelope_keeps_the_data_bytes_exactly() {
        let event =
            announcement(br#"{"id":"7-0","event":"notification","data":{"b": 1, "a":[2]}}"#)
                .unwrap();
        assert_eq!(event.id, EventId::new(7, 0));
        assert_eq!(event.name, "notification");
        assert_eq!(&event.data[..], br#"{"b": 1, "a":[2]}"#);
        assert!(announcement(b"not json").is_err());
        assert!(announcement(br#"{"id":"x","event":"e","data":1}"#).is_err());
    }

    #[test]
    fn history_replies_distinguish_gone_from_empty() {
        assert!(history(Value::Array(vec![Value::Int(0)]))
            .unwrap()
            .is_none());
        let empty = history(Value::Array(vec![Value::Int(1), Value::Array(vec![])])).unwrap();
        assert_eq!(empty.map(|events| events.len()), Some(0));
        assert!(history(Value::Nil).is_err());
    }
}

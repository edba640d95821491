//! SSE wire framing (the `text/event-stream` format of the HTML standard).
//!
//! Owns turning fields into bytes, once per event. It must not allocate per
//! subscriber: callers frame an event here and share the resulting `Bytes`.
//! (axum's `sse::Event` frames per response, which is why fan-out doesn't
//! use it.)

use bytes::{BufMut, Bytes, BytesMut};

/// Frames one event. `data` is split into one `data:` line per line of text
/// (CR, LF and CRLF all end a line, as the standard's parser expects); `id`
/// and `name` have any line breaks removed so they cannot inject fields.
pub fn event(id: Option<&str>, name: Option<&str>, data: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 48);
    if let Some(id) = id {
        put_field(&mut out, b"id", id.as_bytes());
    }
    if let Some(name) = name {
        put_field(&mut out, b"event", name.as_bytes());
    }
    put_data(&mut out, data);
    out.freeze()
}

/// One `data:` line per line of `data`, then the blank line that ends the
/// event.
fn put_data(out: &mut BytesMut, data: &[u8]) {
    for line in split_lines(data) {
        out.put_slice(b"data: ");
        out.put_slice(line);
        out.put_u8(b'\n');
    }
    out.put_u8(b'\n');
}

/// Frames one event of a multiplexed stream: an unnamed event without an
/// `id:` field whose first data line is `<feed> <name> <id or ->` and whose
/// remaining lines are `data` (see [`crate::wire::feed`]).
pub fn tagged(feed: &str, id: Option<&str>, name: Option<&str>, data: &[u8]) -> Bytes {
    let header = crate::wire::feed::TaggedLine::header(feed, name, id);
    let mut out = BytesMut::with_capacity(data.len() + header.len() + 16);
    put_field(&mut out, b"data", header.as_bytes());
    put_data(&mut out, data);
    out.freeze()
}

/// A comment frame (`: text`), ignored by clients; used as a heartbeat.
pub fn comment(text: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(text.len() + 4);
    put_field(&mut out, b"", text.as_bytes());
    out.put_u8(b'\n');
    out.freeze()
}

/// A `retry:` frame telling the browser how long to wait before reconnecting.
pub fn retry(milliseconds: u64) -> Bytes {
    Bytes::from(format!("retry: {milliseconds}\n\n"))
}

fn put_field(out: &mut BytesMut, field: &[u8], value: &[u8]) {
    out.put_slice(field);
    out.put_slice(b": ");
    out.extend(value.iter().copied().filter(|b| *b != b'\n' && *b != b'\r'));
    out.put_u8(b'\n');
}

fn split_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.iter().position(|b| *b == b'\n' || *b == b'\r') {
            Some(at) => {
                let skip = if current[at] == b'\r' && current.get(at + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                rest = Some(&current[at + skip..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_line_event_has_its_id_name_and_data() {
        let frame = event(Some("1-0"), Some("tick"), b"{\"n\":1}");
        assert_eq!(&frame[..], b"id: 1-0\nevent: tick\ndata: {\"n\":1}\n\n");
    }

    #[test]
    fn multi_line_data_becomes_one_data_field_per_line() {
        let frame = event(None, None, b"a\nb\r\nc\rd");
        assert_eq!(&frame[..], b"data: a\ndata: b\ndata: c\ndata: d\n\n");
    }

    #[test]
    fn empty_data_still_dispatches_an_event() {
        assert_eq!(&event(None, Some("x"), b"")[..], b"event: x\ndata: \n\n");
    }

    #[test]
    fn line_breaks_cannot_inject_fields_through_id_or_name() {
        let frame = event(Some("1\ndata: evil"), Some("a\r\nretry: 1"), b"ok");
        assert_eq!(
            &frame[..],
            b"id: 1data: evil\nevent: aretry: 1\ndata: ok\n\n"
        );
    }

    #[test]
    fn a_tagged_frame_names_its_feed_event_and_id_on_the_first_data_line() {
        let frame = tagged("task:ab", Some("5-1"), Some("progress"), b"{}\n{}");
        assert_eq!(
            &frame[..],
            b"data: task:ab progress 5-1\ndata: {}\ndata: {}\n\n"
        );
        assert_eq!(
            &tagged("clock", None, None, b"{}")[..],
            b"data: clock message -\ndata: {}\n\n"
        );
    }

    #[test]
    fn comments_and_retry_hints_are_well_formed() {
        assert_eq!(&comment("ping")[..], b": ping\n\n");
        assert_eq!(&retry(2000)[..], b"retry: 2000\n\n");
    }
}

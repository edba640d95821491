//! A `web_sys::EventSource` as Leptos signals.
//!
//! [`use_event_source`] opens a stream while the calling component is
//! mounted, reports its [`ConnectionState`] as a signal, hands every message
//! to a callback (a callback, not a "latest message" signal, so no message is
//! lost when several arrive before the UI reacts), and closes the stream when
//! the component unmounts.
//!
//! Reconnecting: while the browser retries by itself the state is
//! `Reconnecting`. When the browser gives up (`CLOSED`, e.g. the server
//! answered an error), this module opens a new `EventSource` after a capped
//! exponential backoff and passes the last event id it saw as the
//! `last_event_id` query parameter, because a new `EventSource` cannot set the
//! `Last-Event-ID` header; servers resume from either.
//!
//! When the browser reports `offline`, the stream is closed (state `Closed`)
//! and reopened, resuming, as soon as it reports `online`.
//!
//! When the server ends a stream with `session_end` (the session token
//! expired, or this browser signed out), the stream is closed and the
//! session re-checked (`current_account`), then every few seconds (backing
//! off to 8 s) until a session is valid again, as it is once the host app
//! refreshed the cookie; then the stream resumes from its last event id, so
//! nothing published meanwhile is lost.
//!
//! On the server (SSR) the hook renders as `Connecting` and opens nothing.

use leptos::prelude::*;

/// Where a live stream stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// The first connection attempt is under way.
    Connecting,
    /// Connected; events flow.
    Open,
    /// The connection dropped; the browser or this module is retrying.
    Reconnecting,
    /// Not connected, and no attempt is under way right now.
    Closed,
}

impl ConnectionState {
    /// A lower-case word for labels and `data-state` attributes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Open => "open",
            Self::Reconnecting => "reconnecting",
            Self::Closed => "closed",
        }
    }
}

/// One message received on a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseMessage {
    /// The SSE event name (`message` when the server named none).
    pub event: String,
    /// The `data:` payload.
    pub data: String,
    /// The event id, when the server sent one.
    pub id: Option<String>,
}

/// Opens `url` as an `EventSource` while the calling component is mounted.
///
/// `events` names the SSE event types to listen for besides the unnamed
/// `message`. Returns the connection state.
pub fn use_event_source(
    url: String,
    events: &'static [&'static str],
    on_message: impl Fn(SseMessage) + 'static,
) -> ReadSignal<ConnectionState> {
    let (state, set_state) = signal(ConnectionState::Connecting);
    #[cfg(feature = "hydrate")]
    browser::start(url, events, Box::new(on_message), set_state);
    #[cfg(not(feature = "hydrate"))]
    let _ = (url, events, on_message, set_state);
    state
}

/// Appends `last_event_id=<id>` to `url` (percent-encoded).
pub fn with_last_event_id(url: &str, last_event_id: Option<&str>) -> String {
    match last_event_id {
        Some(id) if !id.is_empty() => {
            let separator = if url.contains('?') { '&' } else { '?' };
            let encoded: String = id
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{url}{separator}last_event_id={encoded}")
        }
        _ => url.to_owned(),
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    use std::time::Duration;

    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    use super::{with_last_event_id, ConnectionState, SseMessage};
    use crate::model::stream::SESSION_END;

    type Listener = Closure<dyn FnMut(web_sys::Event)>;

    /// One logical connection: survives the `EventSource` objects it opens.
    struct Connection {
        url: String,
        events: &'static [&'static str],
        on_message: Box<dyn Fn(SseMessage)>,
        set_state: WriteSignal<ConnectionState>,
        source: RefCell<Option<EventSource>>,
        listeners: RefCell<Vec<Listener>>,
        last_event_id: RefCell<Option<String>>,
        failures: Cell<u32>,
        stopped: Cell<bool>,
    }

    pub(super) fn start(
        url: String,
        events: &'static [&'static str],
        on_message: Box<dyn Fn(SseMessage)>,
        set_state: WriteSignal<ConnectionState>,
    ) {
        let connection = Rc::new(Connection {
            url,
            events,
            on_message,
            set_state,
            source: RefCell::new(None),
            listeners: RefCell::new(Vec::new()),
            last_event_id: RefCell::new(None),
            failures: Cell::new(0),
            stopped: Cell::new(false),
        });
        open(&connection);
        // When the browser knows it is offline, stop at once and show it;
        // when it is back, resume right away instead of after the backoff.
        let weak = Rc::downgrade(&connection);
        let offline = window_event_listener_untyped("offline", move |_| {
            if let Some(connection) = weak.upgrade() {
                close(&connection);
                connection.set_state.set(ConnectionState::Closed);
            }
        });
        let weak = Rc::downgrade(&connection);
        let online = window_event_listener_untyped("online", move |_| {
            if let Some(connection) = weak.upgrade() {
                if connection.source.borrow().is_none() {
                    connection.failures.set(0);
                    open(&connection);
                }
            }
        });
        let on_unmount = SendWrapper::new(connection);
        on_cleanup(move || {
            offline.remove();
            online.remove();
            let connection = on_unmount.take();
            connection.stopped.set(true);
            close(&connection);
        });
    }

    fn open(connection: &Rc<Connection>) {
        if connection.stopped.get() {
            return;
        }
        let url = with_last_event_id(
            &connection.url,
            connection.last_event_id.borrow().as_deref(),
        );
        let Ok(source) = EventSource::new(&url) else {
            connection.set_state.set(ConnectionState::Closed);
            reopen_later(connection);
            return;
        };
        connection.set_state.set(if connection.failures.get() == 0 {
            ConnectionState::Connecting
        } else {
            ConnectionState::Reconnecting
        });

        let mut listeners = Vec::new();
        let weak = Rc::downgrade(connection);
        let on_open: Listener = Closure::new(move |_event: web_sys::Event| {
            if let Some(connection) = weak.upgrade() {
                connection.failures.set(0);
                connection.set_state.set(ConnectionState::Open);
            }
        });
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        listeners.push(on_open);

        let weak = Rc::downgrade(connection);
        let on_error: Listener = Closure::new(move |_event: web_sys::Event| {
            let Some(connection) = weak.upgrade() else {
                return;
            };
            let given_up = connection
                .source
                .borrow()
                .as_ref()
                .is_none_or(|source| source.ready_state() == EventSource::CLOSED);
            if given_up {
                connection.set_state.set(ConnectionState::Closed);
                close(&connection);
                reopen_later(&connection);
            } else {
                connection.set_state.set(ConnectionState::Reconnecting);
            }
        });
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        listeners.push(on_error);

        let weak = Rc::downgrade(connection);
        let on_session_end: Listener = Closure::new(move |_event: web_sys::Event| {
            if let Some(connection) = weak.upgrade() {
                close(&connection);
                connection.set_state.set(ConnectionState::Closed);
                recheck_session(connection, 0);
            }
        });
        if source
            .add_event_listener_with_callback(SESSION_END, on_session_end.as_ref().unchecked_ref())
            .is_ok()
        {
            listeners.push(on_session_end);
        }

        for name in std::iter::once("message").chain(connection.events.iter().copied()) {
            let weak = Rc::downgrade(connection);
            let listener: Listener = Closure::new(move |event: web_sys::Event| {
                let (Some(connection), Ok(event)) =
                    (weak.upgrade(), event.dyn_into::<MessageEvent>())
                else {
                    return;
                };
                let id = event.last_event_id();
                let id = (!id.is_empty()).then_some(id);
                if id.is_some() {
                    connection.last_event_id.replace(id.clone());
                }
                (connection.on_message)(SseMessage {
                    event: name.to_owned(),
                    data: event.data().as_string().unwrap_or_default(),
                    id,
                });
            });
            if source
                .add_event_listener_with_callback(name, listener.as_ref().unchecked_ref())
                .is_ok()
            {
                listeners.push(listener);
            }
        }
        connection.source.replace(Some(source));
        connection.listeners.replace(listeners);
    }

    fn close(connection: &Connection) {
        if let Some(source) = connection.source.take() {
            source.set_onopen(None);
            source.set_onerror(None);
            source.close();
        }
        // Dropping the closures frees them; nothing refers to them any more.
        connection.listeners.take();
    }

    /// Asks the server whether this browser has a session again; resumes
    /// the stream when it does, asks again later when not.
    fn recheck_session(connection: Rc<Connection>, attempt: u32) {
        if connection.stopped.get() {
            return;
        }
        leptos::task::spawn_local(async move {
            if connection.stopped.get() {
                return;
            }
            if let Ok(Some(_)) = crate::account::current_account().await {
                connection.failures.set(0);
                open(&connection);
                return;
            }
            let delay = Duration::from_millis(1000u64 << attempt.min(3));
            let later = SendWrapper::new(connection);
            set_timeout(
                move || recheck_session(later.take(), attempt.saturating_add(1)),
                delay,
            );
        });
    }

    fn reopen_later(connection: &Rc<Connection>) {
        if connection.stopped.get() {
            return;
        }
        let failures = connection.failures.get().saturating_add(1);
        connection.failures.set(failures);
        // Half to one and a half times the back-off, so the clients of a
        // server that went away do not come back in one herd.
        let base = (500u64 << failures.min(6)).min(30_000) as f64;
        let delay = Duration::from_millis((base * (0.5 + js_sys::Math::random())) as u64);
        let retry = SendWrapper::new(Rc::clone(connection));
        set_timeout(move || open(&retry.take()), delay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_event_id_is_appended_percent_encoded() {
        assert_eq!(
            with_last_event_id("/api/sse/x", Some("17-0")),
            "/api/sse/x?last_event_id=17-0"
        );
        assert_eq!(
            with_last_event_id("/a?b=1", Some("a b&c")),
            "/a?b=1&last_event_id=a%20b%26c"
        );
        assert_eq!(with_last_event_id("/a", None), "/a");
        assert_eq!(with_last_event_id("/a", Some("")), "/a");
    }
}

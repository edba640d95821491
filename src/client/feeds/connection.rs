//! The one `EventSource` a browser holds to `GET /api/sse/feeds`, in the
//! leader tab (or in every tab where tabs cannot share).
//!
//! Carries the feeds it is told to ([`Connection::want`]) and changes them
//! while open with `POST /api/feeds/<stream>` (gloo-net), batched once per
//! turn of the event loop. Keeps each feed's last event id and reopens with
//! all of them (`feeds=inbox@<id>,…`) after any error, after a capped,
//! jittered back-off; it never lets the browser retry by itself, since a
//! browser retry would resume from the URL's stale positions. Offline:
//! closed at once, reopened when back online. `session_end`: closed, the
//! session re-checked (backing off to 8 s) until valid again, then
//! reopened, so nothing published meanwhile is lost; meanwhile only the
//! public feeds (clock, tasks) are carried.
//!
//! Must not decide which tab shows what ([`super::hub`]).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, MessageEvent};

use super::positions::Positions;
use super::{ConnectionState, FeedMessage};
use crate::wire::feed::{
    format_feed_list, FeedChange, FeedError, FeedKey, FeedStart, Hello, TaggedLine,
};
use crate::wire::names::{FEED_ERROR, HELLO, RESET, SESSION_END};

type Listener = Closure<dyn FnMut(web_sys::Event)>;
type OnEvent = Box<dyn Fn(FeedKey, FeedMessage)>;
type OnState = Box<dyn Fn(ConnectionState)>;
type OnSourceEvent = Box<dyn Fn(&Rc<Connection>, MessageEvent)>;

/// One logical connection: survives the `EventSource` objects it opens.
pub struct Connection {
    on_event: OnEvent,
    on_state: OnState,
    /// The feeds it should carry.
    desired: RefCell<BTreeSet<FeedKey>>,
    /// Where to (re)start a feed next time it is subscribed, when not from
    /// its last position (`None`: from a snapshot).
    starts: RefCell<HashMap<FeedKey, Option<String>>>,
    /// The feeds the server was asked to carry on the current stream.
    carried: RefCell<BTreeSet<FeedKey>>,
    /// The last id that passed, per feed.
    positions: RefCell<Positions>,
    stream: RefCell<Option<String>>,
    source: RefCell<Option<EventSource>>,
    listeners: RefCell<Vec<Listener>>,
    failures: Cell<u32>,
    sync_queued: Cell<bool>,
    /// The session ended and none is back yet: only public feeds are
    /// opened meanwhile (the clock keeps ticking on a signed-out page).
    signed_out: Cell<bool>,
    /// The offline/online listeners, kept for the tab's life.
    _window_listeners: RefCell<Vec<WindowListenerHandle>>,
}

impl Connection {
    /// A connection that hands every feed event to `on_event` and its
    /// state changes to `on_state`. Opens once it is wanted for something.
    pub fn new(on_event: OnEvent, on_state: OnState) -> Rc<Self> {
        let connection = Rc::new(Self {
            on_event,
            on_state,
            desired: RefCell::default(),
            starts: RefCell::default(),
            carried: RefCell::default(),
            positions: RefCell::default(),
            stream: RefCell::new(None),
            source: RefCell::new(None),
            listeners: RefCell::default(),
            failures: Cell::new(0),
            sync_queued: Cell::new(false),
            signed_out: Cell::new(false),
            _window_listeners: RefCell::default(),
        });
        // When the browser knows it is offline, stop at once and show it;
        // when it is back, resume right away instead of after the backoff.
        let weak = Rc::downgrade(&connection);
        let offline = window_event_listener_untyped("offline", move |_| {
            if let Some(connection) = weak.upgrade() {
                connection.close();
                (connection.on_state)(ConnectionState::Closed);
            }
        });
        let weak = Rc::downgrade(&connection);
        let online = window_event_listener_untyped("online", move |_| {
            if let Some(connection) = weak.upgrade() {
                if connection.source.borrow().is_none() {
                    connection.failures.set(0);
                    connection.open();
                }
            }
        });
        connection._window_listeners.replace(vec![offline, online]);
        connection
    }

    /// Carry exactly `feeds` from now on.
    pub fn want(self: &Rc<Self>, feeds: BTreeSet<FeedKey>) {
        self.desired.replace(feeds);
        self.queue_sync();
    }

    /// (Re)start `feed` at `after` (`None`: from a snapshot), also when it
    /// is carried already: a tab that is new to it needs its state, one
    /// that missed events needs them again (tabs drop what they have seen).
    pub fn restart(self: &Rc<Self>, feed: FeedKey, after: Option<String>) {
        if needs_session(&feed) && self.signed_out.replace(false) {
            // A page asks for a session feed: it believes it is signed in
            // (it just signed in); open everything again.
            self.close();
        }
        self.carried.borrow_mut().remove(&feed);
        self.starts.borrow_mut().insert(feed, after);
        self.queue_sync();
    }

    /// The last id that passed on `feed`.
    pub fn position(&self, feed: &FeedKey) -> Option<String> {
        self.positions.borrow().get(feed).map(str::to_owned)
    }

    /// Whether the connection carries `feed`.
    pub fn carries(&self, feed: &FeedKey) -> bool {
        self.desired.borrow().contains(feed)
    }

    fn start_of(&self, feed: &FeedKey) -> FeedStart {
        let after = match self.starts.borrow_mut().remove(feed) {
            Some(after) => after,
            None => self.position(feed),
        };
        FeedStart {
            feed: feed.clone(),
            after,
        }
    }

    /// The feeds to carry now: all that are desired, or only the public
    /// ones while signed out.
    fn wanted(&self) -> BTreeSet<FeedKey> {
        let mut feeds = self.desired.borrow().clone();
        if self.signed_out.get() {
            feeds.retain(|feed| !needs_session(feed));
        }
        feeds
    }

    fn queue_sync(self: &Rc<Self>) {
        if self.sync_queued.replace(true) {
            return;
        }
        let this = SendWrapper::new(Rc::clone(self));
        leptos::task::spawn_local(async move {
            let this = this.take();
            this.sync_queued.set(false);
            this.sync();
        });
    }

    /// Brings the server in line with `desired`: opens the stream if none
    /// is open, else posts the difference once the stream said hello.
    fn sync(self: &Rc<Self>) {
        if self.source.borrow().is_none() {
            if !self.wanted().is_empty() && self.failures.get() == 0 {
                self.open();
            }
            return;
        }
        let Some(stream) = self.stream.borrow().clone() else {
            return; // the hello will sync
        };
        let desired = self.wanted();
        let carried = self.carried.replace(desired.clone());
        let change = FeedChange {
            subscribe: desired
                .difference(&carried)
                .map(|feed| self.start_of(feed))
                .collect(),
            unsubscribe: carried.difference(&desired).cloned().collect(),
        };
        if change.subscribe.is_empty() && change.unsubscribe.is_empty() {
            return;
        }
        let this = SendWrapper::new(Rc::clone(self));
        leptos::task::spawn_local(async move {
            let sent = post_change(&stream, &change).await;
            let this = this.take();
            if !sent && this.stream.borrow().as_deref() == Some(stream.as_str()) {
                // The stream is gone (or not ours any more): start over,
                // from the positions we have.
                this.close();
                this.open();
            }
        });
    }

    fn open(self: &Rc<Self>) {
        self.close();
        let desired = self.wanted();
        if desired.is_empty() {
            return;
        }
        let starts: Vec<FeedStart> = desired.iter().map(|feed| self.start_of(feed)).collect();
        self.carried.replace(desired);
        let url = format!(
            "/api/sse/feeds?feeds={}",
            js_sys::encode_uri_component(&format_feed_list(&starts))
        );
        let Ok(source) = EventSource::new(&url) else {
            (self.on_state)(ConnectionState::Closed);
            self.reopen_later();
            return;
        };
        (self.on_state)(if self.failures.get() == 0 {
            ConnectionState::Connecting
        } else {
            ConnectionState::Reconnecting
        });
        let mut listeners = Vec::new();
        let mut listen = |name: &str, handler: OnSourceEvent| {
            let weak = Rc::downgrade(self);
            let listener: Listener = Closure::new(move |event: web_sys::Event| {
                if let (Some(this), Ok(event)) = (weak.upgrade(), event.dyn_into::<MessageEvent>())
                {
                    handler(&this, event);
                }
            });
            if source
                .add_event_listener_with_callback(name, listener.as_ref().unchecked_ref())
                .is_ok()
            {
                listeners.push(listener);
            }
        };
        listen(
            HELLO,
            Box::new(|this, event| {
                let data = event.data().as_string().unwrap_or_default();
                if let Ok(hello) = serde_json::from_str::<Hello>(&data) {
                    this.stream.replace(Some(hello.stream));
                    this.failures.set(0);
                    (this.on_state)(ConnectionState::Open);
                    this.sync();
                }
            }),
        );
        listen(
            "message",
            Box::new(|this, event| {
                let data = event.data().as_string().unwrap_or_default();
                this.receive(&data);
            }),
        );
        listen(
            SESSION_END,
            Box::new(|this, _event| {
                this.close();
                (this.on_state)(ConnectionState::Closed);
                recheck_session(Rc::clone(this), 0);
            }),
        );
        let weak = Rc::downgrade(self);
        let on_error: Listener = Closure::new(move |_event: web_sys::Event| {
            if let Some(this) = weak.upgrade() {
                // Never let the browser retry on its own: its retry would
                // resume from the URL's positions, not the latest ones.
                this.close();
                (this.on_state)(ConnectionState::Reconnecting);
                this.reopen_later();
            }
        });
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        listeners.push(on_error);
        self.source.replace(Some(source));
        self.listeners.replace(listeners);
    }

    fn receive(self: &Rc<Self>, data: &str) {
        let Some(line) = TaggedLine::parse(data) else {
            return;
        };
        let Ok(feed) = line.feed.parse::<FeedKey>() else {
            return;
        };
        if let Some(id) = line.id {
            self.positions.borrow_mut().advance(&feed, id);
        }
        match line.event {
            RESET => {
                // The server ended this feed; start it again from here.
                let after = self.position(&feed);
                self.restart(feed, after);
                return;
            }
            FEED_ERROR
                if serde_json::from_str::<FeedError>(line.payload)
                    .is_ok_and(|e| e.is_temporary()) =>
            {
                let this = SendWrapper::new(Rc::clone(self));
                let retry = feed.clone();
                set_timeout(
                    move || {
                        let this = this.take();
                        let after = this.position(&retry);
                        this.restart(retry, after);
                    },
                    Duration::from_millis(2_000),
                );
            }
            _ => {}
        }
        (self.on_event)(
            feed,
            FeedMessage {
                event: line.event.to_owned(),
                data: line.payload.to_owned(),
                id: line.id.map(str::to_owned),
            },
        );
    }

    fn close(&self) {
        self.stream.replace(None);
        if let Some(source) = self.source.take() {
            source.set_onerror(None);
            source.close();
        }
        // Dropping the closures frees them; nothing refers to them any more.
        self.listeners.take();
    }

    fn reopen_later(self: &Rc<Self>) {
        let failures = self.failures.get().saturating_add(1);
        self.failures.set(failures);
        // Half to one and a half times the back-off, so the clients of a
        // server that went away do not come back in one herd.
        let base = (500u64 << failures.min(6)).min(30_000) as f64;
        let delay = Duration::from_millis((base * (0.5 + js_sys::Math::random())) as u64);
        let retry = SendWrapper::new(Rc::clone(self));
        set_timeout(
            move || {
                let this = retry.take();
                if this.source.borrow().is_none() {
                    this.open();
                }
            },
            delay,
        );
    }
}

/// Whether `feed` is only for a signed-in user.
fn needs_session(feed: &FeedKey) -> bool {
    matches!(feed, FeedKey::Inbox | FeedKey::Activity)
}

/// Posts `change` to `stream`; whether the server took it.
async fn post_change(stream: &str, change: &FeedChange) -> bool {
    let url = format!("/api/feeds/{}", js_sys::encode_uri_component(stream));
    let Ok(request) = gloo_net::http::Request::post(&url).json(change) else {
        return false;
    };
    request.send().await.is_ok_and(|response| response.ok())
}

/// Asks the server whether this browser has a session again; reopens when
/// it does, asks again later when not.
fn recheck_session(connection: Rc<Connection>, attempt: u32) {
    let connection = SendWrapper::new(connection);
    leptos::task::spawn_local(async move {
        let connection = connection.take();
        if let Ok(Some(_)) = crate::account::api::current_account().await {
            connection.signed_out.set(false);
            connection.failures.set(0);
            connection.open();
            return;
        }
        if !connection.signed_out.replace(true) {
            // Signed out: the public feeds go on while we wait.
            connection.open();
        }
        let delay = Duration::from_millis(1000u64 << attempt.min(3));
        let later = SendWrapper::new(connection);
        set_timeout(
            move || recheck_session(later.take(), attempt.saturating_add(1)),
            delay,
        );
    });
}

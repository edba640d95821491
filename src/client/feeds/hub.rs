//! The tab's side of the feeds: which components listen to which feed, and
//! how this tab gets its events, as the leader, a follower, or alone.
//!
//! - **Leader** (holds the Web Lock [`CHANNEL`]): owns the browser's one
//!   [`Connection`], carrying the feeds of every tab; hands each event to
//!   its own listeners and relays it, with the connection state, over the
//!   `BroadcastChannel`.
//! - **Follower**: tells the leader which feeds it shows (and where it
//!   stands on each) and takes the relayed events. When the leader goes
//!   away, the browser grants the lock to another tab, which announces
//!   itself; followers answer with their whole set, and the new leader
//!   resumes every feed from the earliest position a tab reported.
//! - **Alone**, where Web Locks or `BroadcastChannel` are missing: its own
//!   connection.
//!
//! Every tab drops events it has already seen ([`Positions`]), so a replay
//! after a reconnect or a handover shows nothing twice. Must not parse what
//! feeds carry (components do).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::BroadcastChannel;

use super::connection::Connection;
use super::positions::Positions;
use super::relay::{Relay, CHANNEL};
use super::{ConnectionState, FeedMessage};
use crate::wire::feed::{FeedKey, FeedStart};

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// `navigator.locks.request(name, callback)` (Web Locks; web-sys has it
    /// only behind an unstable flag).
    #[wasm_bindgen(js_namespace = ["navigator", "locks"], js_name = request, catch)]
    fn request_lock(
        name: &str,
        callback: &Closure<dyn FnMut(JsValue) -> js_sys::Promise>,
    ) -> Result<js_sys::Promise, JsValue>;
}

struct Listener {
    id: u64,
    on_message: Rc<dyn Fn(FeedMessage)>,
    set_state: WriteSignal<ConnectionState>,
}

enum Role {
    /// Waiting for the lock; the leader serves this tab.
    Follower,
    /// This tab holds the browser's connection.
    Leader {
        connection: Rc<Connection>,
        /// What each follower tab shows.
        tabs: HashMap<String, BTreeSet<FeedKey>>,
    },
}

/// This tab's feeds.
pub struct Hub {
    tab: String,
    listeners: RefCell<HashMap<FeedKey, Vec<Listener>>>,
    positions: RefCell<Positions>,
    state: Cell<ConnectionState>,
    next_id: Cell<u64>,
    role: RefCell<Role>,
    channel: Option<BroadcastChannel>,
    _keep: RefCell<Vec<Box<dyn std::any::Any>>>,
}

thread_local! {
    static HUB: RefCell<Option<Rc<Hub>>> = const { RefCell::new(None) };
}

/// The tab's hub, started on first use.
pub fn hub() -> Rc<Hub> {
    HUB.with(|hub| {
        if let Some(hub) = hub.borrow().as_ref() {
            return Rc::clone(hub);
        }
        let started = Hub::start();
        hub.replace(Some(Rc::clone(&started)));
        started
    })
}

fn random_tab_id() -> String {
    format!("{:x}", (js_sys::Math::random() * 2f64.powi(52)) as u64)
}

fn can_share() -> bool {
    let window = web_sys::window();
    let has = |target: &JsValue, name: &str| {
        js_sys::Reflect::has(target, &JsValue::from_str(name)).unwrap_or(false)
    };
    window.is_some_and(|window| {
        let navigator = js_sys::Reflect::get(&window, &JsValue::from_str("navigator"))
            .unwrap_or(JsValue::UNDEFINED);
        has(&window, "BroadcastChannel") && navigator.is_object() && has(&navigator, "locks")
    })
}

impl Hub {
    fn start() -> Rc<Self> {
        let channel = if can_share() {
            BroadcastChannel::new(CHANNEL).ok()
        } else {
            None
        };
        let hub = Rc::new(Self {
            tab: random_tab_id(),
            listeners: RefCell::default(),
            positions: RefCell::default(),
            state: Cell::new(ConnectionState::Connecting),
            next_id: Cell::new(0),
            role: RefCell::new(Role::Follower),
            channel,
            _keep: RefCell::default(),
        });
        if hub.channel.is_none() {
            // Alone: this tab leads itself.
            hub.lead();
            return hub;
        }
        let weak = Rc::downgrade(&hub);
        let on_message: Closure<dyn FnMut(web_sys::MessageEvent)> =
            Closure::new(move |event: web_sys::MessageEvent| {
                let (Some(hub), Some(text)) = (weak.upgrade(), event.data().as_string()) else {
                    return;
                };
                if let Ok(message) = serde_json::from_str::<Relay>(&text) {
                    hub.on_relay(message);
                }
            });
        if let Some(channel) = &hub.channel {
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        }
        hub._keep.borrow_mut().push(Box::new(on_message));
        let weak = Rc::downgrade(&hub);
        let on_lock: Closure<dyn FnMut(JsValue) -> js_sys::Promise> =
            Closure::new(move |_lock: JsValue| {
                if let Some(hub) = weak.upgrade() {
                    hub.lead();
                }
                // Never settles: the lock is held until the tab goes away.
                js_sys::Promise::new(&mut |_, _| {})
            });
        if request_lock(CHANNEL, &on_lock).is_err() {
            hub.lead();
        }
        hub._keep.borrow_mut().push(Box::new(on_lock));
        let weak = Rc::downgrade(&hub);
        let bye = window_event_listener_untyped("pagehide", move |_| {
            if let Some(hub) = weak.upgrade() {
                if matches!(*hub.role.borrow(), Role::Follower) {
                    hub.send(&Relay::Bye {
                        tab: hub.tab.clone(),
                    });
                }
            }
        });
        hub._keep.borrow_mut().push(Box::new(bye));
        hub
    }

    /// Adds a listener for `feed`; the feed (re)starts from a snapshot so
    /// the new listener gets its current state.
    pub fn listen(
        self: &Rc<Self>,
        feed: FeedKey,
        on_message: Rc<dyn Fn(FeedMessage)>,
        set_state: WriteSignal<ConnectionState>,
    ) -> u64 {
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        // The connection's state as of now, told after the calling island
        // has hydrated: hydration adopts the server's HTML ("connecting")
        // without re-rendering it, so a value set before would never show
        // (a lazily loaded island often starts when the stream is open).
        leptos::task::spawn_local(async move { set_state.set(hub().state.get()) });
        self.listeners
            .borrow_mut()
            .entry(feed.clone())
            .or_default()
            .push(Listener {
                id,
                on_message,
                set_state,
            });
        self.positions.borrow_mut().forget(&feed);
        match self.connection() {
            Some(connection) => {
                connection.want(self.all_feeds());
                connection.restart(feed, None);
            }
            None => self.send(&Relay::Want {
                tab: self.tab.clone(),
                feeds: vec![FeedStart::fresh(feed)],
                all: false,
            }),
        }
        id
    }

    /// The browser's connection, when this tab holds it.
    fn connection(&self) -> Option<Rc<Connection>> {
        match &*self.role.borrow() {
            Role::Leader { connection, .. } => Some(Rc::clone(connection)),
            Role::Follower => None,
        }
    }

    /// Removes listener `id` of `feed`; the feed stops when nobody in any
    /// tab shows it.
    pub fn unlisten(self: &Rc<Self>, feed: &FeedKey, id: u64) {
        let emptied = {
            let mut listeners = self.listeners.borrow_mut();
            let Some(list) = listeners.get_mut(feed) else {
                return;
            };
            list.retain(|listener| listener.id != id);
            let emptied = list.is_empty();
            if emptied {
                listeners.remove(feed);
            }
            emptied
        };
        if !emptied {
            return;
        }
        match self.connection() {
            Some(connection) => connection.want(self.all_feeds()),
            None => self.send(&Relay::Drop {
                tab: self.tab.clone(),
                feeds: vec![feed.clone()],
            }),
        }
    }

    /// This tab's feeds and, when leading, every follower's.
    fn all_feeds(&self) -> BTreeSet<FeedKey> {
        let mut feeds: BTreeSet<FeedKey> = self.listeners.borrow().keys().cloned().collect();
        if let Role::Leader { tabs, .. } = &*self.role.borrow() {
            feeds.extend(tabs.values().flatten().cloned());
        }
        feeds
    }

    /// Takes the lead: opens the browser's connection for this tab's feeds
    /// (from where this tab stands) and asks followers for theirs.
    fn lead(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let on_event = Box::new(move |feed: FeedKey, message: FeedMessage| {
            if let Some(hub) = weak.upgrade() {
                hub.send(&Relay::Event {
                    feed: feed.clone(),
                    event: message.event.clone(),
                    id: message.id.clone(),
                    data: message.data.clone(),
                });
                hub.deliver(&feed, message);
            }
        });
        let weak = Rc::downgrade(self);
        let on_state = Box::new(move |state: ConnectionState| {
            if let Some(hub) = weak.upgrade() {
                hub.send(&Relay::State {
                    state: state.as_str().to_owned(),
                });
                hub.set_state(state);
            }
        });
        let connection = Connection::new(on_event, on_state);
        let own: Vec<FeedKey> = self.listeners.borrow().keys().cloned().collect();
        for feed in own {
            let after = self.positions.borrow().get(&feed).map(str::to_owned);
            connection.restart(feed, after);
        }
        self.role.replace(Role::Leader {
            connection: Rc::clone(&connection),
            tabs: HashMap::new(),
        });
        connection.want(self.all_feeds());
        self.send(&Relay::Leader {
            tab: self.tab.clone(),
        });
    }

    fn on_relay(self: &Rc<Self>, message: Relay) {
        let role = self.role.borrow();
        match (&*role, message) {
            (
                Role::Follower,
                Relay::Event {
                    feed,
                    event,
                    id,
                    data,
                },
            ) => {
                drop(role);
                self.deliver(&feed, FeedMessage { event, data, id });
            }
            (Role::Follower, Relay::State { state }) => {
                drop(role);
                self.set_state(ConnectionState::from_word(&state));
            }
            (Role::Follower, Relay::Leader { .. }) => {
                drop(role);
                let feeds = self
                    .listeners
                    .borrow()
                    .keys()
                    .map(|feed| FeedStart {
                        feed: feed.clone(),
                        after: self.positions.borrow().get(feed).map(str::to_owned),
                    })
                    .collect();
                self.send(&Relay::Want {
                    tab: self.tab.clone(),
                    feeds,
                    all: true,
                });
            }
            (Role::Leader { connection, .. }, Relay::Want { tab, feeds, all }) => {
                let connection = Rc::clone(connection);
                drop(role);
                self.with_tabs(|tabs| {
                    let set = tabs.entry(tab).or_default();
                    if all {
                        set.clear();
                    }
                    set.extend(feeds.iter().map(|start| start.feed.clone()));
                });
                for start in feeds {
                    let carried = connection.carries(&start.feed);
                    let behind = Positions::is_before(
                        start.after.as_deref(),
                        connection.position(&start.feed).as_deref(),
                    );
                    if !carried || behind || start.after.is_none() {
                        connection.restart(start.feed, start.after);
                    }
                }
                connection.want(self.all_feeds());
                self.send(&Relay::State {
                    state: self.state.get().as_str().to_owned(),
                });
            }
            (Role::Leader { connection, .. }, Relay::Drop { tab, feeds }) => {
                let connection = Rc::clone(connection);
                drop(role);
                self.with_tabs(|tabs| {
                    if let Some(set) = tabs.get_mut(&tab) {
                        feeds.iter().for_each(|feed| {
                            set.remove(feed);
                        });
                    }
                });
                connection.want(self.all_feeds());
            }
            (Role::Leader { connection, .. }, Relay::Bye { tab }) => {
                let connection = Rc::clone(connection);
                drop(role);
                self.with_tabs(|tabs| {
                    tabs.remove(&tab);
                });
                connection.want(self.all_feeds());
            }
            _ => {}
        }
    }

    fn with_tabs(&self, change: impl FnOnce(&mut HashMap<String, BTreeSet<FeedKey>>)) {
        if let Role::Leader { tabs, .. } = &mut *self.role.borrow_mut() {
            change(tabs);
        }
    }

    fn send(&self, message: &Relay) {
        if let (Some(channel), Ok(text)) = (&self.channel, serde_json::to_string(message)) {
            let _ = channel.post_message(&JsValue::from_str(&text));
        }
    }

    /// Hands an event to this tab's listeners of `feed`, unless seen.
    fn deliver(&self, feed: &FeedKey, message: FeedMessage) {
        let listeners: Vec<Rc<dyn Fn(FeedMessage)>> = match self.listeners.borrow().get(feed) {
            Some(list) => list.iter().map(|l| Rc::clone(&l.on_message)).collect(),
            None => return,
        };
        if !self
            .positions
            .borrow_mut()
            .accept(feed, &message.event, message.id.as_deref())
        {
            return;
        }
        for on_message in listeners {
            on_message(message.clone());
        }
    }

    fn set_state(&self, state: ConnectionState) {
        self.state.set(state);
        let setters: Vec<WriteSignal<ConnectionState>> = self
            .listeners
            .borrow()
            .values()
            .flatten()
            .map(|listener| listener.set_state)
            .collect();
        for set_state in setters {
            set_state.set(state);
        }
    }
}

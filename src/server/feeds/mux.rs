//! The body of one multiplexed stream: the `hello`, then the frames of
//! every feed it carries, taking subscribe and unsubscribe orders while it
//! runs.
//!
//! Owns which feeds one stream carries and fair polling between them (a
//! busy feed cannot starve a quiet one). A feed that ends (a finished task,
//! a reset) simply leaves; one that cannot start sends one `error` event.
//! Must not know what feeds carry or how they are authorised
//! ([`super::open`]).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::Stream;

use super::mailbox::Mailbox;
use super::open::FeedOpener;
use super::registry::Registration;
use crate::server::error::ApiError;
use crate::server::sse::FrameStream;
use crate::wire::feed::{FeedError, FeedKey, FeedStart, Hello, MAX_FEEDS};
use crate::wire::frame;
use crate::wire::names::{FEED_ERROR, HELLO};

/// An order for a running stream.
#[derive(Debug, Clone)]
pub enum Control {
    /// Start these feeds (restart one already carried, at its position).
    Subscribe(Vec<FeedStart>),
    /// Stop these feeds.
    Unsubscribe(Vec<FeedKey>),
}

type Opening = BoxFuture<'static, Result<FrameStream, ApiError>>;

/// One multiplexed stream.
pub struct Mux {
    opener: Arc<FeedOpener>,
    orders: Arc<Mailbox>,
    /// Frames to send before anything else (the hello, feed errors): at
    /// most one order's worth (see `poll_next`).
    queued: VecDeque<Bytes>,
    opening: Vec<(FeedKey, Opening)>,
    feeds: Vec<(FeedKey, FrameStream)>,
    /// Where the next round of polling feeds starts.
    next: usize,
    _registration: Registration,
}

impl Mux {
    /// A stream with id `stream` starting `starts`, taking orders from
    /// `orders`, unregistered when dropped.
    pub fn new(
        opener: Arc<FeedOpener>,
        stream: &str,
        starts: Vec<FeedStart>,
        orders: Arc<Mailbox>,
        registration: Registration,
    ) -> Self {
        let hello = serde_json::to_vec(&Hello {
            stream: stream.to_owned(),
        })
        .unwrap_or_default();
        let mut mux = Self {
            opener,
            orders,
            queued: VecDeque::from([frame::event(None, Some(HELLO), &hello)]),
            opening: Vec::new(),
            feeds: Vec::new(),
            next: 0,
            _registration: registration,
        };
        mux.apply(Control::Subscribe(starts));
        mux
    }

    fn carried(&self) -> usize {
        self.feeds.len() + self.opening.len()
    }

    fn drop_feed(&mut self, key: &FeedKey) {
        self.opening.retain(|(k, _)| k != key);
        self.feeds.retain(|(k, _)| k != key);
    }

    fn apply(&mut self, control: Control) {
        match control {
            Control::Subscribe(starts) => {
                for start in starts {
                    self.drop_feed(&start.feed);
                    if self.carried() >= MAX_FEEDS {
                        let error = ApiError::field(
                            "subscribe",
                            format!("one stream carries at most {MAX_FEEDS} feeds"),
                        );
                        self.queue_error(&start.feed, &error);
                        continue;
                    }
                    let key = start.feed.clone();
                    self.opening.push((key, self.opener.open(start)));
                }
            }
            Control::Unsubscribe(keys) => keys.iter().for_each(|key| self.drop_feed(key)),
        }
    }

    fn queue_error(&mut self, key: &FeedKey, error: &ApiError) {
        let data = serde_json::to_vec(&FeedError {
            status: error.status().as_u16(),
            error: error.message(),
        })
        .unwrap_or_default();
        self.queued.push_back(frame::tagged(
            &key.to_string(),
            None,
            Some(FEED_ERROR),
            &data,
        ));
    }
}

impl Stream for Mux {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = &mut *self;
        // Orders first, so an unsubscribe stops a feed before it sends more;
        // one at a time, and only once the frames the last one queued are
        // out. So at most one order's refusals wait here (2 × MAX_FEEDS
        // frames): further orders wait in the mailbox, which refuses past
        // its own bound (429), and nothing is dropped.
        if this.queued.is_empty() {
            if let Some(order) = this.orders.take(cx) {
                this.apply(order);
            }
        }
        let mut at = 0;
        while at < this.opening.len() {
            match this.opening[at].1.as_mut().poll(cx) {
                Poll::Ready(result) => {
                    let (key, _) = this.opening.swap_remove(at);
                    match result {
                        Ok(feed) => this.feeds.push((key, feed)),
                        Err(error) => this.queue_error(&key, &error),
                    }
                }
                Poll::Pending => at += 1,
            }
        }
        if let Some(frame) = this.queued.pop_front() {
            return Poll::Ready(Some(frame));
        }
        // Round robin: each poll starts after the feed that sent last.
        let count = this.feeds.len();
        for step in 0..count {
            let index = (this.next + step) % count;
            match this.feeds[index].1.as_mut().poll_next(cx) {
                Poll::Ready(Some(frame)) => {
                    this.next = index + 1;
                    return Poll::Ready(Some(frame));
                }
                Poll::Ready(None) => {
                    // The feed ended (a finished task, a reset). Removing it
                    // shifts the later ones; they are polled next time,
                    // which comes at once.
                    drop(this.feeds.remove(index));
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Poll::Pending => {}
            }
        }
        // The stream itself never ends: it waits for orders and feeds until
        // the client leaves, its session ends or the server drains.
        Poll::Pending
    }
}

//! The orders waiting for one multiplexed stream, and the waker of the
//! stream that takes them.
//!
//! A few dozen bytes per stream where a tokio channel allocates a block of
//! slots up front: every open stream has one, most never get an order. It
//! holds at most [`QUEUED_ORDERS`]; must not know what orders mean.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::task::Context;

use futures::task::AtomicWaker;

use super::mux::Control;

/// Orders a stream may have waiting before further changes are refused.
pub const QUEUED_ORDERS: usize = 16;

/// One stream's waiting orders.
#[derive(Default)]
pub struct Mailbox {
    orders: Mutex<VecDeque<Control>>,
    /// Whether `orders` may hold something: polling a stream with none
    /// waiting (every frame of every stream) takes no lock.
    posted: AtomicBool,
    waker: AtomicWaker,
}

/// The mailbox is full: the stream is not taking its orders.
#[derive(Debug)]
pub struct Full;

impl Mailbox {
    /// Leaves `order` for the stream and wakes it.
    pub fn post(&self, order: Control) -> Result<(), Full> {
        {
            let mut orders = self
                .orders
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if orders.len() >= QUEUED_ORDERS {
                return Err(Full);
            }
            orders.push_back(order);
        }
        self.posted.store(true, Ordering::Release);
        self.waker.wake();
        Ok(())
    }

    /// The oldest order waiting, if any. The stream is woken when the next
    /// one is posted, and at once when more are already waiting.
    pub fn take(&self, cx: &Context<'_>) -> Option<Control> {
        self.waker.register(cx.waker());
        if !self.posted.swap(false, Ordering::AcqRel) {
            return None;
        }
        let mut orders = self
            .orders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let order = orders.pop_front();
        if !orders.is_empty() {
            self.posted.store(true, Ordering::Release);
            cx.waker().wake_by_ref();
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::feed::FeedKey;

    #[test]
    fn orders_come_out_in_order_and_a_full_box_refuses() {
        let mailbox = Mailbox::default();
        for _ in 0..QUEUED_ORDERS {
            mailbox
                .post(Control::Unsubscribe(vec![FeedKey::Clock]))
                .unwrap();
        }
        assert!(mailbox.post(Control::Unsubscribe(vec![])).is_err());
        let waker = futures::task::noop_waker();
        let cx = Context::from_waker(&waker);
        let taken = std::iter::from_fn(|| mailbox.take(&cx)).count();
        assert_eq!(taken, QUEUED_ORDERS);
        assert!(mailbox.take(&cx).is_none());
        assert!(mailbox.post(Control::Subscribe(vec![])).is_ok());
    }
}

//! Messages waiting for the broker: a bounded queue that keeps the newest.
//!
//! While the broker is away (or slow), telegrams keep coming. The queue
//! holds what has not been handed to the connection yet, up to a byte
//! budget; past it the oldest messages go, and are counted, so that the
//! newest readings are the ones that survive an outage.

use std::collections::VecDeque;
use std::rc::Rc;

use super::codec::QoS;

/// One message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: Rc<str>,
    /// Shared with the raw clients for the telegram topic: never copied.
    pub payload: Rc<[u8]>,
    pub qos: QoS,
    pub retain: bool,
    /// Sent already on an earlier connection (QoS 1 only): DUP on resend.
    pub dup: bool,
}

impl Message {
    /// Roughly what it costs to keep: payload, topic and bookkeeping.
    pub fn cost(&self) -> usize {
        self.payload.len() + self.topic.len() + 64
    }
}

/// Messages in the order they are to be sent.
#[derive(Debug)]
pub struct Queue {
    messages: VecDeque<Message>,
    bytes: usize,
    limit: usize,
    /// Messages dropped because the queue was full, since start.
    pub dropped: u64,
}

impl Queue {
    /// A queue of at most `limit` bytes (see [`Message::cost`]).
    pub fn new(limit: usize) -> Queue {
        Queue {
            messages: VecDeque::new(),
            bytes: 0,
            limit,
            dropped: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Adds a message at the back, dropping the oldest while over the limit.
    pub fn push(&mut self, message: Message) {
        self.bytes += message.cost();
        self.messages.push_back(message);
        self.trim();
    }

    /// Puts messages back at the front, in their order: QoS 1 messages that
    /// were sent but never acknowledged go out again first.
    pub fn unsend(&mut self, messages: impl DoubleEndedIterator<Item = Message>) {
        for message in messages.rev() {
            self.bytes += message.cost();
            self.messages.push_front(message);
        }
        self.trim();
    }

    pub fn pop(&mut self) -> Option<Message> {
        let message = self.messages.pop_front()?;
        self.bytes -= message.cost();
        Some(message)
    }

    pub fn peek(&self) -> Option<&Message> {
        self.messages.front()
    }

    fn trim(&mut self) {
        // The newest message always stays, however big.
        while self.bytes > self.limit && self.messages.len() > 1 {
            if let Some(old) = self.messages.pop_front() {
                self.bytes -= old.cost();
                self.dropped += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(tag: u8, len: usize) -> Message {
        Message {
            topic: Rc::from("p/t"),
            payload: Rc::from(vec![tag; len]),
            qos: QoS::AtLeastOnce,
            retain: false,
            dup: false,
        }
    }

    #[test]
    fn keeps_the_newest_and_counts_the_rest() {
        let one = message(0, 100).cost();
        let mut q = Queue::new(3 * one);
        for tag in 0..5 {
            q.push(message(tag, 100));
        }
        assert_eq!((q.len(), q.dropped), (3, 2));
        let tags: Vec<u8> = std::iter::from_fn(|| q.pop())
            .map(|m| m.payload[0])
            .collect();
        assert_eq!(tags, [2, 3, 4]);
        assert_eq!(q.bytes, 0);
        q.push(message(9, 10 * one));
        assert_eq!(q.len(), 1, "one oversized message still goes");
    }

    #[test]
    fn unsent_messages_go_first_in_order() {
        let mut q = Queue::new(1 << 20);
        q.push(message(3, 1));
        q.unsend([message(1, 1), message(2, 1)].into_iter());
        let tags: Vec<u8> = std::iter::from_fn(|| q.pop())
            .map(|m| m.payload[0])
            .collect();
        assert_eq!(tags, [1, 2, 3]);
    }
}

//! QoS 1 messages on the wire, waiting for their PUBACK, and the packet
//! identifiers that tell them apart (MQTT 3.1.1, 2.3.1).

use std::collections::VecDeque;

use super::queue::Message;

/// QoS 1 messages sent and not yet acknowledged, at most.
pub const MAX_INFLIGHT: usize = 32;

/// A QoS 1 message on the wire.
#[derive(Debug)]
struct InFlight {
    pid: u16,
    message: Message,
    /// Telegram data, counted and resent; control messages (availability,
    /// discovery) are sent afresh on every connection instead.
    data: bool,
}

/// The messages in flight, oldest first.
#[derive(Debug, Default)]
pub struct Window {
    inflight: VecDeque<InFlight>,
    next_pid: u16,
}

impl Window {
    pub fn len(&self) -> usize {
        self.inflight.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inflight.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.inflight.len() >= MAX_INFLIGHT
    }

    /// A packet identifier no message in flight has; None if every one is
    /// taken. Never, while [`MAX_INFLIGHT`] holds; the search is bounded
    /// all the same, so that it can fail but never spin: of `len + 1`
    /// nonzero identifiers in a row, one is free.
    pub fn pid(&mut self) -> Option<u16> {
        if self.inflight.len() >= usize::from(u16::MAX) {
            return None;
        }
        for _ in 0..=self.inflight.len() + 1 {
            self.next_pid = self.next_pid.wrapping_add(1);
            let pid = self.next_pid;
            if pid != 0 && !self.inflight.iter().any(|f| f.pid == pid) {
                return Some(pid);
            }
        }
        None
    }

    pub fn sent(&mut self, pid: u16, message: Message, data: bool) {
        self.inflight.push_back(InFlight { pid, message, data });
    }

    /// A PUBACK: None for a pid not in flight, else whether it was data.
    pub fn acknowledged(&mut self, pid: u16) -> Option<bool> {
        let i = self.inflight.iter().position(|f| f.pid == pid)?;
        self.inflight.remove(i).map(|f| f.data)
    }

    /// The connection ended: the data messages to send again, marked DUP.
    pub fn take_unacknowledged(&mut self) -> Vec<Message> {
        self.inflight
            .drain(..)
            .filter(|f| f.data)
            .map(|f| Message {
                dup: true,
                ..f.message
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::mqtt::codec::QoS;

    #[test]
    fn the_pid_search_fails_rather_than_spins_when_all_are_taken() {
        let mut w = Window::default();
        let message = Message {
            topic: Rc::from("t"),
            payload: Rc::from(&b"x"[..]),
            qos: QoS::AtLeastOnce,
            retain: false,
            dup: false,
        };
        for pid in 1..=u16::MAX {
            w.sent(pid, message.clone(), true);
        }
        assert_eq!(w.pid(), None);
        assert_eq!(w.acknowledged(7), Some(true));
        assert_eq!(w.pid(), Some(7));
    }
}

//! The MQTT client's protocol state, without I/O: bytes from the broker
//! and the clock in, bytes for the broker out.
//!
//! The connection's driver ([`super::client`]) opens a transport, calls
//! [`Session::open`], feeds it what it reads ([`Session::received`]),
//! writes [`Session::outgoing`] when the socket has room, and calls
//! [`Session::closed`] when the transport is gone. Everything MQTT is
//! decided here:
//!
//! - Nothing but CONNECT goes out before the broker's CONNACK; a refusal
//!   or a CONNACK that does not come is a [`Fault`].
//! - Messages wait in a bounded [`Queue`]; they move to the outgoing bytes
//!   only while those are short (a slow broker fills the queue, never
//!   memory), and QoS 1 messages only while fewer than [`MAX_INFLIGHT`]
//!   await their PUBACK. Control messages (availability, discovery) wait
//!   in a small queue of their own, one per topic, and go first, within
//!   the same limits: nothing the broker does makes memory grow.
//! - A QoS 1 message leaves the session when its PUBACK comes. If the
//!   connection ends first, it goes back to the front of the queue, marked
//!   DUP, and is sent again on the next connection: at least once.
//! - Keep-alive: a PINGREQ when the line has been quiet for half the
//!   keep-alive; a PINGRESP (or any whole packet) that does not follow in
//!   time means the connection is dead even if TCP has not noticed. Bytes
//!   that complete no packet are no answer: a broker that trickles them
//!   is as dead as a silent one.
//! - From the broker, a packet over [`codec::MAX_INCOMING`] is refused as
//!   soon as its header is in, and the buffers shrink back after a large
//!   one.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::codec::{self, Connect, Packet, Publish, QoS};
pub use super::inflight::MAX_INFLIGHT;
use super::inflight::Window;
pub use super::outcome::{Event, Fault};
use super::queue::{Message, Queue};

/// Sent in CONNECT: the broker drops p1mux after 1.5 times this in silence.
pub const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// A quiet line gets a PINGREQ after this.
const PING_AFTER: Duration = Duration::from_secs(15);
/// The broker must answer a PINGREQ within this.
const PING_TIMEOUT: Duration = Duration::from_secs(15);
/// The broker must answer CONNECT (and finish TLS) within this.
pub const CONNACK_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages move from the queue to the outgoing bytes only below this.
const OUTGOING_HIGH: usize = 16 * 1024;
/// Acknowledgements of the broker's QoS 1 messages may take the outgoing
/// bytes up to this; a broker that sends on without reading past it is
/// dropped.
const OUTGOING_LIMIT: usize = 64 * 1024;
/// Control messages waiting, at most: one per topic is all there is.
const CONTROL_LIMIT: usize = 8;
/// A buffer that grew past this for a large packet is shrunk back.
const SHRINK_ABOVE: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    AwaitingConnAck { since: Instant },
    Ready,
}

/// One client's protocol state, across connections.
#[derive(Debug)]
pub struct Session {
    phase: Phase,
    /// Data messages not yet handed to a connection.
    pub queue: Queue,
    /// Control messages for this connection, sent before the queue.
    control: VecDeque<Message>,
    inflight: Window,
    /// Bytes for the broker not yet written.
    outgoing: Vec<u8>,
    /// Bytes from the broker not yet a whole packet.
    incoming: Vec<u8>,
    last_sent: Instant,
    last_received: Instant,
    ping_sent: Option<Instant>,
    /// Data messages the broker has (QoS 1: acknowledged; QoS 0: written).
    pub published: u64,
}

impl Session {
    /// `queue_limit`: bytes of messages kept while the broker is away.
    pub fn new(queue_limit: usize, now: Instant) -> Session {
        Session {
            phase: Phase::Closed,
            queue: Queue::new(queue_limit),
            control: VecDeque::new(),
            inflight: Window::default(),
            outgoing: Vec::new(),
            incoming: Vec::new(),
            last_sent: now,
            last_received: now,
            ping_sent: None,
            published: 0,
        }
    }

    /// A transport is up: CONNECT goes out first.
    pub fn open(&mut self, connect: &Connect, now: Instant) {
        self.closed();
        codec::connect(&mut self.outgoing, connect);
        self.phase = Phase::AwaitingConnAck { since: now };
        self.last_sent = now;
        self.last_received = now;
    }

    /// CONNACK came and accepted: messages may flow.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// The transport is gone: unacknowledged data goes back to the queue.
    pub fn closed(&mut self) {
        let resend = self.inflight.take_unacknowledged();
        self.queue.unsend(resend.into_iter());
        self.phase = Phase::Closed;
        self.control.clear();
        self.outgoing.clear();
        self.incoming.clear();
        shrink(&mut self.outgoing);
        shrink(&mut self.incoming);
        self.ping_sent = None;
    }

    /// Bytes to write to the transport.
    pub fn outgoing(&self) -> &[u8] {
        &self.outgoing
    }

    /// The transport took `n` bytes of [`Session::outgoing`].
    pub fn written(&mut self, n: usize) {
        self.outgoing.drain(..n.min(self.outgoing.len()));
        shrink(&mut self.outgoing);
    }

    /// QoS 1 messages awaiting their PUBACK.
    pub fn inflight(&self) -> usize {
        self.inflight.len()
    }

    /// Takes in bytes read from the transport. Only whole packets are signs
    /// of life; a partial one waits for the rest.
    pub fn received(&mut self, bytes: &[u8], now: Instant) -> Result<Vec<Event>, Fault> {
        if bytes.is_empty() {
            return Ok(Vec::new());
        }
        self.incoming.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut at = 0;
        let result = loop {
            match codec::decode(&self.incoming[at..]) {
                Ok(None) => break Ok(()),
                Err(e) => break Err(Fault::Protocol(e.to_string())),
                Ok(Some((packet, len))) => {
                    at += len;
                    self.last_received = now;
                    self.ping_sent = None;
                    if let Err(fault) = self.on_packet(packet, now, &mut events) {
                        break Err(fault);
                    }
                }
            }
        };
        self.incoming.drain(..at);
        shrink(&mut self.incoming);
        result.map(|()| events)
    }

    fn on_packet(
        &mut self,
        packet: Packet,
        now: Instant,
        events: &mut Vec<Event>,
    ) -> Result<(), Fault> {
        let ready = self.is_ready();
        match packet {
            Packet::ConnAck { code: 0, .. } if !ready => {
                self.phase = Phase::Ready;
                events.push(Event::Accepted);
            }
            Packet::ConnAck { code, .. } if !ready => return Err(Fault::Refused(code)),
            _ if !ready => {
                return Err(Fault::Protocol(
                    "the broker sent a packet before CONNACK".into(),
                ));
            }
            Packet::PubAck(pid) => {
                if let Some(data) = self.inflight.acknowledged(pid) {
                    self.published += u64::from(data);
                    events.push(Event::Acknowledged);
                }
            }
            Packet::Publish {
                topic,
                payload,
                qos,
                retain,
                pid,
            } => {
                if let (1, Some(pid)) = (qos, pid) {
                    if self.outgoing.len() >= OUTGOING_LIMIT {
                        return Err(Fault::Protocol(
                            "the broker sends messages to acknowledge faster than it reads".into(),
                        ));
                    }
                    codec::puback(&mut self.outgoing, pid);
                    self.last_sent = now;
                }
                events.push(Event::Message {
                    topic,
                    payload,
                    retain,
                });
            }
            Packet::SubAck { codes, .. } if codes.contains(&0x80) => {
                log::warn!("mqtt: the broker refused p1mux's subscription (its ACL?)");
            }
            Packet::PingResp => events.push(Event::Acknowledged),
            Packet::SubAck { .. } => {}
            Packet::ConnAck { .. } => {
                return Err(Fault::Protocol("a second CONNACK".into()));
            }
        }
        Ok(())
    }

    /// Writes one message; a QoS 1 one that finds no packet identifier
    /// is handed back.
    fn write(&mut self, message: Message, data: bool, now: Instant) -> Result<(), Message> {
        let pid = match message.qos {
            QoS::AtLeastOnce => match self.inflight.pid() {
                Some(pid) => pid,
                None => return Err(message),
            },
            QoS::AtMostOnce => 0,
        };
        codec::publish(
            &mut self.outgoing,
            &Publish {
                topic: &message.topic,
                payload: &message.payload,
                qos: message.qos,
                retain: message.retain,
                dup: message.dup,
                pid,
            },
        );
        self.last_sent = now;
        if message.qos == QoS::AtLeastOnce {
            self.inflight.sent(pid, message, data);
        } else if data {
            self.published += 1;
        }
        Ok(())
    }

    /// Sends a control message (availability, discovery) ahead of the
    /// queue, replacing one for the same topic that still waits. Only on a
    /// ready connection; the caller sends them again on each new one.
    pub fn send_control(&mut self, message: Message, now: Instant) {
        if !self.is_ready() {
            return;
        }
        match self.control.iter_mut().find(|m| m.topic == message.topic) {
            Some(waiting) => *waiting = message,
            None => {
                if self.control.len() >= CONTROL_LIMIT {
                    self.control.pop_front();
                }
                self.control.push_back(message);
            }
        }
        self.pump(now);
    }

    pub fn subscribe(&mut self, filters: &[(&str, QoS)], now: Instant) {
        if self.is_ready()
            && let Some(pid) = self.inflight.pid()
        {
            codec::subscribe(&mut self.outgoing, pid, filters);
            self.last_sent = now;
        }
    }

    /// Moves control messages, then queued ones, to the outgoing bytes, as
    /// far as the connection should take them now.
    pub fn pump(&mut self, now: Instant) {
        while self.is_ready() && self.outgoing.len() < OUTGOING_HIGH {
            let full = self.inflight.is_full();
            let (next, data) = match (self.control.front(), self.queue.peek()) {
                (Some(m), _) => (m, false),
                (None, Some(m)) => (m, true),
                (None, None) => return,
            };
            if next.qos == QoS::AtLeastOnce && full {
                return;
            }
            let message = match data {
                true => self.queue.pop(),
                false => self.control.pop_front(),
            };
            if let Some(message) = message
                && let Err(message) = self.write(message, data, now)
            {
                match data {
                    true => self.queue.unsend(std::iter::once(message)),
                    false => self.control.push_front(message),
                }
                return;
            }
        }
    }

    /// A clean goodbye, with a last control message (availability) that
    /// goes whatever the limits: the broker then does not send the will.
    pub fn disconnect(&mut self, last: Option<Message>, now: Instant) {
        if let Some(message) = last
            && self.is_ready()
        {
            let _ = self.write(message, false, now);
        }
        codec::disconnect(&mut self.outgoing);
    }

    /// When [`Session::on_time`] has something to do.
    pub fn due_at(&self) -> Option<Instant> {
        match self.phase {
            Phase::Closed => None,
            Phase::AwaitingConnAck { since } => Some(since + CONNACK_TIMEOUT),
            Phase::Ready => Some(match self.ping_sent {
                Some(at) => at + PING_TIMEOUT,
                None => self.last_sent.min(self.last_received) + PING_AFTER,
            }),
        }
    }

    /// Keep-alive and timeouts.
    pub fn on_time(&mut self, now: Instant) -> Result<(), Fault> {
        match self.phase {
            Phase::Closed => Ok(()),
            Phase::AwaitingConnAck { since } if now >= since + CONNACK_TIMEOUT => {
                Err(Fault::Timeout("CONNECT"))
            }
            Phase::AwaitingConnAck { .. } => Ok(()),
            Phase::Ready => match self.ping_sent {
                Some(at) if now >= at + PING_TIMEOUT => Err(Fault::Timeout("a PINGREQ")),
                Some(_) => Ok(()),
                None if now >= self.last_sent.min(self.last_received) + PING_AFTER => {
                    codec::pingreq(&mut self.outgoing);
                    self.ping_sent = Some(now);
                    self.last_sent = now;
                    Ok(())
                }
                None => Ok(()),
            },
        }
    }
}

/// Gives back the memory of a buffer that grew for a large packet.
fn shrink(buf: &mut Vec<u8>) {
    if buf.capacity() > SHRINK_ABOVE && buf.len() <= SHRINK_ABOVE / 2 {
        buf.shrink_to(SHRINK_ABOVE / 2);
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;

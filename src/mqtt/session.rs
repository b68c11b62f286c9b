//! The MQTT client's protocol state, without I/O: bytes from the broker
//! and the clock in, bytes for the broker out.
//!
//! The connection layer ([`super::link`]) opens a transport, calls
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
//!   await their PUBACK.
//! - A QoS 1 message leaves the session when its PUBACK comes. If the
//!   connection ends first, it goes back to the front of the queue, marked
//!   DUP, and is sent again on the next connection: at least once.
//! - Keep-alive: a PINGREQ when the line has been quiet for half the
//!   keep-alive; a PINGRESP (or anything) that does not follow in time
//!   means the connection is dead even if TCP has not noticed.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use super::codec::{self, Connect, Packet, Publish, QoS};
use super::queue::{Message, Queue};

/// Sent in CONNECT: the broker drops p1mux after 1.5 times this in silence.
pub const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// A quiet line gets a PINGREQ after this.
const PING_AFTER: Duration = Duration::from_secs(15);
/// The broker must answer a PINGREQ within this.
const PING_TIMEOUT: Duration = Duration::from_secs(15);
/// The broker must answer CONNECT (and finish TLS) within this.
pub const CONNACK_TIMEOUT: Duration = Duration::from_secs(10);
/// QoS 1 messages sent and not yet acknowledged, at most.
pub const MAX_INFLIGHT: usize = 32;
/// Messages move from the queue to the outgoing bytes only below this.
const OUTGOING_HIGH: usize = 16 * 1024;

/// Why the session gave up on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// CONNACK with a refusal code (3.2.2.3).
    Refused(u8),
    /// The broker sent something that is not MQTT 3.1.1.
    Protocol(String),
    /// The broker did not answer in time.
    Timeout(&'static str),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Refused(code) => write!(
                f,
                "the broker refused the connection: {} (CONNACK code {code})",
                codec::refusal(*code)
            ),
            Fault::Protocol(why) => f.write_str(why),
            Fault::Timeout(what) => write!(f, "the broker did not answer {what} in time"),
        }
    }
}

/// What the broker said that the output acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// CONNACK accepted: the connection is ready for messages.
    Accepted,
    /// A message on a subscribed topic.
    Message {
        topic: String,
        payload: Vec<u8>,
        retain: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    AwaitingConnAck { since: Instant },
    Ready,
}

/// A QoS 1 message on the wire, waiting for its PUBACK.
#[derive(Debug)]
struct InFlight {
    pid: u16,
    message: Message,
    /// Telegram data, counted and resent; control messages (availability,
    /// discovery) are sent afresh on every connection instead.
    data: bool,
}

/// One client's protocol state, across connections.
#[derive(Debug)]
pub struct Session {
    phase: Phase,
    /// Data messages not yet handed to a connection.
    pub queue: Queue,
    inflight: VecDeque<InFlight>,
    next_pid: u16,
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
            inflight: VecDeque::new(),
            next_pid: 0,
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
        let resend: Vec<Message> = self
            .inflight
            .drain(..)
            .filter(|f| f.data)
            .map(|f| Message {
                dup: true,
                ..f.message
            })
            .collect();
        self.queue.unsend(resend.into_iter());
        self.phase = Phase::Closed;
        self.outgoing.clear();
        self.incoming.clear();
        self.ping_sent = None;
    }

    /// Bytes to write to the transport.
    pub fn outgoing(&self) -> &[u8] {
        &self.outgoing
    }

    /// The transport took `n` bytes of [`Session::outgoing`].
    pub fn written(&mut self, n: usize) {
        self.outgoing.drain(..n.min(self.outgoing.len()));
    }

    /// QoS 1 messages awaiting their PUBACK.
    pub fn inflight(&self) -> usize {
        self.inflight.len()
    }

    /// Takes in bytes read from the transport.
    pub fn received(&mut self, bytes: &[u8], now: Instant) -> Result<Vec<Event>, Fault> {
        // A wake-up without bytes says nothing about the broker being alive.
        if bytes.is_empty() {
            return Ok(Vec::new());
        }
        self.incoming.extend_from_slice(bytes);
        self.last_received = now;
        self.ping_sent = None;
        let mut events = Vec::new();
        let mut at = 0;
        let result = loop {
            match codec::decode(&self.incoming[at..]) {
                Ok(None) => break Ok(()),
                Err(e) => break Err(Fault::Protocol(e.to_string())),
                Ok(Some((packet, len))) => {
                    at += len;
                    if let Err(fault) = self.on_packet(packet, now, &mut events) {
                        break Err(fault);
                    }
                }
            }
        };
        self.incoming.drain(..at);
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
                if let Some(i) = self.inflight.iter().position(|f| f.pid == pid)
                    && self.inflight.remove(i).is_some_and(|f| f.data)
                {
                    self.published += 1;
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
            Packet::SubAck { .. } | Packet::PingResp => {}
            Packet::ConnAck { .. } => {
                return Err(Fault::Protocol("a second CONNACK".into()));
            }
        }
        Ok(())
    }

    fn pid(&mut self) -> u16 {
        loop {
            self.next_pid = self.next_pid.wrapping_add(1);
            let pid = self.next_pid;
            if pid != 0 && !self.inflight.iter().any(|f| f.pid == pid) {
                return pid;
            }
        }
    }

    fn write(&mut self, message: Message, data: bool, now: Instant) {
        let pid = if message.qos == QoS::AtLeastOnce {
            self.pid()
        } else {
            0
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
            self.inflight.push_back(InFlight { pid, message, data });
        } else if data {
            self.published += 1;
        }
    }

    /// Sends a control message (availability, discovery) at once, ahead of
    /// the queue. Only on a ready connection; the caller sends them again
    /// on each new one.
    pub fn send_control(&mut self, message: Message, now: Instant) {
        if self.is_ready() {
            self.write(message, false, now);
        }
    }

    pub fn subscribe(&mut self, filters: &[(&str, QoS)], now: Instant) {
        if self.is_ready() {
            let pid = self.pid();
            codec::subscribe(&mut self.outgoing, pid, filters);
            self.last_sent = now;
        }
    }

    /// Moves queued messages to the outgoing bytes, as far as the
    /// connection should take them now.
    pub fn pump(&mut self, now: Instant) {
        while self.is_ready() && self.outgoing.len() < OUTGOING_HIGH {
            let full = self.inflight.len() >= MAX_INFLIGHT;
            match self.queue.peek() {
                Some(m) if m.qos == QoS::AtLeastOnce && full => return,
                Some(_) => {}
                None => return,
            }
            if let Some(message) = self.queue.pop() {
                self.write(message, true, now);
            }
        }
    }

    /// A clean goodbye: the broker then does not send the will.
    pub fn disconnect(&mut self) {
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

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;

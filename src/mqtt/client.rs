//! The connection to the broker, driven: CONNECT with the meter's will,
//! reading within a budget, writing what the socket takes, failing and
//! reconnecting. What is published, and where, is [`super::meter`]'s.

use std::time::{Duration, Instant, SystemTime};

use log::{debug, info, warn};
use mio::Registry;
use mio::event::Event as Readiness;

use super::codec::{Connect, QoS, Will};
use super::config::{MqttConfig, read_password};
use super::link::Link;
use super::queue::Message;
use super::session::{self, Event, Fault, Session};
use super::topics::{OFFLINE, Topics};
use super::transport::{self, Received};
use crate::error::StartError;

/// Bytes of messages kept while the broker is away: some five minutes of
/// a DSMR 5 meter (a telegram and its state each second), an hour of a
/// DSMR 4 one. Past it the oldest go.
pub const QUEUE_LIMIT: usize = 1024 * 1024;

/// Bytes read from the broker per turn of the loop, at most: a broker
/// that never stops sending still leaves the meter and the raw clients
/// their turn, and memory its bound.
const READ_BUDGET: usize = 64 * 1024;

/// After shutdown: no new attempt before p1mux has exited.
const CLOSED_FOR: Duration = Duration::from_secs(3600);

/// One client of one broker, across connections.
pub struct Client {
    user: Option<String>,
    /// None without a user name (then no password is sent either).
    password: Option<Vec<u8>>,
    link: Link,
    session: Session,
    /// The id the current connection's will names; None: no will.
    will_for: Option<String>,
    /// Bytes read from the broker, reused.
    read_buf: Vec<u8>,
    /// The last read stopped at its budget: read again next turn.
    read_more: bool,
}

impl Client {
    /// Reads the password and CA files. Uses tokens `first_token` (the
    /// socket) and `first_token + 1` (the name lookup's waker); the first
    /// attempt is due at once ([`Client::on_time`]).
    pub fn new(
        config: &MqttConfig,
        registry: &Registry,
        first_token: usize,
        now: Instant,
    ) -> Result<Client, StartError> {
        let password = match &config.password_file {
            Some(path) => {
                let (password, warning) = read_password(path)?;
                if let Some(w) = warning {
                    warn!("{w}");
                }
                Some(password)
            }
            None => None,
        };
        let tls = match config.broker.tls {
            true => Some(transport::tls_config(config.ca.as_deref())?),
            false => None,
        };
        let link = Link::new(config.broker.clone(), tls, registry, first_token, now)?;
        Ok(Client {
            user: config.broker.user.clone(),
            password,
            link,
            session: Session::new(QUEUE_LIMIT, now),
            will_for: None,
            read_buf: Vec::new(),
            read_more: false,
        })
    }

    pub fn is_up(&self) -> bool {
        self.link.is_up()
    }

    /// CONNACK came: messages flow.
    pub fn is_ready(&self) -> bool {
        self.session.is_ready()
    }

    /// The meter the connection's will names.
    pub fn will_for(&self) -> Option<&str> {
        self.will_for.as_deref()
    }

    /// A data message, kept (bounded) until the broker takes it.
    pub fn queue(&mut self, message: Message) {
        self.session.queue.push(message);
    }

    /// A control message for this connection only (availability, discovery).
    pub fn control(&mut self, message: Message, now: Instant) {
        self.session.send_control(message, now);
    }

    pub fn subscribe(&mut self, topic: &str, now: Instant) {
        self.session.subscribe(&[(topic, QoS::AtMostOnce)], now);
    }

    /// Readiness on one of the client's tokens; returns what the broker
    /// said. `will`: the topics the will of a new connection names.
    pub fn on_event(
        &mut self,
        registry: &Registry,
        event: &Readiness,
        will: Option<&Topics>,
        now: Instant,
    ) -> Vec<Event> {
        if !self.link.is_up() {
            if self.link.on_event(registry, event.token(), now) {
                self.opened(registry, will, now);
            }
            return Vec::new();
        }
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            return self.read(registry, now);
        }
        Vec::new()
    }

    /// Bytes the last read left for the next turn.
    pub fn has_pending(&self) -> bool {
        self.read_more
    }

    pub fn on_pending(&mut self, registry: &Registry, now: Instant) -> Vec<Event> {
        self.read(registry, now)
    }

    pub fn due_at(&self) -> Option<Instant> {
        match (self.link.due_at(), self.session.due_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Connects when an attempt is due; keep-alive and timeouts.
    pub fn on_time(&mut self, registry: &Registry, will: Option<&Topics>, now: Instant) {
        if self.link.on_time(registry, now) {
            self.opened(registry, will, now);
        }
        if self.link.up_long_enough(now) {
            self.link.proven();
        }
        if let Err(fault) = self.session.on_time(now) {
            self.fault(registry, fault, now);
        }
    }

    /// The transport is up: CONNECT, with a will when the id is known.
    fn opened(&mut self, registry: &Registry, will: Option<&Topics>, now: Instant) {
        let id = will.map(|t| t.id.clone());
        let client_id = match &id {
            Some(id) => format!("p1mux-{id}"),
            // Unique among p1mux instances until the meter's id is known.
            None => format!("p1mux-{}-{:x}", std::process::id(), nanos()),
        };
        let connect = Connect {
            client_id: &client_id,
            keep_alive: session::KEEP_ALIVE.as_secs() as u16,
            clean_session: true,
            will: will.map(|t| Will {
                topic: &t.availability,
                payload: OFFLINE.as_bytes(),
                qos: QoS::AtLeastOnce,
                retain: true,
            }),
            username: self.user.as_deref(),
            password: self.password.as_deref(),
        };
        self.session.open(&connect, now);
        self.will_for = id;
        self.flush(registry, now);
    }

    /// Reads what the broker sent, within the budget, and hands on what
    /// the output acts on; the caller flushes after acting.
    fn read(&mut self, registry: &Registry, now: Instant) -> Vec<Event> {
        self.read_more = false;
        let Some(transport) = self.link.transport() else {
            return Vec::new();
        };
        self.read_buf.clear();
        let received = transport.read(&mut self.read_buf, READ_BUDGET);
        let mut events = match self.session.received(&self.read_buf, now) {
            Ok(events) => events,
            Err(fault) => {
                self.fault(registry, fault, now);
                return Vec::new();
            }
        };
        events.retain(|event| match event {
            Event::Accepted => {
                self.accepted(now);
                true
            }
            Event::Acknowledged => {
                self.link.proven();
                false
            }
            Event::Message { .. } => true,
        });
        match received {
            Ok(Received::Open) => {}
            Ok(Received::More) => self.read_more = true,
            Ok(Received::Closed) => self.fail(registry, "the broker closed the connection", now),
            Err(e) => self.fail(registry, &e.to_string(), now),
        }
        events
    }

    /// CONNACK accepted; said at info unless the broker flaps.
    fn accepted(&mut self, now: Instant) {
        let loud = self.link.established(now);
        let text = format!(
            "mqtt: connected to {}{}",
            self.link.broker,
            match self.session.queue.len() {
                0 => String::new(),
                n => format!(", sending {n} queued messages"),
            }
        );
        match loud {
            true => info!("{text}"),
            false => debug!("{text}"),
        }
    }

    /// The connection failed: the session keeps what is unacknowledged.
    fn fail(&mut self, registry: &Registry, why: &str, now: Instant) {
        self.session.closed();
        self.will_for = None;
        self.read_more = false;
        self.link.failed(registry, why, now);
    }

    fn fault(&mut self, registry: &Registry, fault: Fault, now: Instant) {
        let why = match &fault {
            Fault::Refused(4 | 5) => format!(
                "{fault}; check the user name in --mqtt and the password file, and the \
                 broker's ACL"
            ),
            _ => fault.to_string(),
        };
        self.fail(registry, &why, now);
    }

    /// Moves queued messages out and writes what the socket takes.
    pub fn flush(&mut self, registry: &Registry, now: Instant) {
        loop {
            self.session.pump(now);
            let Some(transport) = self.link.transport() else {
                return;
            };
            let pending = self.session.outgoing();
            if pending.is_empty() && !transport.wants_write() {
                break;
            }
            match transport.write(pending) {
                Ok(n) => {
                    let all = n == pending.len();
                    self.session.written(n);
                    if !all || transport.wants_write() {
                        break;
                    }
                }
                Err(e) => return self.fail(registry, &format!("writing: {e}"), now),
            }
        }
        let want = !self.session.outgoing().is_empty()
            || self.link.transport().is_some_and(|t| t.wants_write());
        if let Err(e) = self.link.want_write(registry, want) {
            self.fail(registry, &format!("watching the connection: {e}"), now);
        }
    }

    /// Ends the connection cleanly and connects again at once (a new will).
    pub fn reconnect(&mut self, registry: &Registry, now: Instant) {
        if self.session.is_ready() {
            self.session.disconnect(None, now);
        }
        let last = self.session.outgoing().to_vec();
        self.link.close(registry, &last, now, Duration::ZERO);
        self.session.closed();
        self.will_for = None;
        self.read_more = false;
    }

    /// Says goodbye with `last` (the meter offline) and closes for good.
    pub fn shutdown(&mut self, registry: &Registry, last: Option<Message>, now: Instant) -> String {
        let broker = &self.link.broker;
        if !self.session.is_ready() {
            let words = match self.queued() {
                0 => format!("not connected to {broker}"),
                n => format!("dropping {n} MQTT messages for {broker}"),
            };
            self.link.close(registry, &[], now, CLOSED_FOR);
            return words;
        }
        let words = format!("disconnecting from {broker}");
        self.session.disconnect(last, now);
        let last = self.session.outgoing().to_vec();
        self.link.close(registry, &last, now, CLOSED_FOR);
        words
    }

    /// Messages not yet acknowledged (QoS 1) or written (QoS 0).
    pub fn queued(&self) -> usize {
        self.session.queue.len() + self.session.inflight()
    }

    /// Data messages the broker has.
    pub fn published(&self) -> u64 {
        self.session.published
    }

    /// Data messages dropped from the full queue.
    pub fn dropped(&self) -> u64 {
        self.session.queue.dropped
    }

    pub fn state_words(&self) -> String {
        let broker = &self.link.broker;
        if self.session.is_ready() {
            format!("connected to {broker}")
        } else {
            match &self.link.last_error {
                Some(why) => format!("not connected to {broker} ({why})"),
                None => format!("connecting to {broker}"),
            }
        }
    }
}

/// Nanoseconds of the wall clock, to tell client ids apart.
fn nanos() -> u32 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

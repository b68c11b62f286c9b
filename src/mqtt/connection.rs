//! The MQTT output's side that faces the broker: CONNECT with the will,
//! what follows CONNACK, reading, writing, failing and reconnecting.

use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use log::{debug, info};
use mio::Registry;

use super::MqttOutput;
use crate::mqtt::codec::{Connect, QoS, Will};
use crate::mqtt::discovery::Discovery;
use crate::mqtt::queue::Message;
use crate::mqtt::session::{self, Fault};
use crate::mqtt::topics::{OFFLINE, ONLINE};
use crate::mqtt::transport::Received;

impl MqttOutput {
    pub(super) fn message(&self, topic: &Rc<str>, payload: Rc<[u8]>, retain: bool) -> Message {
        Message {
            topic: Rc::clone(topic),
            payload,
            qos: self.config.qos,
            retain,
            dup: false,
        }
    }

    /// The transport is up: CONNECT, with a will when the id is known.
    pub(super) fn opened(&mut self, registry: &Registry, now: Instant) {
        let id = self.topics.as_ref().map(|t| t.id.clone());
        let client_id = match &id {
            Some(id) => format!("p1mux-{id}"),
            // Unique among p1mux instances until the meter's id is known.
            None => format!("p1mux-{}-{:x}", std::process::id(), nanos()),
        };
        let will_topic = self.topics.as_ref().map(|t| Rc::clone(&t.availability));
        let connect = Connect {
            client_id: &client_id,
            keep_alive: session::KEEP_ALIVE.as_secs() as u16,
            clean_session: true,
            will: will_topic.as_deref().map(|topic| Will {
                topic,
                payload: OFFLINE.as_bytes(),
                qos: QoS::AtLeastOnce,
                retain: true,
            }),
            username: self.config.broker.user.as_deref(),
            password: self.password.as_deref(),
        };
        self.session.open(&connect, now);
        self.will_for = id;
        self.flush(registry, now);
    }

    /// CONNACK accepted: subscriptions, availability, discovery, then the queue.
    pub(super) fn accepted(&mut self, now: Instant) {
        self.link.established();
        info!(
            "mqtt: connected to {}{}",
            self.config.broker,
            match self.session.queue.len() {
                0 => String::new(),
                n => format!(", sending {n} queued messages"),
            }
        );
        if let Some(prefix) = &self.config.discovery {
            let status = format!("{prefix}/status");
            self.session.subscribe(&[(&status, QoS::AtMostOnce)], now);
        }
        if let Some(t) = &self.topics {
            let online = self.message(&t.availability, Rc::from(ONLINE.as_bytes()), true);
            self.session.send_control(online, now);
        }
        self.send_discovery(now);
    }

    pub(super) fn send_discovery(&mut self, now: Instant) {
        let (Some(prefix), Some(t)) = (&self.config.discovery, &self.topics) else {
            return;
        };
        if self.discovery.is_empty() || !self.session.is_ready() {
            return;
        }
        let topic: Rc<str> = Rc::from(Discovery::topic(prefix, &t.id));
        let qos = self.config.qos as u8;
        let payload = self
            .discovery
            .payload(&t.id, &t.state, &t.availability, qos);
        info!(
            "mqtt: announced the meter to Home Assistant: {} sensors at {topic}",
            self.discovery.len()
        );
        let message = self.message(&topic, Rc::from(payload.into_bytes()), true);
        self.session.send_control(message, now);
    }

    /// The connection failed: the session keeps what is unacknowledged.
    pub(super) fn fail(&mut self, registry: &Registry, fault: &str, now: Instant) {
        self.session.closed();
        self.will_for = None;
        self.link.failed(registry, fault, now);
    }

    pub(super) fn fault(&mut self, registry: &Registry, fault: Fault, now: Instant) {
        let why = match &fault {
            Fault::Refused(4 | 5) => format!(
                "{fault}; check the user name in --mqtt and the password file, and the \
                 broker's ACL"
            ),
            _ => fault.to_string(),
        };
        self.fail(registry, &why, now);
    }

    /// Reads what the broker sent and acts on it.
    pub(super) fn read(&mut self, registry: &Registry, now: Instant) {
        let Some(transport) = self.link.transport() else {
            return;
        };
        self.read_buf.clear();
        let received = transport.read(&mut self.read_buf);
        let bytes = std::mem::take(&mut self.read_buf);
        let events = self.session.received(&bytes, now);
        self.read_buf = bytes;
        match events {
            Err(fault) => return self.fault(registry, fault, now),
            Ok(events) => {
                for event in events {
                    match event {
                        session::Event::Accepted => self.accepted(now),
                        session::Event::Message {
                            topic,
                            payload,
                            retain,
                        } => {
                            self.on_message(&topic, &payload, retain, now);
                        }
                    }
                }
            }
        }
        match received {
            Ok(Received::Open) => self.flush(registry, now),
            Ok(Received::Closed) => self.fail(registry, "the broker closed the connection", now),
            Err(e) => self.fail(registry, &e.to_string(), now),
        }
    }

    pub(super) fn on_message(&mut self, topic: &str, payload: &[u8], retain: bool, now: Instant) {
        let Some(prefix) = &self.config.discovery else {
            return;
        };
        // A retained "online" is stale news: discovery went out on connect.
        if topic.strip_prefix(prefix.as_str()) == Some("/status")
            && payload == ONLINE.as_bytes()
            && !retain
        {
            debug!("mqtt: Home Assistant came online: announcing the meter again");
            self.send_discovery(now);
        }
    }

    /// Moves queued messages out and writes what the socket takes.
    pub(super) fn flush(&mut self, registry: &Registry, now: Instant) {
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

    /// Ends the connection cleanly and connects again at once.
    pub(super) fn reconnect(&mut self, registry: &Registry, now: Instant) {
        if self.session.is_ready() {
            self.session.disconnect();
        }
        let last = self.session.outgoing().to_vec();
        self.link.close(registry, &last, now, Duration::ZERO);
        self.session.closed();
        self.will_for = None;
    }
}

/// Nanoseconds of the wall clock, to tell client ids apart.
fn nanos() -> u32 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

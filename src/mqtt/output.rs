//! The MQTT publisher as one of the gateway's outputs: telegrams in, the
//! [`Session`] and [`Link`] driven, nothing ever waited for.

use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use log::{info, warn};
use mio::Registry;
use mio::event::Event;

use super::config::MqttConfig;
use super::discovery::Discovery;
use super::link::Link;
use super::session::Session;
use super::topics::{self, OFFLINE, ONLINE, Topics};
use super::transport;
use crate::error::StartError;
use crate::health::OutputStatus;
use crate::output::{Context, Delivery, Output, Telegram};

#[path = "connection.rs"]
mod connection;

/// Bytes of messages kept while the broker is away: some five minutes of
/// a DSMR 5 meter (a telegram and its state each second), an hour of a
/// DSMR 4 one. Past it the oldest go.
pub const QUEUE_LIMIT: usize = 1024 * 1024;

/// A new meter id needs this many telegrams more before the connection is
/// renewed for its will.
const SETTLED: u32 = 2;

/// After shutdown: no new attempt before p1mux has exited.
const CLOSED_FOR: Duration = Duration::from_secs(3600);

/// Publishes telegrams and their values to one broker.
pub struct MqttOutput {
    config: MqttConfig,
    /// None without a user name (then no password is sent either).
    password: Option<Vec<u8>>,
    link: Link,
    session: Session,
    /// The meter's topics, once its id is known.
    topics: Option<Topics>,
    /// The id the current connection's will names; None: no will.
    will_for: Option<String>,
    discovery: Discovery,
    /// When the last telegram was published, for `--mqtt-interval`.
    last_publish: Option<Instant>,
    /// The meter has no id and none was given: said once.
    no_id_logged: bool,
    /// Telegrams in a row from the same meter, since its id changed.
    same_id: u32,
    /// Bytes read from the broker, reused.
    read_buf: Vec<u8>,
}

impl MqttOutput {
    /// Reads the password and CA files and starts connecting. Uses tokens
    /// `first_token` (the socket) and `first_token + 1` (the name lookup's waker).
    pub fn new(
        config: MqttConfig,
        registry: &Registry,
        first_token: usize,
        now: Instant,
    ) -> Result<MqttOutput, StartError> {
        let password = match config.password()? {
            Some((password, warning)) => {
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
        let topics = config
            .id
            .as_deref()
            .map(|id| Topics::new(&config.prefix, id));
        info!(
            "mqtt: publishing to {}{} under {}/{}",
            config.broker,
            config
                .broker
                .user
                .as_deref()
                .map(|u| format!(" as {u}"))
                .unwrap_or_default(),
            config.prefix,
            config.id.as_deref().unwrap_or("<meter id>")
        );
        let mut output = MqttOutput {
            config,
            password,
            link,
            session: Session::new(QUEUE_LIMIT, now),
            topics,
            will_for: None,
            discovery: Discovery::default(),
            last_publish: None,
            no_id_logged: false,
            same_id: 0,
            read_buf: Vec::new(),
        };
        if output.link.on_time(registry, now) {
            output.opened(registry, now);
        }
        Ok(output)
    }

    /// The meter's id from this reading, or the configured one.
    fn meter_id(&mut self, telegram: &Telegram) -> Option<String> {
        if let Some(id) = &self.config.id {
            return Some(id.clone());
        }
        let id = telegram.reading().and_then(|r| r.default_id());
        if id.is_none() && !self.no_id_logged {
            warn!(
                "mqtt: the meter sends no equipment id to name its topics after: give --mqtt-id ID"
            );
            self.no_id_logged = true;
        }
        id
    }

    fn publish(&mut self, registry: &Registry, telegram: &Telegram, now: Instant) {
        let Some(reading) = telegram.reading() else {
            return;
        };
        if self.config.interval > Duration::ZERO
            && self
                .last_publish
                .is_some_and(|at| telegram.at < at + self.config.interval)
        {
            return;
        }
        let Some(id) = self.meter_id(telegram) else {
            return;
        };
        if self.topics.as_ref().is_none_or(|t| t.id != id) {
            self.new_meter(&id, now);
            self.same_id = 0;
        } else {
            self.same_id = self.same_id.saturating_add(1);
        }
        // The will must name the meter: the first id gets one at once, a
        // new meter once it has stayed (a meter swap, not a demo's round).
        let settled = self.will_for.is_none() || self.same_id >= SETTLED;
        if self.link.is_up() && self.will_for.as_deref() != Some(&id) && settled {
            info!(
                "mqtt: the meter is {id}: reconnecting with a last will for {}/{id}/availability",
                self.config.prefix
            );
            self.reconnect(registry, now);
        }
        self.last_publish = Some(telegram.at);
        let Some(t) = &self.topics else {
            return;
        };
        let state = topics::state(&reading, SystemTime::now());
        let raw = self.message(&t.telegram, Rc::clone(&telegram.bytes), false);
        let state = self.message(&t.state, Rc::from(state.into_bytes()), true);
        self.session.queue.push(raw);
        self.session.queue.push(state);
        if self.config.discovery.is_some() && self.discovery.learn(&reading) {
            self.send_discovery(now);
        }
        self.flush(registry, now);
    }

    /// The first telegram named the meter (or another meter is connected):
    /// new topics, and a connection whose will names the right topic.
    fn new_meter(&mut self, id: &str, now: Instant) {
        if let Some(old) = &self.topics {
            info!("mqtt: the meter is now {id} (was {})", old.id);
            let offline = self.message(&old.availability, Rc::from(OFFLINE.as_bytes()), true);
            self.session.send_control(offline, now);
        }
        let topics = Topics::new(&self.config.prefix, id);
        if self.will_for.is_some() {
            let online = self.message(&topics.availability, Rc::from(ONLINE.as_bytes()), true);
            self.session.send_control(online, now);
        }
        self.topics = Some(topics);
        self.discovery = Discovery::default();
    }

    fn state_words(&self) -> String {
        if self.session.is_ready() {
            format!("connected to {}", self.config.broker)
        } else {
            match &self.link.last_error {
                Some(why) => format!("not connected to {} ({why})", self.config.broker),
                None => format!("connecting to {}", self.config.broker),
            }
        }
    }
}

impl Output for MqttOutput {
    fn deliver(&mut self, cx: &Context, delivery: Delivery<'_>) {
        // Only valid telegrams have values to publish.
        if let Delivery::Telegram(telegram) = delivery {
            self.publish(cx.registry, telegram, cx.now);
        }
    }

    fn on_event(&mut self, cx: &Context, event: &Event) {
        if self.link.is_up() {
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                self.read(cx.registry, cx.now);
            }
            if event.is_writable() {
                self.flush(cx.registry, cx.now);
            }
        } else if self.link.on_event(cx.registry, event.token(), cx.now) {
            self.opened(cx.registry, cx.now);
        }
    }

    fn due_at(&self) -> Option<Instant> {
        match (self.link.due_at(), self.session.due_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_time(&mut self, cx: &Context) {
        if self.link.on_time(cx.registry, cx.now) {
            self.opened(cx.registry, cx.now);
        }
        if let Err(fault) = self.session.on_time(cx.now) {
            return self.fault(cx.registry, fault, cx.now);
        }
        self.flush(cx.registry, cx.now);
    }

    fn shutdown(&mut self, cx: &Context) -> String {
        let queued = self.session.queue.len() + self.session.inflight();
        if !self.session.is_ready() {
            self.link.close(cx.registry, &[], cx.now, CLOSED_FOR);
            return match queued {
                0 => format!("not connected to {}", self.config.broker),
                n => format!("dropping {n} MQTT messages for {}", self.config.broker),
            };
        }
        if let Some(t) = &self.topics {
            let offline = self.message(&t.availability, Rc::from(OFFLINE.as_bytes()), true);
            self.session.send_control(offline, cx.now);
        }
        self.session.disconnect();
        let last = self.session.outgoing().to_vec();
        self.link.close(cx.registry, &last, cx.now, CLOSED_FOR);
        format!("disconnecting from {}", self.config.broker)
    }

    fn summary(&self) -> String {
        format!(
            "mqtt: {}, published {}, queued {}, dropped {}",
            self.state_words(),
            self.session.published,
            self.session.queue.len() + self.session.inflight(),
            self.session.queue.dropped
        )
    }

    fn status(&self) -> OutputStatus {
        OutputStatus {
            name: "mqtt",
            clients: usize::from(self.session.is_ready()),
            dropped: self.session.queue.dropped,
            state: self.state_words(),
        }
    }
}

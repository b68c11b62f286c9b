//! The meter as MQTT shows it: its id and topics, what each telegram
//! publishes there, its availability, and Home Assistant's discovery
//! config. Pure: messages out, no connection (that is [`super::client`]).
//!
//! Discovery goes out on every new connection, and again when the meter
//! shows a new value or Home Assistant says it came online; those requests
//! are coalesced and answered at most once per [`ANNOUNCE_EVERY`]: anyone
//! who may publish to the status topic can send "online" a million times,
//! and p1mux announces the meter a few times.

use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use log::{debug, info, warn};

use super::codec::QoS;
use super::config::MqttConfig;
use super::discovery::Discovery;
use super::queue::Message;
use super::topics::{self, OFFLINE, ONLINE, Topics};
use crate::output::Telegram;

/// Discovery is sent again at most this often.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(5);

/// A new meter id needs this many telegrams more before the connection is
/// renewed for its will.
const SETTLED: u32 = 2;

/// What one telegram gives to publish.
pub struct Update {
    /// The telegram and its values, for the queue.
    pub data: [Message; 2],
    /// Availability to send at once: the old meter offline, the new one
    /// online, when the meter changed.
    pub control: Vec<Message>,
    /// The connection's will names another meter (or none), and this one
    /// has stayed: renew the connection for a will that names it.
    pub renew_will: bool,
}

/// One meter's identity and topics.
pub struct Meter {
    prefix: String,
    /// `--mqtt-id`, else the meter's own equipment id.
    given_id: Option<String>,
    /// Home Assistant's discovery prefix, when discovery is on.
    discovery_prefix: Option<String>,
    qos: QoS,
    /// `--mqtt-interval`.
    interval: Duration,
    /// The meter's topics, once its id is known.
    topics: Option<Topics>,
    discovery: Discovery,
    /// An announcement was asked for and has not gone out yet.
    announce_wanted: bool,
    announced_at: Option<Instant>,
    /// This config was announced at info; the same again is said at debug.
    announcement_said: bool,
    /// When the last telegram was published, for `--mqtt-interval`.
    last_publish: Option<Instant>,
    /// The meter has no id and none was given: said once.
    no_id_logged: bool,
    /// Telegrams in a row from the same meter, since its id changed.
    same_id: u32,
}

impl Meter {
    pub fn new(config: &MqttConfig) -> Meter {
        Meter {
            prefix: config.prefix.clone(),
            given_id: config.id.clone(),
            discovery_prefix: config.discovery.clone(),
            qos: config.qos,
            interval: config.interval,
            topics: config
                .id
                .as_deref()
                .map(|id| Topics::new(&config.prefix, id)),
            discovery: Discovery::default(),
            announce_wanted: false,
            announced_at: None,
            announcement_said: false,
            last_publish: None,
            no_id_logged: false,
            same_id: 0,
        }
    }

    /// The meter's topics, once its id is known: the will names them.
    pub fn topics(&self) -> Option<&Topics> {
        self.topics.as_ref()
    }

    fn message(&self, topic: &Rc<str>, payload: Rc<[u8]>, retain: bool) -> Message {
        Message {
            topic: Rc::clone(topic),
            payload,
            qos: self.qos,
            retain,
            dup: false,
        }
    }

    /// The meter's availability (`online`, `offline`), retained.
    pub fn availability(&self, state: &str) -> Option<Message> {
        let t = self.topics.as_ref()?;
        Some(self.message(&t.availability, Rc::from(state.as_bytes()), true))
    }

    /// The topic where Home Assistant says it came online, to subscribe to.
    pub fn status_topic(&self) -> Option<String> {
        Some(format!("{}/status", self.discovery_prefix.as_ref()?))
    }

    /// The meter's id from this reading, or the configured one.
    fn id(&mut self, telegram: &Telegram) -> Option<String> {
        if let Some(id) = &self.given_id {
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

    /// What a valid telegram publishes, unless `--mqtt-interval` skips it
    /// or the meter has no id. `will_for`: the meter the connection's will
    /// names, if any.
    pub fn telegram(&mut self, telegram: &Telegram, will_for: Option<&str>) -> Option<Update> {
        let reading = telegram.reading()?;
        if self.interval > Duration::ZERO
            && self
                .last_publish
                .is_some_and(|at| telegram.at < at + self.interval)
        {
            return None;
        }
        let id = self.id(telegram)?;
        let mut control = Vec::new();
        if self.topics.as_ref().is_none_or(|t| t.id != id) {
            control = self.new_meter(&id, will_for.is_some());
            self.same_id = 0;
        } else {
            self.same_id = self.same_id.saturating_add(1);
        }
        // The will must name the meter: the first id gets one at once, a
        // new meter once it has stayed (a meter swap, not a demo's round).
        let settled = will_for.is_none() || self.same_id >= SETTLED;
        let renew_will = will_for != Some(id.as_str()) && settled;
        self.last_publish = Some(telegram.at);
        let t = self.topics.as_ref()?;
        let state = topics::state(&telegram.state_json()?, SystemTime::now());
        let raw = self.message(&t.telegram, Rc::clone(&telegram.bytes), false);
        let state = self.message(&t.state, Rc::from(state.into_bytes()), true);
        if self.discovery_prefix.is_some() && self.discovery.learn(&reading) {
            self.announce_wanted = true;
            self.announcement_said = false;
        }
        Some(Update {
            data: [raw, state],
            control,
            renew_will,
        })
    }

    /// The first telegram named the meter (or another meter is connected):
    /// new topics, and the availability that says so.
    fn new_meter(&mut self, id: &str, has_will: bool) -> Vec<Message> {
        let mut control = Vec::new();
        if let Some(old) = &self.topics {
            info!("mqtt: the meter is now {id} (was {})", old.id);
            control.extend(self.availability(OFFLINE));
        }
        self.topics = Some(Topics::new(&self.prefix, id));
        if has_will {
            control.extend(self.availability(ONLINE));
        }
        self.discovery = Discovery::default();
        control
    }

    /// A message on a subscribed topic: Home Assistant's "online" asks for
    /// the config again. A retained one is stale news: discovery went out
    /// on connect.
    pub fn on_message(&mut self, topic: &str, payload: &[u8], retain: bool) {
        let Some(prefix) = &self.discovery_prefix else {
            return;
        };
        if topic.strip_prefix(prefix.as_str()) == Some("/status")
            && payload == ONLINE.as_bytes()
            && !retain
            && !self.announce_wanted
        {
            debug!("mqtt: Home Assistant came online: announcing the meter again");
            self.announce_wanted = true;
        }
    }

    /// When a wanted announcement may go out, if one is wanted.
    pub fn announce_due(&self) -> Option<Instant> {
        match (self.announce_wanted, self.announced_at) {
            (true, Some(at)) => Some(at + ANNOUNCE_EVERY),
            _ => None,
        }
    }

    /// The discovery config to send now: on a `fresh` connection always,
    /// otherwise when one is wanted and the last is [`ANNOUNCE_EVERY`] ago.
    pub fn announcement(&mut self, now: Instant, fresh: bool) -> Option<Message> {
        if !fresh
            && (!self.announce_wanted
                || self
                    .announced_at
                    .is_some_and(|at| now < at + ANNOUNCE_EVERY))
        {
            return None;
        }
        self.announce_wanted = false;
        let (Some(prefix), Some(t)) = (&self.discovery_prefix, &self.topics) else {
            return None;
        };
        if self.discovery.is_empty() {
            return None;
        }
        self.announced_at = Some(now);
        let topic: Rc<str> = Rc::from(Discovery::topic(prefix, &t.id));
        let qos = self.qos as u8;
        let payload = self
            .discovery
            .payload(&t.id, &t.state, &t.availability, qos);
        let text = format!(
            "mqtt: announced the meter to Home Assistant: {} sensors at {topic}",
            self.discovery.len()
        );
        match std::mem::replace(&mut self.announcement_said, true) {
            false => info!("{text}"),
            true => debug!("{text}"),
        }
        Some(self.message(&topic, Rc::from(payload.into_bytes()), true))
    }
}

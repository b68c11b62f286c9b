//! The MQTT publisher as one of the gateway's outputs: the [`Meter`] says
//! what to publish, the [`Client`] gets it to the broker; nothing is ever
//! waited for.

use std::time::Instant;

use log::info;
use mio::Registry;
use mio::event::Event as Readiness;

use super::client::Client;
use super::config::MqttConfig;
use super::meter::Meter;
use super::session::Event;
use super::topics::{OFFLINE, ONLINE};
use crate::error::StartError;
use crate::health::OutputStatus;
use crate::output::{Context, Delivery, Output, Telegram};

/// Publishes telegrams and their values to one broker.
pub struct MqttOutput {
    meter: Meter,
    client: Client,
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
        let client = Client::new(&config, registry, first_token, now)?;
        info!(
            "mqtt: publishing to {} under {}/{}",
            config.broker.with_user(),
            config.prefix,
            config.id.as_deref().unwrap_or("<meter id>")
        );
        let mut output = MqttOutput {
            meter: Meter::new(&config),
            client,
        };
        output.client.on_time(registry, output.meter.topics(), now);
        Ok(output)
    }

    fn publish(&mut self, registry: &Registry, telegram: &Telegram, now: Instant) {
        let Some(update) = self.meter.telegram(telegram, self.client.will_for()) else {
            return;
        };
        for message in update.control {
            self.client.control(message, now);
        }
        if update.renew_will
            && self.client.is_up()
            && let Some(t) = self.meter.topics()
        {
            info!(
                "mqtt: the meter is {}: reconnecting with a last will for {}",
                t.id, t.availability
            );
            self.client.reconnect(registry, now);
        }
        for message in update.data {
            self.client.queue(message);
        }
        self.announce(now, false);
        self.client.flush(registry, now);
    }

    /// Sends the discovery config when it is due (`fresh`: a new connection).
    fn announce(&mut self, now: Instant, fresh: bool) {
        if self.client.is_ready()
            && let Some(message) = self.meter.announcement(now, fresh)
        {
            self.client.control(message, now);
        }
    }

    /// Acts on what the broker said, then writes what that gave.
    fn handle(&mut self, registry: &Registry, events: Vec<Event>, now: Instant) {
        for event in events {
            match event {
                // Accepted, and the connection still there: subscriptions,
                // availability and discovery go ahead of the queue.
                Event::Accepted if self.client.is_ready() => {
                    if let Some(status) = self.meter.status_topic() {
                        self.client.subscribe(&status, now);
                    }
                    if let Some(online) = self.meter.availability(ONLINE) {
                        self.client.control(online, now);
                    }
                    self.announce(now, true);
                }
                Event::Message {
                    topic,
                    payload,
                    retain,
                } => {
                    self.meter.on_message(&topic, &payload, retain);
                    self.announce(now, false);
                }
                Event::Accepted | Event::Acknowledged => {}
            }
        }
        self.client.flush(registry, now);
    }
}

impl Output for MqttOutput {
    fn deliver(&mut self, cx: &Context, delivery: Delivery<'_>) {
        // Only valid telegrams have values to publish.
        if let Delivery::Telegram(telegram) = delivery {
            self.publish(cx.registry, telegram, cx.now);
        }
    }

    fn on_event(&mut self, cx: &Context, event: &Readiness) {
        let events = self
            .client
            .on_event(cx.registry, event, self.meter.topics(), cx.now);
        self.handle(cx.registry, events, cx.now);
    }

    fn has_pending(&self) -> bool {
        self.client.has_pending()
    }

    fn on_pending(&mut self, cx: &Context) {
        let events = self.client.on_pending(cx.registry, cx.now);
        self.handle(cx.registry, events, cx.now);
    }

    fn due_at(&self) -> Option<Instant> {
        let announce = self.meter.announce_due().filter(|_| self.client.is_ready());
        match (self.client.due_at(), announce) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_time(&mut self, cx: &Context) {
        self.client
            .on_time(cx.registry, self.meter.topics(), cx.now);
        self.announce(cx.now, false);
        self.client.flush(cx.registry, cx.now);
    }

    fn shutdown(&mut self, cx: &Context) -> String {
        let offline = self.meter.availability(OFFLINE);
        self.client.shutdown(cx.registry, offline, cx.now)
    }

    fn summary(&self) -> String {
        format!(
            "mqtt: {}, published {}, queued {}, dropped {}",
            self.client.state_words(),
            self.client.published(),
            self.client.queued(),
            self.client.dropped()
        )
    }

    fn status(&self) -> OutputStatus {
        OutputStatus {
            name: "mqtt",
            clients: usize::from(self.client.is_ready()),
            dropped: self.client.dropped(),
            state: self.client.state_words(),
        }
    }
}

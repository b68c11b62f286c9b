//! Getting a connection to the broker and keeping one: a connect that
//! never blocks the loop ([`crate::net::connect`]), TLS on top, and retries
//! with backoff (1 s doubling to 60 s) when the broker is away or refuses.
//!
//! One warning per outage: the first failure is logged at warn, the
//! retries at debug, until a connection has proved itself: the broker
//! acknowledged a message or a PINGREQ, or it stayed up for
//! [`PROVEN_AFTER`]. A CONNACK alone proves nothing: a broker that accepts
//! and drops at once (or sends garbage) is retried with a growing backoff,
//! not once a second.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, warn};
use mio::{Interest, Registry, Token};
use rustls::ClientConfig;

use super::config::Broker;
use super::transport::Transport;
use crate::error::StartError;
use crate::net::connect::{Connector, Outcome};
use crate::outage::{BROKER_BACKOFF, Outage};

/// A connection up this long ends its outage even without an answer.
pub const PROVEN_AFTER: Duration = Duration::from_secs(60);
/// The connection to the broker, or the wait for one.
pub struct Link {
    pub broker: Broker,
    tls: Option<Arc<ClientConfig>>,
    /// The attempt under way, if any; its token is the transport's.
    connector: Connector,
    transport: Option<Transport>,
    /// When the next attempt is due, while neither up nor trying, and
    /// whether this outage was warned about.
    outage: Outage,
    /// Whether write interest is registered, while up.
    writable: bool,
    /// When the broker accepted this connection (CONNACK), while up.
    accepted_at: Option<Instant>,
    /// "connected" was said at info since the last warning: a broker that
    /// flaps is not announced again each time.
    said_connected: bool,
    /// Why the last attempt failed, for status and the stats line.
    pub last_error: Option<String>,
}

impl Link {
    /// Uses `first_token` for the socket and the next one for the waker.
    /// The first attempt is due at once.
    pub fn new(
        broker: Broker,
        tls: Option<Arc<ClientConfig>>,
        registry: &Registry,
        first_token: usize,
        now: Instant,
    ) -> Result<Link, StartError> {
        let connector = Connector::new(registry, first_token, "mqtt-resolve", "mqtt: ")?;
        Ok(Link {
            broker,
            tls,
            connector,
            transport: None,
            outage: Outage::with_backoff(now, BROKER_BACKOFF),
            writable: false,
            accepted_at: None,
            said_connected: false,
            last_error: None,
        })
    }

    pub fn is_up(&self) -> bool {
        self.transport.is_some()
    }

    pub fn transport(&mut self) -> Option<&mut Transport> {
        self.transport.as_mut()
    }

    pub fn due_at(&self) -> Option<Instant> {
        if self.waiting() {
            Some(self.outage.retry_at())
        } else {
            self.connector.due_at()
        }
    }

    /// Neither up nor trying: the next attempt is due at `retry_at`.
    fn waiting(&self) -> bool {
        self.transport.is_none() && self.connector.is_idle()
    }

    /// Starts an attempt when one is due; gives up a connect that hangs.
    /// True when the transport just came up.
    pub fn on_time(&mut self, registry: &Registry, now: Instant) -> bool {
        let outcome = if self.waiting() && now >= self.outage.retry_at() {
            let (host, port) = (&self.broker.host, self.broker.port);
            self.connector.start(registry, host, port, now)
        } else {
            self.connector.on_time(registry, now)
        };
        self.settle(registry, outcome, now)
    }

    /// Readiness on the socket while connecting, or the waker. True when
    /// the transport just came up.
    pub fn on_event(&mut self, registry: &Registry, token: Token, now: Instant) -> bool {
        let outcome = self.connector.on_ready(registry, token, now);
        self.settle(registry, outcome, now)
    }

    /// Puts TLS (if any) on a new connection. True when the transport is up.
    fn settle(&mut self, registry: &Registry, outcome: Outcome, now: Instant) -> bool {
        let (stream, peer) = match outcome {
            Outcome::Pending => return false,
            Outcome::Failed(why) => {
                self.failed(registry, &why, now);
                return false;
            }
            Outcome::Connected(stream, peer) => (stream, peer),
        };
        let _ = stream.set_nodelay(true);
        let tls = self.tls.as_ref().map(|c| (c, self.broker.host.as_str()));
        match Transport::new(stream, tls) {
            Ok(transport) => {
                debug!(
                    "mqtt: connected to {} ({peer}), sending CONNECT",
                    self.broker
                );
                self.transport = Some(transport);
                self.writable = true;
                true
            }
            Err(why) => {
                self.failed(registry, &why, now);
                false
            }
        }
    }

    /// The attempt or the connection failed: drops it, logs the first
    /// failure of an outage at warn, and schedules the next attempt.
    pub fn failed(&mut self, registry: &Registry, why: &str, now: Instant) {
        let was_accepted = self.accepted_at.is_some();
        // The handshake failing for no reason TLS gives (reset, closed, no
        // answer) is what a plain MQTT port does to a TLS client.
        let tls_hint = self.transport.as_ref().is_some_and(|t| t.is_handshaking())
            && !why.contains("certificate");
        self.drop_connection(registry);
        let mut message = format!("mqtt: {}: {why}", self.broker);
        if tls_hint {
            message.push_str(
                ", before TLS was set up: the broker may not speak TLS on this port \
                 (mqtts:// needs its TLS port, often 8883; a plain MQTT port, often 1883, \
                 needs mqtt://)",
            );
        }
        if !self.outage.first_failure() {
            debug!("{message}");
        } else if was_accepted {
            self.said_connected = false;
            warn!("{message}; reconnecting, and keeping the newest telegrams meanwhile");
        } else {
            self.said_connected = false;
            warn!(
                "{message}; retrying every {}s at most, telegrams keep flowing to the TCP clients",
                BROKER_BACKOFF.max.as_secs()
            );
        }
        self.last_error = Some(why.to_string());
        self.outage.back_off(now);
    }

    /// The broker accepted the connection (CONNACK); true when that is
    /// news worth saying at info (the first since a warning).
    pub fn established(&mut self, now: Instant) -> bool {
        self.accepted_at = Some(now);
        self.last_error = None;
        !std::mem::replace(&mut self.said_connected, true)
    }

    /// The connection works (the broker answered, or it stayed up long
    /// enough): a later failure is a new outage, from the first backoff.
    pub fn proven(&mut self) {
        if self.accepted_at.is_some() {
            self.outage.ended();
        }
    }

    /// Whether the accepted connection has been up for [`PROVEN_AFTER`].
    pub fn up_long_enough(&self, now: Instant) -> bool {
        self.accepted_at.is_some_and(|at| now >= at + PROVEN_AFTER)
    }

    /// Closes on purpose (a new will, shutdown) and tries again after `delay`.
    pub fn close(&mut self, registry: &Registry, last: &[u8], now: Instant, delay: Duration) {
        if let Some(t) = self.transport() {
            t.close(last);
        }
        self.drop_connection(registry);
        self.outage.retry_after(now, delay);
    }

    fn drop_connection(&mut self, registry: &Registry) {
        self.connector.cancel(registry);
        self.accepted_at = None;
        if let Some(mut t) = self.transport.take() {
            let _ = registry.deregister(t.stream());
        }
    }

    /// Registers write interest only while there is something to write.
    pub fn want_write(&mut self, registry: &Registry, want: bool) -> io::Result<()> {
        let token = self.connector.token();
        let Some(t) = &mut self.transport else {
            return Ok(());
        };
        if want == self.writable {
            return Ok(());
        }
        let interest = if want {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        registry.reregister(t.stream(), token, interest)?;
        self.writable = want;
        Ok(())
    }
}

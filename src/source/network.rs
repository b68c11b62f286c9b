//! A meter on the network: `--device tcp://HOST:PORT` reads an ESP dongle,
//! esp-link, ser2net or another p1mux instead of a serial port.
//!
//! Many ESP dongles serve one client only; p1mux holds that one connection
//! and serves everyone else. The source gets the serial port's treatment:
//! a lost or refused connection never costs the clients theirs, it is logged
//! once and retried with backoff. Nothing is ever written to the source.

use std::io;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::{AfterSilence, Change, Input, Read, read_once};
use crate::cli::NetSource;
use crate::encrypted::describe_meter;
use crate::error::StartError;
use crate::framer::{Event, Parity, Telegram};
use crate::health::{Quiet, SourceStatus};
use crate::net::connect::{Connector, Outcome};
use crate::net::keepalive;
use crate::outage::Outage;
use crate::pipeline::Seen;
use crate::telegram::{generation, header};

/// The network side of the gateway: a connection to the source, or the
/// wait for one.
pub struct NetInput {
    source: NetSource,
    /// The attempt under way, if any; its token is the connection's.
    connector: Connector,
    stream: Option<TcpStream>,
    /// When to try again while away, and what to log.
    outage: Outage,
    /// The meter its first telegram showed, for the status page.
    meter: Option<String>,
    /// What is wrong, since the last silence warning.
    diagnosis: Option<String>,
}

impl NetInput {
    /// The first telegram since the source came up, for the log.
    fn announce(&mut self, telegram: &Telegram<'_>) -> String {
        let meter = format!(
            "{} meter {}",
            generation(telegram.bytes, telegram.crc),
            header(telegram.bytes)
        );
        self.meter = Some(meter.clone());
        format!(
            "receiving from {}: {meter}{}",
            self.source,
            if telegram.parity_in_bit7 {
                "; the source reads a 7E1 meter as 8N1 (parity in bit 7): \
                 p1mux checks that parity and strips it"
            } else {
                ""
            }
        )
    }

    /// Uses tokens `first_token` (the connection) and `first_token + 1`
    /// (the waker of name lookups). The first attempt is due at once.
    pub fn new(
        source: NetSource,
        registry: &Registry,
        first_token: usize,
        now: Instant,
    ) -> Result<NetInput, StartError> {
        let connector = Connector::new(registry, first_token, "resolve", "")?;
        info!("reading the meter from {source}");
        Ok(NetInput {
            source,
            connector,
            stream: None,
            outage: Outage::new(now),
            meter: None,
            diagnosis: None,
        })
    }

    /// Neither connected nor trying: the next attempt is due at `retry_at`.
    fn waiting(&self) -> bool {
        self.stream.is_none() && self.connector.is_idle()
    }

    /// Acts on the clock: starts an attempt when one is due, gives up a
    /// connect that took too long. Returns true when the connection is up.
    fn attempt(&mut self, registry: &Registry, now: Instant) -> bool {
        let outcome = if self.waiting() && now >= self.outage.retry_at() {
            let (host, port) = (&self.source.host, self.source.port);
            self.connector.start(registry, host, port, now)
        } else {
            self.connector.on_time(registry, now)
        };
        self.settle(registry, outcome, now)
    }

    /// Acts on what the attempt came to. Returns true when the connection
    /// just came up.
    fn settle(&mut self, registry: &Registry, outcome: Outcome, now: Instant) -> bool {
        let (mut stream, peer) = match outcome {
            Outcome::Pending => return false,
            Outcome::Failed(why) => {
                self.failed(&why, now);
                return false;
            }
            Outcome::Connected(stream, peer) => (stream, peer),
        };
        // Only reading from now on: nothing is ever sent to the source.
        let token = self.connector.token();
        if let Err(e) = registry.reregister(&mut stream, token, Interest::READABLE) {
            let _ = registry.deregister(&mut stream);
            self.failed(&format!("watching the connection: {e}"), now);
            return false;
        }
        // A dongle that loses power never sends a FIN.
        if let Err(e) = keepalive(&stream) {
            debug!("{}: setting keepalive: {e}", self.source);
        }
        info!("connected to {} ({peer})", self.source);
        self.stream = Some(stream);
        self.outage.ended();
        true
    }

    /// An attempt failed: logs the first failure of an outage at warn and
    /// schedules the next attempt.
    fn failed(&mut self, why: &str, now: Instant) {
        self.outage.failed(&format!("{}: {why}", self.source), now);
    }

    /// Drops the connection (or attempt) and schedules a new one after `delay`.
    fn close(&mut self, registry: &Registry, now: Instant, delay: Duration) {
        self.connector.cancel(registry);
        if let Some(mut stream) = self.stream.take() {
            let _ = registry.deregister(&mut stream);
        }
        self.outage.retry_after(now, delay);
    }
}

impl Input for NetInput {
    fn parity(&self) -> Parity {
        // Even: a source that reads a 7E1 meter as 8N1 delivers the parity
        // in bit 7, which the framer then checks and strips; 7-bit bytes
        // pass unchanged.
        Parity::Even
    }

    fn is_up(&self) -> bool {
        self.stream.is_some()
    }

    /// Something is due without any event: the next attempt while waiting,
    /// or giving up on a connect that hangs.
    fn due_at(&self) -> Option<Instant> {
        if self.waiting() {
            Some(self.outage.retry_at())
        } else {
            self.connector.due_at()
        }
    }

    fn on_time(&mut self, registry: &Registry, now: Instant) -> Change {
        up_if(self.attempt(registry, now))
    }

    fn on_ready(&mut self, registry: &Registry, token: Token, now: Instant) -> Change {
        if self.is_up() && token == self.connector.token() {
            return Change::Readable;
        }
        let outcome = self.connector.on_ready(registry, token, now);
        up_if(self.settle(registry, outcome, now))
    }

    fn read(&mut self, buf: &mut [u8]) -> Read {
        match &mut self.stream {
            Some(stream) => read_once(stream, buf, "the source closed the connection"),
            None => Read::Empty,
        }
    }

    fn lost(&mut self, registry: &Registry, err: &io::Error, now: Instant) {
        warn!(
            "lost {}: {err}; clients stay connected, reconnecting",
            self.source
        );
        self.close(registry, now, Duration::ZERO);
        self.outage.lost(now);
    }

    fn reopen(&mut self, registry: &Registry, now: Instant) {
        info!("SIGHUP: reconnecting to {}", self.source);
        self.close(registry, now, Duration::ZERO);
    }

    fn saw(&mut self, seen: &Seen<'_>) -> Option<String> {
        match *seen {
            Seen::Framed(Event::Telegram(_))
            | Seen::Frame {
                passed_through: true,
                ..
            } => self.diagnosis = None,
            Seen::FirstFrame(frame) => {
                let meter = describe_meter(frame.system_title, frame.frame_counter);
                self.meter = Some(meter.clone());
                return Some(format!("receiving from {}: {meter}", self.source));
            }
            Seen::FirstTelegram(telegram) => return Some(self.announce(telegram)),
            _ => {}
        }
        None
    }

    /// Another p1mux (or any gateway that replays) sends its last telegram
    /// on connect: after a reconnect, that is one the clients already have.
    fn replays_on_connect(&self) -> bool {
        true
    }

    fn silent(&mut self, registry: &Registry, now: Instant, quiet: &Quiet) -> AfterSilence {
        let warning = quiet.network_warning(&self.source.to_string());
        // Frames that do not fit the key: reconnecting would not help.
        if quiet.encrypted_diagnosis().is_some() {
            warn!("{warning}");
            self.diagnosis = Some(warning);
            return AfterSilence::Reset;
        }
        warn!("{warning}; reconnecting in case the source is stuck");
        self.diagnosis = Some(warning);
        self.close(registry, now, Duration::ZERO);
        AfterSilence::Closed
    }

    fn status(&self) -> SourceStatus {
        SourceStatus {
            name: self.source.to_string(),
            kind: "network",
            up: self.is_up(),
            meter: self.meter.clone(),
            diagnosis: self.diagnosis.clone(),
            ..SourceStatus::default()
        }
    }
}

fn up_if(connected: bool) -> Change {
    if connected {
        Change::Up
    } else {
        Change::Nothing
    }
}

//! A meter on the network: `--device tcp://HOST:PORT` reads an ESP dongle,
//! esp-link, ser2net or another p1mux instead of a serial port.
//!
//! Many ESP dongles serve one client only; p1mux holds that one connection
//! and serves everyone else. The source gets the serial port's treatment:
//! a lost or refused connection never costs the clients theirs, it is logged
//! once and retried with backoff. Nothing is ever written to the source.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token, Waker};
use socket2::{SockRef, TcpKeepalive};

use super::outage::Outage;
use super::{AfterSilence, Change, Input, Read, read_once};
use crate::cli::NetSource;
use crate::encrypted::{Frame, describe_meter};
use crate::error::StartError;
use crate::framer::{Event, Parity, Telegram};
use crate::health::{Quiet, SourceStatus};
use crate::telegram::{generation, header};

/// A connection attempt that neither succeeds nor fails in this time (a
/// dongle that is off, behind a firewall that drops packets) is given up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the connection stands.
enum State {
    /// Not connected; the next attempt is due at `retry_at`.
    Waiting,
    /// A host name is being looked up on a helper thread, so a slow DNS
    /// server never stalls the clients.
    Resolving(Receiver<io::Result<Vec<SocketAddr>>>),
    /// A non-blocking connect is in flight to `addrs[0]`; the rest are
    /// tried in turn if it fails.
    Connecting {
        stream: TcpStream,
        addrs: Vec<SocketAddr>,
        since: Instant,
    },
    Connected(TcpStream),
}

/// The network side of the gateway: a connection to the source, or the
/// wait for one.
pub struct NetInput {
    source: NetSource,
    state: State,
    /// When to try again while away, and what to log.
    outage: Outage,
    /// The connection's token; the waker has the next one.
    token: Token,
    /// Wakes the event loop when a name lookup finishes.
    waker: Arc<Waker>,
    /// The meter its first telegram showed, for the status page.
    meter: Option<String>,
    /// What is wrong, since the last silence warning.
    diagnosis: Option<String>,
}

impl NetInput {
    /// Uses tokens `first_token` (the connection) and `first_token + 1`
    /// (the waker of name lookups). The first attempt is due at once.
    pub fn new(
        source: NetSource,
        registry: &Registry,
        first_token: usize,
        now: Instant,
    ) -> Result<NetInput, StartError> {
        let waker = Waker::new(registry, Token(first_token + 1))
            .map_err(|e| format!("creating the event loop's waker: {e}"))?;
        info!("reading the meter from {source}");
        Ok(NetInput {
            source,
            state: State::Waiting,
            outage: Outage::new(now),
            token: Token(first_token),
            waker: Arc::new(waker),
            meter: None,
            diagnosis: None,
        })
    }

    /// Acts on the clock: starts an attempt when one is due, gives up a
    /// connect that took too long. Returns true when the connection is up.
    fn attempt(&mut self, registry: &Registry, now: Instant) -> bool {
        match &self.state {
            State::Waiting if now >= self.outage.retry_at() => self.start(registry, now),
            State::Connecting { since, .. } if now >= *since + CONNECT_TIMEOUT => {
                let timed_out = io::Error::new(io::ErrorKind::TimedOut, "connection timed out");
                self.next_address(registry, timed_out, now)
            }
            _ => false,
        }
    }

    fn start(&mut self, registry: &Registry, now: Instant) -> bool {
        if let Ok(ip) = self.source.host.parse::<IpAddr>() {
            return self.connect(registry, vec![SocketAddr::new(ip, self.source.port)], now);
        }
        let (tx, rx) = mpsc::channel();
        let (host, port) = (self.source.host.clone(), self.source.port);
        let waker = Arc::clone(&self.waker);
        let spawned = std::thread::Builder::new()
            .name("resolve".into())
            .spawn(move || {
                let found = (host.as_str(), port)
                    .to_socket_addrs()
                    .map(|addrs| addrs.collect());
                // The loop may have moved on (SIGHUP); then nobody listens.
                if tx.send(found).is_ok() {
                    let _ = waker.wake();
                }
            });
        match spawned {
            Ok(_) => self.state = State::Resolving(rx),
            Err(e) => self.failed(&format!("starting a name lookup: {e}"), now),
        }
        false
    }

    /// Called when the loop's waker fired: a lookup may have finished.
    /// Returns true when the connection is up.
    fn on_resolved(&mut self, registry: &Registry, now: Instant) -> bool {
        let State::Resolving(rx) = &self.state else {
            return false;
        };
        match rx.try_recv() {
            Err(TryRecvError::Empty) => false,
            Err(TryRecvError::Disconnected) => {
                self.failed("the name lookup ended without an answer", now);
                false
            }
            Ok(Err(e)) => {
                self.failed(&format!("looking up {}: {e}", self.source.host), now);
                false
            }
            Ok(Ok(addrs)) if addrs.is_empty() => {
                self.failed(&format!("{} has no address", self.source.host), now);
                false
            }
            Ok(Ok(addrs)) => self.connect(registry, addrs, now),
        }
    }

    /// Starts connecting to the first of `addrs` that takes a connect call.
    fn connect(&mut self, registry: &Registry, mut addrs: Vec<SocketAddr>, now: Instant) -> bool {
        while !addrs.is_empty() {
            let addr = addrs[0];
            let attempt = TcpStream::connect(addr).and_then(|mut stream| {
                registry
                    .register(
                        &mut stream,
                        self.token,
                        Interest::READABLE | Interest::WRITABLE,
                    )
                    .map(|()| stream)
            });
            match attempt {
                Ok(stream) => {
                    self.state = State::Connecting {
                        stream,
                        addrs,
                        since: now,
                    };
                    // A loopback connect may already be complete.
                    return self.on_event(registry, now);
                }
                Err(e) => {
                    debug!("connecting to {addr}: {e}");
                    addrs.remove(0);
                    if addrs.is_empty() {
                        self.failed(&format!("connecting to {addr}: {e}"), now);
                    }
                }
            }
        }
        false
    }

    /// Handles readiness on the source's socket while connecting. Returns
    /// true when the connection just came up.
    fn on_event(&mut self, registry: &Registry, now: Instant) -> bool {
        let State::Connecting { stream, .. } = &mut self.state else {
            return false;
        };
        match stream.take_error() {
            Ok(Some(e)) | Err(e) => return self.next_address(registry, e, now),
            Ok(None) => {}
        }
        match stream.peer_addr() {
            Ok(peer) => {
                let State::Connecting { mut stream, .. } =
                    std::mem::replace(&mut self.state, State::Waiting)
                else {
                    unreachable!("matched above");
                };
                // Only reading from now on: nothing is ever sent to the source.
                if let Err(e) = registry.reregister(&mut stream, self.token, Interest::READABLE) {
                    let _ = registry.deregister(&mut stream);
                    self.failed(&format!("watching the connection: {e}"), now);
                    return false;
                }
                // A dongle that loses power never sends a FIN; keepalive
                // notices within two minutes instead of never.
                let keepalive = TcpKeepalive::new()
                    .with_time(Duration::from_secs(60))
                    .with_interval(Duration::from_secs(10))
                    .with_retries(5);
                if let Err(e) = SockRef::from(&stream).set_tcp_keepalive(&keepalive) {
                    debug!("{}: setting keepalive: {e}", self.source);
                }
                info!("connected to {} ({peer})", self.source);
                self.state = State::Connected(stream);
                self.outage.ended();
                true
            }
            // Not connected yet: a spurious wake-up.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => false,
            Err(e) => self.next_address(registry, e, now),
        }
    }

    /// The connect in flight failed: tries the next address, or waits.
    fn next_address(&mut self, registry: &Registry, err: io::Error, now: Instant) -> bool {
        let State::Connecting {
            mut stream,
            mut addrs,
            ..
        } = std::mem::replace(&mut self.state, State::Waiting)
        else {
            return false;
        };
        let _ = registry.deregister(&mut stream);
        let addr = addrs.remove(0);
        if addrs.is_empty() {
            self.failed(&format!("connecting to {addr}: {err}"), now);
            false
        } else {
            debug!("connecting to {addr}: {err}; trying {}", addrs[0]);
            self.connect(registry, addrs, now)
        }
    }

    /// An attempt failed: logs the first failure of an outage at warn and
    /// schedules the next attempt.
    fn failed(&mut self, why: &str, now: Instant) {
        self.state = State::Waiting;
        self.outage.failed(&format!("{}: {why}", self.source), now);
    }

    /// Drops the connection (or attempt) and schedules a new one after `delay`.
    fn close(&mut self, registry: &Registry, now: Instant, delay: Duration) {
        match std::mem::replace(&mut self.state, State::Waiting) {
            State::Connecting { mut stream, .. } | State::Connected(mut stream) => {
                let _ = registry.deregister(&mut stream);
            }
            State::Waiting | State::Resolving(_) => {}
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
        matches!(self.state, State::Connected(_))
    }

    /// Something is due without any event: the next attempt while waiting,
    /// or giving up on a connect that hangs.
    fn due_at(&self) -> Option<Instant> {
        match &self.state {
            State::Waiting => Some(self.outage.retry_at()),
            State::Connecting { since, .. } => Some(*since + CONNECT_TIMEOUT),
            State::Resolving(_) | State::Connected(_) => None,
        }
    }

    fn on_time(&mut self, registry: &Registry, now: Instant) -> Change {
        up_if(self.attempt(registry, now))
    }

    fn on_ready(&mut self, registry: &Registry, token: Token, now: Instant) -> Change {
        if token != self.token {
            return up_if(self.on_resolved(registry, now));
        }
        if self.is_up() {
            return Change::Readable;
        }
        up_if(self.on_event(registry, now))
    }

    fn read(&mut self, buf: &mut [u8]) -> Read {
        match &mut self.state {
            State::Connected(stream) => read_once(stream, buf, "the source closed the connection"),
            _ => Read::Empty,
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

    fn observe(&mut self, event: &Event<'_>) {
        if matches!(event, Event::Telegram(_)) {
            self.diagnosis = None;
        }
    }

    fn observe_frame(&mut self, _frame: &Frame<'_>, passed_through: bool) {
        if passed_through {
            self.diagnosis = None;
        }
    }

    fn announce_frame(&mut self, frame: &Frame<'_>) -> Option<String> {
        let meter = describe_meter(frame.system_title, frame.frame_counter);
        self.meter = Some(meter.clone());
        Some(format!("receiving from {}: {meter}", self.source))
    }

    fn announce(&mut self, telegram: &Telegram<'_>) -> Option<String> {
        let meter = format!(
            "{} meter {}",
            generation(telegram.bytes, telegram.crc),
            header(telegram.bytes)
        );
        self.meter = Some(meter.clone());
        Some(format!(
            "receiving from {}: {meter}{}",
            self.source,
            if telegram.parity_in_bit7 {
                "; the source reads a 7E1 meter as 8N1 (parity in bit 7): \
                 p1mux checks that parity and strips it"
            } else {
                ""
            }
        ))
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

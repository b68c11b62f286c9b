//! A meter on the network: `--device tcp://HOST:PORT` reads an ESP dongle,
//! esp-link, ser2net or another p1mux instead of a serial port.
//!
//! Many ESP dongles serve one client only; p1mux holds that one connection
//! and serves everyone else. The source gets the serial port's treatment:
//! a lost or refused connection never costs the clients theirs, it is logged
//! once and retried with backoff. Nothing is ever written to the source.

use std::fmt;
use std::io::{self, Read as _};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token, Waker};
use socket2::{SockRef, TcpKeepalive};

use crate::outage::Outage;
use crate::serial::Read;

/// A connection attempt that neither succeeds nor fails in this time (a
/// dongle that is off, behind a firewall that drops packets) is given up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a network meter is, as given after `tcp://`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetSource {
    /// A host name or an IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
}

impl NetSource {
    /// Parses `HOST:PORT` or `[IPv6]:PORT`, the part after `tcp://`.
    pub fn parse(s: &str) -> Result<NetSource, String> {
        let bad = |why: &str| {
            format!(
                "bad network source 'tcp://{s}': {why}; use tcp://HOST:PORT, e.g. tcp://192.168.1.50:23"
            )
        };
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad("no ']'"))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("not an IPv6 address between [ and ]"));
            }
            let port = after.strip_prefix(':').ok_or_else(|| bad("no port"))?;
            (host, port)
        } else {
            s.rsplit_once(':').ok_or_else(|| bad("no port"))?
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let bracketed = s.starts_with('[');
        if !bracketed && (host.contains(['/', ':', '[', ']']) || host.contains(char::is_whitespace))
        {
            return Err(bad("not a host name or address"));
        }
        match port.parse::<u16>() {
            Ok(0) | Err(_) => Err(bad("the port must be a number from 1 to 65535")),
            Ok(port) => Ok(NetSource {
                host: host.to_string(),
                port,
            }),
        }
    }
}

impl fmt::Display for NetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "tcp://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "tcp://{}:{}", self.host, self.port)
        }
    }
}

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
    pub source: NetSource,
    state: State,
    /// When to try again while away, and what to log.
    outage: Outage,
    token: Token,
    /// Wakes the event loop when a name lookup finishes.
    waker: Arc<Waker>,
}

impl NetInput {
    pub fn new(source: NetSource, token: Token, waker: Arc<Waker>, now: Instant) -> NetInput {
        NetInput {
            source,
            state: State::Waiting,
            outage: Outage::new(now),
            token,
            waker,
        }
    }

    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connected(_))
    }

    /// When something is due without any event: the next attempt while
    /// waiting, or giving up on a connect that hangs.
    pub fn due_at(&self) -> Option<Instant> {
        match &self.state {
            State::Waiting => Some(self.outage.retry_at()),
            State::Connecting { since, .. } => Some(*since + CONNECT_TIMEOUT),
            State::Resolving(_) | State::Connected(_) => None,
        }
    }

    /// Acts on the clock: starts an attempt when one is due, gives up a
    /// connect that took too long. Returns true when the connection is up.
    pub fn on_time(&mut self, registry: &Registry, now: Instant) -> bool {
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
    pub fn on_resolved(&mut self, registry: &Registry, now: Instant) -> bool {
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
    pub fn on_event(&mut self, registry: &Registry, now: Instant) -> bool {
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
    pub fn close(&mut self, registry: &Registry, now: Instant, delay: Duration) {
        match std::mem::replace(&mut self.state, State::Waiting) {
            State::Connecting { mut stream, .. } | State::Connected(mut stream) => {
                let _ = registry.deregister(&mut stream);
            }
            State::Waiting | State::Resolving(_) => {}
        }
        self.outage.retry_after(now, delay);
    }

    /// Handles the connection going away: logs once, closes, schedules
    /// the reconnect.
    pub fn lost(&mut self, registry: &Registry, err: &io::Error, now: Instant) {
        warn!(
            "lost {}: {err}; clients stay connected, reconnecting",
            self.source
        );
        self.close(registry, now, Duration::ZERO);
        self.outage.lost(now);
    }

    /// Reads what the source has sent, without blocking.
    pub fn read(&mut self, buf: &mut [u8]) -> Read {
        let State::Connected(stream) = &mut self.state else {
            return Read::Empty;
        };
        loop {
            match stream.read(buf) {
                Ok(0) => {
                    return Read::Lost(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the source closed the connection",
                    ));
                }
                Ok(n) => return Read::Data(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Read::Empty,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Read::Lost(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_and_addresses() {
        let ok = |s: &str| NetSource::parse(s).unwrap();
        assert_eq!(
            ok("192.168.1.50:23"),
            NetSource {
                host: "192.168.1.50".into(),
                port: 23
            }
        );
        assert_eq!(ok("p1dongle.local:8088").host, "p1dongle.local");
        assert_eq!(ok("[fd00::5]:2001").host, "fd00::5");
        assert_eq!(ok("[fd00::5]:2001").to_string(), "tcp://[fd00::5]:2001");
        assert_eq!(ok("esp:23").to_string(), "tcp://esp:23");
        for bad in [
            "192.168.1.50",
            ":23",
            "host:0",
            "host:70000",
            "host:port",
            "fd00::5:23",
            "[fd00::5]23",
            "[nonsense]:23",
            "host:23/p1",
            "host/x:23",
        ] {
            let err = NetSource::parse(bad).unwrap_err();
            assert!(err.contains("tcp://HOST:PORT"), "{bad}: {err}");
        }
    }
}

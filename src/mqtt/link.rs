//! Getting a connection to the broker and keeping one: name lookup on a
//! helper thread (a slow DNS server never stalls the loop), a
//! non-blocking connect to each address in turn, TLS on top, and retries
//! with backoff (1 s doubling to 60 s) when the broker is away or refuses.
//!
//! One warning per outage: the first failure is logged at warn, the
//! retries at debug, until a connection is accepted again.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use log::{debug, warn};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token, Waker};
use rustls::ClientConfig;

use super::config::Broker;
use super::transport::Transport;
use crate::error::StartError;

/// First wait before trying again; doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait between attempts: a broker that restarts is back within a
/// minute, and a wrong password is not retried more often than this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A TCP connect that neither succeeds nor fails in this time is given up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

enum State {
    /// Not connected; the next attempt is due at `retry_at`.
    Waiting,
    Resolving(Receiver<io::Result<Vec<SocketAddr>>>),
    /// A connect in flight to `addrs[0]`; the others are next.
    Connecting {
        stream: TcpStream,
        addrs: Vec<SocketAddr>,
        since: Instant,
    },
    Up(Transport),
}

/// The connection to the broker, or the wait for one.
pub struct Link {
    pub broker: Broker,
    tls: Option<Arc<ClientConfig>>,
    state: State,
    retry_at: Instant,
    backoff: Duration,
    /// This outage was logged at warn; more failures go to debug.
    logged: bool,
    token: Token,
    waker: Arc<Waker>,
    /// Whether write interest is registered, while up.
    writable: bool,
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
        let waker = Waker::new(registry, Token(first_token + 1))
            .map_err(|e| format!("creating the event loop's waker: {e}"))?;
        Ok(Link {
            broker,
            tls,
            state: State::Waiting,
            retry_at: now,
            backoff: FIRST_BACKOFF,
            logged: false,
            token: Token(first_token),
            waker: Arc::new(waker),
            writable: false,
            last_error: None,
        })
    }

    pub fn is_up(&self) -> bool {
        matches!(self.state, State::Up(_))
    }

    pub fn transport(&mut self) -> Option<&mut Transport> {
        match &mut self.state {
            State::Up(t) => Some(t),
            _ => None,
        }
    }

    pub fn due_at(&self) -> Option<Instant> {
        match &self.state {
            State::Waiting => Some(self.retry_at),
            State::Connecting { since, .. } => Some(*since + CONNECT_TIMEOUT),
            State::Resolving(_) | State::Up(_) => None,
        }
    }

    /// Starts an attempt when one is due; gives up a connect that hangs.
    /// True when the transport just came up.
    pub fn on_time(&mut self, registry: &Registry, now: Instant) -> bool {
        match &self.state {
            State::Waiting if now >= self.retry_at => self.start(registry, now),
            State::Connecting { since, .. } if now >= *since + CONNECT_TIMEOUT => {
                let timed_out = io::Error::new(io::ErrorKind::TimedOut, "connection timed out");
                self.next_address(registry, timed_out, now)
            }
            _ => false,
        }
    }

    /// Readiness on the socket while connecting, or the waker. True when
    /// the transport just came up.
    pub fn on_event(&mut self, registry: &Registry, token: Token, now: Instant) -> bool {
        if token != self.token {
            return self.on_resolved(registry, now);
        }
        let State::Connecting { stream, .. } = &mut self.state else {
            return false;
        };
        match stream.take_error() {
            Ok(Some(e)) | Err(e) => return self.next_address(registry, e, now),
            Ok(None) => {}
        }
        match stream.peer_addr() {
            Ok(peer) => {
                let State::Connecting { stream, .. } =
                    std::mem::replace(&mut self.state, State::Waiting)
                else {
                    unreachable!("matched above");
                };
                let _ = stream.set_nodelay(true);
                let tls = self.tls.as_ref().map(|c| (c, self.broker.host.as_str()));
                match Transport::new(stream, tls) {
                    Ok(transport) => {
                        debug!(
                            "mqtt: connected to {} ({peer}), sending CONNECT",
                            self.broker
                        );
                        self.state = State::Up(transport);
                        self.writable = true;
                        true
                    }
                    Err(why) => {
                        self.failed(registry, &why, now);
                        false
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => false,
            Err(e) => self.next_address(registry, e, now),
        }
    }

    fn start(&mut self, registry: &Registry, now: Instant) -> bool {
        if let Ok(ip) = self.broker.host.parse::<IpAddr>() {
            return self.connect(registry, vec![SocketAddr::new(ip, self.broker.port)], now);
        }
        let (tx, rx) = mpsc::channel();
        let (host, port) = (self.broker.host.clone(), self.broker.port);
        let waker = Arc::clone(&self.waker);
        let spawned = std::thread::Builder::new()
            .name("mqtt-resolve".into())
            .spawn(move || {
                let found = (host.as_str(), port).to_socket_addrs().map(|a| a.collect());
                // The output may have moved on; then nobody listens.
                if tx.send(found).is_ok() {
                    let _ = waker.wake();
                }
            });
        match spawned {
            Ok(_) => self.state = State::Resolving(rx),
            Err(e) => self.failed(registry, &format!("starting a name lookup: {e}"), now),
        }
        false
    }

    fn on_resolved(&mut self, registry: &Registry, now: Instant) -> bool {
        let State::Resolving(rx) = &self.state else {
            return false;
        };
        let host = &self.broker.host;
        let why = match rx.try_recv() {
            Err(TryRecvError::Empty) => return false,
            Ok(Ok(addrs)) if !addrs.is_empty() => return self.connect(registry, addrs, now),
            Err(TryRecvError::Disconnected) => {
                "the name lookup ended without an answer".to_string()
            }
            Ok(Err(e)) => format!("looking up {host}: {e}"),
            Ok(Ok(_)) => format!("{host} has no address"),
        };
        self.failed(registry, &why, now);
        false
    }

    fn connect(&mut self, registry: &Registry, mut addrs: Vec<SocketAddr>, now: Instant) -> bool {
        while let Some(&addr) = addrs.first() {
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
                    // A loopback connect may be complete already.
                    return self.on_event(registry, self.token, now);
                }
                Err(e) => {
                    addrs.remove(0);
                    if addrs.is_empty() {
                        self.failed(registry, &format!("connecting to {addr}: {e}"), now);
                    }
                }
            }
        }
        false
    }

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
            self.failed(registry, &format!("connecting to {addr}: {err}"), now);
            false
        } else {
            debug!("mqtt: connecting to {addr}: {err}; trying {}", addrs[0]);
            self.connect(registry, addrs, now)
        }
    }

    /// The attempt or the connection failed: drops it, logs the first
    /// failure of an outage at warn, and schedules the next attempt.
    pub fn failed(&mut self, registry: &Registry, why: &str, now: Instant) {
        let was_up = self.drop_connection(registry);
        let message = format!("mqtt: {}: {why}", self.broker);
        if self.logged {
            debug!("{message}");
        } else if was_up {
            warn!("{message}; reconnecting, and keeping the newest telegrams meanwhile");
        } else {
            warn!(
                "{message}; retrying every {}s at most, telegrams keep flowing to the TCP clients",
                MAX_BACKOFF.as_secs()
            );
        }
        self.logged = true;
        self.last_error = Some(why.to_string());
        self.retry_at = now + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    /// The broker accepted the connection: a later outage starts afresh.
    pub fn established(&mut self) {
        self.backoff = FIRST_BACKOFF;
        self.logged = false;
        self.last_error = None;
    }

    /// Closes on purpose (a new will, shutdown) and tries again after `delay`.
    pub fn close(&mut self, registry: &Registry, last: &[u8], now: Instant, delay: Duration) {
        if let Some(t) = self.transport() {
            t.close(last);
        }
        self.drop_connection(registry);
        self.retry_at = now + delay;
    }

    /// Returns whether a transport was up.
    fn drop_connection(&mut self, registry: &Registry) -> bool {
        match std::mem::replace(&mut self.state, State::Waiting) {
            State::Connecting { mut stream, .. } => {
                let _ = registry.deregister(&mut stream);
                false
            }
            State::Up(mut t) => {
                let _ = registry.deregister(t.stream());
                true
            }
            State::Waiting | State::Resolving(_) => false,
        }
    }

    /// Registers write interest only while there is something to write.
    pub fn want_write(&mut self, registry: &Registry, want: bool) -> io::Result<()> {
        let token = self.token;
        let State::Up(t) = &mut self.state else {
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

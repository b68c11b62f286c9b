//! An outbound TCP connection made without blocking the loop: the host
//! name is looked up on a helper thread (a slow DNS server never stalls
//! the clients) that wakes the loop, then each address is tried in turn
//! with a non-blocking connect. Retries and what a failure means are the
//! caller's: [`Connector`] makes one attempt at a time.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use log::debug;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token, Waker};

use crate::error::StartError;

/// A connect that neither succeeds nor fails in this time (a host that is
/// off, behind a firewall that drops packets) is given up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where an attempt stands after a call.
pub enum Outcome {
    /// Still resolving or connecting, or no attempt at all.
    Pending,
    /// Connected; the stream is registered with the connector's token for
    /// reading and writing.
    Connected(TcpStream, SocketAddr),
    /// The attempt failed, for this reason (no host or service prefix).
    Failed(String),
}

enum State {
    Idle,
    Resolving {
        answer: Receiver<io::Result<Vec<SocketAddr>>>,
        host: String,
    },
    /// A connect in flight to `addrs[0]`; the others are next.
    Connecting {
        stream: TcpStream,
        addrs: Vec<SocketAddr>,
        since: Instant,
    },
}

/// One connection attempt at a time, on two tokens: the socket's and the
/// waker's that a finished lookup fires.
pub struct Connector {
    token: Token,
    waker: Arc<Waker>,
    /// The lookup thread's name.
    thread: &'static str,
    /// What starts this connector's debug lines ("mqtt: ", or nothing).
    log: &'static str,
    state: State,
}

impl Connector {
    /// Uses `first_token` for the socket and the next one for the waker.
    pub fn new(
        registry: &Registry,
        first_token: usize,
        thread: &'static str,
        log: &'static str,
    ) -> Result<Connector, StartError> {
        let waker = Waker::new(registry, Token(first_token + 1))
            .map_err(|e| format!("creating the event loop's waker: {e}"))?;
        Ok(Connector {
            token: Token(first_token),
            waker: Arc::new(waker),
            thread,
            log,
            state: State::Idle,
        })
    }

    /// The socket's token, which a connected stream keeps.
    pub fn token(&self) -> Token {
        self.token
    }

    /// No attempt under way.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle)
    }

    /// When a connect in flight is given up.
    pub fn due_at(&self) -> Option<Instant> {
        match &self.state {
            State::Connecting { since, .. } => Some(*since + CONNECT_TIMEOUT),
            State::Idle | State::Resolving { .. } => None,
        }
    }

    /// Starts an attempt: an IP address is connected to at once, a name
    /// looked up first.
    pub fn start(&mut self, registry: &Registry, host: &str, port: u16, now: Instant) -> Outcome {
        self.cancel(registry);
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.connect(registry, vec![SocketAddr::new(ip, port)], now);
        }
        let (tx, answer) = mpsc::channel();
        let name = host.to_string();
        let waker = Arc::clone(&self.waker);
        let spawned = std::thread::Builder::new()
            .name(self.thread.into())
            .spawn(move || {
                let found = (name.as_str(), port).to_socket_addrs().map(|a| a.collect());
                // The owner may have moved on (SIGHUP); then nobody listens.
                if tx.send(found).is_ok() {
                    let _ = waker.wake();
                }
            });
        match spawned {
            Ok(_) => {
                let host = host.to_string();
                self.state = State::Resolving { answer, host };
                Outcome::Pending
            }
            Err(e) => Outcome::Failed(format!("starting a name lookup: {e}")),
        }
    }

    /// Gives up a connect that took too long.
    pub fn on_time(&mut self, registry: &Registry, now: Instant) -> Outcome {
        match self.due_at() {
            Some(due) if now >= due => {
                let timed_out = io::Error::new(io::ErrorKind::TimedOut, "connection timed out");
                self.next_address(registry, timed_out, now)
            }
            _ => Outcome::Pending,
        }
    }

    /// Readiness on either token: the socket, or the waker after a lookup.
    pub fn on_ready(&mut self, registry: &Registry, token: Token, now: Instant) -> Outcome {
        if token == self.token {
            self.on_socket(registry, now)
        } else {
            self.on_resolved(registry, now)
        }
    }

    /// Drops the attempt under way, if any.
    pub fn cancel(&mut self, registry: &Registry) {
        if let State::Connecting { mut stream, .. } =
            std::mem::replace(&mut self.state, State::Idle)
        {
            let _ = registry.deregister(&mut stream);
        }
    }

    fn on_resolved(&mut self, registry: &Registry, now: Instant) -> Outcome {
        let State::Resolving { answer, host } = &self.state else {
            return Outcome::Pending;
        };
        let why = match answer.try_recv() {
            Err(TryRecvError::Empty) => return Outcome::Pending,
            Ok(Ok(addrs)) if !addrs.is_empty() => return self.connect(registry, addrs, now),
            Err(TryRecvError::Disconnected) => {
                "the name lookup ended without an answer".to_string()
            }
            Ok(Err(e)) => format!("looking up {host}: {e}"),
            Ok(Ok(_)) => format!("{host} has no address"),
        };
        self.state = State::Idle;
        Outcome::Failed(why)
    }

    /// Starts connecting to the first of `addrs` that takes a connect call.
    fn connect(
        &mut self,
        registry: &Registry,
        mut addrs: Vec<SocketAddr>,
        now: Instant,
    ) -> Outcome {
        self.state = State::Idle;
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
                    return self.on_socket(registry, now);
                }
                Err(e) => {
                    debug!("{}connecting to {addr}: {e}", self.log);
                    addrs.remove(0);
                    if addrs.is_empty() {
                        return Outcome::Failed(format!("connecting to {addr}: {e}"));
                    }
                }
            }
        }
        Outcome::Pending
    }

    fn on_socket(&mut self, registry: &Registry, now: Instant) -> Outcome {
        let State::Connecting { stream, .. } = &mut self.state else {
            return Outcome::Pending;
        };
        match stream.take_error() {
            Ok(Some(e)) | Err(e) => return self.next_address(registry, e, now),
            Ok(None) => {}
        }
        match stream.peer_addr() {
            Ok(peer) => {
                let State::Connecting { stream, .. } =
                    std::mem::replace(&mut self.state, State::Idle)
                else {
                    unreachable!("matched above");
                };
                Outcome::Connected(stream, peer)
            }
            // Not connected yet: a spurious wake-up.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Outcome::Pending,
            Err(e) => self.next_address(registry, e, now),
        }
    }

    /// The connect in flight failed: tries the next address, or gives up.
    fn next_address(&mut self, registry: &Registry, err: io::Error, now: Instant) -> Outcome {
        let State::Connecting {
            mut stream,
            mut addrs,
            ..
        } = std::mem::replace(&mut self.state, State::Idle)
        else {
            return Outcome::Pending;
        };
        let _ = registry.deregister(&mut stream);
        let addr = addrs.remove(0);
        if addrs.is_empty() {
            Outcome::Failed(format!("connecting to {addr}: {err}"))
        } else {
            debug!(
                "{}connecting to {addr}: {err}; trying {}",
                self.log, addrs[0]
            );
            self.connect(registry, addrs, now)
        }
    }
}

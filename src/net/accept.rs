//! Taking new connections on a set of listeners, the same way for every
//! output: `--allow`, a connection limit, and staying up when the process
//! runs out of file descriptors. What is logged, and what a refused or
//! accepted connection gets, is the caller's: it is told each [`Accepted`].

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::Token;
use mio::net::{TcpListener, TcpStream};

use super::allow::{Cidr, allowed};

/// How long accepting pauses when the process is out of file descriptors,
/// unless a connection closes first and so frees one.
pub const ACCEPT_PAUSE: Duration = Duration::from_secs(1);

/// One step of accepting; an IPv4 peer of a dual-stack listener is shown
/// as users know it: 127.0.0.1, not [::ffff:127.0.0.1].
pub enum Accepted {
    /// Allowed and within the limit: the caller's now.
    Admit(TcpStream, SocketAddr),
    /// Not in `--allow`; closed when dropped.
    NotAllowed(TcpStream, SocketAddr),
    /// Over the limit; closed when dropped.
    Full(TcpStream, SocketAddr),
    /// Out of file descriptors: accepting pauses for [`ACCEPT_PAUSE`].
    /// `first` is the first of this shortage; `closed` the peer of a
    /// waiting connection closed with the spare fd, so that it sees a
    /// close instead of hanging in the backlog.
    OutOfFds {
        err: io::Error,
        first: bool,
        closed: Option<SocketAddr>,
    },
    /// Any other error; this round of accepting ends.
    Failed(io::Error),
}

/// The listeners of one output, on consecutive tokens, and their rules.
pub struct Acceptor {
    listeners: Vec<TcpListener>,
    first_token: usize,
    allow: Vec<Cidr>,
    /// Most connections served at once.
    limit: usize,
    /// Accepting is paused until then after running out of fds.
    paused_until: Option<Instant>,
    /// A connection closed while accepting was paused: an fd is free, so
    /// the connections waiting in the backlog (often ones already closed
    /// by a storm that passed) are taken at once rather than after the pause.
    accept_now: bool,
    /// The out-of-fds warning was logged for this shortage.
    short_of_fds: bool,
    /// A spare descriptor, given up to accept-and-close a connection when
    /// out of fds.
    spare_fd: Option<std::fs::File>,
    /// The last step failed: the next call ends the round.
    ended: bool,
}

impl Acceptor {
    /// `listeners` are registered with tokens from `first_token`.
    pub fn new(
        listeners: Vec<TcpListener>,
        first_token: usize,
        allow: Vec<Cidr>,
        limit: usize,
    ) -> Acceptor {
        Acceptor {
            listeners,
            first_token,
            allow,
            limit,
            paused_until: None,
            accept_now: false,
            short_of_fds: false,
            spare_fd: open_spare(),
            ended: false,
        }
    }

    pub fn listeners(&self) -> usize {
        self.listeners.len()
    }

    /// Which listener `token` is, if it is one.
    pub fn listener(&self, token: Token) -> Option<usize> {
        let i = token.0.checked_sub(self.first_token)?;
        (i < self.listeners.len()).then_some(i)
    }

    /// The end of a pause.
    pub fn due_at(&self) -> Option<Instant> {
        self.paused_until
    }

    /// The next step on listener `i`, with `connected` served now; None
    /// when no connection waits, while paused, and after a failed step.
    /// Connections that queued during a pause raise no new readiness event:
    /// accept on every listener when [`Acceptor::resume`] or
    /// [`Acceptor::take_accept_now`] says so.
    pub fn next(&mut self, i: usize, connected: usize, now: Instant) -> Option<Accepted> {
        if std::mem::take(&mut self.ended) || self.paused_until.is_some_and(|until| now < until) {
            return None;
        }
        loop {
            match self.listeners[i].accept() {
                Ok((stream, peer)) => {
                    let peer = canonical(peer);
                    return Some(if !allowed(&self.allow, peer.ip()) {
                        Accepted::NotAllowed(stream, peer)
                    } else if connected >= self.limit {
                        Accepted::Full(stream, peer)
                    } else {
                        Accepted::Admit(stream, peer)
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.short_of_fds = false;
                    return None;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The peer gave up before we got to it; others may be waiting.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) if is_fd_exhaustion(&e) => return Some(self.shed(i, e, now)),
                Err(e) => {
                    self.ended = true;
                    return Some(Accepted::Failed(e));
                }
            }
        }
    }

    /// Out of file descriptors: close one waiting connection using the spare
    /// fd, then pause accepting instead of spinning on the error.
    fn shed(&mut self, i: usize, err: io::Error, now: Instant) -> Accepted {
        let first = !std::mem::replace(&mut self.short_of_fds, true);
        let mut closed = None;
        if self.spare_fd.take().is_some() {
            if let Ok((stream, peer)) = self.listeners[i].accept() {
                closed = Some(canonical(peer));
                drop(stream);
            }
            self.spare_fd = open_spare();
        }
        self.paused_until = Some(now + ACCEPT_PAUSE);
        Accepted::OutOfFds { err, first, closed }
    }

    /// A connection closed: one fd is free, so a pause may end early.
    pub fn closed(&mut self) {
        if self.paused_until.take().is_some() {
            self.accept_now = true;
        }
    }

    /// Whether a pause just ran out: the caller accepts on every listener.
    pub fn resume(&mut self, now: Instant) -> bool {
        if self.paused_until.is_some_and(|until| now >= until) {
            self.paused_until = None;
            return true;
        }
        false
    }

    /// A pause ended early ([`Acceptor::closed`]): the caller accepts on
    /// every listener.
    pub fn has_pending(&self) -> bool {
        self.accept_now
    }

    /// Whether a pause ended early, once.
    pub fn take_accept_now(&mut self) -> bool {
        std::mem::take(&mut self.accept_now)
    }
}

fn canonical(peer: SocketAddr) -> SocketAddr {
    SocketAddr::new(peer.ip().to_canonical(), peer.port())
}

fn is_fd_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

fn open_spare() -> Option<std::fs::File> {
    std::fs::File::open("/dev/null").ok()
}

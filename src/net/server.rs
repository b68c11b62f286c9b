//! The one TCP server every listening output plugs into (the raw hub, the
//! HTTP output): a [`Server`] owns the listeners, `--allow`, the connection
//! limit, the connection table, idle and stall timeouts and a clean
//! shutdown; a [`Handler`] owns what one kind of connection does with its
//! bytes. As in mini-redis' `server.rs`: the listener accepts within
//! limits, the handler serves one connection.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use log::{Level, log};
use mio::event::Event;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::STALL_LIMIT;
use super::accept::{Accepted, Acceptor};
use super::allow::Cidr;
use super::handler::{Handler, Note};
use super::link::Link;
use super::listen::{self, ListenError};
use super::slots::Slots;
use super::storm::{Kind, Storm};
use crate::output::Context;

/// Who may connect, and how many at once.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Address blocks allowed to connect; empty allows everyone.
    pub allow: Vec<Cidr>,
    /// Most connections served at once.
    pub limit: usize,
}

/// Counters for the stats line and the status.
#[derive(Debug, Default, Clone)]
pub struct ServerStats {
    pub accepted: u64,
    /// Not allowed, over the limit, or shed when out of file descriptors.
    pub refused: u64,
    /// Closed for accepting no data for [`STALL_LIMIT`].
    pub stalled: u64,
    pub bytes_out: u64,
    /// Whole pieces written (telegrams, for the raw clients).
    pub pieces_out: u64,
    /// Pieces dropped from full queues.
    pub dropped: u64,
}

pub struct Server<H: Handler> {
    pub handler: H,
    acceptor: Acceptor,
    slots: Slots<(Link, H::Session)>,
    connected: usize,
    /// Connections whose input was not drained within the read budget.
    unread: Vec<Token>,
    storm: Storm,
    pub stats: ServerStats,
}

impl<H: Handler> Server<H> {
    /// Binds every address for `option` and watches it, with tokens from
    /// `first_token`; returns the addresses bound (port 0 resolved).
    pub fn bind(
        addrs: &[SocketAddr],
        option: &'static str,
        rules: Rules,
        handler: H,
        registry: &Registry,
        first_token: usize,
    ) -> Result<(Server<H>, Vec<SocketAddr>), ListenError> {
        let mut listeners = Vec::new();
        let mut bound = Vec::new();
        for (i, &addr) in addrs.iter().enumerate() {
            let mut listener = listen::bind(addr, option)?;
            let local = listener
                .local_addr()
                .map_err(|err| ListenError::Address { addr, err })?;
            registry
                .register(&mut listener, Token(first_token + i), Interest::READABLE)
                .map_err(|err| ListenError::Watch { local, err })?;
            listeners.push(listener);
            bound.push(local);
        }
        let server = Server {
            handler,
            slots: Slots::new(first_token + listeners.len()),
            acceptor: Acceptor::new(listeners, first_token, rules.allow, rules.limit),
            connected: 0,
            unread: Vec::new(),
            storm: Storm::default(),
            stats: ServerStats::default(),
        };
        Ok((server, bound))
    }

    pub fn connected(&self) -> usize {
        self.connected
    }

    pub fn listeners(&self) -> usize {
        self.acceptor.listeners()
    }

    /// Readiness on one of this server's tokens.
    pub fn on_event(&mut self, cx: &Context, event: &Event) {
        let token = event.token();
        if let Some(i) = self.acceptor.listener(token) {
            self.accept(cx, i);
        } else {
            let readable = event.is_readable() || event.is_read_closed() || event.is_error();
            self.drive(cx, token, readable, event.is_writable());
        }
    }

    /// When [`Server::on_time`] wants to run: the end of an accept pause,
    /// a storm's summary, or the handler's own timer.
    pub fn due_at(&self) -> Option<Instant> {
        [
            self.acceptor.due_at(),
            self.storm.due_at(),
            self.handler.due_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Closes stalled connections, lets the handler act on the clock for
    /// each, and resumes accepting.
    pub fn on_time(&mut self, cx: &Context) {
        for token in self.slots.tokens() {
            let Some((mut link, mut session)) = self.slots.take(token) else {
                continue;
            };
            let outcome = if link.stalled(cx.now) {
                self.stats.stalled += 1;
                Err(format!("accepted no data for {}s", STALL_LIMIT.as_secs()))
            } else {
                self.handler
                    .on_time(&mut link, &mut session, cx.now)
                    .and_then(|()| {
                        if link.backlog() > 0 && !link.wants_write() {
                            self.flush(cx, &mut link)
                        } else {
                            Ok(())
                        }
                    })
            };
            self.slots.put(token, (link, session));
            if let Err(why) = outcome {
                self.close(cx, token, &why);
            }
        }
        self.handler.after_time(cx.now);
        // Connections that queued during a pause raise no new readiness event.
        if self.acceptor.resume(cx.now) {
            self.accept_all(cx);
        }
        self.summarise(cx.now);
    }

    /// Input left over from a spent read budget, or an accept pause that
    /// ended early.
    pub fn has_pending(&self) -> bool {
        !self.unread.is_empty() || self.acceptor.has_pending()
    }

    pub fn on_pending(&mut self, cx: &Context) {
        for token in std::mem::take(&mut self.unread) {
            self.drive(cx, token, true, false);
        }
        if self.acceptor.take_accept_now() {
            self.accept_all(cx);
        }
    }

    /// Queues `piece` (within `limit` bytes) for every connection whose
    /// session `wants` it (which may queue something before it on the
    /// link), and writes it where the socket has room.
    /// Returns how many pieces the queues' bounds dropped.
    pub fn broadcast(
        &mut self,
        cx: &Context,
        piece: &Rc<[u8]>,
        limit: usize,
        mut wants: impl FnMut(&mut Link, &mut H::Session) -> bool,
    ) -> u64 {
        let mut dropped = 0;
        for token in self.slots.tokens() {
            let Some((link, session)) = self.slots.get_mut(token) else {
                continue;
            };
            if !wants(link, session) {
                continue;
            }
            dropped += link.queue(piece.clone(), limit, cx.now);
            // A connection with a backlog already waits for room.
            if link.wants_write() {
                continue;
            }
            let (written, pieces) = (link.written, link.pieces);
            let result = link.flush(cx.registry, cx.now);
            self.stats.bytes_out += link.written - written;
            self.stats.pieces_out += link.pieces - pieces;
            if let Err(e) = result {
                self.close(cx, token, &format!("write error: {e}"));
            }
        }
        self.stats.dropped += dropped;
        dropped
    }

    /// Closes every connection with a FIN, for a clean exit; returns how
    /// many there were.
    pub fn shutdown(&mut self, cx: &Context) -> usize {
        let n = self.connected;
        for (link, _) in self.slots.take_all() {
            link.close_cleanly(cx.registry);
        }
        self.connected = 0;
        n
    }

    fn accept_all(&mut self, cx: &Context) {
        for i in 0..self.acceptor.listeners() {
            self.accept(cx, i);
        }
    }

    /// Accepts every pending connection on listener `i`.
    fn accept(&mut self, cx: &Context, i: usize) {
        while let Some(step) = self.acceptor.next(i, self.connected, cx.now) {
            match step {
                Accepted::Admit(stream, peer) => self.admit(cx, stream, peer),
                Accepted::NotAllowed(_stream, peer) => {
                    self.stats.refused += 1;
                    self.note(cx.now, &Note::NotAllowed, Some(peer));
                }
                Accepted::Full(mut stream, peer) => {
                    self.stats.refused += 1;
                    self.handler.turn_away(&mut stream);
                    self.note(cx.now, &Note::Full, Some(peer));
                }
                Accepted::OutOfFds { err, first, closed } => {
                    self.note(cx.now, &Note::OutOfFds { err: &err, first }, None);
                    if let Some(peer) = closed {
                        self.stats.refused += 1;
                        self.note(cx.now, &Note::Shed, Some(peer));
                    }
                }
                Accepted::Failed(e) => self.note(cx.now, &Note::AcceptFailed(&e), None),
            }
        }
    }

    fn admit(&mut self, cx: &Context, mut stream: TcpStream, peer: SocketAddr) {
        let Some(token) = self.slots.admit(cx.registry, &mut stream, peer) else {
            return;
        };
        let mut link = Link::new(stream, peer, token, cx.now);
        self.connected += 1;
        self.stats.accepted += 1;
        self.note(cx.now, &Note::Admitted, Some(peer));
        let session = {
            let mut others = self.slots.iter().map(|(link, session)| (link, session));
            self.handler.open(&mut link, &mut others, cx.now)
        };
        let result = if link.backlog() > 0 {
            self.flush(cx, &mut link)
        } else {
            Ok(())
        };
        self.slots.put(token, (link, session));
        if let Err(why) = result {
            self.close(cx, token, &why);
        }
    }

    fn flush(&mut self, cx: &Context, link: &mut Link) -> Result<(), String> {
        let (written, pieces) = (link.written, link.pieces);
        let result = link.flush(cx.registry, cx.now);
        self.stats.bytes_out += link.written - written;
        self.stats.pieces_out += link.pieces - pieces;
        result.map(drop).map_err(|e| format!("write error: {e}"))
    }

    /// Readiness (or pending input) for one connection.
    fn drive(&mut self, cx: &Context, token: Token, readable: bool, writable: bool) {
        let Some((mut link, mut session)) = self.slots.take(token) else {
            return; // closed earlier in this batch of events
        };
        link.new_turn();
        let (written, pieces) = (link.written, link.pieces);
        let outcome = self
            .handler
            .ready(&mut link, &mut session, readable, writable, cx);
        self.stats.bytes_out += link.written - written;
        self.stats.pieces_out += link.pieces - pieces;
        if link.budget_spent() && outcome.is_ok() {
            self.unread.push(token);
        }
        self.slots.put(token, (link, session));
        if let Err(why) = outcome {
            self.close(cx, token, &why);
        }
    }

    /// Closes one connection, saying why.
    pub fn close(&mut self, cx: &Context, token: Token, why: &str) {
        let Some((link, session)) = self.slots.remove(token) else {
            return;
        };
        self.connected -= 1;
        self.acceptor.closed();
        self.handler.closing(&link, &session);
        let (peer, missed) = (link.peer, link.dropped());
        // Closed before the log line says so.
        link.close(cx.registry);
        self.note(cx.now, &Note::Closed { why, missed }, Some(peer));
    }

    /// Logs `note` in the handler's words; a storm of connects and refusals
    /// is summarised ([`Storm`]) rather than logged line by line.
    fn note(&mut self, now: Instant, note: &Note, peer: Option<SocketAddr>) {
        self.summarise(now);
        let Some((level, line)) = self.handler.words(note, peer, self.connected) else {
            return;
        };
        let routine = match note {
            Note::Admitted => Some(Kind::Accepted),
            Note::Closed { .. } => Some(Kind::Closed),
            Note::NotAllowed | Note::Full | Note::Shed => Some(Kind::Refused),
            Note::OutOfFds { .. } | Note::AcceptFailed(_) => None,
        };
        if let Some(kind) = routine
            && level == Level::Info
            && !self.storm.admit(now, kind)
        {
            return;
        }
        log!(level, "{line}");
    }

    /// Logs the summary of a storm that has passed.
    fn summarise(&mut self, now: Instant) {
        if let Some(line) = self.storm.summary(now, self.connected) {
            log::info!("{line}");
        }
    }
}

//! One HTTP connection: its socket, what it sent that is not parsed yet,
//! and its bounded queue of response bytes.
//!
//! ```text
//!            request parsed: answer queued
//!          ┌──────────────┐
//!          v              │          GET /events
//!   ── Requests ──────────┴──────────────────────> Events (until it goes)
//!          │ Connection: close, a bad request, EOF
//!          v
//!       Closing: answers written ──> FIN ──> Lingering: input discarded
//!                                            until EOF or LINGER ──> closed
//! ```
//!
//! Reading stops while more than [`OUT_LIMIT`] bytes of answers wait, so
//! a client that pipelines requests without reading the answers is held
//! back by TCP itself and costs at most that much memory.

use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::request::{self, MAX_HEAD, Parse};
use super::response::Response;
use crate::hub::backlog::Backlog;

/// Answers queued beyond this pause the reading of further requests.
pub const OUT_LIMIT: usize = 128 * 1024;
/// A connection that sends no complete request for this long is closed
/// (idle keep-alive, or a head trickled in a byte at a time).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing connection's late input is read and discarded, so
/// that the close is a FIN after the answer rather than a reset that may
/// destroy it.
pub const LINGER: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Reading requests, answering each in turn.
    Requests,
    /// An event stream: input is discarded, events are queued.
    Events,
    /// Answers end with this one: write what is queued, then close.
    Closing,
    /// Written and shut down for writing; waiting for the peer's FIN.
    Lingering,
}

/// Why a connection is closed on the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Its queue waited [`crate::hub::STALL_LIMIT`] without a byte taken.
    Stalled,
    /// No complete request within [`REQUEST_TIMEOUT`].
    Idle,
    /// Its peer never closed within [`LINGER`] after the last answer.
    Lingered,
}

impl Expiry {
    pub fn why(self) -> &'static str {
        match self {
            Expiry::Stalled => "accepted no data for 60s",
            Expiry::Idle => "sent no complete request for 10s",
            Expiry::Lingered => "closed after its answer",
        }
    }
}

/// What reading a connection gave.
pub enum Next {
    Request(request::Request),
    /// Nothing complete yet, or no more requests on this connection.
    Wait,
    /// Answers fill the queue: reading waits until they are written.
    Full,
    /// The read budget is spent and more may be waiting.
    More,
    /// A malformed or oversized request: answer with this status and close.
    Bad(u16),
}

pub struct Conn {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub mode: Mode,
    /// Received, not yet parsed: never more than [`MAX_HEAD`] bytes.
    input: Vec<u8>,
    pub backlog: Backlog,
    /// Write interest is registered only while a backlog exists.
    want_write: bool,
    /// When the connection began to wait for its next request, or began
    /// lingering: the clock for [`REQUEST_TIMEOUT`] and [`LINGER`].
    pub since: Instant,
    /// Bytes read in this turn, against the read budget.
    read_this_turn: usize,
}

/// Client input read per readiness event before others get a turn.
pub const READ_BUDGET: usize = 64 * 1024;

impl Conn {
    pub fn new(stream: TcpStream, peer: SocketAddr, now: Instant) -> Conn {
        Conn {
            stream,
            peer,
            mode: Mode::Requests,
            input: Vec::new(),
            backlog: Backlog::new(now),
            want_write: false,
            since: now,
            read_this_turn: 0,
        }
    }

    /// The next request, reading more input as needed.
    pub fn next_request(&mut self, now: Instant) -> io::Result<Next> {
        loop {
            if self.mode != Mode::Requests {
                return Ok(Next::Wait);
            }
            if self.backlog.pending() >= OUT_LIMIT {
                return Ok(Next::Full);
            }
            match request::parse(&self.input) {
                Parse::Complete(req, len) => {
                    self.input.drain(..len);
                    self.since = now;
                    return Ok(Next::Request(req));
                }
                Parse::Bad(status) => {
                    self.input.clear();
                    return Ok(Next::Bad(status));
                }
                Parse::Partial => {}
            }
            if self.read_this_turn >= READ_BUDGET {
                return Ok(Next::More);
            }
            let mut buf = [0u8; 4096];
            let room = (MAX_HEAD - self.input.len()).min(buf.len());
            match self.stream.read(&mut buf[..room]) {
                Ok(0) => {
                    // The peer is done sending: a partial request never
                    // completes; answers already queued still go out.
                    self.input.clear();
                    self.mode = Mode::Closing;
                    return Ok(Next::Wait);
                }
                Ok(n) => {
                    self.read_this_turn += n;
                    self.input.extend_from_slice(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Next::Wait),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads and drops input (event streams, lingering). Ok(false): the
    /// peer closed; Ok(true) with the budget spent: more may wait.
    pub fn discard_input(&mut self) -> io::Result<bool> {
        let mut buf = [0u8; 4096];
        while self.read_this_turn < READ_BUDGET {
            match self.stream.read(&mut buf) {
                Ok(0) => return Ok(false),
                Ok(n) => self.read_this_turn += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// A new turn: the read budget starts again.
    pub fn new_turn(&mut self) {
        self.read_this_turn = 0;
    }

    pub fn budget_spent(&self) -> bool {
        self.read_this_turn >= READ_BUDGET
    }

    /// Queues an answer, the head and the body as separate shared pieces.
    pub fn queue(&mut self, response: &Response, head_only: bool, close: bool, now: Instant) {
        self.backlog
            .push(response.head(close).into(), usize::MAX, now);
        if !head_only && !response.body.is_empty() {
            self.backlog.push(response.body.clone(), usize::MAX, now);
        }
        if close {
            self.mode = Mode::Closing;
        }
    }

    /// Queues a piece of an event stream, within `limit` bytes; returns
    /// how many older events the bound dropped.
    pub fn queue_event(&mut self, event: Rc<[u8]>, limit: usize, now: Instant) -> u64 {
        self.backlog.push(event, limit, now)
    }

    /// Writes what the socket takes; watches for room only while something
    /// is left. A closing connection that has written everything shuts
    /// down its sending side and starts lingering.
    pub fn send(
        &mut self,
        registry: &Registry,
        token: Token,
        now: Instant,
        bytes_out: &mut u64,
    ) -> io::Result<()> {
        let had_answers = self.backlog.pending() > 0;
        let drained = self.backlog.flush(&mut self.stream, now, bytes_out)?;
        if drained {
            match self.mode {
                // The wait for the next request starts when the client
                // has taken the answers.
                Mode::Requests if had_answers => self.since = now,
                Mode::Requests => {}
                Mode::Closing => {
                    let _ = self.stream.shutdown(Shutdown::Write);
                    self.mode = Mode::Lingering;
                    self.since = now;
                }
                Mode::Events | Mode::Lingering => {}
            }
        }
        if self.want_write == drained {
            let interest = if drained {
                Interest::READABLE
            } else {
                Interest::READABLE | Interest::WRITABLE
            };
            registry.reregister(&mut self.stream, token, interest)?;
            self.want_write = !drained;
        }
        Ok(())
    }

    pub fn wants_write(&self) -> bool {
        self.want_write
    }

    /// Why this connection should be closed now, if it should.
    pub fn expired(&self, now: Instant) -> Option<Expiry> {
        let waited = now.saturating_duration_since(self.since);
        if self.backlog.stalled(now) {
            Some(Expiry::Stalled)
        } else if self.mode == Mode::Requests
            && self.backlog.pending() == 0
            && waited >= REQUEST_TIMEOUT
        {
            Some(Expiry::Idle)
        } else if self.mode == Mode::Lingering && waited >= LINGER {
            Some(Expiry::Lingered)
        } else {
            None
        }
    }

    pub fn close(mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.stream);
    }

    /// Closes with a FIN, for a clean exit.
    pub fn close_cleanly(mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.stream);
        let _ = self.discard_input();
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

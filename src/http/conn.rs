//! One HTTP connection's state: where it is in its life, and what it sent
//! that is not parsed yet. Its socket and bounded queue are its
//! [`Link`]'s, which the server owns.
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

use std::io;
use std::time::{Duration, Instant};

use mio::Registry;

use super::request::{self, MAX_HEAD, Parse};
use super::response::Response;
use crate::net::link::{Drain, Link};

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

/// Why a connection is closed on the clock (a stalled queue is the
/// server's to close).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// No complete request within [`REQUEST_TIMEOUT`].
    Idle,
    /// Its peer never closed within [`LINGER`] after the last answer.
    Lingered,
}

impl Expiry {
    pub fn why(self) -> String {
        match self {
            Expiry::Idle => format!(
                "sent no complete request for {}s",
                REQUEST_TIMEOUT.as_secs()
            ),
            Expiry::Lingered => "closed after its answer".into(),
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

/// One HTTP connection's own state, beside its [`Link`].
pub struct Session {
    pub mode: Mode,
    /// Received, not yet parsed: never more than [`MAX_HEAD`] bytes.
    input: Vec<u8>,
    /// When the connection began to wait for its next request, or began
    /// lingering: the clock for [`REQUEST_TIMEOUT`] and [`LINGER`].
    since: Instant,
}

impl Session {
    pub fn new(now: Instant) -> Session {
        Session {
            mode: Mode::Requests,
            input: Vec::new(),
            since: now,
        }
    }

    /// The next request, reading more input as needed.
    pub fn next_request(&mut self, link: &mut Link, now: Instant) -> io::Result<Next> {
        loop {
            if self.mode != Mode::Requests {
                return Ok(Next::Wait);
            }
            if link.backlog() >= OUT_LIMIT {
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
            if link.budget_spent() {
                return Ok(Next::More);
            }
            let mut buf = [0u8; 4096];
            let room = (MAX_HEAD - self.input.len()).min(buf.len());
            match link.read(&mut buf[..room]) {
                Ok(0) => {
                    // The peer is done sending: a partial request never
                    // completes; answers already queued still go out.
                    self.input.clear();
                    self.mode = Mode::Closing;
                    return Ok(Next::Wait);
                }
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Next::Wait),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads and drops input (event streams, lingering). Ok(false): the
    /// peer closed.
    pub fn discard_input(&mut self, link: &mut Link) -> io::Result<bool> {
        Ok(link.discard_input()? == Drain::Open)
    }

    /// Queues an answer, the head and the body as separate shared pieces.
    pub fn queue(
        &mut self,
        link: &mut Link,
        response: &Response,
        head_only: bool,
        close: bool,
        now: Instant,
    ) {
        link.queue(response.head(close).into(), usize::MAX, now);
        if !head_only && !response.body.is_empty() {
            link.queue(response.body.clone(), usize::MAX, now);
        }
        if close {
            self.mode = Mode::Closing;
        }
    }

    /// Writes what the socket takes. A closing connection that has written
    /// everything shuts down its sending side and starts lingering.
    pub fn send(&mut self, link: &mut Link, registry: &Registry, now: Instant) -> io::Result<()> {
        let had_answers = link.backlog() > 0;
        if link.flush(registry, now)? {
            match self.mode {
                // The wait for the next request starts when the client
                // has taken the answers.
                Mode::Requests if had_answers => self.since = now,
                Mode::Requests => {}
                Mode::Closing => {
                    link.shutdown_write();
                    self.mode = Mode::Lingering;
                    self.since = now;
                }
                Mode::Events | Mode::Lingering => {}
            }
        }
        Ok(())
    }

    /// Why this connection should be closed now, if it should.
    pub fn expired(&self, link: &Link, now: Instant) -> Option<Expiry> {
        let waited = now.saturating_duration_since(self.since);
        if self.mode == Mode::Requests && link.backlog() == 0 && waited >= REQUEST_TIMEOUT {
            Some(Expiry::Idle)
        } else if self.mode == Mode::Lingering && waited >= LINGER {
            Some(Expiry::Lingered)
        } else {
            None
        }
    }
}

//! What one kind of connection does on the shared [`super::server::Server`]:
//! a [`Handler`] owns its bytes, its clock and its words in the log; the
//! server owns accepting, the table, the queues and closing.

use std::net::SocketAddr;
use std::time::Instant;

use log::Level;
use mio::net::TcpStream;

use super::link::Link;
use crate::output::Context;

/// Something about connections worth a log line, in the handler's words
/// ([`Handler::words`]).
pub enum Note<'a> {
    Admitted,
    /// Closed, with why, and how many pieces it lost to its full queue.
    Closed {
        why: &'a str,
        missed: u64,
    },
    NotAllowed,
    /// Over [`super::server::Rules::limit`].
    Full,
    /// Out of file descriptors: accepting pauses; `first` of this shortage.
    OutOfFds {
        err: &'a std::io::Error,
        first: bool,
    },
    /// A waiting connection closed to free a descriptor.
    Shed,
    AcceptFailed(&'a std::io::Error),
}

/// One kind of connection: what it does with its bytes and its clock.
pub trait Handler {
    /// One connection's own state, beside its [`Link`].
    type Session;

    /// A connection was let in, beside the `others` served already: its
    /// state. It may queue first bytes.
    fn open(
        &mut self,
        link: &mut Link,
        others: &mut dyn Iterator<Item = (&Link, &Self::Session)>,
        now: Instant,
    ) -> Self::Session;

    /// Readiness, or input left over from the last turn: read, answer,
    /// write. `Err(why)` closes the connection.
    fn ready(
        &mut self,
        link: &mut Link,
        session: &mut Self::Session,
        readable: bool,
        writable: bool,
        cx: &Context,
    ) -> Result<(), String>;

    /// When [`Handler::on_time`] should run next, if sooner than the
    /// loop's one-second tick.
    fn due_at(&self) -> Option<Instant> {
        None
    }

    /// The clock, for each connection in turn (a stalled queue the server
    /// closes itself): `Err(why)` closes it; bytes queued are written.
    fn on_time(
        &mut self,
        _link: &mut Link,
        _session: &mut Self::Session,
        _now: Instant,
    ) -> Result<(), String> {
        Ok(())
    }

    /// After every connection had its [`Handler::on_time`].
    fn after_time(&mut self, _now: Instant) {}

    /// The connection closes: what it had may be remembered.
    fn closing(&mut self, _link: &Link, _session: &Self::Session) {}

    /// A connection refused for being over the limit may be told so
    /// before it is closed (HTTP's 503).
    fn turn_away(&mut self, _stream: &mut TcpStream) {}

    /// The log line for `note` about `peer`, with `connected` served now,
    /// and its level; None to say nothing.
    fn words(
        &self,
        note: &Note,
        peer: Option<SocketAddr>,
        connected: usize,
    ) -> Option<(Level, String)>;
}

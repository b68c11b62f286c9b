//! One accepted connection's transport: its socket, its bounded queue of
//! whole pieces, write interest held only while the queue has a backlog,
//! and a read budget per turn. What the bytes mean is the handler's.

use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::queue::Queue;

/// Input read from one connection per turn before others get theirs.
pub const READ_BUDGET: usize = 64 * 1024;

pub struct Link {
    pub stream: TcpStream,
    /// For log lines, and rules per host.
    pub peer: SocketAddr,
    token: Token,
    queue: Queue,
    /// Write interest is registered only while the queue has a backlog,
    /// so an idle connection costs no wake-ups.
    want_write: bool,
    /// Bytes read in this turn, against [`READ_BUDGET`].
    read_this_turn: usize,
    /// Bytes and whole pieces written, for the server's counters.
    pub written: u64,
    pub pieces: u64,
}

/// What reading and discarding input gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// Read until WouldBlock, or the budget is spent (more may wait).
    Open,
    /// The peer closed its sending side.
    Closed,
}

impl Link {
    pub(super) fn new(stream: TcpStream, peer: SocketAddr, token: Token, now: Instant) -> Link {
        Link {
            stream,
            peer,
            token,
            queue: Queue::new(now),
            want_write: false,
            read_this_turn: 0,
            written: 0,
            pieces: 0,
        }
    }

    /// Queues a piece, keeping at most `limit` bytes waiting (older
    /// unstarted pieces go first); returns how many were dropped.
    pub fn queue(&mut self, piece: Rc<[u8]>, limit: usize, now: Instant) -> u64 {
        self.queue.push(piece, limit, now)
    }

    /// Writes what the socket takes, one piece per `write`, and watches for
    /// room only while something is left. Returns whether the queue is empty.
    pub fn flush(&mut self, registry: &Registry, now: Instant) -> io::Result<bool> {
        let before = self.queue.completed;
        let drained = self.queue.flush(&mut self.stream, now, &mut self.written)?;
        self.pieces += self.queue.completed - before;
        if self.want_write == drained {
            let interest = if drained {
                Interest::READABLE
            } else {
                Interest::READABLE | Interest::WRITABLE
            };
            registry.reregister(&mut self.stream, self.token, interest)?;
            self.want_write = !drained;
        }
        Ok(drained)
    }

    /// Waits for room: a flush would only find the socket full again.
    pub fn wants_write(&self) -> bool {
        self.want_write
    }

    /// Bytes queued and not yet written.
    pub fn backlog(&self) -> usize {
        self.queue.pending()
    }

    /// Pieces this connection lost to its full queue.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped
    }

    /// Data waited [`super::STALL_LIMIT`] without a byte taken.
    pub fn stalled(&self, now: Instant) -> bool {
        self.queue.stalled(now)
    }

    /// Reads into `buf` within the turn's budget. `Ok(0)` is the peer's
    /// end; WouldBlock comes as an error, and so does a spent budget.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.budget_spent() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        loop {
            match self.stream.read(buf) {
                Ok(n) => {
                    self.read_this_turn += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads and throws away input within the budget: nothing a raw client
    /// or an event stream says goes anywhere, and certainly not to the meter.
    pub fn discard_input(&mut self) -> io::Result<Drain> {
        let mut buf = [0u8; 4096];
        while !self.budget_spent() {
            match self.read(&mut buf) {
                Ok(0) => return Ok(Drain::Closed),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Drain::Open),
                Err(e) => return Err(e),
            }
        }
        Ok(Drain::Open)
    }

    /// The budget of this turn is spent: more input may be waiting, and it
    /// raises no new readiness.
    pub fn budget_spent(&self) -> bool {
        self.read_this_turn >= READ_BUDGET
    }

    pub(super) fn new_turn(&mut self) {
        self.read_this_turn = 0;
    }

    /// Stops sending: written answers are followed by a FIN.
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Stops watching the socket and closes it.
    pub(super) fn close(mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.stream);
    }

    /// Closes with a FIN (not a reset), for a clean exit.
    pub(super) fn close_cleanly(mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.stream);
        // Unread input would turn the close into a reset.
        self.new_turn();
        let _ = self.discard_input();
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

//! One connected raw client: its socket, its queue, and the socket rules.

use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::HubStats;
use super::backlog::Backlog;

/// Client input read per readiness event before others get a turn.
const READ_BUDGET: usize = 64 * 1024;

pub struct Client {
    pub stream: TcpStream,
    /// For log lines, and the replay rule (per host).
    pub peer: SocketAddr,
    pub backlog: Backlog,
    /// Write interest is registered only while a backlog exists, so an idle
    /// client costs no wake-ups.
    pub want_write: bool,
    /// The number of the last valid telegram queued to it (0: none), for
    /// the replay rule: its host had that one.
    pub got: u64,
}

impl Client {
    pub fn new(stream: TcpStream, peer: SocketAddr, now: Instant) -> Client {
        Client {
            stream,
            peer,
            backlog: Backlog::new(now),
            want_write: false,
            got: 0,
        }
    }

    /// Queues a telegram; returns how many older ones the bound dropped.
    pub fn queue(&mut self, telegram: Rc<[u8]>, limit: usize, now: Instant) -> u64 {
        self.backlog.push(telegram, limit, now)
    }

    /// Writes what the socket takes, and watches for room only while
    /// something is left.
    pub fn send(
        &mut self,
        registry: &Registry,
        token: Token,
        now: Instant,
        stats: &mut HubStats,
    ) -> io::Result<()> {
        let before = self.backlog.completed;
        let drained = self
            .backlog
            .flush(&mut self.stream, now, &mut stats.bytes_out)?;
        stats.telegrams_out += self.backlog.completed - before;
        self.set_write_interest(registry, token, !drained)
    }

    fn set_write_interest(
        &mut self,
        registry: &Registry,
        token: Token,
        want: bool,
    ) -> io::Result<()> {
        if self.want_write != want {
            let interest = if want {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            registry.reregister(&mut self.stream, token, interest)?;
            self.want_write = want;
        }
        Ok(())
    }

    /// Stops watching the socket and closes it.
    pub fn close(mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.stream);
    }

    /// Closes with a FIN (not a reset), for a clean exit.
    pub fn close_cleanly(mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.stream);
        // Unread input would turn the close into a reset.
        let _ = discard_input(&mut self.stream);
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

pub enum Drain {
    /// Read until WouldBlock.
    Done,
    /// Budget used up; more may be waiting.
    More,
    /// The peer closed.
    Closed,
}

/// Reads and throws away client input: nothing a client says goes anywhere,
/// and certainly not to the meter.
pub fn discard_input(stream: &mut TcpStream) -> io::Result<Drain> {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(Drain::Closed),
            Ok(n) => {
                total += n;
                if total >= READ_BUDGET {
                    return Ok(Drain::More);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Drain::Done),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

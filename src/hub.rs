//! The TCP clients: accepting them, and fanning telegrams out to them.
//!
//! Each client has its own bounded queue of whole telegrams, so a slow or
//! dead client only ever loses its own oldest telegrams and never delays
//! anyone else. Every telegram is handed to the kernel with its own `write`
//! calls (never glued to its neighbour), because Domoticz needs '/' at the
//! start of a read and drops whatever follows the '!' line in the same read.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};
use socket2::{SockRef, TcpKeepalive};

use crate::allow::{Cidr, allowed};

/// A client that accepts no byte for this long while data waits is gone.
pub const STALL_LIMIT: Duration = Duration::from_secs(60);
/// A new client gets the last telegram only if it is younger than this.
pub const REPLAY_MAX_AGE: Duration = Duration::from_secs(15);
/// Client input read per readiness event before others get a turn.
const READ_BUDGET: usize = 64 * 1024;
/// How long accepting pauses when the process is out of file descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_secs(1);

/// Counters the hub keeps for the stats line.
#[derive(Debug, Default, Clone)]
pub struct HubStats {
    /// Telegrams (or raw chunks) handed to the hub for fan-out.
    pub broadcasts: u64,
    /// Bytes written to clients.
    pub bytes_out: u64,
    /// Telegrams dropped from full client queues.
    pub overflow_drops: u64,
    /// Clients accepted since start.
    pub accepted: u64,
    /// Connections closed at once: over --max-clients or out of fds.
    pub refused: u64,
    /// Clients disconnected for accepting nothing for [`STALL_LIMIT`].
    pub stalled: u64,
}

/// A client's queue of whole telegrams, bounded in bytes. Kept apart from the
/// socket so its rules can be tested against any writer.
struct Backlog {
    /// Telegrams not yet fully written; the front one may be partly written.
    queue: VecDeque<Rc<[u8]>>,
    /// Bytes of the front telegram already written.
    offset: usize,
    /// Bytes still to write across the whole queue: the bound applies to it.
    queued: usize,
    /// Last time the client took a byte, or began to owe one: the stall clock.
    last_progress: Instant,
    /// Telegrams this client lost to its full queue, for the disconnect log.
    dropped: u64,
}

impl Backlog {
    fn new(now: Instant) -> Backlog {
        Backlog {
            queue: VecDeque::new(),
            offset: 0,
            queued: 0,
            last_progress: now,
            dropped: 0,
        }
    }

    /// Appends a telegram, dropping the oldest unstarted ones while more than
    /// `limit` bytes wait. Returns how many were dropped.
    fn push(&mut self, telegram: Rc<[u8]>, limit: usize, now: Instant) -> u64 {
        if self.queue.is_empty() {
            self.last_progress = now;
        }
        self.queued += telegram.len();
        self.queue.push_back(telegram);
        // Never drop the partly written front (the client would get a torn
        // telegram) nor the newest one.
        let first_unstarted = usize::from(self.offset > 0);
        let mut dropped = 0;
        while self.queued > limit && self.queue.len() > first_unstarted + 1 {
            if let Some(old) = self.queue.remove(first_unstarted) {
                self.queued -= old.len();
                dropped += 1;
            }
        }
        self.dropped += dropped;
        dropped
    }

    /// Writes queued telegrams until done or `out` is full, one telegram per
    /// `write` call, never two in one. Returns whether the queue is now
    /// empty, and adds the bytes written to `written`.
    fn flush(&mut self, out: &mut impl Write, now: Instant, written: &mut u64) -> io::Result<bool> {
        while let Some(front) = self.queue.front() {
            match out.write(&front[self.offset..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.offset += n;
                    self.queued -= n;
                    self.last_progress = now;
                    *written += n as u64;
                    if self.offset == front.len() {
                        self.queue.pop_front();
                        self.offset = 0;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    fn stalled(&self, now: Instant) -> bool {
        !self.queue.is_empty() && now.duration_since(self.last_progress) >= STALL_LIMIT
    }
}

/// The rules for clients, from the command line.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Most clients served at once.
    pub max_clients: usize,
    /// Per-client queue bound in bytes.
    pub client_buffer: usize,
    /// Send a new client the last telegram if it is fresh.
    pub replay: bool,
    /// Address blocks allowed to connect; empty allows everyone.
    pub allow: Vec<Cidr>,
}

/// One connected client.
struct Client {
    stream: TcpStream,
    /// For log lines.
    peer: SocketAddr,
    backlog: Backlog,
    /// Write interest is registered only while a backlog exists, so an idle
    /// client costs no wake-ups.
    want_write: bool,
}

impl Client {
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
}

/// The set of connected clients and what they are owed.
pub struct Hub {
    /// Slots indexed by `token - first_token`; freed slots are reused.
    slots: Vec<Option<Client>>,
    free: Vec<usize>,
    /// Tokens from here up belong to clients.
    first_token: usize,
    connected: usize,
    policy: Policy,
    /// The last valid telegram and when it came, for new clients.
    last: Option<(Rc<[u8]>, Instant)>,
    /// Clients whose input was not drained within the read budget.
    unread: Vec<Token>,
    /// Accepting is paused until then after running out of fds.
    accept_paused_until: Option<Instant>,
    /// A spare descriptor, given up to accept-and-close a connection when
    /// out of fds, so the peer sees a close instead of hanging in the backlog.
    spare_fd: Option<std::fs::File>,
    pub stats: HubStats,
}

impl Hub {
    pub fn new(first_token: usize, policy: Policy) -> Hub {
        Hub {
            slots: Vec::new(),
            free: Vec::new(),
            first_token,
            connected: 0,
            policy,
            last: None,
            unread: Vec::new(),
            accept_paused_until: None,
            spare_fd: open_spare(),
            stats: HubStats::default(),
        }
    }

    pub fn client_count(&self) -> usize {
        self.connected
    }

    /// Whether some client input is still waiting to be read.
    pub fn has_unread(&self) -> bool {
        !self.unread.is_empty()
    }

    pub fn owns(&self, token: Token) -> bool {
        token.0 >= self.first_token
    }

    /// True once when a pause in accepting (out of fds) has run out: the
    /// caller should accept again, since connections that queued meanwhile
    /// raise no new readiness event.
    pub fn resume_due(&mut self, now: Instant) -> bool {
        if self.accept_paused_until.is_some_and(|until| now >= until) {
            self.accept_paused_until = None;
            return true;
        }
        false
    }

    /// Accepts every pending connection on `listener`.
    pub fn accept(&mut self, registry: &Registry, listener: &TcpListener, now: Instant) {
        if self.accept_paused_until.is_some_and(|until| now < until) {
            return;
        }
        loop {
            match listener.accept() {
                Ok((stream, peer)) => self.admit(registry, stream, peer, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_fd_exhaustion(&e) => {
                    self.shed(listener, &e, now);
                    return;
                }
                // The peer gave up before we got to it; others may be waiting.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) => {
                    warn!("accepting a client: {e}");
                    return;
                }
            }
        }
    }

    /// Out of file descriptors: close one waiting connection using the spare
    /// fd, then pause accepting briefly instead of spinning on the error.
    fn shed(&mut self, listener: &TcpListener, err: &io::Error, now: Instant) {
        warn!(
            "out of file descriptors ({err}) with {} clients: refusing new connections for {}s; \
             raise the limit (ulimit -n, LimitNOFILE=) or lower --max-clients",
            self.connected,
            ACCEPT_PAUSE.as_secs()
        );
        if self.spare_fd.take().is_some() {
            if let Ok((stream, peer)) = listener.accept() {
                info!("closed connection from {peer}: out of file descriptors");
                self.stats.refused += 1;
                drop(stream);
            }
            self.spare_fd = open_spare();
        }
        self.accept_paused_until = Some(now + ACCEPT_PAUSE);
    }

    fn admit(
        &mut self,
        registry: &Registry,
        mut stream: TcpStream,
        peer: SocketAddr,
        now: Instant,
    ) {
        if !allowed(&self.policy.allow, peer.ip()) {
            info!("refused {peer}: not in --allow");
            self.stats.refused += 1;
            return;
        }
        if self.connected >= self.policy.max_clients {
            info!(
                "refused {peer}: already serving {} clients (--max-clients)",
                self.connected
            );
            self.stats.refused += 1;
            return;
        }
        if let Err(e) = tune_socket(&stream) {
            debug!("{peer}: setting socket options: {e}");
        }
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let token = Token(self.first_token + index);
        if let Err(e) = registry.register(&mut stream, token, Interest::READABLE) {
            warn!("{peer}: cannot watch the connection: {e}");
            self.free.push(index);
            return;
        }
        let mut client = Client {
            stream,
            peer,
            backlog: Backlog::new(now),
            want_write: false,
        };
        self.connected += 1;
        self.stats.accepted += 1;
        info!("client {peer} connected ({} connected)", self.connected);
        let replay = match &self.last {
            Some((telegram, at))
                if self.policy.replay && now.duration_since(*at) < REPLAY_MAX_AGE =>
            {
                Some(telegram.clone())
            }
            _ => None,
        };
        let mut result = Ok(());
        if let Some(telegram) = replay {
            // An empty queue takes one telegram without dropping anything.
            client
                .backlog
                .push(telegram, self.policy.client_buffer, now);
            result = self.send(registry, token, &mut client, now);
        }
        self.slots[index] = Some(client);
        if let Err(e) = result {
            self.drop_client(registry, token, &format!("write error: {e}"));
        }
    }

    /// Remembers `telegram` as the one to replay to new clients.
    pub fn set_last(&mut self, telegram: Rc<[u8]>, now: Instant) {
        self.last = Some((telegram, now));
    }

    /// Whether `telegram` is the one forwarded last, byte for byte.
    pub fn is_last(&self, telegram: &[u8]) -> bool {
        self.last
            .as_ref()
            .is_some_and(|(last, _)| **last == *telegram)
    }

    /// Queues `telegram` for every client and writes it where the socket has room.
    pub fn broadcast(&mut self, registry: &Registry, telegram: &Rc<[u8]>, now: Instant) {
        self.stats.broadcasts += 1;
        for index in 0..self.slots.len() {
            let token = Token(self.first_token + index);
            let Some(mut client) = self.slots[index].take() else {
                continue;
            };
            self.stats.overflow_drops +=
                client
                    .backlog
                    .push(telegram.clone(), self.policy.client_buffer, now);
            // A client with a backlog already waits for writability; writing
            // now would only find the socket full again.
            let result = if client.want_write {
                Ok(())
            } else {
                self.send(registry, token, &mut client, now)
            };
            self.slots[index] = Some(client);
            if let Err(e) = result {
                self.drop_client(registry, token, &format!("write error: {e}"));
            }
        }
    }

    fn send(
        &mut self,
        registry: &Registry,
        token: Token,
        client: &mut Client,
        now: Instant,
    ) -> io::Result<()> {
        let drained = client
            .backlog
            .flush(&mut client.stream, now, &mut self.stats.bytes_out)?;
        client.set_write_interest(registry, token, !drained)
    }

    /// Handles readiness for a client socket.
    pub fn client_event(
        &mut self,
        registry: &Registry,
        token: Token,
        readable: bool,
        writable: bool,
        now: Instant,
    ) {
        let index = token.0 - self.first_token;
        let Some(mut client) = self.slots.get_mut(index).and_then(Option::take) else {
            return; // closed earlier in this batch of events
        };
        let mut outcome = Ok(());
        if readable {
            outcome = match discard_input(&mut client.stream) {
                Ok(Drain::Done) => Ok(()),
                Ok(Drain::More) => {
                    self.unread.push(token);
                    Ok(())
                }
                Ok(Drain::Closed) => Err("closed the connection".to_string()),
                Err(e) => Err(format!("read error: {e}")),
            };
        }
        if outcome.is_ok() && writable && client.want_write {
            outcome = self
                .send(registry, token, &mut client, now)
                .map_err(|e| format!("write error: {e}"));
        }
        self.slots[index] = Some(client);
        if let Err(why) = outcome {
            self.drop_client(registry, token, &why);
        }
    }

    /// Reads more from clients that had more input than one turn allowed.
    pub fn read_unread(&mut self, registry: &Registry, now: Instant) {
        for token in std::mem::take(&mut self.unread) {
            self.client_event(registry, token, true, false, now);
        }
    }

    /// Disconnects clients that have accepted nothing for [`STALL_LIMIT`].
    pub fn drop_stalled(&mut self, registry: &Registry, now: Instant) {
        for index in 0..self.slots.len() {
            let stalled = matches!(&self.slots[index], Some(c) if c.backlog.stalled(now));
            if stalled {
                self.stats.stalled += 1;
                let why = format!("accepted no data for {}s", STALL_LIMIT.as_secs());
                self.drop_client(registry, Token(self.first_token + index), &why);
            }
        }
    }

    fn drop_client(&mut self, registry: &Registry, token: Token, why: &str) {
        let index = token.0 - self.first_token;
        if let Some(mut client) = self.slots.get_mut(index).and_then(Option::take) {
            let _ = registry.deregister(&mut client.stream);
            self.free.push(index);
            self.connected -= 1;
            let lost = if client.backlog.dropped > 0 {
                format!(
                    "; it missed {} telegrams to its full queue",
                    client.backlog.dropped
                )
            } else {
                String::new()
            };
            let peer = client.peer;
            // Closed before the log line says so.
            drop(client);
            info!(
                "client {peer} disconnected: {why}{lost} ({} connected)",
                self.connected
            );
        }
    }

    /// Closes every client with a FIN (not a reset), for a clean exit.
    pub fn close_all(&mut self, registry: &Registry) {
        for slot in &mut self.slots {
            if let Some(mut client) = slot.take() {
                let _ = registry.deregister(&mut client.stream);
                // Unread input would turn the close into a reset.
                let _ = discard_input(&mut client.stream);
                let _ = client.stream.shutdown(Shutdown::Both);
            }
        }
        self.connected = 0;
    }
}

enum Drain {
    /// Read until WouldBlock.
    Done,
    /// Budget used up; more may be waiting.
    More,
    /// The peer closed.
    Closed,
}

/// Reads and throws away client input: nothing a client says goes anywhere,
/// and certainly not to the meter.
fn discard_input(stream: &mut TcpStream) -> io::Result<Drain> {
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

/// Telegrams must leave at once, and a client that vanished without a FIN
/// (power cut, Wi-Fi gone) must be noticed within minutes, not hours.
fn tune_socket(stream: &TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let keepalive = TcpKeepalive::new()
        .with_time(Duration::from_secs(60))
        .with_interval(Duration::from_secs(10))
        .with_retries(5);
    SockRef::from(stream).set_tcp_keepalive(&keepalive)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket stand-in: takes at most `room` bytes, then WouldBlock, and
    /// records each write call separately.
    struct FakeSocket {
        room: usize,
        writes: Vec<Vec<u8>>,
    }

    impl Write for FakeSocket {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.writes.push(buf[..n].to_vec());
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn telegram(tag: u8, len: usize) -> Rc<[u8]> {
        vec![tag; len].into()
    }

    fn contents(b: &Backlog) -> Vec<(u8, usize)> {
        b.queue.iter().map(|t| (t[0], t.len())).collect()
    }

    #[test]
    fn one_write_per_telegram() {
        let now = Instant::now();
        let mut b = Backlog::new(now);
        let mut sock = FakeSocket {
            room: 10_000,
            writes: vec![],
        };
        let mut written = 0;
        for tag in [b'a', b'b', b'c'] {
            b.push(telegram(tag, 100), 1000, now);
        }
        assert!(b.flush(&mut sock, now, &mut written).unwrap());
        assert_eq!(
            sock.writes,
            vec![vec![b'a'; 100], vec![b'b'; 100], vec![b'c'; 100]]
        );
        assert_eq!(written, 300);
    }

    #[test]
    fn bound_drops_oldest_keeps_newest() {
        let now = Instant::now();
        let mut b = Backlog::new(now);
        let mut dropped = 0;
        for (tag, len) in [(b'a', 100), (b'b', 200), (b'c', 300), (b'd', 400)] {
            dropped += b.push(telegram(tag, len), 700, now);
        }
        assert_eq!(contents(&b), vec![(b'c', 300), (b'd', 400)]);
        assert_eq!((dropped, b.dropped, b.queued), (2, 2, 700));
    }

    #[test]
    fn bound_spares_partly_written_front() {
        let now = Instant::now();
        let mut b = Backlog::new(now);
        let mut sock = FakeSocket {
            room: 10,
            writes: vec![],
        };
        let mut written = 0;
        b.push(telegram(b'a', 100), 700, now);
        assert!(!b.flush(&mut sock, now, &mut written).unwrap());
        for (tag, len) in [(b'b', 200), (b'c', 300), (b'd', 400)] {
            b.push(telegram(tag, len), 700, now);
        }
        // 'a' is half sent: dropping it would tear the telegram for the client.
        assert_eq!(contents(&b), vec![(b'a', 100), (b'd', 400)]);
        assert_eq!(b.queued, 90 + 400);
        sock.room = usize::MAX;
        assert!(b.flush(&mut sock, now, &mut written).unwrap());
        assert_eq!(sock.writes.concat().len(), 500);
        assert_eq!(sock.writes.last().unwrap(), &vec![b'd'; 400]);
    }

    #[test]
    fn stall_clock_runs_only_while_data_waits() {
        let start = Instant::now();
        let mut b = Backlog::new(start);
        let later = start + STALL_LIMIT * 2;
        assert!(!b.stalled(later), "an idle client is never stalled");
        b.push(telegram(b'a', 10), 700, later);
        assert!(!b.stalled(later + STALL_LIMIT / 2));
        assert!(b.stalled(later + STALL_LIMIT));
        let mut sock = FakeSocket {
            room: 1,
            writes: vec![],
        };
        let mut written = 0;
        let progress = later + STALL_LIMIT / 2;
        b.flush(&mut sock, progress, &mut written).unwrap();
        assert!(
            !b.stalled(later + STALL_LIMIT),
            "one byte taken restarts the clock"
        );
    }
}

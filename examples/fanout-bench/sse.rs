//! Server-sent-event clients of p1mux's `/events`, read on a thread of
//! their own (one poll): each must get every measured telegram's event,
//! byte for byte and in order, stamped with the kernel's receive time.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use p1mux_testkit::net::{self, StampedRecv};

use crate::expect::Expected;

/// One event stream, and what it received.
pub struct Stream {
    stream: TcpStream,
    buf: Vec<u8>,
    /// The response head has been read (and was a 200).
    head: bool,
    warm: bool,
    pub closed: bool,
    next: usize,
    /// Per measured telegram: when its event's last byte arrived, or 0.
    pub arrived: Vec<i64>,
    /// Telegram events that were not what p1mux should have sent.
    pub corrupt: usize,
    /// Telegram events that came again or out of order.
    pub disorder: usize,
}

/// What the reading thread shares with the bench while it runs.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// Streams that have had a warm-up telegram's event (or closed).
    warm: AtomicUsize,
    /// Measured events received so far, over all streams.
    arrived: AtomicUsize,
}

/// N event streams being read.
pub struct Streams {
    shared: Arc<Shared>,
    thread: JoinHandle<Vec<Stream>>,
    n: usize,
    /// Measured telegrams per stream.
    count: usize,
}

impl Streams {
    /// Opens `n` streams on 127.0.0.1:`port`; telegrams `first..first +
    /// count` of `expected` are measured, those before are warm-ups.
    pub fn open(
        n: usize,
        port: u16,
        expected: Arc<Expected>,
        first: usize,
        count: usize,
    ) -> Result<Streams, String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut streams = Vec::with_capacity(n);
        for i in 0..n {
            let failed = |e: io::Error| format!("event stream {} of {n}: {e}", i + 1);
            let mut std = net::connect_paced(port, deadline).map_err(failed)?;
            std.write_all(b"GET /events HTTP/1.1\r\nHost: bench\r\n\r\n")
                .map_err(failed)?;
            std.set_nonblocking(true).map_err(failed)?;
            net::enable_rx_timestamps(&std).map_err(failed)?;
            streams.push(Stream {
                stream: TcpStream::from_std(std),
                buf: Vec::with_capacity(8192),
                head: false,
                warm: false,
                closed: false,
                next: 0,
                arrived: vec![0; count],
                corrupt: 0,
                disorder: 0,
            });
        }
        let poll = Poll::new().map_err(|e| format!("creating a poll: {e}"))?;
        for (i, s) in streams.iter_mut().enumerate() {
            poll.registry()
                .register(&mut s.stream, Token(i), Interest::READABLE)
                .map_err(|e| format!("watching event stream {}: {e}", i + 1))?;
        }
        let shared = Arc::new(Shared::default());
        let reader = Reader {
            poll,
            streams,
            expected,
            first,
            shared: shared.clone(),
        };
        let thread = std::thread::spawn(move || reader.run());
        Ok(Streams {
            shared,
            thread,
            n,
            count,
        })
    }

    /// How many streams were opened.
    pub fn opened(&self) -> usize {
        self.n
    }

    pub fn all_warm(&self) -> bool {
        self.shared.warm.load(Ordering::Relaxed) >= self.n
    }

    /// Waits until every stream has every measured event, or none came for
    /// `grace`; then stops reading and hands over what each received.
    pub fn finish(self, grace: Duration, give_up: Instant) -> Vec<Stream> {
        let total = self.n * self.count;
        let mut progress = (usize::MAX, Instant::now());
        loop {
            let now = Instant::now();
            let arrived = self.shared.arrived.load(Ordering::Relaxed);
            if arrived != progress.0 {
                progress = (arrived, now);
            }
            if arrived >= total || self.thread.is_finished() {
                break;
            }
            if now >= progress.1 + grace || now >= give_up {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.shared.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// The reading thread's state.
struct Reader {
    poll: Poll,
    streams: Vec<Stream>,
    expected: Arc<Expected>,
    first: usize,
    shared: Arc<Shared>,
}

impl Reader {
    fn run(mut self) -> Vec<Stream> {
        let mut events = Events::with_capacity(64);
        let (mut recv, mut scratch) = (StampedRecv::default(), vec![0; 64 * 1024]);
        while !self.shared.stop.load(Ordering::Relaxed) {
            match self.poll.poll(&mut events, Some(Duration::from_millis(20))) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
            for event in events.iter() {
                let Some(s) = self.streams.get_mut(event.token().0) else {
                    continue;
                };
                let (was_warm, had) = (s.warm || s.closed, s.next);
                // Edge-triggered: read until the socket is empty.
                while !s.closed {
                    match recv.recv(&s.stream, &mut scratch) {
                        Ok((0, _)) => s.closed = true,
                        Ok((n, ts)) => {
                            let ts = ts.unwrap_or_else(net::realtime_ns);
                            s.feed(&scratch[..n], ts, &self.expected, self.first);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => s.closed = true,
                    }
                }
                if !was_warm && (s.warm || s.closed) {
                    self.shared.warm.fetch_add(1, Ordering::Relaxed);
                }
                let more = s.next - had;
                self.shared.arrived.fetch_add(more, Ordering::Relaxed);
            }
        }
        self.streams
    }
}

impl Stream {
    /// Takes bytes that reached the socket at `ts`: the response head,
    /// then events, each ending with an empty line.
    fn feed(&mut self, bytes: &[u8], ts: i64, expected: &Expected, first: usize) {
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        if !self.head {
            let Some(end) = find(&self.buf, b"\r\n\r\n") else {
                return;
            };
            if !self.buf.starts_with(b"HTTP/1.1 200 ") {
                self.closed = true; // no stream: every event counts as lost
                return;
            }
            (self.head, start) = (true, end + 4);
        }
        while let Some(len) = find(&self.buf[start..], b"\n\n") {
            let event = &self.buf[start..start + len + 2];
            start += len + 2;
            // `status` events (once a second) and `retry:` are not telegrams.
            if !event.starts_with(b"event: telegram\n") {
                continue;
            }
            match expected.index(event) {
                Some(i) if i < first => self.warm = true,
                Some(i) if event != expected.event(i) => self.corrupt += 1,
                Some(i) if i - first >= self.next && i - first < self.arrived.len() => {
                    self.arrived[i - first] = ts;
                    self.next = i - first + 1;
                }
                Some(_) => self.disorder += 1,
                None => self.corrupt += 1,
            }
        }
        self.buf.drain(..start);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

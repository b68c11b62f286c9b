//! Load for fan-out measurements: numbered telegrams, and a crowd of TCP
//! clients on one poll that checks each client got every telegram, byte for
//! byte and in order, noting when each arrived (kernel receive time).

use std::collections::HashMap;
use std::io;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::net::{self, StampedRecv};
use crate::samples::{crc_ok, set_crc};

/// The timestamp object; its 13-character value tells telegrams apart.
const STAMP: &[u8] = b"0-0:1.0.0(";
const STAMP_LEN: usize = 13;

/// Copies of one telegram, each with its own timestamp and CRC, so that a
/// client's stream tells which telegram arrived, and whether in order.
pub struct Numbered {
    all: Vec<Vec<u8>>,
    by_stamp: HashMap<[u8; STAMP_LEN], usize>,
}

impl Numbered {
    /// `count` copies of `sample` (a DSMR 4+ telegram with a CRC), the
    /// timestamp one second later in each, from 2018-12-02 06:09:10 on.
    pub fn new(sample: &[u8], count: usize) -> Result<Numbered, String> {
        if !crc_ok(sample) {
            return Err("the sample has no valid CRC to renew".into());
        }
        let at = find(sample, STAMP).ok_or("the sample has no 0-0:1.0.0 timestamp")?;
        let at = at + STAMP.len();
        if count > 28 * 86_400 {
            return Err(format!(
                "{count} telegrams: more than 4 weeks of timestamps"
            ));
        }
        let mut all = Vec::with_capacity(count);
        let mut by_stamp = HashMap::with_capacity(count);
        for i in 0..count {
            let secs = 6 * 3600 + 9 * 60 + 10 + i;
            let (day, s) = (2 + secs / 86_400, secs % 86_400);
            let stamp = format!(
                "1812{day:02}{:02}{:02}{:02}W",
                s / 3600,
                s / 60 % 60,
                s % 60
            );
            let mut t = sample.to_vec();
            t[at..at + STAMP_LEN].copy_from_slice(stamp.as_bytes());
            set_crc(&mut t);
            by_stamp.insert(stamp.as_bytes().try_into().unwrap(), i);
            all.push(t);
        }
        Ok(Numbered { all, by_stamp })
    }

    pub fn get(&self, i: usize) -> &[u8] {
        &self.all[i]
    }

    pub fn len(&self) -> usize {
        self.all.len()
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// Which telegram `unit` is, if it is one of ours, byte for byte.
    pub fn identify(&self, unit: &[u8]) -> Option<usize> {
        let at = find(unit, STAMP)? + STAMP.len();
        let stamp: [u8; STAMP_LEN] = unit.get(at..at + STAMP_LEN)?.try_into().ok()?;
        let i = *self.by_stamp.get(&stamp)?;
        (self.all[i] == unit).then_some(i)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One client of the crowd, and what it received.
pub struct Client {
    stream: TcpStream,
    /// Bytes of a telegram not yet complete.
    buf: Vec<u8>,
    /// Received some warm-up telegram: the server has this client.
    pub warm: bool,
    /// The server closed it (or it broke).
    pub closed: bool,
    /// The next measured telegram expected, counted from the first measured.
    pub next: usize,
    /// Per measured telegram: the kernel receive time of its last byte, or 0.
    pub arrived: Vec<i64>,
    /// Bytes between telegrams or inside broken ones, while measuring.
    pub junk: usize,
    /// Whole units that were no telegram of ours (torn, altered).
    pub corrupt: usize,
    /// Telegrams that came again or out of order.
    pub disorder: usize,
}

impl Client {
    /// Takes bytes that reached the socket at `ts`; every telegram they
    /// complete is stamped with it. Telegrams before `first` are warm-ups.
    fn feed(&mut self, bytes: &[u8], ts: i64, tg: &Numbered, first: usize) {
        self.buf.extend_from_slice(bytes);
        let measuring = !self.arrived.is_empty();
        let mut start = 0;
        while start < self.buf.len() {
            let rest = &self.buf[start..];
            if rest[0] != b'/' {
                // Not a telegram start: a torn tail (ser2net, warm-up) or damage.
                let skip = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
                self.junk += if measuring { skip } else { 0 };
                start += skip;
                continue;
            }
            // A unit ends with the line after "\r\n!".
            let Some(bang) = find(rest, b"\r\n!") else {
                break;
            };
            let Some(eol) = rest[bang + 3..].iter().position(|&b| b == b'\n') else {
                break;
            };
            let end = bang + 3 + eol + 1;
            match tg.identify(&rest[..end]) {
                Some(i) if i < first => self.warm = true,
                Some(i) if i - first >= self.next && i - first < self.arrived.len() => {
                    self.arrived[i - first] = ts;
                    self.next = i - first + 1;
                }
                Some(_) => self.disorder += 1,
                None => self.corrupt += usize::from(measuring),
            }
            start += end;
        }
        self.buf.drain(..start);
    }

    /// Has every measured telegram, or will get no more.
    pub fn complete(&self) -> bool {
        self.closed || self.arrived.iter().all(|&t| t != 0)
    }
}

/// N clients of one server, read on one poll.
pub struct Crowd {
    poll: Poll,
    events: Events,
    clients: Vec<Client>,
    recv: StampedRecv,
    scratch: Vec<u8>,
    /// The index of the first measured telegram; those before are warm-ups.
    first: usize,
}

impl Crowd {
    /// Connects `n` clients to 127.0.0.1:`port`, at the rate the server
    /// accepts them, each with kernel receive timestamps on.
    pub fn connect(n: usize, port: u16, deadline: Instant) -> Result<Crowd, String> {
        let poll = Poll::new().map_err(|e| format!("creating a poll: {e}"))?;
        let mut clients = Vec::with_capacity(n);
        for i in 0..n {
            let failed = |e: io::Error| format!("client {} of {n}: {e}", i + 1);
            let std = net::connect_paced(port, deadline).map_err(failed)?;
            std.set_nonblocking(true).map_err(failed)?;
            net::enable_rx_timestamps(&std).map_err(failed)?;
            let mut stream = TcpStream::from_std(std);
            poll.registry()
                .register(&mut stream, Token(i), Interest::READABLE)
                .map_err(failed)?;
            clients.push(Client {
                stream,
                buf: Vec::with_capacity(4096),
                warm: false,
                closed: false,
                next: 0,
                arrived: Vec::new(),
                junk: 0,
                corrupt: 0,
                disorder: 0,
            });
        }
        Ok(Crowd {
            poll,
            events: Events::with_capacity(1024),
            clients,
            recv: StampedRecv::default(),
            scratch: vec![0; 64 * 1024],
            first: usize::MAX,
        })
    }

    pub fn clients(&self) -> &[Client] {
        &self.clients
    }

    /// Reads whatever arrives within `wait`.
    pub fn pump(&mut self, wait: Duration, tg: &Numbered) {
        match self.poll.poll(&mut self.events, Some(wait)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return,
            Err(e) => panic!("poll: {e}"),
        }
        for event in self.events.iter() {
            let Some(c) = self.clients.get_mut(event.token().0) else {
                continue;
            };
            // Edge-triggered: read until the socket is empty.
            while !c.closed {
                match self.recv.recv(&c.stream, &mut self.scratch) {
                    Ok((0, _)) => c.closed = true,
                    Ok((n, ts)) => {
                        let ts = ts.unwrap_or_else(net::realtime_ns);
                        c.feed(&self.scratch[..n], ts, tg, self.first);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => c.closed = true,
                }
            }
        }
    }

    /// Pumps until `until`, or until `done` holds.
    pub fn pump_until(&mut self, until: Instant, tg: &Numbered, done: impl Fn(&Crowd) -> bool) {
        while !done(self) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            self.pump(left.min(Duration::from_millis(20)), tg);
        }
    }

    /// Every client has had a warm-up telegram (or is closed).
    pub fn all_warm(&self) -> bool {
        self.clients.iter().all(|c| c.warm || c.closed)
    }

    /// From now on telegrams `first..first + count` are measured.
    pub fn begin_measuring(&mut self, first: usize, count: usize) {
        self.first = first;
        for c in &mut self.clients {
            c.next = 0;
            c.arrived = vec![0; count];
            (c.junk, c.corrupt, c.disorder) = (0, 0, 0);
        }
    }

    /// Measured telegrams received so far, over all clients.
    pub fn arrived(&self) -> usize {
        self.clients.iter().map(|c| c.next).sum()
    }

    pub fn all_complete(&self) -> bool {
        self.clients.iter().all(Client::complete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::{SAMPLES, corrupt};
    use std::io::Write;
    use std::net::TcpListener;

    #[test]
    fn numbered_telegrams_are_valid_distinct_and_recognised() {
        let tg = Numbered::new(SAMPLES[6], 3).unwrap();
        assert_eq!(tg.len(), 3);
        for i in 0..3 {
            assert!(crc_ok(tg.get(i)));
            assert_eq!(tg.identify(tg.get(i)), Some(i));
        }
        assert_ne!(tg.get(0), tg.get(1));
        assert_eq!(
            tg.identify(&corrupt(tg.get(1))),
            None,
            "only ours, byte for byte"
        );
        assert!(Numbered::new(SAMPLES[0], 1).is_err(), "DSMR 2.2 has no CRC");
    }

    #[test]
    fn a_crowd_tells_delivered_lost_and_broken_telegrams_apart() {
        let tg = Numbered::new(SAMPLES[6], 5).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let deadline = Instant::now() + crate::PATIENCE;
        let mut crowd = Crowd::connect(2, port, deadline).unwrap();
        let mut servers: Vec<_> = (0..2).map(|_| listener.accept().unwrap().0).collect();
        for s in &mut servers {
            s.write_all(tg.get(0)).unwrap();
        }
        crowd.pump_until(deadline, &tg, Crowd::all_warm);
        assert!(crowd.all_warm());
        crowd.begin_measuring(1, 3);
        // Client 0 gets all three; client 1 the third, then the second
        // again, junk, and a torn one run into the next; then it is closed.
        servers[0]
            .write_all(&[tg.get(1), tg.get(2), tg.get(3)].concat())
            .unwrap();
        let torn = &tg.get(2)[..500];
        let rest = [tg.get(3), tg.get(2), b"xx", torn, tg.get(4)].concat();
        servers[1].write_all(&rest).unwrap();
        drop(servers.pop());
        crowd.pump_until(deadline, &tg, Crowd::all_complete);
        let [a, b] = crowd.clients() else { panic!() };
        assert!(a.arrived.iter().all(|&t| t > 0) && a.corrupt + a.junk + a.disorder == 0);
        assert!(b.closed && b.arrived[0] == 0 && b.arrived[2] > 0);
        assert_eq!(
            (b.disorder, b.junk, b.corrupt),
            (1, 2, 1),
            "late 2, xx, torn 2+4"
        );
        assert_eq!(crowd.arrived(), 3 + 3);
    }
}

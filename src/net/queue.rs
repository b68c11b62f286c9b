//! A connection's queue of whole pieces (telegrams, answers, events),
//! bounded in bytes, kept apart from the socket so that its rules can be
//! tested against any writer.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::rc::Rc;
use std::time::Instant;

use super::STALL_LIMIT;

/// A connection's queue of whole pieces, bounded in bytes.
pub struct Queue {
    /// Telegrams not yet fully written; the front one may be partly written.
    queue: VecDeque<Rc<[u8]>>,
    /// Bytes of the front telegram already written.
    offset: usize,
    /// Bytes still to write across the whole queue: the bound applies to it.
    queued: usize,
    /// Last time the client took a byte, or began to owe one: the stall clock.
    last_progress: Instant,
    /// Telegrams this client lost to its full queue, for the disconnect log.
    pub dropped: u64,
    /// Telegrams written whole, for the stats line.
    pub completed: u64,
}

impl Queue {
    pub fn new(now: Instant) -> Queue {
        Queue {
            queue: VecDeque::new(),
            offset: 0,
            queued: 0,
            last_progress: now,
            dropped: 0,
            completed: 0,
        }
    }

    /// Appends a telegram, dropping the oldest unstarted ones while more than
    /// `limit` bytes wait. Returns how many were dropped.
    pub fn push(&mut self, telegram: Rc<[u8]>, limit: usize, now: Instant) -> u64 {
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
    pub fn flush(
        &mut self,
        out: &mut impl Write,
        now: Instant,
        written: &mut u64,
    ) -> io::Result<bool> {
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
                        self.completed += 1;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Bytes still to write.
    pub fn pending(&self) -> usize {
        self.queued
    }

    pub fn stalled(&self, now: Instant) -> bool {
        !self.queue.is_empty() && now.duration_since(self.last_progress) >= STALL_LIMIT
    }
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

    fn contents(b: &Queue) -> Vec<(u8, usize)> {
        b.queue.iter().map(|t| (t[0], t.len())).collect()
    }

    #[test]
    fn one_write_per_telegram() {
        let now = Instant::now();
        let mut b = Queue::new(now);
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
        let mut b = Queue::new(now);
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
        let mut b = Queue::new(now);
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
        let mut b = Queue::new(start);
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

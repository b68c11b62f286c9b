//! Takes encrypted frames out of the byte stream and passes everything
//! else on, unchanged and in order, to the text framer.
//!
//! The common path is a DSMR text meter, and it costs one `memchr` for 0xDB
//! per read: none is found, and the read goes on as one text piece. Only a
//! 0xDB and what follows it are held back, as long as they might still be a
//! frame. A text stream never holds anything back for long: 8N1 ASCII has
//! no 0xDB at all, and in 7E1 read as 8N1 (parity in bit 7) 0xDB is '[',
//! but 0x08 has odd parity and arrives as 0x88: a '[' is released as soon
//! as one of the 3 bytes after the next is not a letter, always within 14.
//!
//! False starts, and what resyncs them:
//! - A 0xDB whose header does not hold up ([`super::frame::judge`]) goes
//!   back to the text side, and the search starts again at the byte after
//!   it. A header with one thing wrong (title length, length, security
//!   byte) is also reported; only whole frames leave the text side.
//! - A header whose length swallows the next frame: inside a claimed
//!   frame, 0xDB 0x08 followed by the system title of that frame or of one
//!   of the last two whole frames begins a new one (ten given bytes:
//!   ciphertext holds them about once in 2^80), and the cut one is
//!   reported as truncated. Its bytes are dropped: they were an encrypted
//!   frame, not text. When the claimed length ends within the next frame's
//!   first 9 bytes, the cut frame goes out whole (its tag will fail) and
//!   its last bytes are kept as the next frame's start if they begin like
//!   one of a recent meter: no frame waits for the next one to be sent.
//! - No rescan after a tag failure: a frame whose tag fails was whole by
//!   its structure, and any frame start inside it that a rescan could find
//!   (0xDB 0x08 and this meter's title) was already looked for. Only the
//!   first frame after a start can hide behind a false header in noise,
//!   once in about 2^32 noise bytes.

use memchr::memchr;

use super::Reject;
use super::frame::{self, Frame, Header, START, SystemTitle, TITLE_LEN};

/// What the splitter makes of the input, in stream order.
#[derive(Debug)]
pub enum Piece<'a> {
    /// Bytes that are not part of an encrypted frame: feed them to the
    /// text framer. Consecutive pieces are consecutive bytes.
    Text(&'a [u8]),
    /// A structurally whole encrypted frame.
    Frame(Frame<'a>),
    /// Something that began as an encrypted frame and was not one.
    Rejected(Reject),
}

/// Incremental splitter. Feed it whatever the port delivers, in pieces of
/// any size; it keeps at most one partial frame ([`MAX_FRAME`]) between
/// calls.
#[derive(Debug)]
pub struct Splitter {
    /// The candidate being held back: starts with 0xDB, or is empty.
    buf: Vec<u8>,
    /// The candidate's header holds: its length and security byte.
    frame: Option<(usize, usize)>,
    /// Where in `buf` to look next for a frame starting inside the
    /// candidate; everything before has been looked at.
    search_from: usize,
    /// The system titles of the last two whole frames, newest first: a
    /// frame from this meter may begin inside a claimed one.
    recent: [Option<SystemTitle>; 2],
    /// Bytes at the front of `buf` that were the tail of the frame just
    /// sent: a cut frame's claimed length may have run into the next frame's
    /// first 9 bytes. They are never text, and only make a frame with
    /// 0xDB 0x08 and a recent title.
    overlap: usize,
}

impl Default for Splitter {
    fn default() -> Splitter {
        Splitter::new()
    }
}

impl Splitter {
    pub fn new() -> Splitter {
        Splitter {
            buf: Vec::with_capacity(1024),
            frame: None,
            search_from: 1,
            recent: [None; 2],
            overlap: 0,
        }
    }

    /// Bytes held back as a possible frame (at most [`MAX_FRAME`]).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Forgets a partial frame (the port was reopened: its tail will never
    /// come) and the meters seen.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.frame = None;
        self.search_from = 1;
        self.recent = [None; 2];
        self.overlap = 0;
    }

    /// Feeds `input`, calling `sink` for each piece, in stream order.
    pub fn push(&mut self, input: &[u8], mut sink: impl FnMut(Piece<'_>)) {
        self.feed(input, &mut sink);
    }

    fn feed(&mut self, mut input: &[u8], sink: &mut dyn FnMut(Piece<'_>)) {
        loop {
            if self.buf.is_empty() {
                let Some(at) = memchr(START, input) else {
                    if !input.is_empty() {
                        sink(Piece::Text(input));
                    }
                    return;
                };
                if at > 0 {
                    sink(Piece::Text(&input[..at]));
                }
                self.buf.push(START);
                input = &input[at + 1..];
            }
            let Some((len, security_at)) = self.frame else {
                let verdict = if self.overlap > 0 && !self.recent_start(&self.buf) {
                    Header::NotAFrame
                } else {
                    frame::judge(&self.buf)
                };
                match verdict {
                    Header::NeedMore => {
                        // One byte at a time: a header is decided within
                        // 14 bytes, and nothing past the deciding byte is
                        // taken.
                        let Some((&next, rest)) = input.split_first() else {
                            return;
                        };
                        self.buf.push(next);
                        input = rest;
                    }
                    Header::NotAFrame => self.release(sink),
                    Header::Bad(reason) => {
                        sink(Piece::Rejected(reason));
                        self.release(sink);
                    }
                    Header::Frame { len, security_at } => {
                        self.frame = Some((len, security_at));
                    }
                }
                continue;
            };
            let take = (len - self.buf.len()).min(input.len());
            self.buf.extend_from_slice(&input[..take]);
            input = &input[take..];
            if let Some(at) = self.next_start() {
                sink(Piece::Rejected(Reject::Truncated));
                // The new frame's bytes so far are fed again, as if they
                // came now: after a burst (an ESP dongle or ser2net gives
                // many frames in one read) they may hold more than one
                // frame, and more than its length (issue 18). Fed one by
                // one, they would have been just its first 10 bytes. Each
                // nested feed holds fewer bytes than the one it came from
                // (at most MAX_FRAME), so the nesting is bounded.
                let held = self.buf.split_off(at);
                self.drop_front(at);
                self.feed(&held, sink);
                continue;
            }
            if self.buf.len() < len {
                return;
            }
            let frame = Frame::new(&self.buf, security_at);
            if self.recent[0] != Some(frame.system_title) {
                self.recent = [Some(frame.system_title), self.recent[0]];
            }
            sink(Piece::Frame(frame));
            let tail = (len.saturating_sub(9).max(1)..len)
                .find(|&at| self.buf[at] == START && self.recent_start(&self.buf[at..]));
            self.drop_front(tail.unwrap_or(len));
            self.overlap = self.buf.len();
        }
    }

    /// Drops the first `n` bytes held, and with them the candidate they
    /// began; what is left (if anything) starts with 0xDB.
    fn drop_front(&mut self, n: usize) {
        self.buf.drain(..n);
        self.overlap = self.overlap.saturating_sub(n);
        self.frame = None;
        self.search_from = 1;
    }

    /// The candidate is not a frame: its 0xDB, and everything up to the
    /// next 0xDB in what was held, goes to the text side (less what was
    /// part of the last frame); that 0xDB, if any, is the next candidate.
    fn release(&mut self, sink: &mut dyn FnMut(Piece<'_>)) {
        let end = memchr(START, &self.buf[1..]).map_or(self.buf.len(), |at| at + 1);
        let from = self.overlap.min(end);
        if from < end {
            sink(Piece::Text(&self.buf[from..end]));
        }
        self.drop_front(end);
    }

    /// `bytes` begin, as far as they go, like a frame of a recent meter.
    fn recent_start(&self, bytes: &[u8]) -> bool {
        self.recent.iter().flatten().any(|t| starts_like(bytes, t))
    }

    /// Where in the claimed frame a new frame from the same meter begins:
    /// 0xDB 0x08 and the candidate's or a recent frame's system title.
    /// Positions whose 10 bytes have not all arrived are looked at again
    /// next time.
    fn next_start(&mut self) -> Option<usize> {
        let own = Frame::title_of(&self.buf);
        let mut from = self.search_from;
        while let Some(at) = memchr(START, &self.buf[from..]).map(|at| from + at) {
            let window = &self.buf[at..];
            if window.len() < 10 {
                self.search_from = at;
                return None;
            }
            if starts_like(window, &own) || self.recent_start(window) {
                return Some(at);
            }
            from = at + 1;
        }
        self.search_from = self.buf.len();
        None
    }
}

/// `bytes` begin, as far as they go (up to 10), with 0xDB 0x08 `title`.
fn starts_like(bytes: &[u8], title: &SystemTitle) -> bool {
    let mut start = [START, TITLE_LEN, 0, 0, 0, 0, 0, 0, 0, 0];
    start[2..].copy_from_slice(&title.0);
    let n = bytes.len().min(start.len());
    bytes[..n] == start[..n]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(title: &[u8; 8], counter: u32, ciphertext: &[u8]) -> Vec<u8> {
        let mut f = vec![START, TITLE_LEN];
        f.extend_from_slice(title);
        f.push(0x82);
        f.extend_from_slice(&((5 + ciphertext.len() + 12) as u16).to_be_bytes());
        f.push(0x30);
        f.extend_from_slice(&counter.to_be_bytes());
        f.extend_from_slice(ciphertext);
        f.extend_from_slice(&[0x5A; 12]);
        f
    }

    /// (text bytes, frames, rejects) for `input` fed in pieces of `piece`.
    fn run(input: &[u8], piece: usize) -> (Vec<u8>, Vec<Vec<u8>>, Vec<Reject>) {
        let mut splitter = Splitter::new();
        let (mut text, mut frames, mut rejects) = (Vec::new(), Vec::new(), Vec::new());
        for chunk in input.chunks(piece) {
            splitter.push(chunk, |p| match p {
                Piece::Text(run) => text.extend_from_slice(run),
                Piece::Frame(f) => frames.push(f.bytes.to_vec()),
                Piece::Rejected(r) => rejects.push(r),
            });
        }
        (text, frames, rejects)
    }

    #[test]
    fn text_passes_whole_and_a_lone_start_byte_is_released() {
        let input = b"/ISK5\r\n[\xDB\xDB0-0:1.0.0\xDB\x08SA1(2)\r\n!\r\n";
        for piece in 1..input.len() {
            let (text, frames, rejects) = run(input, piece);
            assert_eq!(text, input, "piece {piece}");
            assert!(frames.is_empty() && rejects.is_empty());
        }
    }

    #[test]
    fn a_cut_frame_is_reported_and_the_next_one_found_inside_it() {
        let title = b"SAG\x67\x70\x01\xBD\x54";
        let good = frame(title, 2, &[0x11; 40]);
        let mut input = frame(title, 1, &[0x22; 40]);
        input.truncate(30);
        input.extend_from_slice(&good);
        input.extend_from_slice(b"tail");
        for piece in [1, 7, input.len()] {
            let (text, frames, rejects) = run(&input, piece);
            assert_eq!(frames, vec![good.clone()], "piece {piece}");
            assert_eq!(rejects, vec![Reject::Truncated]);
            assert_eq!(text, b"tail");
        }
    }

    #[test]
    fn a_frame_of_the_last_meter_inside_a_false_header_wins() {
        let title = b"SAG\x67\x70\x01\xBD\x54";
        let first = frame(title, 1, &[0x11; 20]);
        let second = frame(title, 2, &[0x11; 20]);
        // Noise that looks like a header of another title, 0x100 long.
        let mut input = first.clone();
        input.extend_from_slice(b"\xDB\x08XYZ\x01\x02\x03\x04\x05\x82\x01\x00\x30");
        input.extend_from_slice(&second);
        let (_, frames, rejects) = run(&input, 5);
        assert_eq!(frames, vec![first, second]);
        assert_eq!(rejects, vec![Reject::Truncated]);
    }

    #[test]
    fn held_bytes_are_bounded() {
        use crate::encrypted::MAX_FRAME;
        let mut splitter = Splitter::new();
        let mut input = vec![START, TITLE_LEN];
        input.extend_from_slice(b"SAGxxxxx\x82\x1F\xF3\x30");
        input.resize(MAX_FRAME * 2, 0x00);
        let (mut most, mut frames) = (0, 0);
        for chunk in input.chunks(1) {
            splitter.push(chunk, |p| {
                frames += usize::from(matches!(p, Piece::Frame(_)))
            });
            most = most.max(splitter.buffered());
        }
        assert_eq!((most, frames), (MAX_FRAME - 1, 1));
        splitter.reset();
        assert_eq!(splitter.buffered(), 0);
    }
}

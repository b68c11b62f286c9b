//! Turns the meter's byte stream into whole telegrams.
//!
//! Pure code: bytes in, telegrams or rejects out, no I/O and no clock, so every
//! rule here is tested by feeding bytes. A telegram runs from '/' to the end of
//! its '!' line (`!` + 0-4 hex digits of CRC-16/ARC + CRLF). Anything between
//! telegrams is noise and is dropped.
//!
//! The common path works on runs of bytes, not byte by byte: `memchr` finds
//! the next '/' between telegrams and the next '/' or '!' inside one (only at
//! a line start do they mean anything), each run is checked in one pass that
//! the compiler vectorises, copied in one go, and the CRC is computed with
//! 16 tables at the end. Everything else (the '!' line, the byte that ends a
//! frame) goes through the byte-at-a-time state machine that defines the
//! rules. tests/properties.rs holds the fast path to exactly what that state
//! machine alone said, for any input split anywhere.

use crc::{CRC_16_ARC, Crc, Table};
use memchr::{memchr, memchr2};

/// Longest frame kept. Real telegrams are 0.4-5 KB; past this the stream is
/// garbage or the '!' line was lost, and waiting longer only delays resync.
pub const MAX_FRAME: usize = 8192;

/// Slice-by-16 tables (8 KiB, built at compile time): a telegram's CRC
/// costs about a cycle per byte. A `static`, so the tables exist once.
static CRC16: Crc<u16, Table<16>> = Crc::<u16, Table<16>>::new(&CRC_16_ARC);

/// Bytes checked at a time inside a frame: a few lines. Larger blocks cost
/// fewer calls per telegram; smaller ones waste less past a frame's end.
const BLOCK: usize = 256;

/// How the bytes from the port are to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parity {
    /// 8N1: bytes are taken as they come.
    None,
    /// 7E1: either the driver honoured it (7-bit bytes, NUL marks a parity
    /// error), or it ignored it and bit 7 carries even parity ('/' = 0xAF).
    /// The framer tells the two apart per telegram from its '/'.
    Even,
}

/// Why bytes that looked like a telegram were not forwarded as a valid one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// The CRC after '!' does not match: bytes were corrupted on the line.
    Crc,
    /// A new header began a line before this telegram's '!' line.
    Truncated,
    /// No '!' line within [`MAX_FRAME`] bytes.
    Oversize,
    /// A byte failed the 7E1 parity check (parity carried in bit 7).
    Parity,
    /// A NUL inside a telegram: how Linux marks a 7E1 parity error.
    Nul,
    /// A byte above 0x7F in a telegram read as 8N1: wrong baud, parity or polarity.
    NonAscii,
    /// The '!' line holds more than 4 hex digits, or something else.
    Trailer,
    /// No CRC on a stream whose telegrams carry one: a corrupted '!' line
    /// (DSMR 4/5 meters never drop the CRC).
    MissingCrc,
}

impl Reject {
    /// Every reason, in the order stats print them.
    pub const ALL: [Reject; 8] = [
        Reject::Crc,
        Reject::Truncated,
        Reject::Oversize,
        Reject::Parity,
        Reject::Nul,
        Reject::NonAscii,
        Reject::Trailer,
        Reject::MissingCrc,
    ];

    /// Short name for logs and stats.
    pub fn name(self) -> &'static str {
        match self {
            Reject::Crc => "crc",
            Reject::Truncated => "truncated",
            Reject::Oversize => "oversize",
            Reject::Parity => "parity",
            Reject::Nul => "nul",
            Reject::NonAscii => "non-ascii",
            Reject::Trailer => "bad-trailer",
            Reject::MissingCrc => "missing-crc",
        }
    }

    /// Position in [`Reject::ALL`], for per-reason counters.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A telegram that passed every check.
#[derive(Debug)]
pub struct Telegram<'a> {
    /// The telegram as the meter meant it: '/' through the '!' line's LF.
    /// Byte-identical to the wire, except that parity bits are stripped.
    pub bytes: &'a [u8],
    /// A CRC was present and matched (DSMR 4/5); without one (DSMR 2.2/3.0)
    /// only the byte checks vouch for it.
    pub crc: bool,
    /// The bytes carried 7E1 parity in bit 7: the driver ignored the 7E1
    /// setting, and the parity was checked and stripped here.
    pub parity_in_bit7: bool,
}

/// What the framer makes of the input.
#[derive(Debug)]
pub enum Event<'a> {
    /// A valid telegram, ready to forward.
    Telegram(Telegram<'a>),
    /// Something that began as a telegram and failed. `frame` holds the
    /// whole frame when it was complete (only a CRC mismatch can be), for
    /// `--forward all`.
    Rejected {
        reason: Reject,
        frame: Option<&'a [u8]>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Between telegrams: waiting for '/'.
    Idle,
    /// Inside the header or data lines.
    Body { line_start: bool },
    /// On the '!' line: `bang` is the index of '!', `digits` the CRC digits seen.
    Trailer { bang: usize, digits: u8 },
    /// The '!' line's CR was seen; only LF may follow.
    TrailerCr { bang: usize, digits: u8 },
}

/// Incremental telegram framer. Feed it whatever the port delivers, in
/// pieces of any size; it keeps partial telegrams between calls.
#[derive(Debug)]
pub struct Framer {
    /// How to read the bytes; see [`Parity`].
    parity: Parity,
    /// The frame being assembled, already parity-stripped.
    buf: Vec<u8>,
    state: State,
    /// The current frame carries parity in bit 7 (decided by its '/').
    bit7_parity: bool,
    /// Bytes dropped outside any frame, for diagnosis.
    noise: u64,
    /// A telegram with a valid CRC was seen: from now on a telegram
    /// without one is damage, not DSMR 2.2.
    crc_seen: bool,
}

impl Framer {
    pub fn new(parity: Parity) -> Framer {
        Framer {
            parity,
            buf: Vec::with_capacity(2048),
            state: State::Idle,
            bit7_parity: false,
            noise: 0,
            crc_seen: false,
        }
    }

    /// Bytes dropped so far because they were outside any frame.
    pub fn noise_bytes(&self) -> u64 {
        self.noise
    }

    /// Forgets any partial frame, e.g. after the port was reopened: its tail
    /// will never come, and it must not be glued to the next bytes. Also
    /// forgets whether telegrams carried a CRC: the meter may be another.
    pub fn reset(&mut self) {
        self.abandon_frame();
        self.crc_seen = false;
    }

    /// How many bytes of a partial frame are held (at most [`MAX_FRAME`]).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn abandon_frame(&mut self) {
        self.buf.clear();
        self.state = State::Idle;
    }

    /// Feeds `input`, calling `sink` for each telegram or reject it completes.
    pub fn push(&mut self, input: &[u8], mut sink: impl FnMut(Event<'_>)) {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Idle => {
                    let rest = &input[i..];
                    let start = match self.parity {
                        Parity::None => memchr(b'/', rest),
                        Parity::Even => memchr2(b'/', 0xAF, rest),
                    };
                    let Some(skip) = start else {
                        self.noise += rest.len() as u64;
                        return;
                    };
                    self.noise += skip as u64;
                    self.begin(rest[skip]);
                    i += skip + 1;
                }
                State::Body { line_start } => i += self.body(&input[i..], line_start, &mut sink),
                State::Trailer { .. } | State::TrailerCr { .. } => {
                    if self.step(input[i], &mut sink) {
                        i += 1;
                    }
                    // else: the frame was abandoned and this byte is looked
                    // at again from Idle, where it may start the next telegram.
                }
            }
        }
    }

    /// The fast path through header and data lines: takes the run of bytes
    /// up to the next '/' or '!' that begins a line, the first byte that
    /// fails its check, or [`MAX_FRAME`], whichever comes first; copies the
    /// good run whole and leaves that byte to [`Framer::step`] or rejects
    /// on it. Returns how many bytes of `rest` (not empty) were used.
    fn body(&mut self, rest: &[u8], line_start: bool, sink: &mut impl FnMut(Event<'_>)) -> usize {
        let room = MAX_FRAME - self.buf.len();
        if room == 0 {
            // The next byte is either bad (its reason wins) or one too many.
            return usize::from(self.step(rest[0], sink));
        }
        let span = &rest[..rest.len().min(room)];
        // '/' and '!' only ever decode from these raw bytes: the other
        // forms (0x2F with parity in bit 7, 0xA1, 0xAF without) fail the
        // byte check, and the first byte that fails decides the reject.
        let slash = if self.bit7_parity { 0xAF } else { b'/' };
        // Block by block, so that the work done past where the run ends is
        // bounded by a block: checking all of `span` first would cost a
        // read's worth per telegram, and per false start in binary noise.
        let mut good = 0;
        let (end, bad) = loop {
            let block = &span[good..span.len().min(good + BLOCK)];
            let bad = self.first_bad(block);
            let checked = good + bad.map_or(block.len(), |(at, _)| at);
            // A '/' or '!' that begins a line ends the run; inside a line it
            // is data. LF has one raw form too (0x0A; 0x8A has odd parity).
            let mut from = good;
            let special = loop {
                let Some(at) = memchr2(slash, b'!', &span[from..checked]) else {
                    break None;
                };
                let at = from + at;
                if (at == 0 && line_start) || (at > 0 && span[at - 1] == b'\n') {
                    break Some(at);
                }
                from = at + 1;
            };
            if let Some(at) = special {
                break (at, None);
            }
            if let Some((_, reason)) = bad {
                break (checked, Some(reason));
            }
            good = checked;
            if good == span.len() {
                break (good, None);
            }
        };
        if let Some(reason) = bad {
            // The frame is dropped, so the bytes before it need no copy.
            self.abandon(reason, sink);
            // A byte that failed its own check never starts a telegram.
            return end + 1;
        }
        let run = &span[..end];
        if self.bit7_parity {
            self.buf.extend(run.iter().map(|&raw| raw & 0x7F));
        } else {
            self.buf.extend_from_slice(run);
        }
        if let Some(&last) = run.last() {
            self.state = State::Body {
                line_start: last == b'\n',
            };
        }
        if end == span.len() {
            return end;
        }
        // A '/' or '!' at a line start, with room for it: a new header or
        // the '!' line, never an abandon, so the byte is always used.
        let used = self.step(span[end], sink);
        debug_assert!(used);
        end + usize::from(used)
    }

    /// Where the first byte of `run` that fails [`Framer::decode`] is, and
    /// why, if any: one vectorised pass over the whole run (normally all
    /// good), a second one only to find the culprit.
    fn first_bad(&self, run: &[u8]) -> Option<(usize, Reject)> {
        let good = if self.bit7_parity {
            all_even_parity_and_not_nul(run)
        } else {
            all_ascii_and_not_nul(run)
        };
        if good {
            None
        } else {
            run.iter()
                .enumerate()
                .find_map(|(at, &raw)| self.decode(raw).err().map(|reason| (at, reason)))
        }
    }

    fn begin(&mut self, raw: u8) {
        self.buf.clear();
        self.buf.push(b'/');
        self.bit7_parity = raw == 0xAF;
        self.state = State::Body { line_start: false };
    }

    /// Strips and checks one byte of a frame according to the frame's parity.
    fn decode(&self, raw: u8) -> Result<u8, Reject> {
        let byte = if self.bit7_parity {
            if !raw.count_ones().is_multiple_of(2) {
                return Err(Reject::Parity);
            }
            raw & 0x7F
        } else if raw > 0x7F {
            return Err(Reject::NonAscii);
        } else {
            raw
        };
        if byte == 0 {
            Err(Reject::Nul)
        } else {
            Ok(byte)
        }
    }

    /// Handles one byte inside a frame. Returns false when the frame was
    /// abandoned and the byte must be looked at again from Idle (it may be
    /// the '/' of the next telegram).
    fn step(&mut self, raw: u8, sink: &mut impl FnMut(Event<'_>)) -> bool {
        let byte = match self.decode(raw) {
            Ok(byte) => byte,
            Err(reason) => {
                // A byte that failed its own check never starts a telegram.
                self.abandon(reason, sink);
                return true;
            }
        };
        if self.buf.len() >= MAX_FRAME {
            return self.abandon(Reject::Oversize, sink);
        }
        match self.state {
            State::Idle => unreachable!("push handles Idle"),
            State::Body { line_start } => {
                if line_start && byte == b'/' {
                    // A fresh header: the previous telegram was cut short.
                    sink(Event::Rejected {
                        reason: Reject::Truncated,
                        frame: None,
                    });
                    self.buf.clear();
                    self.buf.push(b'/');
                    self.state = State::Body { line_start: false };
                    return true;
                }
                self.buf.push(byte);
                self.state = if line_start && byte == b'!' {
                    State::Trailer {
                        bang: self.buf.len() - 1,
                        digits: 0,
                    }
                } else {
                    State::Body {
                        line_start: byte == b'\n',
                    }
                };
            }
            // Every meter ends the '!' line with CRLF; a bare LF here is a
            // corrupted byte, not a line end.
            State::Trailer { bang, digits } => match byte {
                b'\r' => {
                    self.buf.push(byte);
                    self.state = State::TrailerCr { bang, digits };
                }
                _ if byte.is_ascii_hexdigit() && digits < 4 => {
                    self.buf.push(byte);
                    self.state = State::Trailer {
                        bang,
                        digits: digits + 1,
                    };
                }
                _ => return self.abandon(Reject::Trailer, sink),
            },
            State::TrailerCr { bang, digits } => {
                if byte != b'\n' {
                    return self.abandon(Reject::Trailer, sink);
                }
                self.buf.push(byte);
                self.finish(bang, digits, sink);
            }
        }
        true
    }

    fn abandon(&mut self, reason: Reject, sink: &mut impl FnMut(Event<'_>)) -> bool {
        sink(Event::Rejected {
            reason,
            frame: None,
        });
        self.abandon_frame();
        false
    }

    fn finish(&mut self, bang: usize, digits: u8, sink: &mut impl FnMut(Event<'_>)) {
        self.state = State::Idle;
        let digits = usize::from(digits);
        if digits == 0 && self.crc_seen {
            sink(Event::Rejected {
                reason: Reject::MissingCrc,
                frame: Some(&self.buf),
            });
            return;
        }
        if digits > 0 {
            let hex = &self.buf[bang + 1..bang + 1 + digits];
            // Only hex digits got here, so this parse cannot fail; stay
            // panic-free regardless.
            let sent = std::str::from_utf8(hex)
                .ok()
                .and_then(|s| u16::from_str_radix(s, 16).ok());
            if sent != Some(CRC16.checksum(&self.buf[..=bang])) {
                sink(Event::Rejected {
                    reason: Reject::Crc,
                    frame: Some(&self.buf),
                });
                return;
            }
        }
        self.crc_seen |= digits > 0;
        sink(Event::Telegram(Telegram {
            bytes: &self.buf,
            crc: digits > 0,
            parity_in_bit7: self.bit7_parity,
        }));
    }
}

/// Every byte is 0x01..=0x7F: no NUL, nothing with bit 7 set. Written as
/// one reduction without an early exit so that it compiles to SIMD.
fn all_ascii_and_not_nul(run: &[u8]) -> bool {
    // raw - 1 wraps 0x00 to 0xFF and maps 0x80..=0xFF to 0x7F..=0xFE.
    run.iter()
        .fold(0u8, |max, &raw| max.max(raw.wrapping_sub(1)))
        < 0x7F
}

/// Every byte has even parity over its 8 bits and is not NUL once bit 7
/// is stripped (0x00 only: 0x80 has odd parity). Eight bytes at a time in
/// a u64 (SWAR), which the compiler vectorises further; the per-byte masks
/// are applied once, at the end.
fn all_even_parity_and_not_nul(run: &[u8]) -> bool {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let words = run.chunks_exact(8);
    let tail = words.remainder();
    let (odd, nul) = words.fold((0u64, 0u64), |(odd, nul), word| {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_le_bytes(bytes);
        // Bit 0 of each byte becomes the XOR of that byte's 8 bits: it
        // only depends on bits 0-3 of `w ^ w >> 4`, which hold no bits
        // shifted in from the next byte.
        let mut p = w ^ (w >> 4);
        p ^= p >> 2;
        p ^= p >> 1;
        // With HIGH: nonzero exactly when some byte of `w` is zero.
        (odd | p, nul | (w.wrapping_sub(LOW) & !w))
    });
    odd & LOW == 0
        && nul & HIGH == 0
        && tail
            .iter()
            .all(|&raw| raw != 0 && raw.count_ones().is_multiple_of(2))
}

/// CRC-16/ARC as DSMR uses it, for tests and tools that build telegrams.
pub fn crc16(bytes: &[u8]) -> u16 {
    CRC16.checksum(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(parity: Parity, input: &[u8]) -> (Vec<Vec<u8>>, Vec<Reject>) {
        let mut framer = Framer::new(parity);
        let (mut good, mut bad) = (Vec::new(), Vec::new());
        framer.push(input, |event| match event {
            Event::Telegram(t) => good.push(t.bytes.to_vec()),
            Event::Rejected { reason, .. } => bad.push(reason),
        });
        (good, bad)
    }

    #[test]
    fn run_checks_agree_with_decode_for_every_byte_anywhere() {
        // Runs of every length up to 40 around one byte of each value, so
        // that each lane of the 8-byte words and the tail is hit; '0' is good
        // in both readings.
        for bit7_parity in [false, true] {
            let mut framer = Framer::new(Parity::Even);
            framer.bit7_parity = bit7_parity;
            let check = if bit7_parity {
                all_even_parity_and_not_nul
            } else {
                all_ascii_and_not_nul
            };
            for raw in 0..=255u8 {
                let good = framer.decode(raw).is_ok();
                for len in 1..=40 {
                    for at in 0..len {
                        let mut run = vec![b'0'; len];
                        run[at] = raw;
                        assert_eq!(check(&run), good, "{raw:#04x} at {at} of {len}");
                        let bad = framer.first_bad(&run).map(|(at, _)| at);
                        assert_eq!(bad, (!good).then_some(at), "{raw:#04x} at {at} of {len}");
                    }
                }
            }
            assert!(check(&[]));
        }
    }

    #[test]
    fn crc_check_value() {
        assert_eq!(crc16(b"123456789"), 0xBB3D);
    }

    #[test]
    fn minimal_telegrams() {
        let (good, bad) = run(Parity::None, b"/X\r\n\r\n!\r\n");
        assert_eq!(good, vec![b"/X\r\n\r\n!\r\n".to_vec()]);
        assert!(bad.is_empty());
        let body = b"/X\r\n\r\n!";
        let tel = format!(
            "{}{:04X}\r\n",
            std::str::from_utf8(body).unwrap(),
            crc16(body)
        );
        let (good, _) = run(Parity::None, tel.as_bytes());
        assert_eq!(good.len(), 1);
    }

    #[test]
    fn bang_inside_a_line_is_data() {
        let (good, _) = run(Parity::None, b"/X\r\n\r\n0-0:96.13.0(a!b)\r\n!\r\n");
        assert_eq!(good.len(), 1);
        assert!(good[0].ends_with(b"(a!b)\r\n!\r\n"));
    }

    #[test]
    fn five_crc_digits_is_a_bad_trailer() {
        let (good, bad) = run(Parity::None, b"/X\r\n\r\n!12345\r\n");
        assert!(good.is_empty());
        assert_eq!(bad, vec![Reject::Trailer]);
    }

    #[test]
    fn bang_line_needs_crlf() {
        let (good, bad) = run(Parity::None, b"/X\r\n\r\n!\n");
        assert!(good.is_empty());
        assert_eq!(bad, vec![Reject::Trailer]);
    }

    #[test]
    fn no_crc_after_crc_is_damage_until_reset() {
        let body = b"/X\r\n\r\n!";
        let with = format!(
            "{}{:04X}\r\n",
            std::str::from_utf8(body).unwrap(),
            crc16(body)
        );
        let without = b"/X\r\n\r\n!\r\n";
        let mut framer = Framer::new(Parity::None);
        let mut seen = Vec::new();
        for input in [&without[..], with.as_bytes(), without] {
            framer.push(input, |e| {
                seen.push(match e {
                    Event::Telegram(t) => Ok(t.crc),
                    Event::Rejected { reason, .. } => Err(reason),
                })
            });
        }
        assert_eq!(seen, vec![Ok(false), Ok(true), Err(Reject::MissingCrc)]);
        framer.reset();
        let mut valid = 0;
        framer.push(without, |e| {
            valid += usize::from(matches!(e, Event::Telegram(_)))
        });
        assert_eq!(valid, 1, "a new meter may be DSMR 2.2");
    }
}

//! Turns the meter's byte stream into whole telegrams.
//!
//! Pure code: bytes in, telegrams or rejects out, no I/O and no clock, so every
//! rule here is tested by feeding bytes. A telegram runs from '/' to the end of
//! its '!' line (`!` + 0-4 hex digits of CRC-16/ARC + CRLF). Anything between
//! telegrams is noise and is dropped.

use crc::{CRC_16_ARC, Crc};

/// Longest frame kept. Real telegrams are 0.4-5 KB; past this the stream is
/// garbage or the '!' line was lost, and waiting longer only delays resync.
pub const MAX_FRAME: usize = 8192;

const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_ARC);

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
            if self.state == State::Idle {
                let parity = self.parity;
                match input[i..].iter().position(|&b| is_start(parity, b)) {
                    None => {
                        self.noise += (input.len() - i) as u64;
                        return;
                    }
                    Some(skip) => {
                        self.noise += skip as u64;
                        self.begin(input[i + skip]);
                        i += skip + 1;
                        continue;
                    }
                }
            }
            if self.step(input[i], &mut sink) {
                i += 1;
            }
            // else: the frame was abandoned and this byte is looked at again
            // from Idle, where it may start the next telegram.
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

/// Whether `raw` may begin a telegram under `parity`.
fn is_start(parity: Parity, raw: u8) -> bool {
    raw == b'/' || (parity == Parity::Even && raw == 0xAF)
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

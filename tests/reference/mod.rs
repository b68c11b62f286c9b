//! The framer as it was before it was rewritten for speed: one byte at a
//! time through a state machine. Kept, unchanged but for its name, as the
//! oracle for the differential tests in tests/properties/: the fast
//! framer must say exactly what this one says, for any input, split
//! anywhere. Do not "fix" or speed up this copy; if the framer's rules
//! change on purpose, change both.
//!
//! Changed on purpose once since, for issue 10 (resync after a cut-off
//! head), and only where marked "Issue 10": a frame that fails its CRC is
//! tried again from each later '/', earliest first, by computing each
//! suffix's CRC afresh (quadratic, and plainly right: the oracle for the
//! framer's one-pass search); a frame without CRC (none seen yet) starts
//! at the last later '/' that begins a DSMR header line; a full frame
//! drops its head up to its first later '/' instead of being oversize.
//! What was dropped counts as one `Truncated`.
//!
//! And once more for issue 18 (CRs stripped by software between a
//! `tcp://` source and the meter), only where marked "Issue 18": a bare LF
//! ends a '!' line that has CRC digits, and a frame whose CRC fails as it
//! is, with bare LFs in it, is searched again (in the same way) with a CR
//! put before each bare LF; if that passes, the restored bytes go out.
//! Everything else is as it was.

use crc::{CRC_16_ARC, Crc};
use p1mux::framer::{Event, MAX_FRAME, Parity, Reject, Telegram};

const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_ARC);

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
pub struct RefFramer {
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
    /// Issue 18: the frame with its CRs restored.
    restored: Vec<u8>,
}

impl RefFramer {
    pub fn new(parity: Parity) -> RefFramer {
        RefFramer {
            parity,
            buf: Vec::with_capacity(2048),
            state: State::Idle,
            bit7_parity: false,
            noise: 0,
            crc_seen: false,
            restored: Vec::new(),
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
            // Issue 10: go on from the first later '/', this byte still to
            // be looked at.
            if let Some(slash) = self.buf.iter().skip(1).position(|&b| b == b'/') {
                let dropped = slash + 1;
                sink(Event::Rejected {
                    reason: Reject::Truncated,
                    frame: None,
                });
                self.buf.drain(..dropped);
                if let State::Trailer { bang, .. } | State::TrailerCr { bang, .. } = &mut self.state
                {
                    *bang -= dropped;
                }
                return false;
            }
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
                // Issue 18: the CRC will decide.
                b'\n' if digits > 0 => {
                    self.buf.push(byte);
                    self.finish(bang, digits, sink);
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
        let mut restored = false;
        if digits == 0 && self.crc_seen {
            sink(Event::Rejected {
                reason: Reject::MissingCrc,
                frame: Some(&self.buf),
            });
            return;
        }
        // Issue 10: where the telegram starts in the frame; without a CRC,
        // at the last header line.
        let mut at = 0;
        if digits == 0 {
            at = (1..bang)
                .rev()
                .find(|&j| self.buf[j] == b'/' && is_header(&self.buf[j..]))
                .unwrap_or(0);
        }
        if digits > 0 {
            let hex = &self.buf[bang + 1..bang + 1 + digits];
            // Only hex digits got here, so this parse cannot fail; stay
            // panic-free regardless.
            let sent = std::str::from_utf8(hex)
                .ok()
                .and_then(|s| u16::from_str_radix(s, 16).ok());
            // Issue 10: the whole frame, else each later '/' in turn.
            let search = |frame: &[u8], bang: usize| {
                (0..bang).find(|&j| {
                    (j == 0 || frame[j] == b'/') && sent == Some(CRC16.checksum(&frame[j..=bang]))
                })
            };
            let mut found = search(&self.buf, bang);
            // Issue 18: again with a CR before every bare LF.
            if found.is_none() {
                self.restored.clear();
                for (i, &b) in self.buf.iter().enumerate() {
                    if b == b'\n' && (i == 0 || self.buf[i - 1] != b'\r') {
                        self.restored.push(b'\r');
                    }
                    self.restored.push(b);
                }
                if self.restored.len() > self.buf.len() {
                    let bang = self.restored.iter().rposition(|&b| b == b'!').unwrap();
                    found = search(&self.restored, bang);
                    restored = found.is_some();
                }
            }
            let Some(found) = found else {
                sink(Event::Rejected {
                    reason: Reject::Crc,
                    frame: Some(&self.buf),
                });
                return;
            };
            at = found;
        }
        if at > 0 {
            sink(Event::Rejected {
                reason: Reject::Truncated,
                frame: None,
            });
        }
        self.crc_seen |= digits > 0;
        sink(Event::Telegram(Telegram {
            bytes: if restored {
                &self.restored[at..]
            } else {
                &self.buf[at..]
            },
            crc: digits > 0,
            parity_in_bit7: self.bit7_parity,
            cr_restored: restored,
        }));
    }
}

/// Issue 10: `line` begins with '/', three ASCII letters, a digit, then
/// bytes from ' ' to '~' other than '/', then "\r\n\r\n".
fn is_header(line: &[u8]) -> bool {
    if line.len() < 9 || line[0] != b'/' {
        return false;
    }
    if !line[1..4].iter().all(u8::is_ascii_alphabetic) || !line[4].is_ascii_digit() {
        return false;
    }
    let mut i = 5;
    while i < line.len() && line[i] != b'/' && (b' '..=b'~').contains(&line[i]) {
        i += 1;
    }
    line[i..].starts_with(b"\r\n\r\n")
}

/// Whether `raw` may begin a telegram under `parity`.
fn is_start(parity: Parity, raw: u8) -> bool {
    raw == b'/' || (parity == Parity::Even && raw == 0xAF)
}

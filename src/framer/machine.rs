//! The byte-at-a-time state machine that defines the rules: every byte
//! the fast path in [`Framer::push`] does not take in a run comes here,
//! and so does the end of every frame.

use super::{CRC16, Event, Framer, MAX_FRAME, Reject, Telegram, resync};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    /// Between telegrams: waiting for '/'.
    Idle,
    /// Inside the header or data lines.
    Body { line_start: bool },
    /// On the '!' line: `bang` is the index of '!' in the buffer, `digits`
    /// the CRC digits seen.
    Trailer { bang: usize, digits: u8 },
    /// The '!' line's CR was seen; only LF may follow.
    TrailerCr { bang: usize, digits: u8 },
}

impl Framer {
    /// Handles one byte inside a frame. Returns false when the byte must be
    /// looked at again: from Idle when the frame was abandoned (it may be
    /// the '/' of the next telegram), or in a frame that made room for it.
    pub(super) fn step(&mut self, raw: u8, sink: &mut impl FnMut(Event<'_>)) -> bool {
        let byte = match self.decode(raw) {
            Ok(byte) => byte,
            Err(reason) => {
                // A byte that failed its own check never starts a telegram.
                self.abandon(reason, sink);
                return true;
            }
        };
        if self.buffered() >= MAX_FRAME {
            return self.overflow(sink);
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
                    self.begin(raw);
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

    pub(super) fn abandon(&mut self, reason: Reject, sink: &mut impl FnMut(Event<'_>)) -> bool {
        sink(Event::Rejected {
            reason,
            frame: None,
        });
        self.abandon_frame();
        false
    }

    /// The '!' line is complete: the frame, or the telegram found at the
    /// end of it, passes or is rejected. `bang` indexes the buffer.
    fn finish(&mut self, bang: usize, digits: u8, sink: &mut impl FnMut(Event<'_>)) {
        self.state = State::Idle;
        let frame = &self.buf[self.start..];
        let bang = bang - self.start;
        let digits = usize::from(digits);
        let at = if digits == 0 {
            if self.crc_seen {
                sink(Event::Rejected {
                    reason: Reject::MissingCrc,
                    frame: Some(frame),
                });
                return;
            }
            resync::last_header(&frame[..bang]).unwrap_or(0)
        } else {
            let hex = &frame[bang + 1..bang + 1 + digits];
            // Only hex digits got here, so this parse cannot fail; stay
            // panic-free regardless.
            let sent = std::str::from_utf8(hex)
                .ok()
                .and_then(|s| u16::from_str_radix(s, 16).ok());
            let whole = CRC16.checksum(&frame[..=bang]);
            let found = match sent {
                Some(sent) if sent == whole => Some(0),
                Some(sent) => resync::crc_suffix(&frame[..=bang], whole ^ sent),
                None => None,
            };
            let Some(at) = found else {
                sink(Event::Rejected {
                    reason: Reject::Crc,
                    frame: Some(frame),
                });
                return;
            };
            self.crc_seen = true;
            at
        };
        if at > 0 {
            sink(Event::Rejected {
                reason: Reject::Truncated,
                frame: None,
            });
        }
        sink(Event::Telegram(Telegram {
            bytes: &self.buf[self.start + at..],
            crc: digits > 0,
            parity_in_bit7: self.bit7_parity,
        }));
    }
}

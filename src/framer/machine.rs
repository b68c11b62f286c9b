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
            // Every meter ends the '!' line with CRLF. A bare LF after a
            // CRC ends it too, and the CRC decides: a source that turned
            // CRLF into LF (see `finish`). Without a CRC it is a corrupted
            // byte, not a line end.
            State::Trailer { bang, digits } => match byte {
                b'\r' => {
                    self.buf.push(byte);
                    self.state = State::TrailerCr { bang, digits };
                }
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
    ///
    /// A frame with bare LFs that fails its CRC is tried again with a CR
    /// restored before each of them (issue 18): software between a
    /// `tcp://` source and the meter turned CRLF into LF. If the CRC then
    /// passes, the restored telegram goes out, byte-identical to what the
    /// meter sent. One whose CRC passes over its bare LFs is valid as it is.
    fn finish(&mut self, bang: usize, digits: u8, sink: &mut impl FnMut(Event<'_>)) {
        self.state = State::Idle;
        let frame = &self.buf[self.start..];
        let bang = bang - self.start;
        let digits = usize::from(digits);
        let mut restored = false;
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
            let passes = |frame: &[u8], bang: usize| {
                let whole = CRC16.checksum(&frame[..=bang]);
                match sent {
                    Some(sent) if sent == whole => Some(0),
                    Some(sent) => resync::crc_suffix(&frame[..=bang], whole ^ sent),
                    None => None,
                }
            };
            let mut found = passes(frame, bang);
            if found.is_none() && restore_crs(frame, &mut self.restored) {
                let bang = self.restored.len() - 3 - digits;
                found = passes(&self.restored, bang);
                restored = found.is_some();
            }
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
        let bytes = if restored {
            &self.restored[at..]
        } else {
            &self.buf[self.start + at..]
        };
        sink(Event::Telegram(Telegram {
            bytes,
            crc: digits > 0,
            parity_in_bit7: self.bit7_parity,
            cr_restored: restored,
        }));
    }
}

/// `frame` with a CR before every LF that has none, into `out`; false
/// (and `out` untouched) when every LF already has its CR.
fn restore_crs(frame: &[u8], out: &mut Vec<u8>) -> bool {
    let bare = |at: usize| frame[at] == b'\n' && (at == 0 || frame[at - 1] != b'\r');
    if !memchr::memchr_iter(b'\n', frame).any(bare) {
        return false;
    }
    out.clear();
    let mut from = 0;
    for at in memchr::memchr_iter(b'\n', frame).filter(|&at| bare(at)) {
        out.extend_from_slice(&frame[from..at]);
        out.extend_from_slice(b"\r");
        from = at;
    }
    out.extend_from_slice(&frame[from..]);
    true
}

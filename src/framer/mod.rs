//! Turns the meter's byte stream into whole telegrams.
//!
//! Pure code: bytes in, telegrams or rejects out, no I/O and no clock, so every
//! rule here is tested by feeding bytes. A telegram runs from '/' to the end of
//! its '!' line (`!` + 0-4 hex digits of CRC-16/ARC + CRLF). Anything between
//! telegrams is noise and is dropped.
//!
//! A '/' inside a line is data (Holley's ident is `/HLY5/D545-METER`); at
//! a line start it begins a new telegram, and what came before was cut
//! short. A telegram's head can also be cut off in the middle of a line
//! (bytes lost on the line, a glitching adapter) with the next telegram
//! right behind it, in one frame: so a frame that fails is searched for
//! the telegram at its end ([`resync`]).
//! - With a CRC, the first later '/' from which the rest passes the CRC
//!   begins it: the CRC decides, so Holley's inner '/' stays data. Each
//!   '/' tried is one more 1 in 65536 chance for damage to pass; frames
//!   hold one or two.
//! - Without a CRC (DSMR 2.2/3.0: none seen yet), the last later '/' that
//!   begins a header line of the IEC 62056-21 form does: '/', three
//!   letters, a digit, an ident without '/', CRLF, and the empty line that
//!   only ever follows a header. What a CRC would tell and this cannot: a
//!   head glued to a telegram whose ident has another form stays glued to
//!   it (as before), an ident holding '/', three letters and a digit (none
//!   is known) would lose its start, and bytes lost inside a telegram go
//!   unseen. Parity errors and NULs reject as ever.
//! - A frame that grows past [`MAX_FRAME`] goes on from its first later
//!   '/', where a long telegram behind a cut head may begin.
//!
//! Other faults need no search: a parity error, NUL, high byte, bad '!'
//! line or missing CRC is in every suffix too. The dropped head counts as
//! one [`Reject::Truncated`], as at a line start (a head without its '!'
//! line, nothing for `--forward all`), the telegram as valid; a frame in
//! which nothing passes is rejected whole, for the reason the whole failed.
//! The search is one pass over the frame however many '/' it holds: 8 KiB
//! of '/' cost no more than any other frame.
//!
//! The common path works on runs of bytes, not byte by byte: `memchr` finds
//! the next '/' between telegrams and the next '/' or '!' inside one (only at
//! a line start do they mean anything), each run is checked in one pass that
//! the compiler vectorises ([`runs`]), copied in one go, and the CRC is
//! computed with 16 tables at the end. Everything else (the '!' line, the
//! byte that ends a frame) goes through the byte-at-a-time state machine
//! that defines the rules. tests/properties/ holds the fast path to
//! exactly what a plain byte-at-a-time framer (tests/reference) says, for
//! any input split anywhere.

mod machine;
mod resync;
mod runs;

use machine::State;

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
    /// A head without its '!' line: a new header began a line before it,
    /// or a telegram was found behind it in the same frame (see the module
    /// doc).
    Truncated,
    /// No '!' line within [`MAX_FRAME`] bytes, nor a later '/' to go on
    /// from.
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
    /// Byte-identical to the wire, except that parity bits are stripped
    /// and, when `cr_restored`, the CRs put back.
    pub bytes: &'a [u8],
    /// A CRC was present and matched (DSMR 4/5); without one (DSMR 2.2/3.0)
    /// only the byte checks vouch for it.
    pub crc: bool,
    /// The bytes carried 7E1 parity in bit 7: the driver ignored the 7E1
    /// setting, and the parity was checked and stripped here.
    pub parity_in_bit7: bool,
    /// The CRs were stripped on the way (CRLF turned into LF) and are
    /// restored here: the CRC passed only with them.
    pub cr_restored: bool,
}

/// What the framer makes of the input.
#[derive(Debug)]
pub enum Event<'a> {
    /// A valid telegram, ready to forward.
    Telegram(Telegram<'a>),
    /// Something that began as a telegram and failed. `frame` holds the
    /// whole frame when it was complete (a CRC mismatch or a missing CRC),
    /// for `--forward all`.
    Rejected {
        reason: Reject,
        frame: Option<&'a [u8]>,
    },
}

/// Incremental telegram framer. Feed it whatever the port delivers, in
/// pieces of any size; it keeps partial telegrams between calls.
#[derive(Debug)]
pub struct Framer {
    /// How to read the bytes; see [`Parity`].
    parity: Parity,
    /// The frame being assembled, already parity-stripped, from `start`
    /// on: bytes before it are a cut-off head dropped to make room, kept
    /// until moving the frame is cheap (see [`Framer::overflow`]).
    buf: Vec<u8>,
    start: usize,
    state: State,
    /// The current frame carries parity in bit 7 (decided by its '/').
    bit7_parity: bool,
    /// Bytes dropped outside any frame, for diagnosis.
    noise: u64,
    /// A telegram with a valid CRC was seen: from now on a telegram
    /// without one is damage, not DSMR 2.2.
    crc_seen: bool,
    /// The frame with its CRs restored, when it needed them.
    restored: Vec<u8>,
}

impl Framer {
    pub fn new(parity: Parity) -> Framer {
        Framer {
            parity,
            buf: Vec::with_capacity(2048),
            start: 0,
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
        self.buf.len() - self.start
    }

    fn abandon_frame(&mut self) {
        self.buf.clear();
        self.start = 0;
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
                    // else: this byte is looked at again, from Idle (where
                    // it may start the next telegram) if the frame was
                    // abandoned.
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
        let room = MAX_FRAME - self.buffered();
        if room == 0 {
            // The next byte is either bad (its reason wins) or one too many
            // (see `Framer::overflow`).
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

    fn begin(&mut self, raw: u8) {
        self.buf.clear();
        self.start = 0;
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
}

/// CRC-16/ARC as DSMR uses it, for tests and tools that build telegrams.
pub fn crc16(bytes: &[u8]) -> u16 {
    CRC16.checksum(bytes)
}

#[cfg(test)]
mod tests;

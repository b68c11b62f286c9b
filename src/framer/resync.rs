//! Finding the telegram in a frame that a cut-off head was glued before:
//! which later '/' begins it, in time linear in the frame.
//!
//! CRC-16/ARC starts from 0 and adds no final XOR, so it is linear over
//! GF(2): `crc(P || S) = crc(S) ^ Z^|S|(crc(P))`, where `Z^n(r)` is the
//! CRC register after feeding `n` zero bytes from `r`. For a frame `F` of
//! length `L` whose own CRC is `c` and whose '!' line says `sent`, the
//! suffix from `j` passes when `crc(S) == sent`, i.e. when
//! `Z^(L-j)(crc(F[..j])) == c ^ sent`, i.e. when `crc(F[..j]) ==
//! Z^j(w)` with `w = Z^-L(c ^ sent)`. By linearity again, `crc(F[..j]) ^
//! Z^j(w)` is the register after feeding `F[..j]` from `w`: so one CRC
//! pass over the frame, started from `w`, finds every suffix that passes,
//! as the places where its register is 0. `Z` is invertible (a zero byte
//! is 8 steps of "shift right, XOR 0xA001 if bit 0 was set", and bit 15
//! after a step tells whether 0xA001 went in), and `Z^-L` is a handful of
//! 16x16 bit-matrix products built at compile time.

use memchr::{memchr_iter, memrchr_iter};

use super::{CRC16, Event, Framer, MAX_FRAME, Reject, State};

/// Powers of two of `Z^-1` kept as matrices: enough for any frame.
const LEVELS: usize = 14;
const _: () = assert!(MAX_FRAME < 1 << LEVELS);

/// `UNSHIFT[k][bit]` is `Z^-(2^k)` applied to the register `1 << bit`: the
/// columns of that linear map.
static UNSHIFT: [[u16; 16]; LEVELS] = unshift_matrices();

/// The register one zero byte earlier: `Z^-1`.
const fn unshift_byte(mut r: u16) -> u16 {
    let mut step = 0;
    while step < 8 {
        // Forward, a step is `r >> 1`, XOR 0xA001 when bit 0 was set; only
        // that XOR can set bit 15.
        r = if r & 0x8000 != 0 {
            ((r ^ 0xA001) << 1) | 1
        } else {
            r << 1
        };
        step += 1;
    }
    r
}

/// The linear map with columns `m` applied to `r`.
const fn apply(m: &[u16; 16], r: u16) -> u16 {
    let mut out = 0;
    let mut bit = 0;
    while bit < 16 {
        if r >> bit & 1 == 1 {
            out ^= m[bit];
        }
        bit += 1;
    }
    out
}

const fn unshift_matrices() -> [[u16; 16]; LEVELS] {
    let mut m = [[0; 16]; LEVELS];
    let mut bit = 0;
    while bit < 16 {
        m[0][bit] = unshift_byte(1 << bit);
        bit += 1;
    }
    let mut k = 1;
    while k < LEVELS {
        let mut bit = 0;
        while bit < 16 {
            m[k][bit] = apply(&m[k - 1], apply(&m[k - 1], 1 << bit));
            bit += 1;
        }
        k += 1;
    }
    m
}

/// `Z^-n(r)`: the register `n` zero bytes before it was `r`.
pub(super) fn unshift(mut r: u16, n: usize) -> u16 {
    debug_assert!(n < 1 << LEVELS, "{n} bytes");
    for (k, m) in UNSHIFT.iter().enumerate() {
        if n >> k & 1 == 1 {
            r = apply(m, r);
        }
    }
    r
}

/// The first '/' after the start of `frame` ('/' through '!') from which
/// the rest passes a CRC check that the whole frame failed by `diff`
/// (its own CRC XOR the one sent). See the module doc for why one pass
/// suffices.
pub(super) fn crc_suffix(frame: &[u8], diff: u16) -> Option<usize> {
    let w = unshift(diff, frame.len());
    // `digest_with_initial` reflects its argument for a reflected CRC.
    let mut digest = CRC16.digest_with_initial(w.reverse_bits());
    let mut fed = 0;
    for at in memchr_iter(b'/', frame.get(1..)?).map(|at| at + 1) {
        digest.update(&frame[fed..at]);
        fed = at;
        if digest.clone().finalize() == 0 {
            return Some(at);
        }
    }
    None
}

/// The last '/' after the start of `body` (a frame up to its '!') that
/// begins a DSMR header line: the start of the telegram when no CRC can
/// say where it is. Linear: a header's ident holds no '/', so each check
/// stops at the '/' checked before it.
pub(super) fn last_header(body: &[u8]) -> Option<usize> {
    memrchr_iter(b'/', body)
        .take_while(|&at| at > 0)
        .find(|&at| is_header(&body[at..]))
}

/// `line` begins with a DSMR header line and the empty line after it:
/// '/', three letters (the manufacturer), a digit, printable ident bytes
/// other than '/', CRLF, CRLF.
fn is_header(line: &[u8]) -> bool {
    let Some(([b'/', a, b, c, digit], ident)) = line.split_first_chunk::<5>() else {
        return false;
    };
    let end = ident
        .iter()
        .position(|&byte| !(0x20..=0x7E).contains(&byte) || byte == b'/')
        .unwrap_or(ident.len());
    [a, b, c].iter().all(|l| l.is_ascii_alphabetic())
        && digit.is_ascii_digit()
        && ident[end..].starts_with(b"\r\n\r\n")
}

impl Framer {
    /// The frame is full and another byte belongs to it. If a later '/'
    /// may begin the telegram (a cut-off head glued before it), the head
    /// is dropped and the frame goes on from that '/', the byte still to
    /// be looked at; else the frame is oversize. Returns false: the byte
    /// is never used here.
    pub(super) fn overflow(&mut self, sink: &mut impl FnMut(Event<'_>)) -> bool {
        let from = self.start + 1;
        let Some(at) = memchr::memchr(b'/', &self.buf[from..]) else {
            return self.abandon(Reject::Oversize, sink);
        };
        sink(Event::Rejected {
            reason: Reject::Truncated,
            frame: None,
        });
        self.start = from + at;
        // Moving the frame costs what it holds, so it is moved only once
        // at least as many bytes were dropped in front of it: all moves
        // together cost no more than the bytes dropped, and the buffer
        // never holds two frames' worth.
        let kept = self.buf.len() - self.start;
        if self.start >= kept {
            self.buf.drain(..self.start);
            if let State::Trailer { bang, .. } | State::TrailerCr { bang, .. } = &mut self.state {
                *bang -= self.start;
            }
            self.start = 0;
        }
        false
    }
}

//! The byte checks of the fast path: a whole run of bytes at a time, in
//! one pass that the compiler vectorises.

use super::{Framer, Reject};

impl Framer {
    /// Where the first byte of `run` that fails [`Framer::decode`] is, and
    /// why, if any: one vectorised pass over the whole run (normally all
    /// good), a second one only to find the culprit.
    pub(super) fn first_bad(&self, run: &[u8]) -> Option<(usize, Reject)> {
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
}

/// Every byte is 0x01..=0x7F: no NUL, nothing with bit 7 set. Written as
/// one reduction without an early exit so that it compiles to SIMD.
pub(super) fn all_ascii_and_not_nul(run: &[u8]) -> bool {
    // raw - 1 wraps 0x00 to 0xFF and maps 0x80..=0xFF to 0x7F..=0xFE.
    run.iter()
        .fold(0u8, |max, &raw| max.max(raw.wrapping_sub(1)))
        < 0x7F
}

/// Every byte has even parity over its 8 bits and is not NUL once bit 7
/// is stripped (0x00 only: 0x80 has odd parity). Eight bytes at a time in
/// a u64 (SWAR), which the compiler vectorises further; the per-byte masks
/// are applied once, at the end.
pub(super) fn all_even_parity_and_not_nul(run: &[u8]) -> bool {
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

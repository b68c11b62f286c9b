//! What the bytes under one setting look like: counts of bytes, NULs,
//! non-text bytes and framer outcomes, and a few words describing them.

use crate::encrypted::{Frame, SystemTitle, describe_meter};
use crate::framer::{Event, Parity, Reject};
use crate::telegram::{generation, header};

/// Bytes needed before a setting may be judged wrong from the bytes alone:
/// more than start-up noise, less than one telegram.
const JUDGE_AFTER: u64 = 256;
/// Share of non-text bytes (in percent) that marks a setting as wrong. Right
/// settings give 0% but for noise between telegrams; wrong baud, parity or
/// polarity give 40-100%.
const WRONG_PERCENT: u64 = 30;

/// What one setting delivered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    pub bytes: u64,
    /// 0x00: a parity or framing error under 7E1, or a break (line held low).
    pub nul: u64,
    /// Bytes that cannot be part of a telegram under this setting.
    pub not_text: u64,
    /// Telegram-like frames that ended, valid or not.
    pub frames: u64,
    pub valid: u64,
    pub crc_bad: u64,
    /// Frames lost to parity errors (a NUL or odd parity inside).
    pub parity_errors: u64,
    /// Whole encrypted frames (a valid find, as a telegram is).
    pub encrypted: u64,
    /// The first valid telegram's header, generation and parity note, or
    /// the first encrypted frame's meter.
    pub first: Option<Found>,
}

/// What the first valid telegram under a setting revealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The telegram's first line, e.g. `/ISK5\2M550T-1012`.
    pub header: String,
    /// e.g. "DSMR 5.0".
    pub generation: String,
    /// The 7E1 parity arrived in bit 7: the driver ignored the setting.
    pub parity_in_bit7: bool,
    /// Found in an encrypted frame: the meter's system title and the
    /// frame's counter (`header` is then the title, `generation`
    /// "encrypted").
    pub encrypted: Option<(SystemTitle, u32)>,
}

impl Found {
    /// What an encrypted frame reveals: who sent it.
    pub fn encrypted(frame: &Frame<'_>) -> Found {
        Found {
            header: frame.system_title.to_string(),
            generation: "encrypted".into(),
            parity_in_bit7: false,
            encrypted: Some((frame.system_title, frame.frame_counter)),
        }
    }

    /// The meter in words: "DSMR 5.0 meter /ISK5\2M550T-1012", or "an
    /// encrypted meter (system title SAG-..., frame counter 23)".
    pub fn meter(&self) -> String {
        match self.encrypted {
            Some((title, counter)) => describe_meter(title, counter),
            None => format!("{} meter {}", self.generation, self.header),
        }
    }
}

impl Observation {
    /// Counts raw bytes as read under a setting with framer parity `parity`.
    pub fn bytes(&mut self, raw: &[u8], parity: Parity) {
        let class = match parity {
            Parity::None => &CLASS_NONE,
            Parity::Even => &CLASS_EVEN,
        };
        self.bytes += raw.len() as u64;
        // One table load per byte, no branch; u32 sums per 64 KiB piece
        // (at most 2 * 65536 each) are wide enough.
        for piece in raw.chunks(1 << 16) {
            let (mut nul, mut not_text) = (0u32, 0u32);
            for &b in piece {
                let c = u32::from(class[usize::from(b)]);
                nul += c & NUL;
                not_text += c & NOT_TEXT;
            }
            self.nul += u64::from(nul);
            self.not_text += u64::from(not_text / NOT_TEXT);
        }
    }

    /// Counts what the framer made of those bytes.
    pub fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::Telegram(t) => {
                self.frames += 1;
                self.valid += 1;
                if self.first.is_none() {
                    self.first = Some(Found {
                        header: header(t.bytes),
                        generation: generation(t.bytes, t.crc),
                        parity_in_bit7: t.parity_in_bit7,
                        encrypted: None,
                    });
                }
            }
            Event::Rejected { reason, .. } => match reason {
                Reject::Crc => {
                    self.frames += 1;
                    self.crc_bad += 1;
                }
                Reject::Parity | Reject::Nul => self.parity_errors += 1,
                _ => {}
            },
        }
    }

    /// Counts a whole encrypted frame: its bytes fit the setting, as a
    /// telegram's do (they are binary, so [`Observation::bytes`] must not
    /// see them), and it is a valid find.
    pub fn frame(&mut self, frame: &Frame<'_>) {
        self.bytes += frame.bytes.len() as u64;
        self.encrypted += 1;
        if self.first.is_none() {
            self.first = Some(Found::encrypted(frame));
        }
    }

    /// Enough bytes to judge a setting from them.
    pub fn enough(&self) -> bool {
        self.bytes >= JUDGE_AFTER
    }

    /// Enough bytes to judge, and too many of them are not text.
    pub fn clearly_wrong(&self) -> bool {
        self.bytes >= JUDGE_AFTER && self.not_text * 100 > self.bytes * WRONG_PERCENT
    }

    fn percent(&self, n: u64) -> u64 {
        (n * 100).checked_div(self.bytes).unwrap_or(0)
    }

    /// A few words on what the bytes look like, for `probe`'s table.
    pub fn looks_like(&self) -> String {
        if self.bytes == 0 {
            return "nothing".into();
        }
        if let Some(found) = &self.first {
            return if found.encrypted.is_some() {
                "encrypted frames".into()
            } else if found.parity_in_bit7 {
                "DSMR text, parity in bit 7".into()
            } else {
                "DSMR text".into()
            };
        }
        let nul = self.percent(self.nul);
        let junk = self.percent(self.not_text);
        if nul >= 50 {
            format!("{nul}% 0x00: a much slower meter, or a line held low (wrong polarity?)")
        } else if self.clearly_wrong() && nul >= 20 {
            format!("{nul}% 0x00 (parity/framing errors), {junk}% not text")
        } else if self.clearly_wrong() {
            format!("garbage: {junk}% not text")
        } else if self.crc_bad > 0 {
            "text, but CRC errors".into()
        } else {
            "text, no whole telegram".into()
        }
    }
}

/// Class bits of a raw byte for [`Observation::bytes`].
const NUL: u32 = 1;
const NOT_TEXT: u32 = 2;
const CLASS_NONE: [u8; 256] = classes(Parity::None);
const CLASS_EVEN: [u8; 256] = classes(Parity::Even);

/// Every byte's class bits under `parity`, computed at compile time.
const fn classes(parity: Parity) -> [u8; 256] {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        let raw = b as u8;
        if raw == 0 {
            table[b] |= NUL as u8;
        }
        if !is_text(raw, parity) {
            table[b] |= NOT_TEXT as u8;
        }
        b += 1;
    }
    table
}

/// Whether a raw byte can be part of a telegram when read with `parity`.
const fn is_text(raw: u8, parity: Parity) -> bool {
    let byte = match parity {
        Parity::None if raw > 0x7F => return false,
        Parity::None => raw,
        // Bit 7, when set, must be even parity over the byte.
        Parity::Even if raw > 0x7F && !raw.count_ones().is_multiple_of(2) => return false,
        Parity::Even => raw & 0x7F,
    };
    matches!(byte, b'\r' | b'\n' | 0x20..=0x7E)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DSMR22: &[u8] = p1mux_testkit::SAMPLES[0];

    #[test]
    fn parity_in_bit7_is_text_only_for_even_parity() {
        let wire = p1mux_testkit::with_parity_bit(DSMR22);
        let mut even = Observation::default();
        even.bytes(&wire, Parity::Even);
        assert_eq!(even.not_text, 0);
        let mut none = Observation::default();
        none.bytes(&wire, Parity::None);
        assert!(none.clearly_wrong());
    }

    #[test]
    fn byte_classes_match_the_per_byte_rule() {
        // Every byte value, and more than one 64 KiB piece.
        let raw: Vec<u8> = (0..=255u8).cycle().take(3 * 65536 + 77).collect();
        for parity in [Parity::None, Parity::Even] {
            let mut seen = Observation::default();
            seen.bytes(&raw, parity);
            seen.bytes(&raw[..1000], parity);
            let both = raw.iter().chain(&raw[..1000]);
            assert_eq!(seen.bytes, raw.len() as u64 + 1000);
            assert_eq!(seen.nul, both.clone().filter(|&&b| b == 0).count() as u64);
            let not_text = both.filter(|&&b| !is_text(b, parity)).count() as u64;
            assert_eq!(seen.not_text, not_text, "{parity:?}");
        }
        // Spot checks of the rule itself.
        assert!(is_text(b'/', Parity::None) && is_text(0xAF, Parity::Even));
        assert!(!is_text(0xAF, Parity::None) && !is_text(0xAE, Parity::Even));
        assert!(!is_text(0, Parity::Even) && !is_text(0x80, Parity::Even));
    }
}

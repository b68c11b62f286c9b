//! Finding the serial settings from the bytes themselves.
//!
//! Users solder their own cables and rarely know whether their meter talks
//! 115200 8N1 or 9600 7E1, or whether their USB driver honours parity. Each
//! candidate setting is tried in turn; one that yields a valid telegram is
//! kept, one whose bytes are clearly not DSMR text is left at once. Pure
//! code: the gateway and `probe` feed it bytes, framer events and the clock.

use std::fmt;
use std::time::{Duration, Instant};

use crate::config::Framing;
use crate::framer::{Event, Parity, Reject};

/// One way of reading the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    pub baud: u32,
    /// What the port is set to.
    pub framing: Framing,
    /// How the framer reads the bytes: `Even` also covers a 7E1 meter read
    /// as 8N1, whose parity lands in bit 7.
    pub parity: Parity,
}

impl Setting {
    /// The framer reads 7E1, and anything at 9600 baud, with parity
    /// awareness: at 9600 only DSMR 2.2/3.0 meters exist, and they send
    /// 7E1, which an 8N1 port delivers with the parity in bit 7. Plain 7-bit
    /// bytes pass that reading unchanged.
    pub const fn new(baud: u32, framing: Framing) -> Setting {
        let parity = match framing {
            Framing::SevenE1 => Parity::Even,
            Framing::EightN1 if baud <= 9600 => Parity::Even,
            Framing::EightN1 => Parity::None,
        };
        Setting {
            baud,
            framing,
            parity,
        }
    }

    /// The `serve` options that select exactly this setting.
    pub fn serve_args(&self) -> String {
        let framing = match self.framing {
            Framing::EightN1 => "8n1",
            Framing::SevenE1 => "7e1",
        };
        format!("--baud {} --framing {framing}", self.baud)
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.baud, self.framing)?;
        if self.framing == Framing::EightN1 && self.parity == Parity::Even {
            f.write_str(" (7E1 parity in bit 7)")?;
        }
        Ok(())
    }
}

/// The settings tried, in order: the two the DSMR standard uses, then a
/// 7E1 meter read as 8N1 (for drivers whose 7E1 mode misbehaves), then
/// 7E1 at 115200.
pub const CANDIDATES: [Setting; 4] = [
    Setting::new(115_200, Framing::EightN1),
    Setting::new(9600, Framing::SevenE1),
    Setting::new(9600, Framing::EightN1),
    Setting::new(115_200, Framing::SevenE1),
];

/// Bytes needed before a setting may be judged wrong from the bytes alone:
/// more than start-up noise, less than one telegram.
const JUDGE_AFTER: u64 = 256;
/// Share of non-text bytes (in percent) that marks a setting as wrong. Right
/// settings give 0% but for noise between telegrams; wrong baud, parity or
/// polarity give 40-100%.
const WRONG_PERCENT: u64 = 30;
/// Longest stay on a setting whose bytes look like text yet yield no valid
/// telegram: two 10 s meter intervals plus the telegram itself.
pub const MAX_DWELL: Duration = Duration::from_secs(22);

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
    /// The first valid telegram's header, generation and parity note.
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
            return if found.parity_in_bit7 {
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

/// The telegram's first line, e.g. `/ISK5\2M550T-1012`.
pub fn header(telegram: &[u8]) -> String {
    let end = telegram
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(telegram.len());
    String::from_utf8_lossy(&telegram[..end]).into_owned()
}

/// The DSMR generation a telegram declares (`1-3:0.2.8(50)` is 5.0), or
/// what its CRC implies when it declares none.
pub fn generation(telegram: &[u8], crc: bool) -> String {
    let text = String::from_utf8_lossy(telegram);
    let declared = text
        .lines()
        .find_map(|l| l.strip_prefix("1-3:0.2.8("))
        .and_then(|rest| rest.split(')').next())
        .filter(|v| v.len() == 2 && v.bytes().all(|b| b.is_ascii_digit()));
    match declared {
        Some(v) => format!("DSMR {}.{}", &v[..1], &v[1..]),
        None if crc => "DSMR 4/5".into(),
        None => "DSMR 2.2/3.0".into(),
    }
}

/// Auto-detection for `serve`: which setting is in use, and whether it
/// has been confirmed by a valid telegram.
#[derive(Debug)]
pub struct Detector {
    candidates: Vec<Setting>,
    index: usize,
    /// A valid telegram arrived under the current setting.
    locked: bool,
    /// When the current setting was applied.
    since: Instant,
    seen: Observation,
}

/// What the detector wants done after new input or time.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Stay,
    /// Switch the port to this setting (the previous one is summed up in
    /// `why`, for the log).
    Try {
        next: Setting,
        why: String,
    },
}

impl Detector {
    /// `candidates` must not be empty; with one, nothing is ever switched.
    pub fn new(candidates: Vec<Setting>, now: Instant) -> Detector {
        assert!(!candidates.is_empty(), "no settings to try");
        Detector {
            candidates,
            index: 0,
            locked: false,
            since: now,
            seen: Observation::default(),
        }
    }

    pub fn current(&self) -> Setting {
        self.candidates[self.index]
    }

    pub fn is_auto(&self) -> bool {
        self.candidates.len() > 1
    }

    pub fn locked(&self) -> bool {
        self.locked || !self.is_auto()
    }

    /// The port was (re)opened with the current setting.
    pub fn restart_window(&mut self, now: Instant) {
        self.since = now;
        self.seen = Observation::default();
    }

    /// Counts bytes as read under the current setting. Free once locked
    /// (or with a single setting): nothing looks at the counts then, and
    /// [`Detector::unlock`] starts a fresh window.
    pub fn bytes(&mut self, raw: &[u8]) {
        if self.locked() {
            return;
        }
        self.seen.bytes(raw, self.current().parity);
    }

    /// Counts what the framer made of them.
    pub fn event(&mut self, event: &Event<'_>) {
        self.seen.event(event);
    }

    /// The telegram that confirms the current setting, once: the first
    /// valid one while detecting.
    pub fn confirm(&mut self) -> Option<Found> {
        if self.locked {
            return None;
        }
        let found = self.seen.first.clone()?;
        self.locked = true;
        Some(found)
    }

    /// Whether to leave the current setting, judged at `now`.
    pub fn step(&mut self, now: Instant) -> Step {
        if self.locked() {
            return Step::Stay;
        }
        let wrong = self.seen.clearly_wrong();
        let waited_out = self.seen.bytes > 0 && now.duration_since(self.since) >= MAX_DWELL;
        if !wrong && !waited_out {
            return Step::Stay;
        }
        let why = format!(
            "{}: {} bytes, {}",
            self.current(),
            self.seen.bytes,
            self.seen.looks_like()
        );
        self.index = (self.index + 1) % self.candidates.len();
        self.restart_window(now);
        Step::Try {
            next: self.current(),
            why,
        }
    }

    /// No valid telegram for a long while under a locked setting: the meter
    /// or cable may have changed, so detect again, starting from the
    /// setting that worked. Returns false when there is nothing to detect.
    pub fn unlock(&mut self, now: Instant) -> bool {
        if !self.is_auto() || !self.locked {
            return false;
        }
        self.locked = false;
        self.restart_window(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framer::Framer;

    const DSMR50: &[u8] = include_bytes!("../tests/data/dsmr50_iskra_am550_2mbus.txt");
    const DSMR22: &[u8] = include_bytes!("../tests/data/dsmr22_iskra_mt382-1003.txt");

    fn run(det: &mut Detector, raw: &[u8]) -> Option<Found> {
        let mut framer = Framer::new(det.current().parity);
        det.bytes(raw);
        framer.push(raw, |e| det.event(&e));
        det.confirm()
    }

    #[test]
    fn generations() {
        assert_eq!(generation(DSMR50, true), "DSMR 5.0");
        assert_eq!(generation(DSMR22, false), "DSMR 2.2/3.0");
        assert_eq!(generation(b"/X\r\n\r\n!1234\r\n", true), "DSMR 4/5");
        assert_eq!(header(DSMR50), "/ISK5\\2M550T-1012");
    }

    #[test]
    fn locks_on_a_valid_telegram() {
        let now = Instant::now();
        let mut det = Detector::new(CANDIDATES.to_vec(), now);
        let found = run(&mut det, DSMR50).expect("locked");
        assert_eq!(found.generation, "DSMR 5.0");
        assert!(det.locked());
        assert_eq!(det.step(now + MAX_DWELL * 2), Step::Stay);
    }

    #[test]
    fn leaves_garbage_early_and_waits_out_quiet_text() {
        let now = Instant::now();
        let mut det = Detector::new(CANDIDATES.to_vec(), now);
        run(&mut det, &[0u8; 100]);
        assert_eq!(det.step(now), Step::Stay, "too few bytes to judge");
        run(&mut det, &[0xF0u8; 300]);
        match det.step(now) {
            Step::Try { next, why } => {
                assert_eq!(next, CANDIDATES[1]);
                assert!(why.starts_with("115200 8N1: 400 bytes"), "{why}");
            }
            Step::Stay => panic!("garbage should be left at once"),
        }
        // Clean text without a telegram: stay until MAX_DWELL.
        run(&mut det, b"1-0:1.8.1(000123.456*kWh)\r\n");
        assert_eq!(det.step(now + MAX_DWELL / 2), Step::Stay);
        assert!(
            matches!(det.step(now + MAX_DWELL), Step::Try { next, .. } if next == CANDIDATES[2])
        );
        // Silence tells nothing about the setting: never a reason to move.
        assert_eq!(det.step(now + MAX_DWELL * 10), Step::Stay);
    }

    #[test]
    fn parity_in_bit7_is_text_only_for_even_parity() {
        let wire: Vec<u8> = DSMR22
            .iter()
            .map(|&b| if b.count_ones() % 2 == 1 { b | 0x80 } else { b })
            .collect();
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

    #[test]
    fn bytes_are_not_counted_once_locked() {
        let now = Instant::now();
        let mut det = Detector::new(CANDIDATES.to_vec(), now);
        run(&mut det, DSMR50);
        assert!(det.locked());
        det.bytes(&[0xF0; 1000]);
        assert_eq!(det.seen.bytes, DSMR50.len() as u64);
        assert!(det.unlock(now));
        det.bytes(&[0xF0; 300]);
        assert_eq!(det.seen.bytes, 300);
        let mut fixed = Detector::new(vec![CANDIDATES[0]], now);
        fixed.bytes(&[0xF0; 1000]);
        assert_eq!(fixed.seen.bytes, 0);
    }

    #[test]
    fn unlock_only_when_auto() {
        let now = Instant::now();
        let mut fixed = Detector::new(vec![CANDIDATES[0]], now);
        assert!(fixed.locked() && !fixed.unlock(now));
        let mut auto = Detector::new(CANDIDATES.to_vec(), now);
        run(&mut auto, DSMR50);
        assert!(auto.unlock(now));
        assert!(!auto.locked());
        assert_eq!(
            auto.current(),
            CANDIDATES[0],
            "starts again from what worked"
        );
    }
}

//! Finding the serial settings from the bytes themselves.
//!
//! Users solder their own cables and rarely know whether their meter talks
//! 115200 8N1 or 9600 7E1, or whether their USB driver honours parity. Each
//! candidate setting is tried in turn; one that yields a valid telegram is
//! kept, one whose bytes are clearly not DSMR text is left at once. Pure
//! code: the serial source and `probe` feed it bytes, framer events and the
//! clock.

mod observe;

use std::time::{Duration, Instant};

pub use observe::{Found, Observation};

use crate::framer::Event;
use crate::line::Setting;

/// Longest stay on a setting whose bytes look like text yet yield no valid
/// telegram: two 10 s meter intervals plus the telegram itself.
pub const MAX_DWELL: Duration = Duration::from_secs(22);

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

    /// The settings it tries, in order.
    pub fn candidates(&self) -> &[Setting] {
        &self.candidates
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
    use crate::line::CANDIDATES;

    const DSMR50: &[u8] = include_bytes!("../../tests/data/dsmr50_iskra_am550_2mbus.txt");

    fn run(det: &mut Detector, raw: &[u8]) -> Option<Found> {
        let mut framer = Framer::new(det.current().parity);
        det.bytes(raw);
        framer.push(raw, |e| det.event(&e));
        det.confirm()
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

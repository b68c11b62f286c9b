//! Finding the serial settings from the bytes themselves.
//!
//! Users solder their own cables and rarely know whether their meter talks
//! 115200 8N1 or 9600 7E1, or whether their USB driver honours parity. Each
//! candidate setting is tried in turn; one that yields a valid telegram is
//! kept, one whose bytes are clearly not DSMR text is left at once. Pure
//! code: the serial source and `probe` feed it bytes, framer events and the
//! clock.

mod diagnosis;
mod observe;

use std::time::{Duration, Instant};

pub use diagnosis::{Diagnosis, diagnose};
pub use observe::{Found, Observation};

use crate::encrypted::Frame;
use crate::framer::Event;
use crate::line::Setting;

/// Longest stay on a setting whose bytes look like text yet yield no valid
/// telegram: two 10 s meter intervals plus the telegram itself.
pub const MAX_DWELL: Duration = Duration::from_secs(22);
/// Shortest stay on each setting once all were tried without success:
/// garbage would otherwise switch the port dozens of times a second, for
/// as long as the cable stays broken.
pub const MIN_DWELL_AFTER_ROUND: Duration = Duration::from_secs(2);

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
    /// What each candidate delivered the last time it was tried, by
    /// index, for the diagnosis when none works.
    history: Vec<Option<Observation>>,
    /// Switches since the last valid telegram, to tell when every
    /// candidate has had its turn.
    switches: u64,
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
            history: vec![None; candidates.len()],
            candidates,
            index: 0,
            locked: false,
            since: now,
            seen: Observation::default(),
            switches: 0,
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

    /// A valid telegram confirmed the current setting (for a fixed
    /// setting too) since it was last applied or unlocked.
    pub fn confirmed(&self) -> bool {
        self.locked
    }

    /// Nothing left to detect: confirmed, or only one setting to use.
    pub fn locked(&self) -> bool {
        self.locked || !self.is_auto()
    }

    /// The port was (re)opened with the current setting.
    pub fn restart_window(&mut self, now: Instant) {
        self.since = now;
        let seen = std::mem::take(&mut self.seen);
        if seen.bytes > 0 {
            self.history[self.index] = Some(seen);
        }
    }

    /// Counts bytes read under the current setting, less those of
    /// encrypted frames ([`Detector::frame`]). Free once a valid
    /// telegram confirmed it: nothing looks at the counts then, and
    /// [`Detector::unlock`] starts a fresh window.
    pub fn bytes(&mut self, raw: &[u8]) {
        if self.locked {
            return;
        }
        self.seen.bytes(raw, self.current().parity);
    }

    /// Counts what the framer made of them.
    pub fn event(&mut self, event: &Event<'_>) {
        self.seen.event(event);
    }

    /// Counts a whole encrypted frame: it confirms the setting as a valid
    /// telegram does, whether or not there is a key for it.
    pub fn frame(&mut self, frame: &Frame<'_>) {
        self.seen.frame(frame);
    }

    /// The telegram that confirms the current setting, once: the first
    /// valid one while detecting.
    pub fn confirm(&mut self) -> Option<Found> {
        if self.locked {
            return None;
        }
        let found = self.seen.first.clone()?;
        self.locked = true;
        self.switches = 0;
        self.history.iter_mut().for_each(|h| *h = None);
        Some(found)
    }

    /// Whether to leave the current setting, judged at `now`.
    pub fn step(&mut self, now: Instant) -> Step {
        if self.locked() {
            return Step::Stay;
        }
        let dwelt = now.duration_since(self.since);
        let wrong =
            self.seen.clearly_wrong() && (!self.tried_all() || dwelt >= MIN_DWELL_AFTER_ROUND);
        let waited_out = self.seen.bytes > 0 && dwelt >= MAX_DWELL;
        if !wrong && !waited_out {
            return Step::Stay;
        }
        let why = format!(
            "{}: {} bytes, {}",
            self.current().label(),
            self.seen.bytes,
            self.seen.looks_like()
        );
        self.restart_window(now);
        self.index = (self.index + 1) % self.candidates.len();
        self.switches += 1;
        Step::Try {
            next: self.current(),
            why,
        }
    }

    /// No valid telegram for a long while: the meter or cable may have
    /// changed, so judge the bytes afresh, and with several candidates
    /// detect again, starting from the setting that worked. Returns whether
    /// detection starts again.
    pub fn unlock(&mut self, now: Instant) -> bool {
        let was = std::mem::replace(&mut self.locked, false);
        self.restart_window(now);
        was && self.is_auto()
    }

    /// Every candidate has been tried since the last valid telegram.
    pub fn tried_all(&self) -> bool {
        self.switches >= self.candidates.len() as u64
    }

    /// How many times the setting was switched since the last valid telegram.
    pub fn switches(&self) -> u64 {
        self.switches
    }

    /// What is wrong, judged from what every setting tried delivered.
    pub fn diagnose(&self) -> Diagnosis {
        let tried: Vec<(Setting, &Observation)> = self
            .candidates
            .iter()
            .zip(&self.history)
            .enumerate()
            .filter_map(|(i, (setting, old))| {
                let seen = if i == self.index && self.seen.bytes > 0 {
                    Some(&self.seen)
                } else {
                    old.as_ref()
                };
                seen.map(|seen| (*setting, seen))
            })
            .collect();
        if tried.is_empty() {
            return Diagnosis::NoBytes;
        }
        diagnose(
            &tried,
            self.is_auto() && tried.len() == self.candidates.len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framer::Framer;
    use crate::line::CANDIDATES;

    const DSMR50: &[u8] = p1mux_testkit::SAMPLES[5];

    /// `telegram` with one digit changed: its CRC fails.
    fn damaged(telegram: &[u8]) -> Vec<u8> {
        let mut bad = telegram.to_vec();
        let at = bad.len() / 2
            + bad[bad.len() / 2..]
                .iter()
                .position(u8::is_ascii_digit)
                .unwrap();
        bad[at] = if bad[at] == b'1' { b'2' } else { b'1' };
        bad
    }

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
        // A fixed setting counts until its first telegram: the silence
        // warning judges the bytes by those counts.
        let mut fixed = Detector::new(vec![CANDIDATES[0]], now);
        fixed.bytes(&[0xF0; 1000]);
        assert_eq!(fixed.seen.bytes, 1000);
        run(&mut fixed, DSMR50);
        fixed.bytes(&[0xF0; 1000]);
        assert_eq!(fixed.seen.bytes, 1000 + DSMR50.len() as u64);
    }

    #[test]
    fn after_a_full_round_each_setting_is_held_a_while() {
        let now = Instant::now();
        let mut det = Detector::new(CANDIDATES.to_vec(), now);
        for i in 0..CANDIDATES.len() {
            run(&mut det, &[0xFE; 300]);
            assert!(matches!(det.step(now), Step::Try { .. }), "switch {i}");
        }
        assert!(det.tried_all());
        run(&mut det, &[0xFE; 300]);
        assert_eq!(det.step(now), Step::Stay, "garbage, but held");
        assert!(matches!(
            det.step(now + MIN_DWELL_AFTER_ROUND),
            Step::Try { .. }
        ));
        assert_eq!(det.diagnose(), Diagnosis::NotInverted);
    }

    #[test]
    fn diagnosis_remembers_each_setting() {
        let now = Instant::now();
        let mut det = Detector::new(CANDIDATES.to_vec(), now);
        assert_eq!(det.diagnose(), Diagnosis::NoBytes);
        // Text with a damaged telegram at 115200 8N1, garbage elsewhere.
        run(&mut det, &damaged(DSMR50));
        assert!(matches!(det.step(now + MAX_DWELL), Step::Try { .. }));
        run(&mut det, &[0xFE; 300]);
        assert_eq!(
            det.diagnose(),
            Diagnosis::Damaged {
                setting: CANDIDATES[0]
            }
        );
    }

    #[test]
    fn unlock_only_when_auto() {
        let now = Instant::now();
        let mut fixed = Detector::new(vec![CANDIDATES[0]], now);
        assert!(fixed.locked() && !fixed.unlock(now));
        run(&mut fixed, DSMR50);
        assert!(fixed.confirmed() && !fixed.unlock(now) && !fixed.confirmed());
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

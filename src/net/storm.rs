//! Summarising a connection storm. A port scanner, a client reconnecting
//! in a tight loop, or thousands of connects refused by `--allow` would
//! each log a line per connection: 5,000 connects in 0.2 s gave up to
//! 9,800 lines, after which journald's rate limit hides the warnings that
//! matter. So at most [`BURST`] routine lines (connects, disconnects,
//! refusals) are logged per [`WINDOW`]; the rest are counted, and one
//! line says what they were when the window ends.
//!
//! [`BURST`] leaves room for what a house really does: a datalogger that
//! reconnects for every telegram of a DSMR 5 meter logs 2 lines a second,
//! 20 a window.

use std::time::{Duration, Instant};

/// How long the routine lines are counted against [`BURST`], and how
/// often a storm that goes on is summarised.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Routine lines logged per [`WINDOW`] before they are only counted.
pub const BURST: u32 = 60;
/// A storm has passed when no line was held back for this long: its
/// summary is logged then, and lines are logged one by one again (so the
/// first client after a storm is seen at once).
pub const CALM: Duration = Duration::from_secs(1);

/// What a routine line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Accepted,
    Closed,
    Refused,
}

#[derive(Debug, Default)]
pub struct Storm {
    /// The start of the current window.
    since: Option<Instant>,
    /// Lines logged in it.
    logged: u32,
    /// What was not logged, since when, and the last of it.
    held: Held,
    held_since: Option<Instant>,
    last_held: Option<Instant>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Held {
    accepted: u64,
    closed: u64,
    refused: u64,
}

impl Held {
    fn total(&self) -> u64 {
        self.accepted + self.closed + self.refused
    }
}

impl Storm {
    /// Whether a line about `kind` may be logged now; if not, it is
    /// counted. Call [`Storm::summary`] first, so that a storm's summary
    /// comes before the lines after it.
    pub fn admit(&mut self, now: Instant, kind: Kind) -> bool {
        let since = *self.since.get_or_insert(now);
        if now.duration_since(since) >= WINDOW && self.held.total() == 0 {
            self.since = Some(now);
            self.logged = 0;
        }
        if self.logged < BURST {
            self.logged += 1;
            return true;
        }
        match kind {
            Kind::Accepted => self.held.accepted += 1,
            Kind::Closed => self.held.closed += 1,
            Kind::Refused => self.held.refused += 1,
        }
        self.held_since.get_or_insert(now);
        self.last_held = Some(now);
        false
    }

    /// When the summary of what is held is due: the storm calmed down, or
    /// it has gone on for a [`WINDOW`].
    pub fn due_at(&self) -> Option<Instant> {
        Some((self.last_held? + CALM).min(self.held_since? + WINDOW))
    }

    /// The summary line, once it is due.
    pub fn summary(&mut self, now: Instant, connected: usize) -> Option<String> {
        if now < self.due_at()? {
            return None;
        }
        let held = std::mem::take(&mut self.held);
        let secs = now.duration_since(self.held_since.take()?).as_secs_f64();
        let calm = self.last_held.take().is_some_and(|at| now >= at + CALM);
        // A storm that goes on stays summarised; one that passed is over.
        self.since = Some(now);
        self.logged = if calm { 0 } else { BURST };
        // Ends as the lines it stands for do: "(N connected)".
        Some(format!(
            "connection storm: {} accepted, {} closed and {} refused in {secs:.1}s, not \
             logged one by one ({connected} connected)",
            held.accepted, held.closed, held.refused
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_logged_then_summarised_once_it_passes() {
        let t0 = Instant::now();
        let mut storm = Storm::default();
        let logged = (0..5_000)
            .filter(|_| storm.admit(t0, Kind::Accepted))
            .count();
        assert_eq!(logged, BURST as usize);
        assert_eq!(storm.due_at(), Some(t0 + CALM));
        assert_eq!(
            storm.summary(t0 + CALM / 2, 3),
            None,
            "not while it goes on"
        );
        let line = storm.summary(t0 + CALM, 3).unwrap();
        let accepted = 5_000 - BURST;
        assert!(
            line.contains(&format!("{accepted} accepted, 0 closed")),
            "{line}"
        );
        assert!(line.ends_with("(3 connected)"), "{line}");
        assert_eq!(storm.summary(t0 + WINDOW, 3), None, "said once");
        assert!(storm.admit(t0 + CALM, Kind::Accepted), "calm: logged again");
    }

    #[test]
    fn a_storm_that_goes_on_is_summarised_once_a_window() {
        let t0 = Instant::now();
        let mut storm = Storm::default();
        let (mut logged, mut summaries) = (0, 0);
        for ms in 0..30_000u64 {
            let now = t0 + Duration::from_millis(ms);
            summaries += usize::from(storm.summary(now, 0).is_some());
            logged += (0..5).filter(|_| storm.admit(now, Kind::Refused)).count();
        }
        assert_eq!((logged, summaries), (BURST as usize, 2));
    }

    #[test]
    fn a_datalogger_reconnecting_every_second_is_logged_in_full() {
        let t0 = Instant::now();
        let mut storm = Storm::default();
        for s in 0..600 {
            let now = t0 + Duration::from_secs(s);
            assert!(storm.admit(now, Kind::Accepted));
            assert!(storm.admit(now, Kind::Closed));
        }
        assert_eq!(storm.due_at(), None);
    }
}

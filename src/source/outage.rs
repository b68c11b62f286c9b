//! Waiting for a meter that went away, be it a serial port or a network
//! source: growing pauses between attempts, and one warning per outage
//! rather than one per attempt.

use std::time::{Duration, Instant};

use log::{debug, warn};

/// First wait before trying again; doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait between attempts: a replugged cable or a rebooted dongle is
/// back within seconds.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The retry schedule of one meter input.
#[derive(Debug)]
pub struct Outage {
    /// When the next attempt is due, while the meter is away.
    retry_at: Instant,
    /// The wait after the next failure.
    backoff: Duration,
    /// This outage was logged at warn; further failures log at debug.
    logged: bool,
}

impl Outage {
    /// No outage yet: the first attempt is due at once.
    pub fn new(now: Instant) -> Outage {
        Outage {
            retry_at: now,
            backoff: FIRST_BACKOFF,
            logged: false,
        }
    }

    /// When the next attempt is due (meaningful while the meter is away).
    pub fn retry_at(&self) -> Instant {
        self.retry_at
    }

    /// The meter is back: a later outage starts afresh.
    pub fn ended(&mut self) {
        self.backoff = FIRST_BACKOFF;
        self.logged = false;
    }

    /// An attempt failed for the reason in `why`: warns once per outage,
    /// then at debug, and schedules the next attempt.
    pub fn failed(&mut self, why: &str, now: Instant) {
        if self.logged {
            debug!("{why}");
        } else {
            warn!("{why}; retrying every {}s at most", MAX_BACKOFF.as_secs());
            self.logged = true;
        }
        self.back_off(now);
    }

    /// Schedules the next attempt after the current wait, and lengthens it.
    pub fn back_off(&mut self, now: Instant) {
        self.retry_at = now + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    /// A working meter went away (the caller logged it): try again soon,
    /// then back off from there, without warning again.
    pub fn lost(&mut self, now: Instant) {
        self.logged = true;
        self.retry_at = now + FIRST_BACKOFF;
        self.backoff = FIRST_BACKOFF * 2;
    }

    /// Tries again after `delay` (SIGHUP: at once), backoff unchanged.
    pub fn retry_after(&mut self, now: Instant, delay: Duration) {
        self.retry_at = now + delay;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_up_to_the_limit_and_starts_afresh_after_an_outage() {
        let t0 = Instant::now();
        let mut outage = Outage::new(t0);
        assert_eq!(outage.retry_at(), t0);
        let mut waits = Vec::new();
        for _ in 0..8 {
            outage.failed("gone", t0);
            waits.push(outage.retry_at() - t0);
        }
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [250, 500, 1000, 2000, 4000, 8000, 10000, 10000]);
        outage.ended();
        outage.failed("gone", t0);
        assert_eq!(outage.retry_at() - t0, FIRST_BACKOFF);
        outage.lost(t0);
        outage.failed("gone", t0);
        assert_eq!(outage.retry_at() - t0, FIRST_BACKOFF * 2);
    }
}

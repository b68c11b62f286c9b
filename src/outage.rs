//! Waiting for something that went away, a meter (serial port or network
//! source) or the MQTT broker: growing pauses between attempts, and one
//! warning per outage rather than one per attempt.

use std::time::{Duration, Instant};

use log::{debug, warn};

/// Waits between attempts: from `first`, doubling up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

/// A meter's (serial port or network source): a replugged cable or a
/// rebooted dongle is back within seconds, and the clients wait for it.
pub const METER_BACKOFF: Backoff = Backoff {
    first: Duration::from_millis(250),
    max: Duration::from_secs(10),
};

/// The MQTT broker's: a broker that restarts is back within a minute, and
/// a wrong password is not retried more often than this.
pub const BROKER_BACKOFF: Backoff = Backoff {
    first: Duration::from_secs(1),
    max: Duration::from_secs(60),
};

/// The retry schedule of one input or connection.
#[derive(Debug)]
pub struct Outage {
    /// When the next attempt is due, while the other side is away.
    retry_at: Instant,
    /// The wait after the next failure.
    backoff: Duration,
    /// The first wait of an outage, and the longest.
    first: Duration,
    max: Duration,
    /// This outage was logged at warn; further failures log at debug.
    logged: bool,
}

impl Outage {
    /// A meter's schedule, [`METER_BACKOFF`]. No outage yet: the first
    /// attempt is due at once.
    pub fn new(now: Instant) -> Outage {
        Outage::with_backoff(now, METER_BACKOFF)
    }

    /// Waits as `backoff` says.
    pub fn with_backoff(now: Instant, backoff: Backoff) -> Outage {
        Outage {
            retry_at: now,
            backoff: backoff.first,
            first: backoff.first,
            max: backoff.max,
            logged: false,
        }
    }

    /// When the next attempt is due (meaningful while the meter is away).
    pub fn retry_at(&self) -> Instant {
        self.retry_at
    }

    /// The other side is back: a later outage starts afresh.
    pub fn ended(&mut self) {
        self.backoff = self.first;
        self.logged = false;
    }

    /// An attempt failed for the reason in `why`: warns once per outage,
    /// then at debug, and schedules the next attempt.
    pub fn failed(&mut self, why: &str, now: Instant) {
        if self.first_failure() {
            warn!("{why}; retrying every {}s at most", self.max.as_secs());
        } else {
            debug!("{why}");
        }
        self.back_off(now);
    }

    /// Whether this failure is the first of its outage, the one to warn
    /// about; later ones are not.
    pub fn first_failure(&mut self) -> bool {
        !std::mem::replace(&mut self.logged, true)
    }

    /// Schedules the next attempt after the current wait, and lengthens it.
    pub fn back_off(&mut self, now: Instant) {
        self.retry_at = now + self.backoff;
        self.backoff = (self.backoff * 2).min(self.max);
    }

    /// A working meter went away (the caller logged it): try again soon,
    /// then back off from there, without warning again.
    pub fn lost(&mut self, now: Instant) {
        self.logged = true;
        self.retry_at = now + self.first;
        self.backoff = self.first * 2;
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
        assert_eq!(outage.retry_at() - t0, METER_BACKOFF.first);
        outage.lost(t0);
        outage.failed("gone", t0);
        assert_eq!(outage.retry_at() - t0, METER_BACKOFF.first * 2);
    }

    #[test]
    fn the_broker_s_schedule_has_its_own_limits() {
        let t0 = Instant::now();
        let mut outage = Outage::with_backoff(t0, BROKER_BACKOFF);
        assert!(outage.first_failure());
        let mut secs = Vec::new();
        for _ in 0..8 {
            assert!(!outage.first_failure());
            outage.back_off(t0);
            secs.push((outage.retry_at() - t0).as_secs());
        }
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60]);
        outage.ended();
        assert!(outage.first_failure(), "a new outage is warned about again");
    }
}

//! The stale rule: a battery or charger must never regulate on a silent
//! meter without knowing.
//!
//! `/api/v1/data` answers 503 Service Unavailable (with HomeWizard's error
//! object and `Retry-After: 1`) once no valid telegram came for three and
//! a half of the meter's intervals: 3.5 s for a DSMR 5 meter (one telegram
//! a second), 35 s for a DSMR 2.2-4 meter (one every 10 s). The interval is
//! learnt: the shortest gap between the last telegrams, between 1 s and
//! 10 s; 10 s until two have come. Half an interval more than three lets
//! two lost telegrams in a row pass; a third is an outage.
//!
//! python-homewizard-energy raises `RequestError` on any status but 200,
//! so Home Assistant marks every sensor unavailable; evcc's HTTP meter
//! reports an error; no client gets an old value as if it were new.

use std::time::{Duration, Instant};

use crate::json::Writer;

/// Gaps remembered for learning the interval.
const GAPS: usize = 8;
const SHORTEST: Duration = Duration::from_secs(1);
const LONGEST: Duration = Duration::from_secs(10);

/// When the last telegrams came.
#[derive(Debug, Default)]
pub struct Freshness {
    last: Option<Instant>,
    gaps: [Option<Duration>; GAPS],
    next: usize,
}

/// What `/api/v1/data` may say now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Fresh,
    /// No valid telegram since p1mux started.
    NoTelegram,
    /// The last one is this old: too old.
    Stale(Duration),
    /// Encrypted frames come, and p1mux has no key to read them.
    Encrypted,
}

impl Freshness {
    /// A valid telegram came at `at`.
    pub fn telegram(&mut self, at: Instant) {
        if let Some(last) = self.last {
            self.gaps[self.next] = Some(at.saturating_duration_since(last));
            self.next = (self.next + 1) % GAPS;
        }
        self.last = Some(at);
    }

    /// The meter's interval as learnt.
    pub fn interval(&self) -> Duration {
        let shortest = self.gaps.iter().flatten().min().copied();
        shortest.unwrap_or(LONGEST).clamp(SHORTEST, LONGEST)
    }

    /// How old the last telegram may get: 3.5 intervals.
    pub fn limit(&self) -> Duration {
        self.interval() * 7 / 2
    }

    pub fn verdict(&self, now: Instant) -> Verdict {
        let Some(last) = self.last else {
            return Verdict::NoTelegram;
        };
        let age = now.saturating_duration_since(last);
        if age > self.limit() {
            Verdict::Stale(age)
        } else {
            Verdict::Fresh
        }
    }
}

impl Verdict {
    /// HomeWizard's error object for a 503, in words a user understands.
    pub fn error_json(self) -> String {
        let description = match self {
            Verdict::Fresh => "ok".to_string(),
            Verdict::NoTelegram => "no valid telegram from the meter yet".to_string(),
            Verdict::Encrypted => {
                "the meter's telegrams are encrypted and p1mux has no key (--key-file): \
                 no values to serve"
                    .to_string()
            }
            Verdict::Stale(age) => format!(
                "no valid telegram from the meter for {} s: values withheld",
                age.as_secs()
            ),
        };
        let mut w = Writer::new();
        w.begin_object();
        w.key("error").begin_object();
        // HomeWizard's INTERNAL_ERROR: the device cannot answer now.
        w.key("id").number(901.0);
        w.key("description").string(&description);
        w.end_object();
        w.end_object();
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn learns_the_interval() {
        let t0 = Instant::now();
        let mut f = Freshness::default();
        assert_eq!(f.verdict(t0), Verdict::NoTelegram);
        f.telegram(t0);
        assert_eq!(f.limit(), secs(35.0), "a slow meter until proven fast");
        assert_eq!(f.verdict(t0 + secs(30.0)), Verdict::Fresh);
        for i in 1..=5 {
            f.telegram(t0 + secs(f64::from(i)));
        }
        let last = t0 + secs(5.0);
        assert_eq!(f.interval(), secs(1.0));
        assert_eq!(f.verdict(last + secs(3.0)), Verdict::Fresh, "two lost");
        assert_eq!(f.verdict(last + secs(4.0)), Verdict::Stale(secs(4.0)));
        // A lost telegram does not lengthen the interval.
        f.telegram(last + secs(3.0));
        assert_eq!(f.interval(), secs(1.0));
        assert!(Verdict::Stale(secs(12.4)).error_json().contains("for 12 s"));
        assert!(
            Verdict::NoTelegram
                .error_json()
                .starts_with(r#"{"error":{"id":901,"#)
        );
        assert!(Verdict::Encrypted.error_json().contains("--key-file"));
    }

    #[test]
    fn clamps() {
        let t0 = Instant::now();
        let mut f = Freshness::default();
        f.telegram(t0);
        f.telegram(t0 + secs(0.1));
        assert_eq!(f.interval(), SHORTEST, "a burst is no faster meter");
        let mut f = Freshness::default();
        f.telegram(t0);
        f.telegram(t0 + secs(60.0));
        assert_eq!(f.interval(), LONGEST);
    }
}

//! Counters for the SIGUSR1 stats line and the silence warning.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::framer::Reject;

/// What came in from the meter side.
#[derive(Debug, Clone)]
pub struct Stats {
    started: Instant,
    /// Bytes read from the port (or the demo meter).
    pub bytes_in: u64,
    /// Valid telegrams seen.
    pub telegrams: u64,
    /// Rejects, indexed by [`Reject::index`].
    pub rejects: [u64; Reject::ALL.len()],
}

impl Stats {
    pub fn new(now: Instant) -> Stats {
        Stats {
            started: now,
            bytes_in: 0,
            telegrams: 0,
            rejects: [0; Reject::ALL.len()],
        }
    }

    pub fn reject(&mut self, reason: Reject) {
        self.rejects[reason.index()] += 1;
    }

    pub fn rejects_total(&self) -> u64 {
        self.rejects.iter().sum()
    }

    /// "crc 2, truncated 1", or "none".
    pub fn rejects_by_reason(&self) -> String {
        rejects_by_reason(&self.rejects)
    }

    /// The one line SIGUSR1 logs; `outputs` sums up what the outputs did
    /// (each says its own part: clients, queues, bytes out).
    pub fn line(&self, outputs: &str, now: Instant) -> String {
        format!(
            "stats: uptime {}, telegrams {} valid, rejects: {}, bytes in {}, {outputs}",
            human_duration(now.duration_since(self.started)),
            self.telegrams,
            self.rejects_by_reason(),
            self.bytes_in,
        )
    }

    /// When counting began, for uptime.
    pub fn started(&self) -> Instant {
        self.started
    }
}

/// "crc 2, truncated 1", or "none".
pub fn rejects_by_reason(rejects: &[u64; Reject::ALL.len()]) -> String {
    let mut out = String::new();
    for reason in Reject::ALL {
        let n = rejects[reason.index()];
        if n > 0 {
            if !out.is_empty() {
                out.push_str(", ");
            }
            let _ = write!(out, "{} {n}", reason.name());
        }
    }
    if out.is_empty() {
        out.push_str("none");
    }
    out
}

/// "3d 4h 5m 6s", leaving out leading zero units.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins, secs) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days}d {hours}h {mins}m {secs}s")
    } else if hours > 0 {
        format!("{hours}h {mins}m {secs}s")
    } else if mins > 0 {
        format!("{mins}m {secs}s")
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_durations() {
        let now = Instant::now();
        let mut stats = Stats::new(now);
        assert_eq!(stats.rejects_by_reason(), "none");
        stats.reject(Reject::Crc);
        stats.reject(Reject::Crc);
        stats.reject(Reject::Parity);
        assert_eq!(stats.rejects_by_reason(), "crc 2, parity 1");
        assert_eq!(stats.rejects_total(), 3);
        assert_eq!(human_duration(Duration::from_secs(59)), "59s");
        assert_eq!(human_duration(Duration::from_secs(3661)), "1h 1m 1s");
        assert_eq!(human_duration(Duration::from_secs(90061)), "1d 1h 1m 1s");
        let line = stats.line("clients 2", now + Duration::from_secs(5));
        assert!(
            line.contains("uptime 5s") && line.contains("rejects: crc 2, parity 1"),
            "{line}"
        );
    }
}

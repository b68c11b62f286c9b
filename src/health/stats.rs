//! Counters for the SIGUSR1 stats line and the silence warning.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::encrypted;
use crate::framer::Reject;

/// What came in from the meter side.
#[derive(Debug, Clone)]
pub struct Stats {
    started: Instant,
    /// Bytes read from the port (or the demo meter).
    pub bytes_in: u64,
    /// Valid telegrams seen: text ones, and decrypted ones (with a key).
    pub telegrams: u64,
    /// Of those, telegrams whose CRs were stripped on the way (CRLF
    /// turned into LF) and restored by the framer.
    pub cr_restored: u64,
    /// Rejects, indexed by [`Reject::index`]; a decrypted telegram whose
    /// CRC fails counts here too, as "crc".
    pub rejects: [u64; Reject::ALL.len()],
    /// Whole encrypted frames received: passed through (no key), or handed
    /// to the decryptor, whatever it made of them.
    pub frames: u64,
    /// Encrypted frames rejected (their structure, tag or frame counter),
    /// indexed by [`encrypted::Reject::index`]; parallel to `rejects`.
    pub encrypted_rejects: [u64; encrypted::Reject::ALL.len()],
}

impl Stats {
    pub fn new(now: Instant) -> Stats {
        Stats {
            started: now,
            bytes_in: 0,
            telegrams: 0,
            cr_restored: 0,
            rejects: [0; Reject::ALL.len()],
            frames: 0,
            encrypted_rejects: [0; encrypted::Reject::ALL.len()],
        }
    }

    pub fn reject(&mut self, reason: Reject) {
        self.rejects[reason.index()] += 1;
    }

    pub fn encrypted_reject(&mut self, reason: encrypted::Reject) {
        self.encrypted_rejects[reason.index()] += 1;
    }

    /// Rejects of both kinds.
    pub fn rejects_total(&self) -> u64 {
        self.rejects.iter().chain(&self.encrypted_rejects).sum()
    }

    /// "crc 2, truncated 1, auth 3", or "none": both kinds, text first.
    pub fn rejects_by_reason(&self) -> String {
        all_rejects_by_reason(&self.rejects, &self.encrypted_rejects)
    }

    /// The one line SIGUSR1 logs; `outputs` sums up what the outputs did
    /// (each says its own part: clients, queues, bytes out). Encrypted
    /// frames are mentioned once there were any.
    pub fn line(&self, outputs: &str, now: Instant) -> String {
        let mut frames = match self.frames {
            0 => String::new(),
            n => format!(", encrypted frames {n}"),
        };
        if self.cr_restored > 0 {
            frames = format!(" ({} with CRs restored){frames}", self.cr_restored);
        }
        format!(
            "stats: uptime {}, telegrams {} valid{frames}, rejects: {}, bytes in {}, {outputs}",
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
    all_rejects_by_reason(rejects, &[0; encrypted::Reject::ALL.len()])
}

/// "crc 2, auth 3", or "none": text rejects, then encrypted ones (their
/// names are distinct).
pub fn all_rejects_by_reason(
    rejects: &[u64; Reject::ALL.len()],
    encrypted_rejects: &[u64; encrypted::Reject::ALL.len()],
) -> String {
    let text = Reject::ALL.iter().map(|r| (r.name(), rejects[r.index()]));
    let frames = encrypted::Reject::ALL
        .iter()
        .map(|r| (r.name(), encrypted_rejects[r.index()]));
    let mut out = String::new();
    for (name, n) in text.chain(frames).filter(|&(_, n)| n > 0) {
        if !out.is_empty() {
            out.push_str(", ");
        }
        let _ = write!(out, "{name} {n}");
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
        assert!(!line.contains("encrypted"), "no frames, no word: {line}");
    }

    #[test]
    fn encrypted_frames_and_their_rejects_join_the_line() {
        let now = Instant::now();
        let mut stats = Stats::new(now);
        stats.frames = 7;
        stats.reject(Reject::Crc);
        stats.encrypted_reject(encrypted::Reject::Auth);
        stats.encrypted_reject(encrypted::Reject::Auth);
        stats.encrypted_reject(encrypted::Reject::Counter);
        assert_eq!(stats.rejects_by_reason(), "crc 1, auth 2, counter 1");
        assert_eq!(stats.rejects_total(), 4);
        assert_eq!(rejects_by_reason(&stats.rejects), "crc 1");
        let line = stats.line("clients 0", now);
        assert!(
            line.contains(
                "telegrams 0 valid, encrypted frames 7, rejects: crc 1, auth 2, counter 1"
            ),
            "{line}"
        );
    }
}

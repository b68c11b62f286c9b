//! Notices a port that is open but yields no valid telegram, and says why
//! that usually happens, so a user with a fresh cable is not left guessing.

use std::time::{Duration, Instant};

use super::stats::{Stats, rejects_by_reason};
use crate::framer::Reject;

/// How long an open port may go without a valid telegram before a warning.
/// DSMR 2.2-4 meters send every 10 s, DSMR 5 every second.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(60);

/// Watches one quiet period: from the port opening, or the last valid
/// telegram, until the next valid telegram.
#[derive(Debug, Default)]
pub struct Silence {
    /// Start of the quiet period and the counters then; `None` while the
    /// port is closed (the outage is logged elsewhere).
    since: Option<(Instant, u64, [u64; Reject::ALL.len()])>,
    /// Warned about this quiet period already: one warning, not one a minute.
    warned: bool,
}

impl Silence {
    /// A quiet period begins: the port opened, or a valid telegram arrived.
    pub fn restart(&mut self, now: Instant, stats: &Stats) {
        if self.warned && self.since.is_some() {
            log::info!("valid telegrams are arriving again");
        }
        self.since = Some((now, stats.bytes_in, stats.rejects));
        self.warned = false;
    }

    /// The port closed: nothing to watch until it reopens.
    pub fn stop(&mut self) {
        self.since = None;
    }

    /// Once per quiet period that reaches [`SILENCE_LIMIT`]: what it brought.
    pub fn due(&mut self, now: Instant, stats: &Stats) -> Option<Quiet> {
        let (start, bytes0, rejects0) = self.since?;
        if self.warned || now.duration_since(start) < SILENCE_LIMIT {
            return None;
        }
        self.warned = true;
        let mut rejects = stats.rejects;
        for (n, n0) in rejects.iter_mut().zip(rejects0) {
            *n -= n0;
        }
        Some(Quiet {
            bytes: stats.bytes_in - bytes0,
            rejects,
        })
    }
}

/// A quiet period of [`SILENCE_LIMIT`]: open, but no valid telegram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quiet {
    /// Bytes that arrived meanwhile.
    pub bytes: u64,
    /// Rejects meanwhile, indexed by [`Reject::index`].
    pub rejects: [u64; Reject::ALL.len()],
}

impl Quiet {
    /// The warning to log for a network source (`tcp://...`): no serial
    /// settings to blame, but the dongle or the port number may be wrong.
    pub fn network_warning(&self, source: &str) -> String {
        let (bytes, rejects) = (self.bytes, &self.rejects);
        let secs = SILENCE_LIMIT.as_secs();
        let diagnosis = if bytes == 0 {
            "connected, but not one byte arrived: is the dongle's serial side reading the \
             meter (its own status page), and is the P1 cable plugged in?"
                .to_string()
        } else if rejects.iter().any(|&n| n > 0) {
            format!(
                "{bytes} bytes, telegram-like frames rejected ({}): the bytes are damaged before \
                 they reach the network; check the source's serial settings (115200 8N1 for \
                 DSMR 4/5, 9600 7E1 for DSMR 2.2/3.0) and its cable",
                rejects_by_reason(rejects)
            )
        } else {
            format!(
                "{bytes} bytes but nothing that looks like a telegram: is this the port of the \
                 raw P1 stream (not a web page, MQTT or a JSON API), and does the source send \
                 telegrams unmodified?"
            )
        };
        format!("no valid telegram for {secs}s from {source}: {diagnosis}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_network(
        silence: &mut Silence,
        now: Instant,
        stats: &Stats,
        source: &str,
    ) -> Option<String> {
        silence.due(now, stats).map(|q| q.network_warning(source))
    }

    #[test]
    fn due_once_per_quiet_period_with_what_it_brought() {
        let t0 = Instant::now();
        let mut stats = Stats::new(t0);
        let mut silence = Silence::default();
        assert_eq!(silence.due(t0 + SILENCE_LIMIT, &stats), None, "port closed");

        silence.restart(t0, &stats);
        assert_eq!(silence.due(t0 + SILENCE_LIMIT / 2, &stats), None);
        let quiet = silence.due(t0 + SILENCE_LIMIT, &stats).unwrap();
        assert_eq!(quiet.bytes, 0);
        assert_eq!(silence.due(t0 + SILENCE_LIMIT * 2, &stats), None, "once");

        let t1 = t0 + SILENCE_LIMIT * 3;
        silence.restart(t1, &stats);
        stats.bytes_in += 5000;
        stats.reject(Reject::Parity);
        let quiet = silence.due(t1 + SILENCE_LIMIT, &stats).unwrap();
        assert_eq!(quiet.bytes, 5000);
        assert_eq!(quiet.rejects[Reject::Parity.index()], 1);
        silence.stop();
        assert_eq!(silence.due(t1 + SILENCE_LIMIT * 9, &stats), None, "stopped");
    }

    #[test]
    fn network_sources_get_their_own_diagnosis() {
        let t0 = Instant::now();
        let mut stats = Stats::new(t0);
        let mut silence = Silence::default();
        let src = "tcp://esp:23";
        silence.restart(t0, &stats);
        let msg = check_network(&mut silence, t0 + SILENCE_LIMIT, &stats, src).unwrap();
        assert!(msg.contains(src) && msg.contains("not one byte"), "{msg}");
        assert_eq!(
            check_network(&mut silence, t0 + SILENCE_LIMIT * 2, &stats, src),
            None
        );

        silence.restart(t0, &stats);
        stats.bytes_in += 900;
        stats.reject(Reject::Crc);
        let msg = check_network(&mut silence, t0 + SILENCE_LIMIT, &stats, src).unwrap();
        assert!(
            msg.contains("crc 1") && msg.contains("serial settings"),
            "{msg}"
        );

        silence.restart(t0, &stats);
        stats.bytes_in += 900;
        let msg = check_network(&mut silence, t0 + SILENCE_LIMIT, &stats, src).unwrap();
        assert!(msg.contains("raw P1 stream"), "{msg}");
    }
}

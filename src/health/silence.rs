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

    /// The warning to log once the quiet period reaches [`SILENCE_LIMIT`].
    pub fn serial_warning(&self, settings: &str) -> String {
        let (bytes, rejects) = (self.bytes, &self.rejects);
        let secs = SILENCE_LIMIT.as_secs();
        let diagnosis = if bytes == 0 {
            "no bytes at all: is the meter's Data Request line (RJ12 pin 2) powered, \
             are the wires on the right pins (a crossed RJ12 cable needs swapping), \
             and is --device the right port?"
                .to_string()
        } else if rejects.iter().any(|&n| n > 0) {
            format!(
                "{bytes} bytes, telegram-like frames rejected ({}): usually the wrong baud rate \
                 or parity; DSMR 4/5 meters use 115200 8N1, DSMR 2.2/3.0 use 9600 7E1 \
                 (--baud 9600 --framing 7e1)",
                rejects_by_reason(rejects)
            )
        } else {
            format!(
                "{bytes} bytes but nothing that looks like a telegram: wrong baud rate, or a signal \
                 that is not inverted (the P1 data line needs an inverter, an FTDI cable with RXD \
                 inverted, or an RS232-level adapter), or a loose wire"
            )
        };
        format!("no valid telegram for {secs}s at {settings}: {diagnosis}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(silence: &mut Silence, now: Instant, stats: &Stats, settings: &str) -> Option<String> {
        silence.due(now, stats).map(|q| q.serial_warning(settings))
    }

    fn check_network(
        silence: &mut Silence,
        now: Instant,
        stats: &Stats,
        source: &str,
    ) -> Option<String> {
        silence.due(now, stats).map(|q| q.network_warning(source))
    }

    #[test]
    fn warns_once_per_quiet_period_with_a_diagnosis() {
        let t0 = Instant::now();
        let mut stats = Stats::new(t0);
        let mut silence = Silence::default();
        assert_eq!(
            check(&mut silence, t0 + SILENCE_LIMIT, &stats, "115200 8N1"),
            None,
            "port closed"
        );

        silence.restart(t0, &stats);
        assert_eq!(
            check(&mut silence, t0 + SILENCE_LIMIT / 2, &stats, "115200 8N1"),
            None
        );
        let msg = check(&mut silence, t0 + SILENCE_LIMIT, &stats, "115200 8N1").unwrap();
        assert!(
            msg.contains("no bytes at all") && msg.contains("pin 2"),
            "{msg}"
        );
        assert_eq!(
            check(&mut silence, t0 + SILENCE_LIMIT * 2, &stats, "115200 8N1"),
            None,
            "once"
        );

        let t1 = t0 + SILENCE_LIMIT * 3;
        silence.restart(t1, &stats);
        stats.bytes_in += 5000;
        stats.reject(Reject::Parity);
        let msg = check(&mut silence, t1 + SILENCE_LIMIT, &stats, "115200 8N1").unwrap();
        assert!(
            msg.contains("5000 bytes") && msg.contains("parity 1") && msg.contains("9600"),
            "{msg}"
        );

        let t2 = t1 + SILENCE_LIMIT * 2;
        silence.restart(t2, &stats);
        stats.bytes_in += 700;
        let msg = check(&mut silence, t2 + SILENCE_LIMIT, &stats, "9600 7E1").unwrap();
        assert!(
            msg.contains("700 bytes") && msg.contains("inverted") && msg.contains("9600 7E1"),
            "{msg}"
        );
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

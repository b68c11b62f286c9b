//! Notices a port that is open but yields no valid telegram, and says why
//! that usually happens, so a user with a fresh cable is not left guessing.

use std::time::{Duration, Instant};

use super::stats::{Stats, all_rejects_by_reason};
use crate::detect::Diagnosis;
use crate::encrypted::{self, KeyNews};
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
    since: Option<(Instant, Stats)>,
    /// Warned about this quiet period already: one warning, not one a minute.
    warned: bool,
}

impl Silence {
    /// A quiet period begins: the port opened, or a valid telegram (or an
    /// encrypted frame passed through) arrived.
    pub fn restart(&mut self, now: Instant, stats: &Stats) {
        if self.warned && self.since.is_some() {
            log::info!("valid telegrams are arriving again");
        }
        self.since = Some((now, stats.clone()));
        self.warned = false;
    }

    /// The port closed: nothing to watch until it reopens.
    pub fn stop(&mut self) {
        self.since = None;
    }

    /// Once per quiet period that reaches [`SILENCE_LIMIT`]: what it brought.
    /// `key`: what is wrong with the key, as the decryptor last said.
    pub fn due(&mut self, now: Instant, stats: &Stats, key: Option<KeyNews>) -> Option<Quiet> {
        let (start, then) = self.since.as_ref()?;
        if self.warned || now.duration_since(*start) < SILENCE_LIMIT {
            return None;
        }
        self.warned = true;
        let mut rejects = stats.rejects;
        for (n, n0) in rejects.iter_mut().zip(then.rejects) {
            *n -= n0;
        }
        let mut encrypted_rejects = stats.encrypted_rejects;
        for (n, n0) in encrypted_rejects.iter_mut().zip(then.encrypted_rejects) {
            *n -= n0;
        }
        Some(Quiet {
            bytes: stats.bytes_in - then.bytes_in,
            rejects,
            frames: stats.frames - then.frames,
            encrypted_rejects,
            key,
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
    /// Whole encrypted frames meanwhile: none was of use, or the watch
    /// would have restarted.
    pub frames: u64,
    /// Encrypted frames rejected meanwhile, by [`encrypted::Reject::index`].
    pub encrypted_rejects: [u64; encrypted::Reject::ALL.len()],
    /// What is wrong with the key, as the decryptor last said.
    pub key: Option<KeyNews>,
}

impl Quiet {
    /// Something telegram- or frame-like was rejected meanwhile.
    pub fn any_rejects(&self) -> bool {
        self.rejects
            .iter()
            .chain(&self.encrypted_rejects)
            .any(|&n| n > 0)
    }

    /// Encrypted frames came and were of no use because of the key or
    /// their counter: what the warning and the status page say. `None`
    /// when the trouble (if any) is the line's, not the frames'.
    pub fn encrypted_diagnosis(&self) -> Option<Diagnosis> {
        if self.frames == 0 {
            return None;
        }
        match self.key {
            Some(KeyNews::WrongKey) => return Some(Diagnosis::WrongKey),
            Some(KeyNews::WrongAuthKey) => return Some(Diagnosis::WrongAuthKey),
            _ => {}
        }
        let counter = self.encrypted_rejects[encrypted::Reject::Counter.index()];
        (counter == self.frames).then_some(Diagnosis::RepeatedFrames)
    }

    /// The warning to log for a network source (`tcp://...`): no serial
    /// settings to blame, but the dongle or the port number may be wrong.
    pub fn network_warning(&self, source: &str) -> String {
        let bytes = self.bytes;
        let secs = SILENCE_LIMIT.as_secs();
        let diagnosis = if let Some(trouble) = self.encrypted_diagnosis() {
            trouble.summary()
        } else if bytes == 0 {
            "connected, but not one byte arrived: is the dongle's serial side reading the \
             meter (its own status page), and is the P1 cable plugged in?"
                .to_string()
        } else if self.any_rejects() {
            format!(
                "{bytes} bytes, telegram-like frames rejected ({}): the bytes are damaged before \
                 they reach the network; check the source's serial settings (115200 8N1 for \
                 DSMR 4/5, 9600 7E1 for DSMR 2.2/3.0) and its cable",
                all_rejects_by_reason(&self.rejects, &self.encrypted_rejects)
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
        silence
            .due(now, stats, None)
            .map(|q| q.network_warning(source))
    }

    #[test]
    fn due_once_per_quiet_period_with_what_it_brought() {
        let t0 = Instant::now();
        let mut stats = Stats::new(t0);
        let mut silence = Silence::default();
        assert_eq!(
            silence.due(t0 + SILENCE_LIMIT, &stats, None),
            None,
            "port closed"
        );

        silence.restart(t0, &stats);
        assert_eq!(silence.due(t0 + SILENCE_LIMIT / 2, &stats, None), None);
        let quiet = silence.due(t0 + SILENCE_LIMIT, &stats, None).unwrap();
        assert_eq!(quiet.bytes, 0);
        assert_eq!(
            silence.due(t0 + SILENCE_LIMIT * 2, &stats, None),
            None,
            "once"
        );

        let t1 = t0 + SILENCE_LIMIT * 3;
        silence.restart(t1, &stats);
        stats.bytes_in += 5000;
        stats.reject(Reject::Parity);
        let quiet = silence.due(t1 + SILENCE_LIMIT, &stats, None).unwrap();
        assert_eq!(quiet.bytes, 5000);
        assert_eq!(quiet.rejects[Reject::Parity.index()], 1);
        silence.stop();
        assert_eq!(
            silence.due(t1 + SILENCE_LIMIT * 9, &stats, None),
            None,
            "stopped"
        );
    }

    #[test]
    fn encrypted_frames_of_no_use_are_diagnosed_by_why() {
        let t0 = Instant::now();
        let mut stats = Stats::new(t0);
        let mut silence = Silence::default();
        let src = "tcp://esp:23";
        let before = stats.clone();
        stats.bytes_in += 6000;
        stats.frames += 9;
        for _ in 0..9 {
            stats.encrypted_reject(encrypted::Reject::Auth);
        }
        silence.restart(t0, &before);
        let quiet = silence
            .due(t0 + SILENCE_LIMIT, &stats, Some(KeyNews::WrongKey))
            .unwrap();
        assert_eq!((quiet.frames, quiet.bytes), (9, 6000));
        assert_eq!(quiet.encrypted_diagnosis(), Some(Diagnosis::WrongKey));
        let msg = quiet.network_warning(src);
        assert!(msg.contains("wrong key"), "{msg}");
        // No frames: whatever the key was, the line is to blame.
        silence.restart(t0, &stats);
        let none = silence
            .due(t0 + SILENCE_LIMIT, &stats, Some(KeyNews::WrongKey))
            .unwrap();
        assert_eq!(none.encrypted_diagnosis(), None);
        // Frames that only ever repeat a counter.
        let mut repeats = none.clone();
        repeats.bytes = 2000;
        repeats.key = None;
        repeats.frames = 3;
        repeats.encrypted_rejects[encrypted::Reject::Counter.index()] = 3;
        assert_eq!(
            repeats.encrypted_diagnosis(),
            Some(Diagnosis::RepeatedFrames)
        );
        repeats.key = Some(KeyNews::WrongAuthKey);
        assert_eq!(repeats.encrypted_diagnosis(), Some(Diagnosis::WrongAuthKey));
        // Damaged frames (no key trouble) are damage.
        repeats.key = None;
        repeats.frames = 4;
        repeats.encrypted_rejects[encrypted::Reject::Auth.index()] = 1;
        assert_eq!(repeats.encrypted_diagnosis(), None);
        assert!(repeats.any_rejects());
        assert!(repeats.network_warning(src).contains("counter 3"));
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

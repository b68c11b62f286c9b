//! Which new client gets the last telegram at once: one that is fresh, and
//! only if the client's host never had it, on any connection. A client
//! that reconnects for every telegram (dsmr-reader's datalogger) must not
//! store the same reading twice.
//!
//! It costs nothing per telegram and client: each client keeps the number
//! of the last telegram it was given, and one that leaves having the
//! latest leaves its host's address behind until the next telegram.

use std::collections::HashSet;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use log::debug;

/// A new client gets the last telegram only if it is younger than this.
pub const REPLAY_MAX_AGE: Duration = Duration::from_secs(15);
/// How long the replay is held back after a client connects. A client may
/// connect before its reader is ready: Home Assistant's DSMR config flow
/// closes the connection from the callback of the first telegram through a
/// variable that is assigned only when the connect call returns, a few
/// event-loop turns later; a telegram in the very first read then logs
/// `NameError: cannot access free variable 'transport'` (4-5 of 8 setups
/// without a hold). A quarter second covers those turns on a busy Home
/// Assistant and is still "at once" for a datalogger that reconnects for
/// every telegram: it waits 0.25 s instead of a telegram interval (1-10 s).
pub const REPLAY_HOLD: Duration = Duration::from_millis(250);
/// Hosts remembered as having left with the last telegram: far more than a
/// house has.
const DEPARTED_HOSTS: usize = 4096;

/// The replay rule and what it needs: the last valid telegram.
#[derive(Default)]
pub struct Replay {
    /// Off with `--no-replay`.
    enabled: bool,
    last: Option<Last>,
    /// Valid telegrams delivered so far: the last one's number.
    telegrams: u64,
}

/// A replay waiting for its moment ([`REPLAY_HOLD`] after the connect).
pub struct Held {
    pub due: Instant,
    telegram: Rc<[u8]>,
    number: u64,
}

impl Held {
    /// The telegram and its number, to queue.
    pub fn into_parts(self) -> (Rc<[u8]>, u64) {
        (self.telegram, self.number)
    }
}

/// The last valid telegram, for new clients.
struct Last {
    telegram: Rc<[u8]>,
    at: Instant,
    /// Its number, as clients record it.
    number: u64,
    /// Hosts whose clients had it and have disconnected since.
    departed: HashSet<IpAddr>,
}

impl Replay {
    pub fn new(enabled: bool) -> Replay {
        Replay {
            enabled,
            ..Replay::default()
        }
    }

    /// A valid telegram goes out; returns its number, which every client
    /// given it records. Called before the fan-out, so that a client
    /// dropped during it leaves its host behind as having this one.
    pub fn record(&mut self, telegram: &Rc<[u8]>, at: Instant) -> u64 {
        self.telegrams += 1;
        self.last = Some(Last {
            telegram: telegram.clone(),
            at,
            number: self.telegrams,
            departed: HashSet::new(),
        });
        self.telegrams
    }

    /// The telegram to replay to a new client from `host`, held back for
    /// [`REPLAY_HOLD`], if it is fresh and that host never had it: neither
    /// on a connection still open (`connected`: each client's host and the
    /// number it got) nor on one that left.
    pub fn for_new(
        &self,
        host: IpAddr,
        mut connected: impl Iterator<Item = (IpAddr, u64)>,
        now: Instant,
    ) -> Option<Held> {
        let last = self.last.as_ref()?;
        if !self.enabled || now.duration_since(last.at) >= REPLAY_MAX_AGE {
            return None;
        }
        let connected_with_it = connected.any(|(ip, got)| got == last.number && ip == host);
        if connected_with_it || last.departed.contains(&host) {
            debug!("not replaying the last telegram to {host}: it had it already");
            return None;
        }
        Some(Held {
            due: now + REPLAY_HOLD,
            telegram: last.telegram.clone(),
            number: last.number,
        })
    }

    /// A client from `host` is leaving with telegram `got`: if that is the
    /// last one, its host had it.
    pub fn departed(&mut self, host: IpAddr, got: u64) {
        if let Some(last) = &mut self.last
            && got == last.number
            && last.departed.len() < DEPARTED_HOSTS
        {
            last.departed.insert(host);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_replay_is_held_back_for_a_moment() {
        let t0 = Instant::now();
        let mut replay = Replay::new(true);
        let telegram: Rc<[u8]> = Rc::from(&b"/T\r\n\r\n!\r\n"[..]);
        let number = replay.record(&telegram, t0);
        let held = replay.for_new(ip("10.0.0.2"), std::iter::empty(), t0);
        let held = held.expect("a fresh telegram for a new host");
        assert_eq!(held.due, t0 + REPLAY_HOLD, "not at connect");
        assert!(
            REPLAY_HOLD < Duration::from_secs(1),
            "within a DSMR 5 interval"
        );
        assert_eq!(held.into_parts(), (telegram, number));
    }

    #[test]
    fn no_replay_to_a_host_that_has_it_or_when_off() {
        let t0 = Instant::now();
        let mut replay = Replay::new(true);
        let number = replay.record(&Rc::from(&b"/T"[..]), t0);
        let host = ip("10.0.0.2");
        let connected = [(host, number)].into_iter();
        assert!(replay.for_new(host, connected, t0).is_none());
        replay.departed(host, number);
        assert!(replay.for_new(host, std::iter::empty(), t0).is_none());
        assert!(
            replay
                .for_new(ip("10.0.0.3"), std::iter::empty(), t0)
                .is_some()
        );
        let stale = t0 + REPLAY_MAX_AGE;
        assert!(
            replay
                .for_new(ip("10.0.0.3"), std::iter::empty(), stale)
                .is_none()
        );
        let mut off = Replay::new(false);
        off.record(&Rc::from(&b"/T"[..]), t0);
        assert!(
            off.for_new(ip("10.0.0.3"), std::iter::empty(), t0)
                .is_none()
        );
    }
}

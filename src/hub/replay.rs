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

    /// The telegram to replay to a new client from `host`, and its number,
    /// if it is fresh and that host never had it: neither on a connection
    /// still open (`connected`: each client's host and the number it got)
    /// nor on one that left.
    pub fn for_new(
        &self,
        host: IpAddr,
        mut connected: impl Iterator<Item = (IpAddr, u64)>,
        now: Instant,
    ) -> Option<(Rc<[u8]>, u64)> {
        let last = self.last.as_ref()?;
        if !self.enabled || now.duration_since(last.at) >= REPLAY_MAX_AGE {
            return None;
        }
        let connected_with_it = connected.any(|(ip, got)| got == last.number && ip == host);
        if connected_with_it || last.departed.contains(&host) {
            debug!("not replaying the last telegram to {host}: it had it already");
            return None;
        }
        Some((last.telegram.clone(), last.number))
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

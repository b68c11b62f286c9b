//! Which new client gets the last telegram at once.

use std::collections::HashSet;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Instant;

use log::debug;

use super::{Hub, REPLAY_MAX_AGE};

/// Hosts remembered as having the last telegram: far more than a house has.
const REPLAYED_HOSTS: usize = 4096;

/// The last valid telegram, for new clients.
pub(super) struct Last {
    pub telegram: Rc<[u8]>,
    pub at: Instant,
    /// Hosts that were sent it, on any connection: a client that reconnects
    /// for every telegram (dsmr-reader's datalogger) must not store the
    /// same reading twice, so a host gets a telegram as a replay only if it
    /// never had it.
    pub hosts: HashSet<IpAddr>,
}

impl Last {
    /// `telegram`, sent at `at` to clients on `hosts`.
    pub fn new(telegram: Rc<[u8]>, at: Instant, hosts: impl Iterator<Item = IpAddr>) -> Last {
        Last {
            telegram,
            at,
            hosts: hosts.take(REPLAYED_HOSTS).collect(),
        }
    }
}

impl Hub {
    /// The telegram to replay to a new client from `host`, if it is fresh
    /// and that host never had it.
    pub(super) fn replay_for(&mut self, host: IpAddr, now: Instant) -> Option<Rc<[u8]>> {
        let last = self.last.as_mut()?;
        if !self.policy.replay || now.duration_since(last.at) >= REPLAY_MAX_AGE {
            return None;
        }
        if last.hosts.contains(&host) {
            debug!("not replaying the last telegram to {host}: it had it already");
            return None;
        }
        if last.hosts.len() < REPLAYED_HOSTS {
            last.hosts.insert(host);
        }
        Some(last.telegram.clone())
    }
}
